//! Shared models and helpers for relata's integration tests: the seed models (students and
//! courses, many-to-many through `student_course`) and fresh databases on every backend.
#![allow(dead_code)] // each test crate uses a different part of this module

use std::collections::BTreeSet;

use relata::{schema, Association, Database, Key, Model, Schema, Session};
use tempfile::TempDir;

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "students")]
pub struct Student {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "courses")]
pub struct Course {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub title: String,
}

#[derive(Association)]
#[relata(table = "student_course")]
pub struct StudentCourse {
    #[relata(references = Student, relation = "courses")]
    pub student_id: i64,
    #[relata(references = Course, relation = "students")]
    pub course_id: i64,
}

pub fn student(name: &str) -> Student {
    Student {
        id: None,
        name: name.into(),
    }
}

pub fn course(title: &str) -> Course {
    Course {
        id: None,
        title: title.into(),
    }
}

/// The seed schema.
pub fn school() -> Schema {
    schema![Student, Course, StudentCourse]
}

/// A freshly opened database of one backend; the temporary directory (for files) lives as long
/// as this value.
pub struct TestDb {
    pub db: Database,
    pub url: String,
    /// `"memory"` or `"file"`, for messages.
    pub backend: &'static str,
    dir: Option<TempDir>,
}

impl TestDb {
    /// The temporary directory of a file database.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(TempDir::path)
    }
}

/// The URL of a new in-memory database.
pub const MEMORY: &str = "sqlite::memory:";

/// A new, empty temporary directory and the URL of a database file inside it.
pub fn temp_file_url() -> (TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    assert!(
        url.starts_with("sqlite:///"),
        "absolute path expected: {url}"
    );
    (dir, url)
}

/// Opens a new database of the given backend, without creating any table.
pub fn open_empty(backend: &'static str) -> TestDb {
    match backend {
        "memory" => TestDb {
            db: Database::open(MEMORY).expect("open in-memory database"),
            url: MEMORY.to_owned(),
            backend,
            dir: None,
        },
        "file" => {
            let (dir, url) = temp_file_url();
            TestDb {
                db: Database::open(&url).unwrap_or_else(|e| panic!("open {url}: {e}")),
                url,
                backend,
                dir: Some(dir),
            }
        }
        other => panic!("unknown backend {other}"),
    }
}

/// Opens a new database of the given backend with `schema` created.
pub fn open_with(backend: &'static str, schema: &Schema) -> TestDb {
    let t = open_empty(backend);
    t.db.create_all(schema)
        .unwrap_or_else(|e| panic!("create_all on {}: {e}", t.url));
    t
}

/// The backends every test runs on.
pub const BACKENDS: [&str; 2] = ["memory", "file"];

/// Runs `test` once per backend, each time on a brand-new database holding the seed schema.
pub fn each_backend(test: impl Fn(&TestDb)) {
    each_backend_with(&school(), test)
}

/// Runs `test` once per backend, each time on a brand-new database holding `schema`.
pub fn each_backend_with(schema: &Schema, test: impl Fn(&TestDb)) {
    for backend in BACKENDS {
        let t = open_with(backend, schema);
        // Shown with the output of a failing test: which backend failed.
        eprintln!("--- backend: {backend} ({})", t.url);
        test(&t);
    }
}

/// The seed objects' keys.
#[derive(Debug, Clone, Copy)]
pub struct Seed {
    pub alice: Key<Student>,
    pub bob: Key<Student>,
    pub math: Key<Course>,
    pub science: Key<Course>,
}

/// Adds the seed scenario (Alice takes Math and Science, Bob takes Math) without committing.
pub fn seed(s: &mut Session) -> Seed {
    let alice = s.add(student("Alice"));
    let bob = s.add(student("Bob"));
    let math = s.add(course("Math"));
    let science = s.add(course("Science"));
    assert_eq!(s.extend(Student::courses(), alice, [math, science]), 2);
    assert!(s.link(Student::courses(), bob, math));
    Seed {
        alice,
        bob,
        math,
        science,
    }
}

/// Adds and commits the seed scenario.
pub fn seed_committed(db: &Database) {
    let mut s = db.session();
    seed(&mut s);
    s.commit().expect("commit seed");
}

pub fn names(s: &Session, keys: &[Key<Student>]) -> Vec<String> {
    keys.iter().map(|&k| s[k].name.clone()).collect()
}

pub fn titles(s: &Session, keys: &[Key<Course>]) -> Vec<String> {
    keys.iter().map(|&k| s[k].title.clone()).collect()
}

/// The titles of a student's courses, in the collection's order.
pub fn courses_of(s: &mut Session, k: Key<Student>) -> Vec<String> {
    let ks = s.related(Student::courses(), k).expect("related courses");
    titles(s, &ks)
}

/// The names of a course's students, in the collection's order.
pub fn students_of(s: &mut Session, k: Key<Course>) -> Vec<String> {
    let ks = s.related(Course::students(), k).expect("related students");
    names(s, &ks)
}

/// The only student with this name (loaded from the database if needed).
pub fn student_named(s: &mut Session, name: &str) -> Key<Student> {
    s.query::<Student>()
        .filter(Student::NAME.eq(name))
        .one()
        .unwrap_or_else(|e| panic!("student {name:?}: {e}"))
}

/// The only course with this title.
pub fn course_titled(s: &mut Session, title: &str) -> Key<Course> {
    s.query::<Course>()
        .filter(Course::TITLE.eq(title))
        .one()
        .unwrap_or_else(|e| panic!("course {title:?}: {e}"))
}

/// What the database holds, read through a brand-new session: every student's name, every
/// course's title, and every pair as (name, title).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contents {
    pub students: Vec<String>,
    pub courses: Vec<String>,
    pub pairs: BTreeSet<(String, String)>,
}

/// Reads the whole database through a new session, checking that both sides of the relationship
/// agree (students' collections loaded eagerly, courses' lazily).
pub fn contents(db: &Database) -> Contents {
    let mut s = db.session();
    let studs = s
        .query::<Student>()
        .order_by(Student::NAME.asc())
        .eager(Student::courses())
        .all()
        .expect("query students");
    let mut pairs = BTreeSet::new();
    for &st in &studs {
        for c in s.related(Student::courses(), st).expect("related") {
            assert!(
                pairs.insert((s[st].name.clone(), s[c].title.clone())),
                "duplicate pair in {}'s courses",
                s[st].name
            );
        }
    }
    let crs = s
        .query::<Course>()
        .order_by(Course::TITLE.asc())
        .all()
        .expect("query courses");
    let mut back = BTreeSet::new();
    for &c in &crs {
        for st in s.related(Course::students(), c).expect("related") {
            assert!(
                back.insert((s[st].name.clone(), s[c].title.clone())),
                "duplicate pair in {}'s students",
                s[c].title
            );
        }
    }
    assert_eq!(pairs, back, "the two sides of student_course disagree");
    Contents {
        students: names(&s, &studs),
        courses: titles(&s, &crs),
        pairs,
    }
}

/// `(name, title)` pairs from string slices.
pub fn pairs(v: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    v.iter()
        .map(|&(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
}

/// The seed scenario's database contents.
pub fn seed_contents() -> Contents {
    Contents {
        students: vec!["Alice".into(), "Bob".into()],
        courses: vec!["Math".into(), "Science".into()],
        pairs: pairs(&[("Alice", "Math"), ("Alice", "Science"), ("Bob", "Math")]),
    }
}
