//! The SQLite backend, over rusqlite with a bundled SQLite.

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef as SqlValueRef};
use rusqlite::{ffi, Connection, OpenFlags, ToSql};

use super::{Conn, Each};
use crate::error::{ConstraintKind, DriverError, Error, Result};
use crate::sql::{Dialect, Sqlite};
use crate::value::{in_range, DecodeError, RowSource, ValueRef};

/// Where an SQLite URL points.
pub(super) enum Target {
    Memory,
    File(PathBuf),
}

impl Target {
    pub(super) fn is_memory(&self) -> bool {
        matches!(self, Target::Memory)
    }
}

/// `sqlite::memory:`, `sqlite://:memory:`, `sqlite://relative.db`, `sqlite:///absolute.db`,
/// `sqlite:relative.db`.
pub(super) fn parse_url(url: &str) -> std::result::Result<Target, String> {
    let rest = url
        .strip_prefix("sqlite:")
        .ok_or("it does not start with sqlite:")?;
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.contains('?') {
        return Err("query parameters are not supported in SQLite URLs".into());
    }
    match path {
        ":memory:" => Ok(Target::Memory),
        "" => Err("it names no file".into()),
        p => Ok(Target::File(PathBuf::from(p))),
    }
}

/// Opens one connection with relata's settings: foreign keys on; for files WAL,
/// synchronous=NORMAL and a 64 MiB page cache; a busy timeout so concurrent writers wait instead
/// of failing at once; stable query plans.
pub(super) fn connect(target: &Target, url: &str) -> Result<Box<dyn Conn>> {
    let fail = |e: rusqlite::Error| {
        if is_busy(&e) {
            // Another process holds the file (creating it, say): retryable, not a bad URL.
            Error::Busy {
                driver: None,
                message: format!(
                    "cannot open `{url}`: {e} (another connection kept it locked for {} s)",
                    BUSY_TIMEOUT.as_secs()
                ),
            }
        } else {
            Error::Connect {
                url: url.to_owned(),
                message: e.to_string(),
            }
        }
    };
    let conn = match target {
        Target::Memory => Connection::open_in_memory(),
        Target::File(path) => Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ),
    }
    .map_err(fail)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
    conn.set_prepared_statement_cache_capacity(64);
    // The bundled SQLite has STAT4, so a statement whose plan might depend on a bound value is
    // re-planned whenever its bindings change, and rusqlite clears bindings each time a cached
    // statement is reused: every lookup by name would be parsed again. The query planner
    // stability guarantee keeps one plan per statement, which is what an ORM's fixed statements
    // want (measured: 2x on repeated lookups).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(fail)?;
    // Reading a pragma also proves the file is a database: a text file fails here, not later.
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(fail)?;
    let fk: bool = conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .map_err(fail)?;
    if !fk {
        return Err(Error::Connect {
            url: url.to_owned(),
            message: "this SQLite cannot enforce foreign keys".into(),
        });
    }
    // LIKE matches case-sensitively, as on PostgreSQL and relata's MySQL tables: one query,
    // one result on every backend (and `LIKE 'prefix%'` can use an index on the column).
    conn.pragma_update(None, "case_sensitive_like", true)
        .map_err(fail)?;
    super::sqlite_decimal::register(&conn).map_err(fail)?;
    if !target.is_memory() {
        // SQLite's default page cache is 2 MiB, which a database of a few hundred thousand rows
        // outgrows: measured 40% faster bulk inserts and 20% faster read-modify-write batches
        // with 64 MiB. The cache grows only as pages are read.
        conn.pragma_update(None, "cache_size", -65536)
            .map_err(fail)?;
        // Turning a new file to WAL needs the file to itself, and SQLite answers "database is
        // locked" at once, without waiting out the busy timeout, when another connection is
        // creating it at the same moment (seen with eight processes opening a new file: two in
        // ten trials failed), so wait here as the busy timeout would.
        retry_while_busy(|| conn.pragma_update(None, "journal_mode", "WAL")).map_err(fail)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(fail)?;
    }
    Ok(Box::new(SqliteConn { conn }))
}

/// How long a connection waits for another to release a lock before giving up with
/// `Error::Busy`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether SQLite said another connection holds a lock.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(err, _)
            if matches!(err.code, ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked)
    )
}

/// Runs `step` again while SQLite reports the file locked, for up to [`BUSY_TIMEOUT`].
fn retry_while_busy<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match step() {
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            done => return done,
        }
    }
}

struct SqliteConn {
    conn: Connection,
}

/// Binds relata's values without copying text or blobs.
struct Bind<'a>(ValueRef<'a>);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            ValueRef::Null => SqlValueRef::Null,
            ValueRef::Integer(v) => SqlValueRef::Integer(v),
            // SQLite would store NaN as NULL: refused, not turned into another value.
            ValueRef::Real(v) if v.is_nan() => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "NaN cannot be stored on SQLite (it would become NULL); use an Option<f64> with None, or PostgreSQL".into(),
                ))
            }
            ValueRef::Real(v) => SqlValueRef::Real(v),
            ValueRef::Bool(v) => SqlValueRef::Integer(i64::from(v)),
            ValueRef::Text(v) => SqlValueRef::Text(v.as_bytes()),
            ValueRef::Blob(v) => SqlValueRef::Blob(v),
            ValueRef::Json(v) => SqlValueRef::Text(v.as_bytes()),
            ValueRef::Encoded(v) => {
                let value = v.encode().map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
                return Ok(ToSqlOutput::Owned(owned(value)));
            }
            // The plain values above bind as they are; dates are checked first (years 1 to 9999).
            other => {
                in_range(other).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
                return Ok(ToSqlOutput::Owned(owned(other.to_owned())));
            }
        }))
    }
}

/// A value a user type encoded to, as rusqlite owns one.
fn owned(v: crate::value::Value) -> rusqlite::types::Value {
    use crate::value::Value;
    use rusqlite::types::Value as Sql;
    match v {
        Value::Null => Sql::Null,
        Value::Integer(v) => Sql::Integer(v),
        Value::Real(v) => Sql::Real(v),
        Value::Bool(v) => Sql::Integer(i64::from(v)),
        Value::Text(v) => Sql::Text(v),
        Value::Blob(v) => Sql::Blob(v),
        // ISO-8601 text: what SQLite's date functions read, in an order that sorts by time.
        Value::Date(v) => Sql::Text(v.to_string()),
        Value::Time(v) => Sql::Text(v.to_string()),
        Value::DateTime(v) => Sql::Text(v.to_string()),
        Value::Timestamp(v) => Sql::Text(v.to_string()),
        Value::Uuid(v) => Sql::Text(crate::value::uuid_text(&v)),
        Value::Json(v) => Sql::Text(v),
        Value::Decimal(v) => Sql::Text(v.to_string()),
    }
}

impl SqliteConn {
    fn prepare(&self, sql: &str, params: &[ValueRef<'_>]) -> Result<rusqlite::CachedStatement<'_>> {
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| map_error(e, sql))?;
        for (i, v) in params.iter().enumerate() {
            stmt.raw_bind_parameter(i + 1, Bind(*v))
                .map_err(|e| map_error(e, sql))?;
        }
        Ok(stmt)
    }
}

impl Conn for SqliteConn {
    fn dialect(&self) -> &'static dyn Dialect {
        &Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[ValueRef<'_>]) -> Result<u64> {
        let mut stmt = self.prepare(sql, params)?;
        stmt.raw_execute()
            .map(|n| n as u64)
            .map_err(|e| map_error(e, sql))
    }

    fn insert(
        &mut self,
        sql: &str,
        params: &[ValueRef<'_>],
        rows: usize,
        ids: &mut Vec<i64>,
    ) -> Result<()> {
        let changed = {
            let mut stmt = self.prepare(sql, params)?;
            stmt.raw_execute().map_err(|e| map_error(e, sql))?
        };
        // One INSERT holds the write lock from first row to last and gives each row without an
        // explicit key the next key in VALUES order, so the keys are the `rows` ending at the last.
        if changed != rows {
            return Err(Error::Database {
                driver: None,
                message: format!("expected to insert {rows} rows but {changed} were inserted"),
                sql: Some(sql.to_owned()),
            });
        }
        let last = self.conn.last_insert_rowid();
        let first = last - rows as i64 + 1;
        ids.extend(first..=last);
        Ok(())
    }

    fn execute_each(
        &mut self,
        sql: &str,
        width: usize,
        params: &[ValueRef<'_>],
        mut out: Each<'_>,
    ) -> std::result::Result<(), (usize, Error)> {
        // One cache lookup and one prepared statement for every row: binding over the previous
        // row's values needs no reset of the bindings.
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| (0, map_error(e, sql)))?;
        for (i, row) in params.chunks(width.max(1)).enumerate() {
            let fail = |e| (i, map_error(e, sql));
            for (j, v) in row.iter().enumerate() {
                stmt.raw_bind_parameter(j + 1, Bind(*v)).map_err(fail)?;
            }
            let changed = stmt.raw_execute().map_err(fail)?;
            match &mut out {
                Each::Keys { keys, .. } => keys.push(self.conn.last_insert_rowid()),
                Each::Changed(counts) => counts.push(changed as u64),
                Each::Nothing => {}
            }
        }
        Ok(())
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[ValueRef<'_>],
        each: &mut dyn FnMut(&dyn RowSource) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.prepare(sql, params)?;
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next().map_err(|e| map_error(e, sql))? {
            each(&Row(row))?;
        }
        Ok(())
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(|e| map_error(e, sql))
    }

    fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }
}

struct Row<'a>(&'a rusqlite::Row<'a>);

impl Row<'_> {
    /// Column `idx` of the row. relata reads only the columns its own statements select, so an
    /// index out of range is a bug in relata, and `get_ref_unwrap` (which panics then) spares every
    /// read the large `Result` of `get_ref` (measured: a tenth of an eager load).
    fn get(&self, idx: usize) -> SqlValueRef<'_> {
        self.0.get_ref_unwrap(idx)
    }
}

fn wrong_type(expected: &str, found: SqlValueRef<'_>) -> DecodeError {
    DecodeError(format!("expected {expected}, found {}", found.data_type()))
}

impl RowSource for Row<'_> {
    fn get_i64(&self, idx: usize) -> std::result::Result<Option<i64>, DecodeError> {
        match self.get(idx) {
            SqlValueRef::Null => Ok(None),
            SqlValueRef::Integer(v) => Ok(Some(v)),
            other => Err(wrong_type("an integer", other)),
        }
    }
    fn get_f64(&self, idx: usize) -> std::result::Result<Option<f64>, DecodeError> {
        match self.get(idx) {
            SqlValueRef::Null => Ok(None),
            SqlValueRef::Real(v) => Ok(Some(v)),
            SqlValueRef::Integer(v) => Ok(Some(v as f64)),
            other => Err(wrong_type("a float", other)),
        }
    }
    fn get_bool(&self, idx: usize) -> std::result::Result<Option<bool>, DecodeError> {
        match self.get(idx) {
            SqlValueRef::Null => Ok(None),
            SqlValueRef::Integer(0) => Ok(Some(false)),
            SqlValueRef::Integer(1) => Ok(Some(true)),
            other => Err(wrong_type("a boolean (0 or 1)", other)),
        }
    }
    fn get_text(&self, idx: usize) -> std::result::Result<Option<String>, DecodeError> {
        match self.get(idx) {
            SqlValueRef::Null => Ok(None),
            SqlValueRef::Text(v) => std::str::from_utf8(v)
                .map(|s| Some(s.to_owned()))
                .map_err(|e| DecodeError(format!("text is not valid UTF-8: {e}"))),
            other => Err(wrong_type("text", other)),
        }
    }
    fn get_blob(&self, idx: usize) -> std::result::Result<Option<Vec<u8>>, DecodeError> {
        match self.get(idx) {
            SqlValueRef::Null => Ok(None),
            SqlValueRef::Blob(v) => Ok(Some(v.to_vec())),
            other => Err(wrong_type("bytes", other)),
        }
    }
}

/// Maps SQLite's errors onto relata's: constraint failures by their extended code (naming the
/// table and column from SQLite's message), busy/locked as retryable, the rest with the SQL.
fn map_error(e: rusqlite::Error, sql: &str) -> Error {
    let code = match &e {
        rusqlite::Error::SqliteFailure(err, _) => Some(err.extended_code.to_string()),
        _ => None,
    };
    relata_error(&e, sql).with_driver(DriverError::new(code, e))
}

fn relata_error(e: &rusqlite::Error, sql: &str) -> Error {
    if let rusqlite::Error::SqliteFailure(err, msg) = e {
        let message = msg.clone().unwrap_or_else(|| err.to_string());
        let kind = match err.extended_code {
            ffi::SQLITE_CONSTRAINT_NOTNULL => Some(ConstraintKind::NotNull),
            ffi::SQLITE_CONSTRAINT_UNIQUE => Some(ConstraintKind::Unique),
            ffi::SQLITE_CONSTRAINT_PRIMARYKEY | ffi::SQLITE_CONSTRAINT_ROWID => {
                Some(ConstraintKind::PrimaryKey)
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Some(ConstraintKind::ForeignKey),
            // `ON DELETE RESTRICT` fails as a trigger would, with the foreign key's message.
            ffi::SQLITE_CONSTRAINT_TRIGGER if message.starts_with("FOREIGN KEY") => {
                Some(ConstraintKind::ForeignKey)
            }
            ffi::SQLITE_CONSTRAINT_CHECK => Some(ConstraintKind::Check),
            _ => None,
        };
        if let Some(kind) = kind {
            // "NOT NULL constraint failed: students.name" / "UNIQUE constraint failed: t.a, t.b"
            let constraint = message
                .split_once("failed: ")
                .map(|(_, what)| what.to_owned())
                .unwrap_or_default();
            let table = constraint.split('.').next().unwrap_or_default().to_owned();
            return Error::Constraint {
                driver: None,
                kind,
                table,
                constraint,
                row: None,
                message,
            };
        }
        if matches!(
            err.code,
            ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked
        ) {
            return Error::Busy {
                driver: None,
                message,
            };
        }
        if err.code == ffi::ErrorCode::DiskFull {
            // SQLite undoes the statement and the transaction is rolled back: the file is as
            // it was, and the command can run again once there is room.
            return Error::Database {
                driver: None,
                message: format!(
                    "the disk that holds the database is full ({message}); nothing was written: free some space and run it again"
                ),
                sql: None,
            };
        }
        return Error::Database {
            driver: None,
            message,
            sql: Some(sql.to_owned()),
        };
    }
    Error::Database {
        driver: None,
        message: e.to_string(),
        sql: Some(sql.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert!(parse_url("sqlite::memory:").unwrap().is_memory());
        assert!(parse_url("sqlite://:memory:").unwrap().is_memory());
        let file = |u| match parse_url(u).unwrap() {
            Target::File(p) => p,
            Target::Memory => panic!("{u} is a file"),
        };
        assert_eq!(file("sqlite://registrar.db"), PathBuf::from("registrar.db"));
        assert_eq!(file("sqlite:///tmp/x.db"), PathBuf::from("/tmp/x.db"));
        assert_eq!(file("sqlite:x.db"), PathBuf::from("x.db"));
        assert!(parse_url("sqlite://").is_err());
        assert!(parse_url("sqlite://x.db?mode=ro").is_err());
    }
}
