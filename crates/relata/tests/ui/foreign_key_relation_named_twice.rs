// Two relations with one name on one model (two foreign keys both naming `courses` on Teacher)
// do not compile.
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
    #[relata(references = Teacher, relation = "teacher", inverse = "courses")]
    teacher_id: Option<i64>,
    #[relata(references = Teacher, relation = "assistant", inverse = "courses")]
    assistant_id: Option<i64>,
}

fn main() {}
