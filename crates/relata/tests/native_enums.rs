//! Enums stored as the database's own enum type (`#[derive(relata::Enum)]` with
//! `#[relata(native)]`), on every backend: a PostgreSQL type made once by `create_all` (shared by
//! two tables, and `create_all` run twice), a MySQL `ENUM(...)` column, text on SQLite; values
//! round-trip, filter and group; a value that is no variant is refused by the server, and named
//! with its column when SQLite holds one.

mod common;

use relata::{params, schema, Error, Model, Schema};

#[derive(Debug, Clone, Copy, PartialEq, Eq, relata::Enum)]
#[relata(native, rename_all = "snake_case")]
enum Status {
    Active,
    OnLeave,
    Graduated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, relata::Enum)]
#[relata(native = "letter_grade")]
enum Grade {
    A,
    B,
    #[relata(rename = "it's")]
    Quoted,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "pupils")]
struct Pupil {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
    #[relata(index)]
    status: Status,
    grade: Option<Grade>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "alumni")]
struct Alumnus {
    #[relata(primary_key)]
    id: Option<i64>,
    status: Status,
}

fn enums() -> Schema {
    schema![Pupil, Alumnus]
}

fn pupil(name: &str, status: Status, grade: Option<Grade>) -> Pupil {
    Pupil {
        id: None,
        name: name.into(),
        status,
        grade,
    }
}

backend_test! {
    /// The column's type is the database's own enum (a type of its own on PostgreSQL, shared by
    /// both tables; `ENUM(...)` on MySQL; TEXT on SQLite), and create_all runs again unharmed.
    fn the_column_is_a_native_enum(t, enums()) {
        t.db.create_all(&enums()).unwrap();
        let mut s = t.db.session();
        match t.backend {
            "postgres" => {
                let types: Vec<(String, String)> = s
                    .select(
                        "SELECT column_name::text, udt_name::text FROM information_schema.columns \
                         WHERE table_schema = current_schema() AND table_name IN ('pupils', 'alumni') \
                         AND data_type = 'USER-DEFINED' ORDER BY table_name, column_name",
                        params![],
                    )
                    .unwrap();
                assert_eq!(
                    types,
                    [
                        ("status".into(), "status".into()),
                        ("grade".into(), "letter_grade".into()),
                        ("status".into(), "status".into()),
                    ]
                );
                let labels: Vec<String> = s
                    .select(
                        "SELECT e.enumlabel::text FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid \
                         JOIN pg_namespace n ON n.oid = t.typnamespace \
                         WHERE t.typname = ? AND n.nspname = current_schema() ORDER BY e.enumsortorder",
                        params!["letter_grade"],
                    )
                    .unwrap();
                assert_eq!(labels, ["A", "B", "it's"]);
            }
            "mysql" => {
                let columns = common::column_types(t, "pupils");
                assert_eq!(columns[2], ("status".into(), "enum('active','on_leave','graduated')".into()));
                assert_eq!(columns[3], ("grade".into(), "enum('a','b','it''s')".into()));
            }
            _ => {
                let columns = common::column_types(t, "pupils");
                assert_eq!(columns[2], ("status".into(), "text".into()));
            }
        }
    }
}

backend_test! {
    /// Values round-trip (NULL too), filter by equality and lists, and group.
    fn values_round_trip_filter_and_group(t, enums()) {
        let mut s = t.db.session();
        s.add(pupil("Алиса", Status::Active, Some(Grade::A)));
        s.add(pupil("张伟", Status::OnLeave, None));
        s.add(pupil("Bob", Status::Active, Some(Grade::Quoted)));
        s.add(Alumnus { id: None, status: Status::Graduated });
        s.commit().unwrap();
        let mut fresh = t.db.session();
        let active = fresh
            .query::<Pupil>()
            .filter(Pupil::STATUS.eq(Status::Active))
            .order_by(Pupil::NAME.asc())
            .all()
            .unwrap();
        let got: Vec<(String, Option<Grade>)> = active.iter().map(|&k| (fresh[k].name.clone(), fresh[k].grade)).collect();
        assert_eq!(got, [("Bob".into(), Some(Grade::Quoted)), ("Алиса".into(), Some(Grade::A))]);
        let away = fresh
            .query::<Pupil>()
            .filter(Pupil::STATUS.is_in([Status::OnLeave, Status::Graduated]))
            .one()
            .unwrap();
        assert_eq!((fresh[away].name.as_str(), fresh[away].grade), ("张伟", None));
        let mut per_status: Vec<(Status, i64)> = fresh
            .query::<Pupil>()
            .group_by(Pupil::STATUS)
            .select((Pupil::STATUS, Pupil::ID.count()))
            .all()
            .unwrap();
        per_status.sort_by_key(|(_, n)| *n);
        assert_eq!(per_status, [(Status::OnLeave, 1), (Status::Active, 2)]);
        let graduated: Vec<Status> = fresh.query::<Alumnus>().select(Alumnus::STATUS).all().unwrap();
        assert_eq!(graduated, [Status::Graduated]);
    }
}

backend_test! {
    /// A value that is no variant: the servers refuse to store it; SQLite stores it, and reading
    /// it back names the column and the value.
    fn a_value_that_is_no_variant(t, enums()) {
        let mut s = t.db.session();
        let stored = s.execute(
            "INSERT INTO pupils (name, status, grade) VALUES (?, ?, NULL)",
            params!["Eve", "expelled"],
        );
        match t.backend {
            "postgres" | "mysql" => {
                assert!(stored.is_err(), "the server refuses a value outside the enum");
                assert_eq!(s.query::<Pupil>().count().unwrap(), 0);
            }
            _ => {
                stored.unwrap();
                let e = s.query::<Pupil>().all().unwrap_err();
                assert!(
                    matches!(&e, Error::Decode { table: "pupils", column: "status", reason } if reason.contains("expelled")),
                    "{e:?}"
                );
            }
        }
    }
}
