use relata::Model;

#[derive(Model)]
struct Account {
    #[relata(primary_key)]
    id: Option<i64>,
    balance: i64,
    #[relata(version)]
    version: Option<i64>,
}

fn main() {}
