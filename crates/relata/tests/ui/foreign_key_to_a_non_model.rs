// A foreign key must reference a model.
use relata::Model;

struct Teacher {
    name: String,
}

#[derive(Model)]
struct Course {
    #[relata(primary_key)]
    id: Option<i64>,
    #[relata(references = Teacher, relation = "teacher", inverse = "courses")]
    teacher_id: Option<i64>,
}

fn main() {}
