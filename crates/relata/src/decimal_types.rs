//! `rust_decimal::Decimal` as a model field (the `rust_decimal` feature, on by default): exact, 28
//! significant digits, as `NUMERIC` on PostgreSQL, `DECIMAL(57, 28)` on MySQL (read back without
//! its padding zeros) and decimal text on SQLite (which compares it as text: filter ranges of
//! decimals on a server, or in Rust).

use rust_decimal::Decimal;

use crate::value::{column_type, DecodeError, Numeric, ValueRef};

fn numeric_of(d: &Decimal) -> Numeric {
    // A Decimal's mantissa is below 2^96 and its scale at most 28: always a Numeric.
    Numeric::new(d.mantissa(), d.scale()).expect("a rust_decimal fits a Numeric")
}

column_type!(
    Decimal,
    Decimal,
    get_decimal,
    |v| ValueRef::Decimal(numeric_of(v)),
    |r| Decimal::try_from_i128_with_scale(r.mantissa(), r.scale())
        .map_err(|e| DecodeError(format!("{r} is not a rust_decimal: {e}")))
);

impl crate::expr::Summable for Decimal {
    type Sum = Decimal;
    type Avg = Decimal;
}
