//! The PostgreSQL backend, over the synchronous `postgres` crate.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{IsNull, Kind, ToSql, Type};
use postgres::{Client, Config, NoTls, Statement};

use super::{transaction_state, Conn};
use crate::error::{ConstraintKind, Error, Result};
use crate::sql::{Dialect, Postgres};
use crate::value::{DecodeError, RowSource, ValueRef};

/// Parses a `postgres://` or `postgresql://` URL (libpq's format).
pub(super) fn parse_url(url: &str, masked: &str) -> Result<Config> {
    let mut config: Config = url
        .parse()
        .map_err(|e: postgres::Error| Error::InvalidUrl {
            url: masked.to_owned(),
            reason: e.to_string(),
        })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    if config.get_application_name().is_none() {
        config.application_name("relata");
    }
    Ok(config)
}

/// Opens one connection.
pub(super) fn connect(config: &Config, url: &str) -> Result<Box<dyn Conn>> {
    let client = config.connect(NoTls).map_err(|e| Error::Connect {
        url: url.to_owned(),
        message: describe(&e),
    })?;
    Ok(Box::new(PgConn {
        client,
        url: url.to_owned(),
        statements: HashMap::new(),
        in_transaction: false,
        broken: false,
    }))
}

/// Prepared statements kept per connection before the cache starts over.
const STATEMENT_CACHE: usize = 256;

struct PgConn {
    client: Client,
    url: String,
    statements: HashMap<String, Statement>,
    in_transaction: bool,
    broken: bool,
}

/// Binds relata's values to whatever type the server inferred for each parameter, checking
/// ranges instead of wrapping (an i64 into an `INTEGER` column that cannot hold it is an error).
#[derive(Debug)]
struct Bind<'a>(ValueRef<'a>);

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for Bind<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        match self.0 {
            ValueRef::Null => Ok(IsNull::Yes),
            ValueRef::Integer(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::FLOAT8 => (v as f64).to_sql(ty, out),
                _ => Err(mismatch("an integer", ty)),
            },
            ValueRef::Real(v) => match *ty {
                Type::FLOAT8 => v.to_sql(ty, out),
                Type::FLOAT4 => (v as f32).to_sql(ty, out),
                _ => Err(mismatch("a float", ty)),
            },
            ValueRef::Bool(v) => match *ty {
                Type::BOOL => v.to_sql(ty, out),
                _ => Err(mismatch("a boolean", ty)),
            },
            ValueRef::Text(v) => v.to_sql(ty, out),
            ValueRef::Blob(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// One column of a multi-row insert bound as one array parameter (`$1::BIGINT[]`): every
/// `width`th value of the row-major `params`, from `column` on, each encoded as [`Bind`] encodes
/// it for the array's element type (so an `INTEGER` column still refuses an i64 it cannot hold).
#[derive(Debug)]
struct Column<'a> {
    params: &'a [ValueRef<'a>],
    column: usize,
    width: usize,
}

impl ToSql for Column<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        let Kind::Array(element) = ty.kind() else {
            return Err(mismatch("an array of values", ty));
        };
        let values = self.params.iter().skip(self.column).step_by(self.width);
        let len = i32::try_from(values.len())?;
        // The binary array format: dimensions, a has-NULL flag, the element type, each
        // dimension's length and lower bound, then each element as its length and bytes (-1 for
        // NULL).
        out.put_i32(1);
        let has_null_at = out.len();
        out.put_i32(0);
        out.put_u32(element.oid());
        out.put_i32(len);
        out.put_i32(1);
        let mut has_null = false;
        for &v in values {
            let at = out.len();
            out.put_i32(0);
            let size = match Bind(v).to_sql(element, out)? {
                IsNull::Yes => {
                    has_null = true;
                    -1
                }
                IsNull::No => i32::try_from(out.len() - at - 4)?,
            };
            out[at..at + 4].copy_from_slice(&size.to_be_bytes());
        }
        if has_null {
            out[has_null_at..has_null_at + 4].copy_from_slice(&1i32.to_be_bytes());
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Array(_))
    }

    postgres::types::to_sql_checked!();
}

fn mismatch(what: &str, ty: &Type) -> BoxError {
    format!("cannot store {what} in a column of type {ty}").into()
}

/// How a value sits in a statement's parameter list.
fn binds<'a>(params: &'a [ValueRef<'a>]) -> Vec<Bind<'a>> {
    params.iter().map(|&v| Bind(v)).collect()
}

fn refs<'a>(binds: &'a [Bind<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    binds.iter().map(|b| b as &(dyn ToSql + Sync)).collect()
}

impl PgConn {
    /// The prepared statement for `sql`, from the cache or prepared now (one round trip).
    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.client.prepare(sql).map_err(|e| self.fail(e, sql))?;
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    fn fail(&mut self, e: postgres::Error, sql: &str) -> Error {
        let e = map_error(e, sql, &self.url);
        if matches!(e, Error::Connect { .. }) || self.client.is_closed() {
            self.broken = true;
        }
        e
    }
}

impl Conn for PgConn {
    fn dialect(&self) -> &'static dyn Dialect {
        &Postgres
    }

    fn execute(&mut self, sql: &str, params: &[ValueRef<'_>]) -> Result<u64> {
        let stmt = self.statement(sql)?;
        let binds = binds(params);
        self.client
            .execute(&stmt, &refs(&binds))
            .map_err(|e| self.fail(e, sql))
    }

    fn insert(
        &mut self,
        sql: &str,
        params: &[ValueRef<'_>],
        rows: usize,
        ids: &mut Vec<i64>,
    ) -> Result<()> {
        // `INSERT ... VALUES (...), (...) RETURNING pk`: PostgreSQL inserts the VALUES rows in
        // order and returns them in the order it inserted them.
        let before = ids.len();
        self.query(sql, params, &mut |row| {
            let id = row
                .get_i64(0)
                .map_err(|e| Error::Database {
                    message: format!("a generated key: {}", e.0),
                    sql: None,
                })?
                .ok_or_else(|| Error::Database {
                    message: "the database generated a NULL key".into(),
                    sql: None,
                })?;
            ids.push(id);
            Ok(())
        })?;
        super::check_inserted(ids, before, rows, sql)
    }

    fn insert_arrays(
        &mut self,
        sql: &str,
        width: usize,
        params: &[ValueRef<'_>],
        ids: Option<&mut Vec<i64>>,
    ) -> Result<()> {
        let stmt = self.statement(sql)?;
        let columns: Vec<Column<'_>> = (0..width)
            .map(|column| Column {
                params,
                column,
                width,
            })
            .collect();
        let rows = params.len() / width.max(1);
        let Some(ids) = ids else {
            let columns: Vec<&(dyn ToSql + Sync)> =
                columns.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
            return self
                .client
                .execute(&stmt, &columns)
                .map(drop)
                .map_err(|e| self.fail(e, sql));
        };
        // `INSERT ... SELECT * FROM unnest(...) RETURNING pk`: the function scan yields the
        // arrays' rows in order, and PostgreSQL returns the rows in the order it inserted them.
        let before = ids.len();
        let outcome = (|| {
            let mut returned = self.client.query_raw(&stmt, columns.iter())?;
            while let Some(row) = returned.next()? {
                ids.push(row.try_get::<_, i64>(0)?);
            }
            Ok(())
        })();
        outcome.map_err(|e| self.fail(e, sql))?;
        super::check_inserted(ids, before, rows, sql)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[ValueRef<'_>],
        each: &mut dyn FnMut(&dyn RowSource) -> Result<()>,
    ) -> Result<()> {
        let stmt = self.statement(sql)?;
        let client = &mut self.client;
        let outcome = (|| {
            let mut rows = client
                .query_raw(&stmt, params.iter().map(|&v| Bind(v)))
                .map_err(Failure::Driver)?;
            while let Some(row) = rows.next().map_err(Failure::Driver)? {
                each(&Row(&row)).map_err(Failure::Caller)?;
            }
            Ok(())
        })();
        match outcome {
            Ok(()) => Ok(()),
            Err(Failure::Driver(e)) => Err(self.fail(e, sql)),
            Err(Failure::Caller(e)) => Err(e),
        }
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.in_transaction = transaction_state(sql, self.in_transaction);
        self.client
            .batch_execute(sql)
            .map_err(|e| self.fail(e, sql))
    }

    fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    fn is_broken(&self) -> bool {
        self.broken || self.client.is_closed()
    }
}

/// Why reading a query's rows stopped: the driver failed, or the caller's row handler did.
enum Failure {
    Driver(postgres::Error),
    Caller(Error),
}

struct Row<'a>(&'a postgres::Row);

impl Row<'_> {
    fn ty(&self, idx: usize) -> &Type {
        self.0.columns()[idx].type_()
    }

    fn get<'r, T: postgres::types::FromSql<'r>>(
        &'r self,
        idx: usize,
    ) -> std::result::Result<Option<T>, DecodeError> {
        self.0
            .try_get::<_, Option<T>>(idx)
            .map_err(|e| DecodeError(e.to_string()))
    }
}

impl RowSource for Row<'_> {
    fn get_i64(&self, idx: usize) -> std::result::Result<Option<i64>, DecodeError> {
        match *self.ty(idx) {
            Type::INT8 => self.get::<i64>(idx),
            Type::INT4 => Ok(self.get::<i32>(idx)?.map(i64::from)),
            Type::INT2 => Ok(self.get::<i16>(idx)?.map(i64::from)),
            ref other => Err(DecodeError(format!("expected an integer, found {other}"))),
        }
    }
    fn get_f64(&self, idx: usize) -> std::result::Result<Option<f64>, DecodeError> {
        match *self.ty(idx) {
            Type::FLOAT8 => self.get::<f64>(idx),
            Type::FLOAT4 => Ok(self.get::<f32>(idx)?.map(f64::from)),
            ref other => Err(DecodeError(format!("expected a float, found {other}"))),
        }
    }
    fn get_bool(&self, idx: usize) -> std::result::Result<Option<bool>, DecodeError> {
        self.get::<bool>(idx)
    }
    fn get_text(&self, idx: usize) -> std::result::Result<Option<String>, DecodeError> {
        self.get::<String>(idx)
    }
    fn get_blob(&self, idx: usize) -> std::result::Result<Option<Vec<u8>>, DecodeError> {
        self.get::<Vec<u8>>(idx)
    }
}

/// A driver error as one line: the server's message and detail, or the client's reason.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => match e.source() {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

/// `Key (a, b)=(1, 2) already exists.` → the column names and the values text.
fn detail_key(detail: &str) -> Option<(Vec<&str>, &str)> {
    let rest = detail.strip_prefix("Key (")?;
    let (columns, rest) = rest.split_once(")=(")?;
    let values = rest.rsplit_once(')')?.0;
    Some((columns.split(", ").collect(), values))
}

/// The rejected row as far as PostgreSQL's detail shows it, in relata's `table(column = value)`
/// form: the key of a UNIQUE or FOREIGN KEY violation, or the whole row of a NOT NULL or CHECK
/// one (`Failing row contains (2, null).`, values in column order). PostgreSQL aborts the
/// transaction at the first error, so relata cannot retry rows one by one to find out more.
fn rejected_row(table: &str, detail: &str) -> Option<String> {
    let shown = |v: &str| {
        if v == "null" || v.parse::<f64>().is_ok() {
            v.to_owned()
        } else {
            format!("{v:?}")
        }
    };
    if let Some((columns, values)) = detail_key(detail) {
        let values: Vec<&str> = if columns.len() == 1 {
            vec![values]
        } else {
            values.split(", ").collect()
        };
        let pairs: Vec<String> = columns
            .iter()
            .zip(values)
            .map(|(c, v)| format!("{c} = {}", shown(v)))
            .collect();
        return Some(format!("{table}({})", pairs.join(", ")));
    }
    let values = detail
        .strip_prefix("Failing row contains (")?
        .strip_suffix(").")?;
    Some(format!("{table}({values})"))
}

/// Maps PostgreSQL's errors onto relata's, by SQLSTATE: constraint violations name the table and
/// the column(s) (`students.name`, or `student_course.course_id = 7` for a missing parent);
/// serialization failures and deadlocks are `Conflict` (retry the transaction); a lost
/// connection is `Connect`.
fn map_error(e: postgres::Error, sql: &str, url: &str) -> Error {
    let message = describe(&e);
    let Some(db) = e.as_db_error() else {
        if e.is_closed() || e.source().is_some_and(|s| s.is::<std::io::Error>()) {
            return Error::Connect {
                url: url.to_owned(),
                message,
            };
        }
        return Error::Database {
            message,
            sql: Some(sql.to_owned()),
        };
    };
    let table = db.table().unwrap_or_default().to_owned();
    let qualified = |columns: &[&str]| {
        columns
            .iter()
            .map(|c| format!("{table}.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let key = db.detail().and_then(detail_key);
    let constraint = |kind| Error::Constraint {
        kind,
        table: table.clone(),
        constraint: match kind {
            ConstraintKind::NotNull => qualified(&[db.column().unwrap_or_default()]),
            ConstraintKind::Unique | ConstraintKind::PrimaryKey => match &key {
                Some((columns, _)) => qualified(columns),
                None => db.constraint().unwrap_or_default().to_owned(),
            },
            ConstraintKind::ForeignKey => match &key {
                Some((columns, values)) if columns.len() == 1 => {
                    format!("{} = {values}", qualified(columns))
                }
                _ => db.constraint().unwrap_or_default().to_owned(),
            },
            _ => db.constraint().unwrap_or_default().to_owned(),
        },
        row: rejected_row(&table, db.detail().unwrap_or_default()),
        message: message.clone(),
    };
    let code = db.code();
    if *code == SqlState::UNIQUE_VIOLATION {
        let primary = db.constraint().is_some_and(|c| c.ends_with("_pkey"));
        constraint(if primary {
            ConstraintKind::PrimaryKey
        } else {
            ConstraintKind::Unique
        })
    } else if *code == SqlState::FOREIGN_KEY_VIOLATION {
        constraint(ConstraintKind::ForeignKey)
    } else if *code == SqlState::NOT_NULL_VIOLATION {
        constraint(ConstraintKind::NotNull)
    } else if *code == SqlState::CHECK_VIOLATION {
        constraint(ConstraintKind::Check)
    } else if *code == SqlState::STRING_DATA_RIGHT_TRUNCATION {
        constraint(ConstraintKind::Length)
    } else if *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
    {
        Error::Conflict { message }
    } else if *code == SqlState::LOCK_NOT_AVAILABLE {
        Error::Busy { message }
    } else if code.code().starts_with("08")
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::CANNOT_CONNECT_NOW
    {
        Error::Connect {
            url: url.to_owned(),
            message,
        }
    } else {
        Error::Database {
            message,
            sql: Some(sql.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_key_of_a_detail() {
        assert_eq!(
            detail_key("Key (label)=(x) already exists."),
            Some((vec!["label"], "x"))
        );
        assert_eq!(
            detail_key("Key (student_id, course_id)=(1, 2) already exists."),
            Some((vec!["student_id", "course_id"], "1, 2"))
        );
        assert_eq!(
            detail_key("Key (course_id)=(7) is not present in table \"courses\"."),
            Some((vec!["course_id"], "7"))
        );
        assert_eq!(detail_key("Failing row contains (1, null)."), None);
    }

    #[test]
    fn names_the_rejected_row_from_a_detail() {
        assert_eq!(
            rejected_row("tags", "Key (label)=(rust) already exists.").as_deref(),
            Some("tags(label = \"rust\")")
        );
        assert_eq!(
            rejected_row(
                "student_course",
                "Key (student_id, course_id)=(1, 2) already exists."
            )
            .as_deref(),
            Some("student_course(student_id = 1, course_id = 2)")
        );
        assert_eq!(
            rejected_row("notes", "Failing row contains (2, null).").as_deref(),
            Some("notes(2, null)")
        );
        assert_eq!(rejected_row("notes", ""), None);
    }
}
