//! The only IO in relata: opening databases, a small connection pool, and running statements.
//! Every statement passes through [`Runner`], which counts it, traces it and echoes it.

#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crate::error::{mask_url, Error, Result};
use crate::schema::Schema;
use crate::session::Session;
use crate::sql::Dialect;
use crate::value::{RowSource, Value, ValueRef};

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
    /// values a row), appending each row's generated key to `ids` when given. A failure names
    /// the index of the row that failed. Backends that can reuse one prepared statement for all
    /// rows override this.
    fn execute_each(
        &mut self,
        sql: &str,
        width: usize,
        params: &[ValueRef<'_>],
        mut ids: Option<&mut Vec<i64>>,
    ) -> std::result::Result<(), (usize, Error)> {
        for (i, row) in params.chunks(width.max(1)).enumerate() {
            match ids.as_deref_mut() {
                Some(ids) => self.insert(sql, row, 1, ids),
                None => self.execute(sql, row).map(drop),
            }
            .map_err(|e| (i, e))?;
        }
        Ok(())
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
    /// Whether a transaction is open.
    fn in_transaction(&self) -> bool;
}

/// Opens connections for one URL.
type Connector = Box<dyn Fn() -> Result<Box<dyn Conn>> + Send + Sync>;

struct Inner {
    url: String,
    dialect: &'static dyn Dialect,
    connect: Connector,
    idle: Mutex<Vec<Box<dyn Conn>>>,
    returned: Condvar,
    /// `Some(n)`: at most `n` connections exist (an in-memory SQLite database lives in one).
    max: Option<usize>,
    open: Mutex<usize>,
    echo: AtomicBool,
}

/// A database: where sessions get their connections. Cheap to clone (clones share the pool).
///
/// ```
/// let db = relata::Database::open("sqlite::memory:")?;
/// let session = db.session();
/// # drop(session);
/// # Ok::<(), relata::Error>(())
/// ```
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.inner.url)
            .finish()
    }
}

impl Database {
    /// Opens a database by URL:
    /// - `sqlite::memory:`: a private in-memory database (gone when the last clone is dropped);
    /// - `sqlite://path.db` (relative) or `sqlite:///abs/path.db`: a file, created if missing,
    ///   in WAL mode.
    ///
    /// Every connection enforces foreign keys. Server URLs (`postgres://`, `mysql://`) need the
    /// backend's Cargo feature.
    pub fn open(url: &str) -> Result<Database> {
        let masked = mask_url(url);
        let scheme = url.split(':').next().unwrap_or("");
        match scheme {
            #[cfg(feature = "sqlite")]
            "sqlite" => {
                let target = sqlite::parse_url(url).map_err(|reason| Error::InvalidUrl {
                    url: masked.clone(),
                    reason,
                })?;
                let max = target.is_memory().then_some(1);
                let first = sqlite::connect(&target, &masked)?;
                let connect: Connector = Box::new(move || sqlite::connect(&target, &masked));
                Ok(Database::with_pool(url, &crate::sql::Sqlite, connect, Some(first), max))
            }
            "postgres" | "postgresql" | "mysql" | "mariadb" => Err(Error::InvalidUrl {
                url: masked,
                reason: format!(
                    "the {scheme} backend is not available in this build; SQLite is (sqlite::memory: or sqlite://file.db)"
                ),
            }),
            _ => Err(Error::InvalidUrl {
                url: masked,
                reason: format!("unknown scheme `{scheme}`"),
            }),
        }
    }

    /// A database handle that never connects: sessions on it can build objects and links and
    /// show what a commit would run (`Session::pending_statements`) in `dialect`, and
    /// [`Schema::ddl`] works as usual, but anything that needs the database fails with
    /// `Error::Connect`.
    pub fn offline(dialect: &'static dyn Dialect) -> Database {
        let connect: Connector = Box::new(|| {
            Err(Error::Connect {
                url: "offline".into(),
                message: "this database is offline (Database::offline); open one by URL to run statements".into(),
            })
        });
        Database::with_pool("offline", dialect, connect, None, None)
    }

    fn with_pool(
        url: &str,
        dialect: &'static dyn Dialect,
        connect: Connector,
        first: Option<Box<dyn Conn>>,
        max: Option<usize>,
    ) -> Database {
        let open = usize::from(first.is_some());
        Database {
            inner: Arc::new(Inner {
                url: mask_url(url),
                dialect,
                connect,
                idle: Mutex::new(first.into_iter().collect()),
                returned: Condvar::new(),
                max,
                open: Mutex::new(open),
                echo: AtomicBool::new(false),
            }),
        }
    }

    /// A new session on this database.
    pub fn session(&self) -> Session {
        Session::new(self.clone())
    }

    /// The URL it was opened with (any password masked).
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The SQL dialect of its backend.
    pub fn dialect(&self) -> &'static dyn Dialect {
        self.inner.dialect
    }

    /// Prints every statement, with its parameters, to stderr (like SQLAlchemy's `echo=True`).
    /// Statements are also always emitted as `tracing` events at DEBUG level under the target
    /// `relata::sql`, whether or not echo is on.
    pub fn set_echo(&self, on: bool) {
        self.inner.echo.store(on, Ordering::Relaxed);
    }

    /// Creates every table, index and foreign key of `schema` that does not exist yet, parents
    /// before the tables that reference them, in one transaction. Running it again changes nothing.
    pub fn create_all(&self, schema: &Schema) -> Result<()> {
        let statements = schema.ddl(self.dialect())?;
        let mut conn = self.acquire()?;
        let mut log = StatementLog::default();
        let mut run = Runner::new(conn.conn(), &mut log, self.echo());
        run.transaction(|run| {
            for sql in &statements {
                run.execute(&"create_all", sql, &[])?;
            }
            Ok(())
        })
    }

    /// Runs SQL that takes no parameters, as given (for example a migration). relata itself never
    /// needs this; values must never be spliced into the text.
    ///
    /// Each call borrows a connection from the pool and returns it afterwards; a transaction the
    /// SQL leaves open is rolled back then, so it cannot leak into the next user of the
    /// connection. To hold a transaction across calls, use `Session::transaction`.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        let mut conn = self.acquire()?;
        let mut log = StatementLog::default();
        Runner::new(conn.conn(), &mut log, self.echo()).batch(&"execute_batch", sql)
    }

    pub(crate) fn echo(&self) -> bool {
        self.inner.echo.load(Ordering::Relaxed)
    }

    /// Takes a connection from the pool: an idle one, a new one if the pool may grow, or the next
    /// one returned. An in-memory database has a single connection; waiting longer than
    /// [`POOL_WAIT`] for it (another session holds it in a transaction) is an error, not a hang.
    pub(crate) fn acquire(&self) -> Result<PooledConn> {
        let inner = &*self.inner;
        let deadline = std::time::Instant::now() + POOL_WAIT;
        let mut idle = inner.idle.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(conn) = idle.pop() {
                return Ok(PooledConn {
                    db: self.inner.clone(),
                    conn: Some(conn),
                });
            }
            let mut open = inner.open.lock().unwrap_or_else(|e| e.into_inner());
            if inner.max.is_none_or(|max| *open < max) {
                *open += 1;
                drop(open);
                drop(idle);
                return match (inner.connect)() {
                    Ok(conn) => Ok(PooledConn {
                        db: self.inner.clone(),
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        *inner.open.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
                        Err(e)
                    }
                };
            }
            drop(open);
            let now = std::time::Instant::now();
            if now >= deadline {
                return Err(Error::Busy {
                    message: format!(
                        "every connection to {} is in use (an in-memory database has one; another session holds it in a transaction)",
                        inner.url
                    ),
                });
            }
            idle = inner
                .returned
                .wait_timeout(idle, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// How long `acquire` waits for a connection when the pool cannot grow.
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A connection borrowed from the pool; returned to it on drop, rolled back first if a
/// transaction is still open (after a panic, say), so the next user starts clean.
pub(crate) struct PooledConn {
    db: Arc<Inner>,
    conn: Option<Box<dyn Conn>>,
}

impl PooledConn {
    /// The connection.
    pub(crate) fn conn(&mut self) -> &mut dyn Conn {
        &mut **self.conn.as_mut().expect("present until drop")
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            if conn.in_transaction() {
                let _ = conn.batch("ROLLBACK");
            }
            self.db
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
            self.db.returned.notify_one();
        }
    }
}

/// Statements a session ran: a count, and while a query budget is active, a description of each.
#[derive(Debug, Default)]
pub(crate) struct StatementLog {
    pub count: u64,
    pub recording: Option<Vec<String>>,
}

/// Runs statements on one connection, counting, tracing and echoing each with why it ran.
pub(crate) struct Runner<'a> {
    conn: &'a mut dyn Conn,
    log: &'a mut StatementLog,
    echo: bool,
}

/// Displays parameters as `[1, "Alice", ...]`, cut after 20.
struct Params<'a>(&'a [ValueRef<'a>]);

impl fmt::Display for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, v) in self.0.iter().take(20).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{v}")?;
        }
        if self.0.len() > 20 {
            write!(f, ", … {} values in all", self.0.len())?;
        }
        f.write_str("]")
    }
}

/// Displays the rows of a statement run once per row as `[(1, "Alice"), (2, "Bob"), ...]`, cut
/// after 10 rows.
struct RowParams<'a>(&'a [ValueRef<'a>], usize);

impl fmt::Display for RowParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = self.0.chunks(self.1.max(1));
        let count = rows.len();
        f.write_str("[")?;
        for (i, row) in rows.take(10).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str("(")?;
            for (j, v) in row.iter().enumerate() {
                if j > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{v}")?;
            }
            f.write_str(")")?;
        }
        if count > 10 {
            write!(f, ", … {count} rows in all")?;
        }
        f.write_str("]")
    }
}

impl<'a> Runner<'a> {
    pub(crate) fn new(conn: &'a mut dyn Conn, log: &'a mut StatementLog, echo: bool) -> Self {
        Runner { conn, log, echo }
    }

    pub(crate) fn dialect(&self) -> &'static dyn Dialect {
        self.conn.dialect()
    }

    fn note(&mut self, why: &dyn fmt::Display, sql: &str, params: &[ValueRef<'_>]) {
        self.log.count += 1;
        if let Some(rec) = &mut self.log.recording {
            rec.push(format!("{why}: {sql}"));
        }
        let params = Params(params);
        tracing::debug!(target: "relata::sql", %why, %params, "{sql}");
        if self.echo {
            eprintln!("[relata] {sql} {params}");
        }
    }

    pub(crate) fn execute(
        &mut self,
        why: &dyn fmt::Display,
        sql: &str,
        params: &[ValueRef<'_>],
    ) -> Result<u64> {
        self.note(why, sql, params);
        self.conn.execute(sql, params)
    }

    pub(crate) fn insert(
        &mut self,
        why: &dyn fmt::Display,
        sql: &str,
        params: &[ValueRef<'_>],
        rows: usize,
        ids: &mut Vec<i64>,
    ) -> Result<()> {
        self.note(why, sql, params);
        self.conn.insert(sql, params, rows, ids)
    }

    /// Runs a one-row statement for each row of `params` (see `Conn::execute_each`); counted as
    /// one statement a row, traced and echoed once with the number of rows.
    pub(crate) fn execute_each(
        &mut self,
        why: &dyn fmt::Display,
        sql: &str,
        width: usize,
        params: &[ValueRef<'_>],
        ids: Option<&mut Vec<i64>>,
    ) -> std::result::Result<(), (usize, Error)> {
        let rows = params.len() / width.max(1);
        self.log.count += rows as u64;
        if let Some(rec) = &mut self.log.recording {
            rec.extend((0..rows).map(|_| format!("{why}: {sql}")));
        }
        let shown = RowParams(params, width);
        tracing::debug!(target: "relata::sql", %why, rows, params = %shown, "{sql}");
        if self.echo {
            eprintln!("[relata] {sql} {shown}");
        }
        self.conn.execute_each(sql, width, params, ids)
    }

    pub(crate) fn query(
        &mut self,
        why: &dyn fmt::Display,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(&dyn RowSource) -> Result<()>,
    ) -> Result<()> {
        let params: Vec<ValueRef<'_>> = params.iter().map(Value::as_ref).collect();
        self.note(why, sql, &params);
        self.conn.query(sql, &params, each)
    }

    pub(crate) fn batch(&mut self, why: &dyn fmt::Display, sql: &str) -> Result<()> {
        self.note(why, sql, &[]);
        self.conn.batch(sql)
    }

    /// Runs `body` in a transaction: committed if it returns `Ok`, rolled back otherwise.
    pub(crate) fn transaction<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let begin = self.dialect().begin();
        self.batch(&"begin", begin)?;
        let result = body(self).and_then(|v| self.batch(&"commit", "COMMIT").map(|()| v));
        if result.is_err() {
            // The error that matters is the first one; a failed ROLLBACK (there may be no
            // transaction left to roll back) adds nothing.
            let _ = self.batch(&"rollback", "ROLLBACK");
        }
        result
    }
}
