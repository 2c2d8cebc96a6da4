//! Running a plan, as a state machine with no IO ([`io::Machine`]): it hands out each batch of
//! statements of the plan in order, takes back their outcome (generated keys, changed rows, rows
//! read back, the error), and decides what comes next: the next batch, the statements that find
//! the row a database rejected, the check that pairs it saw are still there, the `COMMIT`, or
//! the `ROLLBACK`. The same machine is driven against a connection (`backend`) and against
//! nothing at all (`io::render`, for `Session::pending_statements`).

use std::borrow::Cow;
use std::fmt;

use super::diagnose::{
    describe_pairs, missing_parents, name_referenced, pair_row, with_row, with_table, IdPairs,
};
use super::plan::{End, Plan, Step, View};
use super::{Generated, Verify};
use crate::error::{ConstraintKind, Error, Result};
use crate::io::{self, Each, Failure, Outcome, Params, RowSink, Run, Work};
use crate::relation::AssocDef;
use crate::sql::{self, Dialect};
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
    /// The writes only (rendering them).
    None,
}

/// Where the commit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Begin,
    Steps,
    Commit,
    Rollback,
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
enum Read {
    /// Nothing (advancing a key generator).
    Nothing,
    /// The pairs a `DELETE ... RETURNING` removed.
    Pairs(IdPairs),
    /// Whether a row came back (a parent looked for).
    Found(bool),
}

impl RowSink for Read {
    fn row(&mut self, row: &dyn RowSource) -> Result<()> {
        match self {
            Read::Nothing => {}
            Read::Pairs(pairs) => {
                let read = |i| row.get_i64(i).ok().flatten().unwrap_or(i64::MIN);
                pairs.insert((read(0), read(1)));
            }
            Read::Found(found) => *found = true,
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
    /// Deletes of pairs the session saw, each checked.
    UnlinkChecked,
    /// Deletes of pairs, or of objects: nothing read back.
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
    values: Vec<Value>,
    /// Keys generated for the current step (or its explicit ids), and rows changed per row.
    keys: Vec<i64>,
    changed: Vec<u64>,
    read: Read,
    /// A checked unlink's pairs found gone, or in batches one or more of whose pairs were (no
    /// `RETURNING`), and the rows it matched.
    gone: Vec<(i64, i64)>,
    unsure: Vec<(i64, i64)>,
    matched: u64,
    diagnosis: Option<Diagnosis>,
    parents: Option<Parents>,
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
        let analyze = if d.analyze_after_bulk_load() && !matches!(tx, Tx::None) {
            super::plan::bulk_loaded(plan, view)
        } else {
            Vec::new()
        };
        let phase = match tx {
            Tx::Own(_) => Phase::Begin,
            _ => Phase::Steps,
        };
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
            values: Vec::new(),
            keys: Vec::new(),
            changed: Vec::new(),
            read: Read::Nothing,
            gone: Vec::new(),
            unsure: Vec::new(),
            matched: 0,
            diagnosis: None,
            parents: None,
            gen: Generated::default(),
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

    fn shape(&self, step: &Step) -> Shape {
        let d = self.d;
        let deletes = d.max_batch_rows().min(DELETE_BATCH_ROWS);
        match step {
            Step::Insert {
                store,
                slots,
                with_id,
            } => {
                let table = self.view.store(*store).table();
                let width = table.columns.len() + usize::from(*with_id);
                let per = if width == 0 {
                    1
                } else if *with_id {
                    sql::insert_rows_per_statement(d, width, d.max_batch_rows())
                } else {
                    sql::insert_rows_per_statement(d, width, d.max_generated_key_rows())
                };
                Shape {
                    count: slots.len(),
                    width,
                    per,
                    table: table.name,
                    kind: Kind::Insert { keys: !with_id },
                }
            }
            Step::Update { store, .. } => Shape {
                count: 1,
                width: 0,
                per: 1,
                table: self.view.store(*store).table().name,
                kind: Kind::Update,
            },
            Step::Unlink {
                links,
                pairs,
                checked,
            } => Shape {
                count: pairs.len(),
                width: 2,
                per: sql::rows_per_statement(d, 2, deletes),
                table: self.view.links(*links).def.table,
                kind: if *checked && self.verify == Verify::Outcomes {
                    Kind::UnlinkChecked
                } else {
                    Kind::Delete
                },
            },
            Step::Link { links, pairs, .. } => Shape {
                count: pairs.len(),
                width: 2,
                per: sql::insert_rows_per_statement(d, 2, d.max_batch_rows()),
                table: self.view.links(*links).def.table,
                kind: Kind::Link,
            },
            Step::Delete { store, ids } => Shape {
                count: ids.len(),
                width: 1,
                per: sql::rows_per_statement(d, 1, deletes),
                table: self.view.store(*store).table().name,
                kind: Kind::Delete,
            },
        }
    }

    /// The statement of `step` for `n` rows.
    fn render(&self, step: &Step, n: usize) -> String {
        let d = self.d;
        match step {
            Step::Insert { store, with_id, .. } => {
                sql::insert(d, self.view.store(*store).table(), *with_id, n)
            }
            Step::Update { store, columns, .. } => {
                sql::update(d, self.view.store(*store).table(), columns)
            }
            Step::Unlink { links, .. } => {
                // A checked unlink of several pairs a statement reads back which it deleted.
                let returning = self
                    .shape
                    .is_some_and(|s| s.kind == Kind::UnlinkChecked && s.per > 1)
                    && d.returning();
                sql::delete_pairs(d, self.view.links(*links).def, n, returning)
            }
            Step::Link {
                links,
                skip_present,
                ..
            } => sql::insert_pairs(d, self.view.links(*links).def, n, *skip_present),
            Step::Delete { store, .. } => {
                sql::delete_objects(d, self.view.store(*store).table(), n)
            }
        }
    }

    /// The key an end of a pair has: its id, or the one this commit generated.
    fn resolve(&self, end: End) -> Result<i64> {
        match end {
            End::Id(id) => Ok(id),
            End::New { store, slot } => self.gen.get(store, slot).ok_or_else(|| {
                Error::InvalidKey {
                    message: format!(
                        "{} has no key to link with: it was not inserted before its links (a bug in relata's plan; please report it)",
                        self.view.store(store).describe(slot)
                    ),
                }
            }),
        }
    }

    /// Appends the parameters of row `i` of `step`.
    fn fill(&self, step: &Step, i: usize, params: &mut Vec<ValueRef<'v>>) -> Result<()> {
        match step {
            Step::Insert {
                store,
                slots,
                with_id,
            } => {
                let store = self.view.store(*store);
                let slot = slots[i];
                if *with_id {
                    params.push(ValueRef::Integer(
                        store.requested_id(slot).expect("planned with id"),
                    ));
                }
                params.extend((0..store.table().columns.len()).map(|c| store.value(slot, c)));
            }
            Step::Update {
                store,
                slot,
                id,
                columns,
            } => {
                let store = self.view.store(*store);
                params.extend(columns.iter().map(|&c| store.value(*slot, c)));
                params.push(ValueRef::Integer(*id));
            }
            Step::Unlink { pairs, .. } => {
                params.extend([ValueRef::Integer(pairs[i].0), ValueRef::Integer(pairs[i].1)]);
            }
            Step::Link { pairs, .. } => {
                let (l, r) = pairs[i];
                params.extend([
                    ValueRef::Integer(self.resolve(l)?),
                    ValueRef::Integer(self.resolve(r)?),
                ]);
            }
            Step::Delete { ids, .. } => params.push(ValueRef::Integer(ids[i])),
        }
        Ok(())
    }

    /// Row `i` of `step` for a message.
    fn describe(&self, step: &Step, i: usize, row: &[ValueRef<'_>]) -> String {
        match step {
            Step::Insert { store, slots, .. } => self.view.store(*store).describe(slots[i]),
            Step::Update { store, slot, .. } => self.view.store(*store).describe(*slot),
            Step::Unlink { links, .. } | Step::Link { links, .. } => {
                pair_row(self.view.links(*links).def, row)
            }
            Step::Delete { store, ids } => {
                let table = self.view.store(*store).table();
                format!("{}({} = {})", table.name, table.primary_key, ids[i])
            }
        }
    }

    fn why_of(&self, step: &Step, table: &'static str) -> Why {
        match step {
            Step::Insert { .. } => Why::Insert(table),
            Step::Update { .. } => Why::Update(table),
            Step::Unlink { .. } => Why::Unlink(table),
            Step::Link { .. } => Why::Link(table),
            Step::Delete { .. } => Why::Delete(table),
        }
    }

    fn def(&self) -> &'v AssocDef {
        match &self.plan.steps[self.step] {
            Step::Unlink { links, .. } | Step::Link { links, .. } => self.view.links(*links).def,
            _ => unreachable!("only pair steps have an association"),
        }
    }

    /// Readies the next statement of the plan's steps; `false` when every step is done (or the
    /// commit failed).
    fn step_work(&mut self) -> bool {
        if self.diagnosis.is_some() {
            return self.diagnosis_work();
        }
        if self.parents.is_some() {
            return self.parent_work();
        }
        let plan = self.plan;
        loop {
            if self.error.is_some() {
                return false;
            }
            let Some(step) = plan.steps.get(self.step) else {
                return false;
            };
            let shape = match self.shape {
                Some(shape) => shape,
                None => {
                    let shape = self.shape(step);
                    self.shape = Some(shape);
                    self.pos = 0;
                    self.keys.clear();
                    self.gone.clear();
                    self.unsure.clear();
                    self.matched = 0;
                    self.awaiting = Awaiting::Nothing;
                    self.why = self.why_of(step, shape.table);
                    self.full = self.render(step, shape.per);
                    shape
                }
            };
            if self.pos < shape.count {
                return self.rows_work(step, shape);
            }
            if self.end_of_step(step, shape) {
                return true;
            }
        }
    }

    /// Readies the statement for the next rows of `step`.
    fn rows_work(&mut self, step: &'v Step, shape: Shape) -> bool {
        let start = self.pos;
        let each = shape.per == 1 && shape.kind != Kind::Update;
        let n = if each {
            EACH_BATCH.min(shape.count - start)
        } else {
            shape.per.min(shape.count - start)
        };
        let mut params = std::mem::take(&mut self.params);
        params.clear();
        let filled = (start..start + n).try_for_each(|i| self.fill(step, i, &mut params));
        self.params = params;
        if let Err(e) = filled {
            self.fail(e);
            return false;
        }
        self.why = self.why_of(step, shape.table);
        self.awaiting = Awaiting::Rows { start, n };
        self.text = if each || n == shape.per {
            Text::Full
        } else {
            self.sql = self.render(step, n);
            Text::Own
        };
        self.pending = if shape.kind == Kind::Update {
            Pending::Execute(0, self.params.len())
        } else if each {
            Pending::Each(
                shape.width,
                match shape.kind {
                    Kind::Insert { keys: true } => EachOut::Keys,
                    Kind::UnlinkChecked => {
                        self.changed.clear();
                        EachOut::Changed
                    }
                    _ => EachOut::Nothing,
                },
            )
        } else {
            match shape.kind {
                Kind::Insert { keys } if self.d.insert_arrays() && n > 1 => {
                    Pending::InsertArrays(shape.width, keys)
                }
                Kind::Link if self.d.insert_arrays() && n > 1 => {
                    Pending::InsertArrays(shape.width, false)
                }
                Kind::Insert { keys: true } => Pending::Insert(n),
                Kind::UnlinkChecked if self.d.returning() => {
                    self.read = Read::Pairs(IdPairs::default());
                    Pending::Query { owned: false }
                }
                _ => Pending::Execute(0, self.params.len()),
            }
        };
        true
    }

    /// What follows the last rows of a step: advancing the key generator past explicit ids,
    /// recording generated keys, the verdict on checked unlinks. `true`: a statement is ready;
    /// `false`: on to the next step (or the commit failed).
    fn end_of_step(&mut self, step: &Step, shape: Shape) -> bool {
        match (step, shape.kind) {
            (Step::Insert { store, slots, .. }, Kind::Insert { keys }) => {
                let store_slot = *store;
                let store = self.view.store(store_slot);
                if !keys && self.awaiting != Awaiting::Advance {
                    self.keys.clear();
                    self.keys.extend(
                        slots
                            .iter()
                            .map(|&s| store.requested_id(s).expect("planned with id")),
                    );
                    if let (Some(sql), Some(&max)) =
                        (self.d.advance_key_generator(), self.keys.iter().max())
                    {
                        let table = store.table();
                        let mut quoted = String::new();
                        self.d.quote(&mut quoted, table.name);
                        self.values = vec![
                            Value::Text(quoted),
                            Value::Text(table.primary_key.to_owned()),
                            Value::Integer(max),
                        ];
                        self.why = Why::Advance(table.name);
                        self.awaiting = Awaiting::Advance;
                        self.read = Read::Nothing;
                        self.pending = Pending::Query { owned: true };
                        self.text = Text::Fixed(sql);
                        return true;
                    }
                }
                if self.keys.len() != slots.len() {
                    self.fail(Error::Database {
                        message: format!(
                            "expected {} generated keys from the inserts into {} but got {}",
                            slots.len(),
                            shape.table,
                            self.keys.len()
                        ),
                        sql: Some(self.full.clone()),
                    });
                    return false;
                }
                for (&slot, &id) in slots.iter().zip(&self.keys) {
                    self.gen.set(store_slot, store.len(), slot, id);
                }
            }
            (Step::Unlink { pairs, .. }, Kind::UnlinkChecked)
                if !(self.gone.is_empty() && self.unsure.is_empty()) =>
            {
                let def = self.def();
                let key = if self.unsure.is_empty() {
                    describe_pairs(def, &self.gone)
                } else {
                    format!(
                        "one or more of {} (the database does not say which)",
                        describe_pairs(def, &self.unsure)
                    )
                };
                self.fail(Error::Stale {
                    statement: "DELETE",
                    table: def.table.to_owned(),
                    key,
                    expected: pairs.len() as u64,
                    matched: self.matched,
                });
                return false;
            }
            _ => {}
        }
        self.step += 1;
        self.shape = None;
        self.awaiting = Awaiting::Nothing;
        false
    }

    /// Takes the outcome of rows `start..start + n` of the current step.
    fn rows_done(&mut self, start: usize, n: usize, outcome: Outcome) {
        let step = &self.plan.steps[self.step];
        let shape = self.shape.expect("a step is under way");
        match outcome {
            Ok(changed) => {
                self.pos = start + n;
                if shape.kind == Kind::UnlinkChecked {
                    let Step::Unlink { pairs, .. } = step else {
                        unreachable!("checked unlinks are unlink steps")
                    };
                    let chunk = &pairs[start..start + n];
                    if shape.per == 1 {
                        for (&pair, &c) in chunk.iter().zip(&self.changed) {
                            self.matched += c;
                            if c == 0 {
                                self.gone.push(pair);
                            }
                        }
                    } else if let Read::Pairs(deleted) = &self.read {
                        self.matched += deleted.len() as u64;
                        self.gone
                            .extend(chunk.iter().filter(|p| !deleted.contains(p)));
                    } else {
                        self.matched += changed;
                        if (changed as usize) < chunk.len() {
                            self.unsure.extend_from_slice(chunk);
                        }
                    }
                }
            }
            Err(Failure { error, row }) => {
                if shape.kind == Kind::UnlinkChecked {
                    return self.fail(error);
                }
                if shape.per == 1 || shape.kind == Kind::Update {
                    // One statement a row: the driver says which row failed.
                    let i = row.unwrap_or(0);
                    let w = shape.width;
                    let error = if shape.kind == Kind::Update {
                        with_row(error, shape.table, || self.describe(step, 0, &[]))
                    } else {
                        let values = &self.params[i * w..(i + 1) * w];
                        with_row(error, shape.table, || {
                            self.describe(step, start + i, values)
                        })
                    };
                    return self.rejected(error, Some(start + i));
                }
                self.diagnose(error, start, n);
            }
        }
    }

    /// A multi-row statement failed: on a constraint, find the row at fault by retrying the rows
    /// one at a time inside a savepoint that is rolled back afterwards (the transaction is rolled
    /// back anyway).
    fn diagnose(&mut self, error: Error, start: usize, n: usize) {
        if !matches!(error, Error::Constraint { .. }) {
            return self.rejected(error, None);
        }
        let shape = self.shape.expect("a step is under way");
        if n == 1 {
            let step = &self.plan.steps[self.step];
            let e = with_row(error, shape.table, || {
                self.describe(step, start, &self.params[..shape.width])
            });
            return self.rejected(e, Some(start));
        }
        if !self.d.continues_after_error() {
            // PostgreSQL's message names the offending key itself.
            let e = with_table(error, shape.table);
            return self.rejected(e, None);
        }
        self.diagnosis = Some(Diagnosis {
            error,
            start,
            n,
            found: None,
            unwind: &["ROLLBACK TO relata_diagnose", "RELEASE relata_diagnose"],
        });
        self.awaiting = Awaiting::Nothing;
    }

    /// Readies the next statement of a diagnosis: the savepoint, each row alone until one is
    /// rejected, then the rollback to the savepoint and its release. At the end the failure is
    /// named and the commit fails (or looks for a missing parent first).
    fn diagnosis_work(&mut self) -> bool {
        let shape = self.shape.expect("a step is under way");
        let w = shape.width;
        let diag = self.diagnosis.as_mut().expect("diagnosing");
        self.why = Why::Diagnose;
        self.pending = Pending::Batch;
        match self.awaiting {
            Awaiting::Nothing => {
                self.awaiting = Awaiting::Savepoint;
                self.text = Text::Fixed("SAVEPOINT relata_diagnose");
                return true;
            }
            Awaiting::Savepoint | Awaiting::Retry(_) if diag.found.is_none() => {
                let i = match self.awaiting {
                    Awaiting::Retry(i) => i + 1,
                    _ => 0,
                };
                if i < diag.n {
                    if i == 0 {
                        self.sql = self.render(&self.plan.steps[self.step], 1);
                    }
                    self.awaiting = Awaiting::Retry(i);
                    self.pending = Pending::Execute(i * w, (i + 1) * w);
                    self.text = Text::Own;
                    return true;
                }
            }
            _ => {}
        }
        if let Some((first, rest)) = diag.unwind.split_first() {
            diag.unwind = rest;
            self.awaiting = Awaiting::Unwind;
            self.text = Text::Fixed(first);
            return true;
        }
        let diag = self.diagnosis.take().expect("diagnosing");
        let (error, row) = match diag.found {
            Some((e, i)) => (e, Some(diag.start + i)),
            // Not reproducible row by row: the rows conflict with each other, not with the
            // table.
            None => (
                with_row(diag.error, shape.table, || {
                    "two rows of one batch".to_owned()
                }),
                None,
            ),
        };
        self.rejected(error, row);
        self.parents.is_some() && self.parent_work()
    }

    fn diagnosis_done(&mut self, outcome: Outcome) {
        let diag = self.diagnosis.as_mut().expect("diagnosing");
        match (self.awaiting, outcome) {
            (Awaiting::Savepoint, Err(_)) => {
                let diag = self.diagnosis.take().expect("diagnosing");
                let shape = self.shape.expect("a step is under way");
                let e = with_table(diag.error, shape.table);
                self.rejected(e, None);
            }
            (Awaiting::Retry(i), Err(Failure { error, .. })) => {
                if matches!(error, Error::Constraint { .. }) {
                    let shape = self.shape.expect("a step is under way");
                    let step = &self.plan.steps[self.step];
                    let w = shape.width;
                    let row = &self.params[i * w..(i + 1) * w];
                    let start = diag.start;
                    let e = with_row(error, shape.table, || self.describe(step, start + i, row));
                    self.diagnosis.as_mut().expect("diagnosing").found = Some((e, i));
                }
            }
            // The retries that pass, and the unwinding (whose failure adds nothing).
            _ => {}
        }
    }

    /// A write was rejected with `error` (at `row` of the step, if known): for an association
    /// row whose parent is missing, find which; otherwise the commit fails.
    fn rejected(&mut self, error: Error, row: Option<usize>) {
        let step = &self.plan.steps[self.step];
        let Step::Link { pairs, .. } = step else {
            return self.fail(error);
        };
        if !matches!(
            error,
            Error::Constraint {
                kind: ConstraintKind::ForeignKey,
                ..
            }
        ) {
            return self.fail(error);
        }
        let def = self.def();
        let error = match name_referenced(error, def) {
            Ok(named) => return self.fail(named),
            Err(e) => e,
        };
        let pair = row.and_then(|i| {
            Some((
                self.resolve(pairs[i].0).ok()?,
                self.resolve(pairs[i].1).ok()?,
            ))
        });
        match pair {
            Some(pair) => {
                self.parents = Some(Parents {
                    error,
                    pair,
                    missing: Vec::new(),
                });
                self.awaiting = Awaiting::Nothing;
            }
            None => self.fail(error),
        }
    }

    /// Readies the look for the next parent of a rejected pair; after both, the commit fails
    /// with the foreign key named.
    fn parent_work(&mut self) -> bool {
        let side = match self.awaiting {
            Awaiting::Parent(side) => side + 1,
            _ => 0,
        };
        let def = self.def();
        if side == 2 {
            let parents = self.parents.take().expect("looking for parents");
            let e = missing_parents(parents.error, def, parents.missing);
            self.fail(e);
            return false;
        }
        let pair = self.parents.as_ref().expect("looking for parents").pair;
        let (assoc_side, id) = if side == 0 {
            (&def.left, pair.0)
        } else {
            (&def.right, pair.1)
        };
        self.sql = sql::exists_by_id(self.d, assoc_side.table);
        self.values = vec![Value::Integer(id)];
        self.read = Read::Found(false);
        self.why = Why::Diagnose;
        self.awaiting = Awaiting::Parent(side);
        self.pending = Pending::Query { owned: true };
        self.text = Text::Own;
        true
    }

    fn parent_done(&mut self, side: usize, outcome: Outcome) {
        let def = self.def();
        let parents = self.parents.as_mut().expect("looking for parents");
        let found = matches!(self.read, Read::Found(true));
        if outcome.is_ok() && !found {
            let (s, id) = if side == 0 {
                (&def.left, parents.pair.0)
            } else {
                (&def.right, parents.pair.1)
            };
            parents.missing.push(format!(
                "{}.{} = {id} references {}.{}, which has no such row",
                def.table, s.column, s.table.name, s.table.primary_key
            ));
        }
    }
}

impl io::Machine for Commit<'_> {
    fn next(&mut self) -> Option<Work<'_>> {
        loop {
            let ready = match self.phase {
                Phase::Begin => {
                    let Tx::Own(begin) = &self.tx else {
                        unreachable!("only an own transaction begins")
                    };
                    self.sql = begin.to_string();
                    self.control(Why::Begin, Text::Own)
                }
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
                Phase::Commit => self.control(Why::Commit, Text::Fixed("COMMIT")),
                Phase::Rollback => self.control(Why::Rollback, Text::Fixed("ROLLBACK")),
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
            Phase::Rollback | Phase::Analyze => self.phase = self.after_end(),
            Phase::Reopen => {
                self.reopened = outcome.is_ok();
                self.phase = Phase::Finished;
            }
            Phase::Finished => {}
        }
    }
}
