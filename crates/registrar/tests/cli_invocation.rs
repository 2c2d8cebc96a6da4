//! How the `registrar` binary is run, apart from what its commands do: `--echo`, `demo`, which
//! database it opens (`--db`, `REGISTRAR_DB`, the default), usage errors and `--help`,
//! unreachable or unreadable databases, `--json` errors, outputs that are closed or full, and
//! passwords never shown.

mod cli_common;

use std::process::{Command, Stdio};

use cli_common::{cli_test, registrar_in, Reg};
use serde_json::{json, Value};

cli_test! {
    /// `--echo` shows the SQL on stderr and leaves stdout as it was.
    fn echo_prints_sql(r) {
        let out = r.run(&["--echo", "student", "add", "Alice"]);
        assert_eq!(out.code, 0);
        assert_eq!(out.stdout, "id  name\n 1  Alice\n");
        assert!(out.stderr.contains("INSERT INTO"), "{}", out.stderr);
        assert!(out.stderr.contains("Alice"), "the parameters too: {}", out.stderr);
    }
}

/// `demo` prints the seed's four lines on its own in-memory database, whatever `--db` says.
#[test]
fn demo_prints_the_four_lines() {
    let dir = tempfile::tempdir().unwrap();
    let out = registrar_in(
        dir.path(),
        &[],
        &["--db", "sqlite://must-not-exist.db", "demo"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout,
        "Alice: Math, Science\nBob: Math\nMath: Alice, Bob\nScience: Alice\n"
    );
    assert!(!dir.path().join("must-not-exist.db").exists());
    let out = registrar_in(dir.path(), &[], &["demo", "--json"]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["students"][0],
        json!({"name": "Alice", "courses": ["Math", "Science"]})
    );
    assert_eq!(
        v["courses"][0],
        json!({"title": "Math", "students": ["Alice", "Bob"]})
    );
}

/// Without `--db`, `REGISTRAR_DB` names the database; without both it is `registrar.db` here.
#[test]
fn database_from_environment_then_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = registrar_in(dir.path(), &[], &["student", "add", "Alice"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(dir.path().join("registrar.db").exists());
    let env_db = format!("sqlite://{}", dir.path().join("env.db").display());
    let out = registrar_in(
        dir.path(),
        &[("REGISTRAR_DB", &env_db)],
        &["student", "list", "--json"],
    );
    assert_eq!(out.stdout, "[]\n");
    let out = registrar_in(
        dir.path(),
        &[("REGISTRAR_DB", &env_db)],
        &["--db", "sqlite://registrar.db", "student", "list", "--json"],
    );
    assert_eq!(
        out.stdout,
        "[{\"id\":1,\"name\":\"Alice\",\"courses\":0}]\n"
    );
}

/// Usage errors exit with 2 and clap's help; `--help` on every command shows an example.
#[test]
fn usage_errors_and_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["frobnicate"][..],
        &["student"],
        &["student", "add"],
        &["enroll", "Alice"],
        &["--db"],
        &[],
    ] {
        let out = registrar_in(dir.path(), &[], args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("--help") || out.stderr.contains("Usage:"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert!(
        !dir.path().join("registrar.db").exists(),
        "usage errors touch no database"
    );
    let commands: [&[&str]; 18] = [
        &[],
        &["demo"],
        &["student"],
        &["course"],
        &["student", "add"],
        &["student", "list"],
        &["student", "show"],
        &["student", "rename"],
        &["student", "remove"],
        &["course", "add"],
        &["course", "list"],
        &["course", "show"],
        &["course", "rename"],
        &["course", "remove"],
        &["enroll"],
        &["drop"],
        &["import"],
        &["export"],
    ];
    for command in commands {
        let out = registrar_in(dir.path(), &[], &[command, &["--help"]].concat());
        assert_eq!(out.code, 0, "{command:?}");
        assert!(
            out.stdout.contains("Example"),
            "{command:?} --help: {}",
            out.stdout
        );
    }
}

/// An unreachable server or an unreadable file is one line naming the URL, password masked.
#[test]
fn unreachable_and_unreadable_databases() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "postgres://admin:s3cret@127.0.0.1:1/school",
        "mysql://admin:s3cret@127.0.0.1:1/school",
    ] {
        let out = registrar_in(dir.path(), &[], &["--db", url, "student", "list"]);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.stderr.starts_with("error: "), "{out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
        assert!(!out.stderr.contains("s3cret"), "password shown: {out:?}");
        assert!(
            out.stderr.contains("127.0.0.1:1/school"),
            "URL named: {out:?}"
        );
    }
    std::fs::write(dir.path().join("junk.db"), vec![b'x'; 4096]).unwrap();
    let out = registrar_in(
        dir.path(),
        &[],
        &["--db", "sqlite://junk.db", "student", "list"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.starts_with("error: "), "{out:?}");
    assert!(out.stderr.contains("sqlite://junk.db"), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    let out = registrar_in(dir.path(), &[], &["--db", "oracle://x", "student", "list"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("oracle://x"), "{out:?}");
}

/// `--json` errors are a JSON document on stdout too, and `error: ...` on stderr.
#[test]
fn json_errors() {
    let r = Reg::new("file").unwrap();
    let out = r.run(&["--json", "student", "show", "Nobody"]);
    assert_eq!(out.code, 1);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(
        format!("error: {}\n", v["error"].as_str().unwrap()),
        out.stderr
    );
}

/// Where a test sends the binary's stdout or stderr.
enum Sink {
    /// A pipe the test reads.
    Piped,
    /// A pipe whose reading end is closed as soon as the binary starts (before it can write
    /// anything: it opens its database first), as after `| head -c 50` stopped reading.
    ClosedPipe,
    /// `/dev/full`: every write fails with "No space left on device".
    Full,
}

impl Sink {
    fn stdio(&self) -> Stdio {
        match self {
            Sink::Piped | Sink::ClosedPipe => Stdio::piped(),
            Sink::Full => Stdio::from(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .expect("/dev/full"),
            ),
        }
    }
}

/// Runs the binary on `r`'s database with stdout and stderr sent where the caller says;
/// returns the exit code and what stderr said, when it was piped.
fn registrar_to(r: &Reg, args: &[&str], stdout: Sink, stderr: Sink) -> (i32, String) {
    use std::io::Read;
    let mut all = vec!["--db", r.t.url.as_str()];
    all.extend_from_slice(args);
    let mut child = Command::new(env!("CARGO_BIN_EXE_registrar"))
        .args(&all)
        .current_dir(r.dir.path())
        .env_remove("REGISTRAR_DB")
        .stdin(Stdio::null())
        .stdout(stdout.stdio())
        .stderr(stderr.stdio())
        .spawn()
        .expect("run registrar");
    if matches!(stdout, Sink::ClosedPipe) {
        drop(child.stdout.take());
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err).unwrap();
    }
    if let Some(mut o) = child.stdout.take() {
        std::io::copy(&mut o, &mut std::io::sink()).unwrap();
    }
    let status = child.wait().unwrap();
    (status.code().expect("exited, not killed by a signal"), err)
}

/// Issue 12, item 7: output that cannot be written never panics (exit code 101 before). A
/// closed pipe ends the command quietly with 0, as Unix tools do (`registrar export | head -3`
/// printed `error: stdout: Broken pipe`); a full stdout is an error, exit 1; an error whose
/// stderr is full still exits 1.
#[test]
fn closed_or_full_outputs_never_panic() {
    let r = Reg::new("file").unwrap();
    r.ok(&["student", "add", "Alice", "Bob"]);
    r.ok(&["course", "add", "Math"]);
    r.ok(&["enroll", "Alice", "Math"]);
    for args in [
        &["export"][..],
        &["--json", "export"],
        &["student", "list"],
        &["--json", "course", "show", "Math"],
    ] {
        let (code, stderr) = registrar_to(&r, args, Sink::ClosedPipe, Sink::Piped);
        assert_eq!(
            (code, stderr.as_str()),
            (0, ""),
            "{args:?} into a closed pipe"
        );
        let (code, stderr) = registrar_to(&r, args, Sink::Full, Sink::Piped);
        assert_eq!(code, 1, "{args:?} into a full device: {stderr}");
        assert!(stderr.starts_with("error: stdout: "), "{args:?}: {stderr}");
        assert!(stderr.contains("No space left"), "{args:?}: {stderr}");
    }
    // A --json error whose stdout is full, and an error whose stderr is full.
    let (code, stderr) = registrar_to(
        &r,
        &["--json", "student", "show", "Nobody"],
        Sink::Full,
        Sink::Piped,
    );
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("error: no student is named \"Nobody\""),
        "{stderr}"
    );
    let (code, _) = registrar_to(&r, &["student", "show", "Nobody"], Sink::Piped, Sink::Full);
    assert_eq!(code, 1);
    let (code, _) = registrar_to(
        &r,
        &["--json", "student", "show", "Nobody"],
        Sink::ClosedPipe,
        Sink::Full,
    );
    assert_eq!(code, 1);
    // The data is untouched by all of this.
    assert_eq!(r.ok(&["export"]), "student,course\nAlice,Math\n");
}

/// Issue 12, item 6, through the binary: a password in any form the URL can carry it is never
/// printed.
#[test]
fn passwords_never_appear_in_messages() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "postgres://admin@127.0.0.1:1/school?password=s3cret",
        "postgres://admin:s3/cr@et@127.0.0.1:1/school",
        "mysql://admin@127.0.0.1:1/school?password=s3cret",
        "mysql://admin:s3cr%2Fet@127.0.0.1:1/school",
        "host=127.0.0.1 port=1 user=admin password=s3cret",
        "postgres://admin@127.0.0.1:1/school?sslpassword=s3cret&relata_timeout=1",
    ] {
        for json in [false, true] {
            let mut args = vec!["--db", url, "student", "list"];
            if json {
                args.insert(0, "--json");
            }
            let out = registrar_in(dir.path(), &[], &args);
            assert_eq!(out.code, 1, "{out:?}");
            assert!(!out.stderr.contains("s3cr"), "password shown: {out:?}");
            assert!(!out.stdout.contains("s3cr"), "password shown: {out:?}");
        }
    }
}
