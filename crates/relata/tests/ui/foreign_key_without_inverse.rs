// A foreign key names the relation on each side; `set null` needs a nullable column.
use relata::Model;

#[derive(Model)]
struct Teacher {
    #[relata(primary_key)]
    id: Option<i64>,
}

#[derive(Model)]
struct Course {
    #[relata(primary_key)]
    id: Option<i64>,
    #[relata(references = Teacher, relation = "teacher")]
    teacher_id: Option<i64>,
}

#[derive(Model)]
struct Lesson {
    #[relata(primary_key)]
    id: Option<i64>,
    #[relata(references = Course, relation = "course", inverse = "lessons", on_delete = "set null")]
    course_id: i64,
}

#[derive(Model)]
struct Room {
    #[relata(primary_key)]
    id: Option<i64>,
    #[relata(relation = "teacher", inverse = "rooms")]
    teacher_id: Option<i64>,
}

fn main() {}
