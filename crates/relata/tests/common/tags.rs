//! The `tags` model (a UNIQUE text column) linked to students through `student_tag`, helpers to
//! read tags back, and `expect_constraint`: for the tests of constraint errors and of text keys.

use relata::{schema, Association, ConstraintKind, Database, Error, Key, Model, Schema, Session};

use super::{Course, Student, StudentCourse};

/// A model with a UNIQUE text column: `VARCHAR(768)` on MySQL, linked to students.
#[derive(Model, Debug, Clone)]
#[relata(table = "tags")]
pub struct Tag {
    #[relata(primary_key)]
    pub id: Option<i64>,
    #[relata(unique)]
    pub label: String,
}

pub fn tag(label: &str) -> Tag {
    Tag {
        id: None,
        label: label.into(),
    }
}

#[derive(Association)]
#[relata(table = "student_tag")]
pub struct StudentTag {
    #[relata(references = Student, relation = "tags")]
    pub student_id: i64,
    #[relata(references = Tag, relation = "students")]
    pub tag_id: i64,
}

/// The seed schema plus tags.
pub fn tagged_school() -> Schema {
    schema![Student, Course, StudentCourse, Tag, StudentTag]
}

/// Every tag's label, in order, read through a new session.
pub fn tag_labels(db: &Database) -> Vec<String> {
    let mut s = db.session();
    let ks = s.query::<Tag>().order_by(Tag::LABEL.asc()).all().unwrap();
    ks.iter().map(|&k| s[k].label.clone()).collect()
}

/// The labels of a student's tags, in the collection's order.
pub fn tags_of(s: &mut Session, k: Key<Student>) -> Vec<String> {
    let ks = s.related(Student::tags(), k).expect("related tags");
    ks.iter().map(|&k| s[k].label.clone()).collect()
}

/// Asserts `err` is a constraint error of `kind` on `table` and returns its constraint and row.
pub fn expect_constraint(
    err: &Error,
    kind: ConstraintKind,
    table: &str,
) -> (String, Option<String>) {
    match err {
        Error::Constraint {
            kind: k,
            table: t,
            constraint,
            row,
            ..
        } => {
            assert_eq!(*k, kind, "{err:?}");
            assert_eq!(t, table, "{err:?}");
            (constraint.clone(), row.clone())
        }
        other => panic!("expected a {kind} violation on {table}, got {other:?}"),
    }
}
