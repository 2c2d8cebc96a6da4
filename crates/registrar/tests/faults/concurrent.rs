//! Several clerks at once on one database: every change succeeds for exactly one of them, and
//! the database ends as their successful commands imply.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::*;
use crate::fault_test;

fault_test! {
    /// Issue 12, item 1: two clerks enroll the same student in the same course at the same
    /// moment, then both drop it, 20 times over: one of each pair of commands succeeds, the
    /// other says it is enrolled already (not enrolled), and the pair is there exactly when it
    /// should be. Before, on PostgreSQL up to 20 of 20 races printed two successes.
    fn two_clerks_change_one_pair_at_once(t) {
        const ROUNDS: usize = 20;
        let students: Vec<String> = (0..ROUNDS).map(|i| format!("racer {i:02}")).collect();
        let courses: Vec<String> = (0..ROUNDS).map(|i| format!("race {i:02}")).collect();
        let add = |noun: &str, names: &[String]| {
            let mut args = vec![noun, "add"];
            args.extend(names.iter().map(String::as_str));
            assert_eq!(registrar(&t.url, &args).code, 0);
        };
        add("student", &students);
        add("course", &courses);
        let mut double = [0, 0];
        for round in 0..ROUNDS {
            for (step, command) in ["enroll", "drop"].into_iter().enumerate() {
                let args = [command, students[round].as_str(), courses[round].as_str()];
                let started = Instant::now();
                let racers = [spawn(&t.url, &args), spawn(&t.url, &args)];
                let outs: Vec<Out> = racers.into_iter().map(|c| finish(c, started)).collect();
                let won = outs.iter().filter(|o| o.code == 0).count();
                if won != 1 {
                    double[step] += 1;
                }
                assert_eq!(won, 1, "round {round}, {command}: {outs:?}");
                let loser = outs.iter().find(|o| o.code != 0).unwrap();
                let why = if command == "enroll" { "is already enrolled in" } else { "is not enrolled in" };
                assert!(loser.stderr.contains(why), "round {round}, {command}: {loser:?}");
            }
        }
        assert!(state(&t.url).pairs.is_empty());
        eprintln!(
            "{}: {ROUNDS} enroll races and {ROUNDS} drop races, {} and {} with two successes",
            t.backend, double[0], double[1]
        );
    }
}

fault_test! {
    /// Eight clerks each run a dozen random enroll and drop commands on three students and
    /// three courses, all at once: for every pair, the successful enrolls and drops alternate,
    /// so their difference is exactly whether the pair ends enrolled.
    fn eight_clerks_end_as_their_successes_imply(t) {
        let names = ["Алиса", "张伟", "Bob"];
        let titles = ["Math", "数学", "Art"];
        assert_eq!(registrar(&t.url, &["student", "add", names[0], names[1], names[2]]).code, 0);
        assert_eq!(registrar(&t.url, &["course", "add", titles[0], titles[1], titles[2]]).code, 0);
        let outcomes: Vec<(usize, usize, bool, bool)> = std::thread::scope(|scope| {
            let clerks: Vec<_> = (0..8u64)
                .map(|clerk| {
                    let url = t.url.clone();
                    scope.spawn(move || {
                        let mut rng = Rng(clerk * 7919 + 1);
                        (0..12)
                            .map(|_| {
                                let (s, c, enroll) = (rng.below(3), rng.below(3), rng.below(2) == 0);
                                let cmd = if enroll { "enroll" } else { "drop" };
                                let out = registrar(&url, &[cmd, names[s], titles[c]]);
                                if out.code != 0 {
                                    let expected = if enroll { "is already enrolled in" } else { "is not enrolled in" };
                                    assert!(out.stderr.contains(expected), "clerk {clerk}: {out:?}");
                                }
                                (s, c, enroll, out.code == 0)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            clerks.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let mut net: BTreeMap<(usize, usize), i64> = BTreeMap::new();
        let mut succeeded = 0;
        for &(s, c, enroll, ok) in &outcomes {
            if ok {
                succeeded += 1;
                *net.entry((s, c)).or_default() += if enroll { 1 } else { -1 };
            }
        }
        let pairs = state(&t.url).pairs;
        for (s, name) in names.iter().enumerate() {
            for (c, title) in titles.iter().enumerate() {
                let enrolled = pairs.contains(&(name.to_string(), title.to_string()));
                let n = net.get(&(s, c)).copied().unwrap_or(0);
                assert_eq!(n, i64::from(enrolled), "{name} / {title}: successes imply {n}");
            }
        }
        eprintln!(
            "{}: 8 clerks, {} commands, {succeeded} succeeded; the final pairs equal what the successes imply",
            t.backend,
            outcomes.len()
        );
    }
}

fault_test! {
    /// Issue 12, item 2: two imports of the same new names at once create each student and
    /// course once (before, PostgreSQL created all of them twice in 10 of 10 races).
    fn two_imports_of_new_names_create_each_once(t) {
        let dir = tempfile::tempdir().unwrap();
        let mut expected = BTreeSet::new();
        let mut duplicated = 0;
        for round in 0..10 {
            let (text, pairs) = csv(&format!("r{round}"), 20, 4, 2);
            expected.extend(pairs);
            let path = file(dir.path(), &format!("r{round}.csv"), text.as_bytes());
            let started = Instant::now();
            let both = [spawn(&t.url, &["import", &path]), spawn(&t.url, &["import", &path])];
            for out in both.into_iter().map(|c| finish(c, started)) {
                assert_eq!(out.code, 0, "round {round}: {out:?}");
            }
            let s = state(&t.url);
            let unique: BTreeSet<&String> = s.students.iter().chain(&s.courses).collect();
            if unique.len() != s.students.len() + s.courses.len() {
                duplicated += 1;
            }
            assert_eq!(unique.len(), s.students.len() + s.courses.len(), "round {round}: a name was created twice");
            assert_eq!(s.pairs, expected, "round {round}");
        }
        eprintln!("{}: 10 rounds of two imports at once, {duplicated} created a name twice", t.backend);
    }
}

fault_test! {
    /// Issue 12, item 3: eight clerks use a brand-new database for the first time at the same
    /// moment: every command succeeds (before: `relation "students" already exists` on
    /// PostgreSQL in 10 of 10 trials, `database is locked` on a new SQLite file in 2 of 10).
    fn eight_first_users_of_a_new_database_all_succeed(t) {
        let dir = tempfile::tempdir().unwrap();
        let mut failed = 0;
        for trial in 0..10 {
            // SQLite: a file nobody has opened yet; a server: a schema with no tables.
            let fresh;
            let url = if t.backend == "file" {
                format!("sqlite://{}", dir.path().join(format!("new{trial}.db")).display())
            } else {
                fresh = crate::places::open_empty(t.backend).unwrap();
                fresh.url.clone()
            };
            let started = Instant::now();
            let names: Vec<String> = (0..8).map(|i| format!("first {i}")).collect();
            let clerks: Vec<Child> = names.iter().map(|n| spawn(&url, &["student", "add", n])).collect();
            for out in clerks.into_iter().map(|c| finish(c, started)) {
                if out.code != 0 {
                    failed += 1;
                }
                assert_eq!(out.code, 0, "trial {trial}: {out:?}");
            }
            assert_eq!(state(&url).students, names, "trial {trial}");
        }
        eprintln!("{}: 10 trials of 8 first users at once, {failed} failed", t.backend);
    }
}

fault_test! {
    /// Issue 12, item 4: while another connection holds a write transaction, `list`, `show`
    /// and `export` answer at once (before: they failed after 5 s on SQLite and waited out the
    /// writer on PostgreSQL, whose `CREATE INDEX IF NOT EXISTS` at every open queued for a
    /// table lock).
    fn readers_do_not_wait_for_a_writer(t) {
        assert_eq!(registrar(&t.url, &["student", "add", "Alice"]).code, 0);
        assert_eq!(registrar(&t.url, &["course", "add", "Math"]).code, 0);
        assert_eq!(registrar(&t.url, &["enroll", "Alice", "Math"]).code, 0);
        let hold = Duration::from_secs(6);
        let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let url = t.url.clone();
            let backend = t.backend;
            let writer = scope.spawn(move || hold_a_write_transaction(backend, &url, hold, held_tx));
            held_rx.recv_timeout(Duration::from_secs(10)).expect("the writer holds its transaction");
            for args in [&["student", "list"][..], &["course", "show", "Math"], &["export"], &["--json", "student", "show", "Alice"]] {
                let out = registrar(&t.url, args);
                assert_eq!(out.code, 0, "{args:?}: {out:?}");
                assert!(out.took < Duration::from_secs(3), "{args:?} waited {:?} for the writer", out.took);
            }
            writer.join().unwrap();
        });
        eprintln!("{}: list, show and export answered while a writer held its transaction", t.backend);
    }
}

/// Holds a transaction that has written to `students` for `hold`, signalling once it has: on a
/// server through its own client program (`psql`, `mariadb`), on SQLite through relata.
fn hold_a_write_transaction(
    backend: &str,
    url: &str,
    hold: Duration,
    held: std::sync::mpsc::Sender<()>,
) {
    let secs = hold.as_secs();
    match backend {
        "file" => {
            let db = relata::Database::open(url).unwrap();
            let mut s = db.session();
            s.transaction(|s| {
                s.add(Student {
                    id: None,
                    name: "Writer".into(),
                });
                s.commit()?; // lands, and the block goes on holding the write lock
                s.add(Student {
                    id: None,
                    name: "Writer 2".into(),
                });
                held.send(()).unwrap();
                std::thread::sleep(hold);
                Ok::<_, relata::Error>(())
            })
            .unwrap();
        }
        "postgres" => {
            let mut psql = Command::new("psql");
            psql.arg(url).args(["-q", "-v", "ON_ERROR_STOP=1"]);
            hold_in_client(
                psql,
                "BEGIN; INSERT INTO students (name) VALUES ('Writer');",
                &format!("SELECT pg_sleep({secs}); COMMIT;"),
                held,
            );
        }
        "mysql" => {
            // mysql://user[:password]@host:port/db
            let rest = url.strip_prefix("mysql://").expect("a mysql:// URL");
            let (user, rest) = rest.split_once('@').expect("a user");
            let (host_port, db) = rest.split_once('/').expect("a database");
            let db = db.split('?').next().unwrap();
            let (host, port) = host_port.split_once(':').unwrap_or((host_port, "3306"));
            let (user, password) = user.split_once(':').unwrap_or((user, ""));
            let mut client = Command::new("mariadb");
            client.args(["-h", host, "-P", port, "-u", user, db]);
            if !password.is_empty() {
                client.env("MYSQL_PWD", password);
            }
            hold_in_client(
                client,
                "START TRANSACTION; INSERT INTO students (name) VALUES ('Writer');",
                &format!("SELECT SLEEP({secs}); COMMIT;"),
                held,
            );
        }
        other => panic!("no writer for {other}"),
    }
}

/// Feeds a server's client program (`psql`, `mariadb`) a transaction that writes (`begin`),
/// signals that it holds it, then sleeps inside it and commits (`sleep_and_commit`).
fn hold_in_client(
    mut client: Command,
    begin: &str,
    sleep_and_commit: &str,
    held: std::sync::mpsc::Sender<()>,
) {
    use std::io::Write;
    let mut child = client
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the server's client program");
    let mut input = child.stdin.take().unwrap();
    writeln!(input, "{begin}").unwrap();
    // The client runs each line as it arrives; give it a moment to have written.
    std::thread::sleep(Duration::from_millis(500));
    held.send(()).unwrap();
    writeln!(input, "{sleep_and_commit}").unwrap();
    drop(input);
    assert!(child.wait().unwrap().success());
}
