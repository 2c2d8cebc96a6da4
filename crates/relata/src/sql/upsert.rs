//! Upserts: `INSERT ... ON CONFLICT (column) DO UPDATE SET ...` (SQLite, PostgreSQL), `INSERT ...
//! ON DUPLICATE KEY UPDATE ...` (MySQL), for several rows a statement, returning the rows as the
//! database now holds them where the dialect can (`RETURNING`).

use super::{Dialect, Sql};
use crate::model::TableDef;

/// What an upsert writes: its table, the conflict column, and whether the rows carry their keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Upsert<'a> {
    pub table: &'a TableDef,
    /// The column whose value decides insert or update: the primary key or a unique column.
    pub on: &'a str,
    /// Whether the rows carry their primary keys (first).
    pub with_id: bool,
}

impl Upsert<'_> {
    /// How many values each row binds.
    pub fn width(&self) -> usize {
        usize::from(self.with_id) + self.table.columns.len()
    }

    /// The columns an existing row takes from the new one: every column but the conflict column
    /// and the version (which counts up instead).
    fn updated(&self) -> Vec<&str> {
        let t = self.table;
        t.columns
            .iter()
            .enumerate()
            .filter(|(i, c)| c.name != self.on && Some(*i) != t.version)
            .map(|(_, c)| c.name)
            .collect()
    }

    /// The statement for `rows` rows, with `RETURNING` the key and every column if `returning`.
    pub fn sql(&self, d: &dyn Dialect, rows: usize, returning: bool) -> String {
        let t = self.table;
        let mut s = Sql::new(d);
        s.push("INSERT INTO ").ident(t.name).push(" (");
        let names = self
            .with_id
            .then_some(t.primary_key)
            .into_iter()
            .chain(t.columns.iter().map(|c| c.name));
        s.idents(names).push(") VALUES ");
        for r in 0..rows {
            if r > 0 {
                s.push(", ");
            }
            s.tuple(self.width());
        }
        let version = t.version.map(|v| t.columns[v].name);
        d.upsert_clause(&mut s.text, t.name, self.on, &self.updated(), version);
        if returning {
            s.push(" RETURNING ").ident(t.primary_key);
            for c in t.columns {
                s.push(", ").ident(c.name);
            }
        }
        s.finish()
    }
}
