//! Two sessions changing the same pairs: a session that saw a pair in the database and unlinks
//! it, or saw it absent and links it, must not report success when another session got there
//! first (issue 12: two clerks enrolling the same student in the same course both printed
//! success). On every backend: first the interleavings one at a time, then real races on
//! threads.

#[macro_use]
mod common;

use std::sync::Barrier;
use std::thread;

use common::*;
use relata::{ConstraintKind, Database, Error, Result};

/// Ports SQLAlchemy's `test/orm/test_manytomany.py::M2MTest::test_stale_conditions` (its DELETE
/// half): a session loads a collection, the association row is deleted behind its back, and
/// removing the member then fails with a stale-data error instead of reporting success.
fn unlinking_a_pair_another_session_unlinked_is_stale(t: &TestDb) {
    seed_committed(&t.db);
    let mut a = t.db.session();
    let alice = student_named(&mut a, "Alice");
    let math = course_titled(&mut a, "Math");
    assert_eq!(courses_of(&mut a, alice), ["Math", "Science"]);

    let mut b = t.db.session();
    let (b_alice, b_math) = (
        student_named(&mut b, "Alice"),
        course_titled(&mut b, "Math"),
    );
    assert!(b.unlink(relata_courses(), b_alice, b_math));
    b.commit().unwrap();

    assert!(a.unlink(relata_courses(), alice, math));
    let bob = student_named(&mut a, "Bob");
    a[bob].name = "Robert".into();
    let err = a.commit().unwrap_err();
    match &err {
        Error::Stale {
            statement,
            table,
            key,
            expected,
            matched,
        } => {
            assert_eq!((*statement, table.as_str()), ("DELETE", "student_course"));
            assert_eq!((*expected, *matched), (1, 0), "{err}");
            let (sid, cid) = (a.id(alice).unwrap(), a.id(math).unwrap());
            assert_eq!(
                key,
                &format!("student_course(student_id = {sid}, course_id = {cid})")
            );
        }
        other => panic!("expected Error::Stale, got {other:?}"),
    }
    assert!(!err.is_retryable(), "{err}");
    assert!(
        err.to_string().contains("no longer in the database"),
        "{err}"
    );
    // Nothing of the commit landed (Bob keeps his name), and the session keeps its changes.
    let c = contents(&t.db);
    assert_eq!(c.students, ["Alice", "Bob"]);
    assert_eq!(c.pairs, pairs(&[("Alice", "Science"), ("Bob", "Math")]));
    assert!(a.has_changes());
    // Rolled back, the session reads the truth again and can go on.
    a.rollback();
    let mut fresh = t.db.session();
    let alice = student_named(&mut fresh, "Alice");
    assert_eq!(courses_of(&mut fresh, alice), ["Science"]);
}

backend_test! {
    fn a_stale_unlink_is_an_error_and_writes_nothing(t) {
        unlinking_a_pair_another_session_unlinked_is_stale(t);
    }
}

backend_test! {
    /// Several unlinks in one commit, one of them stale: the error names exactly that pair (a
    /// batched delete on the servers, whose `RETURNING` says which rows it found).
    fn a_stale_pair_in_a_batch_of_unlinks_is_named(t) {
        let mut s = t.db.session();
        let alice = s.add(student("Alice"));
        let titles = ["Art", "Biology", "Chemistry", "Drama"];
        let courses: Vec<_> = titles.iter().map(|&c| s.add(course(c))).collect();
        s.extend(relata_courses(), alice, courses.iter().copied());
        s.commit().unwrap();
        let mut a = t.db.session();
        let alice = student_named(&mut a, "Alice");
        assert_eq!(courses_of(&mut a, alice), titles);

        let mut b = t.db.session();
        let (b_alice, b_chem) = (student_named(&mut b, "Alice"), course_titled(&mut b, "Chemistry"));
        b.unlink(relata_courses(), b_alice, b_chem);
        b.commit().unwrap();

        assert_eq!(a.clear(relata_courses(), alice).unwrap(), 4);
        let chem = course_titled(&mut a, "Chemistry");
        let err = a.commit().unwrap_err();
        let Error::Stale { key, expected, matched, .. } = &err else {
            panic!("expected Error::Stale, got {err:?}");
        };
        assert_eq!((*expected, *matched), (4, 3), "{err}");
        assert_eq!(
            key,
            &format!(
                "student_course(student_id = {}, course_id = {})",
                a.id(alice).unwrap(),
                a.id(chem).unwrap()
            )
        );
        // The three other pairs are still there: the whole commit was rolled back.
        let c = contents(&t.db);
        assert_eq!(c.pairs, pairs(&[("Alice", "Art"), ("Alice", "Biology"), ("Alice", "Drama")]));
    }
}

backend_test! {
    /// A session that loaded a collection knows a pair is absent and links it with a plain
    /// INSERT: when another session linked it meanwhile, the primary key rejects the row and the
    /// commit fails (SQLAlchemy raises `IntegrityError` the same way), instead of reporting a
    /// link it did not make.
    fn linking_a_pair_another_session_linked_fails_on_the_primary_key(t) {
        seed_committed(&t.db);
        let mut a = t.db.session();
        let bob = student_named(&mut a, "Bob");
        let science = course_titled(&mut a, "Science");
        assert_eq!(courses_of(&mut a, bob), ["Math"]);

        let mut b = t.db.session();
        let (b_bob, b_science) = (student_named(&mut b, "Bob"), course_titled(&mut b, "Science"));
        assert!(b.link(relata_courses(), b_bob, b_science));
        b.commit().unwrap();

        assert!(a.link(relata_courses(), bob, science));
        let err = a.commit().unwrap_err();
        match &err {
            Error::Constraint { kind, table, row, .. } => {
                assert!(
                    matches!(kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique),
                    "{err:?}"
                );
                assert_eq!(table, "student_course", "{err:?}");
                let (sid, cid) = (a.id(bob).unwrap(), a.id(science).unwrap());
                assert_eq!(
                    row.as_deref(),
                    Some(format!("student_course(student_id = {sid}, course_id = {cid})").as_str()),
                    "{err}"
                );
            }
            other => panic!("expected a PRIMARY KEY violation, got {other:?}"),
        }
        assert_eq!(
            contents(&t.db).pairs,
            pairs(&[("Alice", "Math"), ("Alice", "Science"), ("Bob", "Math"), ("Bob", "Science")])
        );
        assert!(a.has_changes(), "the session keeps its link");
    }
}

backend_test! {
    /// Ports SQLAlchemy's `test/orm/test_backref_mutations.py::M2MCollectionMoveTest::
    /// test_duplicate_adds`: adding a member the loaded collection already holds writes nothing.
    fn linking_a_pair_a_loaded_collection_holds_writes_nothing(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        let alice = student_named(&mut s, "Alice");
        let math = course_titled(&mut s, "Math");
        assert_eq!(courses_of(&mut s, alice), ["Math", "Science"]);
        for _ in 0..3 {
            assert!(!s.link(relata_courses(), alice, math));
        }
        assert!(!s.has_changes());
        let before = s.statements_run();
        s.commit().unwrap();
        assert_eq!(s.statements_run(), before, "nothing to write");
        assert_eq!(courses_of(&mut s, alice), ["Math", "Science"]);
    }
}

/// The relation the tests change: a student's courses.
fn relata_courses() -> relata::Relation<Student, Course> {
    Student::courses()
}

/// What one racer's commit did.
#[derive(Debug)]
enum Outcome {
    Committed,
    /// The database or relata refused the commit because another session got there first.
    Refused(Error),
}

/// Classifies a commit: success, or an error that says another session got there first (a
/// duplicate pair, a stale pair, or a serialization conflict). Anything else fails the test.
fn outcome(round: usize, result: Result<()>) -> Outcome {
    match result {
        Ok(()) => Outcome::Committed,
        Err(e @ Error::Stale { .. })
        | Err(e @ Error::Conflict { .. })
        | Err(
            e @ Error::Constraint {
                kind: ConstraintKind::PrimaryKey | ConstraintKind::Unique,
                ..
            },
        ) => Outcome::Refused(e),
        Err(other) => panic!("round {round}: unexpected error {other:?}"),
    }
}

/// Two sessions on two threads that both loaded a student's courses link (or unlink) the same
/// pair and commit at the same moment, 20 times over: exactly one commit succeeds, the other is
/// refused, and the database holds the pair exactly when linking won.
fn racing_changes_of_a_seen_pair_have_one_winner(db: &Database, link: bool) {
    const ROUNDS: usize = 20;
    for round in 0..ROUNDS {
        let (sid, cid) = {
            let mut s = db.session();
            let st = s.add(student(&format!("racer {round:02}")));
            let co = s.add(course(&format!("race {round:02}")));
            if !link {
                s.link(relata_courses(), st, co);
            }
            s.commit().unwrap();
            (s.id(st).unwrap(), s.id(co).unwrap())
        };
        let barrier = Barrier::new(2);
        let outcomes: Vec<Outcome> = thread::scope(|scope| {
            let racers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        let mut s = db.session();
                        let st = s.find::<Student>(sid).unwrap().expect("the student");
                        let co = s.find::<Course>(cid).unwrap().expect("the course");
                        // The session sees the pair's state: it loads the collection.
                        assert_eq!(s.contains(relata_courses(), st, co).unwrap(), !link);
                        let changed = if link {
                            s.link(relata_courses(), st, co)
                        } else {
                            s.unlink(relata_courses(), st, co)
                        };
                        assert!(changed);
                        barrier.wait();
                        outcome(round, s.commit())
                    })
                })
                .collect();
            racers
                .into_iter()
                .map(|h| h.join().expect("a racing session panicked"))
                .collect()
        });
        let won = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Committed))
            .count();
        assert_eq!(won, 1, "round {round}: exactly one winner: {outcomes:?}");
        for o in &outcomes {
            if let Outcome::Refused(e) = o {
                // The message says what happened: the pair, or a conflict to run again.
                let msg = e.to_string();
                assert!(
                    msg.contains("student_course") || msg.contains("run it again"),
                    "round {round}: {msg}"
                );
            }
        }
        let mut fresh = db.session();
        let st = fresh.find::<Student>(sid).unwrap().unwrap();
        let co = fresh.find::<Course>(cid).unwrap().unwrap();
        assert_eq!(fresh.contains(relata_courses(), st, co).unwrap(), link);
    }
}

backend_test! {
    /// Issue 12, item 1, in the library: two sessions that saw a pair absent link it at once.
    fn racing_links_of_a_seen_pair_have_one_winner(t) {
        racing_changes_of_a_seen_pair_have_one_winner(&t.db, true);
    }
}

backend_test! {
    /// Issue 12, item 1, in the library: two sessions that saw a pair unlink it at once.
    fn racing_unlinks_of_a_seen_pair_have_one_winner(t) {
        racing_changes_of_a_seen_pair_have_one_winner(&t.db, false);
    }
}
