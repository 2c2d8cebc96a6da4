use relata::{Database, Model};

#[derive(Model)]
#[relata(table = "students")]
struct Student {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
}

#[derive(Model)]
#[relata(table = "courses")]
struct Course {
    #[relata(primary_key)]
    id: Option<i64>,
    title: String,
}

fn main() {
    let db = Database::open("sqlite::memory:").unwrap();
    let mut s = db.session();
    let _ = s.query::<Student>().filter(Course::TITLE.eq("Math")).all();
    let _ = s.query::<Student>().filter(Student::NAME.eq(3));
}
