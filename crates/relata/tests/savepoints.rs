//! Savepoints, flushes and autoflush inside transaction blocks, and blocks that fail with the
//! application's own error type, on every backend. Ports SQLAlchemy's
//! `test/orm/test_transaction.py` (`SavepointTest`, `SessionTransactionTest`'s nested
//! accounting, `RollbackRecoverTest::test_pk_violation_with_savepoint`,
//! `ContextManagerPlusFutureTest::test_contextmanager_nested_rollback`,
//! `test_preserve_flush_error`, `test_transactions_isolated`), each test naming the one it ports.
//!
//! Where relata differs on purpose: a failed *outermost* block keeps the session's changes
//! pending (SQLAlchemy expunges them), as a failed `commit()` does; see ARCHITECTURE.md.

mod common;

use common::{contents, course, courses_of, pairs, student, Course, Student};
use relata::{ConstraintKind, Error, Key, ObjectState, Session, TxOptions};

/// An application's own error, which a block may fail with.
#[derive(Debug)]
enum AppError {
    Db(Error),
    Refused(&'static str),
}

impl From<Error> for AppError {
    fn from(e: Error) -> AppError {
        AppError::Db(e)
    }
}

/// Every student's name, by id, as the session's block sees them.
fn names_by_id(s: &mut Session) -> Vec<String> {
    let keys = s
        .query::<Student>()
        .order_by(Student::ID.asc())
        .all()
        .unwrap();
    keys.iter().map(|&k| s[k].name.clone()).collect()
}

fn committed_names(db: &relata::Database) -> Vec<String> {
    contents(db).students
}

backend_test! {
    /// The sequence of issue 14: a failed inner block stored its work with the outer one's.
    /// Ports `ContextManagerPlusFutureTest::test_contextmanager_nested_rollback`, with the
    /// application's own error type.
    fn a_failed_inner_block_undoes_only_its_own_work(t) {
        let mut s = t.db.session();
        let mut bob = None;
        s.transaction(|s| {
            s.add(student("Alice"));
            let inner = s.transaction(|s| {
                bob = Some(s.add(student("Bob")));
                Err::<(), _>(AppError::Refused("Bob may not enroll"))
            });
            assert!(matches!(inner, Err(AppError::Refused("Bob may not enroll"))));
            Ok::<_, AppError>(())
        })
        .unwrap();
        assert_eq!(committed_names(&t.db), ["Alice"]);
        assert_eq!(s.state(bob.unwrap()), ObjectState::Detached);
        assert!(!s.has_changes());
    }
}

backend_test! {
    /// An application error from the outermost block rolls it back and comes back as it was.
    fn an_outer_block_fails_with_the_callers_error_type(t) {
        let mut s = t.db.session();
        let r = s.transaction(|s| {
            s.add(student("Alice"));
            s.flush()?;
            Err::<(), _>(AppError::Refused("no"))
        });
        assert!(matches!(r, Err(AppError::Refused("no"))));
        assert!(committed_names(&t.db).is_empty());
        // And a relata error inside converts into the application's.
        let r = s.transaction(|s| {
            s.find::<Student>(1)?;
            s.query::<Course>().one()?;
            Ok::<_, AppError>(())
        });
        assert!(matches!(r, Err(AppError::Db(Error::NotFound { .. }))), "{r:?}");
    }
}

backend_test! {
    /// Ports `SavepointTest::test_savepoint_rollback`.
    fn savepoint_rollback(t) {
        let mut s = t.db.session();
        let ed = s.add(student("ed"));
        let jack = s.add(student("jack"));
        s.transaction(|s| {
            let failed = s.savepoint(|s| {
                s.add_all([student("wendy"), student("foo")]);
                s[ed].name = "edward".into();
                s[jack].name = "jackward".into();
                s.flush()?;
                assert_eq!(names_by_id(s), ["edward", "jackward", "wendy", "foo"]);
                Err::<(), _>(AppError::Refused("roll back"))
            });
            assert!(failed.is_err());
            assert_eq!((s[ed].name.as_str(), s[jack].name.as_str()), ("ed", "jack"));
            assert_eq!(names_by_id(s), ["ed", "jack"]);
            Ok::<_, AppError>(())
        })
        .unwrap();
        assert_eq!((s[ed].name.as_str(), s[jack].name.as_str()), ("ed", "jack"));
        assert_eq!(committed_names(&t.db), ["ed", "jack"]);
    }
}

backend_test! {
    /// Ports `SavepointTest::test_savepoint_delete`: `commit()` inside a savepoint flushes.
    fn savepoint_delete(t) {
        let mut s = t.db.session();
        let ed = s.add(student("ed"));
        s.commit().unwrap();
        s.transaction(|s| {
            s.savepoint(|s| {
                s.delete(ed);
                s.commit()
            })?;
            assert_eq!(s.query::<Student>().filter(Student::NAME.eq("ed")).count()?, 0);
            Ok::<_, Error>(())
        })
        .unwrap();
        assert!(committed_names(&t.db).is_empty());
        assert_eq!(s.state(ed), ObjectState::Detached);
    }
}

backend_test! {
    /// Ports `SavepointTest::test_savepoint_commit`: after a released savepoint, the objects
    /// hold their new values and a query costs one statement.
    fn savepoint_commit(t) {
        let mut s = t.db.session();
        let ed = s.add(student("ed"));
        let jack = s.add(student("jack"));
        s.transaction(|s| {
            s.savepoint(|s| {
                s.add_all([student("wendy"), student("foo")]);
                s[ed].name = "edward".into();
                s[jack].name = "jackward".into();
                s.flush()?;
                assert_eq!(names_by_id(s), ["edward", "jackward", "wendy", "foo"]);
                Ok::<_, Error>(())
            })?;
            let before = s.statements_run();
            assert_eq!((s[ed].name.as_str(), s[jack].name.as_str()), ("edward", "jackward"));
            assert_eq!(names_by_id(s), ["edward", "jackward", "wendy", "foo"]);
            assert_eq!(s.statements_run() - before, 1);
            Ok::<_, Error>(())
        })
        .unwrap();
        assert_eq!(committed_names(&t.db), ["edward", "foo", "jackward", "wendy"]);
    }
}

/// The savepoint collection tests' start: Alice takes Math (committed); in the block she is
/// renamed and takes Art too.
fn collections_start(s: &mut Session) -> (Key<Student>, Key<Course>) {
    let alice = s.add(student("Alice"));
    let math = s.add(course("Math"));
    s.link(Student::courses(), alice, math);
    s.commit().unwrap();
    (alice, math)
}

backend_test! {
    /// Ports `SavepointTest::test_savepoint_rollback_collections`, with a many-to-many.
    fn savepoint_rollback_collections(t) {
        let mut s = t.db.session();
        let (alice, _) = collections_start(&mut s);
        let mut bob = None;
        s.transaction(|s| {
            s[alice].name = "Алиса".into();
            let art = s.add(course("Art"));
            s.link(Student::courses(), alice, art);
            let r = s.savepoint(|s| {
                let b = s.add(student("Bob"));
                let chem = s.add(course("化学"));
                s.link(Student::courses(), b, chem);
                s.link(Student::courses(), alice, chem);
                s.flush()?;
                bob = Some(b);
                assert_eq!(courses_of(s, alice), ["Math", "Art", "化学"]);
                Err::<(), _>(AppError::Refused("undo"))
            });
            assert!(r.is_err());
            assert_eq!(courses_of(s, alice), ["Math", "Art"]);
            assert_eq!(s.query::<Course>().count()?, 2);
            Ok::<_, AppError>(())
        })
        .unwrap();
        assert_eq!(s.state(bob.unwrap()), ObjectState::Detached);
        let c = contents(&t.db);
        assert_eq!(c.students, ["Алиса"]);
        assert_eq!(c.pairs, pairs(&[("Алиса", "Art"), ("Алиса", "Math")]));
    }
}

backend_test! {
    /// Ports `SavepointTest::test_savepoint_commit_collections`.
    fn savepoint_commit_collections(t) {
        let mut s = t.db.session();
        let (alice, _) = collections_start(&mut s);
        s.transaction(|s| {
            s[alice].name = "Алиса".into();
            let art = s.add(course("Art"));
            s.link(Student::courses(), alice, art);
            s.savepoint(|s| {
                let bob = s.add(student("Bob"));
                let chem = s.add(course("化学"));
                s.link(Student::courses(), bob, chem);
                s.flush()
            })?;
            assert_eq!(courses_of(s, alice), ["Math", "Art"]);
            Ok::<_, Error>(())
        })
        .unwrap();
        let c = contents(&t.db);
        assert_eq!(c.students, ["Bob", "Алиса"]);
        assert_eq!(
            c.pairs,
            pairs(&[("Bob", "化学"), ("Алиса", "Art"), ("Алиса", "Math")])
        );
    }
}

backend_test! {
    /// Ports `SavepointTest::test_expunge_pending_on_rollback` and
    /// `SavepointTest::test_update_deleted_on_rollback`.
    fn a_failed_savepoint_detaches_its_new_objects_and_restores_its_deletes(t) {
        let mut s = t.db.session();
        let ed = s.add(student("ed"));
        s.commit().unwrap();
        s.transaction(|s| {
            let mut newuser = None;
            let r = s.savepoint(|s| {
                newuser = Some(s.add(student("newuser")));
                s.delete(ed);
                assert_eq!(s.state(ed), ObjectState::Deleted);
                Err::<(), _>(AppError::Refused("undo"))
            });
            assert!(r.is_err());
            assert_eq!(s.state(newuser.unwrap()), ObjectState::Detached);
            assert_eq!(s.state(ed), ObjectState::Persistent);
            Ok::<_, AppError>(())
        })
        .unwrap();
        assert_eq!(committed_names(&t.db), ["ed"]);
    }
}

backend_test! {
    /// Ports `SessionTransactionTest::test_nested_accounting_new_items_removed`. relata keeps
    /// the changes of a failed outermost block pending (SQLAlchemy expunges them): the object is
    /// new again, and nothing reached the database.
    fn a_failed_outer_block_makes_what_its_savepoints_flushed_pending_again(t) {
        let mut s = t.db.session();
        let mut u1 = None;
        let r = s.transaction(|s| {
            s.savepoint(|s| {
                let k = s.add(student("u1"));
                s.flush()?;
                assert!(s.id(k).is_some());
                u1 = Some(k);
                Ok::<_, AppError>(())
            })?;
            assert_eq!(s.state(u1.unwrap()), ObjectState::Persistent);
            Err::<(), _>(AppError::Refused("outer fails"))
        });
        assert!(r.is_err());
        let u1 = u1.unwrap();
        assert_eq!(s.state(u1), ObjectState::New);
        assert_eq!(s.id(u1), None);
        assert!(committed_names(&t.db).is_empty());
        s.commit().unwrap();
        assert_eq!(committed_names(&t.db), ["u1"]);
    }
}

backend_test! {
    /// Ports `SessionTransactionTest::test_nested_accounting_deleted_items_restored`: a delete
    /// flushed in a released savepoint is undone with the outer block (pending again, as
    /// relata keeps a failed block's changes; `rollback()` drops it).
    fn a_delete_flushed_in_a_savepoint_comes_back_with_the_outer_rollback(t) {
        let mut s = t.db.session();
        s.add(student("u1"));
        s.commit().unwrap();
        let mut s = t.db.session();
        let mut u1 = None;
        let r = s.transaction(|s| {
            let k = s.query::<Student>().first()?.expect("u1");
            u1 = Some(k);
            s.savepoint(|s| {
                s.delete(k);
                s.flush()
            })?;
            assert_eq!(s.state(k), ObjectState::Detached);
            Err::<(), _>(AppError::Refused("outer fails"))
        });
        assert!(r.is_err());
        let u1 = u1.unwrap();
        assert_eq!(s.state(u1), ObjectState::Deleted);
        s.rollback();
        assert_eq!(s.state(u1), ObjectState::Persistent);
        assert_eq!(s.find::<Student>(s.id(u1).unwrap()).unwrap(), Some(u1));
        assert_eq!(committed_names(&t.db), ["u1"]);
    }
}

backend_test! {
    /// Ports `SessionTransactionTest::test_dirty_state_transferred_deep_nesting`: a change
    /// flushed in an inner savepoint that was released is undone when the outer savepoint
    /// rolls back.
    fn deep_nesting_rolls_back_what_an_inner_savepoint_flushed(t) {
        let mut s = t.db.session();
        let u1 = s.add(student("u1"));
        s.commit().unwrap();
        s.transaction(|s| {
            let r = s.savepoint(|s| {
                s.savepoint(|s| {
                    s[u1].name = "u2".into();
                    s.flush()
                })?;
                assert_eq!(s.state(u1), ObjectState::Persistent);
                Err::<(), _>(AppError::Refused("nt1 rolls back"))
            });
            assert!(r.is_err());
            assert_eq!(s[u1].name, "u1");
            assert_eq!(s.state(u1), ObjectState::Persistent);
            assert_eq!(names_by_id(s), ["u1"]);
            Ok::<_, AppError>(())
        })
        .unwrap();
        assert_eq!(committed_names(&t.db), ["u1"]);
    }
}

backend_test! {
    /// Ports `SessionTransactionTest::test_transactions_isolated`: what a block flushed is not
    /// seen by another session until the block commits.
    fn a_flush_is_not_seen_by_other_sessions(t) {
        if t.backend == "memory" {
            return; // one connection: another session would wait for the block
        }
        let mut s = t.db.session();
        s.transaction(|s| {
            s.add(student("u1"));
            s.flush()?;
            assert!(committed_names(&t.db).is_empty());
            Ok::<_, Error>(())
        })
        .unwrap();
        assert_eq!(committed_names(&t.db), ["u1"]);
    }
}

backend_test! {
    /// Ports `RollbackRecoverTest::test_pk_violation_with_savepoint`: a primary key taken
    /// twice fails the savepoint's flush; rolling the savepoint back leaves the outer block's
    /// changes, which then commit.
    fn a_primary_key_violation_in_a_savepoint_leaves_the_outer_work(t) {
        let mut s = t.db.session();
        let u1 = s.add(Student { id: Some(1), name: "ed".into() });
        s.commit().unwrap();
        let mut u2 = None;
        s.transaction(|s| {
            s[u1].name = "edward".into();
            let r = s.savepoint(|s| {
                u2 = Some(s.add(Student { id: Some(1), name: "jack".into() }));
                s.flush()
            });
            match r {
                Err(Error::Constraint { kind, .. }) => assert_eq!(kind, ConstraintKind::PrimaryKey),
                other => panic!("expected a primary key violation, got {other:?}"),
            }
            Ok::<_, Error>(())
        })
        .unwrap();
        assert_eq!(s.state(u2.unwrap()), ObjectState::Detached);
        assert_eq!(s.state(u1), ObjectState::Persistent);
        assert_eq!(committed_names(&t.db), ["edward"]);
    }
}

backend_test! {
    /// Ports `SessionTransactionTest::test_preserve_flush_error`: a failed flush reports its
    /// error, writes nothing, leaves the session as it was, and the block goes on.
    fn a_failed_flush_changes_nothing_and_the_block_goes_on(t) {
        let mut s = t.db.session();
        s.add(Student { id: Some(7), name: "ed".into() });
        s.commit().unwrap();
        s.transaction(|s| {
            let ok = s.add(student("wendy"));
            s.flush()?;
            let dup = s.add(Student { id: Some(7), name: "jack".into() });
            let e = s.flush().unwrap_err();
            assert!(matches!(e, Error::Constraint { .. }), "{e}");
            assert_eq!(s.state(dup), ObjectState::New);
            assert_eq!(s.state(ok), ObjectState::Persistent);
            // The same error again until the cause is fixed; then it flushes.
            assert!(s.flush().is_err());
            s[dup].id = Some(100);
            s.flush()?;
            assert_eq!(s.query::<Student>().count()?, 3);
            Ok::<_, Error>(())
        })
        .unwrap();
        assert_eq!(committed_names(&t.db), ["ed", "jack", "wendy"]);
    }
}

backend_test! {
    /// A read-only block writes nothing: a flush with changes is `Error::ReadOnly`.
    fn flush_in_a_read_only_block_is_an_error(t) {
        let mut s = t.db.session();
        let k = s.add(student("ed"));
        let r = s.transaction_with(TxOptions::new().read_only(), |s| s.flush());
        assert!(matches!(r, Err(Error::ReadOnly)), "{r:?}");
        assert_eq!(s.state(k), ObjectState::New);
        s.commit().unwrap();
        assert_eq!(committed_names(&t.db), ["ed"]);
    }
}

backend_test! {
    /// Ports `AutoExpireTest::test_expunge_pending_on_rollback` and
    /// `test_trans_pending_cleared_on_commit`, with a flush: outside a block, a flush begins a
    /// transaction the session holds until `commit()` (which lands it) or `rollback()` (which
    /// discards everything, flushed or not).
    fn a_flush_outside_a_block_begins_a_transaction_until_commit_or_rollback(t) {
        let mut s = t.db.session();
        let u2 = s.add(student("newuser"));
        assert!(!s.in_transaction());
        s.flush().unwrap();
        assert!(s.in_transaction());
        assert!(s.id(u2).is_some(), "the flush gave it its id");
        assert_eq!(names_by_id(&mut s), ["newuser"], "the session's reads see it");
        if t.backend != "memory" {
            assert!(committed_names(&t.db).is_empty(), "other sessions do not");
        }
        s.rollback();
        assert!(!s.in_transaction());
        assert_eq!(s.state(u2), ObjectState::Detached);
        assert!(committed_names(&t.db).is_empty());

        let u2 = s.add(student("newuser"));
        s.flush().unwrap();
        s.commit().unwrap();
        assert_eq!(s.state(u2), ObjectState::Persistent);
        let u3 = s.add(student("anotheruser"));
        s.flush().unwrap();
        s.rollback();
        assert_eq!(s.state(u3), ObjectState::Detached);
        assert_eq!(s.state(u2), ObjectState::Persistent);
        assert_eq!(committed_names(&t.db), ["newuser"]);
    }
}

backend_test! {
    /// Ports `AutoExpireTest::test_update_deleted_on_rollback`, with a flush: a delete flushed
    /// outside a block and rolled back is undone in the database and the session.
    fn a_flushed_delete_rolled_back_is_undone(t) {
        let mut s = t.db.session();
        let u1 = s.add(student("ed"));
        s.commit().unwrap();
        s.delete(u1);
        s.flush().unwrap();
        assert_eq!(s.state(u1), ObjectState::Detached);
        s.rollback();
        assert_eq!(s.state(u1), ObjectState::Persistent);
        assert_eq!(s.find::<Student>(s.id(u1).unwrap()).unwrap(), Some(u1));
        assert_eq!(committed_names(&t.db), ["ed"]);
    }
}

backend_test! {
    /// A block after a flush outside any block takes the flush's transaction over and commits
    /// it; a failed first flush holds no transaction; a savepoint joins the flush's transaction.
    fn a_block_takes_over_a_flushs_transaction(t) {
        let mut s = t.db.session();
        s.add(student("Алиса"));
        s.flush().unwrap();
        s.transaction(|s| {
            s.add(student("张伟"));
            Ok::<_, Error>(())
        })
        .unwrap();
        assert_eq!(committed_names(&t.db), ["Алиса", "张伟"]);

        s.add(Student { id: Some(1), name: "duplicate key".into() });
        assert!(matches!(s.flush(), Err(Error::Constraint { .. })));
        // No transaction is held: another session writes at once.
        let mut other = t.db.session();
        other.add(student("Bob"));
        other.commit().unwrap();
        s.rollback();

        s.add(student("Carol"));
        s.flush().unwrap();
        let r = s.savepoint(|s| {
            s.add(student("Dave"));
            s.flush()?;
            Err::<(), _>(AppError::Refused("not Dave"))
        });
        assert!(r.is_err());
        s.commit().unwrap();
        assert_eq!(committed_names(&t.db), ["Bob", "Carol", "Алиса", "张伟"]);
    }
}

backend_test! {
    /// Autoflush is off by default; on, a block's queries see its pending changes, and the
    /// statements are the flush's plus the query's. Outside a block it changes nothing.
    fn autoflush_makes_a_blocks_queries_see_its_changes(t) {
        let mut s = t.db.session();
        s.transaction(|s| {
            s.add(student("Алиса"));
            assert_eq!(s.query::<Student>().count()?, 0);
            s.set_autoflush(true);
            let before = s.statements_run();
            assert_eq!(s.query::<Student>().filter(Student::NAME.eq("Алиса")).count()?, 1);
            // SAVEPOINT, INSERT, RELEASE, then the count.
            assert_eq!(s.statements_run() - before, 4);
            let before = s.statements_run();
            assert_eq!(s.query::<Student>().count()?, 1);
            assert_eq!(s.statements_run() - before, 1, "nothing pending, nothing flushed");
            Ok::<_, Error>(())
        })
        .unwrap();
        s.add(student("张伟"));
        assert_eq!(s.query::<Student>().count().unwrap(), 1, "outside a block: as before");
        s.commit().unwrap();
        assert_eq!(committed_names(&t.db), ["Алиса", "张伟"]);
    }
}

backend_test! {
    /// A panic inside a savepoint rolls it back as it leaves; the outer block was still
    /// unwound by the panic, so nothing lands, and the session runs blocks again.
    fn a_panic_inside_a_savepoint_rolls_it_back(t) {
        let mut s = t.db.session();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = s.transaction(|s| {
                s.add(student("Alice"));
                s.savepoint(|s| {
                    s.add(student("Bob"));
                    s.flush()?;
                    panic!("the application panicked inside the savepoint");
                    #[allow(unreachable_code)]
                    Ok::<_, Error>(())
                })
            });
        }));
        assert!(caught.is_err());
        assert!(committed_names(&t.db).is_empty());
        // Alice was flushed by the savepoint's start, and is pending again; Bob is gone.
        s.commit().unwrap();
        assert_eq!(committed_names(&t.db), ["Alice"]);
    }
}

backend_test! {
    /// Links flushed then undone: a savepoint that unlinks a committed pair and links another,
    /// flushed and rolled back, leaves both collections as they were before it.
    fn links_flushed_in_a_failed_savepoint_are_undone_on_both_sides(t) {
        let mut s = t.db.session();
        let (alice, math) = collections_start(&mut s);
        let art = s.add(course("Art"));
        s.commit().unwrap();
        s.transaction(|s| {
            assert_eq!(courses_of(s, alice), ["Math"]);
            let r = s.savepoint(|s| {
                s.unlink(Student::courses(), alice, math);
                s.link(Student::courses(), alice, art);
                s.flush()?;
                assert_eq!(courses_of(s, alice), ["Art"]);
                assert!(s.related(Course::students(), math)?.is_empty());
                Err::<(), _>(AppError::Refused("undo"))
            });
            assert!(r.is_err());
            assert_eq!(courses_of(s, alice), ["Math"]);
            assert_eq!(s.related(Course::students(), math)?, vec![alice]);
            assert!(s.related(Course::students(), art)?.is_empty());
            assert!(!s.has_changes());
            Ok::<_, AppError>(())
        })
        .unwrap();
        assert_eq!(contents(&t.db).pairs, pairs(&[("Alice", "Math")]));
    }
}
