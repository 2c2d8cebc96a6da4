//! Writes as data ([`Write`]): inserts of objects and pairs (several rows a statement, or arrays
//! of them), updates of changed columns, deletes of objects and pairs; each renders its SQL and
//! lays out its parameters from the same value. And the statements around them.

use super::{Dialect, Sql};
use crate::model::TableDef;
use crate::relation::{AssocDef, Side};
use crate::value::SqlType;

/// One parameter of a written row, in the order a statement binds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param {
    /// The object's primary key.
    Key,
    /// The object's column `c` (an index into `TableDef::columns`).
    Column(usize),
    /// One end of an association pair.
    End(Side),
}

/// A write as data: what it writes. Its SQL text (for any number of rows) and the layout of each
/// row's parameters ([`Write::layout`]) both come from this one value, so the columns a statement
/// names and the values bound to them cannot drift apart.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Write<'a> {
    /// Insert objects: with `with_id`, the keys their users chose (first), else the database
    /// generates them (read back by `RETURNING` where the dialect has it).
    InsertObjects {
        /// The model's table.
        table: &'a TableDef,
        /// Whether the rows carry their keys.
        with_id: bool,
    },
    /// Update the changed `columns` of one object, by its key.
    Update {
        /// The model's table.
        table: &'a TableDef,
        /// The changed columns (indexes into `TableDef::columns`).
        columns: &'a [usize],
    },
    /// Delete objects by key; with `returning`, the statement returns the keys it deleted.
    DeleteObjects {
        /// The model's table.
        table: &'a TableDef,
        /// Whether it returns what it deleted (`RETURNING id`).
        returning: bool,
    },
    /// Insert association pairs; with `skip_present`, a pair already there is skipped
    /// (`ON CONFLICT DO NOTHING`, or the dialect's spelling of it).
    InsertPairs {
        /// The association.
        assoc: &'a AssocDef,
        /// Whether a pair already present is skipped rather than an error.
        skip_present: bool,
    },
    /// Delete every association pair whose `side` is one of the given keys (the pairs of
    /// deleted objects).
    DeletePairsOf {
        /// The association.
        assoc: &'a AssocDef,
        /// The side the keys are on.
        side: Side,
    },
    /// Delete association pairs; with `returning`, the statement returns the pairs it deleted.
    DeletePairs {
        /// The association.
        assoc: &'a AssocDef,
        /// Whether it returns what it deleted (`RETURNING l, r`).
        returning: bool,
    },
}

impl Write<'_> {
    /// Each row's parameters, in the order the statement binds them.
    pub fn layout(&self) -> Vec<Param> {
        match *self {
            Write::InsertObjects { table, with_id } => with_id
                .then_some(Param::Key)
                .into_iter()
                .chain((0..table.columns.len()).map(Param::Column))
                .collect(),
            // The version, if any, is set to the next one by the SQL, and checked by the WHERE.
            Write::Update { table, columns } => columns
                .iter()
                .map(|&c| Param::Column(c))
                .chain([Param::Key])
                .chain(table.version.map(Param::Column))
                .collect(),
            Write::DeleteObjects { .. } | Write::DeletePairsOf { .. } => vec![Param::Key],
            Write::InsertPairs { .. } | Write::DeletePairs { .. } => {
                vec![Param::End(Side::Left), Param::End(Side::Right)]
            }
        }
    }

    /// The statement for `rows` rows (an update is always one).
    pub fn sql(&self, d: &dyn Dialect, rows: usize) -> String {
        let mut s = Sql::new(d);
        match *self {
            Write::InsertObjects { table, with_id } => {
                let layout = self.layout();
                insert_objects(&mut s, table, &layout, rows);
                if !with_id && d.capabilities().returning {
                    s.push(" RETURNING ").ident(table.primary_key);
                }
            }
            Write::Update { table, columns } => {
                s.push("UPDATE ").ident(table.name).push(" SET ");
                for (i, &c) in columns.iter().enumerate() {
                    if i > 0 {
                        s.push(", ");
                    }
                    s.ident(table.columns[c].name).push(" = ").param();
                }
                let version = table.version.map(|c| table.columns[c].name);
                if let Some(v) = version {
                    s.push(", ").ident(v).push(" = ").ident(v).push(" + 1");
                }
                s.push(" WHERE ")
                    .ident(table.primary_key)
                    .push(" = ")
                    .param();
                if let Some(v) = version {
                    s.push(" AND ").ident(v).push(" = ").param();
                }
            }
            Write::DeletePairsOf { assoc, side } => {
                s.push("DELETE FROM ")
                    .ident(assoc.table)
                    .push(" WHERE ")
                    .ident(assoc.sides(side).0.column)
                    .push(" IN ")
                    .tuple(rows);
            }
            Write::DeleteObjects { table, returning } => {
                s.push("DELETE FROM ")
                    .ident(table.name)
                    .push(" WHERE ")
                    .ident(table.primary_key)
                    .push(" IN ")
                    .tuple(rows);
                if returning {
                    s.push(" RETURNING ").ident(table.primary_key);
                }
            }
            Write::InsertPairs {
                assoc,
                skip_present,
            } => {
                s.push("INSERT INTO ")
                    .ident(assoc.table)
                    .push(" (")
                    .idents(pair_columns(assoc));
                let types = [assoc.left.table.key_type(), assoc.right.table.key_type()];
                values(&mut s, 2, rows, types);
                if skip_present {
                    d.on_conflict_do_nothing(&mut s.text, assoc.left.column);
                }
            }
            Write::DeletePairs { assoc, returning } => {
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
                    // A row-value list, which SQLite, PostgreSQL and MySQL all take.
                    s.push("(").idents(pair_columns(assoc)).push(") IN (");
                    for r in 0..rows {
                        if r > 0 {
                            s.push(", ");
                        }
                        s.tuple(2);
                    }
                    s.push(")");
                }
                if returning {
                    s.push(" RETURNING ").idents(pair_columns(assoc));
                }
            }
        }
        s.finish()
    }
}

/// The key columns of an association, in [`Param::End`] order (left, then right).
fn pair_columns(assoc: &AssocDef) -> [&'static str; 2] {
    [assoc.left.column, assoc.right.column]
}

/// `INSERT INTO t (cols) VALUES (...), (...)` for `rows` rows of `layout`. Where the dialect
/// inserts from arrays, more than one row is `INSERT INTO t (cols) SELECT * FROM
/// unnest($1::T[], ...)`, whatever their number (see
/// [`Capabilities::insert_arrays`](crate::sql::Capabilities::insert_arrays)).
fn insert_objects(s: &mut Sql<'_>, table: &TableDef, layout: &[Param], rows: usize) {
    s.push("INSERT INTO ").ident(table.name).push(" (");
    if layout.is_empty() {
        // A model with only its generated key (one row a statement).
        s.text.truncate(s.text.len() - 2);
        let default_values = s.d.default_values();
        s.push(default_values);
        return;
    }
    let names = layout.iter().map(|p| match *p {
        Param::Column(c) => table.columns[c].name,
        Param::Key | Param::End(_) => table.primary_key,
    });
    s.idents(names);
    let types = layout.iter().map(|p| match *p {
        Param::Column(c) => table.columns[c].sql_type,
        Param::Key | Param::End(_) => table.key_type(),
    });
    values(s, layout.len(), rows, types);
}

/// Closes an insert's column list with its rows: `) VALUES (?, ?), (?, ?)`, or `) SELECT * FROM
/// unnest($1::T1[], $2::T2[])` for several rows where the dialect inserts from arrays.
fn values(s: &mut Sql<'_>, width: usize, rows: usize, types: impl IntoIterator<Item = SqlType>) {
    if rows > 1 && s.d.capabilities().insert_arrays {
        s.push(") ");
        unnest(s, types);
    } else {
        s.push(") VALUES ");
        for r in 0..rows {
            if r > 0 {
                s.push(", ");
            }
            s.tuple(width);
        }
    }
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
