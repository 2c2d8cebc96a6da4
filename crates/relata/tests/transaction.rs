//! `Session::transaction`: one connection and one database transaction for a block of work, on
//! a fresh database of every backend.

#[macro_use]
mod common;

use relata::{
    schema, Association, ConstraintKind, Database, Error, Isolation, Model, ObjectState, Session,
    TxOptions,
};

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
            Ok::<_, relata::Error>(())
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
            Ok::<_, relata::Error>(())
        })
        .unwrap();
        assert_eq!(count(db), 2);
    }
}

backend_test! {
    /// A block inside a block is a savepoint of the outer one: it flushes the changes made
    /// before it (SQLAlchemy's `begin_nested`), and what it did lands with the outer block.
    fn a_block_inside_a_block_is_a_savepoint_of_the_outer_one(t, tables()) {
        let db = &t.db;
        let mut s = db.session();
        s.transaction(|s| {
            s.add(student("Alice"));
            s.transaction(|s| {
                assert_eq!(count_in(s), 1, "Alice was flushed when the savepoint began");
                s.add(student("Bob"));
                Ok::<_, relata::Error>(())
            })?;
            assert_eq!(count_in(s), 1, "Bob is pending in the outer block");
            Ok::<_, relata::Error>(())
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
            Ok::<_, relata::Error>(())
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
            Ok::<_, relata::Error>(waited)
        })
        .unwrap();
    let err = err.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("in use"), "{err}");
}

backend_test! {
    /// Issue 12, item 8: a panic inside a block, caught by a caller that keeps the session,
    /// rolls the block back and gives its connection back: another session writes at once
    /// (before, SQLite's write lock stayed held and other writers got `Busy` after 5 s), and the
    /// session's next block really commits (before, it ran as part of the dead block and
    /// returned `Ok` without committing anything). Ports the spirit of SQLAlchemy's
    /// `test/orm/test_transaction.py::ContextManagerPlusFutureTest::
    /// test_begin_context_manager_rollback_trans`: an exception inside the block rolls it back.
    fn a_panic_inside_a_block_rolls_it_back_and_the_session_goes_on(t, tables()) {
        let db = &t.db;
        let mut s = db.session();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = s.transaction(|s| {
                s.add(student("Alice"));
                s.commit()?; // lands; the block goes on in a new transaction
                s.add(student("Bob"));
                let n = s.query::<Student>().count()?;
                assert_eq!(n, 1);
                panic!("the application panicked inside the block");
                #[allow(unreachable_code)]
                Ok::<_, relata::Error>(())
            });
        }));
        assert!(caught.is_err(), "the panic reached the caller");
        let started = std::time::Instant::now();
        let mut other = db.session();
        other.add(student("Carol"));
        other.commit().expect("another session writes at once");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "waited {:?} for the panicked block's lock",
            started.elapsed()
        );
        // Bob was never committed; the session still holds him pending.
        assert_eq!(count(db), 2);
        assert!(s.has_changes());
        s.rollback();
        s.transaction(|s| {
            s.add(student("Dora"));
            Ok::<_, relata::Error>(())
        })
        .expect("the next block commits");
        assert_eq!(count(db), 3, "the next block really committed");
    }
}

/// An application's own error type, which can hold relata's.
#[derive(Debug)]
enum AppError {
    Relata(Error),
    NoSuchStudent(String),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Relata(e)
    }
}

backend_test! {
    /// `transaction_with` takes the application's error type: an application error rolls the
    /// block back (nothing it staged is written), a relata error comes back inside it.
    fn a_block_fails_with_the_applications_own_error(t, tables()) {
        let db = &t.db;
        let mut s = db.session();
        let err = s
            .transaction_with(TxOptions::new(), |s| {
                s.add(student("Alice"));
                let found = s
                    .query::<Student>()
                    .filter(Student::NAME.eq("Zed"))
                    .count()?;
                if found == 0 {
                    return Err(AppError::NoSuchStudent("Zed".into()));
                }
                Ok(())
            })
            .unwrap_err();
        assert!(matches!(err, AppError::NoSuchStudent(ref n) if n == "Zed"), "{err:?}");
        assert_eq!(count(db), 0);
        s.rollback();
        s.add(student("Alice"));
        s.commit().unwrap();
        let err = s
            .transaction_with(TxOptions::new(), |s| {
                s.add(student("Alice"));
                Ok::<_, AppError>(())
            })
            .unwrap_err();
        assert!(
            matches!(err, AppError::Relata(Error::Constraint { kind: ConstraintKind::Unique, .. })),
            "{err:?}"
        );
        assert_eq!(count(db), 1);
    }
}

backend_test! {
    /// A read-only block reads, commits nothing (a `commit()` inside it is `Error::ReadOnly`
    /// and its changes stay pending), and the session commits them after it.
    fn a_read_only_block_reads_and_never_writes(t, tables()) {
        let db = &t.db;
        let mut s = db.session();
        s.add(student("Alice"));
        s.commit().unwrap();
        let (seen, refused) = s
            .transaction_with(TxOptions::new().read_only(), |s| {
                let seen = s.query::<Student>().count()?;
                s.add(student("Bob"));
                let refused = s.commit();
                Ok::<_, Error>((seen, refused))
            })
            .unwrap();
        assert_eq!(seen, 1);
        let err = refused.unwrap_err();
        assert!(matches!(err, Error::ReadOnly), "{err:?}");
        assert!(err.to_string().contains("read-only"), "{err}");
        assert_eq!(count(db), 1, "nothing was written");
        assert!(s.has_changes(), "Bob stays pending");
        s.commit().unwrap();
        assert_eq!(count(db), 2);
    }
}

backend_test! {
    /// Every isolation level opens a block that reads and commits (SQLite runs every
    /// transaction serializably and takes the level as given).
    fn every_isolation_level_runs_a_block(t, tables()) {
        let db = &t.db;
        let mut s = db.session();
        for (i, level) in [
            Isolation::ReadCommitted,
            Isolation::RepeatableRead,
            Isolation::Serializable,
        ]
        .into_iter()
        .enumerate()
        {
            s.transaction_with(TxOptions::new().isolation(level), |s| {
                assert_eq!(s.query::<Student>().count()?, i as u64);
                s.add(student(&format!("student {i}")));
                Ok::<_, Error>(())
            })
            .unwrap_or_else(|e| panic!("{level:?}: {e}"));
            s.transaction_with(TxOptions::new().isolation(level).read_only(), |s| {
                assert_eq!(s.query::<Student>().count()?, i as u64 + 1);
                Ok::<_, Error>(())
            })
            .unwrap_or_else(|e| panic!("{level:?} read-only: {e}"));
        }
        assert_eq!(count(db), 3);
    }
}

/// Issue 12, item 4, on SQLite: while another connection holds the write lock (a block in
/// progress), a read-only block reads at once; a read-write block would wait for the lock and
/// give up with `Error::Busy` after the busy timeout (5 s).
#[test]
fn sqlite_a_read_only_block_does_not_wait_for_a_writer() {
    let t = common::open_with("file", &tables()).unwrap();
    let db = &t.db;
    let mut seed = db.session();
    seed.add(student("Alice"));
    seed.commit().unwrap();
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut w = db.session();
            w.transaction(|w| {
                w.add(student("Bob"));
                held_tx.send(()).unwrap();
                done_rx
                    .recv_timeout(std::time::Duration::from_secs(30))
                    .ok();
                Ok::<_, relata::Error>(())
            })
            .unwrap();
        });
        held_rx.recv().unwrap();
        let started = std::time::Instant::now();
        let mut r = db.session();
        let seen = r
            .transaction_with(TxOptions::new().read_only(), |r| {
                r.query::<Student>().count()
            })
            .expect("a read-only block reads while another holds the write lock");
        assert_eq!(seen, 1);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "waited {:?}",
            started.elapsed()
        );
        done_tx.send(()).unwrap();
    });
    assert_eq!(count(db), 2);
}
