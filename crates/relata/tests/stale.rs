//! A write the database did not make is never reported as made: an UPDATE or DELETE of an
//! object another session deleted meanwhile is `Error::Stale`, the transaction is rolled back,
//! and the session keeps its changes. Ports SQLAlchemy's `test/orm/test_unitofworkv2.py`
//! `BasicStaleChecksTest` (`test_update_single_missing`, `test_delete_twice`,
//! `test_delete_multi_missing_warning`; SQLAlchemy only warns on deletes, relata fails the
//! commit, as issue 14 asks).

mod common;

use common::{student, Student};
use relata::{Error, Model};

/// Deletes every row of `students` through another session, as another process would.
fn delete_elsewhere(db: &relata::Database, ids: &[i64]) {
    let mut other = db.session();
    for &id in ids {
        let k = other
            .find::<Student>(id)
            .unwrap()
            .expect("the row is there");
        other.delete(k);
    }
    other.commit().unwrap();
}

fn count(db: &relata::Database) -> u64 {
    db.session().query::<Student>().count().unwrap()
}

backend_test! {
    // Ports test_update_single_missing.
    fn an_update_of_a_row_deleted_elsewhere_is_stale(t) {
        let mut s = t.db.session();
        let alice = s.add(student("Алиса"));
        s.commit().unwrap();
        let id = s.id(alice).unwrap();
        delete_elsewhere(&t.db, &[id]);

        s[alice].name = "Alice".into();
        let e = s.commit().unwrap_err();
        match &e {
            Error::Stale { statement, table, key, expected, matched } => {
                assert_eq!((*statement, table.as_str()), ("UPDATE", "students"));
                assert!(key.contains(&format!("{id}")), "{key}");
                assert_eq!((*expected, *matched), (1, 0));
            }
            other => panic!("expected Stale, got {other:?}"),
        }
        assert!(e.to_string().contains("expected to match 1 row but matched 0"), "{e}");
        // Nothing written, and the session still holds the change.
        assert_eq!(count(&t.db), 0);
        assert!(s.has_changes());
        assert_eq!(s[alice].name, "Alice");
    }
}

backend_test! {
    fn an_update_that_changes_nothing_in_the_row_is_not_stale(t) {
        // MySQL counts changed rows by default; relata asks for matched rows, so an UPDATE to
        // the value the row already holds (written elsewhere meanwhile) is not mistaken for a
        // missing row.
        let mut s = t.db.session();
        let bob = s.add(student("Bob"));
        s.commit().unwrap();
        let id = s.id(bob).unwrap();
        let mut other = t.db.session();
        let k = other.find::<Student>(id).unwrap().unwrap();
        other[k].name = "Robert".into();
        other.commit().unwrap();

        s[bob].name = "Robert".into();
        s.commit().unwrap();
        assert_eq!(count(&t.db), 1);
    }
}

backend_test! {
    // Ports test_delete_twice (the row gone by the time of the second delete).
    fn a_delete_of_a_row_deleted_elsewhere_is_stale(t) {
        let mut s = t.db.session();
        let alice = s.add(student("张伟"));
        s.commit().unwrap();
        let id = s.id(alice).unwrap();
        delete_elsewhere(&t.db, &[id]);

        s.delete(alice);
        let e = s.commit().unwrap_err();
        assert!(
            matches!(&e, Error::Stale { statement: "DELETE", expected: 1, matched: 0, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains(&format!("students(id = {id})")), "{e}");
        assert!(s.has_changes(), "the delete stays pending");
    }
}

backend_test! {
    // Ports test_delete_multi_missing_warning: of several deletes, the missing rows are named.
    fn a_batch_of_deletes_names_the_rows_that_were_gone(t) {
        let mut s = t.db.session();
        let keys = s.add_all(["A", "B", "C", "D"].map(student));
        s.commit().unwrap();
        let ids: Vec<i64> = keys.iter().map(|&k| s.id(k).unwrap()).collect();
        delete_elsewhere(&t.db, &[ids[1], ids[3]]);

        for &k in &keys {
            s.delete(k);
        }
        let e = s.commit().unwrap_err();
        let Error::Stale { statement, key, expected, matched, .. } = &e else {
            panic!("expected Stale, got {e:?}");
        };
        assert_eq!((*statement, *expected, *matched), ("DELETE", 4, 2));
        for &missing in &[ids[1], ids[3]] {
            assert!(key.contains(&format!("students(id = {missing})")), "{key}");
        }
        // The two rows that were there are still there: the commit was rolled back.
        assert_eq!(count(&t.db), 2);
        let _ = Student::TABLE;
    }
}

/// MySQL without `RETURNING` (MySQL 8, or `relata_returning=false`) learns what a statement did
/// from its count alone: an unlink and a delete of rows that are there succeed, and an update
/// matched its row. (The count read back used to be 0 whatever the statement did, so every
/// checked unlink there failed as stale.)
#[test]
#[cfg_attr(
    relata_skip_mysql,
    ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)"
)]
fn mysql_without_returning_counts_what_each_statement_changed() {
    use common::{course, with_param};
    let Some(t) = common::open_with("mysql", &common::school()) else {
        return;
    };
    let db = relata::Database::open(&with_param(&t.url, "relata_returning=false")).unwrap();
    let mut s = db.session();
    let alice = s.add(student("Алиса"));
    let courses = s.add_all(["Math", "Art", "化学"].map(course));
    s.extend(Student::courses(), alice, courses.iter().copied());
    s.commit().unwrap();

    let mut s = db.session();
    let alice = s.find::<Student>(s_id(&db)).unwrap().unwrap();
    let linked = s.related(Student::courses(), alice).unwrap();
    assert_eq!(linked.len(), 3);
    for &c in &linked[..2] {
        s.unlink(Student::courses(), alice, c);
    }
    s[alice].name = "Alice".into();
    s.commit().expect("the pairs and the row were there");
    let mut fresh = db.session();
    let alice = fresh.find::<Student>(s_id(&db)).unwrap().unwrap();
    assert_eq!(fresh.related(Student::courses(), alice).unwrap().len(), 1);
    assert_eq!(fresh[alice].name, "Alice");

    // A batch in which a pair is gone: the count says so, without saying which.
    let mut s = db.session();
    let alice = s.find::<Student>(s_id(&db)).unwrap().unwrap();
    let last = s.related(Student::courses(), alice).unwrap()[0];
    let mut other = db.session();
    let (oa, oc) = (
        other.find::<Student>(s_id(&db)).unwrap().unwrap(),
        other
            .find::<common::Course>(s.id(last).unwrap())
            .unwrap()
            .unwrap(),
    );
    other.unlink(Student::courses(), oa, oc);
    other.commit().unwrap();
    s.unlink(Student::courses(), alice, last);
    let e = s.commit().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Stale {
                statement: "DELETE",
                ..
            }
        ),
        "{e:?}"
    );
}

/// The one student's id.
fn s_id(db: &relata::Database) -> i64 {
    let mut s = db.session();
    let k = s.query::<Student>().one().unwrap();
    s.id(k).unwrap()
}
