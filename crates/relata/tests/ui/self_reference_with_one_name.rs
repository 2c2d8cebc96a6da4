use relata::{Association, Model};

#[derive(Model)]
#[relata(table = "people")]
struct Person {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
}

#[derive(Association)]
#[relata(table = "friendship")]
struct Friendship {
    #[relata(references = Person, relation = "friends")]
    person_id: i64,
    #[relata(references = Person, relation = "friends")]
    friend_id: i64,
}

fn main() {}
