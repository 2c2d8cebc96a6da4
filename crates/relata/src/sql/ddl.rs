//! Schema: `CREATE TABLE` with its keys, foreign keys and indexes, rendered from a table value
//! (`table::Table`, derived from a model's or an association's definition).

use super::{Dialect, ForwardKeys, Sql};
use crate::table::{ForeignKey, PrimaryKey, Table, TableKind};

/// `CREATE TABLE IF NOT EXISTS`, then each index the dialect creates separately.
pub(crate) fn create_table(d: &dyn Dialect, table: &Table) -> Vec<String> {
    let mut s = Sql::new(d);
    s.push("CREATE TABLE IF NOT EXISTS ")
        .ident(&table.name)
        .push(" (");
    let mut first = true;
    let mut comma = |s: &mut Sql<'_>| {
        if !std::mem::take(&mut first) {
            s.push(", ");
        }
    };
    if let PrimaryKey::Generated {
        column,
        autoincrement,
    } = &table.primary_key
    {
        comma(&mut s);
        s.ident(column)
            .push(" ")
            .push(d.generated_key(*autoincrement));
    }
    let key_columns: Vec<&String> = match &table.primary_key {
        PrimaryKey::Columns(columns) => columns.iter().collect(),
        PrimaryKey::Generated { .. } => Vec::new(),
    };
    // A foreign key column holds a key: typed as the key it references (MySQL compares the two).
    let key_columns: Vec<&String> = key_columns
        .into_iter()
        .chain(table.foreign_keys.iter().flat_map(|fk| &fk.columns))
        .collect();
    for c in &table.columns {
        let ty = if key_columns.contains(&&c.name) {
            d.primary_key_type(c.ty)
        } else if c.unique {
            d.key_column_type(c.ty)
        } else {
            d.column_type(c.ty)
        };
        comma(&mut s);
        s.ident(&c.name).push(" ").push(ty);
        if !c.nullable {
            s.push(" NOT NULL");
        }
        if c.unique {
            s.push(" UNIQUE");
        }
    }
    if let PrimaryKey::Columns(columns) = &table.primary_key {
        comma(&mut s);
        s.push("PRIMARY KEY (")
            .idents(columns.iter().map(String::as_str))
            .push(")");
    }
    let mut separate = Vec::new();
    for index in &table.indexes {
        let mut key = Sql::new(d);
        for (i, (column, ty)) in index.columns.iter().enumerate() {
            if i > 0 {
                key.push(", ");
            }
            key.ident(column);
            if key_columns.contains(&column) {
                // A key column is bounded already (`primary_key_type`).
            } else if let Some(n) = d.index_prefix(*ty) {
                key.push(&format!("({n})"));
            }
        }
        let key = key.finish();
        if d.inline_indexes() {
            comma(&mut s);
            s.push("INDEX ")
                .ident(&index.name)
                .push(" (")
                .push(&key)
                .push(")");
        } else {
            let using = d.hash_index_method().filter(|_| index.hash);
            separate.push(create_index(d, &index.name, &table.name, using, &key));
        }
    }
    let inline = d.forward_foreign_keys() == ForwardKeys::Inline;
    for fk in table
        .foreign_keys
        .iter()
        .filter(|fk| inline || !fk.deferred)
    {
        comma(&mut s);
        foreign_key(&mut s, fk, false);
    }
    s.push(")").push(match table.kind {
        TableKind::Model => d.table_options(),
        TableKind::Association => d.association_table_options(),
    });
    let mut out = vec![s.finish()];
    out.extend(separate);
    out
}

/// `FOREIGN KEY [IF NOT EXISTS] (cols) REFERENCES parent (key) [ON DELETE ...]`.
fn foreign_key(s: &mut Sql<'_>, fk: &ForeignKey, if_not_exists: bool) {
    s.push("FOREIGN KEY ")
        .push(if if_not_exists {
            "IF NOT EXISTS ("
        } else {
            "("
        })
        .idents(fk.columns.iter().map(String::as_str))
        .push(") REFERENCES ")
        .ident(&fk.references)
        .push(" (")
        .idents(fk.referenced.iter().map(String::as_str))
        .push(")")
        .push(fk.on_delete.sql());
}

/// The foreign keys of `table` to tables created after it, added once every table exists
/// (nothing where the dialect declares them inline): two tables that reference each other.
/// Each is named `{table}_{column}_fkey` and added only if not there yet, where the database
/// can say so.
pub(crate) fn add_deferred_keys(d: &dyn Dialect, table: &Table) -> Vec<String> {
    let how = d.forward_foreign_keys();
    if how == ForwardKeys::Inline {
        return Vec::new();
    }
    table
        .foreign_keys
        .iter()
        .filter(|fk| fk.deferred)
        .map(|fk| {
            let name = format!("{}_{}_fkey", table.name, fk.columns.join("_"));
            let mut s = Sql::new(d);
            if how == ForwardKeys::AlterUnlessPresent {
                s.push("DO $$ BEGIN ");
            }
            s.push("ALTER TABLE ")
                .ident(&table.name)
                .push(" ADD CONSTRAINT ")
                .ident(&name)
                .push(" ");
            foreign_key(&mut s, fk, how == ForwardKeys::AlterIfNotExists);
            if how == ForwardKeys::AlterUnlessPresent {
                s.push("; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
            }
            s.finish()
        })
        .collect()
}

/// The names of the table and of the indexes created separately that [`create_table`] makes
/// (the names [`Dialect::existing_tables_and_indexes`] lists).
pub(crate) fn table_objects(d: &dyn Dialect, table: &Table) -> Vec<String> {
    let mut out = vec![table.name.clone()];
    if !d.inline_indexes() {
        out.extend(table.indexes.iter().map(|i| i.name.clone()));
    }
    out
}

/// `CREATE INDEX IF NOT EXISTS name ON table [USING method] (key)`, `key` being the rendered
/// column list.
fn create_index(
    d: &dyn Dialect,
    name: &str,
    table: &str,
    using: Option<&str>,
    key: &str,
) -> String {
    let mut s = Sql::new(d);
    s.push("CREATE INDEX IF NOT EXISTS ")
        .ident(name)
        .push(" ON ")
        .ident(table);
    if let Some(method) = using {
        s.push(" USING ").push(method);
    }
    s.push(" (").push(key).push(")");
    s.finish()
}
