use relata::Model;

#[derive(Model)]
#[relata(table = "students")]
struct Student {
    id: Option<i64>,
    name: String,
}

fn main() {}
