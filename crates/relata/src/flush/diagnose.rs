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
pub(crate) fn describe_pairs(def: &AssocDef, pairs: &[[ValueRef<'_>; 2]]) -> String {
    let mut shown: Vec<String> = pairs
        .iter()
        .take(10)
        .map(|pair| pair_row(def, pair))
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
    let mut e = with_table(e, table);
    if let Error::Constraint { row: r @ None, .. } = &mut e {
        *r = Some(row());
    }
    e
}

/// Fills in the table of a constraint error, and qualifies a bare column or key name with it
/// (MySQL names a column or key without its table).
pub(crate) fn with_table(mut e: Error, table: &str) -> Error {
    if let Error::Constraint {
        table: t,
        constraint,
        ..
    } = &mut e
    {
        if t.is_empty() {
            *t = table.to_owned();
        }
        if !constraint.is_empty() && !constraint.contains('.') {
            *constraint = format!("{t}.{constraint}");
        }
    }
    e
}

/// Adds to a foreign key error on an association row what the named column references
/// (PostgreSQL names the column and value, `student_course.course_id = 7`). `Err` gives the
/// error back when it is not a foreign key error whose constraint the database named.
pub(crate) fn name_referenced(mut e: Error, def: &AssocDef) -> std::result::Result<Error, Error> {
    let Error::Constraint {
        kind: ConstraintKind::ForeignKey,
        constraint,
        ..
    } = &mut e
    else {
        return Err(e);
    };
    if constraint.is_empty() {
        return Err(e);
    }
    let referenced = [&def.left, &def.right]
        .into_iter()
        .find(|side| constraint.starts_with(&format!("{}.{} = ", def.table, side.column)));
    if let Some(side) = referenced {
        constraint.push_str(&format!(
            " references {}.{}, which has no such row",
            side.table.name, side.table.primary_key
        ));
    }
    Ok(e)
}

/// The foreign key error of an association row, once relata has looked for its parents:
/// `missing` names each end that has no parent row (empty: both were there, so both columns are
/// named).
pub(crate) fn missing_parents(mut e: Error, def: &AssocDef, missing: Vec<String>) -> Error {
    if let Error::Constraint { constraint, .. } = &mut e {
        *constraint = if missing.is_empty() {
            format!(
                "{}.{} / {}.{}",
                def.table, def.left.column, def.table, def.right.column
            )
        } else {
            missing.join("; ")
        };
    }
    e
}

/// The foreign key error of a delete that rows of other tables still reference, named from the
/// catalog (`found`: each referencing table and column): the error's table is the referencing
/// one, its constraint what references `table`.
pub(crate) fn still_referenced(mut e: Error, table: &str, found: &[(String, String)]) -> Error {
    if let Error::Constraint {
        table: t,
        constraint,
        ..
    } = &mut e
    {
        if !found.is_empty() {
            let mut tables: Vec<&str> = found.iter().map(|(t, _)| t.as_str()).collect();
            tables.dedup();
            *t = tables.join(", ");
            *constraint = found
                .iter()
                .map(|(t, c)| format!("{t}.{c} REFERENCES {table}"))
                .collect::<Vec<_>>()
                .join("; ");
        }
    }
    e
}
