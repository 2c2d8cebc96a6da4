#[derive(Debug, Clone, Copy, PartialEq, relata::Enum)]
#[relata(native = "Grade Type")]
enum Grade {
    A,
    B,
}

fn main() {}
