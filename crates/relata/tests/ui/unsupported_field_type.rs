use relata::Model;

#[derive(Model)]
#[relata(table = "students")]
struct Student {
    #[relata(primary_key)]
    id: Option<i64>,
    tags: std::collections::HashMap<String, String>,
}

fn main() {}
