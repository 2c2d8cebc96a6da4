#[derive(Clone, relata::Enum)]
enum Payment {
    Cash,
    Card(String),
}

fn main() {}
