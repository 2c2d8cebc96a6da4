//! SQL text for every statement relata runs, rendered per [`Dialect`] from table metadata and
//! filter trees. No IO here: every function returns text, and query parameters are pushed to a
//! vector in placeholder order. Values are never spliced into SQL; identifiers are always quoted.
//!
//! - `dialect.rs`: the [`Dialect`] trait (how a database spells SQL) and [`Capabilities`] (what
//!   it can do: plain data);
//! - `dml.rs`: inserts, updates and deletes, of objects and of pairs;
//! - `select.rs`: queries, counts, lazy and eager loads, and filter trees;
//! - `project.rs`: selects of expressions (aggregates, groups, joins) and value expressions;
//! - `upsert.rs`: inserts that update the row already there;
//! - `ddl.rs`: `CREATE TABLE` and indexes, from the table values models and associations give.

mod ddl;
mod dialect;
mod dml;
mod mysql;
mod postgres;
mod project;
mod prune;
mod select;
mod sqlite;
mod upsert;

pub(crate) use ddl::{add_deferred_keys, create_table, table_objects};
pub use dialect::{Capabilities, Dialect, ForwardKeys, SchemaLock};
pub(crate) use dml::{analyze, exists_by_id, Param, Write};
pub use mysql::MySql;
pub use postgres::Postgres;
pub(crate) use project::{
    aggregate_related, join_related, select_exprs, Join, JoinParts, SelectSpec, Source,
};
pub(crate) use select::{
    count, exists_related, select, select_children, select_eager, select_referenced, select_related,
};
pub use sqlite::Sqlite;
pub(crate) use upsert::Upsert;

/// A small writer that keeps the dialect and the parameter count together.
pub(crate) struct Sql<'d> {
    pub d: &'d dyn Dialect,
    pub text: String,
    pub params: usize,
}

impl<'d> Sql<'d> {
    pub fn new(d: &'d dyn Dialect) -> Self {
        Sql {
            d,
            text: String::with_capacity(128),
            params: 0,
        }
    }
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }
    pub fn ident(&mut self, s: &str) -> &mut Self {
        self.d.quote(&mut self.text, s);
        self
    }
    /// `"alias"."column"`
    pub fn col(&mut self, alias: &str, column: &str) -> &mut Self {
        self.ident(alias).push(".").ident(column)
    }
    pub fn param(&mut self) -> &mut Self {
        self.params += 1;
        self.d.placeholder(&mut self.text, self.params);
        self
    }
    /// `(?, ?, ?)` for `n` parameters.
    pub fn tuple(&mut self, n: usize) -> &mut Self {
        self.push("(");
        for i in 0..n {
            if i > 0 {
                self.push(", ");
            }
            self.param();
        }
        self.push(")")
    }
    /// Identifiers separated by commas.
    pub fn idents<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) -> &mut Self {
        for (i, n) in names.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.ident(n);
        }
        self
    }
    pub fn finish(self) -> String {
        self.text
    }
}

/// How many rows of `width` parameters fit in one statement (at most `cap`).
pub(crate) fn rows_per_statement(d: &dyn Dialect, width: usize, cap: usize) -> usize {
    (d.capabilities().max_params / width.max(1)).clamp(1, cap)
}

/// How many rows of `width` values one `INSERT` carries (at most `cap`): from arrays, `cap`
/// (the statement has `width` parameters whatever the rows); otherwise as many as the
/// parameter limit allows.
pub(crate) fn insert_rows_per_statement(d: &dyn Dialect, width: usize, cap: usize) -> usize {
    if d.capabilities().insert_arrays {
        cap.max(1)
    } else {
        rows_per_statement(d, width, cap)
    }
}

/// Rewrites the `?` placeholders of a statement a user wrote into `d`'s own (`$1, $2, ...` on
/// PostgreSQL), leaving alone any `?` inside a quoted string, a quoted identifier or a comment.
/// Returns the statement and how many placeholders it has.
pub(crate) fn user_placeholders(d: &dyn Dialect, sql: &str) -> (String, usize) {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '?' => {
                n += 1;
                d.placeholder(&mut out, n);
            }
            '\'' | '"' | '`' => {
                // A quoted string or identifier, to its closing quote (a doubled quote is one
                // quote inside it).
                out.push(c);
                while let Some(q) = chars.next() {
                    out.push(q);
                    if q == c {
                        if chars.peek() == Some(&c) {
                            out.push(chars.next().expect("peeked"));
                        } else {
                            break;
                        }
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for q in chars.by_ref() {
                    out.push(q);
                    if q == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                out.push(c);
                let mut prev = ' ';
                for q in chars.by_ref() {
                    out.push(q);
                    if prev == '*' && q == '/' {
                        break;
                    }
                    prev = q;
                }
            }
            _ => out.push(c),
        }
    }
    (out, n)
}
