//! Floats that not every database stores: NaN and infinity round-trip on PostgreSQL, and are
//! refused with a clear error (nothing written) where the database cannot store them: relata
//! refuses NaN on SQLite (which would turn it into NULL), MySQL refuses both, naming the column.

mod common;

use relata::{schema, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "readings")]
struct Reading {
    #[relata(primary_key)]
    id: Option<i64>,
    value: f64,
}

backend_test! {
    fn nan_and_infinity_round_trip_or_are_refused(t, schema![Reading]) {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut s = t.db.session();
            s.add(Reading { id: None, value: v });
            let stored = match (t.backend, v.is_nan()) {
                ("postgres", _) => true,
                ("memory" | "file", false) => true, // SQLite stores infinities
                _ => false,
            };
            let before = t.db.session().query::<Reading>().count().unwrap();
            let result = s.commit();
            if stored {
                result.unwrap();
                let mut fresh = t.db.session();
                let k = fresh.query::<Reading>().order_by(Reading::ID.desc()).first().unwrap().unwrap();
                let got = fresh[k].value;
                assert!(got.is_nan() == v.is_nan() && (v.is_nan() || got == v), "{v} read back as {got}");
            } else {
                let text = result.unwrap_err().to_string();
                if t.backend == "mysql" {
                    // MySQL's own error names the column.
                    assert!(text.contains("Out of range value for column 'value'"), "{text}");
                } else {
                    assert!(text.contains("cannot be stored") && text.contains("Option<f64>"), "{text}");
                }
                let after = t.db.session().query::<Reading>().count().unwrap();
                assert_eq!(after, before, "nothing was written");
            }
        }
    }
}
