//! The sync driver loop: runs a machine's statements on one connection, counting, tracing and
//! echoing each with why it ran.

use std::fmt;

use super::Conn;
use crate::io::{Failure, Machine, Outcome, Run, StatementLog, Work};
use crate::value::ValueRef;

/// Runs `machine` to its end on `conn`: the whole of relata's sync IO. The async loop is this
/// loop with `.await` on `perform` (see ARCHITECTURE.md).
pub(crate) fn drive(
    conn: &mut dyn Conn,
    machine: &mut dyn Machine,
    log: &mut StatementLog,
    echo: bool,
) {
    while let Some(work) = machine.next() {
        note(&work, log, echo);
        let outcome = perform(conn, work);
        machine.done(outcome);
    }
}

/// Runs one statement.
fn perform(conn: &mut dyn Conn, work: Work<'_>) -> Outcome {
    let sql = work.sql;
    let done = match work.run {
        Run::Batch => conn.batch(sql).map(|()| 0),
        Run::Execute(params) => conn.execute(sql, params),
        Run::Insert {
            params, rows, keys, ..
        } => conn.insert(sql, params, rows, keys).map(|()| 0),
        Run::InsertArrays {
            params,
            width,
            keys,
            ..
        } => conn.insert_arrays(sql, width, params, keys).map(|()| 0),
        Run::Each { params, width, out } => {
            return conn
                .execute_each(sql, width, params, out)
                .map(|()| 0)
                .map_err(|(row, error)| {
                    Box::new(Failure {
                        error,
                        row: Some(row),
                    })
                })
        }
        Run::Query { params, rows } => conn
            .query(sql, &params.to_refs(), &mut |row| rows.row(row))
            .map(|()| 0),
    };
    done.map_err(Box::<Failure>::from)
}

/// Counts, records, traces and echoes a statement. A statement run once per row counts as one a
/// row, and is traced and echoed once with its rows.
fn note(work: &Work<'_>, log: &mut StatementLog, echo: bool) {
    let (why, sql) = (work.why, work.sql);
    match &work.run {
        Run::Each { params, width, .. } => {
            let shown = RowParams(params, *width);
            let rows = params.len() / (*width).max(1);
            log.note(why, sql, rows);
            tracing::debug!(target: "relata::sql", %why, rows, params = %shown, "{sql}");
            if echo {
                print_echo(sql, &shown);
            }
        }
        Run::InsertArrays { params, width, .. } => {
            shown(why, sql, &RowParams(params, *width), log, echo)
        }
        Run::Batch => shown(why, sql, &Params(&[]), log, echo),
        Run::Execute(params) | Run::Insert { params, .. } => {
            shown(why, sql, &Params(params), log, echo)
        }
        Run::Query { params, .. } => shown(why, sql, &QueryParams(*params), log, echo),
    }
}

/// Counts, records, traces and echoes one statement, with its parameters as `params` shows them.
fn shown(
    why: &dyn fmt::Display,
    sql: &str,
    params: &dyn fmt::Display,
    log: &mut StatementLog,
    echo: bool,
) {
    log.note(why, sql, 1);
    tracing::debug!(target: "relata::sql", %why, %params, "{sql}");
    if echo {
        print_echo(sql, params);
    }
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

/// Displays a query's parameters as [`Params`] does, without collecting them first (a query's
/// parameters may be owned values; the display costs nothing unless someone looks).
struct QueryParams<'a>(crate::io::Params<'a>);

impl fmt::Display for QueryParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            crate::io::Params::Refs(p) => Params(p).fmt(f),
            crate::io::Params::Values(p) => {
                let refs: Vec<ValueRef<'_>> = p.iter().map(|v| v.as_ref()).collect();
                Params(&refs).fmt(f)
            }
        }
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
fn print_echo(sql: &str, params: &dyn fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "[relata] {sql} {params}");
}
