//! Opening a database and the work a [`Database`] does itself: the top layer, above both the
//! core (`session/`, `flush/`, `sql/`, ...) and `backend/`. It opens the backend's pool by URL,
//! hands out sessions, and runs `create_all` and `execute_batch` as machines on a connection of
//! their own.

use crate::backend;
use crate::error::{Error, Result};
use crate::io::{
    Connection, Control, Database, Machine, Params, Reader, Reads, StatementLog, Statements,
    TableNames,
};
use crate::schema::Schema;
use crate::session::Session;
use crate::sql::Dialect;
use crate::value::RowSource;

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
        Ok(Database::with_engine(backend::open(url)?))
    }

    /// A database handle that never connects: sessions on it can build objects and links and
    /// show what a commit would run (`Session::pending_statements`) in `dialect`, and
    /// [`Schema::ddl`] works as usual, but anything that needs the database fails with
    /// `Error::Connect`.
    pub fn offline(dialect: &'static dyn Dialect) -> Database {
        Database::with_engine(backend::offline(dialect))
    }

    /// A new session on this database.
    pub fn session(&self) -> Session {
        Session::new(self.clone())
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
        self.set_table_names(None);
        let mut conn = self.engine.checkout()?;
        let existing = self
            .read(
                &mut *conn,
                "create_all: existing tables",
                d.existing_tables_and_indexes(),
                TableNames::default(),
            )?
            .0;
        if wanted.iter().all(|name| existing.contains(name)) {
            return Ok(());
        }
        let lock = d.schema_lock();
        let created = self.create_locked(&mut *conn, lock.as_ref(), statements);
        if let Some(release) = lock.and_then(|l| l.release) {
            // Released whatever happened; a connection that cannot run it is broken and closed,
            // which releases the lock too.
            let _ = self.read(
                &mut *conn,
                "create_all: unlock the schema",
                release,
                Granted::default(),
            );
        }
        created
    }

    /// Creates the schema's objects in one transaction, under `lock` where the dialect has one.
    fn create_locked(
        &self,
        conn: &mut dyn Connection,
        lock: Option<&crate::sql::SchemaLock>,
        statements: Vec<String>,
    ) -> Result<()> {
        self.control(conn, "begin", self.dialect().begin())?;
        let created = (|| {
            if let Some(lock) = lock {
                let granted = self.read(
                    conn,
                    "create_all: lock the schema",
                    lock.acquire,
                    Granted::default(),
                )?;
                if lock.granted_reads_one && !granted.0 {
                    return Err(Error::Busy {
                        driver: None,
                        message: "another connection kept the schema locked for 30 s while creating tables".into(),
                    });
                }
            }
            let mut ddl = Control::new(
                "create_all",
                statements.into_iter().map(Into::into).collect(),
            );
            self.run(conn, &mut ddl);
            ddl.finish()?;
            self.control(conn, "commit", "COMMIT")
        })();
        if created.is_err() {
            let _ = self.control(conn, "rollback", "ROLLBACK");
        }
        created
    }

    /// Runs one statement without parameters on `conn`.
    fn control(&self, conn: &mut dyn Connection, why: &str, sql: &str) -> Result<()> {
        let mut control = Control::new(why, vec![sql.into()]);
        self.run(conn, &mut control);
        control.finish()
    }

    /// Runs a query without parameters on `conn`, its rows to `reader`.
    fn read<R: Reader>(
        &self,
        conn: &mut dyn Connection,
        why: &str,
        sql: &str,
        reader: R,
    ) -> Result<R> {
        let mut reads = Reads::new(&why, Statements::One(sql, Params::Values(&[])), reader);
        self.run(conn, &mut reads);
        reads.finish()
    }

    /// Runs a machine on `conn`, on a log of its own (no session counts these statements).
    fn run(&self, conn: &mut dyn Connection, machine: &mut dyn Machine) {
        conn.drive(machine, &mut StatementLog::default(), self.engine.echo());
    }

    /// Runs SQL that takes no parameters, as given (for example a migration). relata itself never
    /// needs this; values must never be spliced into the text.
    ///
    /// Each call borrows a connection from the pool and returns it afterwards; a transaction the
    /// SQL leaves open is rolled back then, so it cannot leak into the next user of the
    /// connection. To hold a transaction across calls, use `Session::transaction`.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        self.set_table_names(None);
        let mut conn = self.engine.checkout()?;
        self.control(&mut *conn, "execute_batch", sql)
    }
}

/// The names in the first column of a catalog query's rows.
/// Whether a lock query answered 1 (granted).
#[derive(Default)]
struct Granted(bool);

impl Reader for Granted {
    fn row(&mut self, _statement: usize, row: &dyn RowSource) -> Result<()> {
        self.0 |= matches!(row.get_i64(0), Ok(Some(1)));
        Ok(())
    }
}
