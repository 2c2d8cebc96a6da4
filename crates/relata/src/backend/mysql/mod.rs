//! The MySQL and MariaDB backend, over the `mysql` crate.

use mysql::prelude::Queryable;
use mysql::{Opts, OptsBuilder, Params, Value as MyValue};

mod errors;

use errors::map_error;

use super::url::UrlOptions;
use super::{transaction_state, Conn};
use crate::error::{Error, Result};
use crate::sql::{Dialect, MySql};
use crate::value::{Date, DateTime, DecodeError, Numeric, RowSource, Time, Timestamp, ValueRef};

/// What relata needs to open connections to one MySQL or MariaDB database.
pub(super) struct Target {
    opts: Opts,
    pub(super) options: UrlOptions,
}

/// The session settings of every connection: full Unicode, and strict mode (an over-long or
/// out-of-range value is an error, never silently cut or clamped). The collation and the
/// statement timeout depend on the server and follow in [`setup`].
const INIT: [&str; 2] = [
    "SET NAMES utf8mb4",
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
];

/// Parses a `mysql://` or `mariadb://` URL; the `relata_*` parameters are relata's own.
pub(super) fn parse_url(url: &str, masked: &str) -> Result<Target> {
    let invalid = |reason: String| Error::InvalidUrl {
        url: masked.to_owned(),
        reason,
    };
    let rest = url
        .strip_prefix("mariadb://")
        .or_else(|| url.strip_prefix("mysql://"))
        .ok_or_else(|| invalid("it does not start with mysql:// or mariadb://".into()))?;
    let (driver_url, options) = super::url::split(&format!("mysql://{rest}"), masked)?;
    let opts = Opts::from_url(&driver_url).map_err(|e| invalid(e.to_string()))?;
    let mut builder = OptsBuilder::from_opts(opts.clone())
        .stmt_cache_size(256)
        .init(INIT.to_vec())
        // A server that sends nothing for this long (frozen, or cut off) is given up: every
        // socket read and write has this deadline.
        .read_timeout(options.answer_timeout())
        .write_timeout(options.answer_timeout())
        // An UPDATE reports the rows it matched, not only those whose values changed, so a
        // commit can tell a row that is gone from one that already held the new values.
        .additional_capabilities(
            opts.get_additional_capabilities() | mysql::consts::CapabilityFlags::CLIENT_FOUND_ROWS,
        );
    if opts.get_tcp_connect_timeout().is_none() {
        builder = builder.tcp_connect_timeout(options.connect_timeout);
    }
    Ok(Target {
        opts: builder.into(),
        options,
    })
}

/// What the server is, read once per connection.
struct Server {
    version: String,
    increment: i64,
    lock_mode: Option<i64>,
}

/// Opens the first connection and picks the dialect from the server: `RETURNING` on MariaDB
/// 10.5 and later unless the URL turned it off, and a binary collation that does not pad
/// (`utf8mb4_nopad_bin` on MariaDB, `utf8mb4_0900_bin` on MySQL 8), so that `Pad` and `Pad `
/// are two names, as on SQLite and PostgreSQL.
pub(super) fn connect_first(target: &Target, url: &str) -> Result<(Box<dyn Conn>, &'static MySql)> {
    let (mut conn, server) = open(target, url, &MySql::MARIADB)?;
    let returning = target
        .options
        .returning
        .unwrap_or_else(|| mariadb_with_returning(&server.version));
    let rows = if returning || matches!(server.lock_mode, Some(0 | 1)) {
        256
    } else {
        // Interleaved lock mode (MySQL 8's default): one statement's rows may not get
        // consecutive keys while other inserts run, so each generated key gets its own INSERT.
        1
    };
    let sql = "SHOW COLLATION WHERE Collation IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')";
    let available: Vec<String> = conn
        .conn
        .query_map(sql, |row: mysql::Row| {
            row.get::<String, _>(0).unwrap_or_default()
        })
        .map_err(|e| conn.fail(e, sql))?;
    let collation = MySql::COLLATIONS
        .into_iter()
        .find(|c| available.iter().any(|a| a == c))
        .unwrap_or("utf8mb4_bin");
    let dialect = MySql::variant(returning, rows, collation);
    // The first connection was opened before the dialect was known: it writes in the chosen
    // one too (with `relata_returning=false` it read MariaDB's RETURNING otherwise).
    conn.dialect = dialect;
    setup(&mut conn, dialect, target, url)?;
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
    let (mut conn, _) = open(target, url, dialect)?;
    setup(&mut conn, dialect, target, url)?;
    Ok(Box::new(conn))
}

/// The session's collation and statement timeout, which depend on the server: the server stops
/// a statement that runs longer (MariaDB's `max_statement_time`, in seconds; MySQL's
/// `max_execution_time`, in milliseconds and for reads only).
fn setup(conn: &mut MyConn, dialect: &MySql, target: &Target, url: &str) -> Result<()> {
    let mut sql = format!("SET NAMES utf8mb4 COLLATE {}", dialect.collation());
    if let Some(limit) = target.options.statement_timeout {
        if conn.mariadb {
            sql.push_str(&format!(
                ", SESSION max_statement_time = {}",
                limit.as_secs_f64()
            ));
        } else {
            sql.push_str(&format!(
                ", SESSION max_execution_time = {}",
                limit.as_millis().max(1)
            ));
        }
    }
    conn.conn.query_drop(&sql).map_err(|e| Error::Connect {
        url: url.to_owned(),
        message: e.to_string(),
    })
}

/// Opens a connection and reads what the server is, within the connect timeout: the driver
/// bounds the TCP connect, but a server that accepts and then says nothing would hold the
/// handshake until the read timeout, so the whole opening runs on a thread of its own that is
/// given up (it ends by itself at the read timeout) when the connect timeout passes.
fn open(target: &Target, url: &str, dialect: &'static MySql) -> Result<(MyConn, Server)> {
    let connect_error = |message: String| Error::Connect {
        url: url.to_owned(),
        message,
    };
    let opts = target.opts.clone();
    let handshake = move || -> std::result::Result<(mysql::Conn, Server), mysql::Error> {
        let mut conn = mysql::Conn::new(opts)?;
        let (version, increment, lock_mode): (String, Option<i64>, Option<i64>) = conn
            .query_first(
                "SELECT VERSION(), @@auto_increment_increment, @@innodb_autoinc_lock_mode",
            )?
            .unwrap_or_default();
        let server = Server {
            version,
            // Multi-row inserts without RETURNING number their rows by this step.
            increment: increment.unwrap_or(1).max(1),
            lock_mode,
        };
        Ok((conn, server))
    };
    let opened = match target.options.connect_timeout {
        None => handshake(),
        Some(limit) => {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("relata-mysql-connect".into())
                .spawn(move || {
                    let _ = tx.send(handshake());
                })
                .map_err(|e| connect_error(format!("cannot start connecting: {e}")))?;
            rx.recv_timeout(limit).map_err(|_| {
                connect_error(format!(
                    "the server did not complete the connection within {} (relata_connect_timeout in the URL)",
                    super::url::seconds(limit)
                ))
            })?
        }
    };
    let (conn, server) = opened.map_err(|e| connect_error(e.to_string()))?;
    let mariadb = server.version.contains("MariaDB");
    Ok((
        MyConn {
            conn,
            url: url.to_owned(),
            dialect,
            increment: server.increment,
            mariadb,
            in_transaction: false,
            broken: false,
        },
        server,
    ))
}

struct MyConn {
    conn: mysql::Conn,
    url: String,
    dialect: &'static MySql,
    increment: i64,
    /// MariaDB rather than MySQL (they name the statement timeout differently).
    mariadb: bool,
    in_transaction: bool,
    broken: bool,
}

/// The parameters of `sql` as the `mysql` crate binds them. A value relata does not store (a
/// date past year 9999, a document that does not serialize) is refused before the server sees
/// it, with the message the other backends give.
fn params(sql: &str, values: &[ValueRef<'_>]) -> Result<Params> {
    if values.is_empty() {
        return Ok(Params::Empty);
    }
    let refused = |message| Error::Database {
        message,
        sql: Some(sql.to_owned()),
        driver: None,
    };
    let mut out = Vec::with_capacity(values.len());
    for &v in values {
        crate::value::in_range(v).map_err(refused)?;
        out.push(match v {
            ValueRef::Encoded(e) => my_value(e.encode().map_err(refused)?.as_ref()),
            plain => my_value(plain),
        });
    }
    Ok(Params::Positional(out))
}

/// One of relata's values as the `mysql` crate binds it (an encoded one already encoded).
fn my_value(v: ValueRef<'_>) -> MyValue {
    match v {
        ValueRef::Null => MyValue::NULL,
        ValueRef::Integer(v) => MyValue::Int(v),
        ValueRef::Real(v) => MyValue::Double(v),
        ValueRef::Bool(v) => MyValue::Int(i64::from(v)),
        ValueRef::Text(v) => MyValue::Bytes(v.as_bytes().to_vec()),
        ValueRef::Blob(v) => MyValue::Bytes(v.to_vec()),
        ValueRef::Date(d) => my_datetime(DateTime {
            date: d,
            time: Time { micros: 0 },
        }),
        ValueRef::Time(t) => {
            let (h, m, s, us) = t.parts();
            MyValue::Time(false, 0, h as u8, m as u8, s as u8, us)
        }
        ValueRef::DateTime(dt) => my_datetime(dt),
        ValueRef::Timestamp(ts) => my_datetime(ts.to_utc()),
        ValueRef::Uuid(v) => MyValue::Bytes(crate::value::uuid_text(&v).into_bytes()),
        ValueRef::Json(v) => MyValue::Bytes(v.as_bytes().to_vec()),
        ValueRef::Decimal(v) => MyValue::Bytes(v.to_string().into_bytes()),
        // `params` encodes these first, refusing one that does not encode.
        ValueRef::Encoded(e) => my_value(e.encode().unwrap_or(crate::value::Value::Null).as_ref()),
    }
}

fn my_datetime(dt: DateTime) -> MyValue {
    let (h, m, s, us) = dt.time.parts();
    MyValue::Date(
        dt.date.year as u16,
        dt.date.month,
        dt.date.day,
        h as u8,
        m as u8,
        s as u8,
        us,
    )
}

/// A DATE, DATETIME or TIMESTAMP value as the server sent it (binary, or text).
fn read_datetime(v: &MyValue) -> std::result::Result<Option<DateTime>, DecodeError> {
    match v {
        MyValue::NULL => Ok(None),
        MyValue::Date(y, mo, d, h, mi, s, us) => {
            let date = Date {
                year: i32::from(*y),
                month: *mo,
                day: *d,
            }
            .checked()?;
            let time = Time::from_hms_micro(u32::from(*h), u32::from(*mi), u32::from(*s), *us)
                .ok_or_else(|| DecodeError(format!("{v:?} is not a time of day")))?;
            Ok(Some(DateTime { date, time }))
        }
        MyValue::Bytes(b) => {
            let text = std::str::from_utf8(b).map_err(|_| wrong_type("a date", v))?;
            if text.len() == 10 {
                Date::parse(text).map(|date| {
                    Some(DateTime {
                        date,
                        time: Time { micros: 0 },
                    })
                })
            } else {
                DateTime::parse(text).map(Some)
            }
        }
        other => Err(wrong_type("a date", other)),
    }
}

impl MyConn {
    /// Fails at once on a connection lost earlier: no statement (not even the `ROLLBACK` of a
    /// failed transaction) waits out the timeout a second time.
    fn usable(&self) -> Result<()> {
        if self.broken {
            return Err(Error::ConnectionLost {
                driver: None,
                url: self.url.clone(),
                message: "the connection was lost earlier".into(),
                in_commit: false,
            });
        }
        Ok(())
    }

    fn fail(&mut self, e: mysql::Error, sql: &str) -> Error {
        let e = map_error(e, sql, &self.url);
        if matches!(e, Error::ConnectionLost { .. }) {
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
        self.usable()?;
        // Read the result to its end: an error after the first row (an `INSERT ... RETURNING`
        // whose row fails) would otherwise be dropped unseen with the result.
        let outcome = self
            .conn
            .exec_iter(sql, params(sql, values)?)
            .and_then(|mut result| {
                // A statement without rows reports its count at once; reading the result to its
                // end moves past that report (the count read afterwards was always 0).
                let before = result.affected_rows();
                for row in result.by_ref() {
                    row?;
                }
                Ok(before.max(result.affected_rows()))
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
        if self.dialect.capabilities().returning {
            // MariaDB returns the rows of `INSERT ... RETURNING` in VALUES order.
            self.query(sql, values, &mut |row| {
                ids.push(
                    row.get_i64(0)
                        .ok()
                        .flatten()
                        .ok_or_else(|| Error::Database {
                            driver: None,
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
        self.usable()?;
        let mut failed = None;
        let outcome = match self.conn.exec_iter(sql, params(sql, values)?) {
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
        self.usable()?;
        self.in_transaction = transaction_state(sql, self.in_transaction);
        // Every result set read to its end: an error that comes after a result's first packet
        // (`SELECT SLEEP(9)` stopped by the statement timeout) is lost if the result is dropped.
        let outcome = self.conn.query_iter(sql).and_then(|mut result| {
            while let Some(set) = result.iter() {
                for row in set {
                    row?;
                }
            }
            Ok(())
        });
        outcome.map_err(|e| self.fail(e, sql))
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
    fn get_decimal(&self, idx: usize) -> std::result::Result<Option<Numeric>, DecodeError> {
        // DECIMAL(57, 28) pads every value to 28 places: read without the padding.
        self.get_text(idx)?
            .map(|t| {
                let t = if t.contains('.') {
                    t.trim_end_matches('0').trim_end_matches('.')
                } else {
                    &t
                };
                Numeric::parse(t)
            })
            .transpose()
    }
    fn get_date(&self, idx: usize) -> std::result::Result<Option<Date>, DecodeError> {
        Ok(read_datetime(self.value(idx))?.map(|dt| dt.date))
    }
    fn get_datetime(&self, idx: usize) -> std::result::Result<Option<DateTime>, DecodeError> {
        read_datetime(self.value(idx))
    }
    fn get_timestamp(&self, idx: usize) -> std::result::Result<Option<Timestamp>, DecodeError> {
        Ok(read_datetime(self.value(idx))?.map(Timestamp::from_utc))
    }
    fn get_time(&self, idx: usize) -> std::result::Result<Option<Time>, DecodeError> {
        match self.value(idx) {
            MyValue::NULL => Ok(None),
            MyValue::Time(false, 0, h, m, s, us) => {
                Time::from_hms_micro(u32::from(*h), u32::from(*m), u32::from(*s), *us)
                    .map(Some)
                    .ok_or_else(|| wrong_type("a time of day", self.value(idx)))
            }
            MyValue::Bytes(b) => std::str::from_utf8(b)
                .map_err(|_| wrong_type("a time of day", self.value(idx)))
                .and_then(Time::parse)
                .map(Some),
            other => Err(wrong_type("a time of day", other)),
        }
    }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
    fn relata_parameters_are_taken_out_of_the_url() {
        let t = parse_url(
            "mariadb://root@127.0.0.1:3306/test?relata_returning=false&relata_statement_timeout=7",
            "u",
        )
        .unwrap();
        assert_eq!(t.options.returning, Some(false));
        assert_eq!(t.opts.get_read_timeout(), Some(&Duration::from_secs(12)));
        assert!(parse_url("mysql://root@h/db?relata_returning=maybe", "u").is_err());
    }
}
