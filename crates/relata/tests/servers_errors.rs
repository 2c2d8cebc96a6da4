//! Errors only the server backends produce: a commit failing midway on PostgreSQL (which aborts
//! the whole transaction at the first error), alone and inside a transaction block, and
//! unreachable servers (a quick `Error::Connect` with the password masked).
//!
//! Each test opens its own isolated database (a PostgreSQL schema or a MySQL database) and is
//! skipped when `RELATA_TEST_POSTGRES` / `RELATA_TEST_MYSQL` is unset.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::tags::*;
use common::*;
use relata::{ConstraintKind, Database, Error, ObjectState};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

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
        Ok::<_, relata::Error>(())
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
