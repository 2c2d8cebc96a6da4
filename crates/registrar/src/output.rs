//! Human output as aligned tables, and the JSON documents of `--json`.

use serde_json::{json, Value};
use unicode_width::UnicodeWidthStr;

use registrar::escape_control;
use registrar::Party;
use registrar::{Added, Entry, Listed, Shown};

/// A table with a header row: text columns left-aligned, number columns right-aligned, widths
/// measured in terminal columns (so 张伟 counts two).
pub struct Table {
    header: Vec<&'static str>,
    numeric: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns; `numeric[i]` right-aligns column `i`.
    pub fn new(columns: &[(&'static str, bool)]) -> Table {
        Table {
            header: columns.iter().map(|c| c.0).collect(),
            numeric: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (one cell per column). Control characters in a cell (a name can hold a
    /// newline or a terminal escape) are shown escaped, so the table stays a table and the
    /// terminal shows the text instead of obeying it.
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows.push(
            cells
                .into_iter()
                .map(|c| escape_control(&c).into_owned())
                .collect(),
        );
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.width());
            }
        }
        let header = self.header.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let last = row.len() - 1;
            for (i, cell) in row.iter().enumerate() {
                let pad = " ".repeat(widths[i] - cell.width());
                let sep = if i == last { "" } else { "  " };
                if self.numeric[i] {
                    write!(f, "{pad}{cell}{sep}")?;
                } else if i == last {
                    write!(f, "{cell}")?;
                } else {
                    write!(f, "{cell}{pad}{sep}")?;
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// `id` and the name (title) column of `M`.
pub fn entries_table<M: Party>(entries: &[Entry]) -> Table {
    let mut t = Table::new(&[("id", true), (M::FIELD, false)]);
    for e in entries {
        t.row(vec![e.id.to_string(), e.name.clone()]);
    }
    t
}

/// `student list` / `course list`.
pub fn list_table<M: Party>(rows: &[Listed]) -> Table {
    let mut t = Table::new(&[("id", true), (M::FIELD, false), (M::Other::PLURAL, true)]);
    for r in rows {
        t.row(vec![
            r.entry.id.to_string(),
            r.entry.name.clone(),
            r.count.to_string(),
        ]);
    }
    t
}

/// `{"id":1,"name":"Alice"}` (or `"title"` for a course).
pub fn entry_json<M: Party>(e: &Entry) -> Value {
    json!({"id": e.id, M::FIELD: e.name})
}

/// `[{"id":1,"name":"Alice"}]`.
pub fn entries_json<M: Party>(entries: &[Entry]) -> Value {
    Value::Array(entries.iter().map(entry_json::<M>).collect())
}

/// What `add` stored: `[{"id":3,"name":"Alice","same_name":[1]}]`, `same_name` (the ids of the
/// rows that had the name already) only when there are any, so a name new to the database gives
/// the same document as ever.
pub fn added_json<M: Party>(added: &[Added]) -> Value {
    Value::Array(
        added
            .iter()
            .map(|a| {
                let mut v = entry_json::<M>(&a.entry);
                if !a.same_name.is_empty() {
                    v["same_name"] = json!(a.same_name);
                }
                v
            })
            .collect(),
    )
}

/// `[{"id":1,"name":"Alice","courses":2}]` / `[{"id":1,"title":"Math","students":2}]`.
pub fn list_json<M: Party>(rows: &[Listed]) -> Value {
    let count = M::Other::PLURAL;
    Value::Array(
        rows.iter()
            .map(|r| json!({"id": r.entry.id, M::FIELD: r.entry.name, count: r.count}))
            .collect(),
    )
}

/// `{"id":1,"name":"Alice","courses":[{"id":1,"title":"Math"}]}`.
pub fn shown_json<M: Party>(shown: &Shown) -> Value {
    json!({
        "id": shown.entry.id,
        M::FIELD: shown.entry.name,
        M::Other::PLURAL: entries_json::<M::Other>(&shown.related),
    })
}

/// `{"ok":true,"changed":N}`.
pub fn changed_json(changed: usize) -> Value {
    json!({"ok": true, "changed": changed})
}

/// `1 course`, `2 courses`, `0 pairs`: a count with its noun in the right number.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_by_display_width() {
        let mut t = Table::new(&[("id", true), ("name", false), ("courses", true)]);
        t.row(vec!["1".into(), "张伟".into(), "2".into()]);
        t.row(vec!["12".into(), "Alice".into(), "10".into()]);
        assert_eq!(
            t.to_string(),
            "id  name   courses\n 1  张伟         2\n12  Alice       10\n"
        );
    }

    #[test]
    fn cells_show_control_characters_escaped() {
        let mut t = Table::new(&[("id", true), ("name", false)]);
        t.row(vec!["1".into(), "two\nlines\u{1b}[31m".into()]);
        assert_eq!(t.to_string(), "id  name\n 1  two\\nlines\\u{1b}[31m\n");
    }

    #[test]
    fn counts_take_the_right_number() {
        assert_eq!(count(0, "course", "courses"), "0 courses");
        assert_eq!(count(1, "course", "courses"), "1 course");
        assert_eq!(count(2, "pair", "pairs"), "2 pairs");
    }
}
