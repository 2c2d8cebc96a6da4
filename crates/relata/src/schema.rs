//! A schema as data: the tables of a set of models and associations, checked for consistency and
//! ordered so that every table comes after the tables its foreign keys reference.

use crate::error::{Error, Result};
use crate::model::TableDef;
use crate::relation::AssocDef;
use crate::sql::{self, Dialect};
use crate::toposort::toposort;

/// A table a schema can hold: a model's or an association's. Implemented by both derives.
#[derive(Debug, Clone, Copy)]
pub enum EntityDef {
    /// A model's table.
    Table(&'static TableDef),
    /// An association table.
    Association(&'static AssocDef),
}

impl EntityDef {
    /// The table it declares, as a value (what the DDL renders).
    pub(crate) fn table(&self) -> crate::table::Table {
        match self {
            Self::Table(t) => crate::table::Table::of_model(t),
            Self::Association(a) => crate::table::Table::of_association(a),
        }
    }

    /// The table's name.
    pub fn table_name(&self) -> &'static str {
        match self {
            Self::Table(t) => t.name,
            Self::Association(a) => a.table,
        }
    }

    /// The Rust type that declared it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Table(t) => t.model,
            Self::Association(a) => a.name,
        }
    }

    /// The other tables this one's foreign keys reference (a model referencing itself, an
    /// employee's manager, is created in one statement, so it is left out).
    fn references(&self) -> Vec<&'static TableDef> {
        self.references_by(false)
    }

    /// [`EntityDef::references`], only by `NOT NULL` keys if `required_only`.
    fn references_by(&self, required_only: bool) -> Vec<&'static TableDef> {
        match self {
            Self::Table(t) => t
                .columns
                .iter()
                .filter(|c| !(required_only && c.nullable))
                .filter_map(|c| c.references.map(|r| (r.table)()))
                .filter(|r| r.name != t.name)
                .collect(),
            Self::Association(a) => vec![a.left.table, a.right.table],
        }
    }
}

/// A type that declares a table: `#[derive(Model)]` and `#[derive(Association)]` implement it.
pub trait Entity {
    /// The table it declares.
    const ENTITY: EntityDef;
}

/// The tables of an application, built with [`schema!`](crate::schema!) and created with
/// `Database::create_all`.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    entities: Vec<EntityDef>,
}

/// Builds a [`Schema`] from model and association types: `schema![Student, Course, StudentCourse]`.
/// Order does not matter: tables are created parents first.
#[macro_export]
macro_rules! schema {
    ($($t:ty),* $(,)?) => {
        $crate::Schema::new(vec![$(<$t as $crate::Entity>::ENTITY),*])
    };
}

impl Schema {
    /// A schema of these tables (see [`schema!`](crate::schema!)).
    pub fn new(entities: Vec<EntityDef>) -> Schema {
        Schema { entities }
    }

    /// The tables, in the order given.
    pub fn entities(&self) -> &[EntityDef] {
        &self.entities
    }

    /// The tables, parents before the tables that reference them, after checking that no table is
    /// declared twice and that every referenced model is part of the schema.
    pub fn ordered(&self) -> Result<Vec<EntityDef>> {
        for (i, e) in self.entities.iter().enumerate() {
            if let Some(other) = self.entities[..i]
                .iter()
                .find(|o| o.table_name() == e.table_name())
            {
                let message = if other.type_name() == e.type_name() {
                    format!("{} is listed twice; list each type once", e.type_name())
                } else {
                    format!(
                        "table `{}` is declared twice, by {} and by {}; give one of them another #[relata(table = \"...\")]",
                        e.table_name(),
                        other.type_name(),
                        e.type_name()
                    )
                };
                return Err(Error::Schema { message });
            }
            for r in e.references() {
                if !self.entities.iter().any(|o| o.table_name() == r.name) {
                    return Err(Error::Schema {
                        message: format!(
                            "{} references {} (table `{}`), which is not in the schema; add {} to schema![...]",
                            e.type_name(),
                            r.model,
                            r.name,
                            r.model
                        ),
                    });
                }
            }
        }
        let index = |name: &str| self.entities.iter().position(|e| e.table_name() == name);
        let order = |required_only: bool| {
            toposort(self.entities.len(), |i| {
                self.entities[i]
                    .references_by(required_only)
                    .iter()
                    .filter_map(|r| index(r.name))
                    .collect()
            })
        };
        // Tables that reference each other: a nullable key can be added once both exist
        // (`Table::foreign_keys`' `deferred`); a cycle of NOT NULL keys cannot be filled at all.
        let order = order(false).or_else(|_| order(true)).map_err(|cycle| Error::Schema {
            message: format!(
                "NOT NULL foreign keys form a cycle through {}: no row could be inserted first; make one of them an Option",
                cycle
                    .iter()
                    .map(|&i| self.entities[i].table_name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        Ok(order.into_iter().map(|i| self.entities[i]).collect())
    }

    /// The tables as the DDL creates them, in order: a foreign key to a table created later is
    /// marked `deferred` (added once both exist).
    pub(crate) fn tables(&self) -> Result<Vec<crate::table::Table>> {
        let ordered = self.ordered()?;
        let mut created: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for e in ordered {
            let mut table = e.table();
            created.push(e.table_name());
            for fk in &mut table.foreign_keys {
                fk.deferred = !created.contains(&fk.references.as_str());
            }
            out.push(table);
        }
        Ok(out)
    }

    /// The names of the tables and indexes the DDL creates, in a dialect.
    pub(crate) fn objects(&self, dialect: &dyn Dialect) -> Result<Vec<String>> {
        Ok(self
            .ordered()?
            .into_iter()
            .flat_map(|e| sql::table_objects(dialect, &e.table()))
            .collect())
    }

    /// The DDL statements that create the schema, in order, for a dialect: the native enum
    /// types its columns use (once each, where the database has such types), then the tables,
    /// parents first.
    pub fn ddl(&self, dialect: &dyn Dialect) -> Result<Vec<String>> {
        let tables = self.tables()?;
        let mut enums: Vec<&'static crate::value::EnumType> = Vec::new();
        for c in tables.iter().flat_map(|t| &t.columns) {
            if let crate::value::SqlType::Enum(e) = c.ty {
                if !enums.iter().any(|known| known.name == e.name) {
                    enums.push(e);
                }
            }
        }
        Ok(enums
            .into_iter()
            .filter_map(|e| dialect.create_enum(e))
            .chain(tables.iter().flat_map(|t| sql::create_table(dialect, t)))
            .chain(
                tables
                    .iter()
                    .flat_map(|t| sql::add_deferred_keys(dialect, t)),
            )
            .collect())
    }
}
