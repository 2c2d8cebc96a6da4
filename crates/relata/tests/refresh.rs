//! Reading again what other sessions committed: `refresh`, `expire_all`, `populate_existing`,
//! and letting objects go with `expunge` / `expunge_all`, on every backend. Ports SQLAlchemy's
//! `test/orm/test_expire.py` (`ExpireTest::test_expire`, `test_refresh`,
//! `test_refresh_on_deleted_raises`, `test_persistence_check`, `test_expire_preserves_changes`)
//! and `test/orm/test_session.py` (`test_explicit_expunge_pending`, `test_expunge_all`,
//! `test_get_populate_existing`), each test naming the one it ports.

mod common;

use common::{course, courses_of, pairs, seed, student, student_named, Student};
use relata::{Error, ObjectState};

/// Renames the student with `id` through another session, as another process would.
fn rename_elsewhere(db: &relata::Database, id: i64, name: &str) {
    let mut other = db.session();
    let k = other
        .find::<Student>(id)
        .unwrap()
        .expect("the row is there");
    other[k].name = name.into();
    other.commit().unwrap();
}

/// Two students committed, then renamed by another session (`jack2`, `ed2`), with `ed` renamed
/// in this session too (`mine`, not committed).
fn jack_and_ed_renamed_elsewhere(
    db: &relata::Database,
) -> (relata::Session, relata::Key<Student>, relata::Key<Student>) {
    let mut s = db.session();
    let jack = s.add(student("jack"));
    let ed = s.add(student("ed"));
    s.commit().unwrap();
    rename_elsewhere(db, s.id(jack).unwrap(), "jack2");
    rename_elsewhere(db, s.id(ed).unwrap(), "ed2");
    s[ed].name = "mine".into();
    (s, jack, ed)
}

backend_test! {
    /// Ports `ExpireTest::test_refresh`: a refresh of a changed object is refused (relata never
    /// drops changes silently); `refresh_discarding` drops the changed name and the pending link,
    /// and reads the row and the collection as the database has them.
    fn test_refresh(t) {
        let mut s = t.db.session();
        let sd = seed(&mut s);
        s.commit().unwrap();
        let id = s.id(sd.alice).unwrap();
        rename_elsewhere(&t.db, id, "Алиса");

        assert_eq!(courses_of(&mut s, sd.alice), ["Math", "Science"]);
        s[sd.alice].name = "foo".into();
        let art = s.add(course("Art"));
        s.link(Student::courses(), sd.alice, art);
        let e = s.refresh(sd.alice).unwrap_err();
        assert!(matches!(&e, Error::Unsaved { reason, .. } if reason.contains("changed fields")), "{e}");
        assert_eq!(s[sd.alice].name, "foo", "nothing was overwritten");

        s.refresh_discarding(sd.alice).unwrap();
        assert_eq!(s.state(sd.alice), ObjectState::Persistent, "refreshed, so not dirty");
        assert_eq!(s[sd.alice].name, "Алиса", "the name is back to the database's");
        assert_eq!(courses_of(&mut s, sd.alice), ["Math", "Science"], "the pending link is gone");
        // Changed again after the refresh: one UPDATE, of the refreshed row.
        s[sd.alice].name = "Alice".into();
        let sql = s.pending_statements().unwrap();
        assert_eq!(sql.iter().filter(|q| q.starts_with("UPDATE")).count(), 1, "{sql:#?}");
        s.commit().unwrap();
        assert_eq!(common::contents(&t.db).students, ["Alice", "Bob"]);
    }
}

backend_test! {
    /// A refresh reads the loaded collections again: a pair another session linked becomes
    /// visible, and an unlink of it then deletes it (before, it silently did nothing).
    fn a_refresh_reads_loaded_collections_again(t) {
        let mut s = t.db.session();
        let sd = seed(&mut s);
        s.commit().unwrap();
        assert_eq!(courses_of(&mut s, sd.bob), ["Math"]);
        let mut other = t.db.session();
        let bob = student_named(&mut other, "Bob");
        let science = common::course_titled(&mut other, "Science");
        other.link(Student::courses(), bob, science);
        other.commit().unwrap();

        assert_eq!(courses_of(&mut s, sd.bob), ["Math"], "as this session read it");
        let before = s.statements_run();
        s.refresh(sd.bob).unwrap();
        assert_eq!(s.statements_run() - before, 2, "the row and its one loaded collection");
        assert_eq!(courses_of(&mut s, sd.bob), ["Math", "Science"]);
        s.unlink(Student::courses(), sd.bob, sd.science);
        s.commit().unwrap();
        assert_eq!(
            common::contents(&t.db).pairs,
            pairs(&[("Alice", "Math"), ("Alice", "Science"), ("Bob", "Math")])
        );
    }
}

backend_test! {
    /// Ports `ExpireTest::test_refresh_on_deleted_raises` and `test_persistence_check`: a row
    /// deleted elsewhere is `NotFound` and the object stays as it was; a new or expunged object
    /// has no row to read.
    fn a_refresh_needs_a_stored_row(t) {
        let mut s = t.db.session();
        let alice = s.add(student("Alice"));
        let e = s.refresh(alice).unwrap_err();
        assert!(matches!(&e, Error::Unsaved { reason, .. } if reason.contains("new")), "{e}");
        s.commit().unwrap();
        let id = s.id(alice).unwrap();
        let mut other = t.db.session();
        let k = other.find::<Student>(id).unwrap().unwrap();
        other.delete(k);
        other.commit().unwrap();
        let e = s.refresh(alice).unwrap_err();
        assert!(matches!(e, Error::NotFound { table: "students", .. }), "{e}");
        assert!(e.to_string().contains("another session deleted"), "{e}");
        assert_eq!(s[alice].name, "Alice");
        s.expunge(alice);
        let e = s.refresh(alice).unwrap_err();
        assert!(matches!(&e, Error::Unsaved { reason, .. } if reason.contains("detached")), "{e}");
    }
}

backend_test! {
    /// Ports `ExpireTest::test_expire` and `test_expire_preserves_changes`: after `expire_all`,
    /// the next query that returns a row reads it into the object; an object with unsaved
    /// changes keeps them.
    fn expire_all_rereads_at_the_next_query_and_keeps_changes(t) {
        let (mut s, jack, ed) = jack_and_ed_renamed_elsewhere(&t.db);

        let before = s.statements_run();
        s.expire_all();
        assert_eq!(s.statements_run(), before, "no statement now");
        assert_eq!(s[jack].name, "jack", "the values read last, until a read");
        let all = s.query::<Student>().all().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(s[jack].name, "jack2");
        assert_eq!(s[ed].name, "mine", "unsaved changes are never overwritten");
        assert_eq!(s.state(ed), ObjectState::Modified);
        // Read once: later reads keep it as held.
        rename_elsewhere(&t.db, s.id(jack).unwrap(), "jack3");
        s.query::<Student>().all().unwrap();
        assert_eq!(s[jack].name, "jack2");
        // find() reads an expired object's row too.
        s.expire_all();
        assert_eq!(s.find::<Student>(s.id(jack).unwrap()).unwrap(), Some(jack));
        assert_eq!(s[jack].name, "jack3");
        // One object: `expire`.
        rename_elsewhere(&t.db, s.id(jack).unwrap(), "jack4");
        s.expire(jack);
        assert_eq!(s[jack].name, "jack3");
        s.query::<Student>().all().unwrap();
        assert_eq!(s[jack].name, "jack4");
    }
}

backend_test! {
    /// `expire_all` forgets loaded collections; pending links stay pending.
    fn expire_all_forgets_collections_and_keeps_pending_links(t) {
        let mut s = t.db.session();
        let sd = seed(&mut s);
        s.commit().unwrap();
        assert_eq!(courses_of(&mut s, sd.bob), ["Math"]);
        let art = s.add(course("Art"));
        s.link(Student::courses(), sd.bob, art);
        let mut other = t.db.session();
        let bob = student_named(&mut other, "Bob");
        let science = common::course_titled(&mut other, "Science");
        other.link(Student::courses(), bob, science);
        other.commit().unwrap();

        s.expire_all();
        let mut got = courses_of(&mut s, sd.bob);
        got.sort();
        assert_eq!(got, ["Art", "Math", "Science"]);
        s.commit().unwrap();
        assert!(common::contents(&t.db).pairs.contains(&("Bob".into(), "Art".into())));
    }
}

backend_test! {
    /// Ports `test_session.py::test_get_populate_existing`: `populate_existing` overwrites the
    /// objects a query returns with their rows, except those with unsaved changes.
    fn populate_existing_overwrites_unchanged_objects(t) {
        let (mut s, jack, ed) = jack_and_ed_renamed_elsewhere(&t.db);
        s.query::<Student>().all().unwrap();
        assert_eq!(s[jack].name, "jack", "a plain query keeps what the session holds");
        let before = s.statements_run();
        s.query::<Student>().populate_existing().all().unwrap();
        assert_eq!(s.statements_run() - before, 1);
        assert_eq!(s[jack].name, "jack2");
        assert_eq!(s[ed].name, "mine");
        // Only that query: the next plain one does not overwrite.
        rename_elsewhere(&t.db, s.id(jack).unwrap(), "jack3");
        s.query::<Student>().all().unwrap();
        assert_eq!(s[jack].name, "jack2");
    }
}

backend_test! {
    /// Ports `test_session.py::test_explicit_expunge_pending` and `test_expunge_all`: an expunged
    /// object is detached with its pending changes and links; a later query makes a new object
    /// for its row. `expunge_all` lets everything go.
    fn expunge_detaches_and_a_query_makes_a_new_object(t) {
        let mut s = t.db.session();
        let sd = seed(&mut s);
        s.commit().unwrap();
        let pending = s.add(student("pending"));
        s.expunge(pending);
        assert_eq!(s.state(pending), ObjectState::Detached);
        assert_eq!(courses_of(&mut s, sd.alice), ["Math", "Science"]);
        s[sd.alice].name = "changed".into();
        s.link(Student::courses(), sd.bob, sd.science);
        s.expunge(sd.alice);
        assert_eq!(s.state(sd.alice), ObjectState::Detached);
        assert_eq!(s[sd.alice].name, "changed", "its key still reads its last values");
        let mut got = common::students_of(&mut s, sd.math);
        got.sort();
        assert_eq!(got, ["Alice", "Bob"], "a new Alice, read again");
        let again = student_named(&mut s, "Alice");
        assert_ne!(again, sd.alice);
        assert_eq!(s[again].name, "Alice");
        s.commit().unwrap();
        let c = common::contents(&t.db);
        assert_eq!(c.students, ["Alice", "Bob"], "neither the pending add nor the change landed");
        assert!(c.pairs.contains(&("Bob".into(), "Science".into())));

        s.expunge_all();
        for k in [sd.bob, again] {
            assert_eq!(s.state(k), ObjectState::Detached);
        }
        assert!(!s.has_changes());
        let bob = student_named(&mut s, "Bob");
        assert_ne!(bob, sd.bob);
    }
}
