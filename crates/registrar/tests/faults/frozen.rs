//! A server that stops answering (issue 12, item 5): registrar gives up after its timeouts
//! with an error that says what happened, and nothing of the interrupted import is kept. A
//! proxy in front of the test server freezes on command; a silent listener never greets.

use std::time::Duration;

use super::*;
use crate::places::with_param;
use crate::proxy::{host_port, Proxy};

/// The server URLs of the test servers, when set (else the scenario is skipped by its
/// `ignore` attribute).
fn server(backend: &'static str) -> Option<crate::places::TestDb> {
    crate::places::open_empty(backend)
}

/// A URL through `proxy` with a 1 s statement timeout (relata gives a silent server up after
/// 1 + 5 s), on MySQL without the driver's switch to the local socket.
fn through(proxy: &Proxy, t: &crate::places::TestDb) -> String {
    let url = with_param(&proxy.url(&t.url), "relata_statement_timeout=1");
    if t.backend == "mysql" {
        with_param(&url, "prefer_socket=false")
    } else {
        url
    }
}

/// A server that accepts the connection and never greets: registrar gives up after the
/// default connect timeout (5 s) with one line that says so (it hung for over 60 s).
fn silent_server_is_a_quick_error(scheme: &str) {
    let silent = Proxy::silent();
    let url = format!("{scheme}://clerk:s3cret@{}/school", silent.addr());
    let out = registrar(&url, &["student", "list"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.took < Duration::from_secs(8), "{out:?}");
    assert!(
        out.stderr
            .contains("did not complete the connection within 5 s"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("s3cret"), "{out:?}");
    eprintln!(
        "{scheme}: a silent server was given up after {:?}",
        out.took
    );
}

#[test]
#[cfg_attr(
    relata_skip_postgres,
    ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)"
)]
fn postgres_a_silent_server_is_a_quick_error() {
    silent_server_is_a_quick_error("postgres");
}

#[test]
#[cfg_attr(
    relata_skip_mysql,
    ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)"
)]
fn mysql_a_silent_server_is_a_quick_error() {
    silent_server_is_a_quick_error("mysql");
}

/// The server freezes in the middle of an import: when the import's rows are being written
/// (`INSERT`), or just as it commits (`COMMIT`). registrar gives up within the timeout, says
/// whether the commit may have landed, and the database holds none of the import.
fn frozen_import_is_given_up(backend: &'static str) {
    let Some(t) = server(backend) else { return };
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(registrar(&t.url, &["student", "add", "Alice"]).code, 0);
    let before = state(&t.url);
    let (text, _) = csv("f", 300, 20, 3);
    let path = file(dir.path(), "frozen.csv", text.as_bytes());
    for (trigger, says) in [
        ("INSERT", "nothing of the unfinished transaction is kept"),
        ("COMMIT", "may or may not have landed"),
    ] {
        let proxy = Proxy::to(&host_port(&t.url));
        proxy.freeze_on(trigger.as_bytes());
        let out = registrar(&through(&proxy, &t), &["import", &path]);
        assert_eq!(out.code, 1, "{trigger}: {out:?}");
        assert!(out.took < Duration::from_secs(12), "{trigger}: {out:?}");
        assert!(
            out.stderr.contains("lost the connection"),
            "{trigger}: {out:?}"
        );
        assert!(out.stderr.contains(says), "{trigger}: {out:?}");
        drop(proxy);
        // The server saw the client go before the commit arrived.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while state(&t.url) != before {
            assert!(
                std::time::Instant::now() < deadline,
                "{trigger}: the import was partly kept"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("{backend}: server frozen at {trigger} during an import: given up after {:?}, nothing kept", out.took);
    }
    // With the server answering again, the import goes through.
    assert_eq!(registrar(&t.url, &["import", &path]).code, 0);
}

#[test]
#[cfg_attr(
    relata_skip_postgres,
    ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)"
)]
fn postgres_a_server_frozen_mid_import_is_given_up() {
    frozen_import_is_given_up("postgres");
}

#[test]
#[cfg_attr(
    relata_skip_mysql,
    ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)"
)]
fn mysql_a_server_frozen_mid_import_is_given_up() {
    frozen_import_is_given_up("mysql");
}
