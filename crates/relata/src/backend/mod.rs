//! The only IO in relata: opening databases, a small connection pool, and running statements.
//! Every statement passes through [`Runner`], which counts it, traces it and echoes it.

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod url;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
                Each::Keys(ids) => self.insert(sql, row, 1, ids),
                Each::Changed(counts) => self.execute(sql, row).map(|n| counts.push(n)),
                Each::Nothing => self.execute(sql, row).map(drop),
            }
            .map_err(|e| (i, e))?;
        }
        Ok(())
    }
    /// Runs `sql`, an `INSERT` that takes one array parameter per column (rendered where
    /// [`Dialect::insert_arrays`] says so), for the rows of `params` (`width` values a row):
    /// parameter `c` is the array of every row's `c`th value. With `ids`, `sql` returns the
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

/// What [`Conn::execute_each`] reports of each row it ran.
pub(crate) enum Each<'a> {
    /// Nothing.
    Nothing,
    /// The key the database generated for the row's insert.
    Keys(&'a mut Vec<i64>),
    /// How many rows the row's statement changed (a delete checked for stale pairs).
    Changed(&'a mut Vec<u64>),
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

/// Opens connections for one URL.
type Connector = Box<dyn Fn() -> Result<Box<dyn Conn>> + Send + Sync>;

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
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code) // a build with no backend only renders SQL (`Database::offline`)
)]
struct PoolSize {
    max: u32,
    /// `None`: keep connections forever (an in-memory database lives in its one connection).
    idle: Option<std::time::Duration>,
}

#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code) // a build with no backend only renders SQL (`Database::offline`)
)]
impl PoolSize {
    /// An in-memory SQLite database: its one connection is the database.
    #[cfg(feature = "sqlite")]
    const MEMORY: PoolSize = PoolSize { max: 1, idle: None };
    /// A file: up to 10 connections, closed after 10 idle minutes.
    #[cfg(feature = "sqlite")]
    const FILE: PoolSize = PoolSize {
        max: 10,
        idle: Some(std::time::Duration::from_secs(600)),
    };

    /// A server: up to 10 connections, idle ones closed after the URL's idle timeout.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    fn server(idle: Option<std::time::Duration>) -> PoolSize {
        PoolSize { max: 10, idle }
    }
}

/// One thread, shared by every pool, that opens connections beyond the first and closes idle ones.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code) // a build with no backend only renders SQL (`Database::offline`)
)]
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

struct Inner {
    url: String,
    dialect: &'static dyn Dialect,
    /// `None` for an offline database.
    pool: Option<r2d2::Pool<Manager>>,
    max: u32,
    echo: AtomicBool,
}

/// A database: where sessions get their connections. Cheap to clone (clones share the pool).
///
/// Connections come from a pool (r2d2) of up to 10 for a file or a server, opened as sessions
/// need them and closed after 10 idle minutes; an in-memory SQLite database is one connection.
/// Sessions on several threads work at once, each statement on a connection of its own
/// unless the session is in a transaction block.
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
            .field("dialect", &self.inner.dialect.name())
            .finish()
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

impl Database {
    /// Opens a database by URL:
    /// - `sqlite::memory:`: a private in-memory database (gone when the last clone is dropped);
    /// - `sqlite://path.db` (relative) or `sqlite:///abs/path.db`: a file, created if missing,
    ///   in WAL mode;
    /// - `postgres://user:password@host:5432/dbname` (or `postgresql://`), with the `postgres`
    ///   feature; parameters as libpq takes them, e.g. `?options=-c%20search_path%3Dschool`;
    /// - `mysql://user:password@host:3306/dbname` (or `mariadb://`), with the `mysql` feature.
    ///   On MariaDB 10.5 and later generated keys come back by `RETURNING`;
    ///   `?relata_returning=false` turns that off, for a proxy that does not pass it through.
    ///
    /// On the servers, relata's own parameters bound every wait (seconds, `0` for no limit):
    /// `relata_connect_timeout` (5: opening a connection, handshake included),
    /// `relata_statement_timeout` (30: the server stops a longer statement, [`Error::Timeout`];
    /// a server silent for this long plus 5 s is given up, [`Error::ConnectionLost`]) and
    /// `relata_idle_timeout` (600: how long an unused pooled connection is kept), e.g.
    /// `postgres://clerk@db/school?relata_statement_timeout=120`.
    ///
    /// The first connection is opened here, so an unreachable server or a bad file is an error
    /// now, not at the first query. Every connection enforces foreign keys.
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
                let size = if target.is_memory() {
                    PoolSize::MEMORY
                } else {
                    PoolSize::FILE
                };
                let first = sqlite::connect(&target, &masked)?;
                let connect: Connector = Box::new(move || sqlite::connect(&target, &masked));
                Ok(Database::with_pool(
                    url,
                    &crate::sql::Sqlite,
                    connect,
                    first,
                    size,
                ))
            }
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => {
                let target = postgres::parse_url(url, &masked)?;
                let first = postgres::connect(&target, &masked)?;
                let size = PoolSize::server(target.options.idle_timeout);
                let connect: Connector = Box::new(move || postgres::connect(&target, &masked));
                Ok(Database::with_pool(
                    url,
                    &crate::sql::Postgres,
                    connect,
                    first,
                    size,
                ))
            }
            #[cfg(feature = "mysql")]
            "mysql" | "mariadb" => {
                let target = mysql::parse_url(url, &masked)?;
                let (first, dialect) = mysql::connect_first(&target, &masked)?;
                let size = PoolSize::server(target.options.idle_timeout);
                let connect: Connector =
                    Box::new(move || mysql::connect(&target, &masked, dialect));
                Ok(Database::with_pool(url, dialect, connect, first, size))
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

    /// A database handle that never connects: sessions on it can build objects and links and
    /// show what a commit would run (`Session::pending_statements`) in `dialect`, and
    /// [`Schema::ddl`] works as usual, but anything that needs the database fails with
    /// `Error::Connect`.
    pub fn offline(dialect: &'static dyn Dialect) -> Database {
        Database {
            inner: Arc::new(Inner {
                url: "offline".into(),
                dialect,
                pool: None,
                max: 0,
                echo: AtomicBool::new(false),
            }),
        }
    }

    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
        allow(dead_code) // a build with no backend only renders SQL (`Database::offline`)
    )]
    fn with_pool(
        url: &str,
        dialect: &'static dyn Dialect,
        connect: Connector,
        first: Box<dyn Conn>,
        size: PoolSize,
    ) -> Database {
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
        Database {
            inner: Arc::new(Inner {
                url: mask_url(url),
                dialect,
                pool: Some(pool),
                max: size.max,
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
    ///
    /// It first reads which tables and indexes exist (one catalog query): when all are there, as
    /// on every open but the first, it runs no DDL and takes no lock, so it never waits for a
    /// writer and never makes a reader wait. Otherwise it takes a lock on the schema (SQLite's
    /// write lock, a PostgreSQL advisory lock, a MySQL named lock), so several processes opening
    /// a new database at once create each table once and none of them fails.
    pub fn create_all(&self, schema: &Schema) -> Result<()> {
        let d = self.dialect();
        let statements = schema.ddl(d)?;
        let wanted = schema.objects(d)?;
        let mut conn = self.acquire()?;
        let mut log = StatementLog::default();
        let mut run = Runner::new(conn.conn(), &mut log, self.echo());
        let mut existing = std::collections::HashSet::new();
        run.query(
            &"create_all: existing tables",
            d.existing_tables_and_indexes(),
            &[],
            &mut |row| {
                if let Ok(Some(name)) = row.get_text(0) {
                    existing.insert(name);
                }
                Ok(())
            },
        )?;
        if wanted.iter().all(|name| existing.contains(name)) {
            return Ok(());
        }
        let lock = d.schema_lock();
        let created = run.transaction(|run| {
            if let Some(lock) = lock {
                let mut granted = !lock.granted_reads_one;
                run.query(&"create_all: lock the schema", lock.acquire, &[], &mut |row| {
                    granted |= matches!(row.get_i64(0), Ok(Some(1)));
                    Ok(())
                })?;
                if !granted {
                    return Err(Error::Busy {
                        message: "another connection kept the schema locked for 30 s while creating tables".into(),
                    });
                }
            }
            for sql in &statements {
                run.execute(&"create_all", sql, &[])?;
            }
            Ok(())
        });
        if let Some(release) = lock.and_then(|l| l.release) {
            // Released whatever happened; a connection that cannot run it is broken and closed,
            // which releases the lock too.
            let _ = run.query(&"create_all: unlock the schema", release, &[], &mut |_| {
                Ok(())
            });
        }
        created
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

    /// Takes a connection from the pool: an idle one, or a new one if the pool may grow, or the
    /// next one returned. Waiting longer than [`POOL_WAIT`] (every connection is held by a
    /// session in a transaction, or the server stopped answering) is an error, not a hang.
    pub(crate) fn acquire(&self) -> Result<PooledConn> {
        let inner = &*self.inner;
        let Some(pool) = &inner.pool else {
            return Err(Error::Connect {
                url: "offline".into(),
                message: "this database is offline (Database::offline); open one by URL to run statements".into(),
            });
        };
        match pool.get() {
            Ok(conn) => Ok(PooledConn { conn }),
            Err(e) => {
                let message = e.to_string();
                // r2d2 adds the last error of opening a connection, if there was one.
                match message.split_once(": ") {
                    Some((_, why)) => Err(Error::Connect {
                        url: inner.url.clone(),
                        message: why.to_owned(),
                    }),
                    None => Err(Error::Busy {
                        message: format!(
                            "all {} connections to {} stayed in use for {} s (sessions in transaction blocks hold theirs until the block ends)",
                            inner.max,
                            inner.url,
                            POOL_WAIT.as_secs()
                        ),
                    }),
                }
            }
        }
    }
}

/// How long `acquire` waits for a connection.
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A connection borrowed from the pool; returned to it on drop, rolled back first if a
/// transaction is still open (after a panic, say), so the next user starts clean.
pub(crate) struct PooledConn {
    conn: r2d2::PooledConnection<Manager>,
}

impl PooledConn {
    /// The connection.
    pub(crate) fn conn(&mut self) -> &mut dyn Conn {
        &mut **self.conn
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

/// Prints a statement to stderr for `Database::set_echo`. A stderr that cannot be written (a
/// full disk, a closed pipe) loses the echo but never panics, as `eprintln!` would: a panic here
/// could strike while a transaction block is being rolled back.
fn echo(sql: &str, params: &dyn fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "[relata] {sql} {params}");
}

impl<'a> Runner<'a> {
    pub(crate) fn new(conn: &'a mut dyn Conn, log: &'a mut StatementLog, echo: bool) -> Self {
        Runner { conn, log, echo }
    }

    pub(crate) fn dialect(&self) -> &'static dyn Dialect {
        self.conn.dialect()
    }

    fn note(&mut self, why: &dyn fmt::Display, sql: &str, params: &[ValueRef<'_>]) {
        self.note_shown(why, sql, &Params(params));
    }

    /// Counts, records, traces and echoes a statement, with its parameters as `params` shows
    /// them.
    fn note_shown(&mut self, why: &dyn fmt::Display, sql: &str, params: &dyn fmt::Display) {
        self.log.count += 1;
        if let Some(rec) = &mut self.log.recording {
            rec.push(format!("{why}: {sql}"));
        }
        tracing::debug!(target: "relata::sql", %why, %params, "{sql}");
        if self.echo {
            echo(sql, params);
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

    /// Runs an `INSERT` of array parameters, one per column (see `Conn::insert_arrays`).
    pub(crate) fn insert_arrays(
        &mut self,
        why: &dyn fmt::Display,
        sql: &str,
        width: usize,
        params: &[ValueRef<'_>],
        ids: Option<&mut Vec<i64>>,
    ) -> Result<()> {
        self.note_shown(why, sql, &RowParams(params, width));
        self.conn.insert_arrays(sql, width, params, ids)
    }

    /// Runs a one-row statement for each row of `params` (see `Conn::execute_each`); counted as
    /// one statement a row, traced and echoed once with the number of rows.
    pub(crate) fn execute_each(
        &mut self,
        why: &dyn fmt::Display,
        sql: &str,
        width: usize,
        params: &[ValueRef<'_>],
        out: Each<'_>,
    ) -> std::result::Result<(), (usize, Error)> {
        let rows = params.len() / width.max(1);
        self.log.count += rows as u64;
        if let Some(rec) = &mut self.log.recording {
            rec.extend((0..rows).map(|_| format!("{why}: {sql}")));
        }
        let shown = RowParams(params, width);
        tracing::debug!(target: "relata::sql", %why, rows, params = %shown, "{sql}");
        if self.echo {
            echo(sql, &shown);
        }
        self.conn.execute_each(sql, width, params, out)
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

    /// Commits the connection's transaction. A connection lost during `COMMIT` leaves the
    /// outcome unknown, and the error says so.
    pub(crate) fn commit(&mut self) -> Result<()> {
        self.batch(&"commit", "COMMIT").map_err(|e| match e {
            Error::ConnectionLost { url, message, .. } => Error::ConnectionLost {
                url,
                message,
                in_commit: true,
            },
            e => e,
        })
    }

    /// Runs `body` in a transaction: committed if it returns `Ok`, rolled back otherwise.
    pub(crate) fn transaction<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let begin = self.dialect().begin();
        self.batch(&"begin", begin)?;
        let result = body(self).and_then(|v| self.commit().map(|()| v));
        if result.is_err() {
            // The error that matters is the first one; a failed ROLLBACK (there may be no
            // transaction left to roll back) adds nothing.
            let _ = self.batch(&"rollback", "ROLLBACK");
        }
        result
    }
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
