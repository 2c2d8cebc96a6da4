//! Concurrent sessions on the server backends: two sessions linking one pair at once, sessions on
//! several threads sharing a pool of connections, and serialization failures on PostgreSQL.
//!
//! Each test opens its own isolated database (a PostgreSQL schema or a MySQL database) and is
//! skipped when `RELATA_TEST_POSTGRES` / `RELATA_TEST_MYSQL` is unset.

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use relata::{Database, Error, Result, Session};

// ---------------------------------------------------------------------------------------------
// 2. Two sessions linking one pair at once
// ---------------------------------------------------------------------------------------------

/// What one of two racing sessions saw: every commit it tried (retrying after retryable errors,
/// at most 6 in all), and whether it sees the pair linked afterwards.
struct RaceOutcome {
    commits: Vec<Result<()>>,
    linked: bool,
}

/// Two sessions on two threads link the same pair and commit at the same moment, 20 times over
/// with fresh pairs: each commit is `Ok` (the loser's insert is a no-op) or a retryable error
/// that a retry resolves, nothing panics, and the database ends with exactly one row for the pair.
fn racing_links_of_one_pair_leave_one_row(t: &TestDb) {
    const ROUNDS: usize = 20;
    let mut retried = 0;
    for round in 0..ROUNDS {
        let (sid, cid) = {
            let mut s = t.db.session();
            let st = s.add(student(&format!("racer {round:02}")));
            let co = s.add(course(&format!("race {round:02}")));
            s.commit().unwrap();
            (s.id(st).unwrap(), s.id(co).unwrap())
        };
        let barrier = Barrier::new(2);
        let outcomes: Vec<RaceOutcome> = thread::scope(|scope| {
            let racers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        let mut s = t.db.session();
                        let st = s.find::<Student>(sid).unwrap().expect("the student");
                        let co = s.find::<Course>(cid).unwrap().expect("the course");
                        assert!(s.link(Student::courses(), st, co));
                        barrier.wait();
                        let mut commits = vec![s.commit()];
                        while let Some(Err(e)) = commits.last() {
                            if !e.is_retryable() || commits.len() == 6 {
                                break;
                            }
                            commits.push(s.commit());
                        }
                        let linked = s.contains(Student::courses(), st, co).unwrap_or(false);
                        RaceOutcome { commits, linked }
                    })
                })
                .collect();
            racers
                .into_iter()
                .map(|h| h.join().expect("a racing session panicked"))
                .collect()
        });
        for o in &outcomes {
            let (last, earlier) = o.commits.split_last().expect("at least one commit");
            for e in earlier.iter().filter_map(|r| r.as_ref().err()) {
                assert!(e.is_retryable(), "round {round}: {e:?}");
                retried += 1;
            }
            if let Err(e) = last {
                panic!("round {round}: the commit ended with {e:?} (retryable errors are retried)");
            }
            assert!(o.linked, "round {round}: the session sees its link");
        }
        // Exactly one row, seen from both sides by a fresh session.
        let mut fresh = t.db.session();
        let st = fresh.find::<Student>(sid).unwrap().unwrap();
        let co = fresh.find::<Course>(cid).unwrap().unwrap();
        assert_eq!(fresh.related(Student::courses(), st).unwrap(), [co]);
        assert_eq!(fresh.related(Course::students(), co).unwrap(), [st]);
        assert_eq!(
            fresh
                .query::<Student>()
                .filter(
                    Student::courses().any(Course::TITLE.eq(format!("race {round:02}").as_str()))
                )
                .count()
                .unwrap(),
            1
        );
    }
    let c = contents(&t.db);
    assert_eq!(c.pairs.len(), ROUNDS, "one pair a round: {:?}", c.pairs);
    eprintln!(
        "{}: {retried} of {} commits needed a retry",
        t.backend,
        2 * ROUNDS
    );
}

/// PostgreSQL: racing links of one pair leave one row; every commit succeeds or is retryable.
#[test]
#[cfg_attr(
    relata_skip_postgres,
    ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)"
)]
fn postgres_two_sessions_linking_one_pair_at_once_leave_one_row() {
    let Some(t) = open_with("postgres", &school()) else {
        return;
    };
    racing_links_of_one_pair_leave_one_row(&t);
}

/// MySQL/MariaDB: racing links of one pair leave one row; every commit succeeds or is retryable.
#[test]
#[cfg_attr(
    relata_skip_mysql,
    ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)"
)]
fn mysql_two_sessions_linking_one_pair_at_once_leave_one_row() {
    let Some(t) = open_with("mysql", &school()) else {
        return;
    };
    racing_links_of_one_pair_leave_one_row(&t);
}

// ---------------------------------------------------------------------------------------------
// 3. Sessions on several threads work at once
// ---------------------------------------------------------------------------------------------

/// While session A holds a transaction block open (it has read inside it and waits), session B
/// on another thread commits and reads without waiting for A: the pool gives B a connection of
/// its own. B sees its own commit but not A's pending work; A ends after B, and commits.
fn a_session_does_not_wait_for_another_sessions_block(t: &TestDb) {
    seed_committed(&t.db);
    let inside = &AtomicBool::new(false);
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (a, b) = thread::scope(|scope| {
        let a = scope.spawn(move || {
            let mut s = t.db.session();
            s.transaction(|s| {
                s.add(student("From A"));
                let seen = s.query::<Student>().count()?;
                inside.store(true, Ordering::SeqCst);
                started_tx.send(()).unwrap();
                // Wait for B; B blocked on A would make this time out.
                let b_done = done_rx.recv_timeout(Duration::from_secs(30));
                inside.store(false, Ordering::SeqCst);
                Ok::<_, relata::Error>((seen, b_done.is_ok()))
            })
        });
        let b = scope.spawn(move || {
            started_rx
                .recv_timeout(Duration::from_secs(30))
                .expect("A entered its block");
            let began = Instant::now();
            let mut s = t.db.session();
            let k = s.add(student("From B"));
            let committed = s.commit();
            let names = s
                .query::<Student>()
                .order_by(Student::NAME.asc())
                .all()
                .map(|ks| names(&s, &ks));
            let id = s.id(k);
            let a_was_inside = inside.load(Ordering::SeqCst);
            let took = began.elapsed();
            done_tx.send(()).unwrap();
            (committed, names, id, a_was_inside, took)
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    let (committed, names, id, a_was_inside, took) = b;
    committed.expect("B's commit");
    assert!(id.is_some());
    assert_eq!(
        names.expect("B's read"),
        ["Alice", "Bob", "From B"],
        "B reads its own commit, not A's pending work"
    );
    assert!(a_was_inside, "B finished while A was inside its block");
    assert!(
        took < Duration::from_secs(3),
        "B did not wait for A: {took:?}"
    );
    let (seen, a_saw_b_finish) = a.expect("A's block commits");
    assert_eq!(seen, 2, "A read inside its block before B wrote");
    assert!(a_saw_b_finish, "B finished before A left its block");
    assert_eq!(
        contents(&t.db).students,
        ["Alice", "Bob", "From A", "From B"]
    );
}

/// PostgreSQL: a session is not held up by another session's open transaction block.
#[test]
#[cfg_attr(
    relata_skip_postgres,
    ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)"
)]
fn postgres_a_session_does_not_wait_for_another_sessions_transaction_block() {
    let Some(t) = open_with("postgres", &school()) else {
        return;
    };
    a_session_does_not_wait_for_another_sessions_block(&t);
}

/// MySQL/MariaDB: a session is not held up by another session's open transaction block.
#[test]
#[cfg_attr(
    relata_skip_mysql,
    ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)"
)]
fn mysql_a_session_does_not_wait_for_another_sessions_transaction_block() {
    let Some(t) = open_with("mysql", &school()) else {
        return;
    };
    a_session_does_not_wait_for_another_sessions_block(&t);
}

// ---------------------------------------------------------------------------------------------
// 7. Serialization failures on PostgreSQL
// ---------------------------------------------------------------------------------------------

/// One attempt of the write-skew race: each session counts the students inside a transaction
/// block, waits for the other to have counted too, then adds one. Returns each block's result.
fn write_skew_round(sessions: &mut [Session; 2], round: usize) -> [Result<u64>; 2] {
    let barrier = Barrier::new(2);
    let [a, b] = sessions;
    thread::scope(|scope| {
        let ha = scope.spawn(|| count_then_add(a, &barrier, "a", round));
        let hb = scope.spawn(|| count_then_add(b, &barrier, "b", round));
        [
            ha.join().expect("session a panicked"),
            hb.join().expect("session b panicked"),
        ]
    })
}

/// A transaction block that counts the students, waits at `barrier`, then adds one.
fn count_then_add(s: &mut Session, barrier: &Barrier, who: &str, round: usize) -> Result<u64> {
    s.transaction(|s| {
        let n = s.query::<Student>().count()?;
        barrier.wait();
        s.add(student(&format!("{who} {round} saw {n}")));
        Ok(n)
    })
}

/// With `default_transaction_isolation=serializable` in the URL's libpq options, two blocks that
/// each count the students and insert one (write skew) cannot both commit: one fails with
/// `Error::Conflict`, which is retryable; running the failed block again (after discarding its
/// pending insert) succeeds, and both students are there, once each.
#[test]
#[cfg_attr(
    relata_skip_postgres,
    ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)"
)]
fn postgres_a_serialization_failure_is_a_retryable_conflict() {
    let Some(t) = open_with("postgres", &school()) else {
        return;
    };
    assert!(t.url.contains("?options="), "{}", t.url);
    let url = t.url.replacen(
        "options=",
        "options=-c%20default_transaction_isolation%3Dserializable%20",
        1,
    );
    let db = Database::open(&url).unwrap();
    seed_committed(&db);

    let mut sessions = [db.session(), db.session()];
    let mut conflicts = 0;
    let mut expected = 2; // the seed
    for round in 0..10 {
        let results = write_skew_round(&mut sessions, round);
        let before_round = expected;
        for n in results.iter().flatten() {
            assert_eq!(
                *n, before_round,
                "both blocks counted before either inserted"
            );
        }
        expected += results.iter().filter(|r| r.is_ok()).count() as u64;
        // Nothing of a failed block landed.
        assert_eq!(db.session().query::<Student>().count().unwrap(), expected);
        for (s, result) in sessions.iter_mut().zip(results) {
            let Err(err) = result else { continue };
            assert!(
                matches!(err, Error::Conflict { .. }),
                "expected a serialization failure, got {err:?}"
            );
            assert!(err.is_retryable(), "{err:?}");
            let msg = err.to_string();
            assert!(msg.contains("run it again"), "{msg}");
            conflicts += 1;
            // The failed block's insert is still pending: discard it and run the block again.
            assert!(s.has_changes());
            s.rollback();
            let mut retried = None;
            for _ in 0..5 {
                match s.transaction(|s| {
                    let n = s.query::<Student>().count()?;
                    s.add(student(&format!("retry {round} saw {n}")));
                    Ok::<_, relata::Error>(n)
                }) {
                    Ok(n) => {
                        retried = Some(n);
                        break;
                    }
                    Err(e) if e.is_retryable() => s.rollback(),
                    Err(e) => panic!("retry failed: {e:?}"),
                }
            }
            let n = retried.expect("the retry commits");
            assert_eq!(n, expected, "the retry sees the winner's row");
            expected += 1;
        }
        assert_eq!(db.session().query::<Student>().count().unwrap(), expected);
        if conflicts > 0 {
            break;
        }
    }
    assert!(
        conflicts > 0,
        "no serialization failure in 10 rounds of write skew"
    );
    let names = contents(&t.db).students;
    assert_eq!(names.len() as u64, expected);
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "each row once: {names:?}");
}
