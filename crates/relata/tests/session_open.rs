//! Opening databases (bad URLs, passwords never shown, missing directories, files that are not
//! databases) and creating schemas (`create_all` is idempotent; schema errors name the types).

#[macro_use]
mod common;

use common::*;
use relata::{schema, Database, Error, Model};

/// Declares the table `students` a second time.
#[derive(Model, Debug, Clone)]
#[relata(table = "students")]
pub struct Pupil {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub name: String,
}

// ---------------------------------------------------------------------------------------------
// Opening databases and creating schemas
// ---------------------------------------------------------------------------------------------

#[test]
fn open_rejects_unknown_schemes() {
    let err = Database::open("ftp://example.com/x.db").unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("ftp://example.com/x.db"), "{msg}");
    assert!(msg.contains("ftp"), "{msg}");

    let err = Database::open("sqlite://").unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    assert!(err.to_string().contains("sqlite://"), "{err}");
}

#[test]
fn open_never_shows_a_password() {
    // An unresolvable host (with the backend compiled in) or a missing backend: either way the
    // error shows the URL with its password masked.
    let url = "postgres://user:secret@host.invalid/db";
    let err = Database::open(url).unwrap_err();
    assert!(
        matches!(err, Error::InvalidUrl { .. } | Error::Connect { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(!msg.contains("secret"), "{msg}");
    assert!(!format!("{err:?}").contains("secret"), "{err:?}");
    assert!(msg.contains("postgres://user:***@host.invalid/db"), "{msg}");
    assert!(msg.contains("postgres"), "{msg}");
}

#[test]
fn open_fails_clearly_for_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path()
            .join("missing")
            .join("sub")
            .join("x.db")
            .display()
    );
    let err = Database::open(&url).unwrap_err();
    match &err {
        Error::Connect { url: u, .. } => assert_eq!(u, &url),
        other => panic!("expected Connect, got {other:?}"),
    }
    assert!(err.to_string().contains(&url), "{err}");
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn open_fails_clearly_for_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.db");
    std::fs::write(&path, "this is not a database\n".repeat(200)).unwrap();
    let url = format!("sqlite://{}", path.display());
    let err = Database::open(&url).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&url), "{msg}");
    assert!(msg.contains("not a database"), "{msg}");
    // The file is left alone.
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "this is not a database\n".repeat(200)
    );
}

backend_test! {
    fn create_all_is_idempotent(t) {
        seed_committed(&t.db);
        t.db.create_all(&school()).unwrap();
        t.db.create_all(&school()).unwrap();
        t.db.create_all(&schema![Course, Student]).unwrap();
        assert_eq!(contents(&t.db), seed_contents());
    }
}

#[test]
fn schema_errors_name_the_types() {
    let t = open_empty("memory").expect("SQLite is always available");
    let err =
        t.db.create_all(&schema![Student, Course, StudentCourse, Pupil])
            .unwrap_err();
    match &err {
        Error::Schema { message } => {
            assert!(message.contains("Student"), "{message}");
            assert!(message.contains("Pupil"), "{message}");
            assert!(message.contains("students"), "{message}");
        }
        other => panic!("expected Schema, got {other:?}"),
    }
    // Nothing was created.
    assert!(t.db.session().query::<Course>().count().is_err());

    let err =
        t.db.create_all(&schema![Student, StudentCourse])
            .unwrap_err();
    match &err {
        Error::Schema { message } => {
            assert!(message.contains("StudentCourse"), "{message}");
            assert!(message.contains("Course"), "{message}");
            assert!(message.contains("courses"), "{message}");
        }
        other => panic!("expected Schema, got {other:?}"),
    }
    assert!(t.db.session().query::<Student>().count().is_err());

    let err = t.db.create_all(&schema![Student, Student]).unwrap_err();
    assert!(matches!(err, Error::Schema { .. }), "{err:?}");
    assert!(err.to_string().contains("Student"), "{err}");

    // The schema is checked without a database too.
    assert!(schema![Course, StudentCourse].ordered().is_err());
    assert!(school().ordered().is_ok());
}
