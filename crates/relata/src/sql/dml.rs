//! Writes: inserts of objects and pairs (several rows a statement, or arrays of them), updates
//! of changed columns, deletes of objects and pairs, and the statements around them.

use super::{Dialect, Sql};
use crate::model::TableDef;
use crate::relation::AssocDef;
use crate::value::SqlType;

/// `INSERT INTO t (cols) VALUES (...), (...)` for `rows` rows; the primary key is included first
/// when `with_id` (objects added with an explicit id). Where the dialect inserts from arrays,
/// more than one row is `INSERT INTO t (cols) SELECT * FROM unnest($1::T[], ...)`, whatever
/// their number (see [`Capabilities::insert_arrays`](crate::sql::Capabilities::insert_arrays)).
pub(crate) fn insert(d: &dyn Dialect, table: &TableDef, with_id: bool, rows: usize) -> String {
    let mut s = Sql::new(d);
    s.push("INSERT INTO ").ident(table.name).push(" (");
    let names = with_id
        .then_some(table.primary_key)
        .into_iter()
        .chain(table.columns.iter().map(|c| c.name));
    s.idents(names);
    let width = table.columns.len() + usize::from(with_id);
    if width == 0 {
        // A model with only its key (one row a statement).
        s.text.truncate(s.text.len() - 2);
        s.push(d.default_values());
    } else if rows > 1 && d.capabilities().insert_arrays {
        s.push(") ");
        let types = with_id
            .then_some(SqlType::BigInt)
            .into_iter()
            .chain(table.columns.iter().map(|c| c.sql_type));
        unnest(&mut s, types);
    } else {
        s.push(") VALUES ");
        for r in 0..rows {
            if r > 0 {
                s.push(", ");
            }
            s.tuple(width);
        }
    }
    if !with_id && d.capabilities().returning {
        s.push(" RETURNING ").ident(table.primary_key);
    }
    s.finish()
}

/// Inserts `rows` association pairs; with `skip_present`, a pair already in the table is skipped
/// (`ON CONFLICT DO NOTHING`, or the dialect's spelling of it).
pub(crate) fn insert_pairs(
    d: &dyn Dialect,
    assoc: &AssocDef,
    rows: usize,
    skip_present: bool,
) -> String {
    let mut s = Sql::new(d);
    s.push("INSERT INTO ")
        .ident(assoc.table)
        .push(" (")
        .idents([assoc.left.column, assoc.right.column]);
    if rows > 1 && d.capabilities().insert_arrays {
        s.push(") ");
        unnest(&mut s, [SqlType::BigInt; 2]);
    } else {
        s.push(") VALUES ");
        for r in 0..rows {
            if r > 0 {
                s.push(", ");
            }
            s.tuple(2);
        }
    }
    if skip_present {
        d.on_conflict_do_nothing(&mut s.text, assoc.left.column);
    }
    s.finish()
}

/// `SELECT * FROM unnest($1::T1[], $2::T2[], ...)`: the rows of an insert from one array
/// parameter per column, in row order.
fn unnest(s: &mut Sql<'_>, types: impl IntoIterator<Item = SqlType>) {
    s.push("SELECT * FROM unnest(");
    for (i, ty) in types.into_iter().enumerate() {
        if i > 0 {
            s.push(", ");
        }
        let ty = s.d.cast_type(ty);
        s.param().push("::").push(ty).push("[]");
    }
    s.push(")");
}

/// Deletes `rows` association pairs: `WHERE l = ? AND r = ?` for one, `WHERE (l, r) IN ((?, ?),
/// ...)` for more (a row-value list, which SQLite, PostgreSQL and MySQL all take); with
/// `returning`, the statement returns the pairs it deleted (`RETURNING l, r`).
pub(crate) fn delete_pairs(
    d: &dyn Dialect,
    assoc: &AssocDef,
    rows: usize,
    returning: bool,
) -> String {
    let mut s = Sql::new(d);
    s.push("DELETE FROM ").ident(assoc.table).push(" WHERE ");
    if rows == 1 {
        s.ident(assoc.left.column)
            .push(" = ")
            .param()
            .push(" AND ")
            .ident(assoc.right.column)
            .push(" = ")
            .param();
    } else {
        s.push("(")
            .idents([assoc.left.column, assoc.right.column])
            .push(") IN (");
        for r in 0..rows {
            if r > 0 {
                s.push(", ");
            }
            s.tuple(2);
        }
        s.push(")");
    }
    if returning {
        s.push(" RETURNING ")
            .idents([assoc.left.column, assoc.right.column]);
    }
    s.finish()
}

/// `UPDATE t SET a = ?, b = ? WHERE id = ?` for the changed columns only.
pub(crate) fn update(d: &dyn Dialect, table: &TableDef, columns: &[usize]) -> String {
    let mut s = Sql::new(d);
    s.push("UPDATE ").ident(table.name).push(" SET ");
    for (i, &c) in columns.iter().enumerate() {
        if i > 0 {
            s.push(", ");
        }
        s.ident(table.columns[c].name).push(" = ").param();
    }
    s.push(" WHERE ")
        .ident(table.primary_key)
        .push(" = ")
        .param();
    s.finish()
}

/// Deletes `rows` objects by primary key.
pub(crate) fn delete_objects(d: &dyn Dialect, table: &TableDef, rows: usize) -> String {
    let mut s = Sql::new(d);
    s.push("DELETE FROM ")
        .ident(table.name)
        .push(" WHERE ")
        .ident(table.primary_key)
        .push(" IN ")
        .tuple(rows);
    s.finish()
}

/// `SELECT 1 FROM t WHERE id = ?`: does the row exist (used to name the missing side of a
/// failed link).
pub(crate) fn exists_by_id(d: &dyn Dialect, table: &TableDef) -> String {
    let mut s = Sql::new(d);
    s.push("SELECT 1 FROM ")
        .ident(table.name)
        .push(" WHERE ")
        .ident(table.primary_key)
        .push(" = ")
        .param();
    s.finish()
}

/// `ANALYZE table, ...`: refreshes the planner's statistics of these tables.
pub(crate) fn analyze(d: &dyn Dialect, tables: &[&str]) -> String {
    let mut s = Sql::new(d);
    s.push("ANALYZE ").idents(tables.iter().copied());
    s.finish()
}
