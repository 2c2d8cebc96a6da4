//! Where connections come from: a small r2d2 pool per database (the [`Engine`] a `Database`
//! handle holds), and the connection a session checks out of it (a [`Connection`] that runs
//! machines with the sync driver loop).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::Conn;
use crate::error::{Error, Result};
use crate::io::{Connection, Engine, Machine, StatementLog};
use crate::sql::Dialect;

/// Opens connections for one URL.
pub(crate) type Connector = Box<dyn Fn() -> Result<Box<dyn Conn>> + Send + Sync>;

/// Connections for r2d2: the first one, opened by `Database::open` so that a bad URL fails at
/// once, is handed out before any new one is opened.
struct Manager {
    first: Mutex<Option<Box<dyn Conn>>>,
    connect: Connector,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Box<dyn Conn>;
    type Error = Error;

    fn connect(&self) -> Result<Box<dyn Conn>> {
        let first = self.first.lock().unwrap_or_else(|e| e.into_inner()).take();
        match first {
            Some(conn) => Ok(conn),
            None => (self.connect)(),
        }
    }

    fn is_valid(&self, conn: &mut Box<dyn Conn>) -> Result<()> {
        conn.batch("SELECT 1")
    }

    fn has_broken(&self, conn: &mut Box<dyn Conn>) -> bool {
        conn.is_broken()
    }
}

/// How many connections one database may hold, and for how long idle ones are kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolSize {
    pub max: u32,
    /// `None`: keep connections forever (an in-memory database lives in its one connection).
    pub idle: Option<std::time::Duration>,
}

impl PoolSize {
    /// An in-memory SQLite database: its one connection is the database.
    #[cfg(feature = "sqlite")]
    pub const MEMORY: PoolSize = PoolSize { max: 1, idle: None };
    /// A file: up to 10 connections, closed after 10 idle minutes.
    #[cfg(feature = "sqlite")]
    pub const FILE: PoolSize = PoolSize {
        max: 10,
        idle: Some(std::time::Duration::from_secs(600)),
    };

    /// A server: up to 10 connections, idle ones closed after the URL's idle timeout.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub fn server(idle: Option<std::time::Duration>) -> PoolSize {
        PoolSize { max: 10, idle }
    }
}

/// One thread, shared by every pool, that opens connections beyond the first and closes idle ones.
fn pool_thread() -> Arc<scheduled_thread_pool::ScheduledThreadPool> {
    static THREAD: std::sync::OnceLock<Arc<scheduled_thread_pool::ScheduledThreadPool>> =
        std::sync::OnceLock::new();
    THREAD
        .get_or_init(|| {
            Arc::new(
                scheduled_thread_pool::ScheduledThreadPool::builder()
                    .num_threads(1)
                    .thread_name_pattern("relata-pool-{}")
                    .build(),
            )
        })
        .clone()
}

/// How long `checkout` waits for a connection.
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A database reached through a pool of connections.
pub(crate) struct Pool {
    url: String,
    dialect: &'static dyn Dialect,
    pool: r2d2::Pool<Manager>,
    max: u32,
    echo: AtomicBool,
}

impl Pool {
    /// A pool for `url` (masked), whose first connection is `first`.
    pub fn new(
        url: String,
        dialect: &'static dyn Dialect,
        connect: Connector,
        first: Box<dyn Conn>,
        size: PoolSize,
    ) -> Pool {
        let manager = Manager {
            first: Mutex::new(Some(first)),
            connect,
        };
        let pool = r2d2::Pool::builder()
            .max_size(size.max)
            .min_idle(Some(0))
            .idle_timeout(size.idle)
            .max_lifetime(None)
            .connection_timeout(POOL_WAIT)
            // A health check before every checkout would cost a round trip per statement; a
            // connection that failed is dropped on return instead (`Conn::is_broken`).
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .thread_pool(pool_thread())
            .build_unchecked(manager);
        Pool {
            url,
            dialect,
            pool,
            max: size.max,
            echo: AtomicBool::new(false),
        }
    }
}

impl Engine for Pool {
    fn dialect(&self) -> &'static dyn Dialect {
        self.dialect
    }

    fn url(&self) -> &str {
        &self.url
    }

    fn echo(&self) -> bool {
        self.echo.load(Ordering::Relaxed)
    }

    fn set_echo(&self, on: bool) {
        self.echo.store(on, Ordering::Relaxed);
    }

    fn checkout(&self) -> Result<Box<dyn Connection>> {
        Ok(Box::new(self.get()?))
    }

    fn drive(&self, machine: &mut dyn Machine, log: &mut StatementLog, echo: bool) -> Result<()> {
        self.get()?.drive(machine, log, echo);
        Ok(())
    }
}

impl Pool {
    /// Takes a connection from the pool: an idle one, or a new one if the pool may grow, or the
    /// next one returned. Waiting longer than [`POOL_WAIT`] (every connection is held by a
    /// session in a transaction, or the server stopped answering) is an error, not a hang.
    fn get(&self) -> Result<PooledConn> {
        match self.pool.get() {
            Ok(conn) => Ok(PooledConn { conn }),
            Err(e) => {
                let message = e.to_string();
                // r2d2 adds the last error of opening a connection, if there was one.
                match message.split_once(": ") {
                    Some((_, why)) => Err(Error::Connect {
                        url: self.url.clone(),
                        message: why.to_owned(),
                    }),
                    None => Err(Error::Busy {
                        driver: None,
                        message: format!(
                            "all {} connections to {} stayed in use for {} s (sessions in transaction blocks hold theirs until the block ends)",
                            self.max,
                            self.url,
                            POOL_WAIT.as_secs()
                        ),
                    }),
                }
            }
        }
    }
}

/// A database that never connects (`Database::offline`).
pub(crate) struct Offline {
    pub dialect: &'static dyn Dialect,
    pub echo: AtomicBool,
}

impl Engine for Offline {
    fn dialect(&self) -> &'static dyn Dialect {
        self.dialect
    }

    fn url(&self) -> &str {
        "offline"
    }

    fn echo(&self) -> bool {
        self.echo.load(Ordering::Relaxed)
    }

    fn set_echo(&self, on: bool) {
        self.echo.store(on, Ordering::Relaxed);
    }

    fn checkout(&self) -> Result<Box<dyn Connection>> {
        Err(Error::Connect {
            url: "offline".into(),
            message:
                "this database is offline (Database::offline); open one by URL to run statements"
                    .into(),
        })
    }
}

/// A connection borrowed from the pool; returned to it on drop, rolled back first if a
/// transaction is still open (after a panic, say), so the next user starts clean.
struct PooledConn {
    conn: r2d2::PooledConnection<Manager>,
}

impl Connection for PooledConn {
    fn drive(&mut self, machine: &mut dyn Machine, log: &mut StatementLog, echo: bool) {
        super::runner::drive(&mut **self.conn, machine, log, echo);
    }

    fn in_transaction(&self) -> bool {
        self.conn.in_transaction()
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        if self.conn.in_transaction() {
            // A connection that cannot roll back reports itself broken and is not reused.
            let _ = self.conn.batch("ROLLBACK");
        }
    }
}
