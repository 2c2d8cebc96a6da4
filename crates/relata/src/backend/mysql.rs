//! The MySQL and MariaDB backend, over the `mysql` crate.

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Opts, OptsBuilder, Params, Value as MyValue};

use super::{transaction_state, Conn};
use crate::error::{ConstraintKind, Error, Result};
use crate::sql::{Dialect, MySql};
use crate::value::{DecodeError, RowSource, ValueRef};

/// What relata needs to open connections to one MySQL or MariaDB database.
pub(super) struct Target {
    opts: Opts,
    /// `Some(false)` when the URL turned `RETURNING` off.
    returning: Option<bool>,
}

/// The session settings of every connection: full Unicode, and strict mode (an over-long or
/// out-of-range value is an error, never silently cut or clamped).
const INIT: [&str; 2] = [
    "SET NAMES utf8mb4 COLLATE utf8mb4_bin",
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
];

/// Parses a `mysql://` or `mariadb://` URL; `relata_returning=false` is relata's own parameter.
pub(super) fn parse_url(url: &str, masked: &str) -> Result<Target> {
    let invalid = |reason: String| Error::InvalidUrl {
        url: masked.to_owned(),
        reason,
    };
    let rest = url
        .strip_prefix("mariadb://")
        .or_else(|| url.strip_prefix("mysql://"))
        .ok_or_else(|| invalid("it does not start with mysql:// or mariadb://".into()))?;
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut returning = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("relata_returning", v)) => {
                returning = Some(match v {
                    "true" | "on" | "1" => true,
                    "false" | "off" | "0" => false,
                    _ => {
                        return Err(invalid(format!(
                            "relata_returning={v}: expected true or false"
                        )))
                    }
                })
            }
            _ => kept.push(pair),
        }
    }
    let driver_url = if kept.is_empty() {
        format!("mysql://{base}")
    } else {
        format!("mysql://{base}?{}", kept.join("&"))
    };
    let opts = Opts::from_url(&driver_url).map_err(|e| invalid(e.to_string()))?;
    let mut builder = OptsBuilder::from_opts(opts.clone())
        .stmt_cache_size(256)
        .init(INIT.to_vec());
    if opts.get_tcp_connect_timeout().is_none() {
        builder = builder.tcp_connect_timeout(Some(Duration::from_secs(5)));
    }
    Ok(Target {
        opts: builder.into(),
        returning,
    })
}

/// Opens the first connection and picks the dialect from the server's version: `RETURNING`
/// on MariaDB 10.5 and later unless the URL turned it off.
pub(super) fn connect_first(target: &Target, url: &str) -> Result<(Box<dyn Conn>, &'static MySql)> {
    let mut conn = open(target, url, &MySql::MARIADB)?;
    let sql = "SELECT VERSION(), @@innodb_autoinc_lock_mode";
    let (version, lock_mode): (String, Option<i64>) = conn
        .conn
        .query_first(sql)
        .map_err(|e| conn.fail(e, sql))?
        .unwrap_or_default();
    let returning = target
        .returning
        .unwrap_or_else(|| mariadb_with_returning(&version));
    let dialect: &'static MySql = if returning {
        &MySql::MARIADB
    } else if matches!(lock_mode, Some(0 | 1)) {
        &MySql::MYSQL
    } else {
        // Interleaved lock mode (MySQL 8's default): one statement's rows may not get
        // consecutive keys while other inserts run, so each generated key gets its own INSERT.
        &MySql::MYSQL_ROW_KEYS
    };
    conn.dialect = dialect;
    Ok((Box::new(conn), dialect))
}

/// Whether a `VERSION()` string is MariaDB 10.5 or later (`10.11.19-MariaDB-0+deb12u1`).
fn mariadb_with_returning(version: &str) -> bool {
    if !version.contains("MariaDB") {
        return false;
    }
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (10, 5)
}

/// Opens a connection after the first, in the dialect chosen then.
pub(super) fn connect(
    target: &Target,
    url: &str,
    dialect: &'static MySql,
) -> Result<Box<dyn Conn>> {
    Ok(Box::new(open(target, url, dialect)?))
}

fn open(target: &Target, url: &str, dialect: &'static MySql) -> Result<MyConn> {
    let mut conn = mysql::Conn::new(target.opts.clone()).map_err(|e| Error::Connect {
        url: url.to_owned(),
        message: e.to_string(),
    })?;
    // Multi-row inserts without RETURNING number their rows by this step.
    let increment: Option<i64> = conn
        .query_first("SELECT @@auto_increment_increment")
        .map_err(|e| Error::Connect {
            url: url.to_owned(),
            message: e.to_string(),
        })?;
    Ok(MyConn {
        conn,
        url: url.to_owned(),
        dialect,
        increment: increment.unwrap_or(1).max(1),
        in_transaction: false,
        broken: false,
    })
}

struct MyConn {
    conn: mysql::Conn,
    url: String,
    dialect: &'static MySql,
    increment: i64,
    in_transaction: bool,
    broken: bool,
}

fn params(values: &[ValueRef<'_>]) -> Params {
    if values.is_empty() {
        return Params::Empty;
    }
    Params::Positional(
        values
            .iter()
            .map(|v| match *v {
                ValueRef::Null => MyValue::NULL,
                ValueRef::Integer(v) => MyValue::Int(v),
                ValueRef::Real(v) => MyValue::Double(v),
                ValueRef::Bool(v) => MyValue::Int(i64::from(v)),
                ValueRef::Text(v) => MyValue::Bytes(v.as_bytes().to_vec()),
                ValueRef::Blob(v) => MyValue::Bytes(v.to_vec()),
            })
            .collect(),
    )
}

impl MyConn {
    fn fail(&mut self, e: mysql::Error, sql: &str) -> Error {
        let e = map_error(e, sql, &self.url);
        if matches!(e, Error::Connect { .. }) {
            self.broken = true;
        }
        e
    }
}

impl Conn for MyConn {
    fn dialect(&self) -> &'static dyn Dialect {
        self.dialect
    }

    fn execute(&mut self, sql: &str, values: &[ValueRef<'_>]) -> Result<u64> {
        // Read the result to its end: an error after the first row (an `INSERT ... RETURNING`
        // whose row fails) would otherwise be dropped unseen with the result.
        let outcome = self
            .conn
            .exec_iter(sql, params(values))
            .and_then(|mut result| {
                for row in result.by_ref() {
                    row?;
                }
                Ok(result.affected_rows())
            });
        outcome.map_err(|e| self.fail(e, sql))
    }

    fn insert(
        &mut self,
        sql: &str,
        values: &[ValueRef<'_>],
        rows: usize,
        ids: &mut Vec<i64>,
    ) -> Result<()> {
        let before = ids.len();
        if self.dialect.returning() {
            // MariaDB returns the rows of `INSERT ... RETURNING` in VALUES order.
            self.query(sql, values, &mut |row| {
                ids.push(
                    row.get_i64(0)
                        .ok()
                        .flatten()
                        .ok_or_else(|| Error::Database {
                            message: "the database returned no generated key".into(),
                            sql: None,
                        })?,
                );
                Ok(())
            })?;
        } else {
            // MySQL gives the first generated key of a multi-row insert; InnoDB hands one
            // statement's rows consecutive keys (auto_increment_increment apart).
            self.execute(sql, values)?;
            let first = self.conn.last_insert_id() as i64;
            let inserted = self.conn.affected_rows() as usize;
            if inserted == rows {
                ids.extend((0..rows as i64).map(|i| first + i * self.increment));
            }
        }
        super::check_inserted(ids, before, rows, sql)
    }

    fn query(
        &mut self,
        sql: &str,
        values: &[ValueRef<'_>],
        each: &mut dyn FnMut(&dyn RowSource) -> Result<()>,
    ) -> Result<()> {
        let mut failed = None;
        let outcome = match self.conn.exec_iter(sql, params(values)) {
            Ok(mut result) => {
                let mut outcome = Ok(());
                for row in result.by_ref() {
                    match row {
                        Ok(row) => {
                            if let Err(e) = each(&Row(&row)) {
                                outcome = Err(e);
                                break;
                            }
                        }
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                outcome
            }
            Err(e) => {
                failed = Some(e);
                Ok(())
            }
        };
        match failed {
            Some(e) => Err(self.fail(e, sql)),
            None => outcome,
        }
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.in_transaction = transaction_state(sql, self.in_transaction);
        self.conn.query_drop(sql).map_err(|e| self.fail(e, sql))
    }

    fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    fn is_broken(&self) -> bool {
        self.broken
    }
}

struct Row<'a>(&'a mysql::Row);

impl Row<'_> {
    fn value(&self, idx: usize) -> &MyValue {
        self.0.as_ref(idx).unwrap_or(&MyValue::NULL)
    }
}

fn wrong_type(expected: &str, found: &MyValue) -> DecodeError {
    DecodeError(format!("expected {expected}, found {found:?}"))
}

impl RowSource for Row<'_> {
    fn get_i64(&self, idx: usize) -> std::result::Result<Option<i64>, DecodeError> {
        match self.value(idx) {
            MyValue::NULL => Ok(None),
            MyValue::Int(v) => Ok(Some(*v)),
            MyValue::UInt(v) => i64::try_from(*v)
                .map(Some)
                .map_err(|_| DecodeError(format!("{v} does not fit in an i64"))),
            MyValue::Bytes(b) => std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse().ok())
                .map(Some)
                .ok_or_else(|| wrong_type("an integer", self.value(idx))),
            other => Err(wrong_type("an integer", other)),
        }
    }
    fn get_f64(&self, idx: usize) -> std::result::Result<Option<f64>, DecodeError> {
        match self.value(idx) {
            MyValue::NULL => Ok(None),
            MyValue::Double(v) => Ok(Some(*v)),
            MyValue::Float(v) => Ok(Some(f64::from(*v))),
            MyValue::Int(v) => Ok(Some(*v as f64)),
            MyValue::Bytes(b) => std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse().ok())
                .map(Some)
                .ok_or_else(|| wrong_type("a float", self.value(idx))),
            other => Err(wrong_type("a float", other)),
        }
    }
    fn get_bool(&self, idx: usize) -> std::result::Result<Option<bool>, DecodeError> {
        match self.get_i64(idx)? {
            None => Ok(None),
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            Some(other) => Err(DecodeError(format!(
                "expected a boolean (0 or 1), found {other}"
            ))),
        }
    }
    fn get_text(&self, idx: usize) -> std::result::Result<Option<String>, DecodeError> {
        match self.value(idx) {
            MyValue::NULL => Ok(None),
            MyValue::Bytes(b) => String::from_utf8(b.clone())
                .map(Some)
                .map_err(|e| DecodeError(format!("text is not valid UTF-8: {e}"))),
            other => Err(wrong_type("text", other)),
        }
    }
    fn get_blob(&self, idx: usize) -> std::result::Result<Option<Vec<u8>>, DecodeError> {
        match self.value(idx) {
            MyValue::NULL => Ok(None),
            MyValue::Bytes(b) => Ok(Some(b.clone())),
            other => Err(wrong_type("bytes", other)),
        }
    }
}

/// The text between the first pair of `quote` after `after` in `message`.
fn quoted_after<'m>(message: &'m str, after: &str, quote: char) -> Option<&'m str> {
    let rest = &message[message.find(after)? + after.len()..];
    let rest = rest.strip_prefix(quote)?;
    Some(&rest[..rest.find(quote)?])
}

/// Maps MySQL's and MariaDB's errors onto relata's, by error code.
fn map_error(e: mysql::Error, sql: &str, url: &str) -> Error {
    let err = match e {
        mysql::Error::MySqlError(err) => err,
        mysql::Error::IoError(_) | mysql::Error::CodecError(_) | mysql::Error::DriverError(_) => {
            return Error::Connect {
                url: url.to_owned(),
                message: e.to_string(),
            }
        }
        other => {
            return Error::Database {
                message: other.to_string(),
                sql: Some(sql.to_owned()),
            }
        }
    };
    let message = err.message.clone();
    let constraint = |kind, table: &str, constraint: &str| Error::Constraint {
        kind,
        table: table.to_owned(),
        constraint: constraint.to_owned(),
        row: None,
        message: message.clone(),
    };
    match err.code {
        // ER_DUP_ENTRY: "Duplicate entry 'x' for key 'label'" (MySQL 8: 'tags.label').
        1062 | 1586 => {
            let key = quoted_after(&message, "for key ", '\'').unwrap_or_default();
            let key = key.rsplit('.').next().unwrap_or(key);
            if key == "PRIMARY" {
                constraint(ConstraintKind::PrimaryKey, "", "PRIMARY KEY")
            } else {
                constraint(ConstraintKind::Unique, "", key)
            }
        }
        // A child row without its parent: "... fails (`db`.`student_course`, CONSTRAINT ...)".
        1452 | 1216 | 1451 | 1217 => {
            let table = message
                .split_once("fails (")
                .and_then(|(_, rest)| rest.split('`').nth(3))
                .unwrap_or_default();
            constraint(ConstraintKind::ForeignKey, table, "")
        }
        // "Column 'name' cannot be null" / "Field 'name' doesn't have a default value".
        1048 | 1364 => {
            let column = quoted_after(&message, "Column ", '\'')
                .or_else(|| quoted_after(&message, "Field ", '\''))
                .unwrap_or_default();
            constraint(ConstraintKind::NotNull, "", column)
        }
        // "Data too long for column 'name' at row 1".
        1406 => {
            let column = quoted_after(&message, "column ", '\'').unwrap_or_default();
            constraint(ConstraintKind::Length, "", column)
        }
        // "CONSTRAINT `x` failed for `db`.`t`" (MySQL 3819, MariaDB 4025).
        3819 | 4025 => {
            let name = quoted_after(&message, "CONSTRAINT ", '`').unwrap_or_default();
            constraint(ConstraintKind::Check, "", name)
        }
        // Deadlock: InnoDB rolled the transaction back.
        1213 => Error::Conflict { message },
        // Lock wait timeout.
        1205 => Error::Busy { message },
        // The server went away, or shuts down.
        2006 | 2013 | 1053 | 1927 => Error::Connect {
            url: url.to_owned(),
            message,
        },
        _ => Error::Database {
            message: format!("{message} (MySQL error {})", err.code),
            sql: Some(sql.to_owned()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_mariadb_with_returning() {
        assert!(mariadb_with_returning("10.11.19-MariaDB-0+deb12u1"));
        assert!(mariadb_with_returning("10.5.0-MariaDB"));
        assert!(mariadb_with_returning("11.4.2-MariaDB-ubu2404"));
        assert!(!mariadb_with_returning("10.4.31-MariaDB"));
        assert!(!mariadb_with_returning("8.0.36"));
        assert!(!mariadb_with_returning("5.7.25-TiDB-v7.5.0"));
    }

    #[test]
    fn reads_names_out_of_messages() {
        let m = "Duplicate entry 'x' for key 'tags.label'";
        assert_eq!(quoted_after(m, "for key ", '\''), Some("tags.label"));
        assert_eq!(
            quoted_after("Column 'name' cannot be null", "Column ", '\''),
            Some("name")
        );
        assert_eq!(quoted_after("no quotes here", "Column ", '\''), None);
    }

    #[test]
    fn relata_parameters_are_taken_out_of_the_url() {
        let t = parse_url(
            "mariadb://root@127.0.0.1:3306/test?relata_returning=false",
            "u",
        )
        .unwrap();
        assert_eq!(t.returning, Some(false));
        assert!(parse_url("mysql://root@h/db?relata_returning=maybe", "u").is_err());
    }
}
