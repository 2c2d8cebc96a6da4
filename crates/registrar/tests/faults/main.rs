//! Fault injection, the way an operator meets faults: registrar killed with `kill -9` in the
//! middle of an import, eight clerks writing one database at once, a server that stops
//! answering, a full disk, malformed CSV from a fuzzer, and a reader that closes the pipe.
//! Each scenario runs the real binary on SQLite (a file), PostgreSQL and MySQL/MariaDB where it
//! applies, checks that the database ends exactly as the successful commands imply (never half
//! of an import, never two successes for one change) and prints what it counted (run with
//! `-- --nocapture` to see the counts). Bounded in time: about a minute on two cores.

#[path = "../../../relata/tests/common/places.rs"]
mod places;
#[path = "../../../relata/tests/common/proxy.rs"]
mod proxy;
#[path = "../../../relata/tests/common/rng.rs"]
mod rng;

mod concurrent;
mod disk;
mod frozen;
mod fuzz;
mod kill;
mod pipes;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use registrar::{Course, Registrar, Student};
pub use rng::Rng;

/// What one run of the binary did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

/// The binary under test: this build's, or another's named by `REGISTRAR_BIN` (to run the
/// suite against a release build, or an older one to see what it catches).
pub fn binary() -> String {
    std::env::var("REGISTRAR_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_registrar").to_owned())
}

/// The binary, with `--db url` and `args`, stdin closed and `REGISTRAR_DB` cleared.
pub fn command(url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.arg("--db")
        .arg(url)
        .args(args)
        .env_remove("REGISTRAR_DB")
        .stdin(Stdio::null());
    cmd
}

/// Runs the binary to its end.
pub fn registrar(url: &str, args: &[&str]) -> Out {
    let started = Instant::now();
    let out = command(url, args).output().expect("run registrar");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// Starts the binary with its output captured.
pub fn spawn(url: &str, args: &[&str]) -> Child {
    command(url, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start registrar")
}

/// Waits for a started binary.
pub fn finish(child: Child, started: Instant) -> Out {
    let out = child.wait_with_output().expect("wait for registrar");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// Everything registrar holds, read through the library on a fresh connection: every student's
/// and course's name (sorted, repeats kept) and every enrollment by names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    pub students: Vec<String>,
    pub courses: Vec<String>,
    pub pairs: BTreeSet<(String, String)>,
}

pub fn state(url: &str) -> State {
    let r = Registrar::open(url).unwrap_or_else(|e| panic!("open {url}: {e}"));
    let names = |v: Vec<registrar::Listed>| v.into_iter().map(|l| l.entry.name).collect();
    State {
        students: names(r.list::<Student>().expect("students")),
        courses: names(r.list::<Course>().expect("courses")),
        pairs: r
            .export()
            .expect("enrollments")
            .into_iter()
            .map(|e| (e.student.name, e.course.name))
            .collect(),
    }
}

/// A CSV of `students` × `per` pairs over `courses` courses, names prefixed by `tag`; returns
/// the text and its pairs.
pub fn csv(
    tag: &str,
    students: usize,
    courses: usize,
    per: usize,
) -> (String, BTreeSet<(String, String)>) {
    let mut text = String::from("student,course\n");
    let mut pairs = BTreeSet::new();
    for s in 0..students {
        for k in 0..per {
            let c = (s * 7 + k * 13) % courses;
            let (st, co) = (
                format!("{tag} student {s:05}"),
                format!("{tag} course {c:04}"),
            );
            text.push_str(&format!("{st},{co}\n"));
            pairs.insert((st, co));
        }
    }
    (text, pairs)
}

/// Writes `text` to `dir/name` and returns the path as text.
pub fn file(dir: &Path, name: &str, text: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a file");
    path.to_str().expect("UTF-8 path").to_owned()
}

/// Declares a fault scenario run on each backend it names: `name::sqlite_file`,
/// `name::postgres`, `name::mysql`; a server whose URL is not set is reported ignored.
macro_rules! fault_test {
    ($(#[$attr:meta])* fn $name:ident($t:ident) $body:block) => {
        $(#[$attr])*
        mod $name {
            #[allow(unused_imports)] // a scenario may need nothing more than the macro gives
            use super::*;

            fn body($t: &$crate::places::TestDb) $body

            #[test]
            fn sqlite_file() {
                let t = $crate::places::open_empty("file").expect("files are always there");
                body(&t);
            }

            #[test]
            #[cfg_attr(relata_skip_postgres, ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)")]
            fn postgres() {
                if let Some(t) = $crate::places::open_empty("postgres") {
                    body(&t);
                }
            }

            #[test]
            #[cfg_attr(relata_skip_mysql, ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)")]
            fn mysql() {
                if let Some(t) = $crate::places::open_empty("mysql") {
                    body(&t);
                }
            }
        }
    };
}
pub(crate) use fault_test;
