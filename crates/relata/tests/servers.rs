//! Tests of what only the server backends (PostgreSQL, MySQL/MariaDB) can get wrong: aborted
//! transactions, concurrent sessions on a pool of connections, isolation conflicts, strict mode,
//! generated keys without `RETURNING`, identity sequences, unreachable servers and Unicode text.
//!
//! Each test opens its own isolated database (a PostgreSQL schema or a MySQL database) and is
//! skipped when `RELATA_TEST_POSTGRES` / `RELATA_TEST_MYSQL` is unset. Two checks that every
//! backend must pass (Unicode ordering, explicit ids mixed with generated ones in one commit) are
//! `backend_test!`s and run on SQLite too.

#[macro_use]
mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use relata::{
    schema, Association, ConstraintKind, Database, Error, Key, Model, ObjectState, Result, Schema,
    Session,
};

// ---------------------------------------------------------------------------------------------
// Extra models and helpers
// ---------------------------------------------------------------------------------------------

/// A model with a UNIQUE text column: `VARCHAR(768)` on MySQL, linked to students.
#[derive(Model, Debug, Clone)]
#[relata(table = "tags")]
pub struct Tag {
    #[relata(primary_key)]
    pub id: Option<i64>,
    #[relata(unique)]
    pub label: String,
}

fn tag(label: &str) -> Tag {
    Tag {
        id: None,
        label: label.into(),
    }
}

#[derive(Association)]
#[relata(table = "student_tag")]
pub struct StudentTag {
    #[relata(references = Student, relation = "tags")]
    pub student_id: i64,
    #[relata(references = Tag, relation = "students")]
    pub tag_id: i64,
}

/// The seed schema plus tags.
fn tagged_school() -> Schema {
    schema![Student, Course, StudentCourse, Tag, StudentTag]
}

/// Every tag's label, in order, read through a new session.
fn tag_labels(db: &Database) -> Vec<String> {
    let mut s = db.session();
    let ks = s.query::<Tag>().order_by(Tag::LABEL.asc()).all().unwrap();
    ks.iter().map(|&k| s[k].label.clone()).collect()
}

/// The labels of a student's tags, in the collection's order.
fn tags_of(s: &mut Session, k: Key<Student>) -> Vec<String> {
    let ks = s.related(Student::tags(), k).expect("related tags");
    ks.iter().map(|&k| s[k].label.clone()).collect()
}

/// Every student's id by name, read through a new session.
fn student_ids(db: &Database) -> HashMap<String, i64> {
    let mut s = db.session();
    let ks = s.query::<Student>().all().unwrap();
    ks.iter()
        .map(|&k| (s[k].name.clone(), s.id(k).unwrap()))
        .collect()
}

/// Every course's id by title, read through a new session.
fn course_ids(db: &Database) -> HashMap<String, i64> {
    let mut s = db.session();
    let ks = s.query::<Course>().all().unwrap();
    ks.iter()
        .map(|&k| (s[k].title.clone(), s.id(k).unwrap()))
        .collect()
}

/// Asserts `err` is a constraint error of `kind` on `table` and returns its constraint and row.
fn expect_constraint(err: &Error, kind: ConstraintKind, table: &str) -> (String, Option<String>) {
    match err {
        Error::Constraint {
            kind: k,
            table: t,
            constraint,
            row,
            ..
        } => {
            assert_eq!(*k, kind, "{err:?}");
            assert_eq!(t, table, "{err:?}");
            (constraint.clone(), row.clone())
        }
        other => panic!("expected a {kind} violation on {table}, got {other:?}"),
    }
}

/// Seeds the scenario and a tag `rust`; returns what the database holds then.
fn seed_with_rust_tag(db: &Database) -> Contents {
    seed_committed(db);
    let mut s = db.session();
    s.add(tag("rust"));
    s.commit().unwrap();
    assert_eq!(tag_labels(db), ["rust"]);
    let before = contents(db);
    assert_eq!(before, seed_contents());
    before
}

// ---------------------------------------------------------------------------------------------
// 1. A commit failing midway on PostgreSQL
// ---------------------------------------------------------------------------------------------

/// On PostgreSQL (which aborts the whole transaction at the first error) a commit that fails at
/// its second step, after the first step's inserts succeeded, returns `Error::Constraint` naming
/// table and constraint, leaves the database exactly as it was, and the same session commits
/// once the cause is fixed; likewise for a foreign key violation in the link step, after the
/// inserts and an update of the same commit succeeded.
#[test]
#[cfg_attr(
    relata_skip_postgres,
    ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)"
)]
fn postgres_a_commit_failing_midway_changes_nothing_and_the_same_session_commits_after_the_fix() {
    let Some(t) = open_with("postgres", &tagged_school()) else {
        return;
    };
    let before = seed_with_rust_tag(&t.db);

    let mut s = t.db.session();
    let bob = student_named(&mut s, "Bob");
    let math = course_titled(&mut s, "Math");
    let science = course_titled(&mut s, "Science");
    let science_id = s.id(science).unwrap();
    let zed = s.add(student("Zed"));
    let go = s.add(tag("go"));
    let dup = s.add(tag("rust"));
    s[bob].name = "Bobby".into();
    s.link(Student::courses(), zed, math);
    s.link(Student::tags(), zed, go);
    s.link(Student::tags(), zed, dup);

    // Students are inserted first (and succeed), then tags, where the commit fails.
    let pending = s.pending_statements().unwrap();
    assert!(
        pending[0].starts_with("INSERT INTO \"students\""),
        "{pending:#?}"
    );
    assert!(
        pending[1].starts_with("INSERT INTO \"tags\""),
        "{pending:#?}"
    );
    assert!(pending.len() > 3, "more steps follow: {pending:#?}");

    let err = s.commit().unwrap_err();
    let (constraint, row) = expect_constraint(&err, ConstraintKind::Unique, "tags");
    assert_eq!(constraint, "tags.label");
    let row = row.expect("PostgreSQL's detail names the key");
    assert!(row.contains("\"rust\""), "{row}");
    let msg = err.to_string();
    assert!(msg.contains("tags.label"), "{msg}");
    assert!(!err.is_retryable());

    // Nothing was written: not Zed (inserted before the failure), not Bob's new name.
    assert_eq!(contents(&t.db), before);
    assert_eq!(tag_labels(&t.db), ["rust"]);
    // The session keeps everything pending.
    assert!(s.has_changes());
    assert_eq!(s.state(zed), ObjectState::New);
    assert_eq!(s.id(zed), None);
    assert_eq!(s.state(bob), ObjectState::Modified);
    assert_eq!(tags_of(&mut s, zed), ["go", "rust"]);

    // Fix the tag; meanwhile another session deletes Science, which this session links to
    // next: now the commit gets past both inserts and the update, and fails in the link step.
    s[dup].label = "rust 2".into();
    let mut other = t.db.session();
    let sci = course_titled(&mut other, "Science");
    other.delete(sci);
    other.commit().unwrap();
    let after_delete = contents(&t.db);
    assert_eq!(after_delete.courses, ["Math"]);
    s.link(Student::courses(), zed, science);
    let pending = s.pending_statements().unwrap();
    let update = pending
        .iter()
        .position(|p| p.starts_with("UPDATE"))
        .unwrap();
    let link = pending
        .iter()
        .position(|p| p.starts_with("INSERT INTO \"student_course\""))
        .unwrap();
    assert!(
        pending[..update]
            .iter()
            .all(|p| p.starts_with("INSERT INTO")),
        "{pending:#?}"
    );
    assert!(update < link, "{pending:#?}");

    let err = s.commit().unwrap_err();
    let (constraint, _) = expect_constraint(&err, ConstraintKind::ForeignKey, "student_course");
    assert!(
        constraint.contains(&format!("student_course.course_id = {science_id}")),
        "{constraint}"
    );
    assert!(constraint.contains("courses.id"), "{constraint}");
    assert_eq!(contents(&t.db), after_delete, "nothing written");
    assert_eq!(tag_labels(&t.db), ["rust"]);
    assert_eq!(s.id(zed), None);
    assert_eq!(s.id(go), None);

    // Drop the bad link: the same session commits everything else.
    assert!(s.unlink(Student::courses(), zed, science));
    s.commit().unwrap();
    assert!(!s.has_changes());
    assert_eq!(s.state(bob), ObjectState::Persistent);
    let c = contents(&t.db);
    assert_eq!(c.students, ["Alice", "Bobby", "Zed"]);
    assert_eq!(c.courses, ["Math"]);
    assert_eq!(
        c.pairs,
        pairs(&[("Alice", "Math"), ("Bobby", "Math"), ("Zed", "Math")])
    );
    assert_eq!(tag_labels(&t.db), ["go", "rust", "rust 2"]);
    let mut fresh = t.db.session();
    let zed_again = student_named(&mut fresh, "Zed");
    assert_eq!(fresh.id(zed_again), s.id(zed));
    assert_eq!(tags_of(&mut fresh, zed_again), ["go", "rust 2"]);
}

/// The same inside `Session::transaction` on PostgreSQL: a block whose final commit fails returns
/// the constraint error and writes nothing; in the next block of the same session, a `commit()`
/// that fails midway rolls back the aborted transaction and opens a fresh one, so the block can
/// read, fix the cause and finish with everything committed.
#[test]
#[cfg_attr(
    relata_skip_postgres,
    ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)"
)]
fn postgres_a_failed_commit_inside_a_transaction_block_changes_nothing_and_the_block_goes_on() {
    let Some(t) = open_with("postgres", &tagged_school()) else {
        return;
    };
    let before = seed_with_rust_tag(&t.db);

    let mut s = t.db.session();
    let mut keys = None;
    let err = s
        .transaction(|s| {
            let math = course_titled(s, "Math");
            let zed = s.add(student("Zed"));
            let go = s.add(tag("go"));
            let dup = s.add(tag("rust"));
            s.link(Student::courses(), zed, math);
            s.link(Student::tags(), zed, go);
            s.link(Student::tags(), zed, dup);
            keys = Some((zed, go, dup));
            Ok(())
        })
        .unwrap_err();
    let (zed, go, dup) = keys.expect("the block ran");
    let (constraint, _) = expect_constraint(&err, ConstraintKind::Unique, "tags");
    assert_eq!(constraint, "tags.label");
    assert_eq!(contents(&t.db), before);
    assert_eq!(tag_labels(&t.db), ["rust"]);
    assert!(s.has_changes());
    assert_eq!(s.id(zed), None);

    // A second block in the same session: its first commit fails (the two new tags now clash
    // with each other), then the block goes on in a new transaction.
    s.transaction(|s| {
        s[dup].label = "go".into();
        let err = s.commit().unwrap_err();
        let (constraint, _) = expect_constraint(&err, ConstraintKind::Unique, "tags");
        assert_eq!(constraint, "tags.label");
        // An aborted PostgreSQL transaction would refuse this read ("current transaction is
        // aborted"); it sees the database as before.
        assert_eq!(s.query::<Tag>().count()?, 1);
        assert_eq!(s.query::<Student>().count()?, 2);
        assert_eq!(s.id(zed), None);
        s[dup].label = "rust 2".into();
        Ok(())
    })
    .unwrap();
    assert!(!s.has_changes());
    assert!(s.id(zed).is_some() && s.id(go).is_some() && s.id(dup).is_some());
    let c = contents(&t.db);
    assert_eq!(c.students, ["Alice", "Bob", "Zed"]);
    assert!(c.pairs.contains(&("Zed".to_owned(), "Math".to_owned())));
    assert_eq!(c.pairs.len(), before.pairs.len() + 1);
    assert_eq!(tag_labels(&t.db), ["go", "rust", "rust 2"]);
    let mut fresh = t.db.session();
    let zed_again = student_named(&mut fresh, "Zed");
    assert_eq!(tags_of(&mut fresh, zed_again), ["go", "rust 2"]);

    // And a block that propagates a failed commit leaves the session usable for plain commits.
    let dup2 = s.add(tag("go"));
    let err = s
        .transaction(|s| {
            s.commit()?;
            Ok(())
        })
        .unwrap_err();
    expect_constraint(&err, ConstraintKind::Unique, "tags");
    s[dup2].label = "go 2".into();
    s.commit().unwrap();
    assert_eq!(tag_labels(&t.db), ["go", "go 2", "rust", "rust 2"]);
}

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
                Ok((seen, b_done.is_ok()))
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
// 4. MySQL strict mode
// ---------------------------------------------------------------------------------------------

/// MySQL/MariaDB run in strict mode on relata's connections: a UNIQUE text column is
/// `VARCHAR(768)`, a 769-character value is rejected with `ConstraintKind::Length` naming
/// `tags.label` (never silently cut), nothing of the commit is written, and 768 four-byte
/// characters (the limit counts characters, not bytes) round-trip exactly.
#[test]
#[cfg_attr(
    relata_skip_mysql,
    ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)"
)]
fn mysql_strict_mode_rejects_an_over_long_key_value_instead_of_cutting_it() {
    let Some(t) = open_with("mysql", &tagged_school()) else {
        return;
    };
    let mut s = t.db.session();
    let zed = s.add(student("Zed"));
    let short = s.add(tag("short"));
    let long = s.add(tag(&"a".repeat(769)));
    s.link(Student::tags(), zed, short);
    s.link(Student::tags(), zed, long);

    let err = s.commit().unwrap_err();
    let (constraint, row) = expect_constraint(&err, ConstraintKind::Length, "tags");
    assert_eq!(constraint, "tags.label");
    let row = row.expect("the row at fault");
    assert!(row.contains("aaaa"), "{row}");
    assert!(!row.contains("short"), "only the offending row: {row}");
    let msg = err.to_string();
    assert!(msg.contains("too long for tags.label"), "{msg}");
    // Nothing was written: not the student, not the short tag, not a truncated long one.
    assert_eq!(contents(&t.db), Contents::default());
    assert!(tag_labels(&t.db).is_empty());
    assert!(s.has_changes());
    assert_eq!(s.id(zed), None);

    // 769 four-byte characters are too long as well.
    s[long].label = "𠮷".repeat(769);
    let err = s.commit().unwrap_err();
    let (constraint, _) = expect_constraint(&err, ConstraintKind::Length, "tags");
    assert_eq!(constraint, "tags.label");
    assert!(tag_labels(&t.db).is_empty());

    // 768 of them fit exactly and come back unchanged.
    let kanji = "𠮷".repeat(768);
    assert_eq!(kanji.len(), 768 * 4);
    s[long].label = kanji.clone();
    s.commit().unwrap();
    let mut fresh = t.db.session();
    let k = fresh
        .query::<Tag>()
        .filter(Tag::LABEL.eq(kanji.as_str()))
        .one()
        .unwrap();
    assert_eq!(fresh[k].label, kanji);
    assert_eq!(fresh.id(k), s.id(long));
    let zed_again = student_named(&mut fresh, "Zed");
    let mut labels = tags_of(&mut fresh, zed_again);
    labels.sort();
    // By code point, 's' (U+0073) comes before '𠮷' (U+20BB7).
    assert_eq!(labels, ["short".to_owned(), kanji.clone()]);
    assert_eq!(tag_labels(&t.db), ["short".to_owned(), kanji]);
}

// ---------------------------------------------------------------------------------------------
// 5. MySQL without RETURNING
// ---------------------------------------------------------------------------------------------

/// A committed batch of students and courses: the session, its keys and the expected pairs.
struct Many {
    session: Session,
    students: Vec<Key<Student>>,
    courses: Vec<Key<Course>>,
    pairs: BTreeSet<(String, String)>,
}

/// Commits `n` new students and courses named `{prefix} student {i}` / `{prefix} course {i}`, each
/// student linked to its own course and every third one to another.
fn commit_many(db: &Database, prefix: &str, n: usize) -> Many {
    let mut s = db.session();
    let students = s.add_all((0..n).map(|i| student(&format!("{prefix} student {i:04}"))));
    let courses = s.add_all((0..n).map(|i| course(&format!("{prefix} course {i:04}"))));
    let mut pairs = BTreeSet::new();
    for (i, &st) in students.iter().enumerate() {
        let mut link = |j: usize| {
            s.link(Student::courses(), st, courses[j]);
            pairs.insert((
                format!("{prefix} student {i:04}"),
                format!("{prefix} course {j:04}"),
            ));
        };
        link(i);
        if i % 3 == 0 {
            link((i * 7 + 1) % n);
        }
    }
    s.commit()
        .unwrap_or_else(|e| panic!("commit of {prefix}: {e}"));
    Many {
        session: s,
        students,
        courses,
        pairs,
    }
}

/// Asserts the keys a session holds after a commit are the ids the database holds for the names.
fn assert_ids_match(db: &Database, s: &Session, studs: &[Key<Student>], crs: &[Key<Course>]) {
    let by_name = student_ids(db);
    for &k in studs {
        assert_eq!(
            s.id(k),
            Some(by_name[&s[k].name]),
            "the session's id of {}",
            s[k].name
        );
        assert_eq!(s[k].id, s.id(k));
    }
    let by_title = course_ids(db);
    for &k in crs {
        assert_eq!(
            s.id(k),
            Some(by_title[&s[k].title]),
            "the session's id of {}",
            s[k].title
        );
    }
}

/// With `?relata_returning=false` on MariaDB, generated keys come from `LAST_INSERT_ID()` and the
/// row count: a commit of 600 students and 600 courses (three 256-row statements each, on a
/// table whose keys do not start at 1) plus ~800 links gives every object the id the database
/// holds for it, and the links land on the right pairs.
#[test]
#[cfg_attr(
    relata_skip_mysql,
    ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)"
)]
fn mysql_without_returning_generated_keys_match_the_database() {
    let Some(t) = open_with("mysql", &school()) else {
        return;
    };
    let db = Database::open(&with_param(&t.url, "relata_returning=false")).unwrap();
    assert_eq!(db.dialect().name(), "mysql", "RETURNING is off");

    // Keys that do not start at 1: a few rows, some deleted.
    let mut s = db.session();
    let early = s.add_all((0..5).map(|i| student(&format!("early {i}"))));
    s.commit().unwrap();
    s.delete(early[1]);
    s.delete(early[3]);
    s.commit().unwrap();

    const N: usize = 600;
    let mut probe = db.session();
    let studs = probe.add_all((0..N).map(|i| student(&format!("probe {i}"))));
    let pending = probe.pending_statements().unwrap();
    assert_eq!(
        pending
            .iter()
            .filter(|p| p.starts_with("INSERT INTO `students`"))
            .count(),
        3,
        "600 rows take three statements"
    );
    assert!(
        pending.iter().all(|p| !p.contains("RETURNING")),
        "{pending:#?}"
    );
    drop((probe, studs));

    let Many {
        session: mut s,
        students: studs,
        courses: crs,
        pairs: expected,
    } = commit_many(&db, "one", N);
    assert_ids_match(&t.db, &s, &studs, &crs);
    let ids: BTreeSet<i64> = studs.iter().map(|&k| s.id(k).unwrap()).collect();
    assert_eq!(ids.len(), N);
    assert!(*ids.iter().next().unwrap() > 5, "after the early rows");

    let c = contents(&t.db);
    assert_eq!(c.pairs, expected);
    assert_eq!(c.students.len(), N + 3);
    assert_eq!(c.courses.len(), N);
    // The session's own collections agree with the database.
    for i in [0, 1, 299, 300, N - 1] {
        let mut mine = courses_of(&mut s, studs[i]);
        mine.sort();
        let theirs: Vec<String> = expected
            .iter()
            .filter(|(n, _)| *n == format!("one student {i:04}"))
            .map(|(_, c)| c.clone())
            .collect();
        assert_eq!(mine, theirs);
    }
}

/// Without `RETURNING`, two sessions committing 600 rows each at the same moment still get the
/// ids the database gave their own rows (one statement's rows get consecutive keys).
#[test]
#[cfg_attr(
    relata_skip_mysql,
    ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)"
)]
fn mysql_without_returning_concurrent_commits_get_their_own_keys() {
    let Some(t) = open_with("mysql", &school()) else {
        return;
    };
    let db = Database::open(&with_param(&t.url, "relata_returning=false")).unwrap();
    assert_eq!(db.dialect().name(), "mysql", "RETURNING is off");
    let barrier = Barrier::new(2);
    let results = thread::scope(|scope| {
        let hs: Vec<_> = ["left", "right"]
            .into_iter()
            .map(|prefix| {
                let (db, barrier) = (&db, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    commit_many(db, prefix, 600)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("a committing thread panicked"))
            .collect::<Vec<_>>()
    });
    let mut all_pairs = BTreeSet::new();
    for m in &results {
        assert_ids_match(&t.db, &m.session, &m.students, &m.courses);
        all_pairs.extend(m.pairs.iter().cloned());
    }
    assert_eq!(contents(&t.db).pairs, all_pairs);
}

// ---------------------------------------------------------------------------------------------
// 6. Explicit ids and PostgreSQL's identity sequence
// ---------------------------------------------------------------------------------------------

/// On PostgreSQL, an object committed with an explicit id (100) moves the identity sequence
/// past it: objects added later without an id get generated ids above 100 that collide with
/// nothing; an explicit id below the sequence does not move it back.
#[test]
#[cfg_attr(
    relata_skip_postgres,
    ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)"
)]
fn postgres_generated_ids_after_an_explicit_id_do_not_collide() {
    let Some(t) = open_with("postgres", &school()) else {
        return;
    };
    let mut s = t.db.session();
    let first = s.add_all([student("First"), student("Second")]);
    s.commit().unwrap();
    let hundred = s.add(Student {
        id: Some(100),
        name: "Hundred".into(),
    });
    s.commit().unwrap();
    assert_eq!(s.id(hundred), Some(100));

    let later = s.add_all([student("A"), student("B"), student("C")]);
    s.commit().unwrap();
    let later_ids: Vec<i64> = later.iter().map(|&k| s.id(k).unwrap()).collect();
    assert!(later_ids.iter().all(|&id| id > 100), "{later_ids:?}");
    let distinct: BTreeSet<i64> = later_ids.iter().copied().collect();
    assert_eq!(distinct.len(), 3);

    // An explicit id below the sequence's position does not send it back.
    let low = s.add(Student {
        id: Some(50),
        name: "Fifty".into(),
    });
    s.commit().unwrap();
    assert_eq!(s.id(low), Some(50));
    let next = s.add(student("D"));
    s.commit().unwrap();
    let max_later = *later_ids.iter().max().unwrap();
    assert!(s.id(next).unwrap() > max_later, "{:?}", s.id(next));

    // Another session (another connection) continues above them too.
    let mut other = t.db.session();
    let e = other.add(student("E"));
    other.commit().unwrap();
    assert!(other.id(e).unwrap() > s.id(next).unwrap());

    let ids = student_ids(&t.db);
    assert_eq!(ids.len(), 9);
    assert_eq!(ids["Hundred"], 100);
    assert_eq!(ids["Fifty"], 50);
    assert_eq!(ids["First"], s.id(first[0]).unwrap());
    let all: BTreeSet<i64> = ids.values().copied().collect();
    assert_eq!(all.len(), 9, "no two students share an id: {ids:?}");
}

backend_test! {
    /// One commit holding an object with an explicit id and objects without one succeeds even
    /// when the explicit id is the one the key generator (PostgreSQL's identity sequence,
    /// MySQL's AUTO_INCREMENT, SQLite's rowid) would hand out next: the generated rows must not
    /// take it, and later generated ids skip past it.
    fn one_commit_mixing_an_explicit_id_with_generated_ones_does_not_collide(t) {
        let mut s = t.db.session();
        let before = s.add(student("Before"));
        s.commit().unwrap();
        let next_free = s.id(before).unwrap() + 1;
        // The id the next generated row would get, set explicitly, added before the others.
        let explicit = s.add(Student {
            id: Some(next_free),
            name: "Explicit".into(),
        });
        let generated = s.add_all([student("G1"), student("G2")]);
        if let Err(e) = s.commit() {
            panic!(
                "a commit with the explicit id {next_free} and two generated ones failed: {e}\n\
                 its statements: {:#?}",
                s.pending_statements().unwrap()
            );
        }
        assert_eq!(s.id(explicit), Some(next_free));
        let ids: BTreeSet<i64> = generated.iter().map(|&k| s.id(k).unwrap()).collect();
        assert_eq!(ids.len(), 2);
        assert!(!ids.contains(&next_free), "{ids:?}");
        let later = s.add(student("Later"));
        s.commit().unwrap();
        assert!(s.id(later).unwrap() > *ids.iter().max().unwrap());
        let held = student_ids(&t.db);
        assert_eq!(held.len(), 5);
        assert_eq!(held["Explicit"], next_free);
        assert_eq!(held.values().collect::<BTreeSet<_>>().len(), 5);
    }
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
                    Ok(n)
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

// ---------------------------------------------------------------------------------------------
// 8. Unreachable servers
// ---------------------------------------------------------------------------------------------

/// Opening a server that does not answer (port 1) fails fast with `Error::Connect` naming the
/// URL, and a password in the URL never shows, in `Display` or `Debug`.
fn unreachable_server_is_a_quick_connect_error(scheme: &str) {
    let url = format!("{scheme}://root@127.0.0.1:1/test");
    let started = Instant::now();
    let err = Database::open(&url).unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(6), "took {took:?}");
    match &err {
        Error::Connect { url: u, message } => {
            assert_eq!(u, &url);
            assert!(!message.is_empty());
        }
        other => panic!("expected Connect, got {other:?}"),
    }
    assert!(!err.is_retryable());
    let msg = err.to_string();
    assert!(msg.contains(&url), "{msg}");

    let secret = format!("{scheme}://root:hunter2@127.0.0.1:1/test");
    let started = Instant::now();
    let err = Database::open(&secret).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    let masked = format!("{scheme}://root:***@127.0.0.1:1/test");
    let (shown, debug) = (err.to_string(), format!("{err:?}"));
    assert!(shown.contains(&masked), "{shown}");
    assert!(debug.contains(&masked), "{debug}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!debug.contains("hunter2"), "{debug}");
}

/// PostgreSQL: an unreachable server is a quick `Error::Connect` with a masked URL.
#[test]
#[cfg_attr(
    relata_skip_postgres,
    ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)"
)]
fn postgres_an_unreachable_server_is_a_quick_connect_error() {
    if server_url("postgres").is_none() {
        return;
    }
    unreachable_server_is_a_quick_connect_error("postgres");
}

/// MySQL/MariaDB: an unreachable server is a quick `Error::Connect` with a masked URL.
#[test]
#[cfg_attr(
    relata_skip_mysql,
    ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)"
)]
fn mysql_an_unreachable_server_is_a_quick_connect_error() {
    if server_url("mysql").is_none() {
        return;
    }
    unreachable_server_is_a_quick_connect_error("mysql");
}

// ---------------------------------------------------------------------------------------------
// 9. Unicode on every backend
// ---------------------------------------------------------------------------------------------

/// Names in code point order: ASCII capitals before small letters, Latin-1, Cyrillic, CJK, a
/// halfwidth katakana (U+FF71, which UTF-16 order would put after 𠮷) and a character beyond the
/// Basic Multilingual Plane.
const UNICODE_NAMES: [&str; 8] = [
    "Bob",
    "alice",
    "Émile",
    "Алиса",
    "张伟",
    "ｱｷﾗ",
    "𠮷",
    "𠮷野家",
];

backend_test! {
    /// Unicode names (Cyrillic, CJK, 𠮷 beyond the BMP) round-trip exactly, match by equality
    /// (case-sensitively), and sort by code point on every backend: "Bob" < "alice" < "Алиса" <
    /// "张伟" < "ｱｷﾗ" < "𠮷".
    fn unicode_names_round_trip_and_sort_by_code_point(t) {
        let mut sorted = UNICODE_NAMES.to_vec();
        sorted.sort(); // str's order is byte order of UTF-8, that is code point order
        assert_eq!(sorted, UNICODE_NAMES);

        let mut s = t.db.session();
        // Added out of order.
        let keys: Vec<Key<Student>> =
            [5, 2, 7, 0, 3, 6, 1, 4].iter().map(|&i| s.add(student(UNICODE_NAMES[i]))).collect();
        let topic = s.add(course("Ελληνικά 📚"));
        s.extend(Course::students(), topic, keys.iter().copied());
        s.commit().unwrap();

        let mut fresh = t.db.session();
        let asc = fresh.query::<Student>().order_by(Student::NAME.asc()).all().unwrap();
        assert_eq!(names(&fresh, &asc), UNICODE_NAMES);
        let desc = fresh.query::<Student>().order_by(Student::NAME.desc()).all().unwrap();
        let mut reversed = UNICODE_NAMES.to_vec();
        reversed.reverse();
        assert_eq!(names(&fresh, &desc), reversed);
        for name in UNICODE_NAMES {
            let k = student_named(&mut fresh, name);
            assert_eq!(fresh[k].name, name);
            assert_eq!(fresh[k].name.chars().count(), name.chars().count());
        }
        // Case matters: "alice" is not "Alice", "Bob" is not "bob".
        assert_eq!(fresh.query::<Student>().filter(Student::NAME.eq("Alice")).count().unwrap(), 0);
        assert_eq!(fresh.query::<Student>().filter(Student::NAME.eq("bob")).count().unwrap(), 0);
        // Ranges compare by code point too.
        let cyrillic_and_up = fresh
            .query::<Student>()
            .filter(Student::NAME.ge("Алиса"))
            .order_by(Student::NAME.asc())
            .all()
            .unwrap();
        assert_eq!(names(&fresh, &cyrillic_and_up), UNICODE_NAMES[3..]);

        let c = contents(&t.db);
        assert_eq!(c.students, UNICODE_NAMES);
        assert_eq!(c.courses, ["Ελληνικά 📚"]);
        let expected: BTreeSet<(String, String)> = UNICODE_NAMES
            .iter()
            .map(|&n| (n.to_owned(), "Ελληνικά 📚".to_owned()))
            .collect();
        assert_eq!(c.pairs, expected);
        let topic_again = course_titled(&mut fresh, "Ελληνικά 📚");
        assert_eq!(students_of(&mut fresh, topic_again), {
            // The course's students in the relation's order (by primary key): insertion order.
            [5, 2, 7, 0, 3, 6, 1, 4].map(|i| UNICODE_NAMES[i].to_owned()).to_vec()
        });
    }
}

backend_test! {
    /// Issue 12, item 9: trailing spaces are part of a name on every backend. MariaDB's
    /// `utf8mb4_bin` pads (it compared `Pad`, `Pad ` and `Pad  ` as one name, so removing
    /// `Solo` removed `Solo `); relata's MySQL tables use a collation that does not.
    fn trailing_spaces_are_significant_in_lookups_and_unique_keys(t, tagged_school()) {
        let mut s = t.db.session();
        for name in ["Pad", "Pad ", "Pad  ", "Solo "] {
            s.add(student(name));
        }
        for label in ["x", "x ", " x"] {
            s.add(tag(label));
        }
        s.commit().expect("labels that differ only in spaces are distinct");
        let mut s = t.db.session();
        for name in ["Pad", "Pad ", "Pad  ", "Solo "] {
            let found = s.query::<Student>().filter(Student::NAME.eq(name)).all().unwrap();
            assert_eq!(names(&s, &found), [name], "lookup of {name:?}");
        }
        assert_eq!(
            s.query::<Student>().filter(Student::NAME.eq("Solo")).count().unwrap(),
            0,
            "`Solo` is not `Solo `"
        );
        let ordered = s.query::<Student>().order_by(Student::NAME.asc()).all().unwrap();
        assert_eq!(names(&s, &ordered), ["Pad", "Pad ", "Pad  ", "Solo "]);
        assert_eq!(tag_labels(&t.db), [" x", "x", "x "]);
        let found = s.query::<Tag>().filter(Tag::LABEL.eq("x ")).count().unwrap();
        assert_eq!(found, 1);
    }
}
