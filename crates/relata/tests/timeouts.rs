//! A server that stops answering, or a connection that breaks, mid-command (issue 12, items 5
//! and 11): relata gives up after its timeouts with an error that says what happened, never
//! hangs, and writes nothing half. A proxy in front of the test server (`common::proxy`) freezes
//! or cuts the connection on command; a silent listener accepts and never greets.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::proxy::{host_port, Proxy};
use common::*;
use relata::{Database, Error};

/// A database opened through a proxy, with a 1 s statement timeout (so relata gives up on a
/// silent server after 1 + 5 s).
fn through_proxy(t: &TestDb) -> (Proxy, Database) {
    let proxy = Proxy::to(&host_port(&t.url));
    let mut url = with_param(&proxy.url(&t.url), "relata_statement_timeout=1");
    if t.backend == "mysql" {
        // The driver would otherwise switch a local connection to the server's Unix socket,
        // around the proxy.
        url = with_param(&url, "prefer_socket=false");
    }
    let db = Database::open(&url).unwrap_or_else(|e| panic!("open {url}: {e}"));
    (proxy, db)
}

/// A server that accepts the connection and never greets: `Database::open` gives up after the
/// connect timeout (1 s here, 5 s by default) with `Error::Connect` that says so. Before, it
/// hung for over 60 s.
fn a_silent_server_is_a_connect_error_after_the_connect_timeout(scheme: &str) {
    let silent = Proxy::silent();
    let url = format!(
        "{scheme}://root:s3cret@{}/test?relata_connect_timeout=1",
        silent.addr()
    );
    let started = Instant::now();
    let err = Database::open(&url).unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "gave up after {took:?}");
    assert!(silent.accepted() >= 1, "the listener was reached");
    match &err {
        Error::Connect { url, message } => {
            assert!(!url.contains("s3cret"), "{url}");
            assert!(message.contains("within 1 s"), "{message}");
        }
        other => panic!("expected Error::Connect, got {other:?}"),
    }
}

#[test]
#[cfg_attr(
    relata_skip_postgres,
    ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)"
)]
fn postgres_a_silent_server_is_a_connect_error_after_the_connect_timeout() {
    if server_url("postgres").is_some() {
        a_silent_server_is_a_connect_error_after_the_connect_timeout("postgres");
    }
}

#[test]
#[cfg_attr(
    relata_skip_mysql,
    ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)"
)]
fn mysql_a_silent_server_is_a_connect_error_after_the_connect_timeout() {
    if server_url("mysql").is_some() {
        a_silent_server_is_a_connect_error_after_the_connect_timeout("mysql");
    }
}

/// The server stops answering between two queries: the next one gives up after the statement
/// timeout plus 5 s with `Error::ConnectionLost` saying the server sent nothing; once the
/// server answers again, the same `Database` works (the pool dropped the dead connection).
fn a_frozen_server_is_a_lost_connection_after_the_timeout(t: &TestDb) {
    let (proxy, db) = through_proxy(t);
    seed_committed(&db);
    proxy.freeze();
    let started = Instant::now();
    let err = db.session().query::<Student>().count().unwrap_err();
    let took = started.elapsed();
    assert!(
        (Duration::from_secs(5)..Duration::from_secs(10)).contains(&took),
        "gave up after {took:?}"
    );
    match &err {
        Error::ConnectionLost {
            message, in_commit, ..
        } => {
            assert!(message.contains("sent nothing"), "{message}");
            assert!(!in_commit);
        }
        other => panic!("expected Error::ConnectionLost, got {other:?}"),
    }
    assert!(err.to_string().starts_with("lost the connection"), "{err}");
    proxy.thaw();
    assert_eq!(db.session().query::<Student>().count().unwrap(), 2);
}

/// The server stops answering just as the commit is sent: relata gives up, says the commit may
/// or may not have landed (the truth: it cannot know), and the server, seeing the connection
/// close, rolls the transaction back: nothing was written.
fn a_server_frozen_at_commit_leaves_the_outcome_unknown_and_writes_nothing(t: &TestDb) {
    let (proxy, db) = through_proxy(t);
    seed_committed(&db);
    let mut s = db.session();
    for i in 0..50 {
        s.add(student(&format!("late {i}")));
    }
    proxy.freeze_on(b"COMMIT");
    let started = Instant::now();
    let err = s.commit().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(proxy.is_frozen(), "the proxy froze at COMMIT");
    match &err {
        Error::ConnectionLost { in_commit, .. } => assert!(in_commit, "{err:?}"),
        other => panic!("expected Error::ConnectionLost during COMMIT, got {other:?}"),
    }
    assert!(
        err.to_string().contains("may or may not have landed"),
        "{err}"
    );
    assert!(s.has_changes(), "the session keeps its changes");
    // The server saw the client leave before COMMIT arrived.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let students = contents(&t.db).students.len();
        if students == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{students} students after the lost commit"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The connection breaks mid-session (a network failure, a server restart): the next statement
/// is `Error::ConnectionLost` ("lost the connection"), not "cannot open database" as before, and
/// the next one after it opens a new connection and works.
fn a_cut_connection_is_lost_not_unopenable(t: &TestDb) {
    let (proxy, db) = through_proxy(t);
    seed_committed(&db);
    proxy.cut();
    let err = db.session().query::<Student>().count().unwrap_err();
    assert!(
        matches!(
            err,
            Error::ConnectionLost {
                in_commit: false,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.starts_with("lost the connection to database"), "{msg}");
    assert!(!msg.contains("cannot open"), "{msg}");
    assert_eq!(db.session().query::<Student>().count().unwrap(), 2);
}

/// A statement that runs longer than the statement timeout is stopped by the server itself:
/// `Error::Timeout`, and the connection stays usable.
fn a_slow_statement_is_stopped_by_the_server(t: &TestDb) {
    let db = Database::open(&with_param(&t.url, "relata_statement_timeout=0.5")).unwrap();
    let sleep = if t.backend == "postgres" {
        "SELECT pg_sleep(3)"
    } else {
        "SELECT SLEEP(3)"
    };
    let started = Instant::now();
    let err = db.execute_batch(sleep).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string().contains("relata_statement_timeout"),
        "{err}"
    );
    db.create_all(&school()).unwrap();
    seed_committed(&db);
    assert_eq!(contents(&db), seed_contents());
}

macro_rules! server_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[test]
                #[cfg_attr(relata_skip_postgres, ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)")]
                fn postgres() {
                    if let Some(t) = open_with("postgres", &school()) {
                        super::$name(&t);
                    }
                }

                #[test]
                #[cfg_attr(relata_skip_mysql, ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)")]
                fn mysql() {
                    if let Some(t) = open_with("mysql", &school()) {
                        super::$name(&t);
                    }
                }
            }
        )*
    };
}

server_tests!(
    a_frozen_server_is_a_lost_connection_after_the_timeout,
    a_server_frozen_at_commit_leaves_the_outcome_unknown_and_writes_nothing,
    a_cut_connection_is_lost_not_unopenable,
    a_slow_statement_is_stopped_by_the_server,
);
