//! `Session::transaction`: one connection and one database transaction for a block of work, on
//! a fresh database of every backend.

#[macro_use]
mod common;

use relata::{schema, Association, ConstraintKind, Database, Error, Model, ObjectState, Session};

#[derive(Model)]
#[relata(table = "students")]
struct Student {
    #[relata(primary_key)]
    id: Option<i64>,
    #[relata(unique)]
    name: String,
}

#[derive(Model)]
#[relata(table = "courses")]
struct Course {
    #[relata(primary_key)]
    id: Option<i64>,
    title: String,
}

#[derive(Association)]
#[relata(table = "student_course")]
struct StudentCourse {
    #[relata(references = Student, relation = "courses")]
    student_id: i64,
    #[relata(references = Course, relation = "students")]
    course_id: i64,
}

fn student(name: &str) -> Student {
    Student {
        id: None,
        name: name.into(),
    }
}

/// This file's schema: its own students (with a UNIQUE name), courses and their association.
fn tables() -> relata::Schema {
    schema![Student, Course, StudentCourse]
}

fn count(db: &Database) -> u64 {
    db.session().query::<Student>().count().unwrap()
}

backend_test! {
    fn a_block_reads_in_one_transaction_and_commits_at_the_end(t, tables()) {
        let db = &t.db;
        let mut s = db.session();
        let before = s.statements_run();
        s.transaction(|s| {
            for name in ["Алиса", "张伟", "Bob"] {
                if s.query::<Student>()
                    .filter(Student::NAME.eq(name))
                    .count()?
                    == 0
                {
                    s.add(student(name));
                }
            }
            Ok(())
        })
        .unwrap();
        // BEGIN, three counts, the inserts, COMMIT: no transaction per read. SQLite runs one
        // prepared single-row INSERT for each student (in-process, that is cheapest); a server
        // gets the three rows in one multi-row INSERT, to save round trips.
        let inserts = if t.is_server() { 1 } else { 3 };
        assert_eq!(s.statements_run() - before, 1 + 3 + inserts + 1);
        assert_eq!(count(db), 3);
        let alice = s
            .query::<Student>()
            .filter(Student::NAME.eq("Алиса"))
            .one()
            .unwrap();
        assert_eq!(s.state(alice), ObjectState::Persistent);
    }
}

backend_test! {
    fn a_failing_block_rolls_back_and_keeps_pending_changes(t, tables()) {
        let db = &t.db;
        let mut s = db.session();
        let err = s
            .transaction(|s| {
                s.add(student("Alice"));
                s.commit()?; // lands now
                s.add(student("Bob"));
                Err::<(), _>(Error::InvalidKey {
                    message: "stop".into(),
                })
            })
            .unwrap_err();
        assert!(matches!(err, Error::InvalidKey { .. }));
        assert_eq!(
            count(db),
            1,
            "the commit inside the block landed, nothing after it"
        );
        assert!(s.has_changes(), "Bob is still pending");
        s.commit().unwrap();
        assert_eq!(count(db), 2);
    }
}

backend_test! {
    fn a_constraint_failure_at_the_end_changes_nothing(t, tables()) {
        let db = &t.db;
        let mut s = db.session();
        s.add(student("Alice"));
        s.commit().unwrap();
        let mut s = db.session();
        let err = s
            .transaction(|s| {
                let math = s.add(Course {
                    id: None,
                    title: "Math".into(),
                });
                let dup = s.add(student("Alice"));
                s.link(Student::courses(), dup, math);
                Ok(dup)
            })
            .unwrap_err();
        match err {
            Error::Constraint {
                kind, constraint, ..
            } => {
                assert_eq!(kind, ConstraintKind::Unique);
                assert_eq!(constraint, "students.name");
            }
            other => panic!("expected a UNIQUE violation, got {other:?}"),
        }
        assert_eq!(count(db), 1);
        assert_eq!(db.session().query::<Course>().count().unwrap(), 0);
        assert!(s.has_changes());
        // The session is usable after the failed block.
        s.rollback();
        assert!(!s.has_changes());
        s.transaction(|s| {
            s.add(student("Zoë"));
            Ok(())
        })
        .unwrap();
        assert_eq!(count(db), 2);
    }
}

backend_test! {
    fn blocks_nest_into_the_outer_one(t, tables()) {
        let db = &t.db;
        let mut s = db.session();
        s.transaction(|s| {
            s.add(student("Alice"));
            s.transaction(|s| {
                s.add(student("Bob"));
                Ok(())
            })?;
            assert_eq!(count_in(s), 0, "the inner block does not commit on its own");
            Ok(())
        })
        .unwrap();
        assert_eq!(count(db), 2);
    }
}

fn count_in(s: &mut Session) -> u64 {
    s.query::<Student>().count().unwrap()
}

backend_test! {
    fn other_sessions_read_the_last_commit_while_a_block_runs(t, tables()) {
        // An in-memory database has a single connection, which the block holds: no other session
        // can read while it runs (see the SQLite-only test below).
        if t.backend == "memory" {
            return;
        }
        let db = &t.db;
        let mut s = db.session();
        s.add(student("Alice"));
        s.commit().unwrap();
        s.transaction(|s| {
            s.add(student("Bob"));
            s.commit()?;
            s.add(student("Carol"));
            // Another session (its own connection) sees what was committed, not what is pending.
            assert_eq!(count(db), 2);
            Ok(())
        })
        .unwrap();
        assert_eq!(count(db), 3);
    }
}

/// SQLite in memory only: such a database lives in one connection, the only one its pool holds,
/// so a second session has to wait for it. A file or a server gives every session a connection of
/// its own (see the test above), so there is nothing to wait for there.
#[test]
fn a_second_session_waiting_for_the_only_in_memory_connection_gets_a_clear_error() {
    let t = common::open_with("memory", &tables()).unwrap();
    let db = &t.db;
    let mut s = db.session();
    let err = s
        .transaction(|_| {
            let other = db.clone();
            let waited = std::thread::spawn(move || other.session().query::<Student>().count())
                .join()
                .unwrap();
            Ok(waited)
        })
        .unwrap();
    let err = err.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("in use"), "{err}");
}
