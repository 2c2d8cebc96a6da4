//! The seed's three tables as relata models, and what students and courses have in common.

use relata::{schema, Association, Column, Model, Relation, Schema};

/// A student. Ids are `autoincrement`: once given, never given again, even after a removal.
#[derive(Model, Debug)]
#[relata(table = "students")]
pub struct Student {
    /// The key, `None` until committed.
    #[relata(primary_key, autoincrement)]
    pub id: Option<i64>,
    /// The name, exactly as given. Looked up by equality only, so a hash index: no size limit
    /// on PostgreSQL, whose B-tree entries cannot hold 1,000 characters of some scripts.
    #[relata(index = "hash")]
    pub name: String,
}

/// A course. Ids are never reused, like students'.
#[derive(Model, Debug)]
#[relata(table = "courses")]
pub struct Course {
    /// The key, `None` until committed.
    #[relata(primary_key, autoincrement)]
    pub id: Option<i64>,
    /// The title, exactly as given (hash-indexed, as a student's name).
    #[relata(index = "hash")]
    pub title: String,
}

/// The association table of the seeds: one row per enrollment, composite primary key, cascading
/// foreign keys (removing a student or course removes their enrollments).
#[derive(Association)]
#[relata(table = "student_course")]
pub struct StudentCourse {
    /// The enrolled student.
    #[relata(references = Student, relation = "courses")]
    pub student_id: i64,
    /// The course enrolled in.
    #[relata(references = Course, relation = "students")]
    pub course_id: i64,
}

/// The whole schema, parents first.
pub fn registrar_schema() -> Schema {
    schema![Student, Course, StudentCourse]
}

/// What students and courses share: a name (a course's is its title) and the relationship to the
/// other side. Every command on one side is written once, generically, over this trait.
pub trait Party: Model<Id = i64> {
    /// The model on the other side of the enrollment.
    type Other: Party<Other = Self>;
    /// `"student"` or `"course"`, for messages.
    const NOUN: &'static str;
    /// `"students"` or `"courses"`.
    const PLURAL: &'static str;
    /// `"name"` or `"title"`: the JSON key and the CSV column's meaning.
    const FIELD: &'static str;
    /// The name (or title) column.
    const NAME_COLUMN: Column<Self, String>;
    /// The primary key column.
    const ID_COLUMN: Column<Self, i64>;
    /// A new, unsaved object with this name.
    fn named(name: String) -> Self;
    /// The name (or title).
    fn name(&self) -> &str;
    /// Changes the name (or title).
    fn set_name(&mut self, name: String);
    /// The enrollment relationship, seen from this side.
    fn enrollments() -> Relation<Self, Self::Other>;
}

impl Party for Student {
    type Other = Course;
    const NOUN: &'static str = "student";
    const PLURAL: &'static str = "students";
    const FIELD: &'static str = "name";
    const NAME_COLUMN: Column<Self, String> = Student::NAME;
    const ID_COLUMN: Column<Self, i64> = Student::ID;
    fn named(name: String) -> Self {
        Student { id: None, name }
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: String) {
        self.name = name;
    }
    fn enrollments() -> Relation<Self, Course> {
        Student::courses()
    }
}

impl Party for Course {
    type Other = Student;
    const NOUN: &'static str = "course";
    const PLURAL: &'static str = "courses";
    const FIELD: &'static str = "title";
    const NAME_COLUMN: Column<Self, String> = Course::TITLE;
    const ID_COLUMN: Column<Self, i64> = Course::ID;
    fn named(title: String) -> Self {
        Course { id: None, title }
    }
    fn name(&self) -> &str {
        &self.title
    }
    fn set_name(&mut self, title: String) {
        self.title = title;
    }
    fn enrollments() -> Relation<Self, Student> {
        Course::students()
    }
}
