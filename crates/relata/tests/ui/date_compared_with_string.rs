use relata::Model;

#[derive(Model)]
#[relata(table = "events")]
struct Event {
    #[relata(primary_key)]
    id: Option<i64>,
    day: chrono::NaiveDate,
}

fn main() {
    let _ = Event::DAY.eq("2024-02-29");
}
