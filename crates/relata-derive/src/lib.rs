//! Derive macros for relata. Each entry point parses once and turns errors into `compile_error!`
//! at the span of the mistake; the expansions live one file per derive.

mod association;
mod attrs;
mod enums;
mod model;
mod reference;
mod row;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `relata::Model` for a struct with named fields.
///
/// - `#[relata(table = "students")]` on the struct names the table (default: the struct's name in
///   snake_case).
/// - One field `#[relata(primary_key)]`: either `Option<i64>`, a key the database generates
///   (`None` until the object is first committed; add `autoincrement`,
///   `#[relata(primary_key, autoincrement)]`, so that keys are never reused after a delete), or a
///   key the application chooses: `String`, `uuid::Uuid`, an `i64` it numbers itself, or a type
///   of its own that implements `relata::KeyType`. A chosen key is set when the object is made,
///   is known before any commit, and never changes once stored. An association end that
///   references the model has the key's type (`course_code: String`).
/// - Other fields are columns: `i64`, `i32`, `String`, `bool`, `f64`, `Vec<u8>`, chrono's
///   `NaiveDate`, `NaiveTime`, `NaiveDateTime` and `DateTime<Utc>` (feature `chrono`),
///   `uuid::Uuid`, `rust_decimal::Decimal`, `serde_json::Value` and `relata::Json<T>` (or `#[relata(json)]` on a field of
///   any serde type: stored as a JSON document), a type of your
///   own that implements `relata::StoredAs` (or an enum with `#[derive(relata::Enum)]`), or
///   `Option<T>` of those for a nullable column; `#[relata(unique)]`, `#[relata(index)]` (or
///   `#[relata(index = "hash")]`: equality lookups only, no size limit on PostgreSQL, where a
///   B-tree entry holds about 2,700 bytes), `#[relata(column = "name")]` to rename.
///
/// - A foreign key: `#[relata(references = Teacher, relation = "teacher", inverse = "courses")]`
///   on a field holding the referenced model's key (`Option<i64>` for a nullable reference to a
///   generated key, `i64` for a required one, `String` / `Option<String>` for a text key...)
///   makes a real `FOREIGN KEY` with an index, and a relation on each side:
///   `Course::teacher()` (many-to-one) and `Teacher::courses()` (one-to-many), used like a
///   many-to-many's (`link`, `unlink`, `related`, `eager`, `any`, joins and counts). Add
///   `on_delete = "cascade"`, `"set null"` (nullable fields only), `"restrict"` or `"no action"`
///   (the default, what the database does without a clause) and `order_by = "field"` (a field of
///   this model ordering each parent's collection), and `delete_orphans` for children that live
///   only in their parent (unlinked, a child is deleted; deleting the parent deletes the
///   children the session holds). A model may reference itself (an employee's `manager`).
///
/// Generates a typed column constant per field (`Student::NAME`, and `Student::ID` or
/// `Course::CODE` for the key).
#[proc_macro_derive(Model, attributes(relata))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    model::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `relata::Association` for the struct that declares a many-to-many association table,
/// once for both sides:
///
/// ```text
/// #[derive(Association)]
/// #[relata(table = "student_course")]
/// struct StudentCourse {
///     #[relata(references = Student, relation = "courses")]
///     student_id: i64,
///     #[relata(references = Course, relation = "students", order_by = "name")]
///     course_id: i64,
/// }
/// ```
///
/// Each key field names the model it references and the relationship that model gets
/// (`Student::courses()`, `Course::students()`); `order_by = "field"` orders that relationship's
/// collections by a field of the other model instead of its primary key.
#[proc_macro_derive(Association, attributes(relata))]
pub fn derive_association(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    association::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `relata::StoredAs` for an enum whose variants have no fields: it is stored as text, one
/// string per variant (its name, or `#[relata(rename = "...")]` on the variant, or
/// `#[relata(rename_all = "snake_case")]` (also `"lowercase"`, `"UPPERCASE"`) on the enum). The
/// enum must be `Clone`. Reading a string that is no variant fails with an error naming the table,
/// the column, the value and the variants expected.
///
/// ```text
/// #[derive(Debug, Clone, Copy, PartialEq, relata::Enum)]
/// #[relata(rename_all = "snake_case")]
/// enum Status { Active, OnLeave, Graduated }   // stored as "active", "on_leave", "graduated"
/// ```
///
/// `#[relata(native)]` (or `#[relata(native = "type_name")]`) stores it as the database's own
/// enum instead: a type `CREATE TYPE status AS ENUM ('active', ...)` on PostgreSQL (created by
/// `create_all` before the tables, once), an `ENUM('active', ...)` column on MySQL, text on
/// SQLite. The database then refuses any other value, and orders by the variants' order (SQLite
/// by the text).
#[proc_macro_derive(Enum, attributes(relata))]
pub fn derive_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    enums::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives, for a struct with named fields, reading one row of a select or of raw SQL into it:
/// the fields take the selected values in order, and their types must be the values' types (a
/// compile error otherwise).
///
/// ```text
/// #[derive(relata::Row)]
/// struct CourseCount { title: String, students: i64 }
///
/// let rows: Vec<CourseCount> = s.query::<Course>()
///     .select((Course::TITLE, Course::students().count()))
///     .all_as()?;
/// let same: Vec<CourseCount> = s.select("SELECT title, 0 FROM courses", params![])?;
/// ```
///
/// Implements `From<(T1, T2, ...)>` (the select's row) and `relata::FromRow` (raw SQL).
#[proc_macro_derive(Row)]
pub fn derive_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    row::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
