//! Optimistic concurrency: a `#[relata(version)]` column that every UPDATE checks and
//! increments, so of two sessions that changed the same row the second to commit gets
//! `Error::Stale`. Ports SQLAlchemy's `test/orm/test_versioning.py` (`VersioningTest`), on every
//! backend.

mod common;

use relata::{schema, Error, Model, ObjectState};

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "version_table")]
struct Foo {
    #[relata(primary_key)]
    id: Option<i64>,
    value: String,
    #[relata(version)]
    version_id: i64,
}

fn foo(value: &str) -> Foo {
    Foo {
        id: None,
        value: value.into(),
        version_id: 0,
    }
}

fn tables() -> relata::Schema {
    schema![Foo]
}

/// The row as the database holds it, read by a new session.
fn stored(db: &relata::Database, id: i64) -> (String, i64) {
    let mut s = db.session();
    let k = s.find::<Foo>(id).unwrap().expect("the row is there");
    (s[k].value.clone(), s[k].version_id)
}

backend_test! {
    /// Ports `VersioningTest::test_basic` (its UPDATE part): the version starts at 1, each
    /// committed update adds 1, and an update from a session that read an older version is
    /// stale; the session keeps its change, and the row keeps the other session's.
    fn test_basic(t, tables()) {
        let mut s1 = t.db.session();
        let f1 = s1.add(foo("f1"));
        let f2 = s1.add(foo("f2"));
        assert_eq!(s1[f1].version_id, 1, "counted from 1 when added");
        s1.commit().unwrap();
        let id = s1.id(f1).unwrap();
        assert_eq!(stored(&t.db, id), ("f1".into(), 1));

        s1[f1].value = "f1rev2".into();
        s1.commit().unwrap();
        assert_eq!(s1[f1].version_id, 2);
        assert_eq!(stored(&t.db, id), ("f1rev2".into(), 2));

        let mut s2 = t.db.session();
        let f1_s = s2.find::<Foo>(id).unwrap().unwrap();
        s2[f1_s].value = "f1rev3".into();
        s2.commit().unwrap();

        s1[f1].value = "f1rev3mine".into();
        let e = s1.commit().unwrap_err();
        match &e {
            Error::Stale { statement, table, expected, matched, .. } => {
                assert_eq!((*statement, table.as_str()), ("UPDATE", "version_table"));
                assert_eq!((*expected, *matched), (1, 0));
            }
            other => panic!("expected Stale, got {other:?}"),
        }
        assert!(!e.is_retryable());
        assert_eq!(s1.state(f1), ObjectState::Modified, "the session keeps its change");
        assert_eq!(s1[f1].version_id, 2);
        assert_eq!(stored(&t.db, id), ("f1rev3".into(), 3));
        // Unrelated objects of the failed commit were not written either, and commit later.
        s1.rollback();
        s1[f2].value = "f2rev2".into();
        s1.commit().unwrap();
        assert_eq!(stored(&t.db, s1.id(f2).unwrap()), ("f2rev2".into(), 2));
    }
}

backend_test! {
    /// Ports `VersioningTest::test_multiple_updates`: several updates of several objects in one
    /// commit each bump their own version.
    fn test_multiple_updates(t, tables()) {
        let mut s = t.db.session();
        let f1 = s.add(foo("f1"));
        let f2 = s.add(foo("f2"));
        s.commit().unwrap();
        s[f1].value = "f1rev2".into();
        s[f2].value = "f2rev2".into();
        s.commit().unwrap();
        s[f1].value = "f1rev3".into();
        s.commit().unwrap();
        assert_eq!((s[f1].version_id, s[f2].version_id), (3, 2));
        assert_eq!(stored(&t.db, s.id(f1).unwrap()), ("f1rev3".into(), 3));
        assert_eq!(stored(&t.db, s.id(f2).unwrap()), ("f2rev2".into(), 2));
    }
}

backend_test! {
    /// The statement says what it checks: the version is bound in the WHERE, and set by the SQL.
    fn an_update_checks_and_increments_the_version(t, tables()) {
        let mut s = t.db.session();
        let f1 = s.add(foo("f1"));
        s.commit().unwrap();
        s[f1].value = "f1rev2".into();
        let sql = s.pending_statements().unwrap().join("\n");
        let q = |n: &str| match t.backend {
            "mysql" => format!("`{n}`"),
            _ => format!("\"{n}\""),
        };
        let v = q("version_id");
        assert!(
            sql.contains(&format!("{v} = {v} + 1 WHERE {} = ", q("id")))
                && sql.contains(&format!("AND {v} = ")),
            "{sql}"
        );
    }
}

backend_test! {
    /// Changing only the version field is not an update: relata owns the counter.
    fn the_version_field_is_not_a_change_of_its_own(t, tables()) {
        let mut s = t.db.session();
        let f1 = s.add(foo("f1"));
        s.commit().unwrap();
        s[f1].version_id = 42;
        assert_eq!(s.state(f1), ObjectState::Persistent);
        assert!(s.pending_statements().unwrap().is_empty());
    }
}

backend_test! {
    /// A version bumped by a flush goes back with the savepoint that rolls the flush back, so
    /// the next commit is not stale against the database's own row.
    fn a_rolled_back_flush_puts_the_version_back(t, tables()) {
        let mut s = t.db.session();
        let f1 = s.add(foo("f1"));
        s.commit().unwrap();
        s.transaction(|s| {
            let r = s.savepoint(|s| {
                s[f1].value = "inside".into();
                s.flush()?;
                assert_eq!(s[f1].version_id, 2);
                Err::<(), _>(Error::ReadOnly)
            });
            assert!(r.is_err());
            assert_eq!((s[f1].value.as_str(), s[f1].version_id), ("f1", 1));
            s[f1].value = "after".into();
            Ok::<_, Error>(())
        })
        .unwrap();
        assert_eq!(stored(&t.db, s.id(f1).unwrap()), ("after".into(), 2));
    }
}
