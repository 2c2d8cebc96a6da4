//! SQL of the application's own, with bound parameters: a statement run for the rows it
//! changed, a query read into tuples (or single values), and a query read into models merged into
//! the identity map (SQLAlchemy's `text()` with `from_statement`). Placeholders are `?` on every
//! backend; values are always bound, never pasted into the text.

use super::*;
use crate::io::Exec;
use crate::value::{ColumnType, DecodeError, RowSource, Value};

/// A value that can be bound to a `?` of raw SQL: any column type (`i64`, `&str`, `String`,
/// dates, your `StoredAs` types, `Option`s of them), or a [`Value`]. [`params!`](crate::params)
/// makes the list.
pub trait ToParam {
    /// The value to bind.
    fn to_param(&self) -> Value;
}

impl<T: ColumnType> ToParam for T {
    fn to_param(&self) -> Value {
        self.to_value().to_owned()
    }
}

impl ToParam for &str {
    fn to_param(&self) -> Value {
        Value::Text((*self).to_owned())
    }
}

impl ToParam for Value {
    fn to_param(&self) -> Value {
        self.clone()
    }
}

/// The parameters of raw SQL, in the order of its `?`s: `relata::params![name, 42]`.
#[macro_export]
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::ToParam::to_param(&$value)),*][..]
    };
}

/// What one row of a raw query reads into: a single column type (`i64`, `String`, ...), or a
/// tuple of up to eight, one per selected column in order.
pub trait FromRow: Sized {
    /// Reads the row.
    fn from_row(row: &dyn RowSource) -> Result<Self, (usize, DecodeError)>;
}

impl<T: ColumnType> FromRow for T {
    fn from_row(row: &dyn RowSource) -> Result<Self, (usize, DecodeError)> {
        T::read(row, 0).map_err(|e| (0, e))
    }
}

macro_rules! tuple_from_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t: ColumnType),+> FromRow for ($($t,)+) {
            fn from_row(row: &dyn RowSource) -> Result<Self, (usize, DecodeError)> {
                Ok(($($t::read(row, $i).map_err(|e| ($i, e))?,)+))
            }
        }
    };
}

tuple_from_row!(A 0);
tuple_from_row!(A 0, B 1);
tuple_from_row!(A 0, B 1, C 2);
tuple_from_row!(A 0, B 1, C 2, D 3);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// Names for a raw query's columns in messages: `column 1`, ...
const COLUMNS: [&str; 8] = [
    "column 1", "column 2", "column 3", "column 4", "column 5", "column 6", "column 7", "column 8",
];

/// The name of column `i` (0-based) of a query's result, for messages.
pub(super) fn column_name(i: usize) -> &'static str {
    COLUMNS.get(i).copied().unwrap_or("a column")
}

impl Session {
    /// Checks a statement's placeholders against its parameters and spells them for the
    /// database.
    fn prepare_sql(&self, sql: &str, params: &[Value]) -> Result<String> {
        let (text, n) = crate::sql::user_placeholders(self.db.dialect(), sql);
        if n != params.len() {
            return Err(Error::Statement {
                sql: sql.to_owned(),
                message: format!(
                    "it has {n} placeholder{} (?) but {} parameter{} were given",
                    if n == 1 { "" } else { "s" },
                    params.len(),
                    if params.len() == 1 { "" } else { "s" },
                ),
            });
        }
        Ok(text)
    }

    /// Runs a statement of your own (`INSERT`, `UPDATE`, `DELETE`, DDL) with bound parameters,
    /// and returns how many rows it changed. Write `?` for each parameter, on every backend
    /// (a `?` inside quotes or a comment is left alone; PostgreSQL's JSON operators `?`, `?|`
    /// and `?&` cannot be written: use `jsonb_exists`, `jsonb_exists_any`, `jsonb_exists_all`).
    /// It runs in the session's transaction block if there is one, else on its own; it does not
    /// touch the objects the session holds (read them again with `refresh` or `expire_all`).
    ///
    /// ```
    /// # use relata::{Database, Model, params, schema};
    /// # #[derive(Model)] #[relata(table = "students")]
    /// # struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student])?;
    /// let mut s = db.session();
    /// let name = "Robert'); DROP TABLE students;--"; // bound, never pasted into the SQL
    /// let added = s.execute("INSERT INTO students (name) VALUES (?), (?)", params![name, "Алиса"])?;
    /// assert_eq!(added, 2);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let text = self.prepare_sql(sql, params)?;
        let why = "execute";
        let mut exec = Exec::new(&why, &text, params);
        self.db
            .drive(self.pinned.as_mut(), &mut exec, &mut self.log)?;
        exec.finish()
    }

    /// Runs a query of your own with bound parameters and reads each row into `R`: a single
    /// column type, or a tuple of them, one per selected column in order. Inside a block with
    /// autoflush, pending changes are flushed first.
    ///
    /// ```
    /// # use relata::{Database, Model, params, schema};
    /// # #[derive(Model)] #[relata(table = "students")]
    /// # struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student])?;
    /// let mut s = db.session();
    /// s.execute("INSERT INTO students (name) VALUES (?), (?)", params!["Alice", "Alina"])?;
    /// let rows: Vec<(String, i64)> = s.select(
    ///     "SELECT name, length(name) FROM students WHERE name LIKE ? ORDER BY name",
    ///     params!["Al%"],
    /// )?;
    /// assert_eq!(rows, [("Alice".to_owned(), 5), ("Alina".to_owned(), 5)]);
    /// let n: i64 = s.select("SELECT count(*) FROM students", params![])?[0];
    /// assert_eq!(n, 2);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn select<R: FromRow>(&mut self, sql: &str, params: &[Value]) -> Result<Vec<R>> {
        self.autoflush()?;
        let text = self.prepare_sql(sql, params)?;
        let mut rows = Vec::new();
        self.stream(&"select", &text, params, |row| {
            rows.push(R::from_row(row).map_err(|(i, e)| Error::Decode {
                table: "the query's result",
                column: column_name(i),
                reason: e.0,
            })?);
            Ok(())
        })?;
        Ok(rows)
    }

    /// Runs a query of your own that selects rows of `M`'s table, and merges them into the
    /// identity map, as [`Query::all`] does: the primary key first, then every column in the
    /// model's field order. Objects the session holds keep their pending changes.
    ///
    /// ```
    /// # use relata::{Database, Model, params, schema};
    /// # #[derive(Model)] #[relata(table = "students")]
    /// # struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student])?;
    /// let mut s = db.session();
    /// s.execute("INSERT INTO students (name) VALUES (?), (?)", params!["Alice", "Bob"])?;
    /// let keys = s.select_models::<Student>(
    ///     "SELECT id, name FROM students WHERE length(name) > ? ORDER BY name DESC",
    ///     params![3],
    /// )?;
    /// assert_eq!(s[keys[0]].name, "Alice");
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn select_models<M: Model>(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Key<M>>> {
        self.autoflush()?;
        let text = self.prepare_sql(sql, params)?;
        let slots = self.run_select::<M>(&text, params)?;
        Ok(slots.into_iter().map(|s| Key::new(self.id, s)).collect())
    }
}
