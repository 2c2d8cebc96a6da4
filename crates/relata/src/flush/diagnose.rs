//! Naming what the database rejected: the table, the row, the foreign key. The statements
//! that find out (a savepoint and the rows one at a time, a look for a missing parent) are
//! steps of the commit machine (`commit.rs`); these are the pure parts.

use crate::error::{ConstraintKind, Error};
use crate::relation::AssocDef;
use crate::value::ValueRef;

/// A set of pairs read back from the database.
pub(crate) type IdPairs =
    std::collections::HashSet<(i64, i64), std::hash::BuildHasherDefault<crate::hash::FxHasher>>;

/// Up to ten pairs for a message, `student_course(student_id = 1, course_id = 2), ...`.
pub(crate) fn describe_pairs(def: &AssocDef, pairs: &[(i64, i64)]) -> String {
    let mut shown: Vec<String> = pairs
        .iter()
        .take(10)
        .map(|&(l, r)| pair_row(def, &[ValueRef::Integer(l), ValueRef::Integer(r)]))
        .collect();
    if pairs.len() > 10 {
        shown.push(format!("and {} more", pairs.len() - 10));
    }
    shown.join(", ")
}

/// `student_course(student_id = 1, course_id = 2)` for messages.
pub(crate) fn pair_row(def: &AssocDef, row: &[ValueRef<'_>]) -> String {
    format!(
        "{}({} = {}, {} = {})",
        def.table, def.left.column, row[0], def.right.column, row[1]
    )
}

/// Fills in the row of a constraint error from a one-row statement.
pub(crate) fn with_row(e: Error, table: &str, row: impl FnOnce() -> String) -> Error {
    match with_table(e, table) {
        Error::Constraint {
            kind,
            table,
            constraint,
            row: None,
            message,
        } => Error::Constraint {
            kind,
            table,
            constraint,
            row: Some(row()),
            message,
        },
        e => e,
    }
}

/// Fills in the table of a constraint error, and qualifies a bare column or key name with it
/// (MySQL names a column or key without its table).
pub(crate) fn with_table(e: Error, table: &str) -> Error {
    match e {
        Error::Constraint {
            kind,
            table: t,
            constraint,
            row,
            message,
        } => {
            let table = if t.is_empty() { table.to_owned() } else { t };
            let constraint = if constraint.is_empty() || constraint.contains('.') {
                constraint
            } else {
                format!("{table}.{constraint}")
            };
            Error::Constraint {
                kind,
                table,
                constraint,
                row,
                message,
            }
        }
        e => e,
    }
}

/// Adds to a foreign key error on an association row what the named column references
/// (PostgreSQL names the column and value, `student_course.course_id = 7`). `None` if the
/// error is not a foreign key error whose constraint the database named.
pub(crate) fn name_referenced(e: Error, def: &AssocDef) -> std::result::Result<Error, Error> {
    match e {
        Error::Constraint {
            kind: ConstraintKind::ForeignKey,
            table,
            constraint,
            row,
            message,
        } if !constraint.is_empty() => {
            let referenced = [&def.left, &def.right]
                .into_iter()
                .find(|side| constraint.starts_with(&format!("{}.{} = ", def.table, side.column)));
            let constraint = match referenced {
                Some(side) => format!(
                    "{constraint} references {}.{}, which has no such row",
                    side.table.name, side.table.primary_key
                ),
                None => constraint,
            };
            Ok(Error::Constraint {
                kind: ConstraintKind::ForeignKey,
                table,
                constraint,
                row,
                message,
            })
        }
        e => Err(e),
    }
}

/// The foreign key error of an association row, once relata has looked for its parents:
/// `missing` names each end that has no parent row (empty: both were there, so both columns are
/// named).
pub(crate) fn missing_parents(e: Error, def: &AssocDef, missing: Vec<String>) -> Error {
    let Error::Constraint {
        kind,
        table,
        row,
        message,
        ..
    } = e
    else {
        return e;
    };
    let constraint = if missing.is_empty() {
        format!(
            "{}.{} / {}.{}",
            def.table, def.left.column, def.table, def.right.column
        )
    } else {
        missing.join("; ")
    };
    Error::Constraint {
        kind,
        table,
        constraint,
        row,
        message,
    }
}
