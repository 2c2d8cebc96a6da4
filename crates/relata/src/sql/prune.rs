//! Join elimination for selects of expressions: a joined model read only by its primary key is
//! not joined (the association's column holds the key: `COUNT(j1.id)` is `COUNT(aj1.student_id)`),
//! and a base model read only by its key, with no filter, is not read at all (the statement
//! starts from the association). What is left is the statement one writes by hand for a report
//! (`SELECT student_id, AVG(...) FROM student_course JOIN courses ... GROUP BY student_id`):
//! measured 1.4-3.3x faster than the full joins on MariaDB, 1.7x on PostgreSQL. The foreign keys
//! guarantee the rows skipped exist, so the results are the same.

use super::project::{alias, SelectSpec};
use crate::expr::Scalar;
use crate::query::Expr;

/// How a select's sources are written once pruned.
pub(crate) struct Shape {
    /// Per source, the alias its columns are read at.
    pub aliases: Vec<String>,
    /// Whether the base table is in the `FROM` (else the first join's association is).
    pub base: bool,
    /// Per source, whether its table is joined (the base's entry is unused).
    pub target: Vec<bool>,
}

/// Whether every column `e` reads is `key` (and it reads no relation of its own).
fn only_key(e: &Scalar, key: &str) -> bool {
    match e {
        Scalar::Column(c) => *c == key,
        Scalar::Count { arg, .. } => arg.as_deref().is_none_or(|a| only_key(a, key)),
        Scalar::Agg { arg, .. } | Scalar::Length(arg) => only_key(arg, key),
        Scalar::Related { .. } => false,
    }
}

/// Whether a `having` condition reads only `key` of its source.
fn only_key_expr(e: &Expr, key: &str) -> bool {
    match e {
        Expr::Compare { left, .. } => only_key(left, key),
        Expr::And(v) | Expr::Or(v) => v.iter().all(|x| only_key_expr(x, key)),
        Expr::Not(x) => only_key_expr(x, key),
        _ => false,
    }
}

/// Whether source `i` is read only by its primary key, and not filtered.
fn reads_only_key(spec: &SelectSpec, i: u8) -> bool {
    let key = spec.sources[i as usize].table.primary_key;
    spec.filter.iter().all(|(j, _)| *j != i)
        && spec
            .columns
            .iter()
            .chain(&spec.group)
            .all(|(j, e)| *j != i || only_key(e, key))
        && spec
            .order
            .iter()
            .all(|(j, e, _)| *j != i || only_key(e, key))
        && spec
            .having
            .iter()
            .all(|(j, e)| *j != i || only_key_expr(e, key))
}

/// Replaces every column of source `i` by `column`.
fn rename(spec: &mut SelectSpec, i: u8, column: &'static str) {
    fn scalar(e: &mut Scalar, column: &'static str) {
        match e {
            Scalar::Column(c) => *c = column,
            Scalar::Count { arg, .. } => {
                if let Some(a) = arg {
                    scalar(a, column);
                }
            }
            Scalar::Agg { arg, .. } | Scalar::Length(arg) => scalar(arg, column),
            Scalar::Related { .. } => {}
        }
    }
    fn expr(e: &mut Expr, column: &'static str) {
        match e {
            Expr::Compare { left, .. } => scalar(left, column),
            Expr::And(v) | Expr::Or(v) => v.iter_mut().for_each(|x| expr(x, column)),
            Expr::Not(x) => expr(x, column),
            _ => {}
        }
    }
    for (j, e) in spec.columns.iter_mut().chain(spec.group.iter_mut()) {
        if *j == i {
            scalar(e, column);
        }
    }
    for (j, e, _) in spec.order.iter_mut() {
        if *j == i {
            scalar(e, column);
        }
    }
    for (j, e) in spec.having.iter_mut() {
        if *j == i {
            expr(e, column);
        }
    }
}

/// Prunes `spec` in place (its columns renamed to the association's) and says how to write it.
pub(crate) fn prune(spec: &mut SelectSpec) -> Shape {
    let n = spec.sources.len();
    let mut shape = Shape {
        aliases: (0..n).map(|i| alias(i as u8)).collect(),
        base: true,
        target: vec![true; n],
    };
    // Joins from source `i`.
    let joins_from = |spec: &SelectSpec, i: usize| -> Vec<usize> {
        (1..n)
            .filter(|&k| {
                spec.sources[k]
                    .join
                    .is_some_and(|j| usize::from(j.from) == i)
            })
            .collect()
    };
    for i in 1..n {
        let j = spec.sources[i].join.expect("a join");
        let def = j.kind.def();
        if reads_only_key(spec, i as u8) && joins_from(spec, i).is_empty() {
            rename(spec, i as u8, def.sides(j.side).1.column);
            shape.target[i] = false;
            shape.aliases[i] = format!("a{}", alias(i as u8));
        }
    }
    // The base: read only by its key, joined once (inner), with no filter.
    if let [first] = joins_from(spec, 0)[..] {
        let j = spec.sources[first].join.expect("a join");
        if !j.left && reads_only_key(spec, 0) {
            let def = j.kind.def();
            rename(spec, 0, def.sides(j.side).0.column);
            shape.base = false;
            shape.aliases[0] = format!("a{}", alias(first as u8));
        }
    }
    shape
}
