//! The `time` crate's dates and times as model fields, on every backend: round trips at the
//! edges and an instant given at another offset (read back at UTC), in the same native columns
//! as chrono's (checked in `dates.rs`).
#![cfg(feature = "time")]

mod common;

use relata::{schema, Model};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "sessions")]
struct Lecture {
    #[relata(primary_key)]
    id: Option<i64>,
    day: Date,
    starts: Time,
    local: PrimitiveDateTime,
    instant: OffsetDateTime,
    ends: Option<Time>,
}

fn lecture(y: i32, m: Month, d: u8, h: u8, us: u32) -> Lecture {
    let day = Date::from_calendar_date(y, m, d).unwrap();
    let starts = Time::from_hms_micro(h, 59, 59, us).unwrap();
    Lecture {
        id: None,
        day,
        starts,
        local: PrimitiveDateTime::new(day, starts),
        instant: PrimitiveDateTime::new(day, starts).assume_utc(),
        ends: None,
    }
}

backend_test! {
    fn time_types_round_trip(t, schema![Lecture]) {
        let mut s = t.db.session();
        let mut cases = vec![
            lecture(2024, Month::February, 29, 23, 999_999),
            lecture(1, Month::January, 1, 0, 0),
            lecture(9999, Month::December, 31, 12, 1),
        ];
        // An instant given at +05:30 is the same instant, read back at UTC.
        let offset = UtcOffset::from_hms(5, 30, 0).unwrap();
        cases[0].instant = cases[0].instant.to_offset(offset);
        cases[0].ends = Some(Time::from_hms(8, 0, 0).unwrap());
        for c in &cases {
            s.add(c.clone());
        }
        s.commit().unwrap();
        let mut fresh = t.db.session();
        let all = fresh.query::<Lecture>().order_by(Lecture::ID.asc()).all().unwrap();
        for (k, expect) in all.iter().zip(&cases) {
            let got = &fresh[*k];
            assert_eq!((got.day, got.starts, got.local, got.ends), (expect.day, expect.starts, expect.local, expect.ends));
            assert_eq!(got.instant, expect.instant, "the same instant");
            assert_eq!(got.instant.offset(), UtcOffset::UTC);
        }
        let late = fresh
            .query::<Lecture>()
            .filter(Lecture::DAY.gt(Date::from_calendar_date(2000, Month::January, 1).unwrap()))
            .count()
            .unwrap();
        assert_eq!(late, 2);
    }
}
