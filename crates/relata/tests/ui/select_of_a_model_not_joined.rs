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
    // Course is not joined: its title cannot be selected from a query of students.
    let _ = s.query::<Student>().select((Student::NAME, Course::TITLE));
}
