//! The school the foreign key tests share: teachers, rooms (a text key), courses with a
//! nullable teacher (`set null`) and room (`restrict`), lessons that need their course
//! (`cascade`), and employees with a manager (self-referential); with helpers.

#![allow(dead_code)] // each test file uses its part

use relata::{schema, Model, Schema, Session};

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "om_teachers")]
pub struct Teacher {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub name: String,
}

/// A room the school numbers with a code (a chosen text key as a parent).
#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "om_rooms")]
pub struct Room {
    #[relata(primary_key)]
    pub code: String,
    pub seats: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "om_courses")]
pub struct Course {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub title: String,
    #[relata(references = Teacher, relation = "teacher", inverse = "courses", order_by = "title", on_delete = "set null")]
    pub teacher_id: Option<i64>,
    #[relata(references = Room, relation = "room", inverse = "courses", on_delete = "restrict")]
    pub room_code: Option<String>,
}

/// A lesson belongs to one course (NOT NULL) and goes with it.
#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "om_lessons")]
pub struct Lesson {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub topic: String,
    #[relata(references = Course, relation = "course", inverse = "lessons", on_delete = "cascade")]
    pub course_id: i64,
}

/// A self-referential many-to-one: each employee's manager.
#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "om_employees")]
pub struct Employee {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    #[relata(references = Employee, relation = "manager", inverse = "reports", order_by = "name")]
    pub manager_id: Option<i64>,
}

/// A chapter lives only in its course: unlinked from it, it is deleted (`delete_orphans`).
#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "om_chapters")]
pub struct Chapter {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub heading: String,
    #[relata(references = Course, relation = "course", inverse = "chapters", delete_orphans)]
    pub course_id: i64,
}

pub fn chapter(heading: &str) -> Chapter {
    Chapter {
        id: None,
        heading: heading.into(),
        course_id: 0,
    }
}

pub fn school() -> Schema {
    schema![Lesson, Chapter, Course, Teacher, Room, Employee]
}

pub fn teacher(name: &str) -> Teacher {
    Teacher {
        id: None,
        name: name.into(),
    }
}

pub fn course(title: &str) -> Course {
    Course {
        id: None,
        title: title.into(),
        teacher_id: None,
        room_code: None,
    }
}

pub fn lesson(topic: &str) -> Lesson {
    // The course is set by a link before the commit.
    Lesson {
        id: None,
        topic: topic.into(),
        course_id: 0,
    }
}

pub fn employee(name: &str) -> Employee {
    Employee {
        id: None,
        name: name.into(),
        manager_id: None,
    }
}

pub fn count(s: &mut Session, table: &str) -> i64 {
    let n: Vec<(i64,)> = s
        .select(&format!("SELECT COUNT(*) FROM {table}"), relata::params![])
        .unwrap();
    n[0].0
}

/// Two teachers, three courses: Ivan teaches Math and Art, Wang teaches 化学.
pub fn seed(
    s: &mut Session,
) -> (
    relata::Key<Teacher>,
    relata::Key<Teacher>,
    Vec<relata::Key<Course>>,
) {
    let ivan = s.add(teacher("Иван"));
    let wang = s.add(teacher("张伟"));
    let cs: Vec<_> = ["Math", "Art", "化学"]
        .iter()
        .map(|t| s.add(course(t)))
        .collect();
    s.link(Teacher::courses(), ivan, cs[0]);
    s.link(Teacher::courses(), ivan, cs[1]);
    s.link(Teacher::courses(), wang, cs[2]);
    s.commit().unwrap();
    (ivan, wang, cs)
}

/// (course title, teacher name or "-") as the database holds them.
pub fn rows(s: &mut Session) -> Vec<(String, String)> {
    s.select(
        "SELECT c.title, COALESCE(t.name, '-') FROM om_courses c LEFT JOIN om_teachers t ON t.id = c.teacher_id ORDER BY c.title",
        relata::params![],
    )
    .unwrap()
}

pub fn titles(s: &mut Session, t: relata::Key<Teacher>) -> Vec<String> {
    s.related_objects(Teacher::courses(), t)
        .unwrap()
        .map(|c| c.title.clone())
        .collect()
}
