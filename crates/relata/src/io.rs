//! The one seam between relata's core and a database connection.
//!
//! Everything that talks to a database (a commit, a query, a collection load, the start and end
//! of a transaction block) is a [`Machine`]: a value that does no IO, hands out the next
//! statement to run as a [`Work`], and takes back what running it gave (an [`Outcome`]: a count
//! of changed rows, generated keys, rows fed to its [`RowSink`], or the error). A driver loop
//! runs machines: the sync one is `backend::runner::drive`, a dozen lines; an async one would be
//! the same loop with `.await` on each statement (see ARCHITECTURE.md). Rendering the SQL a
//! commit would run (`Session::pending_statements`) is a third loop, [`render`], which answers
//! every statement itself, with no connection at all.
//!
//! Nothing here imports `backend/`: the backend implements [`Engine`] (where connections come
//! from) and [`Connection`] (one checked-out connection, which runs machines).

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::sql::Dialect;
use crate::value::{RowSource, Value, ValueRef};

/// One statement a machine wants run, with where its results go.
pub(crate) struct Work<'a> {
    /// Why it runs (`commit: insert students`), for query budgets, tracing and echo.
    pub why: &'a dyn fmt::Display,
    /// The SQL text.
    pub sql: &'a str,
    /// How to run it, with its parameters and where its results go.
    pub run: Run<'a>,
}

/// How a [`Work`] runs.
pub(crate) enum Run<'a> {
    /// Statements that take no parameters (transaction control, DDL). The outcome is 0.
    Batch,
    /// One statement; the outcome is the number of rows it changed.
    Execute(&'a [ValueRef<'a>]),
    /// An `INSERT` of `rows` rows into a table with a generated key: the generated keys are
    /// appended, in row order, to `keys`.
    Insert {
        /// The parameters of every row, row after row.
        params: &'a [ValueRef<'a>],
        /// How many rows.
        rows: usize,
        /// The table it inserts into.
        table: &'a str,
        /// Where the generated keys go.
        keys: &'a mut Vec<i64>,
    },
    /// An `INSERT` that binds one array per column (where [`Capabilities::insert_arrays`](crate::sql::Capabilities::insert_arrays) says so):
    /// parameter `c` is the array of every row's `c`th value. With `keys`, the statement
    /// returns the generated keys, appended in row order.
    InsertArrays {
        /// The parameters of every row, row after row (`width` a row).
        params: &'a [ValueRef<'a>],
        /// Parameters a row.
        width: usize,
        /// The table it inserts into.
        table: &'a str,
        /// Where the generated keys go, if the statement returns them.
        keys: Option<&'a mut Vec<i64>>,
    },
    /// A one-row statement run once for each row of `params` (`width` values a row), on one
    /// prepared statement where the backend can. A failure names the row in
    /// [`Failure::row`].
    Each {
        /// The parameters of every row, row after row.
        params: &'a [ValueRef<'a>],
        /// Parameters a row.
        width: usize,
        /// What to report of each row.
        out: Each<'a>,
    },
    /// A query: each row goes to `rows`.
    Query {
        /// Its parameters.
        params: Params<'a>,
        /// Where the rows go.
        rows: &'a mut dyn RowSink,
    },
}

/// A query's parameters, borrowed as the machine holds them.
#[derive(Clone, Copy)]
pub(crate) enum Params<'a> {
    /// Borrowed values (a commit's, read from the session's objects).
    Refs(&'a [ValueRef<'a>]),
    /// Owned values (a query's, built with its filter).
    Values(&'a [Value]),
}

impl<'a> Params<'a> {
    /// The parameters as borrowed values, for a driver.
    pub fn to_refs(self) -> Vec<ValueRef<'a>> {
        match self {
            Params::Refs(p) => p.to_vec(),
            Params::Values(p) => p.iter().map(Value::as_ref).collect(),
        }
    }
}

/// What [`Run::Each`] reports of each row it ran.
pub(crate) enum Each<'a> {
    /// Nothing.
    Nothing,
    /// The key the database generated for the row's insert into `table`.
    Keys {
        /// The table.
        table: &'a str,
        /// Where the keys go.
        keys: &'a mut Vec<i64>,
    },
    /// How many rows the row's statement changed (a delete checked for stale pairs).
    Changed(&'a mut Vec<u64>),
}

/// Where a query's rows go.
pub(crate) trait RowSink {
    /// Takes one row; an error stops the query and becomes its outcome.
    fn row(&mut self, row: &dyn RowSource) -> Result<()>;
}

/// A failed statement: the error and, for [`Run::Each`], the index of the row that failed.
#[derive(Debug)]
pub(crate) struct Failure {
    /// What went wrong.
    pub error: Error,
    /// The row of a [`Run::Each`] that failed.
    pub row: Option<usize>,
}

impl From<Error> for Box<Failure> {
    fn from(error: Error) -> Self {
        Box::new(Failure { error, row: None })
    }
}

/// What running a [`Work`] gave: the rows it changed (for [`Run::Execute`]; 0 otherwise; keys
/// and rows went where the work said), or the failure (boxed: failures are rare, and an
/// `Outcome` is moved once a statement).
pub(crate) type Outcome = std::result::Result<u64, Box<Failure>>;

/// Work with the database as a state machine: no IO of its own. A driver loop asks for the
/// next statement, runs it, and hands back its outcome, until `next` says there is no more;
/// the machine's own methods then give its result.
pub(crate) trait Machine {
    /// The next statement to run, or `None` when the machine is finished.
    fn next(&mut self) -> Option<Work<'_>>;
    /// The outcome of the statement `next` handed out last.
    fn done(&mut self, outcome: Outcome);
}

/// Statements a session ran: a count, and while a query budget is active, a description of each.
#[derive(Debug, Default)]
pub(crate) struct StatementLog {
    pub count: u64,
    pub recording: Option<Vec<String>>,
}

impl StatementLog {
    /// Counts `rows` statements of `why` (a [`Run::Each`] counts one a row).
    pub fn note(&mut self, why: &dyn fmt::Display, sql: &str, rows: usize) {
        self.count += rows as u64;
        if let Some(rec) = &mut self.recording {
            rec.extend((0..rows).map(|_| format!("{why}: {sql}")));
        }
    }
}

/// Where a database's connections come from: the backend's pool, or nothing at all for an
/// offline database. A [`Database`] is a handle to one.
pub(crate) trait Engine: Send + Sync {
    /// The dialect its SQL must be written in.
    fn dialect(&self) -> &'static dyn Dialect;
    /// The URL it was opened with, any password masked.
    fn url(&self) -> &str;
    /// Whether statements are echoed to stderr.
    fn echo(&self) -> bool;
    /// Turns echo on or off.
    fn set_echo(&self, on: bool);
    /// A connection of its own, until dropped (then it goes back to the pool, rolled back first
    /// if a transaction is still open).
    fn checkout(&self) -> Result<Box<dyn Connection>>;
    /// Runs `machine` to its end on a connection borrowed for the call (what `checkout` and
    /// `Connection::drive` do, without boxing the connection: most statements outside a
    /// transaction block run this way).
    fn drive(&self, machine: &mut dyn Machine, log: &mut StatementLog, echo: bool) -> Result<()> {
        self.checkout()?.drive(machine, log, echo);
        Ok(())
    }
}

/// One connection, checked out of an [`Engine`].
pub(crate) trait Connection: Send {
    /// Runs `machine` to its end: the driver loop. Every statement is counted in `log`, traced,
    /// and echoed if `echo`.
    fn drive(&mut self, machine: &mut dyn Machine, log: &mut StatementLog, echo: bool);
    /// Whether a transaction is (or may be) open on it.
    fn in_transaction(&self) -> bool;
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
    pub(crate) engine: Arc<dyn Engine>,
    /// The database's table names, read once when a commit first needs them (to know which
    /// association tables to clear of a deleted object's pairs); forgotten by `create_all` and
    /// `execute_batch`, which may change them.
    pub(crate) tables: Arc<std::sync::Mutex<Option<Arc<TableNames>>>>,
}

/// The names of a database's tables (and indexes), as its catalog lists them.
#[derive(Debug, Default)]
pub(crate) struct TableNames(pub std::collections::HashSet<String>);

impl Reader for TableNames {
    fn row(&mut self, _statement: usize, row: &dyn RowSource) -> Result<()> {
        if let Ok(Some(name)) = row.get_text(0) {
            self.0.insert(name);
        }
        Ok(())
    }
}

impl Database {
    /// A handle on `engine`.
    pub(crate) fn with_engine(engine: Arc<dyn Engine>) -> Database {
        Database {
            engine,
            tables: Arc::default(),
        }
    }

    /// The table names, if read already.
    pub(crate) fn table_names(&self) -> Option<Arc<TableNames>> {
        self.tables.lock().map_or(None, |t| t.clone())
    }

    /// Keeps the table names read from the catalog, or forgets them (`None`).
    pub(crate) fn set_table_names(&self, names: Option<TableNames>) {
        if let Ok(mut t) = self.tables.lock() {
            *t = names.map(Arc::new);
        }
    }

    /// The URL it was opened with (any password masked).
    pub fn url(&self) -> &str {
        self.engine.url()
    }

    /// The SQL dialect of its backend.
    pub fn dialect(&self) -> &'static dyn Dialect {
        self.engine.dialect()
    }

    /// Prints every statement, with its parameters, to stderr (like SQLAlchemy's `echo=True`).
    /// Statements are also always emitted as `tracing` events at DEBUG level under the target
    /// `relata::sql`, whether or not echo is on.
    pub fn set_echo(&self, on: bool) {
        self.engine.set_echo(on);
    }

    /// Runs `machine` on a connection of its own (borrowed from the pool for the call), or on
    /// `pinned` (a transaction block's).
    pub(crate) fn drive(
        &self,
        pinned: Option<&mut Box<dyn Connection>>,
        machine: &mut dyn Machine,
        log: &mut StatementLog,
    ) -> Result<()> {
        let echo = self.engine.echo();
        match pinned {
            Some(conn) => conn.drive(machine, log, echo),
            None => return self.engine.drive(machine, log, echo),
        }
        Ok(())
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.engine.url())
            .field("dialect", &self.engine.dialect().name())
            .finish()
    }
}

/// One statement with parameters, run for the number of rows it changed (raw SQL's
/// `Session::execute`).
pub(crate) struct Exec<'a> {
    why: &'a dyn fmt::Display,
    sql: &'a str,
    params: Vec<ValueRef<'a>>,
    issued: bool,
    result: Result<u64>,
}

impl<'a> Exec<'a> {
    /// `sql` with `params`, run for `why`.
    pub fn new(why: &'a dyn fmt::Display, sql: &'a str, params: &'a [Value]) -> Self {
        Exec {
            why,
            sql,
            params: params.iter().map(Value::as_ref).collect(),
            issued: false,
            result: Ok(0),
        }
    }

    /// The rows it changed, or why it failed.
    pub fn finish(self) -> Result<u64> {
        self.result
    }
}

impl Machine for Exec<'_> {
    fn next(&mut self) -> Option<Work<'_>> {
        if std::mem::replace(&mut self.issued, true) {
            return None;
        }
        Some(Work {
            why: self.why,
            sql: self.sql,
            run: Run::Execute(&self.params),
        })
    }

    fn done(&mut self, outcome: Outcome) {
        self.result = outcome.map_err(|f| f.error);
    }
}

/// Runs statements that take no parameters, in order, stopping at the first failure
/// (transaction control: `BEGIN`, `COMMIT`, `ROLLBACK`).
pub(crate) struct Control<'a> {
    why: &'a str,
    statements: Vec<std::borrow::Cow<'a, str>>,
    next: usize,
    /// The first failure, if any (a `COMMIT` lost with its connection says the outcome is
    /// unknown).
    result: Result<()>,
}

impl<'a> Control<'a> {
    /// `statements`, run for `why`.
    pub fn new(why: &'a str, statements: Vec<std::borrow::Cow<'a, str>>) -> Self {
        Control {
            why,
            statements,
            next: 0,
            result: Ok(()),
        }
    }

    /// Whether every statement ran.
    pub fn finish(self) -> Result<()> {
        self.result
    }
}

impl Machine for Control<'_> {
    fn next(&mut self) -> Option<Work<'_>> {
        if self.result.is_err() {
            return None;
        }
        let sql = self.statements.get(self.next)?;
        self.next += 1;
        Some(Work {
            why: &self.why,
            sql,
            run: Run::Batch,
        })
    }

    fn done(&mut self, outcome: Outcome) {
        if let Err(f) = outcome {
            let commit = self.statements[self.next - 1].eq_ignore_ascii_case("COMMIT");
            self.result = Err(if commit { in_commit(f.error) } else { f.error });
        }
    }
}

/// What a [`Reads`] machine does with the rows of its statements.
pub(crate) trait Reader {
    /// Takes a row of statement `statement` (0 for the first).
    fn row(&mut self, statement: usize, row: &dyn RowSource) -> Result<()>;
    /// Whether statement `statement` (after the first) still needs to run.
    fn wants(&self, statement: usize) -> bool {
        let _ = statement;
        true
    }
}

/// Queries run in order, their rows handed to a [`Reader`]: every read of a session (a query, a
/// count, a lazy or an eager load) is one.
pub(crate) struct Reads<'a, R> {
    why: &'a dyn fmt::Display,
    statements: Statements<'a>,
    next: usize,
    sink: At<R>,
    result: Result<()>,
}

/// A read's statements with their parameters: one (most reads, kept inline) or several.
pub(crate) enum Statements<'a> {
    /// One statement.
    One(&'a str, Params<'a>),
    /// Several, run in order.
    Many(Vec<(&'a str, Params<'a>)>),
}

impl<'a> Statements<'a> {
    fn get(&self, i: usize) -> Option<(&'a str, Params<'a>)> {
        match self {
            Statements::One(sql, params) => (i == 0).then_some((*sql, *params)),
            Statements::Many(v) => v.get(i).copied(),
        }
    }
}

/// A reader and the statement whose rows it is taking.
struct At<R> {
    statement: usize,
    reader: R,
}

impl<R: Reader> RowSink for At<R> {
    fn row(&mut self, row: &dyn RowSource) -> Result<()> {
        self.reader.row(self.statement, row)
    }
}

impl<'a, R: Reader> Reads<'a, R> {
    /// `statements`, each with its parameters, run for `why`.
    pub fn new(why: &'a dyn fmt::Display, statements: Statements<'a>, reader: R) -> Self {
        Reads {
            why,
            statements,
            next: 0,
            sink: At {
                statement: 0,
                reader,
            },
            result: Ok(()),
        }
    }

    /// The reader, once every statement ran; or the first error.
    pub fn finish(self) -> Result<R> {
        self.result.map(|()| self.sink.reader)
    }
}

impl<R: Reader> Machine for Reads<'_, R> {
    fn next(&mut self) -> Option<Work<'_>> {
        let i = self.next;
        if self.result.is_err() || (i > 0 && !self.sink.reader.wants(i)) {
            return None;
        }
        let (sql, params) = self.statements.get(i)?;
        self.next += 1;
        self.sink.statement = i;
        Some(Work {
            why: self.why,
            sql,
            run: Run::Query {
                params,
                rows: &mut self.sink,
            },
        })
    }

    fn done(&mut self, outcome: Outcome) {
        if let Err(f) = outcome {
            self.result = Err(f.error);
        }
    }
}

/// A connection lost during `COMMIT` leaves the outcome unknown: the error says so.
pub(crate) fn in_commit(mut e: Error) -> Error {
    if let Error::ConnectionLost { in_commit, .. } = &mut e {
        *in_commit = true;
    }
    e
}

/// Renders every statement `machine` hands out, with its parameters, answering each as a fresh
/// database would: nothing read, nothing changed, and generated keys numbered from 1 in each
/// table. No connection is involved.
pub(crate) fn render(machine: &mut dyn Machine) -> Vec<String> {
    let mut lines = Vec::new();
    let mut next: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    let mut number = |table: &str, rows: usize, keys: &mut Vec<i64>| {
        let next = next.entry(table.to_owned()).or_insert(1);
        keys.extend(*next..*next + rows as i64);
        *next += rows as i64;
    };
    while let Some(work) = machine.next() {
        let sql = work.sql;
        let line = |params: &[ValueRef<'_>]| {
            if params.is_empty() {
                sql.to_owned()
            } else {
                let shown: Vec<String> = params.iter().map(|p| p.to_string()).collect();
                format!("{sql} -- [{}]", shown.join(", "))
            }
        };
        match work.run {
            Run::Batch => lines.push(line(&[])),
            Run::Execute(params) => lines.push(line(params)),
            Run::Insert {
                params,
                rows,
                table,
                keys,
            } => {
                lines.push(line(params));
                number(table, rows, keys);
            }
            Run::InsertArrays {
                params,
                width,
                table,
                keys,
            } => {
                lines.push(line(params));
                if let Some(keys) = keys {
                    number(table, params.len() / width.max(1), keys);
                }
            }
            Run::Each { params, width, out } => {
                let rows = params.chunks(width.max(1));
                let count = rows.len();
                lines.extend(rows.map(line));
                match out {
                    Each::Keys { table, keys } => number(table, count, keys),
                    Each::Changed(changed) => changed.extend((0..count).map(|_| 0)),
                    Each::Nothing => {}
                }
            }
            Run::Query { params, .. } => lines.push(line(&params.to_refs())),
        }
        machine.done(Ok(0));
    }
    lines
}
