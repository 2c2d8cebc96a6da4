//! # relata: a relationship-first ORM
//!
//! Typed models by derive, a session with identity map and unit of work, and many-to-many
//! relationships through association tables as the first-class case: declared once, visible from
//! both sides at once, written in dependency order in one transaction.
//!
//! ```
//! use relata::{schema, Association, Database, Model};
//!
//! #[derive(Model)]
//! #[relata(table = "students")]
//! pub struct Student {
//!     #[relata(primary_key)]
//!     pub id: Option<i64>,
//!     pub name: String,
//! }
//!
//! #[derive(Model)]
//! #[relata(table = "courses")]
//! pub struct Course {
//!     #[relata(primary_key)]
//!     pub id: Option<i64>,
//!     pub title: String,
//! }
//!
//! /// The association table, declared once for both sides.
//! #[derive(Association)]
//! #[relata(table = "student_course")]
//! pub struct StudentCourse {
//!     #[relata(references = Student, relation = "courses")]
//!     pub student_id: i64,
//!     #[relata(references = Course, relation = "students")]
//!     pub course_id: i64,
//! }
//!
//! # fn main() -> relata::Result<()> {
//! let db = Database::open("sqlite::memory:")?;
//! db.create_all(&schema![Student, Course, StudentCourse])?;
//!
//! let mut s = db.session();
//! let alice = s.add(Student { id: None, name: "Alice".into() });
//! let bob = s.add(Student { id: None, name: "Bob".into() });
//! let math = s.add(Course { id: None, title: "Math".into() });
//! let science = s.add(Course { id: None, title: "Science".into() });
//! s.extend(Student::courses(), alice, [math, science]);
//! s.link(Student::courses(), bob, math);
//! s.commit()?; // students and courses first, then the pairs with their new keys
//!
//! // Walk the relationship both ways.
//! let alice = s.query::<Student>().filter(Student::NAME.eq("Alice")).one()?;
//! let titles: Vec<&str> =
//!     s.related_objects(Student::courses(), alice)?.map(|c| c.title.as_str()).collect();
//! assert_eq!(titles, ["Math", "Science"]);
//!
//! // Filter across the relationship: the students of Math.
//! let of_math = s
//!     .query::<Student>()
//!     .filter(Student::courses().any(Course::TITLE.eq("Math")))
//!     .order_by(Student::NAME.asc())
//!     .all()?;
//! assert_eq!(of_math.len(), 2);
//! # Ok(())
//! # }
//! ```
//!
//! ## Where things are
//! - [`Model`] and [`Association`] are derived; [`schema!`] lists them for
//!   [`Database::create_all`]. A model field with `#[relata(references = Teacher, relation =
//!   "teacher", inverse = "courses")]` is a foreign key with a relation on each side, a
//!   many-to-one and a one-to-many ([`RelationKind`]), used like a many-to-many's (see the
//!   derive's docs and the README's "One-to-many and many-to-one").
//! - [`Session`] holds objects behind typed [`Key`]s: `add`, `session[key]`, `delete`, `link`,
//!   `related`, `query`, `commit`, `rollback`, and `transaction` for a block of work in one
//!   database transaction.
//! - [`Query`] filters with typed columns ([`Filter`]), crosses relationships with
//!   [`Relation::any`], and loads collections eagerly with [`Query::eager`] (a path of two
//!   with [`Query::eager_then`]).
//! - [`TxOptions`] makes a block read-only or picks its [`Isolation`];
//!   [`Database::transaction_with_retry`] runs a block again, on a fresh session, when the
//!   database gives it up in a conflict with another ([`Retry`]).
//! - [`Error`] is the one error type; a failed commit leaves database and session unchanged.
//!   [`Error::Stale`] says another session changed a pair this one saw, and
//!   [`Error::ConnectionLost`] / [`Error::Timeout`] that a server broke off or ran too long
//!   (every wait has a deadline: see `Database::open`).
//! - SQL is logged as `tracing` events (target `relata::sql`) and echoed to stderr with
//!   [`Database::set_echo`].

#![warn(missing_docs)]

// Lets the derives' `::relata::` paths resolve inside this crate's own unit tests.
extern crate self as relata;

mod backend;
#[cfg(feature = "chrono")]
mod chrono_types;
mod database;
#[cfg(feature = "rust_decimal")]
mod decimal_types;
mod error;
mod expr;
mod flush;
mod hash;
mod io;
#[cfg(feature = "serde_json")]
mod json_types;
mod mask;
mod model;
mod numeric;
mod query;
mod relation;
mod schema;
mod session;
mod sql;
mod table;
mod temporal;
#[cfg(feature = "time")]
mod time_types;
mod toposort;
mod transaction;
#[cfg(feature = "uuid")]
mod uuid_types;
mod value;

pub use error::{ConstraintKind, DriverError, Error, OptionalExtension, Result};
pub use expr::{
    subquery, Aggregated, Correlates, Expression, Nullable, PerRow, Subquery, Summable,
};
pub use flush::Plan;
pub use io::Database;
#[cfg(feature = "serde_json")]
pub use json_types::Json;
pub use mask::mask_url;
pub use model::{Column, ColumnDef, Key, KeyType, Model, Reference, TableDef};
pub use query::{escape_like, Filter, Order, TextLike};
pub use relata_derive::{Association, Enum, Model, Row};
pub use relation::{
    AssocDef, AssocSide, Association, OnDelete, Relation, RelationKind, Side, Storage,
};
pub use schema::{Entity, EntityDef, Schema};
pub use session::{
    Columns, Cursor, FromRow, Has, Here, KeysetPage, NoColumns, ObjectState, Outer, Page, Pages,
    Parts, Projection, Query, Related, Select, Session, Sources, There, ToParam,
};
pub use sql::{Capabilities, Dialect, MySql, Postgres, SchemaLock, Sqlite};
pub use transaction::{is_retryable_error, Committed, Isolation, Retry, TxOptions};
pub use value::{
    Bind, ColumnType, Date, DateTime, DecodeError, Encode, EnumType, Numeric, RowSource, SqlType,
    StoredAs, Time, Timestamp, Value, ValueRef,
};

/// The README's Rust example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

/// Items the derive macros use; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::model::{assert_column_type, assert_model, Slot};
    pub use crate::relation::{Registered, RegisteredForeignKey};
    pub use inventory;
}
