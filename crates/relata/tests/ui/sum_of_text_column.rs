use relata::Model;

#[derive(Model)]
#[relata(table = "courses")]
struct Course {
    #[relata(primary_key)]
    id: Option<i64>,
    title: String,
}

fn main() {
    let _ = Course::TITLE.sum();
}
