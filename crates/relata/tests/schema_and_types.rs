//! Every field type round-trips; keys are generated (and, with `autoincrement`, never reused);
//! and the file relata writes has the schema the README promises, read back with rusqlite as a
//! user would read it with the sqlite3 shell.

mod common;

use relata::{schema, Database, Error, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "samples")]
struct Sample {
    #[relata(primary_key)]
    id: Option<i64>,
    big: i64,
    small: i32,
    flag: bool,
    ratio: f64,
    bytes: Vec<u8>,
    #[relata(index)]
    label: String,
    note: Option<String>,
    count: Option<i32>,
    maybe: Option<bool>,
    weight: Option<f64>,
    blob: Option<Vec<u8>>,
}

/// A table whose keys are never reused.
#[derive(Model, Debug)]
#[relata(table = "tickets")]
struct Ticket {
    #[relata(primary_key, autoincrement)]
    id: Option<i64>,
    #[relata(unique)]
    code: String,
}

/// The same without `autoincrement`: SQLite hands out max + 1.
#[derive(Model, Debug)]
#[relata(table = "notes")]
struct Note {
    #[relata(primary_key)]
    id: Option<i64>,
    text: String,
}

fn extremes() -> Vec<Sample> {
    vec![
        Sample {
            id: None,
            big: i64::MIN,
            small: i32::MAX,
            flag: true,
            ratio: -1.5e-10,
            bytes: vec![0, 255, 0, 1],
            label: "Алиса 张伟 𠮷".into(),
            note: Some(String::new()),
            count: Some(i32::MIN),
            maybe: Some(false),
            weight: Some(f64::MAX),
            blob: Some(Vec::new()),
        },
        Sample {
            id: None,
            big: i64::MAX,
            small: 0,
            flag: false,
            ratio: 1e-300,
            bytes: Vec::new(),
            label: "Robert'); DROP TABLE samples;--".into(),
            note: None,
            count: None,
            maybe: None,
            weight: None,
            blob: None,
        },
    ]
}

backend_test! {
    fn every_field_type_round_trips_exactly(t, schema![Sample]) {
        let db = &t.db;
        let mut s = db.session();
        let keys = s.add_all(extremes());
        s.commit().unwrap();
        let ids: Vec<i64> = keys.iter().map(|&k| s.id(k).unwrap()).collect();

        let mut fresh = db.session();
        for (i, want) in extremes().into_iter().enumerate() {
            let k = fresh.find::<Sample>(ids[i]).unwrap().expect("stored");
            let got = fresh[k].clone();
            assert_eq!(got.id, Some(ids[i]));
            assert_eq!(
                Sample {
                    id: None,
                    ..got.clone()
                },
                want,
                "row {i} on {}",
                t.url
            );
            assert_eq!(got.ratio.to_bits(), want.ratio.to_bits());
        }
        let by_blob = fresh
            .query::<Sample>()
            .filter(Sample::BYTES.eq(&[0u8, 255, 0, 1][..]))
            .one()
            .unwrap();
        assert_eq!(fresh[by_blob].small, i32::MAX);

        assert_eq!(
            fresh
                .query::<Sample>()
                .filter(Sample::NOTE.is_null())
                .count()
                .unwrap(),
            1
        );
        assert_eq!(
            fresh
                .query::<Sample>()
                .filter(Sample::MAYBE.eq(false))
                .count()
                .unwrap(),
            1
        );
        assert_eq!(
            fresh
                .query::<Sample>()
                .filter(Sample::FLAG.eq(true))
                .count()
                .unwrap(),
            1
        );

        // -0.0, in a NOT NULL column and a nullable one. PostgreSQL keeps the sign. SQLite stores
        // a REAL with no fractional part as an integer, so the sign is lost (documented on `f64`'s
        // `ColumnType`); MariaDB's DOUBLE turns -0 into 0 as well (even the literal `-0.0e0`), so
        // on MySQL only the value is checked (MySQL proper may keep the sign).
        let zero = fresh.add(Sample {
            ratio: -0.0,
            weight: Some(-0.0),
            ..extremes().remove(1)
        });
        fresh.commit().unwrap();
        let id = fresh.id(zero).unwrap();
        let mut again = db.session();
        let k = again.find::<Sample>(id).unwrap().unwrap();
        for got in [again[k].ratio, again[k].weight.expect("stored as a number")] {
            match t.backend {
                "postgres" => assert_eq!(got.to_bits(), (-0.0f64).to_bits()),
                "mysql" => assert_eq!(got, 0.0),
                _ => assert_eq!(got.to_bits(), 0.0f64.to_bits()),
            }
        }

        // Infinities and NaN, in a NOT NULL column and a nullable one.
        for special in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            // SQLite would store a NaN as NULL, so relata refuses to bind one there (tests/floats.rs).
            if special.is_nan() && !t.is_server() {
                continue;
            }
            let mut s = db.session();
            let k = s.add(Sample {
                ratio: special,
                weight: Some(special),
                ..extremes().remove(1)
            });
            let done = s.commit();
            if t.backend == "mysql" {
                // MySQL's DOUBLE holds finite numbers only: in the strict mode relata sets, the
                // server rejects the row (out of range), and nothing is stored.
                let err = done.unwrap_err();
                assert!(matches!(err, Error::Database { .. }), "{special}: {err:?}");
                assert!(
                    err.to_string()
                        .contains("Out of range value for column 'ratio'"),
                    "{special}: {err}"
                );
                assert!(s.has_changes(), "the row is still pending");
                assert_eq!(s.state(k), relata::ObjectState::New);
                let mut check = db.session();
                let stored = check
                    .query::<Sample>()
                    .filter(Sample::LABEL.eq("Robert'); DROP TABLE samples;--"))
                    .all()
                    .unwrap();
                assert_eq!(stored.len(), 2, "extremes()[1] and the -0.0 row only");
                continue;
            }
            done.unwrap_or_else(|e| panic!("{special}: {e}"));
            let id = s.id(k).unwrap();
            let mut again = db.session();
            let k = again.find::<Sample>(id).unwrap().unwrap();
            assert_eq!(again[k].ratio.to_bits(), special.to_bits(), "{special}");
            assert_eq!(
                again[k].weight.map(f64::to_bits),
                Some(special.to_bits()),
                "{special}"
            );
        }
    }
}

#[test]
fn a_value_of_the_wrong_type_in_the_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let db = Database::open(&url).unwrap();
    // A table made by another tool, without STRICT, holding text where the model wants an i32.
    db.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL); INSERT INTO notes (text) VALUES ('ok');")
        .unwrap();
    db.execute_batch("CREATE TABLE counters (id INTEGER PRIMARY KEY, value INTEGER NOT NULL); INSERT INTO counters (value) VALUES ('many');")
        .unwrap();
    #[derive(Model, Debug)]
    #[relata(table = "counters")]
    struct Counter {
        #[relata(primary_key)]
        id: Option<i64>,
        value: i32,
    }
    let mut s = db.session();
    let err = s.query::<Counter>().all().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Decode {
                table: "counters",
                column: "value",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("counters.value"), "{err}");
    assert_eq!(s.query::<Note>().count().unwrap(), 1);
}

backend_test! {
    fn autoincrement_keys_are_never_reused_and_plain_keys_may_be(t, schema![Ticket, Note]) {
        let mut s = t.db.session();
        let tickets = s.add_all(["A", "B", "C"].map(|c| Ticket {
            id: None,
            code: c.into(),
        }));
        let notes = s.add_all(["a", "b", "c"].map(|c| Note {
            id: None,
            text: c.into(),
        }));
        s.commit().unwrap();
        assert_eq!(
            tickets
                .iter()
                .map(|&k| s.id(k).unwrap())
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(
            notes.iter().map(|&k| s.id(k).unwrap()).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        s.delete(tickets[2]);
        s.delete(notes[2]);
        s.commit().unwrap();
        let t4 = s.add(Ticket {
            id: None,
            code: "D".into(),
        });
        let n4 = s.add(Note {
            id: None,
            text: "d".into(),
        });
        s.commit().unwrap();
        assert_eq!(s.id(t4), Some(4), "autoincrement: 3 is never given again");
        if t.is_server() {
            // PostgreSQL's identity column draws from a sequence and MySQL's AUTO_INCREMENT only
            // counts up: no key is ever given twice there, `autoincrement` or not.
            assert_eq!(s.id(n4), Some(4), "a server never reuses a key");
        } else {
            assert_eq!(
                s.id(n4),
                Some(3),
                "without it SQLite reuses the freed maximum"
            );
        }
    }
}

#[test]
fn the_file_has_the_promised_schema_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("school.db");
    let db = Database::open(&format!("sqlite://{}", path.display())).unwrap();
    db.create_all(&schema![
        Sample,
        common::StudentCourse,
        common::Student,
        common::Course
    ])
    .unwrap();
    db.create_all(&common::school()).unwrap(); // idempotent
    drop(db);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");

    // student_course: both keys NOT NULL and the composite primary key, in declared order.
    let cols: Vec<(String, bool, i64)> = conn
        .prepare(
            "SELECT name, \"notnull\", pk FROM pragma_table_info('student_course') ORDER BY cid",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        cols,
        [
            ("student_id".into(), true, 1),
            ("course_id".into(), true, 2)
        ]
    );

    // Both foreign keys, each cascading on delete.
    let mut fks: Vec<(String, String, String, String)> = conn
        .prepare("SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list('student_course')")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    fks.sort();
    assert_eq!(
        fks,
        [
            (
                "course_id".into(),
                "courses".into(),
                "id".into(),
                "CASCADE".into()
            ),
            (
                "student_id".into(),
                "students".into(),
                "id".into(),
                "CASCADE".into()
            ),
        ]
    );

    // The reverse index (course_id, student_id).
    let reverse: Vec<String> = conn
        .prepare("SELECT name FROM pragma_index_info('student_course_course_id_student_id') ORDER BY seqno")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(reverse, ["course_id", "student_id"]);

    // #[relata(index)] made an index; STRICT tables; nullable columns are exactly the Options.
    let indexed: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'samples_label_idx'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexed, 1);
    let strict: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_list WHERE strict = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(strict, 4, "samples, students, courses, student_course");
    let nullable: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('samples') WHERE \"notnull\" = 0 AND pk = 0 ORDER BY cid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(nullable, ["note", "count", "maybe", "weight", "blob"]);
}

/// Names looked up by equality only: a hash index on PostgreSQL.
#[derive(Model, Debug)]
#[relata(table = "people")]
struct Person {
    #[relata(primary_key)]
    id: Option<i64>,
    #[relata(index = "hash")]
    name: String,
}

/// 1,000 characters of CJK text with no repeats to compress: 3,000 bytes, more than a
/// PostgreSQL B-tree entry holds.
fn incompressible_cjk() -> String {
    (0..1000u32)
        .map(|i| char::from_u32(0x4e00 + (i * 7919) % 20000).unwrap())
        .collect()
}

/// `index = "hash"` is `USING hash` on PostgreSQL and the usual index elsewhere.
#[test]
fn hash_indexes_where_the_database_has_them() {
    let pg = schema![Person].ddl(&relata::Postgres).unwrap().join("\n");
    assert!(
        pg.contains(
            r#"CREATE INDEX IF NOT EXISTS "people_name_idx" ON "people" USING hash ("name")"#
        ),
        "{pg}"
    );
    let sqlite = schema![Person].ddl(&relata::Sqlite).unwrap().join("\n");
    assert!(
        sqlite.contains(r#"CREATE INDEX IF NOT EXISTS "people_name_idx" ON "people" ("name")"#),
        "{sqlite}"
    );
    let mysql = schema![Person]
        .ddl(&relata::MySql::MYSQL)
        .unwrap()
        .join("\n");
    assert!(
        mysql.contains("INDEX `people_name_idx` (`name`(768))"),
        "{mysql}"
    );
}

backend_test! {
    /// A 3,000-byte value in a hash-indexed column is stored and found on every backend (a
    /// PostgreSQL B-tree index would reject it).
    fn hash_indexed_long_text_round_trips(t, schema![Person]) {
        let name = incompressible_cjk();
        assert_eq!(name.len(), 3000);
        let mut s = t.db.session();
        s.add(Person { id: None, name: name.clone() });
        s.add(Person { id: None, name: "Alice".into() });
        s.commit().unwrap();
        let mut s = t.db.session();
        let found = s.query::<Person>().filter(Person::NAME.eq(name.as_str())).one().unwrap();
        assert_eq!(s[found].name, name);
        assert_eq!(s.query::<Person>().filter(Person::NAME.eq("Alice")).count().unwrap(), 1);
    }
}

/// MySQL's DDL: a `unique` text column is `VARCHAR(768)` (a unique key holds the whole value), an
/// indexed one stays `LONGTEXT` with an index on its first 768 characters, so it has no length
/// limit; the other dialects index whole values.
#[test]
#[cfg_attr(
    relata_skip_mysql,
    ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)"
)]
fn mysql_indexes_long_text_by_prefix() {
    let ddl = schema![Sample, Ticket]
        .ddl(&relata::MySql::MARIADB)
        .unwrap()
        .join("\n");
    for expected in [
        "`label` LONGTEXT NOT NULL",
        "INDEX `samples_label_idx` (`label`(768))",
        "`code` VARCHAR(768) NOT NULL UNIQUE",
    ] {
        assert!(ddl.contains(expected), "missing {expected:?} in\n{ddl}");
    }
    let pg = schema![Sample].ddl(&relata::Postgres).unwrap().join("\n");
    assert!(
        pg.contains(r#"CREATE INDEX IF NOT EXISTS "samples_label_idx" ON "samples" ("label")"#),
        "{pg}"
    );
}

backend_test! {
    /// 1,000 four-byte characters in an indexed text column round-trip and are found by the
    /// index on every backend (MySQL's prefix index included).
    fn long_indexed_text_round_trips(t, schema![Sample]) {
        let mut s = t.db.session();
        let mut long = extremes().remove(0);
        long.label = "𠮷".repeat(1000);
        s.add(long);
        s.commit().unwrap();
        let mut s = t.db.session();
        let found = s
            .query::<Sample>()
            .filter(Sample::LABEL.eq("𠮷".repeat(1000)))
            .one()
            .unwrap();
        assert_eq!(s[found].label.chars().count(), 1000);
        let prefix_only = "𠮷".repeat(768);
        assert_eq!(s.query::<Sample>().filter(Sample::LABEL.eq(prefix_only)).count().unwrap(), 0);
    }
}
