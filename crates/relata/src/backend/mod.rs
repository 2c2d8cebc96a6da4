//! The only IO in relata: the drivers, the pool, and the sync driver loop that runs the core's
//! machines (`io::Machine`) on a connection. Nothing outside this module and `database.rs`
//! imports from here.

#[cfg(feature = "mysql")]
mod mysql;
mod pool;
#[cfg(feature = "postgres")]
mod postgres;
mod runner;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_decimal;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod url;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(unused_imports) // a build with no backend only renders SQL (`Database::offline`)
)]
use pool::{Connector, Pool, PoolSize};

use crate::error::{Error, Result};
pub(crate) use crate::io::Each;
use crate::io::Engine;
use crate::mask::mask_url;
use crate::sql::Dialect;
use crate::value::{RowSource, ValueRef};

/// A driver connection, as the rest of relata sees it.
pub(crate) trait Conn: Send {
    /// The dialect its SQL must be written in.
    fn dialect(&self) -> &'static dyn Dialect;
    /// Runs a statement that returns no rows; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[ValueRef<'_>]) -> Result<u64>;
    /// Runs an `INSERT` of `rows` rows into a table with a generated key, appending the generated
    /// keys, in row order, to `ids`.
    fn insert(
        &mut self,
        sql: &str,
        params: &[ValueRef<'_>],
        rows: usize,
        ids: &mut Vec<i64>,
    ) -> Result<()>;
    /// Runs `sql`, a statement of `width` parameters, once for each row of `params` (`width`
    /// values a row), appending to `out` what it asks for of each row. A failure names the index
    /// of the row that failed. Backends that can reuse one prepared statement for all rows
    /// override this.
    fn execute_each(
        &mut self,
        sql: &str,
        width: usize,
        params: &[ValueRef<'_>],
        mut out: Each<'_>,
    ) -> std::result::Result<(), (usize, Error)> {
        for (i, row) in params.chunks(width.max(1)).enumerate() {
            match &mut out {
                Each::Keys { keys, .. } => self.insert(sql, row, 1, keys),
                Each::Changed(counts) => self.execute(sql, row).map(|n| counts.push(n)),
                Each::Nothing => self.execute(sql, row).map(drop),
            }
            .map_err(|e| (i, e))?;
        }
        Ok(())
    }
    /// Runs `sql`, an `INSERT` that takes one array parameter per column (rendered where
    /// [`Capabilities::insert_arrays`](crate::sql::Capabilities::insert_arrays) says so), for
    /// the rows of `params` (`width` values a row): parameter `c` is the array of every row's
    /// `c`th value. With `ids`, `sql` returns the
    /// generated keys, appended in row order. Only PostgreSQL's dialect renders such SQL; the
    /// other backends keep this default, which names what went wrong should one ever get it.
    fn insert_arrays(
        &mut self,
        sql: &str,
        width: usize,
        params: &[ValueRef<'_>],
        ids: Option<&mut Vec<i64>>,
    ) -> Result<()> {
        let _ = (width, params, ids);
        Err(Error::Database {
            driver: None,
            message: format!(
                "the {} backend cannot bind array parameters",
                self.dialect().name()
            ),
            sql: Some(sql.to_owned()),
        })
    }
    /// Runs a query, calling `each` for every row.
    fn query(
        &mut self,
        sql: &str,
        params: &[ValueRef<'_>],
        each: &mut dyn FnMut(&dyn RowSource) -> Result<()>,
    ) -> Result<()>;
    /// Runs statements that take no parameters (transaction control, DDL).
    fn batch(&mut self, sql: &str) -> Result<()>;
    /// Whether a transaction is open (or may be: after SQL of the user's, servers report
    /// `true` until a `COMMIT` or `ROLLBACK`).
    fn in_transaction(&self) -> bool;
    /// Whether the connection failed in a way that makes it unusable (the server went away);
    /// the pool then drops it instead of handing it out again.
    fn is_broken(&self) -> bool {
        false
    }
}

/// Whether a server connection is (or may be) in a transaction after `sql`, a statement without
/// parameters, when it was in one (`before`) or not. Unknown SQL counts as maybe: the pool then
/// rolls back before reusing the connection, which costs nothing when there is no transaction.
#[cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(dead_code) // only the server backends call it
)]
pub(crate) fn transaction_state(sql: &str, before: bool) -> bool {
    let mut words = sql.split_whitespace().map(|w| w.trim_end_matches(';'));
    let first = words.next().unwrap_or_default();
    let is = |w: &str| first.eq_ignore_ascii_case(w);
    if is("COMMIT") || is("END") || is("ABORT") {
        false
    } else if is("ROLLBACK") {
        before && words.next().is_some_and(|w| w.eq_ignore_ascii_case("TO"))
    } else if is("SAVEPOINT") || is("RELEASE") || is("ANALYZE") {
        before
    } else {
        // BEGIN, START TRANSACTION, and whatever else may have opened one.
        true
    }
}

/// Checks that a multi-row insert reported one generated key per row: `ids` grew by `rows` from
/// `before`. Otherwise the keys it did add are dropped and the statement is named, so no caller
/// pairs objects with the wrong keys.
#[cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(dead_code) // only the server backends call it
)]
pub(crate) fn check_inserted(
    ids: &mut Vec<i64>,
    before: usize,
    rows: usize,
    sql: &str,
) -> Result<()> {
    let inserted = ids.len() - before;
    if inserted == rows {
        return Ok(());
    }
    ids.truncate(before);
    Err(Error::Database {
        driver: None,
        message: format!("expected to insert {rows} rows but {inserted} were inserted"),
        sql: Some(sql.to_owned()),
    })
}

/// The error for a URL whose backend was left out of this build.
#[allow(dead_code)] // unused when every backend is compiled in
fn not_compiled(url: String, scheme: &str, feature: &str) -> Error {
    Error::InvalidUrl {
        url,
        reason: format!(
            "the {scheme} backend is not compiled into this build; enable relata's `{feature}` feature (for example `cargo add relata --features {feature}`)"
        ),
    }
}

/// Opens the database at `url` (see `Database::open`): its pool, with the first connection
/// open.
pub(crate) fn open(url: &str) -> Result<Arc<dyn Engine>> {
    let masked = mask_url(url);
    let scheme = url.split(':').next().unwrap_or("");
    match scheme {
        #[cfg(feature = "sqlite")]
        "sqlite" => {
            let target = sqlite::parse_url(url).map_err(|reason| Error::InvalidUrl {
                url: masked.clone(),
                reason,
            })?;
            let size = if target.is_memory() {
                PoolSize::MEMORY
            } else {
                PoolSize::FILE
            };
            let first = sqlite::connect(&target, &masked)?;
            let connect: Connector = Box::new(move || sqlite::connect(&target, &masked));
            Ok(pooled(url, &crate::sql::Sqlite, connect, first, size))
        }
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => {
            let target = postgres::parse_url(url, &masked)?;
            let first = postgres::connect(&target, &masked)?;
            let size = PoolSize::server(target.options.idle_timeout);
            let connect: Connector = Box::new(move || postgres::connect(&target, &masked));
            Ok(pooled(url, &crate::sql::Postgres, connect, first, size))
        }
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => {
            let target = mysql::parse_url(url, &masked)?;
            let (first, dialect) = mysql::connect_first(&target, &masked)?;
            let size = PoolSize::server(target.options.idle_timeout);
            let connect: Connector = Box::new(move || mysql::connect(&target, &masked, dialect));
            Ok(pooled(url, dialect, connect, first, size))
        }
        #[cfg(not(feature = "sqlite"))]
        "sqlite" => Err(not_compiled(masked, scheme, "sqlite")),
        #[cfg(not(feature = "postgres"))]
        "postgres" | "postgresql" => Err(not_compiled(masked, scheme, "postgres")),
        #[cfg(not(feature = "mysql"))]
        "mysql" | "mariadb" => Err(not_compiled(masked, scheme, "mysql")),
        _ if !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            Err(Error::InvalidUrl {
                url: masked,
                reason: format!("unknown scheme `{scheme}`"),
            })
        }
        // Not a URL at all (a libpq `key=value` string, say): nothing of it is repeated
        // but its masked form, which may hold a password.
        _ => Err(Error::InvalidUrl {
            url: masked,
            reason: "it does not start with a scheme (sqlite:, postgres:// or mysql://)".into(),
        }),
    }
}

/// An engine that never connects (`Database::offline`).
pub(crate) fn offline(dialect: &'static dyn Dialect) -> Arc<dyn Engine> {
    Arc::new(pool::Offline {
        dialect,
        echo: AtomicBool::new(false),
    })
}

#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code) // a build with no backend only renders SQL (`Database::offline`)
)]
fn pooled(
    url: &str,
    dialect: &'static dyn Dialect,
    connect: Connector,
    first: Box<dyn Conn>,
    size: PoolSize,
) -> Arc<dyn Engine> {
    Arc::new(Pool::new(mask_url(url), dialect, connect, first, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_left_out_of_the_build_names_its_feature() {
        let e = not_compiled("mysql://root@h/db".into(), "mysql", "mysql");
        let msg = e.to_string();
        assert!(msg.contains("`mysql` feature"), "{msg}");
        assert!(msg.contains("--features mysql"), "{msg}");
        assert!(msg.contains("mysql://root@h/db"), "{msg}");
    }

    #[test]
    fn transaction_state_follows_control_statements() {
        assert!(transaction_state("BEGIN", false));
        assert!(transaction_state("START TRANSACTION", false));
        assert!(!transaction_state("COMMIT", true));
        assert!(!transaction_state("rollback;", true));
        assert!(transaction_state("ROLLBACK TO relata_diagnose", true));
        assert!(transaction_state("SAVEPOINT x", true));
        assert!(!transaction_state("RELEASE x", false));
        // Unknown SQL may have opened one: the pool rolls back to be sure.
        assert!(transaction_state("CREATE TABLE t (x INT)", false));
    }
}
