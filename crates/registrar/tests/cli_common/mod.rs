//! What the `registrar` command-line tests share: running the binary, a fresh database of one
//! backend with helpers that run the binary on it ([`Reg`]), and the `cli_test!` macro that
//! declares a test once per backend.
#![allow(dead_code)] // each test file uses a different part of this module

#[path = "../../../relata/tests/common/places.rs"]
pub mod places;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use places::TestDb;
use serde_json::Value;

/// What one run of the binary did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary with `args` in `cwd`, with `REGISTRAR_DB` cleared unless given in `env`.
pub fn registrar_in(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_registrar"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("REGISTRAR_DB")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run registrar");
    Out {
        code: out.status.code().expect("exited"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

/// A database of one backend for the binary, and helpers that run it there.
pub struct Reg {
    pub t: TestDb,
    pub dir: tempfile::TempDir,
}

impl Reg {
    /// A fresh database of `backend` (`"file"`, `"postgres"` or `"mysql"`); `None` if skipped.
    pub fn new(backend: &'static str) -> Option<Reg> {
        let t = places::open_empty(backend)?;
        eprintln!("--- backend: {backend} ({})", t.url);
        Some(Reg {
            t,
            dir: tempfile::tempdir().expect("temp dir"),
        })
    }

    pub fn run(&self, args: &[&str]) -> Out {
        let mut all = vec!["--db", self.t.url.as_str()];
        all.extend_from_slice(args);
        registrar_in(self.dir.path(), &[], &all)
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.code, 0, "registrar {args:?} failed: {out:?}");
        out.stdout
    }

    /// Runs with `--json`, expects success and exactly one JSON document; returns it.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        assert!(
            text.ends_with('\n') && text.lines().count() == 1,
            "{text:?}"
        );
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    /// Runs, expects exit code 1 and one `error: ...` line on stderr; checks that nothing in
    /// the database changed; returns the message after `error: `.
    pub fn fails(&self, args: &[&str]) -> String {
        let before = self.snapshot();
        let out = self.run(args);
        assert_eq!(out.code, 1, "registrar {args:?} should fail: {out:?}");
        assert_eq!(out.stdout, "", "nothing on stdout: {out:?}");
        let message = out
            .stderr
            .strip_prefix("error: ")
            .unwrap_or_else(|| panic!("stderr starts with `error: `: {out:?}"))
            .trim_end()
            .to_owned();
        assert!(!message.contains('\n'), "one line: {message:?}");
        assert_eq!(
            self.snapshot(),
            before,
            "registrar {args:?} changed the database"
        );
        message
    }

    /// Everything a user can see: both lists and every enrollment.
    pub fn snapshot(&self) -> (Value, Value, Value) {
        (
            self.json(&["student", "list"]),
            self.json(&["course", "list"]),
            self.json(&["export"]),
        )
    }

    /// Writes `text` to a file in the test's directory and returns its path.
    pub fn file(&self, name: &str, text: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }
}

/// Declares a test run once per backend: `name::sqlite_file`, `name::postgres`, `name::mysql`.
macro_rules! cli_test {
    ($(#[$attr:meta])* fn $name:ident($r:ident) $body:block) => {
        $(#[$attr])*
        mod $name {
            #[allow(unused_imports)] // a test may need nothing from the file beyond `Reg`
            use super::*;

            fn body($r: &Reg) $body

            #[test]
            fn sqlite_file() {
                body(&Reg::new("file").expect("files are always there"));
            }

            #[test]
            #[cfg_attr(relata_skip_postgres, ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)")]
            fn postgres() {
                if let Some(r) = Reg::new("postgres") {
                    body(&r);
                }
            }

            #[test]
            #[cfg_attr(relata_skip_mysql, ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)")]
            fn mysql() {
                if let Some(r) = Reg::new("mysql") {
                    body(&r);
                }
            }
        }
    };
}
pub(crate) use cli_test;
