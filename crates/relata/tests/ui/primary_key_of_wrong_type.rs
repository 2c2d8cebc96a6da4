use relata::Model;

#[derive(Model)]
#[relata(table = "students")]
struct Student {
    #[relata(primary_key)]
    id: i64,
    name: String,
}

fn main() {}
