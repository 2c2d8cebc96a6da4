use relata::Model;

/// A float cannot identify a row.
#[derive(Model)]
#[relata(table = "readings")]
struct Reading {
    #[relata(primary_key)]
    value: f64,
    place: String,
}

fn main() {}
