//! Generated keys on the server backends: MySQL/MariaDB without `RETURNING` (keys from
//! `LAST_INSERT_ID()`, alone and with concurrent commits), and explicit ids with PostgreSQL's
//! identity sequence.
//!
//! Each test opens its own isolated database (a PostgreSQL schema or a MySQL database) and is
//! skipped when `RELATA_TEST_POSTGRES` / `RELATA_TEST_MYSQL` is unset. One check that
//! every backend must pass (explicit ids mixed with generated ones in one commit) is a
//! `backend_test!` and runs on SQLite too.

#[macro_use]
mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::Barrier;
use std::thread;

use common::*;
use relata::{Database, Key, Session};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

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
