use relata::Model;

#[derive(Model)]
#[relata(table = "courses")]
struct Course {
    #[relata(primary_key)]
    id: Option<i64>,
    credits: i64,
}

fn main() {
    // SQL forbids an aggregate inside an aggregate.
    let _ = Course::CREDITS.sum().max();
}
