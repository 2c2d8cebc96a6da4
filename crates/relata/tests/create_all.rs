//! `Database::create_all` under concurrency (issue 12, item 3): several processes opening a new
//! database at once each see the schema created once and none fails; on an existing schema it
//! writes nothing and waits for no one.

#[macro_use]
mod common;

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use relata::{Database, Error};

/// Eight handles (each its own pool, as eight processes would have) open the same brand-new
/// database at the same moment and create the seed schema: every one succeeds, and the tables
/// work. Ten rounds, each on a new database. Before, PostgreSQL failed every round with
/// `relation "students" already exists` or a `pg_type` unique violation.
fn eight_openers_of_a_new_database_all_succeed(backend: &'static str) {
    for round in 0..10 {
        let Some(t) = open_empty(backend) else {
            return;
        };
        let barrier = Barrier::new(8);
        let results: Vec<Result<(), Error>> = thread::scope(|scope| {
            let openers: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        Database::open(&t.url).and_then(|db| db.create_all(&school()))
                    })
                })
                .collect();
            openers.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in &results {
            if let Err(e) = r {
                panic!("round {round} on {backend}: an opener failed: {e}");
            }
        }
        seed_committed(&t.db);
        assert_eq!(contents(&t.db), seed_contents(), "round {round}");
    }
}

#[test]
fn sqlite_file_eight_openers_of_a_new_database_all_succeed() {
    eight_openers_of_a_new_database_all_succeed("file");
}

#[test]
#[cfg_attr(
    relata_skip_postgres,
    ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)"
)]
fn postgres_eight_openers_of_a_new_database_all_succeed() {
    eight_openers_of_a_new_database_all_succeed("postgres");
}

#[test]
#[cfg_attr(
    relata_skip_mysql,
    ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)"
)]
fn mysql_eight_openers_of_a_new_database_all_succeed() {
    eight_openers_of_a_new_database_all_succeed("mysql");
}

/// Issue 12, item 4, on SQLite: `create_all` on a complete schema takes no lock, so it returns
/// at once while another connection holds the write lock (before, it began `BEGIN IMMEDIATE`
/// and gave up with `Busy` after 5 s, and every registrar command opens with it).
#[test]
fn sqlite_create_all_on_a_complete_schema_does_not_wait_for_a_writer() {
    let t = open_with("file", &school()).unwrap();
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    thread::scope(|scope| {
        let db = &t.db;
        scope.spawn(move || {
            let mut w = db.session();
            w.transaction(|w| {
                w.add(student("Writer"));
                held_tx.send(()).unwrap();
                done_rx.recv_timeout(Duration::from_secs(30)).ok();
                Ok::<_, relata::Error>(())
            })
            .unwrap();
        });
        held_rx.recv().unwrap();
        let started = Instant::now();
        let other = t.reopen();
        other
            .create_all(&school())
            .expect("create_all on a complete schema");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "create_all waited {:?} for the writer",
            started.elapsed()
        );
        done_tx.send(()).unwrap();
    });
}

backend_test! {
    /// A schema missing one of its indexes gets it back; the tables and rows stay.
    fn create_all_restores_a_missing_index(t) {
        seed_committed(&t.db);
        let index = "student_course_course_id_student_id";
        let drop = match t.backend {
            "mysql" => format!("DROP INDEX `{index}` ON student_course"),
            _ => format!("DROP INDEX \"{index}\""),
        };
        if t.backend == "mysql" {
            // MySQL declares indexes inside CREATE TABLE, so create_all looks at tables only,
            // and the foreign key needs the index anyway.
            return;
        }
        t.db.execute_batch(&drop).unwrap();
        t.db.create_all(&school()).unwrap();
        t.db.execute_batch(&drop)
            .expect("the index is there again, so it can be dropped again");
        t.db.create_all(&school()).unwrap();
        assert_eq!(contents(&t.db), seed_contents());
    }
}
