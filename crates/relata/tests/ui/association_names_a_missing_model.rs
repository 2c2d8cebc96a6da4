use relata::{Association, Model};

#[derive(Model)]
#[relata(table = "students")]
struct Student {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
}

#[derive(Association)]
#[relata(table = "student_course")]
struct StudentCourse {
    #[relata(references = Student, relation = "courses")]
    student_id: i64,
    #[relata(references = Corse, relation = "students")]
    course_id: i64,
}

fn main() {}
