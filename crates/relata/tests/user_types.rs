//! Types of the application's own as model fields: a `StoredAs` newtype (text with a check,
//! integer cents) and `#[derive(relata::Enum)]` enums, on every backend. They round-trip, filter,
//! track changes, are stored as plain values other tools read, and a stored value that is no
//! variant is an error naming the table, column and value.

mod common;

use relata::{schema, DecodeError, Error, Model, ObjectState, StoredAs};

/// An e-mail address, checked when read and stored as text.
#[derive(Debug, Clone, PartialEq)]
struct Email(String);

impl StoredAs for Email {
    type Stored = String;
    fn to_stored(&self) -> String {
        self.0.clone()
    }
    fn from_stored(stored: String) -> Result<Self, DecodeError> {
        if stored.contains('@') {
            Ok(Email(stored))
        } else {
            Err(DecodeError(format!("{stored:?} is not an e-mail address")))
        }
    }
}

/// Money in cents, stored as an integer.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
struct Cents(i64);

impl StoredAs for Cents {
    type Stored = i64;
    fn to_stored(&self) -> i64 {
        self.0
    }
    fn from_stored(stored: i64) -> Result<Self, DecodeError> {
        Ok(Cents(stored))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, relata::Enum)]
#[relata(rename_all = "snake_case")]
enum Status {
    Active,
    OnLeave,
    #[relata(rename = "alumni")]
    Graduated,
}

#[derive(Debug, Clone, Copy, PartialEq, relata::Enum)]
enum Level {
    Beginner,
    Advanced,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "members")]
struct Member {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
    email: Email,
    #[relata(index)]
    status: Status,
    level: Option<Level>,
    fee: Cents,
}

/// The same table read with plain types, as another tool would see it.
#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "members")]
struct RawMember {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
    email: String,
    status: String,
    level: Option<String>,
    fee: i64,
}

fn member(name: &str, status: Status, level: Option<Level>) -> Member {
    Member {
        id: None,
        name: name.into(),
        email: Email(format!("{}@school.example", name.to_lowercase())),
        status,
        level,
        fee: Cents(12_50),
    }
}

fn tables() -> relata::Schema {
    schema![Member]
}

backend_test! {
    /// User types round-trip, and are stored as plain text and integers.
    fn user_types_round_trip_as_plain_values(t, tables()) {
        let mut s = t.db.session();
        let a = s.add(member("Алиса", Status::OnLeave, None));
        let b = s.add(member("张伟", Status::Graduated, Some(Level::Advanced)));
        s.commit().unwrap();

        let mut fresh = t.db.session();
        let all = fresh.query::<Member>().order_by(Member::ID.asc()).all().unwrap();
        assert_eq!(fresh[all[0]], s[a]);
        assert_eq!(fresh[all[1]], s[b]);

        let raw = fresh.query::<RawMember>().order_by(RawMember::ID.asc()).all().unwrap();
        let r = &fresh[raw[1]];
        assert_eq!(
            (r.email.as_str(), r.status.as_str(), r.level.as_deref(), r.fee),
            ("张伟@school.example", "alumni", Some("Advanced"), 1250)
        );
        assert_eq!(fresh[raw[0]].status, "on_leave");
        assert_eq!(fresh[raw[0]].level, None);
    }
}

backend_test! {
    /// Filters take the user type's values; a change is tracked and updates that column only.
    fn user_types_filter_and_track_changes(t, tables()) {
        let mut s = t.db.session();
        s.add(member("Alice", Status::Active, Some(Level::Beginner)));
        let bob = s.add(member("Bob", Status::OnLeave, None));
        s.add(member("Carol", Status::Graduated, Some(Level::Advanced)));
        s.commit().unwrap();

        let on_leave = s.query::<Member>().filter(Member::STATUS.eq(Status::OnLeave)).all().unwrap();
        assert_eq!(on_leave, vec![bob]);
        let cheap = s.query::<Member>().filter(Member::FEE.lt(Cents(20_00))).count().unwrap();
        assert_eq!(cheap, 3);
        let advanced = s.query::<Member>().filter(Member::LEVEL.eq(Level::Advanced)).count().unwrap();
        assert_eq!(advanced, 1);
        let unknown = s.query::<Member>().filter(Member::LEVEL.is_null()).count().unwrap();
        assert_eq!(unknown, 1);

        s[bob].status = Status::OnLeave; // the same value: no change
        assert_eq!(s.state(bob), ObjectState::Persistent);
        s[bob].status = Status::Active;
        assert_eq!(s.state(bob), ObjectState::Modified);
        let sql = s.pending_statements().unwrap();
        assert_eq!(sql.len(), 1, "{sql:?}");
        assert!(sql[0].contains("status") && !sql[0].contains("email"), "{}", sql[0]);
        assert!(sql[0].contains("\"active\""), "{}", sql[0]);
        s.commit().unwrap();
        let active = t.db.session().query::<Member>().filter(Member::STATUS.eq(Status::Active)).count().unwrap();
        assert_eq!(active, 2);
    }
}

backend_test! {
    /// A stored string that is no variant, or fails the type's own check, is an error naming the
    /// table, the column and the value.
    fn a_stored_value_that_is_no_variant_is_a_clear_error(t, tables()) {
        let mut s = t.db.session();
        s.add(RawMember {
            id: None,
            name: "Mallory".into(),
            email: "mallory@school.example".into(),
            status: "expelled".into(),
            level: None,
            fee: 0,
        });
        s.add(RawMember {
            id: None,
            name: "Eve".into(),
            email: "no address".into(),
            status: "active".into(),
            level: None,
            fee: 0,
        });
        s.commit().unwrap();
        let mut fresh = t.db.session();
        let e = fresh
            .query::<Member>()
            .filter(Member::NAME.eq("Mallory"))
            .all()
            .unwrap_err();
        match &e {
            Error::Decode { table, column, reason } => {
                assert_eq!((*table, *column), ("members", "status"));
                assert!(reason.contains("\"expelled\" is not a variant of Status"), "{reason}");
                assert!(reason.contains("\"active\", \"on_leave\", \"alumni\""), "{reason}");
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
        let e = fresh.query::<Member>().filter(Member::NAME.eq("Eve")).one().unwrap_err();
        assert!(e.to_string().contains("members.email"), "{e}");
        assert!(e.to_string().contains("\"no address\" is not an e-mail address"), "{e}");
    }
}
