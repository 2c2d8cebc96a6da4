//! The PostgreSQL backend, over `tokio-postgres` on a runtime of its own per connection
//! (one thread, no tasks: every call drives the connection until its answer is in), so that
//! every wait for the server has a deadline.

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Socket, Statement};

mod errors;
mod types;

use errors::{describe, map_error};
use types::{binds, refs, Bind, Column, Row};

use super::url::{seconds, UrlOptions};
use super::{transaction_state, Conn};
use crate::error::{Error, Result};
use crate::sql::{Dialect, Postgres};
use crate::value::{RowSource, ValueRef};

/// What relata needs to open connections to one PostgreSQL database.
pub(super) struct Target {
    config: Config,
    pub(super) options: UrlOptions,
}

/// Parses a `postgres://` or `postgresql://` URL (libpq's format, plus relata's `relata_*`
/// parameters). libpq's own `connect_timeout`, when given without `relata_connect_timeout`, bounds
/// the whole connection setup as relata's does.
pub(super) fn parse_url(url: &str, masked: &str) -> Result<Target> {
    let (driver_url, mut options) = super::url::split(url, masked)?;
    let invalid = |reason: String| Error::InvalidUrl {
        url: masked.to_owned(),
        reason,
    };
    if options.returning.is_some() {
        return Err(invalid(
            "relata_returning is for MySQL/MariaDB; PostgreSQL always returns generated keys"
                .into(),
        ));
    }
    let mut config: Config = driver_url
        .parse()
        .map_err(|e: tokio_postgres::Error| invalid(e.to_string()))?;
    if !url.contains("relata_connect_timeout=") {
        if let Some(&t) = config.get_connect_timeout() {
            options.connect_timeout = Some(t);
        }
    }
    if let Some(t) = options.connect_timeout {
        // Each address's TCP connect; the whole setup is bounded in `connect`.
        config.connect_timeout(t);
    }
    if config.get_application_name().is_none() {
        config.application_name("relata");
    }
    Ok(Target { config, options })
}

/// Opens one connection: the TCP connect, the startup and authentication, and the session's
/// statement timeout, all within the connect timeout.
pub(super) fn connect(target: &Target, url: &str) -> Result<Box<dyn Conn>> {
    let connect_error = |message: String| Error::Connect {
        url: url.to_owned(),
        message,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| connect_error(format!("cannot start the connection's I/O: {e}")))?;
    let opened = runtime.block_on(async {
        let connecting = target.config.connect(NoTls);
        match target.options.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, connecting)
                .await
                .map_err(|_| limit),
            None => Ok(connecting.await),
        }
    });
    let (client, connection) = match opened {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => return Err(connect_error(describe(&e))),
        Err(limit) => {
            return Err(connect_error(format!(
                "the server did not complete the connection within {} (relata_connect_timeout in the URL)",
                seconds(limit)
            )))
        }
    };
    let mut conn = PgConn {
        client,
        url: url.to_owned(),
        statements: HashMap::new(),
        in_transaction: false,
        broken: false,
        driver: Driver {
            connection: Box::pin(connection),
            closed: None,
            answer_timeout: target.options.answer_timeout(),
            runtime,
        },
    };
    if let Some(limit) = target.options.statement_timeout {
        // The server stops a statement that runs too long, and the connection stays usable.
        let sql = format!("SET statement_timeout = {}", limit.as_millis().max(1));
        conn.batch(&sql).map_err(|e| connect_error(e.to_string()))?;
    }
    Ok(Box::new(conn))
}

/// Prepared statements kept per connection before the cache starts over.
const STATEMENT_CACHE: usize = 256;

struct PgConn {
    client: Client,
    url: String,
    statements: HashMap<String, Statement>,
    in_transaction: bool,
    broken: bool,
    /// Last: it owns the runtime, which must outlive the client's and connection's I/O.
    driver: Driver,
}

/// The connection's half that moves bytes: polled alongside each request, on the connection's
/// own runtime, with a deadline for a server that stops answering.
struct Driver {
    connection: Pin<Box<tokio_postgres::Connection<Socket, NoTlsStream>>>,
    /// Why the connection ended, once it has (the server closed it, or reading failed).
    closed: Option<String>,
    /// How long the server may send nothing before relata gives the connection up.
    answer_timeout: Option<Duration>,
    runtime: tokio::runtime::Runtime,
}

/// What one poll of a request did.
enum Step<T> {
    /// Finished.
    Done(T),
    /// Made progress (a row arrived); poll again.
    Again,
    /// Waits for the server.
    Wait,
}

/// The server sent nothing for the answer timeout.
struct Silent(Duration);

impl Driver {
    /// Polls `step` until it is done, driving the connection's I/O in between. Gives up with
    /// [`Silent`] when a whole answer timeout passes with no progress: the deadline is checked
    /// only while waiting, and moved on whenever rows arrived since the last check, so a long
    /// stream of rows costs no timer work per row.
    fn drive<T>(&mut self, mut step: impl FnMut(&mut Context<'_>) -> Step<T>) -> Result<T, Silent> {
        let Driver {
            connection,
            closed,
            answer_timeout,
            runtime,
        } = self;
        let limit = *answer_timeout;
        runtime.block_on(async move {
            let mut deadline = limit.map(|d| Box::pin(tokio::time::sleep(d)));
            let (mut progress, mut progress_at_deadline) = (0u64, 0u64);
            poll_fn(|cx| loop {
                if closed.is_none() {
                    if let Poll::Ready(end) = connection.as_mut().poll(cx) {
                        *closed = Some(match end {
                            Ok(()) => "the server closed the connection".to_owned(),
                            Err(e) => describe(&e),
                        });
                    }
                }
                match step(cx) {
                    Step::Done(v) => return Poll::Ready(Ok(v)),
                    Step::Again => {
                        progress += 1;
                        continue;
                    }
                    Step::Wait => {}
                }
                let (Some(sleep), Some(limit)) = (deadline.as_mut(), limit) else {
                    return Poll::Pending;
                };
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                if progress == progress_at_deadline {
                    return Poll::Ready(Err(Silent(limit)));
                }
                progress_at_deadline = progress;
                sleep.as_mut().reset(tokio::time::Instant::now() + limit);
            })
            .await
        })
    }

    /// Drives a future of the client's to its end.
    fn run<T>(
        &mut self,
        future: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<Result<T, tokio_postgres::Error>, Silent> {
        let mut future = std::pin::pin!(future);
        self.drive(|cx| match future.as_mut().poll(cx) {
            Poll::Ready(v) => Step::Done(v),
            Poll::Pending => Step::Wait,
        })
    }
}

/// Why a request failed: the driver reported an error, the server went silent, or (for a
/// query) the caller's row handler failed.
enum Failure {
    Driver(tokio_postgres::Error),
    Silent(Duration),
    Caller(Error),
}

impl From<Silent> for Failure {
    fn from(s: Silent) -> Self {
        Failure::Silent(s.0)
    }
}

impl PgConn {
    /// Fails at once on a connection lost earlier: no statement (not even the `ROLLBACK` of a
    /// failed transaction) waits out the timeout a second time.
    fn usable(&self) -> Result<()> {
        if self.is_broken() {
            return Err(Error::ConnectionLost {
                driver: None,
                url: self.url.clone(),
                message: self
                    .driver
                    .closed
                    .clone()
                    .unwrap_or_else(|| "the connection was lost earlier".into()),
                in_commit: false,
            });
        }
        Ok(())
    }

    /// The prepared statement for `sql`, from the cache or prepared now (one round trip).
    fn statement(&mut self, sql: &str) -> Result<Statement> {
        self.usable()?;
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let prepared = self.driver.run(self.client.prepare(sql));
        let stmt = self.outcome(
            prepared
                .map_err(Failure::from)
                .and_then(|r| r.map_err(Failure::Driver)),
            sql,
        )?;
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    /// A request's result as relata's, marking the connection broken when it is lost.
    fn outcome<T>(&mut self, result: std::result::Result<T, Failure>, sql: &str) -> Result<T> {
        let e = match result {
            Ok(v) => return Ok(v),
            Err(Failure::Caller(e)) => return Err(e),
            Err(Failure::Silent(limit)) => Error::ConnectionLost {
                driver: None,
                url: self.url.clone(),
                message: format!(
                    "the server sent nothing for {} (relata_statement_timeout in the URL, plus 5 s), so relata gave the connection up",
                    seconds(limit)
                ),
                in_commit: false,
            },
            Err(Failure::Driver(e)) => {
                let closed = self.driver.closed.clone();
                let mut e = map_error(e, sql, &self.url);
                if let (Error::ConnectionLost { message, .. }, Some(closed)) = (&mut e, closed) {
                    *message = closed;
                }
                e
            }
        };
        if matches!(e, Error::ConnectionLost { .. }) || self.client.is_closed() {
            self.broken = true;
        }
        Err(e)
    }

    /// Runs a prepared statement with one parameter per value, returning the rows it changed.
    fn execute_with(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let stmt = self.statement(sql)?;
        let done = self.driver.run(self.client.execute(&stmt, params));
        self.outcome(
            done.map_err(Failure::from)
                .and_then(|r| r.map_err(Failure::Driver)),
            sql,
        )
    }

    /// Runs a prepared statement and hands each row to `each` as it arrives.
    fn query_with<P, I>(
        &mut self,
        sql: &str,
        params: I,
        each: &mut dyn FnMut(&tokio_postgres::Row) -> Result<()>,
    ) -> Result<()>
    where
        P: tokio_postgres::types::BorrowToSql,
        I: IntoIterator<Item = P>,
        I::IntoIter: ExactSizeIterator,
    {
        let stmt = self.statement(sql)?;
        let started = self.driver.run(self.client.query_raw(&stmt, params));
        let rows = match started {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => return self.outcome(Err(Failure::Driver(e)), sql),
            Err(silent) => return self.outcome(Err(silent.into()), sql),
        };
        let mut rows = std::pin::pin!(rows);
        let read = self.driver.drive(|cx| match rows.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(row))) => match each(&row) {
                Ok(()) => Step::Again,
                Err(e) => Step::Done(Err(Failure::Caller(e))),
            },
            Poll::Ready(Some(Err(e))) => Step::Done(Err(Failure::Driver(e))),
            Poll::Ready(None) => Step::Done(Ok(())),
            Poll::Pending => Step::Wait,
        });
        let read = read.map_err(Failure::from).and_then(|r| r);
        self.outcome(read, sql)
    }
}

impl Conn for PgConn {
    fn dialect(&self) -> &'static dyn Dialect {
        &Postgres
    }

    fn execute(&mut self, sql: &str, params: &[ValueRef<'_>]) -> Result<u64> {
        let binds = binds(params);
        self.execute_with(sql, &refs(&binds))
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
                    driver: None,
                    message: format!("a generated key: {}", e.0),
                    sql: None,
                })?
                .ok_or_else(|| Error::Database {
                    driver: None,
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
            return self.execute_with(sql, &columns).map(drop);
        };
        // `INSERT ... SELECT * FROM unnest(...) RETURNING pk`: the function scan yields the
        // arrays' rows in order, and PostgreSQL returns the rows in the order it inserted them.
        let before = ids.len();
        self.query_with(sql, columns.iter(), &mut |row| {
            let id = row.try_get::<_, i64>(0).map_err(|e| Error::Database {
                driver: None,
                message: format!("a generated key: {e}"),
                sql: None,
            })?;
            ids.push(id);
            Ok(())
        })?;
        super::check_inserted(ids, before, rows, sql)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[ValueRef<'_>],
        each: &mut dyn FnMut(&dyn RowSource) -> Result<()>,
    ) -> Result<()> {
        self.query_with(sql, params.iter().map(|&v| Bind(v)), &mut |row| {
            each(&Row(row))
        })
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.usable()?;
        self.in_transaction = transaction_state(sql, self.in_transaction);
        let done = self.driver.run(self.client.batch_execute(sql));
        self.outcome(
            done.map_err(Failure::from)
                .and_then(|r| r.map_err(Failure::Driver)),
            sql,
        )
    }

    fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    fn is_broken(&self) -> bool {
        self.broken || self.driver.closed.is_some() || self.client.is_closed()
    }
}
