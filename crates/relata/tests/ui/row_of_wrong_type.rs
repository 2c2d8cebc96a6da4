use relata::{Database, Model};

#[derive(Model)]
#[relata(table = "courses")]
struct Course {
    #[relata(primary_key)]
    id: Option<i64>,
    title: String,
}

#[derive(relata::Row)]
struct CourseCount {
    title: String,
    students: String, // a count is an i64
}

fn main() {
    let db = Database::open("sqlite::memory:").unwrap();
    let mut s = db.session();
    let _: Vec<CourseCount> = s
        .query::<Course>()
        .select((Course::TITLE, Course::ID.count()))
        .all_as()
        .unwrap();
}
