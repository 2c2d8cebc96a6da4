use relata::Model;

#[derive(Model)]
struct Student {
    #[relata(primary_key)]
    id: Option<i64>,
    #[relata(index = "btree")]
    name: String,
}

#[derive(Model)]
struct Course {
    #[relata(primary_key)]
    id: Option<i64>,
    #[relata(unique, index = "hash")]
    title: String,
}

fn main() {}
