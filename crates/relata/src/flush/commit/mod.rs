//! Running a plan, as a state machine with no IO ([`io::Machine`]): it hands out each batch of
//! statements of the plan in order, takes back their outcome (generated keys, changed rows, rows
//! read back, the error), and decides what comes next: the next batch, the statements that find
//! the row a database rejected, the check that pairs it saw are still there, the `COMMIT`, or
//! the `ROLLBACK`. The same machine is driven against a connection (`backend`) and against
//! nothing at all (`io::render`, for `Session::pending_statements`).

use std::borrow::Cow;
use std::fmt;

mod failure;
mod rows;
mod values;

use super::diagnose::{
    describe_pairs, missing_parents, name_referenced, pair_row, with_row, with_table, IdPairs,
};
use super::plan::{End, Plan, Step, View};
use super::{Generated, Verify};
use crate::error::{ConstraintKind, Error, Result};
use crate::hash::IdSet;
use crate::io::{self, Each, Failure, Outcome, Params, RowSink, Run, Work};
use crate::relation::{AssocDef, AssocSide, Side};
use crate::session::AnyStore;
use crate::sql::{self, Dialect, Param, Write};
use crate::value::{RowSource, Value, ValueRef};

/// The most rows one batched `DELETE` names, whatever the dialect's batch size: each row is an
/// arm of the `WHERE` that the server plans (PostgreSQL: a bitmap OR of index scans), so longer
/// lists cost more to plan than their round trips save (measured on the bench's W5, 1,000 unlinks
/// a commit: 6.0 s at 256 rows a statement, 8.1 s at 1,000).
const DELETE_BATCH_ROWS: usize = 256;

/// Rows a one-row statement runs for in one call on dialects that write a row per statement:
/// bounds the parameter buffer while keeping calls few.
const EACH_BATCH: usize = 1024;

/// How a commit's transaction begins and ends.
pub(crate) enum Tx {
    /// `BEGIN` before the writes, `COMMIT` after, `ROLLBACK` if anything fails.
    Own(Cow<'static, str>),
    /// Inside a transaction block, whose transaction is open: the writes, `COMMIT` (or
    /// `ROLLBACK`), then the block's next transaction begins with `reopen`, if given.
    Block { reopen: Option<Cow<'static, str>> },
    /// A flush inside a transaction block: the writes between `SAVEPOINT` and `RELEASE`; if
    /// anything fails, `ROLLBACK TO` the savepoint undoes them and the block's transaction goes
    /// on.
    Savepoint,
    /// The writes only (rendering them).
    None,
}

/// The savepoint a flush writes in.
const FLUSH_SAVEPOINT: &str = "relata_flush";

/// Where the commit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Begin,
    Steps,
    Commit,
    Rollback,
    /// Releasing a flush's savepoint after rolling back to it.
    Release,
    Analyze,
    Reopen,
    Finished,
}

/// What the statement handed out last was, so its outcome can be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    Nothing,
    Control,
    /// Rows `start..start + n` of the current step.
    Rows {
        start: usize,
        n: usize,
    },
    /// The key generator of the current step's table, after inserts with explicit ids.
    Advance,
    /// A savepoint before retrying a failed batch row by row.
    Savepoint,
    /// Row `i` of the failed batch, alone.
    Retry(usize),
    /// Undoing the retries.
    Unwind,
    /// Whether the parent at `side` (0 left, 1 right) of a rejected pair exists.
    Parent(usize),
    /// Which foreign keys reference the table of a delete they blocked.
    Referrers,
}

/// A failed batch being narrowed down to its row.
struct Diagnosis {
    /// The batch's error.
    error: Error,
    /// The batch's first row (within the step) and its number of rows.
    start: usize,
    n: usize,
    /// What the row-by-row retries found.
    found: Option<(Error, usize)>,
    /// The rollback to the savepoint and its release, still to run.
    unwind: &'static [&'static str],
}

/// A rejected association row whose missing parent is being looked for.
struct Parents {
    error: Error,
    pair: (i64, i64),
    missing: Vec<String>,
}

/// Why a statement runs, shown in query budgets, traces and echo.
#[derive(Debug, Clone, Copy)]
enum Why {
    Begin,
    Commit,
    Rollback,
    Savepoint,
    Release,
    RollbackTo,
    Statistics,
    Diagnose,
    Insert(&'static str),
    Advance(&'static str),
    Update(&'static str),
    Unlink(&'static str),
    Link(&'static str),
    Delete(&'static str),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Begin => f.write_str("begin"),
            Why::Commit => f.write_str("commit"),
            Why::Rollback => f.write_str("rollback"),
            Why::Savepoint => f.write_str("flush: savepoint"),
            Why::Release => f.write_str("flush: release savepoint"),
            Why::RollbackTo => f.write_str("flush: rollback to savepoint"),
            Why::Statistics => f.write_str("statistics after a bulk load"),
            Why::Diagnose => f.write_str("diagnose"),
            Why::Insert(t) => write!(f, "commit: insert {t}"),
            Why::Advance(t) => write!(f, "commit: advance {t}'s key generator"),
            Why::Update(t) => write!(f, "commit: update {t}"),
            Why::Unlink(t) => write!(f, "commit: unlink {t}"),
            Why::Link(t) => write!(f, "commit: link {t}"),
            Why::Delete(t) => write!(f, "commit: delete {t}"),
        }
    }
}

/// What a query of the commit reads back.
enum Read<'v> {
    /// Nothing (advancing a key generator).
    Nothing,
    /// The pairs a `DELETE ... RETURNING` removed, read by the stores of their ends.
    Pairs(IdPairs, [&'v dyn AnyStore; 2]),
    /// The keys a `DELETE ... RETURNING` removed, read by their model's store.
    Keys(IdSet, &'v dyn AnyStore),
    /// Whether a row came back (a parent looked for).
    Found(bool),
    /// The foreign keys referencing a table: (table, column) pairs.
    Referrers(Vec<(String, String)>),
}

impl RowSink for Read<'_> {
    fn row(&mut self, row: &dyn RowSource) -> Result<()> {
        match self {
            Read::Nothing => {}
            // A key the session never saw cannot be one it deleted.
            Read::Pairs(pairs, ends) => {
                let read = |i: usize| ends[i].find_key(row, i).ok().flatten().unwrap_or(i64::MIN);
                pairs.insert((read(0), read(1)));
            }
            Read::Keys(keys, store) => {
                keys.insert(store.find_key(row, 0).ok().flatten().unwrap_or(i64::MIN))
            }
            Read::Found(found) => *found = true,
            Read::Referrers(found) => {
                let text = |i| row.get_text(i).ok().flatten().unwrap_or_default();
                found.push((text(0), text(1)));
            }
        }
        Ok(())
    }
}

/// The statement handed out next, described by the machine's buffers.
#[derive(Debug, Clone, Copy)]
enum Pending {
    /// `sql` with no parameters.
    Batch,
    /// `sql` with `params[range]`.
    Execute(usize, usize),
    /// `sql` once for each row of `params` (`width` a row).
    Each(usize, EachOut),
    /// `sql` inserting `rows` rows of `params`, the generated keys to `keys`.
    Insert(usize),
    /// `sql` binding arrays of `params` (`width` a row), the keys to `keys` if asked.
    InsertArrays(usize, bool),
    /// `sql` as a query of `params` (`values` if `owned`), rows to `read`.
    Query { owned: bool },
}

#[derive(Debug, Clone, Copy)]
enum EachOut {
    Nothing,
    Keys,
    Changed,
}

/// Which text a statement runs.
#[derive(Debug, Clone, Copy)]
enum Text {
    /// `full`: the step's statement of `per` rows.
    Full,
    /// `sql`: one made for this statement.
    Own,
    /// Fixed text.
    Fixed(&'static str),
}

/// The rows of one step: how many, their width in parameters, how many one statement carries,
/// their table (for messages), and what kind of write they are.
#[derive(Debug, Clone, Copy)]
struct Shape {
    count: usize,
    width: usize,
    per: usize,
    table: &'static str,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Inserts; `keys`: the database generates them.
    Insert {
        keys: bool,
    },
    Update,
    /// Deletes of rows the session saw (objects, and pairs a loaded collection held), each
    /// checked: a row gone is `Error::Stale`.
    Checked,
    /// Deletes of pairs the session never saw: nothing read back.
    Delete,
    Link,
}

/// A commit: the plan's statements between `BEGIN` and `COMMIT`, as a [`io::Machine`].
pub(crate) struct Commit<'v> {
    plan: &'v Plan,
    view: View<'v>,
    d: &'static dyn Dialect,
    verify: Verify,
    tx: Tx,
    /// The tables to refresh statistics of after the commit.
    analyze: Vec<&'static str>,
    phase: Phase,
    awaiting: Awaiting,
    why: Why,
    /// The current step and its shape.
    step: usize,
    shape: Option<Shape>,
    /// The next row of the current step.
    pos: usize,
    /// The statement of `shape.per` rows (most batches), and one made for a single statement.
    full: String,
    sql: String,
    /// What the next statement is.
    pending: Pending,
    text: Text,
    params: Vec<ValueRef<'v>>,
    /// The current step's row layout: which value goes to each parameter of a row.
    layout: Vec<Param>,
    values: Vec<Value>,
    /// Keys generated for the current step (or its explicit ids), and rows changed per row.
    keys: Vec<i64>,
    changed: Vec<u64>,
    read: Read<'v>,
    /// A checked delete's rows (indexes in the step) found gone, or in batches one or more of
    /// whose rows were (no `RETURNING`), and the rows it matched.
    gone: Vec<usize>,
    unsure: Vec<usize>,
    matched: u64,
    diagnosis: Option<Diagnosis>,
    parents: Option<Parents>,
    /// A delete's foreign key error, while the keys referencing its table are looked up.
    referrers: Option<Error>,
    gen: Generated,
    error: Option<Error>,
    reopened: bool,
}

impl<'v> Commit<'v> {
    /// A commit of `plan`, read from `view`, in `d`'s SQL.
    pub fn new(
        plan: &'v Plan,
        view: View<'v>,
        d: &'static dyn Dialect,
        verify: Verify,
        tx: Tx,
    ) -> Self {
        let analyze = if d.capabilities().analyze_after_bulk_load && matches!(tx, Tx::Own(_)) {
            super::plan::bulk_loaded(plan, view)
        } else {
            Vec::new()
        };
        let phase = match tx {
            Tx::Own(_) | Tx::Savepoint => Phase::Begin,
            _ => Phase::Steps,
        };
        // A row switch's new object has its key already: its pairs are written with it.
        let mut gen = Generated::default();
        for s in &plan.switches {
            gen.set(s.store, view.store(s.store).len(), s.slot, s.id);
        }
        Commit {
            plan,
            view,
            d,
            verify,
            tx,
            analyze,
            phase,
            awaiting: Awaiting::Nothing,
            why: Why::Begin,
            step: 0,
            shape: None,
            pos: 0,
            full: String::new(),
            sql: String::new(),
            pending: Pending::Batch,
            text: Text::Own,
            params: Vec::new(),
            layout: Vec::new(),
            values: Vec::new(),
            keys: Vec::new(),
            changed: Vec::new(),
            read: Read::Nothing,
            gone: Vec::new(),
            unsure: Vec::new(),
            matched: 0,
            diagnosis: None,
            parents: None,
            referrers: None,
            gen,
            error: None,
            reopened: true,
        }
    }

    /// The keys the commit generated, or why it failed (then it was rolled back).
    pub fn finish(self) -> Result<Generated> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.gen),
        }
    }

    /// Whether a block's next transaction began (`false`: the block goes on without one).
    pub fn reopened(&self) -> bool {
        self.reopened
    }

    /// The statement described by `pending`, `text` and `why`, borrowing the buffers.
    fn issue(&mut self) -> Work<'_> {
        let sql: &str = match self.text {
            Text::Full => &self.full,
            Text::Own => &self.sql,
            Text::Fixed(sql) => sql,
        };
        let table = self.shape.map_or("", |s| s.table);
        let run = match self.pending {
            Pending::Batch => Run::Batch,
            Pending::Execute(start, end) => Run::Execute(&self.params[start..end]),
            Pending::Each(width, out) => Run::Each {
                params: &self.params,
                width,
                out: match out {
                    EachOut::Nothing => Each::Nothing,
                    EachOut::Keys => Each::Keys {
                        table,
                        keys: &mut self.keys,
                    },
                    EachOut::Changed => Each::Changed(&mut self.changed),
                },
            },
            Pending::Insert(rows) => Run::Insert {
                params: &self.params,
                rows,
                table,
                keys: &mut self.keys,
            },
            Pending::InsertArrays(width, keys) => Run::InsertArrays {
                params: &self.params,
                width,
                table,
                keys: keys.then_some(&mut self.keys),
            },
            Pending::Query { owned } => Run::Query {
                params: if owned {
                    Params::Values(&self.values)
                } else {
                    Params::Refs(&self.params)
                },
                rows: &mut self.read,
            },
        };
        Work {
            why: &self.why,
            sql,
            run,
        }
    }

    /// Readies a statement without parameters.
    fn control(&mut self, why: Why, sql: Text) -> bool {
        self.why = why;
        self.awaiting = Awaiting::Control;
        self.pending = Pending::Batch;
        self.text = sql;
        true
    }

    /// Stops the writes with `e`: the transaction is rolled back.
    fn fail(&mut self, e: Error) {
        self.error = Some(e);
        self.diagnosis = None;
        self.parents = None;
        self.referrers = None;
        self.phase = match self.tx {
            Tx::None => Phase::Finished,
            _ => Phase::Rollback,
        };
    }

    /// The phase after the transaction ended.
    fn after_end(&self) -> Phase {
        match self.tx {
            Tx::Block { reopen: Some(_) } => Phase::Reopen,
            _ => Phase::Finished,
        }
    }
}

impl io::Machine for Commit<'_> {
    fn next(&mut self) -> Option<Work<'_>> {
        loop {
            let ready = match self.phase {
                Phase::Begin => match &self.tx {
                    Tx::Own(begin) => {
                        self.sql = begin.to_string();
                        self.control(Why::Begin, Text::Own)
                    }
                    _ => {
                        self.sql = format!("SAVEPOINT {FLUSH_SAVEPOINT}");
                        self.control(Why::Savepoint, Text::Own)
                    }
                },
                Phase::Steps => {
                    let ready = self.step_work();
                    if !ready && self.phase == Phase::Steps {
                        self.phase = match self.tx {
                            Tx::None => Phase::Finished,
                            _ => Phase::Commit,
                        };
                    }
                    ready
                }
                Phase::Commit if matches!(self.tx, Tx::Savepoint) => {
                    self.sql = format!("RELEASE SAVEPOINT {FLUSH_SAVEPOINT}");
                    self.control(Why::Release, Text::Own)
                }
                Phase::Commit => self.control(Why::Commit, Text::Fixed("COMMIT")),
                Phase::Rollback if matches!(self.tx, Tx::Savepoint) => {
                    self.sql = format!("ROLLBACK TO SAVEPOINT {FLUSH_SAVEPOINT}");
                    self.control(Why::RollbackTo, Text::Own)
                }
                Phase::Rollback => self.control(Why::Rollback, Text::Fixed("ROLLBACK")),
                Phase::Release => {
                    self.sql = format!("RELEASE SAVEPOINT {FLUSH_SAVEPOINT}");
                    self.control(Why::Release, Text::Own)
                }
                Phase::Analyze if self.analyze.is_empty() => {
                    self.phase = self.after_end();
                    false
                }
                Phase::Analyze => {
                    self.sql = sql::analyze(self.d, &self.analyze);
                    self.control(Why::Statistics, Text::Own)
                }
                Phase::Reopen => {
                    let Tx::Block {
                        reopen: Some(begin),
                    } = &self.tx
                    else {
                        unreachable!("only a block reopens")
                    };
                    self.sql = begin.to_string();
                    self.control(Why::Begin, Text::Own)
                }
                Phase::Finished => return None,
            };
            if ready {
                return Some(self.issue());
            }
        }
    }

    fn done(&mut self, outcome: Outcome) {
        match self.phase {
            Phase::Begin => match outcome {
                Ok(_) => self.phase = Phase::Steps,
                Err(f) => {
                    // Nothing began, so nothing is rolled back.
                    self.error = Some(f.error);
                    self.phase = Phase::Finished;
                }
            },
            Phase::Steps => match self.awaiting {
                Awaiting::Rows { start, n } => self.rows_done(start, n, outcome),
                Awaiting::Advance => {
                    if let Err(f) = outcome {
                        self.fail(f.error);
                    }
                }
                Awaiting::Savepoint | Awaiting::Retry(_) | Awaiting::Unwind => {
                    self.diagnosis_done(outcome)
                }
                Awaiting::Parent(side) => self.parent_done(side, outcome),
                Awaiting::Referrers => self.referrers_done(outcome),
                Awaiting::Nothing | Awaiting::Control => {}
            },
            Phase::Commit => match outcome {
                Ok(_) => self.phase = Phase::Analyze,
                Err(f) => {
                    self.error = Some(io::in_commit(f.error));
                    self.phase = Phase::Rollback;
                }
            },
            // The error that matters is the first one; a failed ROLLBACK (there may be no
            // transaction left to roll back) adds nothing. Statistics are an optimisation: a
            // failure (such as not owning the table) changes nothing.
            Phase::Rollback if matches!(self.tx, Tx::Savepoint) => self.phase = Phase::Release,
            Phase::Rollback | Phase::Release | Phase::Analyze => self.phase = self.after_end(),
            Phase::Reopen => {
                self.reopened = outcome.is_ok();
                self.phase = Phase::Finished;
            }
            Phase::Finished => {}
        }
    }
}
