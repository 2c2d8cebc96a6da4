//! Schema: `CREATE TABLE` with keys, foreign keys and indexes, built from the table values
//! (`TableDef`, `AssocDef`) that models and associations declare.

use super::{Dialect, Sql};
use crate::model::TableDef;
use crate::relation::AssocDef;
use crate::value::SqlType;

/// `CREATE TABLE IF NOT EXISTS` and its indexes, for a model.
pub(crate) fn create_table(d: &dyn Dialect, table: &TableDef) -> Vec<String> {
    let mut s = Sql::new(d);
    s.push("CREATE TABLE IF NOT EXISTS ")
        .ident(table.name)
        .push(" (");
    s.ident(table.primary_key)
        .push(" ")
        .push(d.generated_key(table.autoincrement));
    for c in table.columns {
        let ty = if c.unique {
            d.key_column_type(c.sql_type)
        } else {
            d.column_type(c.sql_type)
        };
        s.push(", ").ident(c.name).push(" ").push(ty);
        if !c.nullable {
            s.push(" NOT NULL");
        }
        if c.unique {
            s.push(" UNIQUE");
        }
    }
    let indexed = table.columns.iter().filter(|c| c.indexed && !c.unique);
    let mut out = Vec::new();
    let mut separate = Vec::new();
    for c in indexed {
        let name = index_name(table, c.name);
        let mut key = Sql::new(d);
        key.ident(c.name);
        if let Some(n) = d.index_prefix(c.sql_type) {
            key.push(&format!("({n})"));
        }
        let key = key.finish();
        if d.inline_indexes() {
            s.push(", INDEX ")
                .ident(&name)
                .push(" (")
                .push(&key)
                .push(")");
        } else {
            let using = d.hash_index_method().filter(|_| c.hash_index);
            separate.push(create_index(d, &name, table.name, using, &key));
        }
    }
    s.push(")").push(d.table_options());
    out.push(s.finish());
    out.extend(separate);
    out
}

/// The names of the tables and separately created indexes that [`create_table`] makes for a
/// model (the names [`Dialect::existing_tables_and_indexes`] lists).
pub(crate) fn table_objects(d: &dyn Dialect, table: &TableDef) -> Vec<String> {
    let mut out = vec![table.name.to_owned()];
    if !d.inline_indexes() {
        out.extend(
            table
                .columns
                .iter()
                .filter(|c| c.indexed && !c.unique)
                .map(|c| index_name(table, c.name)),
        );
    }
    out
}

/// The names of the table and separately created index that [`create_association`] makes.
pub(crate) fn association_objects(d: &dyn Dialect, assoc: &AssocDef) -> Vec<String> {
    let mut out = vec![assoc.table.to_owned()];
    if !d.inline_indexes() {
        out.push(assoc.reverse_index_name());
    }
    out
}

/// The name of the index on one column of a model's table.
fn index_name(table: &TableDef, column: &str) -> String {
    format!("{}_{}_idx", table.name, column)
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

/// `CREATE TABLE IF NOT EXISTS` for an association: both keys NOT NULL, the composite primary
/// key, cascading foreign keys to both parents, and the reverse index.
pub(crate) fn create_association(d: &dyn Dialect, assoc: &AssocDef) -> Vec<String> {
    let mut s = Sql::new(d);
    s.push("CREATE TABLE IF NOT EXISTS ")
        .ident(assoc.table)
        .push(" (");
    for side in [&assoc.left, &assoc.right] {
        s.ident(side.column)
            .push(" ")
            .push(d.column_type(SqlType::BigInt))
            .push(" NOT NULL, ");
    }
    s.push("PRIMARY KEY (")
        .idents([assoc.left.column, assoc.right.column])
        .push(")");
    let reverse = [assoc.right.column, assoc.left.column];
    if d.inline_indexes() {
        s.push(", INDEX ")
            .ident(&assoc.reverse_index_name())
            .push(" (")
            .idents(reverse)
            .push(")");
    }
    for side in [&assoc.left, &assoc.right] {
        s.push(", FOREIGN KEY (")
            .ident(side.column)
            .push(") REFERENCES ")
            .ident(side.table.name)
            .push(" (")
            .ident(side.table.primary_key)
            .push(") ON DELETE CASCADE");
    }
    s.push(")").push(d.association_table_options());
    let mut out = vec![s.finish()];
    if !d.inline_indexes() {
        let mut key = Sql::new(d);
        key.idents(reverse);
        out.push(create_index(
            d,
            &assoc.reverse_index_name(),
            assoc.table,
            None,
            &key.finish(),
        ));
    }
    out
}
