//! One error type for the whole crate, with named fields and messages that say what to do.

use std::fmt;

/// Which kind of constraint rejected a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConstraintKind {
    /// A `NOT NULL` column got `NULL`.
    NotNull,
    /// A `UNIQUE` column or index got a value already present.
    Unique,
    /// A primary key got a value already present.
    PrimaryKey,
    /// A foreign key named a row that does not exist.
    ForeignKey,
    /// A `CHECK` constraint failed.
    Check,
    /// A value is longer than its column allows (MySQL's `VARCHAR` key columns; relata's
    /// connections run MySQL in strict mode, so it is rejected instead of cut short).
    Length,
}

impl fmt::Display for ConstraintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotNull => "NOT NULL",
            Self::Unique => "UNIQUE",
            Self::PrimaryKey => "PRIMARY KEY",
            Self::ForeignKey => "FOREIGN KEY",
            Self::Check => "CHECK",
            Self::Length => "LENGTH",
        })
    }
}

/// Everything that can go wrong in relata.
///
/// Every variant that comes from a failed commit means the same thing for your data: the database
/// is exactly as it was before `commit()`, and the session still holds its pending changes, so you
/// can fix the cause and commit again.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A constraint rejected a row while committing.
    Constraint {
        /// NOT NULL, UNIQUE, PRIMARY KEY, FOREIGN KEY or CHECK.
        kind: ConstraintKind,
        /// The table the statement wrote to.
        table: String,
        /// What the database named: `table.column` for NOT NULL and UNIQUE, the referenced table
        /// for FOREIGN KEY, or the constraint's name.
        constraint: String,
        /// The row that was rejected, as `table(column = value, ...)`, when relata could tell.
        row: Option<String>,
        /// The database's own message.
        message: String,
        /// The driver's own error (see [`Error::code`] and `source()`), when it came from one.
        driver: Option<Box<DriverError>>,
    },
    /// The connection broke, or the server stopped answering (it sent nothing for longer than
    /// the statement timeout, `relata_statement_timeout`, plus 5 s), in the middle of a command.
    /// relata dropped the connection; the server discards the transaction that was in
    /// progress, so nothing of it is kept, unless the connection was lost while the transaction
    /// was being committed (`in_commit`): then the commit may or may not have landed.
    ConnectionLost {
        /// The URL, with any password masked.
        url: String,
        /// What happened.
        message: String,
        /// Whether it happened during `COMMIT`, so the outcome of the commit is unknown.
        in_commit: bool,
        /// The driver's own error (see [`Error::code`] and `source()`), when it came from one.
        driver: Option<Box<DriverError>>,
    },
    /// The database stopped a statement that ran longer than the statement timeout
    /// (`relata_statement_timeout` in the URL, 30 s by default): a very slow statement, or one
    /// that waited that long for a lock another connection held. The transaction was rolled
    /// back; nothing of it was written.
    Timeout {
        /// The database's message.
        message: String,
        /// The driver's own error (see [`Error::code`] and `source()`), when it came from one.
        driver: Option<Box<DriverError>>,
    },
    /// The database URL could not be understood.
    InvalidUrl {
        /// The URL, with any password masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database could not be opened or reached.
    Connect {
        /// The URL, with any password masked.
        url: String,
        /// The driver's message.
        message: String,
    },
    /// The schema handed to `create_all` is inconsistent (a table declared twice, an association
    /// whose model is missing, a cycle of foreign keys).
    Schema {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// `one()` found no row, or `find` was asked for a key that no longer exists.
    NotFound {
        /// The table searched.
        table: &'static str,
        /// What was searched for.
        what: String,
    },
    /// `one()` found more than one row.
    MultipleRows {
        /// The table searched.
        table: &'static str,
        /// How many rows matched (at least two).
        count: u64,
    },
    /// A related collection was not loaded and the session is in strict mode, which forbids lazy
    /// loads (use `eager(..)` on the query that loaded the object).
    LazyLoad {
        /// The relationship, as `Student.courses`.
        relation: String,
        /// The object whose collection was asked for.
        object: String,
    },
    /// A block run under `query_budget` ran more statements than allowed.
    QueryBudget {
        /// The budget.
        limit: usize,
        /// The statements that ran, each with why it ran (e.g. `lazy load of Student.courses`).
        statements: Vec<String>,
    },
    /// A stored value could not become the field's Rust type.
    Decode {
        /// The table read.
        table: &'static str,
        /// The column read.
        column: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The database was busy or locked by another connection for longer than the busy timeout;
    /// retrying later may succeed.
    Busy {
        /// The driver's message.
        message: String,
        /// The driver's own error (see [`Error::code`] and `source()`), when it came from one.
        driver: Option<Box<DriverError>>,
    },
    /// The database aborted the transaction to resolve a conflict with a concurrent one (a
    /// serialization failure or a deadlock); running the whole transaction again may succeed.
    Conflict {
        /// The driver's message.
        message: String,
        /// The driver's own error (see [`Error::code`] and `source()`), when it came from one.
        driver: Option<Box<DriverError>>,
    },
    /// A row the session expected in the database was gone when the commit wrote to it: another
    /// session deleted it (an object the commit updates or deletes) or unlinked it (a pair a
    /// loaded collection held) after this session read it. SQLAlchemy's `StaleDataError`. The transaction was rolled back: nothing of the commit was written,
    /// and the session keeps its changes (reload what changed, or `rollback()`).
    Stale {
        /// What the statement did: `UPDATE` (of an object) or `DELETE` (of an object or a pair).
        statement: &'static str,
        /// The table written.
        table: String,
        /// The rows that were expected but not there, as `table(column = value, ...)`, or the
        /// rows one of which was missing where the database does not say which.
        key: String,
        /// How many rows the statement was to change.
        expected: u64,
        /// How many it matched.
        matched: u64,
    },
    /// A read-only transaction block ([`TxOptions::read_only`](crate::TxOptions::read_only))
    /// was asked to commit changes. They stay pending: commit them after the block, or run it
    /// as a read-write block.
    ReadOnly,
    /// [`Session::refresh`](crate::Session::refresh) of an object it would have to overwrite
    /// changes of (or that has no row to read). Nothing was read; the object is as it was.
    Unsaved {
        /// The object, as `table(column = value, ...)`.
        object: String,
        /// What stands in the way: its unsaved changes, or why it has no row.
        reason: String,
    },
    /// A statement of the application's own ([`Session::execute`](crate::Session::execute),
    /// [`Session::select`](crate::Session::select)) could not be run as given.
    Statement {
        /// The statement.
        sql: String,
        /// What is wrong with it.
        message: String,
    },
    /// A key was used with a session that did not create it, or the primary key of a stored object
    /// was changed.
    InvalidKey {
        /// What is wrong.
        message: String,
    },
    /// An argument relata cannot use: an upsert on a column that is neither the primary key nor
    /// unique, a page number 0, keyset pages ordered by an expression. Nothing ran.
    InvalidArgument {
        /// What is wrong, and what to do instead.
        message: String,
    },
    /// Any other error the database reported.
    Database {
        /// The driver's message.
        message: String,
        /// The statement that failed, if any.
        sql: Option<String>,
        /// The driver's own error (see [`Error::code`] and `source()`), when it came from one.
        driver: Option<Box<DriverError>>,
    },
}

impl Error {
    /// Whether retrying the same operation later might succeed: the database was busy or locked
    /// ([`Error::Busy`]), or gave up the transaction in a conflict with another
    /// ([`Error::Conflict`]).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Busy { .. } | Self::Conflict { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Constraint {
                kind,
                table,
                constraint,
                row,
                message, ..
            } => {
                match kind {
                    ConstraintKind::NotNull => write!(f, "{constraint} is NOT NULL")?,
                    ConstraintKind::Unique | ConstraintKind::PrimaryKey => {
                        write!(f, "{constraint} must be unique ({kind})")?
                    }
                    // A delete of a row that rows of another table still reference: the rejected
                    // row is of another table than the error's.
                    ConstraintKind::ForeignKey
                        if row.as_deref().is_some_and(|r| !r.starts_with(&format!("{table}("))) =>
                    {
                        let row = row.as_deref().unwrap_or_default();
                        return write!(
                            f,
                            "{row} is still referenced by rows of {table} ({kind} {constraint}): delete or change those rows first, or declare the foreign key ON DELETE CASCADE; nothing was written and the session keeps its changes (database said: {message})"
                        );
                    }
                    ConstraintKind::ForeignKey => {
                        write!(f, "a row of {table} refers to a missing row ({kind} {constraint})")?
                    }
                    ConstraintKind::Check => write!(f, "CHECK constraint {constraint} failed")?,
                    ConstraintKind::Length => {
                        write!(f, "a value is too long for {constraint}")?
                    }
                }
                if let Some(row) = row {
                    write!(f, "; rejected row: {row}")?;
                }
                write!(
                    f,
                    "; nothing was written and the session keeps its changes (database said: {message})"
                )
            }
            Self::InvalidUrl { url, reason } => write!(
                f,
                "cannot use database URL `{url}`: {reason} (expected sqlite::memory:, sqlite://path.db, sqlite:///absolute/path.db, postgres://user@host/dbname or mysql://user@host/dbname)"
            ),
            Self::Connect { url, message } => write!(f, "cannot open database `{url}`: {message}"),
            Self::ConnectionLost {
                url,
                message,
                in_commit, ..
            } => {
                write!(f, "lost the connection to database `{url}`: {message}; ")?;
                if *in_commit {
                    f.write_str("it was lost while committing, so the commit may or may not have landed: look before running it again")
                } else {
                    f.write_str("nothing of the unfinished transaction is kept")
                }
            }
            Self::Timeout { message, .. } => write!(
                f,
                "the database stopped a statement that ran longer than the statement timeout ({message}); nothing was written (raise relata_statement_timeout in the URL if such statements are expected)"
            ),
            Self::Schema { message } => write!(f, "schema error: {message}"),
            Self::NotFound { table, what } => write!(f, "no row in {table} matches {what}"),
            Self::MultipleRows { table, count } => write!(
                f,
                "expected one row in {table} but {count} matched; narrow the filter or use first()"
            ),
            Self::LazyLoad { relation, object } => write!(
                f,
                "lazy load of {relation} for {object} in strict mode; load it with .eager({relation}) on the query"
            ),
            Self::QueryBudget { limit, statements } => {
                write!(f, "query budget of {limit} exceeded: {} statements ran", statements.len())?;
                for (i, s) in statements.iter().enumerate() {
                    write!(f, "\n  {}. {s}", i + 1)?;
                }
                Ok(())
            }
            Self::Decode {
                table,
                column,
                reason,
            } => write!(f, "cannot read {table}.{column}: {reason}"),
            Self::Busy { message, .. } => write!(
                f,
                "the database is busy or locked by another connection ({message}); try again"
            ),
            Self::Conflict { message, .. } => write!(
                f,
                "the transaction conflicted with a concurrent one and was rolled back ({message}); run it again"
            ),
            Self::Stale {
                statement,
                table,
                key,
                expected,
                matched,
            } => write!(
                f,
                "{statement} on {table} expected to match {expected} row{} but matched {matched}: {key} is no longer in the database as this session read it (another session deleted it, or changed its version, since); nothing was written and the session keeps its changes",
                if *expected == 1 { "" } else { "s" }
            ),
            Self::ReadOnly => f.write_str(
                "cannot commit inside a read-only transaction block; the changes stay pending: commit them after the block, or make it read-write (TxOptions without read_only)",
            ),
            Self::Unsaved { object, reason } => write!(
                f,
                "cannot refresh {object}: {reason}; commit or rollback() first, or use refresh_discarding to drop its changes"
            ),
            Self::Statement { sql, message } => write!(f, "cannot run `{sql}`: {message}"),
            Self::InvalidKey { message } | Self::InvalidArgument { message } => {
                f.write_str(message)
            }
            Self::Database { message, sql, .. } => match sql {
                Some(sql) => write!(f, "database error: {message} (in `{sql}`)"),
                None => write!(f, "database error: {message}"),
            },
        }
    }
}

impl Error {
    /// This error with the driver's own error behind it (kept by the variants that come from a
    /// driver; others are returned as they are).
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
        allow(dead_code) // only the backends' drivers have errors of their own
    )]
    pub(crate) fn with_driver(mut self, error: Box<DriverError>) -> Error {
        match &mut self {
            Self::Constraint { driver, .. }
            | Self::ConnectionLost { driver, .. }
            | Self::Timeout { driver, .. }
            | Self::Busy { driver, .. }
            | Self::Conflict { driver, .. }
            | Self::Database { driver, .. } => *driver = Some(error),
            _ => {}
        }
        self
    }

    /// The driver's own error behind this one, if it came from the database driver.
    pub fn driver(&self) -> Option<&DriverError> {
        match self {
            Self::Constraint { driver, .. }
            | Self::ConnectionLost { driver, .. }
            | Self::Timeout { driver, .. }
            | Self::Busy { driver, .. }
            | Self::Conflict { driver, .. }
            | Self::Database { driver, .. } => driver.as_deref(),
            _ => None,
        }
    }

    /// The database's code for the error, when the driver gave one: PostgreSQL's SQLSTATE
    /// (`23505`), MySQL's error number (`1062`), SQLite's extended result code (`2067`).
    ///
    /// ```
    /// # use relata::{Database, Model, schema};
    /// # #[derive(Model)] #[relata(table = "students")]
    /// # struct Student { #[relata(primary_key)] id: Option<i64>, #[relata(unique)] name: String }
    /// let db = Database::open("sqlite::memory:")?;
    /// db.create_all(&schema![Student])?;
    /// let mut s = db.session();
    /// s.add(Student { id: None, name: "Alice".into() });
    /// s.add(Student { id: None, name: "Alice".into() });
    /// let e = s.commit().unwrap_err();
    /// assert_eq!(e.code(), Some("2067")); // SQLITE_CONSTRAINT_UNIQUE
    /// assert!(std::error::Error::source(&e).is_some()); // rusqlite's own error
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn code(&self) -> Option<&str> {
        self.driver()?.code()
    }
}

impl std::error::Error for Error {
    /// The driver's own error, when there was one.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.driver()
            .map(|d| &*d.error as &(dyn std::error::Error + 'static))
    }
}

/// The database driver's own error behind a relata [`Error`], kept so nothing it said is lost:
/// the database's code for it and the error itself (`Error::source()` returns it).
#[derive(Debug)]
pub struct DriverError {
    code: Option<String>,
    error: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl DriverError {
    /// `error`, with the database's `code` for it.
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
        allow(dead_code) // only the backends' drivers have errors of their own
    )]
    pub(crate) fn new(
        code: Option<String>,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Box<DriverError> {
        Box::new(DriverError {
            code,
            error: Box::new(error),
        })
    }

    /// The database's code: PostgreSQL's SQLSTATE, MySQL's error number, SQLite's extended
    /// result code.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The driver's error.
    pub fn error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.error
    }
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} (code {code})", self.error),
            None => fmt::Display::fmt(&self.error, f),
        }
    }
}

/// `Result` with relata's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns "no row" into `Ok(None)`: `s.query::<Student>().one().optional()?`.
pub trait OptionalExtension<T> {
    /// `Err(Error::NotFound { .. })` becomes `Ok(None)`; other results pass through.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_null_message_names_the_column() {
        let e = Error::Constraint {
            driver: None,
            kind: ConstraintKind::NotNull,
            table: "students".into(),
            constraint: "students.name".into(),
            row: Some("students(name = NULL)".into()),
            message: "NOT NULL constraint failed: students.name".into(),
        };
        assert!(e
            .to_string()
            .starts_with("students.name is NOT NULL; rejected row: students(name = NULL)"));
    }
}
