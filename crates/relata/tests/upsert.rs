//! Upserts on every backend: insert or update by a unique column or the primary key, one object
//! or thousands, through the identity map; the later of two objects with one key wins; a version
//! counts up; misuse named; a failure writes nothing; a block's rollback undoes them. Ports the
//! intent of SQLAlchemy's `test/orm/test_merge.py` (`MergeTest.test_transient_to_persistent`,
//! `test_merge_on_existing`) as an upsert does it: in the database, in one statement.

mod common;

use relata::{params, schema, Error, Model, Schema};

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "catalog")]
struct Course {
    #[relata(primary_key)]
    id: Option<i64>,
    #[relata(unique)]
    code: String,
    #[relata(unique)]
    title: String,
    credits: i64,
    #[relata(version)]
    version: i64,
}

fn course(code: &str, title: &str, credits: i64) -> Course {
    Course {
        id: None,
        code: code.into(),
        title: title.into(),
        credits,
        version: 0,
    }
}

fn catalog() -> Schema {
    schema![Course]
}

/// The table as the database holds it, by code.
fn rows(s: &mut relata::Session) -> Vec<(String, String, i64, i64)> {
    s.select(
        "SELECT code, title, credits, version FROM catalog ORDER BY code",
        params![],
    )
    .unwrap()
}

backend_test! {
    /// Ports `MergeTest.test_transient_to_persistent` and `test_merge_on_existing`: a new code
    /// inserts, a known one updates the row in place (same id, same key, version + 1).
    fn insert_then_update_by_unique_column(t, catalog()) {
        let mut s = t.db.session();
        let math = s.upsert(Course::CODE, course("M1", "Math", 5)).unwrap();
        let id = s.id(math).unwrap();
        assert_eq!(s[math].version, 1);
        let again = s.upsert(Course::CODE, course("M1", "Mathematics", 6)).unwrap();
        assert_eq!(again, math, "one row, one key");
        assert_eq!(s.id(again), Some(id));
        assert_eq!((s[math].title.as_str(), s[math].credits, s[math].version), ("Mathematics", 6, 2));
        assert_eq!(rows(&mut s), [("M1".into(), "Mathematics".into(), 6, 2)]);
        // Another session sees it at once: an upsert writes when called.
        let mut other = t.db.session();
        assert_eq!(rows(&mut other).len(), 1);
    }
}

backend_test! {
    /// Thousands of rows, half of them already there, with Unicode; two objects with one code
    /// are one row (the later wins) and one key.
    fn bulk_upsert(t, catalog()) {
        let mut s = t.db.session();
        let first: Vec<Course> = (0..1000).map(|i| course(&format!("C{i:04}"), &format!("Курс {i}"), i)).collect();
        s.upsert_all(Course::CODE, first).unwrap();
        let second: Vec<Course> = (500..1500)
            .map(|i| course(&format!("C{i:04}"), &format!("课程 {i}"), i * 10))
            .chain([course("C9999", "first", 1), course("C9999", "second", 2)])
            .collect();
        let keys = s.upsert_all(Course::CODE, second).unwrap();
        assert_eq!(keys.len(), 1002);
        assert_eq!(keys[1000], keys[1001]);
        assert_eq!(s[keys[1001]].title, "second");
        let all = rows(&mut s);
        assert_eq!(all.len(), 1501);
        assert_eq!(all[0], ("C0000".into(), "Курс 0".into(), 0, 1));
        assert_eq!(all[700], ("C0700".into(), "课程 700".into(), 7000, 2));
        assert_eq!(all[1200], ("C1200".into(), "课程 1200".into(), 12000, 1));
        assert_eq!(all[1500], ("C9999".into(), "second".into(), 2, 1));
        assert_eq!(s[keys[200]].credits, 7000);
        assert!(s.upsert_all(Course::CODE, Vec::new()).unwrap().is_empty());
    }
}

backend_test! {
    /// By primary key: objects carry their ids; a new id inserts, a known one updates.
    fn upsert_by_primary_key(t, catalog()) {
        let mut s = t.db.session();
        let a = Course { id: Some(10), ..course("A", "Art", 1) };
        let k = s.upsert(Course::ID, a).unwrap();
        assert_eq!(s.id(k), Some(10));
        let b = Course { id: Some(10), ..course("A2", "Art history", 2) };
        assert_eq!(s.upsert(Course::ID, b).unwrap(), k);
        assert_eq!(rows(&mut s), [("A2".into(), "Art history".into(), 2, 2)]);
    }
}

backend_test! {
    /// The session's own objects: one held without changes takes the upserted values; one with
    /// unsaved changes keeps them, and, the row having changed under them (its version counted
    /// up), the next commit refuses them with `Stale` and writes nothing.
    fn held_objects(t, catalog()) {
        let mut s = t.db.session();
        let k = s.add(course("B1", "Biology", 3));
        s.commit().unwrap();
        s.upsert(Course::CODE, course("B1", "Biology I", 4)).unwrap();
        assert_eq!(s[k].title, "Biology I");
        s[k].credits = 9;
        s.upsert(Course::CODE, course("B1", "Biology II", 5)).unwrap();
        assert_eq!((s[k].title.as_str(), s[k].credits), ("Biology I", 9), "unsaved changes are kept");
        let e = s.commit().unwrap_err();
        assert!(matches!(e, Error::Stale { .. }), "{e:?}");
        assert_eq!(rows(&mut s), [("B1".into(), "Biology II".into(), 5, 3)]);
    }
}

backend_test! {
    /// Misuse is named: a column neither unique nor the key, an object with no id on the key,
    /// an object with an id on a unique column. Nothing is written.
    fn misuse_is_named(t, catalog()) {
        let mut s = t.db.session();
        let e = s.upsert(Course::CREDITS, course("X", "X", 1)).unwrap_err();
        assert!(matches!(&e, Error::InvalidArgument { message } if message.contains("catalog.credits") && message.contains("unique")), "{e}");
        let e = s.upsert(Course::ID, course("X", "X", 1)).unwrap_err();
        assert!(e.to_string().contains("no id"), "{e}");
        let e = s.upsert(Course::CODE, Course { id: Some(3), ..course("X", "X", 1) }).unwrap_err();
        assert!(e.to_string().contains("has an id"), "{e}");
        assert!(rows(&mut s).is_empty());
    }
}

backend_test! {
    /// A row that breaks another constraint fails the whole upsert: nothing of it is written
    /// (on SQLite, where each row is its own statement, in a transaction of its own). MySQL
    /// updates on a conflict with any unique key instead, as documented.
    fn a_failure_writes_nothing(t, catalog()) {
        let mut s = t.db.session();
        s.upsert(Course::CODE, course("P1", "Physics", 1)).unwrap();
        let batch = vec![course("N1", "New one", 1), course("N2", "New two", 2), course("P2", "Physics", 3)];
        let result = s.upsert_all(Course::CODE, batch);
        if t.backend == "mysql" {
            result.unwrap();
            assert_eq!(
                rows(&mut s),
                [
                    ("N1".into(), "New one".into(), 1, 1),
                    ("N2".into(), "New two".into(), 2, 1),
                    ("P2".into(), "Physics".into(), 3, 2),
                ],
                "P1's row took P2's code"
            );
            return;
        }
        let e = result.unwrap_err();
        assert!(matches!(e, Error::Constraint { .. }), "{e:?}");
        assert_eq!(rows(&mut s), [("P1".into(), "Physics".into(), 1, 1)]);
        // The session is usable.
        s.upsert(Course::CODE, course("N1", "New one", 1)).unwrap();
        assert_eq!(rows(&mut s).len(), 2);
    }
}

backend_test! {
    /// Inside a block, an upsert is part of the block: a rollback undoes it, and the object it
    /// returned is read again by the next query.
    fn a_blocks_rollback_undoes_it(t, catalog()) {
        let mut s = t.db.session();
        let k = s.upsert(Course::CODE, course("H1", "History", 1)).unwrap();
        let failed = s.transaction(|s| {
            s.upsert(Course::CODE, course("H1", "Histoire", 2))?;
            s.upsert(Course::CODE, course("H2", "Herbs", 2))?;
            assert_eq!(s[k].title, "Histoire");
            Err::<(), _>(Error::InvalidKey { message: "give up".into() })
        });
        assert!(failed.is_err());
        assert_eq!(rows(&mut s), [("H1".into(), "History".into(), 1, 1)]);
        let again = s.query::<Course>().all().unwrap();
        assert_eq!(again, [k]);
        assert_eq!(s[k].title, "History", "read again after the rollback");
    }
}

/// MySQL without `RETURNING` (MySQL 8, or `relata_returning=false` on MariaDB) reads the rows
/// back by their `on` values in the same transaction: 600 rows in three statements, half of
/// them updates, each object with the id the database holds.
#[test]
#[cfg_attr(
    relata_skip_mysql,
    ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)"
)]
fn mysql_without_returning_reads_the_rows_back() {
    let Some(t) = common::open_with("mysql", &catalog()) else {
        return;
    };
    let db = relata::Database::open(&common::with_param(&t.url, "relata_returning=false")).unwrap();
    let mut s = db.session();
    s.upsert_all(
        Course::CODE,
        (0..300).map(|i| course(&format!("K{i:03}"), &format!("old {i}"), i)),
    )
    .unwrap();
    let keys = s
        .upsert_all(
            Course::CODE,
            (150..600).map(|i| course(&format!("K{i:03}"), &format!("Алгебра {i}"), i)),
        )
        .unwrap();
    assert_eq!(keys.len(), 450);
    let ids: Vec<(String, i64)> = s
        .select("SELECT code, id FROM catalog ORDER BY code", params![])
        .unwrap();
    assert_eq!(ids.len(), 600);
    for (i, k) in keys.iter().enumerate() {
        let (code, id) = &ids[150 + i];
        assert_eq!((&s[*k].code, s.id(*k)), (code, Some(*id)));
        assert_eq!(s[*k].title, format!("Алгебра {}", 150 + i));
    }
    assert_eq!(s[keys[0]].version, 2);
}
