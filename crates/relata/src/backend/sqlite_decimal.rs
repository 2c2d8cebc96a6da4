//! Exact aggregates of decimal columns on SQLite, which stores a decimal as text and would sum
//! it as a float (0.1 three times is 0.30000000000000004) and compare it as text (10 before 9).
//! `relata_decimal_sum`, `_avg`, `_min` and `_max` compute on [`Numeric`]s; the SQLite dialect
//! names them for aggregates whose result is a decimal.

use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Error, Result};

use crate::value::Numeric;

#[derive(Clone, Copy)]
enum Op {
    Sum,
    Avg,
    Min,
    Max,
}

/// The running value of a group: the sum or extreme so far, and how many values it holds.
type Acc = Option<(Numeric, u64)>;

fn failure(message: String) -> Error {
    Error::UserFunctionError(message.into())
}

/// A stored value as a decimal: decimal text, an integer, or a float written shortest.
fn numeric(v: ValueRef<'_>) -> Result<Option<Numeric>> {
    let parsed = match v {
        ValueRef::Null => return Ok(None),
        ValueRef::Integer(i) => Numeric::parse(&i.to_string()),
        ValueRef::Real(f) => Numeric::parse(&format!("{f}")),
        ValueRef::Text(t) => Numeric::parse(&String::from_utf8_lossy(t)),
        ValueRef::Blob(_) => return Err(failure("a decimal column holds a blob".into())),
    };
    parsed.map(Some).map_err(|e| failure(e.0))
}

impl Aggregate<Acc, Option<String>> for Op {
    fn init(&self, _ctx: &mut Context<'_>) -> Result<Acc> {
        Ok(None)
    }

    fn step(&self, ctx: &mut Context<'_>, acc: &mut Acc) -> Result<()> {
        let Some(n) = numeric(ctx.get_raw(0))? else {
            return Ok(()); // NULLs are left out, as SQL's aggregates do
        };
        *acc = Some(match (*acc, self) {
            (None, _) => (n, 1),
            (Some((s, c)), Op::Sum | Op::Avg) => (
                s.checked_add(n).ok_or_else(|| {
                    failure(format!(
                        "the sum of a decimal column passes 28 digits (at {s} + {n})"
                    ))
                })?,
                c + 1,
            ),
            (Some((m, c)), Op::Min) => (if n.cmp_value(m).is_lt() { n } else { m }, c + 1),
            (Some((m, c)), Op::Max) => (if n.cmp_value(m).is_gt() { n } else { m }, c + 1),
        });
        Ok(())
    }

    fn finalize(&self, _ctx: &mut Context<'_>, acc: Option<Acc>) -> Result<Option<String>> {
        Ok(acc.flatten().map(|(n, count)| match self {
            Op::Avg => n.div_count(count).to_string(),
            _ => n.to_string(),
        }))
    }
}

/// Registers the four aggregates on a connection.
pub(super) fn register(conn: &Connection) -> Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    for (name, op) in [
        ("relata_decimal_sum", Op::Sum),
        ("relata_decimal_avg", Op::Avg),
        ("relata_decimal_min", Op::Min),
        ("relata_decimal_max", Op::Max),
    ] {
        conn.create_aggregate_function(name, 1, flags, op)?;
    }
    Ok(())
}
