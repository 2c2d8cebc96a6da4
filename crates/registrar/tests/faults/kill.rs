//! `kill -9` in the middle of a large import: the database is left exactly as before the import
//! or exactly as after it, never half, and intact (SQLite's own integrity check), and the import
//! runs again to completion.

use std::time::{Duration, Instant};

use super::*;
use crate::fault_test;

/// Students, courses and courses per student of the import that gets killed.
const STUDENTS: usize = 1500;
const COURSES: usize = 150;
const PER: usize = 8;
/// Kills per backend.
const KILLS: usize = 6;

/// SQLite's own checks of a file: `integrity_check` says ok and no foreign key is broken.
fn sqlite_is_intact(url: &str) {
    let path = url.strip_prefix("sqlite://").expect("a file URL");
    let conn = rusqlite::Connection::open(path).expect("open the file");
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(ok, "ok");
    let broken: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .expect("foreign_key_check");
    assert_eq!(broken, 0, "rows whose foreign key points nowhere");
}

fault_test! {
    /// The import is killed at moments spread over its whole run (from just after start to
    /// past its usual end), each time on a brand-new database.
    fn killed_imports_leave_all_or_nothing(t) {
        let dir = tempfile::tempdir().unwrap();
        let (text, pairs) = csv("k", STUDENTS, COURSES, PER);
        let path = file(dir.path(), "big.csv", text.as_bytes());
        let full = State {
            students: {
                let mut v: Vec<String> = pairs.iter().map(|p| p.0.clone()).collect::<BTreeSet<_>>().into_iter().collect();
                v.sort();
                v
            },
            courses: pairs.iter().map(|p| p.1.clone()).collect::<BTreeSet<_>>().into_iter().collect(),
            pairs: pairs.clone(),
        };
        // How long an import takes here, on the test's own database.
        let first = registrar(&t.url, &["import", &path]);
        assert_eq!(first.code, 0, "{first:?}");
        assert_eq!(state(&t.url), full);
        let usual = first.took;
        let (mut before, mut after) = (0, 0);
        for k in 0..KILLS {
            let fresh = crate::places::open_empty(t.backend).expect("a fresh database");
            // Opening first, so the kill falls in the import's own work.
            assert_eq!(registrar(&fresh.url, &["student", "list"]).code, 0);
            let at = usual.mul_f64(0.1 + 1.1 * k as f64 / KILLS as f64);
            let mut child = command(&fresh.url, &["import", &path])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let started = Instant::now();
            while started.elapsed() < at {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            let _ = child.kill(); // SIGKILL
            child.wait().unwrap();
            if t.backend == "file" {
                sqlite_is_intact(&fresh.url);
            }
            let seen = state(&fresh.url);
            if seen == State::default() {
                before += 1;
            } else {
                assert_eq!(seen, full, "kill {k} at {at:?} left a half import");
                after += 1;
            }
            let again = registrar(&fresh.url, &["import", &path]);
            assert_eq!(again.code, 0, "the import runs again after the kill: {again:?}");
            assert_eq!(state(&fresh.url), full);
        }
        eprintln!(
            "{}: import of {} pairs ({:?}) killed {KILLS} times: {before} left the database as before, {after} as after, 0 half",
            t.backend,
            pairs.len(),
            usual
        );
    }
}
