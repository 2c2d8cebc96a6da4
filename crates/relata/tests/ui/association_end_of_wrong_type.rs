use relata::{Association, Model};

#[derive(Model)]
#[relata(table = "students")]
struct Student {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
}

/// Courses are keyed by their code.
#[derive(Model)]
#[relata(table = "courses")]
struct Course {
    #[relata(primary_key)]
    code: String,
    title: String,
}

/// The course end must hold a code (`String`), not an integer.
#[derive(Association)]
#[relata(table = "student_course")]
struct StudentCourse {
    #[relata(references = Student, relation = "courses")]
    student_id: i64,
    #[relata(references = Course, relation = "students")]
    course_id: i64,
}

fn main() {}
