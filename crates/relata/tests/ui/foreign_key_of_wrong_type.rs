// A foreign key field holds the referenced model's key: a text field cannot reference a model
// whose key is a generated integer.
use relata::Model;

#[derive(Model)]
struct Teacher {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
}

#[derive(Model)]
struct Course {
    #[relata(primary_key)]
    id: Option<i64>,
    #[relata(references = Teacher, relation = "teacher", inverse = "courses")]
    teacher_id: Option<String>,
}

fn main() {}
