//! `rust_decimal::Decimal` as a model field (the `rust_decimal` feature, on by default): exact, 28
//! significant digits, as `NUMERIC` on PostgreSQL, `DECIMAL(57, 28)` on MySQL (read back without
//! its padding zeros) and decimal text on SQLite (which compares it as text: filter ranges of
//! decimals on a server, or in Rust).

use rust_decimal::Decimal;

use crate::value::{ColumnType, DecodeError, Numeric, RowSource, SqlType, ValueRef};

fn numeric_of(d: &Decimal) -> Numeric {
    // A Decimal's mantissa is below 2^96 and its scale at most 28: always a Numeric.
    Numeric::new(d.mantissa(), d.scale()).expect("a rust_decimal fits a Numeric")
}

impl ColumnType for Decimal {
    const SQL_TYPE: SqlType = SqlType::Decimal;
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Decimal(numeric_of(self))
    }
    fn read_nullable(row: &dyn RowSource, idx: usize) -> Result<Option<Self>, DecodeError> {
        row.get_decimal(idx)?
            .map(|n| {
                Decimal::try_from_i128_with_scale(n.mantissa(), n.scale())
                    .map_err(|e| DecodeError(format!("{n} is not a rust_decimal: {e}")))
            })
            .transpose()
    }
}
