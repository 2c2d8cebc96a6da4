use relata::Model;

/// A chosen key is never NULL: only a generated key is an `Option` (`Option<i64>`).
#[derive(Model)]
#[relata(table = "courses")]
struct Course {
    #[relata(primary_key)]
    code: Option<String>,
    title: String,
}

fn main() {}
