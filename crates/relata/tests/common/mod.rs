//! Shared models and helpers for relata's integration tests: the seed models (students and
//! courses, many-to-many through `student_course`) and fresh databases on every backend.
#![allow(dead_code)] // each test crate uses a different part of this module

use std::collections::BTreeSet;

use relata::{schema, Association, Database, Key, Model, Schema, Session};

pub mod members;
mod places;
pub mod proxy;
pub mod rng;
pub mod tags;
pub use places::*;

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

/// Opens a new database of the given backend with `schema` created; `None` when skipped.
pub fn open_with(backend: &'static str, schema: &Schema) -> Option<TestDb> {
    let t = open_empty(backend)?;
    t.db.create_all(schema)
        .unwrap_or_else(|e| panic!("create_all on {}: {e}", t.url));
    Some(t)
}

/// Every backend, by the name its tests carry.
pub const BACKENDS: [&str; 4] = ["memory", "file", "postgres", "mysql"];

/// Runs `test` on a brand-new database of `backend` holding `schema` (nothing when skipped).
pub fn run_on(backend: &'static str, schema: &Schema, test: impl FnOnce(&TestDb)) {
    if let Some(t) = open_with(backend, schema) {
        // Shown with the output of a failing test: which database failed.
        eprintln!("--- backend: {backend} ({})", t.url);
        test(&t);
    }
}

/// Declares a test that runs once per backend: a module `name` holding the tests
/// `sqlite_memory`, `sqlite_file`, `postgres` and `mysql`, each on a brand-new database holding
/// `schema` (the seed schema when left out). `cargo test postgres` runs one backend's tests.
///
/// ```ignore
/// backend_test! {
///     /// What it checks.
///     fn name(t, schema![Member]) { ... uses t: &TestDb ... }
/// }
/// ```
#[macro_export]
macro_rules! backend_test {
    ($(#[$attr:meta])* fn $name:ident($t:ident $(, $schema:expr)?) $body:block) => {
        $(#[$attr])*
        mod $name {
            #[allow(unused_imports)] // a test may need nothing from its file beyond the macro
            use super::*;

            #[allow(unused_variables)] // a test may not need its database handle by name
            fn body($t: &$crate::common::TestDb) $body

            fn schema() -> relata::Schema {
                $crate::backend_test!(@schema $($schema)?)
            }

            #[test]
            fn sqlite_memory() {
                $crate::common::run_on("memory", &schema(), body)
            }

            #[test]
            fn sqlite_file() {
                $crate::common::run_on("file", &schema(), body)
            }

            #[test]
            #[cfg_attr(relata_skip_postgres, ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)")]
            fn postgres() {
                $crate::common::run_on("postgres", &schema(), body)
            }

            #[test]
            #[cfg_attr(relata_skip_mysql, ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)")]
            fn mysql() {
                $crate::common::run_on("mysql", &schema(), body)
            }
        }
    };
    (@schema) => {
        $crate::common::school()
    };
    (@schema $schema:expr) => {
        $schema
    };
}

/// Declares the `postgres` and `mysql` tests of a property test: each runs the proptest function
/// given (a plain function of the `proptest!` block, without `#[test]`) when its server is
/// configured, so that a skipped server is reported once rather than once a case, and is marked
/// `ignored` with the reason when the build leaves the server out.
#[macro_export]
macro_rules! server_property_tests {
    ($postgres:ident, $mysql:ident) => {
        #[test]
        #[cfg_attr(relata_skip_postgres, ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)")]
        fn postgres() {
            if $crate::common::server_url("postgres").is_some() {
                $postgres();
            }
        }

        #[test]
        #[cfg_attr(relata_skip_mysql, ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)")]
        fn mysql() {
            if $crate::common::server_url("mysql").is_some() {
                $mysql();
            }
        }
    };
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

/// The statements a commit would run, written the way SQLite's dialect writes them
/// (see [`as_sqlite`]), so that one expectation serves every backend.
pub fn pending_sql(s: &Session) -> Vec<String> {
    s.pending_statements()
        .expect("pending statements")
        .iter()
        .map(|line| as_sqlite(line))
        .collect()
}

/// A statement (`SQL -- [params]`) of any dialect as SQLite's dialect writes it: identifiers in
/// double quotes, `?` placeholders, no `RETURNING` clause, and MySQL's
/// `ON DUPLICATE KEY UPDATE` as `ON CONFLICT DO NOTHING`.
pub fn as_sqlite(line: &str) -> String {
    let (sql, params) = match line.split_once(" -- ") {
        Some((sql, params)) => (sql, Some(params)),
        None => (line, None),
    };
    let mut out = String::with_capacity(line.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' => out.push('"'),
            '$' if chars.peek().is_some_and(char::is_ascii_digit) => {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                out.push('?');
            }
            c => out.push(c),
        }
    }
    if let Some(i) = out.find(" RETURNING ") {
        out.truncate(i);
    }
    if let Some(i) = out.find(" ON DUPLICATE KEY UPDATE ") {
        out.truncate(i);
        out.push_str(" ON CONFLICT DO NOTHING");
    }
    if let Some(params) = params {
        out.push_str(" -- ");
        out.push_str(params);
    }
    out
}

/// One column of a table as the database's own catalog describes it (read through a view).
#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "relata_test_columns")]
pub struct CatalogColumn {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub column_name: String,
    pub data_type: String,
}

/// The declared type of each of `table`'s columns, lowercased, by the database's own catalog
/// (PostgreSQL's `data_type`, MySQL's `COLUMN_TYPE`, SQLite's declared type), in column order.
pub fn column_types(t: &TestDb, table: &str) -> Vec<(String, String)> {
    let view = match t.backend {
        "postgres" => format!(
            "CREATE VIEW relata_test_columns AS SELECT CAST(ordinal_position AS BIGINT) AS id, \
             CAST(column_name AS TEXT) AS column_name, CAST(data_type AS TEXT) AS data_type \
             FROM information_schema.columns WHERE table_name = '{table}' AND table_schema = current_schema()"
        ),
        "mysql" => format!(
            "CREATE VIEW relata_test_columns AS SELECT CAST(ORDINAL_POSITION AS SIGNED) AS id, \
             COLUMN_NAME AS column_name, COLUMN_TYPE AS data_type \
             FROM information_schema.COLUMNS WHERE TABLE_NAME = '{table}' AND TABLE_SCHEMA = DATABASE()"
        ),
        _ => format!(
            "CREATE VIEW relata_test_columns AS SELECT cid + 1 AS id, name AS column_name, \
             type AS data_type FROM pragma_table_info('{table}')"
        ),
    };
    t.db.execute_batch("DROP VIEW IF EXISTS relata_test_columns")
        .unwrap();
    t.db.execute_batch(&view).unwrap();
    let mut s = t.db.session();
    let cols = s
        .query::<CatalogColumn>()
        .order_by(CatalogColumn::ID.asc())
        .all()
        .unwrap();
    cols.iter()
        .map(|&k| (s[k].column_name.clone(), s[k].data_type.to_lowercase()))
        .collect()
}
