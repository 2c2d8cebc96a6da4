//! The driver's own error stays reachable behind relata's: `std::error::Error::source()` returns
//! it and `Error::code()` gives the database's code (PostgreSQL's SQLSTATE, MySQL's error number,
//! SQLite's extended result code), so an application can act on a code relata has no variant for.

mod common;

use common::student;
use relata::{ConstraintKind, Error};

backend_test! {
    fn a_rejected_row_keeps_the_drivers_error_and_its_code(t) {
        let mut s = t.db.session();
        let (mut a, mut b) = (student("Алиса"), student("张伟"));
        (a.id, b.id) = (Some(7), Some(7));
        s.add(a);
        s.add(b);
        let e = s.commit().unwrap_err();
        assert!(
            matches!(e, Error::Constraint { kind: ConstraintKind::PrimaryKey, .. }),
            "{e:?}"
        );
        let expected = match t.db.dialect().name() {
            "sqlite" => "1555", // SQLITE_CONSTRAINT_PRIMARYKEY
            "postgres" => "23505", // unique_violation
            _ => "1062", // ER_DUP_ENTRY
        };
        assert_eq!(e.code(), Some(expected), "{e}");
        assert_eq!(e.driver().and_then(|d| d.code()), Some(expected));
        let source = std::error::Error::source(&e).expect("the driver's error is the source");
        assert!(!source.to_string().is_empty());
        // The session is as it was: the commit can be fixed and run again.
        assert!(s.has_changes());
    }
}

backend_test! {
    fn errors_relata_makes_itself_have_no_driver_error(t) {
        let mut s = t.db.session();
        s.set_strict(true);
        let e = s.query::<common::Student>().one().unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert_eq!(e.code(), None);
        assert!(std::error::Error::source(&e).is_none());
    }
}
