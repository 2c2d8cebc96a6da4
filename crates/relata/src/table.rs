//! Tables as owned values: what a model or an association asks the database to hold (columns,
//! keys, foreign keys, indexes), derived from their static definitions (`TableDef`, `AssocDef`).
//! The DDL renders one (`sql::create_table`); migrations will read a live database into the same
//! values and compare two of them.

use crate::model::TableDef;
use crate::relation::{AssocDef, AssocSide, OnDelete};
use crate::value::SqlType;

/// One table: its columns, primary key, foreign keys and indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    /// The table's name.
    pub name: String,
    /// What the table stores: a model's objects or an association's pairs (dialects give the
    /// two different table options).
    pub kind: TableKind,
    /// Its columns, in order.
    pub columns: Vec<Column>,
    /// The primary key: a generated key column's, or a composite key over columns.
    pub primary_key: PrimaryKey,
    /// Its foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// Its indexes (besides the primary key and `UNIQUE` columns).
    pub indexes: Vec<Index>,
}

/// What a table stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableKind {
    /// A model's objects.
    Model,
    /// An association's pairs.
    Association,
}

/// A column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: SqlType,
    /// Whether it takes `NULL`.
    pub nullable: bool,
    /// Whether it is `UNIQUE`.
    pub unique: bool,
}

/// A table's primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrimaryKey {
    /// An integer key the database generates, in a column of its own before the others;
    /// `autoincrement`: never reused after a delete (SQLite's `AUTOINCREMENT`).
    Generated {
        /// The key column.
        column: String,
        /// Whether keys are never reused.
        autoincrement: bool,
    },
    /// A key over these columns (an association's pair).
    Columns(Vec<String>),
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForeignKey {
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub references: String,
    /// The referenced columns.
    pub referenced: Vec<String>,
    /// What a delete of the parent does.
    pub on_delete: OnDelete,
    /// Added after every table exists (`ALTER TABLE`), where the dialect cannot name a table
    /// not created yet: two tables that reference each other.
    pub deferred: bool,
}

/// An index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Index {
    /// Its name.
    pub name: String,
    /// Its columns, with their types (a dialect may index only a prefix of long values).
    pub columns: Vec<(String, SqlType)>,
    /// A hash index, where the database has them (equality only, no size limit on a value).
    pub hash: bool,
}

impl Table {
    /// A model's table. A generated key is a column of its own kind; a chosen key is the first
    /// column, and the primary key over it.
    pub fn of_model(table: &TableDef) -> Table {
        let key = table.chosen_key.map(|ty| Column {
            name: table.primary_key.to_owned(),
            ty,
            nullable: false,
            unique: false,
        });
        Table {
            name: table.name.to_owned(),
            kind: TableKind::Model,
            columns: key
                .into_iter()
                .chain(table.columns.iter().map(|c| Column {
                    name: c.name.to_owned(),
                    ty: c.sql_type,
                    nullable: c.nullable,
                    unique: c.unique,
                }))
                .collect(),
            primary_key: match table.chosen_key {
                None => PrimaryKey::Generated {
                    column: table.primary_key.to_owned(),
                    autoincrement: table.autoincrement,
                },
                Some(_) => PrimaryKey::Columns(vec![table.primary_key.to_owned()]),
            },
            foreign_keys: table
                .columns
                .iter()
                .filter_map(|c| {
                    let r = c.references?;
                    let parent = (r.table)();
                    Some(ForeignKey {
                        columns: vec![c.name.to_owned()],
                        references: parent.name.to_owned(),
                        referenced: vec![parent.primary_key.to_owned()],
                        on_delete: r.on_delete,
                        deferred: false,
                    })
                })
                .collect(),
            // A foreign key column is indexed: loading a parent's children, and the check a
            // delete of a parent makes, look its rows up by it.
            indexes: table
                .columns
                .iter()
                .filter(|c| (c.indexed || c.references.is_some()) && !c.unique)
                .map(|c| Index {
                    name: format!("{}_{}_idx", table.name, c.name),
                    columns: vec![(c.name.to_owned(), c.sql_type)],
                    hash: c.hash_index,
                })
                .collect(),
        }
    }

    /// An association's table: both keys `NOT NULL` (of their models' key types), the pair as
    /// the primary key, a cascading foreign key to each parent, and the reverse index (right,
    /// left) for the other direction.
    pub fn of_association(assoc: &AssocDef) -> Table {
        let sides = [&assoc.left, &assoc.right];
        let key_type = |side: &AssocSide| side.table.key_type();
        Table {
            name: assoc.table.to_owned(),
            kind: TableKind::Association,
            columns: sides
                .iter()
                .map(|side| Column {
                    name: side.column.to_owned(),
                    ty: key_type(side),
                    nullable: false,
                    unique: false,
                })
                .collect(),
            primary_key: PrimaryKey::Columns(sides.iter().map(|s| s.column.to_owned()).collect()),
            foreign_keys: sides
                .iter()
                .map(|side| ForeignKey {
                    columns: vec![side.column.to_owned()],
                    references: side.table.name.to_owned(),
                    referenced: vec![side.table.primary_key.to_owned()],
                    on_delete: OnDelete::Cascade,
                    deferred: false,
                })
                .collect(),
            indexes: vec![Index {
                name: assoc.reverse_index_name(),
                columns: [&assoc.right, &assoc.left]
                    .iter()
                    .map(|s| (s.column.to_owned(), key_type(s)))
                    .collect(),
                hash: false,
            }],
        }
    }
}
