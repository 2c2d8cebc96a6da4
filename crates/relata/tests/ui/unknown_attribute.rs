use relata::Model;

#[derive(Model)]
#[relata(table = "students")]
struct Student {
    #[relata(primary_key)]
    id: Option<i64>,
    #[relata(uniq)]
    name: String,
}

fn main() {}
