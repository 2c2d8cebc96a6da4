//! Failed commits: UNIQUE, NOT NULL and FOREIGN KEY violations (the whole commit fails, the
//! session keeps its changes and commits once the cause is fixed) and a locked SQLite database.
//! The backend tests run on a fresh database of every backend: SQLite in memory and in a file,
//! PostgreSQL and MySQL/MariaDB.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::tags::*;
use common::*;
use relata::{schema, ConstraintKind, Database, Error, Model, ObjectState};

/// Optional in Rust, NOT NULL in a hand-made table.
#[derive(Model, Debug, Clone)]
#[relata(table = "notes")]
pub struct Note {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub body: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Failed commits
// ---------------------------------------------------------------------------------------------

fn tags_schema() -> relata::Schema {
    schema![Student, Course, StudentCourse, Tag, StudentTag]
}

backend_test! {
    fn unique_violation_fails_the_whole_commit_and_can_be_fixed(t, tags_schema()) {
        let mut s = t.db.session();
        s.add(tag("rust"));
        seed(&mut s);
        s.commit().unwrap();

        let mut s = t.db.session();
        let math = course_titled(&mut s, "Math");
        let bob = student_named(&mut s, "Bob");
        let zed = s.add(student("Zed"));
        let go = s.add(tag("go"));
        let dup = s.add(tag("rust"));
        s.link(Student::tags(), zed, go);
        s.link(Student::tags(), zed, dup);
        s.link(Student::courses(), zed, math);
        s[bob].name = "Bobby".into();

        let err = s.commit().unwrap_err();
        match &err {
            Error::Constraint {
                kind,
                table,
                constraint,
                row,
                ..
            } => {
                assert_eq!(*kind, ConstraintKind::Unique);
                assert_eq!(table, "tags");
                assert_eq!(constraint, "tags.label");
                let row = row.as_deref().expect("the rejected row");
                assert!(row.contains("\"rust\""), "{row}");
                assert!(!row.contains("\"go\""), "only the offending row: {row}");
            }
            other => panic!("expected a UNIQUE violation, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("tags.label"), "{msg}");
        assert!(msg.contains("rust"), "{msg}");

        // Nothing was written.
        assert_eq!(contents(&t.db), seed_contents());
        assert_eq!(tag_labels(&t.db), ["rust"]);
        // The session still holds everything.
        assert!(s.has_changes());
        assert_eq!(s.state(zed), ObjectState::New);
        assert_eq!(s.state(dup), ObjectState::New);
        assert_eq!(s.id(zed), None);
        assert_eq!(s.id(go), None);
        assert_eq!(s.state(bob), ObjectState::Modified);
        assert_eq!(s[bob].name, "Bobby");
        assert_eq!(s.related(Student::tags(), zed).unwrap(), [go, dup]);
        assert_eq!(students_of(&mut s, math), ["Alice", "Bobby", "Zed"]);

        // Fix and commit again.
        s[dup].label = "rust 2".into();
        s.commit().unwrap();
        assert!(s.id(zed).is_some() && s.id(dup).is_some());
        assert_eq!(s.state(bob), ObjectState::Persistent);
        assert_eq!(tag_labels(&t.db), ["go", "rust", "rust 2"]);
        let c = contents(&t.db);
        assert_eq!(c.students, ["Alice", "Bobby", "Zed"]);
        assert!(c.pairs.contains(&("Zed".to_owned(), "Math".to_owned())));
        let mut s2 = t.db.session();
        let zed = student_named(&mut s2, "Zed");
        let ts = s2.related(Student::tags(), zed).unwrap();
        let labels: Vec<&str> = ts.iter().map(|&k| s2[k].label.as_str()).collect();
        assert_eq!(labels, ["go", "rust 2"]);
    }
}

backend_test! {
    fn not_null_violation_names_the_column(t, schema![]) {
        t.db.execute_batch(t.notes_not_null_ddl()).unwrap();
        let mut s = t.db.session();
        let fine = s.add(Note {
            id: None,
            body: Some("fine".into()),
        });
        let empty = s.add(Note {
            id: None,
            body: None,
        });
        let err = s.commit().unwrap_err();
        match &err {
            Error::Constraint {
                kind,
                table,
                constraint,
                row,
                ..
            } => {
                assert_eq!(*kind, ConstraintKind::NotNull);
                assert_eq!(table, "notes");
                assert_eq!(constraint, "notes.body");
                // PostgreSQL stops the transaction at the first error, so the row comes
                // from its message: the whole row, generated key included.
                let expected = if t.backend == "postgres" {
                    "notes(2, null)"
                } else {
                    "notes(body = NULL)"
                };
                assert_eq!(row.as_deref(), Some(expected));
            }
            other => panic!("expected a NOT NULL violation, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.starts_with("notes.body is NOT NULL"), "{msg}");
        assert_eq!(t.db.session().query::<Note>().count().unwrap(), 0);
        assert!(s.has_changes());
        assert_eq!(s.state(fine), ObjectState::New);

        s[empty].body = Some("fixed".into());
        s.commit().unwrap();
        let mut s2 = t.db.session();
        assert_eq!(s2.query::<Note>().count().unwrap(), 2);
        let k = s2
            .query::<Note>()
            .filter(Note::BODY.eq("fixed"))
            .one()
            .unwrap();
        assert_eq!(s2.id(k), s.id(empty));
    }
}

backend_test! {
    fn foreign_key_violation_names_the_missing_side(t) {
        seed_committed(&t.db);
        let mut a = t.db.session();
        let bob = student_named(&mut a, "Bob");
        let science = course_titled(&mut a, "Science");
        let science_id = a.id(science).unwrap();

        let mut b = t.db.session();
        let sci = course_titled(&mut b, "Science");
        b.delete(sci);
        b.commit().unwrap();
        let after_b = contents(&t.db);
        assert_eq!(after_b.courses, ["Math"]);

        let newbie = a.add(student("Newbie"));
        a.link(Student::courses(), bob, science);
        let err = a.commit().unwrap_err();
        match &err {
            Error::Constraint {
                kind,
                table,
                constraint,
                ..
            } => {
                assert_eq!(*kind, ConstraintKind::ForeignKey);
                assert_eq!(table, "student_course");
                assert!(
                    constraint.contains(&format!("student_course.course_id = {science_id}")),
                    "{constraint}"
                );
                assert!(constraint.contains("courses.id"), "{constraint}");
                assert!(
                    !constraint.contains("student_id"),
                    "the student exists: {constraint}"
                );
            }
            other => panic!("expected a FOREIGN KEY violation, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("student_course"), "{msg}");
        assert!(msg.contains("course_id"), "{msg}");
        assert_eq!(contents(&t.db), after_b, "nothing written");
        assert!(a.has_changes());
        assert_eq!(a.state(newbie), ObjectState::New);

        // Dropping the bad link lets the rest through.
        assert!(a.unlink(Student::courses(), bob, science));
        a.commit().unwrap();
        let c = contents(&t.db);
        assert_eq!(c.students, ["Alice", "Bob", "Newbie"]);
        assert_eq!(c.pairs, after_b.pairs);
    }
}

#[test]
fn a_locked_database_is_busy_and_the_commit_can_be_retried() {
    let (_dir, url) = temp_file_url();
    let db = Database::open(&url).unwrap();
    db.create_all(&school()).unwrap();
    let other = Database::open(&url).unwrap();

    let mut s = db.session();
    let k = seed(&mut s);
    // Another connection holds the write lock for the length of its transaction block.
    let mut holder = other.session();
    holder
        .transaction(|_| {
            let started = Instant::now();
            let err = s.commit().unwrap_err();
            let waited = started.elapsed();
            assert!(
                matches!(err, Error::Busy { .. }),
                "expected Busy, got {err:?}"
            );
            assert!(err.is_retryable());
            assert!(
                waited >= Duration::from_secs(1),
                "waited for the lock first: {waited:?}"
            );
            assert!(s.has_changes());
            assert_eq!(s.id(k.alice), None);
            Ok::<_, relata::Error>(())
        })
        .unwrap();

    s.commit().unwrap();
    assert!(s.id(k.alice).is_some());
    assert_eq!(contents(&db), seed_contents());
    assert_eq!(contents(&other), seed_contents());
}
