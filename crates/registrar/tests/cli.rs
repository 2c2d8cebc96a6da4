//! The `registrar` binary driven as a user drives it, on a SQLite file, PostgreSQL and MySQL:
//! every command, every error of the issue, and the exact `--json` shapes.

#[path = "../../relata/tests/common/places.rs"]
mod places;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use places::TestDb;
use serde_json::{json, Value};

/// What one run of the binary did.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args` in `cwd`, with `REGISTRAR_DB` cleared unless given in `env`.
fn registrar_in(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Out {
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
struct Reg {
    t: TestDb,
    dir: tempfile::TempDir,
}

impl Reg {
    /// A fresh database of `backend` (`"file"`, `"postgres"` or `"mysql"`); `None` if skipped.
    fn new(backend: &'static str) -> Option<Reg> {
        let t = places::open_empty(backend)?;
        eprintln!("--- backend: {backend} ({})", t.url);
        Some(Reg {
            t,
            dir: tempfile::tempdir().expect("temp dir"),
        })
    }

    fn run(&self, args: &[&str]) -> Out {
        let mut all = vec!["--db", self.t.url.as_str()];
        all.extend_from_slice(args);
        registrar_in(self.dir.path(), &[], &all)
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.code, 0, "registrar {args:?} failed: {out:?}");
        out.stdout
    }

    /// Runs with `--json`, expects success and exactly one JSON document; returns it.
    fn json(&self, args: &[&str]) -> Value {
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
    fn fails(&self, args: &[&str]) -> String {
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
    fn snapshot(&self) -> (Value, Value, Value) {
        (
            self.json(&["student", "list"]),
            self.json(&["course", "list"]),
            self.json(&["export"]),
        )
    }

    /// Writes `text` to a file in the test's directory and returns its path.
    fn file(&self, name: &str, text: &[u8]) -> PathBuf {
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

cli_test! {
    /// The seed's system end to end, with the exact JSON shapes of the issue.
    fn seed_scenario(r) {
        assert_eq!(
            r.json(&["student", "add", "Alice", "Bob"]),
            json!([{"id": 1, "name": "Alice"}, {"id": 2, "name": "Bob"}])
        );
        assert_eq!(
            r.ok(&["course", "add", "Math", "Science"]),
            "id  title\n 1  Math\n 2  Science\n"
        );
        assert_eq!(r.json(&["enroll", "Alice", "Math", "Science"]), json!({"ok": true, "changed": 2}));
        assert_eq!(r.ok(&["enroll", "Bob", "#1"]), "enrolled Bob (#2) in Math (#1)\n");

        let alice = r.ok(&["--json", "student", "show", "Alice"]);
        assert_eq!(
            alice,
            "{\"id\":1,\"name\":\"Alice\",\"courses\":[{\"id\":1,\"title\":\"Math\"},{\"id\":2,\"title\":\"Science\"}]}\n"
        );
        assert_eq!(
            r.json(&["course", "show", "Math"]),
            json!({"id": 1, "title": "Math", "students": [{"id": 1, "name": "Alice"}, {"id": 2, "name": "Bob"}]})
        );
        assert_eq!(
            r.ok(&["course", "list", "--json"]),
            "[{\"id\":1,\"title\":\"Math\",\"students\":2},{\"id\":2,\"title\":\"Science\",\"students\":1}]\n"
        );
        assert_eq!(
            r.json(&["student", "list"]),
            json!([{"id": 1, "name": "Alice", "courses": 2}, {"id": 2, "name": "Bob", "courses": 1}])
        );
        assert_eq!(
            r.ok(&["student", "list"]),
            "id  name   courses\n 1  Alice        2\n 2  Bob          1\n"
        );
        assert_eq!(
            r.ok(&["student", "show", "Alice"]),
            "Alice (#1): 2 courses\nid  title\n 1  Math\n 2  Science\n"
        );
        assert_eq!(r.ok(&["export"]), "student,course\nAlice,Math\nAlice,Science\nBob,Math\n");

        assert_eq!(r.json(&["drop", "Alice", "Science"]), json!({"ok": true, "changed": 1}));
        assert_eq!(r.json(&["student", "rename", "Bob", "Robert"]), json!({"ok": true, "changed": 1}));
        assert_eq!(r.json(&["course", "rename", "#2", "Physics"]), json!({"ok": true, "changed": 1}));
        assert_eq!(
            r.ok(&["student", "rename", "Alice", "Alicia"]),
            "student #1 renamed from \"Alice\" to \"Alicia\"\n"
        );
        assert_eq!(r.ok(&["export"]), "student,course\nAlicia,Math\nRobert,Math\n");
        assert_eq!(r.json(&["course", "remove", "Math"]), json!({"ok": true, "changed": 1}));
        assert_eq!(r.ok(&["export"]), "student,course\n");
        assert_eq!(
            r.ok(&["student", "remove", "Robert"]),
            "removed student Robert (#2) and 0 enrollments\n"
        );
        assert_eq!(r.json(&["course", "list"]), json!([{"id": 2, "title": "Physics", "students": 0}]));
        assert_eq!(r.ok(&["course", "show", "Physics"]), "Physics (#2): no students\n");
    }
}

cli_test! {
    /// Names are stored and printed exactly as given, and ordered by code point then id.
    fn names_exactly_as_given(r) {
        let names = ["张伟", "Алиса", "O'Brien \"Bo\"", "100%_done", "a;DROP TABLE students;--", " padded "];
        let mut args = vec!["student", "add"];
        args.extend(names);
        let added = r.json(&args);
        let stored: Vec<&str> = added.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(stored, names);
        r.ok(&["course", "add", "数学", "Математика", "x,y"]);
        r.ok(&["enroll", "张伟", "数学", "x,y"]);
        r.ok(&["enroll", "100%_done", "Математика"]);
        // LIKE wildcards are not wildcards: only the exact name matches.
        assert!(r.fails(&["student", "show", "100%"]).contains("no student is named \"100%\""));
        assert_eq!(r.json(&["student", "show", " padded "])["id"], 6);

        let listed: Vec<String> = r.json(&["student", "list"]).as_array().unwrap().iter()
            .map(|s| s["name"].as_str().unwrap().to_owned()).collect();
        let mut sorted: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        sorted.sort();
        assert_eq!(listed, sorted, "code point order");
        assert_eq!(
            r.ok(&["export"]),
            "student,course\n100%_done,Математика\n张伟,\"x,y\"\n张伟,数学\n"
        );
        // Wide characters keep the table aligned (张伟 is four columns wide).
        assert_eq!(r.ok(&["course", "show", "数学"]), "数学 (#1): 1 student\nid  name\n 1  张伟\n");
    }
}

cli_test! {
    /// `#ID` names one row; a name shared by several rows is an error that lists their ids.
    fn ids_and_ambiguous_names(r) {
        r.ok(&["student", "add", "Alice", "Alice", "Bob"]);
        r.ok(&["course", "add", "Math"]);
        assert_eq!(
            r.fails(&["enroll", "Alice", "Math"]),
            "2 students are named \"Alice\" (#1, #2); give one by id, for example #1"
        );
        assert_eq!(r.json(&["enroll", "#2", "Math"]), json!({"ok": true, "changed": 1}));
        assert_eq!(r.json(&["student", "show", "#2"])["courses"][0]["title"], "Math");
        assert_eq!(
            r.fails(&["student", "show", "#9"]),
            "no student has id #9; `registrar student list` shows every student"
        );
        assert_eq!(
            r.fails(&["course", "show", "Art"]),
            "no course is named \"Art\"; `registrar course list` shows every course"
        );
        assert!(r.fails(&["student", "show", "#99999999999999999999999"]).starts_with("no student has id"));
        // `#` followed by anything but digits is a name.
        r.ok(&["course", "add", "#C++"]);
        assert_eq!(r.json(&["course", "show", "#C++"])["id"], 2);
    }
}

cli_test! {
    /// Enroll and drop are all or nothing: one bad course of several changes nothing.
    fn enroll_and_drop_errors_change_nothing(r) {
        r.ok(&["student", "add", "Alice"]);
        r.ok(&["course", "add", "Math", "Art", "Music"]);
        r.ok(&["enroll", "Alice", "Math"]);
        assert_eq!(
            r.fails(&["enroll", "Alice", "Art", "Math"]),
            "Alice (#1) is already enrolled in Math (#1)"
        );
        assert_eq!(
            r.fails(&["enroll", "Alice", "Art", "Nope"]),
            "no course is named \"Nope\"; `registrar course list` shows every course"
        );
        assert_eq!(r.fails(&["enroll", "Alice", "Art", "#2"]), "Art (#2) is given twice; name each course once");
        assert_eq!(r.fails(&["enroll", "Zed", "Art"]), "no student is named \"Zed\"; `registrar student list` shows every student");
        assert_eq!(r.fails(&["drop", "Alice", "Math", "Music"]), "Alice (#1) is not enrolled in Music (#3)");
        assert_eq!(r.json(&["drop", "Alice", "Math"]), json!({"ok": true, "changed": 1}));
        assert_eq!(r.fails(&["drop", "Alice", "Math"]), "Alice (#1) is not enrolled in Math (#1)");
    }
}

cli_test! {
    /// Empty, blank and over-long names are refused, and nothing of the command is written.
    fn bad_names_are_refused(r) {
        assert_eq!(
            r.fails(&["student", "add", "Alice", ""]),
            "a student name cannot be empty or only spaces; give at least one visible character"
        );
        assert_eq!(
            r.fails(&["course", "add", "Math", " \t "]),
            "a course title cannot be empty or only spaces; give at least one visible character"
        );
        let long = "张".repeat(1001);
        assert_eq!(
            r.fails(&["student", "add", "Bob", &long]),
            format!("the student name starting {:?}... has 1001 characters; the limit is 1000", "张".repeat(20))
        );
        // 1000 characters, of one, two, three and four bytes, are fine and come back unchanged,
        // including 3,000 bytes of CJK text that does not compress (too big for a PostgreSQL
        // B-tree entry).
        let cjk: String = (0..1000u32)
            .map(|i| char::from_u32(0x4e00 + (i * 7919) % 20000).unwrap())
            .collect();
        for name in ["a".repeat(1000), "é".repeat(1000), "𠮷".repeat(1000), cjk] {
            let added = r.json(&["student", "add", &name]);
            let id = added[0]["id"].as_i64().unwrap();
            assert_eq!(r.json(&["student", "show", &name])["id"], id);
            assert_eq!(r.json(&["student", "show", &format!("#{id}")])["name"], name.as_str());
        }
        r.ok(&["student", "add", "Carol"]);
        assert_eq!(r.fails(&["student", "rename", "Carol", " "]), "a student name cannot be empty or only spaces; give at least one visible character");
    }
}

cli_test! {
    /// An id once given is never given again, even after the row is removed.
    fn ids_are_never_reused(r) {
        r.ok(&["student", "add", "A", "B", "C"]);
        r.ok(&["course", "add", "X", "Y"]);
        r.ok(&["enroll", "C", "X", "Y"]);
        assert_eq!(r.ok(&["student", "remove", "C"]), "removed student C (#3) and 2 enrollments\n");
        r.ok(&["course", "remove", "#2"]);
        assert_eq!(r.json(&["student", "add", "D"]), json!([{"id": 4, "name": "D"}]));
        assert_eq!(r.json(&["course", "add", "Z"]), json!([{"id": 3, "title": "Z"}]));
        assert_eq!(r.json(&["course", "show", "X"])["students"], json!([]));
    }
}

cli_test! {
    /// Import: quoted fields, Unicode, a BOM, repeats and pairs enrolled already are counted and
    /// skipped; a second run changes nothing; the export imports back into a fresh database.
    fn import_and_export(r) {
        r.ok(&["student", "add", "Alice"]);
        r.ok(&["course", "add", "Math"]);
        r.ok(&["enroll", "Alice", "Math"]);
        let csv = "\u{feff}student,course\r\nAlice,Math\nAlice,\"Art, History\"\n\"Smith, \"\"Jo\"\"\",Math\nАлиса,数学\n\nАлиса,数学\n";
        let path = r.file("term.csv", csv.as_bytes());
        let path = path.to_str().unwrap();
        assert_eq!(
            r.json(&["import", path]),
            json!({"ok": true, "changed": 3})
        );
        let again = r.run(&["import", path]);
        assert_eq!(
            again.stdout,
            format!("imported {path}: 0 students, 0 courses and 0 enrollments added; 5 pairs skipped (repeated or enrolled already)\n")
        );
        assert_eq!(again.stderr, "", "no progress bar when the output is not a terminal");
        let exported = "student,course\nAlice,\"Art, History\"\nAlice,Math\n\"Smith, \"\"Jo\"\"\",Math\nАлиса,数学\n";
        assert_eq!(r.ok(&["export"]), exported);
        let out = r.dir.path().join("out.csv");
        let out = out.to_str().unwrap();
        assert_eq!(r.ok(&["export", out]), format!("exported 4 enrollments to {out}\n"));
        assert_eq!(std::fs::read_to_string(out).unwrap(), exported);
        assert_eq!(
            r.json(&["export"]),
            json!([
                {"student": {"id": 1, "name": "Alice"}, "course": {"id": 2, "title": "Art, History"}},
                {"student": {"id": 1, "name": "Alice"}, "course": {"id": 1, "title": "Math"}},
                {"student": {"id": 2, "name": "Smith, \"Jo\""}, "course": {"id": 1, "title": "Math"}},
                {"student": {"id": 3, "name": "Алиса"}, "course": {"id": 3, "title": "数学"}},
            ])
        );

        // Round trip into a fresh SQLite file.
        let copy = format!("sqlite://{}", r.dir.path().join("copy.db").display());
        let run = |args: &[&str]| registrar_in(r.dir.path(), &[], &[&["--db", copy.as_str()], args].concat());
        assert_eq!(run(&["import", out]).code, 0);
        assert_eq!(run(&["export"]).stdout, exported);
    }
}

cli_test! {
    /// A bad CSV names the line and imports nothing, however many good lines came before it.
    fn bad_imports_name_the_line(r) {
        r.ok(&["student", "add", "Alice", "Alice"]);
        let cases: [(&[u8], &str); 7] = [
            (b"name,course\nAlice,Math\n", "line 1: expected the header `student,course`, found `name,course`"),
            (b"", "line 1: the file is empty"),
            (b"student,course\nBob,Math\nBob,Art,Music\n", "line 3: expected 2 fields (student,course), found 3"),
            (b"student,course\nBob,Math\nBob\n", "line 3: expected 2 fields (student,course), found 1"),
            (b"student,course\nBob,Math\n\"  \",Art\n", "line 3: the student field is empty"),
            (b"student,course\nBob,Math\nBob,\xff\n", "line 3: field 2 is not valid UTF-8"),
            (b"student,course\nBob,Math\nAlice,Art\n", "line 3: 2 students are named \"Alice\" (#1, #2); an import cannot tell which one is meant"),
        ];
        for (i, (text, expected)) in cases.into_iter().enumerate() {
            let path = r.file(&format!("bad{i}.csv"), text);
            let message = r.fails(&["import", path.to_str().unwrap()]);
            let expected = format!("{}: {expected}", path.display());
            assert!(message.starts_with(&expected), "{message:?} should start with {expected:?}");
        }
        let long = format!("student,course\nBob,{}\n", "x".repeat(1001));
        let path = r.file("long.csv", long.as_bytes());
        assert!(r.fails(&["import", path.to_str().unwrap()]).contains("line 2: the course title starting"));
        let missing = r.dir.path().join("missing.csv");
        assert!(r.fails(&["import", missing.to_str().unwrap()]).starts_with(&format!("{}: ", missing.display())));
    }
}

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

cli_test! {
    /// Issue 12, item 11: a name that reads as an id is refused (it could never be given by
    /// name); an id too large for any row is reported as given.
    fn names_that_look_like_ids_and_ids_out_of_range(r) {
        assert_eq!(
            r.fails(&["student", "add", "Alice", "#5"]),
            "a student name cannot be \"#5\": `#` and digits is how ids are written (#5 means the student with id 5); write it another way, for example \"No. 5\""
        );
        r.ok(&["student", "add", "Alice", "#five", "# 5"]);
        assert_eq!(r.json(&["student", "show", "#five"])["id"], 2);
        assert!(r.fails(&["student", "rename", "Alice", "#12"]).starts_with("a student name cannot be \"#12\""));
        let path = r.file("ids.csv", b"student,course\nAlice,Math\nBob,#7\n");
        assert!(
            r.fails(&["import", path.to_str().unwrap()]).ends_with("line 3: a course title cannot be \"#7\": `#` and digits is how ids are written (#7 means the course with id 7); write it another way, for example \"No. 7\""),
        );
        assert_eq!(
            r.fails(&["student", "show", "#99999999999999999999"]),
            "no student has id #99999999999999999999: ids are whole numbers up to 9223372036854775807; `registrar student list` shows every student"
        );
        assert_eq!(
            r.fails(&["enroll", "Alice", "#0099999999999999999999"]),
            "no course has id #0099999999999999999999: ids are whole numbers up to 9223372036854775807; `registrar course list` shows every course"
        );
    }
}

cli_test! {
    /// Issue 12, item 12: adding a name that exists already works but warns (stderr, exit 0),
    /// and `--json` says which rows share it; counts take the right number ("1 course").
    fn repeated_names_warn_and_counts_read_right(r) {
        r.ok(&["student", "add", "Alice"]);
        let out = r.run(&["student", "add", "Alice", "Bob"]);
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(out.stdout, "id  name\n 2  Alice\n 3  Bob\n");
        assert_eq!(
            out.stderr,
            "warning: a student \"Alice\" existed already (#1); the new one is #2: give them by id from now on, or rename one (`registrar student rename #2 NEW`)\n"
        );
        assert_eq!(
            r.json(&["student", "add", "Alice", "Carol", "Carol"]),
            json!([
                {"id": 4, "name": "Alice", "same_name": [1, 2]},
                {"id": 5, "name": "Carol"},
                {"id": 6, "name": "Carol", "same_name": [5]},
            ])
        );
        r.ok(&["course", "add", "Math"]);
        assert_eq!(r.ok(&["enroll", "Bob", "Math"]), "enrolled Bob (#3) in Math (#1)\n");
        assert_eq!(r.ok(&["student", "show", "Bob"]), "Bob (#3): 1 course\nid  title\n 1  Math\n");
        assert_eq!(r.ok(&["course", "show", "Math"]), "Math (#1): 1 student\nid  name\n 3  Bob\n");
        assert_eq!(r.ok(&["student", "remove", "Bob"]), "removed student Bob (#3) and 1 enrollment\n");
        let path = r.file("one.csv", b"student,course\nDora,Art\n");
        assert_eq!(
            r.ok(&["import", path.to_str().unwrap()]),
            format!("imported {}: 1 student, 1 course and 1 enrollment added; 0 pairs skipped (repeated or enrolled already)\n", path.display())
        );
        let out = r.dir.path().join("one-out.csv");
        assert_eq!(
            r.ok(&["export", out.to_str().unwrap()]),
            format!("exported 1 enrollment to {}\n", out.display())
        );
    }
}

cli_test! {
    /// Issue 12, item 10, through the binary: malformed quoting is refused naming the line (it
    /// was silently rewritten, `"Alice"x` stored as `Alicex`), a file with CR-only line ends
    /// names the right line, and control characters from the file or the arguments are shown
    /// escaped in messages, never sent to the terminal.
    fn malformed_csv_and_control_characters(r) {
        let quoted = r.file("q.csv", b"student,course\nBob,Art\n\"Alice\"x,Math\n");
        let msg = r.fails(&["import", quoted.to_str().unwrap()]);
        assert!(msg.contains("line 3: field 1 has text after its closing quote"), "{msg}");
        let inner = r.file("i.csv", b"student,course\nAlice,\"Ma\"th\"\n");
        assert!(r.fails(&["import", inner.to_str().unwrap()]).contains("line 2: field 2"));
        let cr = r.file("cr.csv", b"student,course\rBob,Art\rCarol,Music\rDan\r");
        let msg = r.fails(&["import", cr.to_str().unwrap()]);
        assert!(msg.contains("line 4: expected 2 fields"), "{msg}");
        let esc = r.file("esc.csv", b"stu\x1b[2Jdent,course\nA,B\n");
        let msg = r.fails(&["import", esc.to_str().unwrap()]);
        assert!(msg.contains("stu\\u{1b}[2Jdent"), "{msg}");
        let msg = r.fails(&["student", "show", "X\x1b]0;owned\x07\u{202e}"]);
        assert!(!msg.chars().any(|c| c.is_control() || c == '\u{202e}'), "{msg:?}");
        assert!(msg.contains("\\u{1b}]0;owned\\u{7}\\u{202e}"), "{msg}");
        r.ok(&["student", "add", "Line\nBreak"]);
        assert_eq!(r.ok(&["student", "list"]), "id  name         courses\n 1  Line\\nBreak        0\n");
        assert_eq!(r.ok(&["export"]), "student,course\n", "stored as given, shown escaped");
    }
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
