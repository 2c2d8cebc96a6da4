//! The unit of work. [`plan`] turns session state into a [`Plan`] (data, no IO): inserts in
//! dependency order, updates of changed columns, association deletes and inserts, then deletes in
//! reverse order. [`execute`] runs a plan through a `Runner` (any backend), filling generated keys
//! into the association rows that need them; [`apply`] moves the session to the committed state
//! only after the transaction succeeded, so a failed commit leaves the session untouched.

use std::collections::HashMap;

use crate::backend::{Conn, Each, Runner, StatementLog};
use crate::error::{ConstraintKind, Error, Result};
use crate::relation::AssocDef;
use crate::session::{AnyStore, LinkOp, LinkSet, State};
use crate::sql::{self, Dialect};
use crate::toposort::toposort;
use crate::value::{RowSource, Value, ValueRef};

/// Read access to the session's state for planning and executing.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub stores: &'a [Option<Box<dyn AnyStore>>],
    pub store_order: &'a [usize],
    pub links: &'a [Option<LinkSet>],
    pub link_order: &'a [usize],
}

impl View<'_> {
    fn store(&self, slot: usize) -> &dyn AnyStore {
        self.stores[slot].as_deref().expect("planned store exists")
    }
    fn links(&self, slot: usize) -> &LinkSet {
        self.links[slot].as_ref().expect("planned link set exists")
    }
}

/// One end of an association row: a known id, or the key an earlier insert of this plan generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Id(i64),
    New { store: usize, slot: u32 },
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Insert new objects (with the ids their users set, if `with_id`).
    Insert {
        store: usize,
        slots: Vec<u32>,
        with_id: bool,
    },
    /// Update the changed columns of one object.
    Update {
        store: usize,
        slot: u32,
        id: i64,
        columns: Vec<usize>,
    },
    /// Delete association rows. With `checked`, the session saw every pair in the database (a
    /// loaded collection held it), so each must still be there: a pair another session unlinked
    /// meanwhile is an `Error::Stale`, as SQLAlchemy's `StaleDataError`. Pairs the session never
    /// saw are deleted if present.
    Unlink {
        links: usize,
        pairs: Vec<(i64, i64)>,
        checked: bool,
    },
    /// Insert association rows. A pair the session knows is not in the database (a new object
    /// at either end, whose key this very commit generates, or a loaded collection without it)
    /// is a plain insert: should another session have linked it meanwhile, the primary key
    /// rejects it and the commit fails instead of reporting a link it did not make. A pair whose
    /// collections were never loaded skips a row already present (`skip_present`: linking is
    /// idempotent when the session cannot know), which costs PostgreSQL a speculative insertion
    /// per row (measured: 1M rows in 2.4 s plain, 5.4 s with `ON CONFLICT DO NOTHING`).
    Link {
        links: usize,
        pairs: Vec<(End, End)>,
        skip_present: bool,
    },
    /// Delete objects (their association rows go by cascade).
    Delete { store: usize, ids: Vec<i64> },
}

/// What a commit will do, in order: made by `Session::plan`, without IO.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub(crate) steps: Vec<Step>,
}

impl Plan {
    /// Whether the commit has nothing to write.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// How many steps (each a batch of one kind of statement on one table).
    pub fn len(&self) -> usize {
        self.steps.len()
    }
}

/// The rows one commit must insert into a table before a dialect that asks for it
/// ([`Dialect::analyze_after_bulk_load`]) refreshes the table's statistics after the commit.
pub(crate) const BULK_LOAD_ROWS: usize = 1_000;

/// The most rows one batched `DELETE` names, whatever the dialect's batch size: each row is an
/// arm of the `WHERE` that the server plans (PostgreSQL: a bitmap OR of index scans), so longer
/// lists cost more to plan than their round trips save (measured on the bench's W5, 1,000 unlinks
/// a commit: 6.0 s at 256 rows a statement, 8.1 s at 1,000).
const DELETE_BATCH_ROWS: usize = 256;

/// The tables `plan` inserts at least [`BULK_LOAD_ROWS`] rows into.
pub(crate) fn bulk_loaded(plan: &Plan, view: View<'_>) -> Vec<&'static str> {
    let mut rows: Vec<(&'static str, usize)> = Vec::new();
    for step in &plan.steps {
        let (table, n) = match step {
            Step::Insert { store, slots, .. } => (view.store(*store).table().name, slots.len()),
            Step::Link { links, pairs, .. } => (view.links(*links).def.table, pairs.len()),
            _ => continue,
        };
        match rows.iter_mut().find(|(t, _)| *t == table) {
            Some((_, total)) => *total += n,
            None => rows.push((table, n)),
        }
    }
    rows.into_iter()
        .filter(|&(_, n)| n >= BULK_LOAD_ROWS)
        .map(|(t, _)| t)
        .collect()
}

/// Orders the session's tables parents first: models before the associations that reference them
/// (ties in first-use order).
fn table_order(view: View<'_>) -> Vec<usize> {
    let slots = view.store_order;
    // Models have no foreign keys between them yet (one-to-many will add them).
    let order = toposort(slots.len(), |_| Vec::new()).expect("no edges, no cycle");
    order.into_iter().map(|i| slots[i]).collect()
}

/// Plans a commit.
pub(crate) fn plan(view: View<'_>) -> Result<Plan> {
    let mut steps = Vec::new();
    let order = table_order(view);
    for &st in &order {
        let store = view.store(st);
        let (mut plain, mut with_id) = (Vec::new(), Vec::new());
        for &slot in store.new_slots() {
            if store.state(slot) == State::New {
                if store.requested_id(slot).is_some() {
                    &mut with_id
                } else {
                    &mut plain
                }
                .push(slot);
            }
        }
        // Explicit ids first: generated keys then start past them (SQLite and MySQL take the
        // largest key, PostgreSQL's sequence is advanced), so the two never collide.
        if !with_id.is_empty() {
            steps.push(Step::Insert {
                store: st,
                slots: with_id,
                with_id: true,
            });
        }
        if !plain.is_empty() {
            steps.push(Step::Insert {
                store: st,
                slots: plain,
                with_id: false,
            });
        }
    }
    for &st in &order {
        let store = view.store(st);
        for &slot in store.dirty_slots() {
            if store.state(slot) != State::Persistent {
                continue;
            }
            store.check_key(slot)?;
            let columns = store.changed_columns(slot);
            if !columns.is_empty() {
                let id = store.id(slot).expect("persistent objects have ids");
                steps.push(Step::Update {
                    store: st,
                    slot,
                    id,
                    columns,
                });
            }
        }
    }
    for &ls in view.link_order {
        let links = view.links(ls);
        let (left, right) = (
            view.store((links.def.left.table.slot)()),
            view.store((links.def.right.table.slot)()),
        );
        let (left_slot, right_slot) = (
            (links.def.left.table.slot)(),
            (links.def.right.table.slot)(),
        );
        let (mut unlink, mut unlink_seen) = (Vec::new(), Vec::new());
        let (mut link, mut link_absent) = (Vec::new(), Vec::new());
        for p in links.live() {
            let (ls_, rs_) = (left.state(p.left), right.state(p.right));
            // A pair of an object being deleted goes with it (ON DELETE CASCADE).
            if ls_ == State::Deleted || rs_ == State::Deleted {
                continue;
            }
            match p.op {
                LinkOp::Remove => {
                    if let (Some(l), Some(r)) = (left.id(p.left), right.id(p.right)) {
                        if ls_ == State::Persistent && rs_ == State::Persistent {
                            if p.stored == Some(true) {
                                &mut unlink_seen
                            } else {
                                &mut unlink
                            }
                            .push((l, r));
                        }
                    }
                }
                LinkOp::Add => {
                    let end = |store: &dyn AnyStore, st: usize, slot: u32, state: State| {
                        match state {
                        State::New => Ok(End::New { store: st, slot }),
                        State::Persistent => Ok(End::Id(store.id(slot).expect("persistent"))),
                        _ => Err(Error::InvalidKey {
                            message: format!(
                                "cannot link {} ({}): it was deleted or rolled back; add it again first",
                                store.describe(slot),
                                links.def.table
                            ),
                        }),
                    }
                    };
                    let pair = (
                        end(left, left_slot, p.left, ls_)?,
                        end(right, right_slot, p.right, rs_)?,
                    );
                    let fresh =
                        matches!(pair.0, End::New { .. }) || matches!(pair.1, End::New { .. });
                    if fresh || p.stored == Some(false) {
                        &mut link_absent
                    } else {
                        &mut link
                    }
                    .push(pair);
                }
            }
        }
        for (pairs, checked) in [(unlink, false), (unlink_seen, true)] {
            if !pairs.is_empty() {
                steps.push(Step::Unlink {
                    links: ls,
                    pairs,
                    checked,
                });
            }
        }
        for (pairs, skip_present) in [(link, true), (link_absent, false)] {
            if !pairs.is_empty() {
                steps.push(Step::Link {
                    links: ls,
                    pairs,
                    skip_present,
                });
            }
        }
    }
    for &st in order.iter().rev() {
        let store = view.store(st);
        let ids: Vec<i64> = store
            .deleted_slots()
            .iter()
            .filter(|&&s| store.state(s) == State::Deleted)
            .filter_map(|&s| store.id(s))
            .collect();
        if !ids.is_empty() {
            steps.push(Step::Delete { store: st, ids });
        }
    }
    Ok(Plan { steps })
}

/// The keys generated by a plan's inserts: `ids[store][slot]` (dense: a flush that inserts most of
/// a store's objects would otherwise hash once per association row end).
#[derive(Debug, Default)]
pub(crate) struct Generated {
    ids: Vec<Vec<i64>>,
}

const NO_ID: i64 = i64::MIN;

impl Generated {
    fn set(&mut self, store: usize, len: usize, slot: u32, id: i64) {
        if self.ids.len() <= store {
            self.ids.resize_with(store + 1, Vec::new);
        }
        let v = &mut self.ids[store];
        if v.is_empty() {
            v.resize(len, NO_ID);
        }
        v[slot as usize] = id;
    }
    fn get(&self, store: usize, slot: u32) -> i64 {
        let id = self.ids[store][slot as usize];
        debug_assert_ne!(
            id, NO_ID,
            "the plan inserts parents before the pairs that use their keys"
        );
        id
    }
}

/// Rows a one-row statement runs for in one call on dialects that write a row per statement:
/// bounds the parameter buffer while keeping calls few.
const EACH_BATCH: usize = 1024;

/// Whether a run checks what the database reports against what the plan expects (the rows an
/// unlink matched); a rendering of pending statements, which has no database, does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verify {
    Outcomes,
    Nothing,
}

/// Runs a plan inside the caller's transaction; returns the generated keys.
pub(crate) fn execute(
    plan: &Plan,
    view: View<'_>,
    run: &mut Runner<'_>,
    verify: Verify,
) -> Result<Generated> {
    let d = run.dialect();
    let mut gen = Generated::default();
    let mut ids = Vec::new();
    for step in &plan.steps {
        match step {
            Step::Insert {
                store: st,
                slots,
                with_id,
            } => {
                let store = view.store(*st);
                let table = store.table();
                let width = table.columns.len() + usize::from(*with_id);
                let per = if width == 0 {
                    1
                } else if *with_id {
                    sql::insert_rows_per_statement(d, width, d.max_batch_rows())
                } else {
                    sql::insert_rows_per_statement(d, width, d.max_generated_key_rows())
                };
                ids.clear();
                let rows = Rows {
                    count: slots.len(),
                    width,
                    per,
                    table: table.name,
                    arrays: d.insert_arrays(),
                };
                rows.write(
                    run,
                    &format_args!("commit: insert {}", table.name),
                    |i, params| {
                        let slot = slots[i];
                        if *with_id {
                            params.push(ValueRef::Integer(
                                store.requested_id(slot).expect("planned with id"),
                            ));
                        }
                        params.extend((0..table.columns.len()).map(|c| store.value(slot, c)));
                    },
                    |n| sql::insert(d, table, *with_id, n),
                    (!*with_id).then_some(&mut ids),
                    |i, _| store.describe(slots[i]),
                )
                .map_err(|f| f.error)?;
                if *with_id {
                    ids.extend(
                        slots
                            .iter()
                            .map(|&s| store.requested_id(s).expect("planned with id")),
                    );
                    if let (Some(sql), Some(&max)) = (d.advance_key_generator(), ids.iter().max()) {
                        let mut quoted = String::new();
                        d.quote(&mut quoted, table.name);
                        run.query(
                            &format_args!("commit: advance {}'s key generator", table.name),
                            sql,
                            &[
                                Value::Text(quoted),
                                Value::Text(table.primary_key.to_owned()),
                                Value::Integer(max),
                            ],
                            &mut |_| Ok(()),
                        )?;
                    }
                }
                for (&slot, &id) in slots.iter().zip(&ids) {
                    gen.set(*st, store.len(), slot, id);
                }
            }
            Step::Update {
                store: st,
                slot,
                id,
                columns,
            } => {
                let store = view.store(*st);
                let table = store.table();
                let mut params: Vec<ValueRef<'_>> =
                    columns.iter().map(|&c| store.value(*slot, c)).collect();
                params.push(ValueRef::Integer(*id));
                let sql = sql::update(d, table, columns);
                run.execute(
                    &format_args!("commit: update {}", table.name),
                    &sql,
                    &params,
                )
                .map_err(|e| with_row(e, table.name, || store.describe(*slot)))?;
            }
            Step::Unlink {
                links,
                pairs,
                checked: true,
            } if verify == Verify::Outcomes => {
                unlink_checked(run, view.links(*links).def, pairs)?;
            }
            Step::Unlink { links, pairs, .. } => {
                let def = view.links(*links).def;
                let rows = Rows {
                    count: pairs.len(),
                    width: 2,
                    per: sql::rows_per_statement(d, 2, d.max_batch_rows().min(DELETE_BATCH_ROWS)),
                    table: def.table,
                    arrays: false,
                };
                rows.write(
                    run,
                    &format_args!("commit: unlink {}", def.table),
                    |i, params| {
                        params
                            .extend([ValueRef::Integer(pairs[i].0), ValueRef::Integer(pairs[i].1)])
                    },
                    |n| sql::delete_pairs(d, def, n, false),
                    None,
                    |_, row| pair_row(def, row),
                )
                .map_err(|f| f.error)?;
            }
            Step::Link {
                links,
                pairs,
                skip_present,
            } => {
                let def = view.links(*links).def;
                let resolve = |e: End| match e {
                    End::Id(id) => id,
                    End::New { store, slot } => gen.get(store, slot),
                };
                let per = sql::insert_rows_per_statement(d, 2, d.max_batch_rows());
                let rows = Rows {
                    count: pairs.len(),
                    width: 2,
                    per,
                    table: def.table,
                    arrays: d.insert_arrays(),
                };
                let written = rows.write(
                    run,
                    &format_args!("commit: link {}", def.table),
                    |i, params| {
                        let (l, r) = pairs[i];
                        params
                            .extend([ValueRef::Integer(resolve(l)), ValueRef::Integer(resolve(r))]);
                    },
                    |n| sql::insert_pairs(d, def, n, *skip_present),
                    None,
                    |_, row| pair_row(def, row),
                );
                if let Err(f) = written {
                    let culprit = f.row.map(|i| (resolve(pairs[i].0), resolve(pairs[i].1)));
                    return Err(name_missing_parent(f.error, run, def, culprit));
                }
            }
            Step::Delete {
                store: st,
                ids: del,
            } => {
                let table = view.store(*st).table();
                let per = sql::rows_per_statement(d, 1, d.max_batch_rows().min(DELETE_BATCH_ROWS));
                let rows = Rows {
                    count: del.len(),
                    width: 1,
                    per,
                    table: table.name,
                    arrays: false,
                };
                rows.write(
                    run,
                    &format_args!("commit: delete {}", table.name),
                    |i, params| params.push(ValueRef::Integer(del[i])),
                    |n| sql::delete_objects(d, table, n),
                    None,
                    |i, _| format!("{}({} = {})", table.name, table.primary_key, del[i]),
                )
                .map_err(|f| f.error)?;
            }
        }
    }
    Ok(gen)
}

/// Deletes pairs the session saw in the database, checking that each was still there: one row a
/// statement counts each row it changed; several a statement return the pairs they deleted
/// where the dialect has `RETURNING`, else only their number. A pair that was gone is an
/// `Error::Stale` naming it (the caller rolls the transaction back).
fn unlink_checked(run: &mut Runner<'_>, def: &AssocDef, pairs: &[(i64, i64)]) -> Result<()> {
    let d = run.dialect();
    let why = format_args!("commit: unlink {}", def.table);
    let per = sql::rows_per_statement(d, 2, d.max_batch_rows().min(DELETE_BATCH_ROWS));
    let mut params: Vec<ValueRef<'_>> = Vec::new();
    let fill = |params: &mut Vec<ValueRef<'_>>, chunk: &[(i64, i64)]| {
        params.clear();
        params.extend(
            chunk
                .iter()
                .flat_map(|&(l, r)| [ValueRef::Integer(l), ValueRef::Integer(r)]),
        );
    };
    // The pairs found gone, or (no RETURNING) batches one or more of whose pairs were.
    let mut gone: Vec<(i64, i64)> = Vec::new();
    let mut unsure: Vec<(i64, i64)> = Vec::new();
    let mut matched = 0u64;
    if per == 1 {
        let sql = sql::delete_pairs(d, def, 1, false);
        let mut changed = Vec::new();
        for chunk in pairs.chunks(EACH_BATCH) {
            fill(&mut params, chunk);
            changed.clear();
            run.execute_each(&why, &sql, 2, &params, Each::Changed(&mut changed))
                .map_err(|(_, e)| e)?;
            for (&pair, &n) in chunk.iter().zip(&changed) {
                matched += n;
                if n == 0 {
                    gone.push(pair);
                }
            }
        }
    } else {
        let full = sql::delete_pairs(d, def, per, d.returning());
        for chunk in pairs.chunks(per) {
            fill(&mut params, chunk);
            let partial;
            let sql = if chunk.len() == per {
                &full
            } else {
                partial = sql::delete_pairs(d, def, chunk.len(), d.returning());
                &partial
            };
            if d.returning() {
                let mut deleted = IdPairs::default();
                let values: Vec<Value> = params.iter().map(|v| v.to_owned()).collect();
                run.query(&why, sql, &values, &mut |row| {
                    let read = |i| row.get_i64(i).ok().flatten().unwrap_or(i64::MIN);
                    deleted.insert((read(0), read(1)));
                    Ok(())
                })?;
                matched += deleted.len() as u64;
                gone.extend(chunk.iter().filter(|p| !deleted.contains(p)));
            } else {
                let n = run.execute(&why, sql, &params)?;
                matched += n;
                if (n as usize) < chunk.len() {
                    unsure.extend_from_slice(chunk);
                }
            }
        }
    }
    if gone.is_empty() && unsure.is_empty() {
        return Ok(());
    }
    let key = if unsure.is_empty() {
        describe_pairs(def, &gone)
    } else {
        format!(
            "one or more of {} (the database does not say which)",
            describe_pairs(def, &unsure)
        )
    };
    Err(Error::Stale {
        statement: "DELETE",
        table: def.table.to_owned(),
        key,
        expected: pairs.len() as u64,
        matched,
    })
}

/// A set of pairs read back from the database.
type IdPairs =
    std::collections::HashSet<(i64, i64), std::hash::BuildHasherDefault<crate::hash::FxHasher>>;

/// Up to ten pairs for a message, `student_course(student_id = 1, course_id = 2), ...`.
fn describe_pairs(def: &AssocDef, pairs: &[(i64, i64)]) -> String {
    let mut shown: Vec<String> = pairs
        .iter()
        .take(10)
        .map(|&(l, r)| pair_row(def, &[ValueRef::Integer(l), ValueRef::Integer(r)]))
        .collect();
    if pairs.len() > 10 {
        shown.push(format!("and {} more", pairs.len() - 10));
    }
    shown.join(", ")
}

/// `student_course(student_id = 1, course_id = 2)` for messages.
fn pair_row(def: &AssocDef, row: &[ValueRef<'_>]) -> String {
    format!(
        "{}({} = {}, {} = {})",
        def.table, def.left.column, row[0], def.right.column, row[1]
    )
}

/// A failed write: the error (with its row filled in) and which row, when known.
struct Failed {
    error: Error,
    row: Option<usize>,
}

/// The rows of one step: how many, their width in parameters, how many one statement carries,
/// their table (for messages), and whether a statement of several rows binds one array per
/// column (an insert, where the dialect inserts from arrays).
struct Rows {
    count: usize,
    width: usize,
    per: usize,
    table: &'static str,
    arrays: bool,
}

impl Rows {
    /// Writes the rows: `fill(i, params)` appends row `i`'s values, `render(n)` is the statement
    /// for `n` rows. One row a statement runs on one prepared statement for each row; more make
    /// multi-row statements. Generated keys go to `ids` when given. A constraint failure names
    /// the row, `describe(i, values)`.
    #[allow(clippy::too_many_arguments)] // the closures are the step's own parts
    fn write<'v>(
        &self,
        run: &mut Runner<'_>,
        why: &dyn std::fmt::Display,
        mut fill: impl FnMut(usize, &mut Vec<ValueRef<'v>>),
        render: impl Fn(usize) -> String,
        mut ids: Option<&mut Vec<i64>>,
        describe: impl Fn(usize, &[ValueRef<'_>]) -> String,
    ) -> std::result::Result<(), Failed> {
        let width = self.width;
        let mut params: Vec<ValueRef<'v>> = Vec::new();
        if self.per == 1 {
            let sql = render(1);
            for start in (0..self.count).step_by(EACH_BATCH) {
                let end = (start + EACH_BATCH).min(self.count);
                params.clear();
                (start..end).for_each(|i| fill(i, &mut params));
                let each = match ids.as_deref_mut() {
                    Some(ids) => Each::Keys(ids),
                    None => Each::Nothing,
                };
                if let Err((i, e)) = run.execute_each(why, &sql, width, &params, each) {
                    let row = &params[i * width..(i + 1) * width];
                    return Err(Failed {
                        error: with_row(e, self.table, || describe(start + i, row)),
                        row: Some(start + i),
                    });
                }
            }
            return Ok(());
        }
        let full = render(self.per);
        for start in (0..self.count).step_by(self.per) {
            let n = self.per.min(self.count - start);
            params.clear();
            (start..start + n).for_each(|i| fill(i, &mut params));
            let partial;
            let sql = if n == self.per {
                &full
            } else {
                partial = render(n);
                &partial
            };
            let done = match ids.as_deref_mut() {
                _ if self.arrays && n > 1 => {
                    run.insert_arrays(why, sql, width, &params, ids.as_deref_mut())
                }
                Some(ids) => run.insert(why, sql, &params, n, ids),
                None => run.execute(why, sql, &params).map(drop),
            };
            if let Err(e) = done {
                let (error, row) =
                    diagnose(e, run, &render(1), n, width, &params, self.table, |i| {
                        describe(start + i, &params[i * width..(i + 1) * width])
                    });
                return Err(Failed {
                    error,
                    row: row.map(|i| start + i),
                });
            }
        }
        Ok(())
    }
}

/// Fills in the row of a constraint error from a one-row statement.
fn with_row(e: Error, table: &str, row: impl FnOnce() -> String) -> Error {
    match with_table(e, table) {
        Error::Constraint {
            kind,
            table,
            constraint,
            row: None,
            message,
        } => Error::Constraint {
            kind,
            table,
            constraint,
            row: Some(row()),
            message,
        },
        e => e,
    }
}

/// Fills in the table of a constraint error, and qualifies a bare column or key name with it
/// (MySQL names a column or key without its table).
fn with_table(e: Error, table: &str) -> Error {
    match e {
        Error::Constraint {
            kind,
            table: t,
            constraint,
            row,
            message,
        } => {
            let table = if t.is_empty() { table.to_owned() } else { t };
            let constraint = if constraint.is_empty() || constraint.contains('.') {
                constraint
            } else {
                format!("{table}.{constraint}")
            };
            Error::Constraint {
                kind,
                table,
                constraint,
                row,
                message,
            }
        }
        e => e,
    }
}

/// A multi-row statement failed on a constraint: find the row at fault by retrying the rows one
/// at a time (`single` is the one-row form of the statement) inside a savepoint that is rolled
/// back afterwards; the caller rolls back the whole transaction anyway.
#[allow(clippy::too_many_arguments)] // one call site per statement kind; a struct would only rename them
fn diagnose(
    e: Error,
    run: &mut Runner<'_>,
    single: &str,
    rows: usize,
    width: usize,
    params: &[ValueRef<'_>],
    table: &'static str,
    describe: impl Fn(usize) -> String,
) -> (Error, Option<usize>) {
    if !matches!(e, Error::Constraint { .. }) {
        return (e, None);
    }
    if rows == 1 {
        return (with_row(e, table, || describe(0)), Some(0));
    }
    if !run.dialect().continues_after_error()
        || run.batch(&"diagnose", "SAVEPOINT relata_diagnose").is_err()
    {
        // PostgreSQL's message names the offending key itself.
        return (with_table(e, table), None);
    }
    let mut found = None;
    for i in 0..rows {
        let one = &params[i * width..(i + 1) * width];
        if let Err(err @ Error::Constraint { .. }) = run.execute(&"diagnose", single, one) {
            found = Some((with_row(err, table, || describe(i)), Some(i)));
            break;
        }
    }
    let _ = run.batch(&"diagnose", "ROLLBACK TO relata_diagnose");
    let _ = run.batch(&"diagnose", "RELEASE relata_diagnose");
    found.unwrap_or_else(|| match e {
        // Not reproducible row by row: the rows conflict with each other, not with the table.
        Error::Constraint { row: None, .. } => (
            with_row(e, table, || "two rows of one batch".to_owned()),
            None,
        ),
        e => (e, None),
    })
}

/// SQLite does not say which foreign key failed: find which parent of the rejected association
/// row is missing, and name that foreign key.
fn name_missing_parent(
    e: Error,
    run: &mut Runner<'_>,
    def: &AssocDef,
    pair: Option<(i64, i64)>,
) -> Error {
    let Error::Constraint {
        kind: ConstraintKind::ForeignKey,
        table,
        constraint,
        row,
        message,
    } = e
    else {
        return e;
    };
    if !constraint.is_empty() {
        // The database named the column and value (PostgreSQL: `student_course.course_id = 7`);
        // add what it references.
        let referenced = [&def.left, &def.right]
            .into_iter()
            .find(|side| constraint.starts_with(&format!("{}.{} = ", def.table, side.column)));
        let constraint = match referenced {
            Some(side) => format!(
                "{constraint} references {}.{}, which has no such row",
                side.table.name, side.table.primary_key
            ),
            None => constraint,
        };
        return Error::Constraint {
            kind: ConstraintKind::ForeignKey,
            table,
            constraint,
            row,
            message,
        };
    }
    let Some((l, r)) = pair else {
        return Error::Constraint {
            kind: ConstraintKind::ForeignKey,
            table,
            constraint: String::new(),
            row,
            message,
        };
    };
    let mut missing = Vec::new();
    for (side, id) in [(&def.left, l), (&def.right, r)] {
        let sql = sql::exists_by_id(run.dialect(), side.table);
        let mut found = false;
        let ok = run.query(
            &"diagnose",
            &sql,
            &[crate::value::Value::Integer(id)],
            &mut |_| {
                found = true;
                Ok(())
            },
        );
        if ok.is_ok() && !found {
            missing.push(format!(
                "{}.{} = {id} references {}.{}, which has no such row",
                def.table, side.column, side.table.name, side.table.primary_key
            ));
        }
    }
    let constraint = if missing.is_empty() {
        format!(
            "{}.{} / {}.{}",
            def.table, def.left.column, def.table, def.right.column
        )
    } else {
        missing.join("; ")
    };
    Error::Constraint {
        kind: ConstraintKind::ForeignKey,
        table,
        constraint,
        row,
        message,
    }
}

/// Moves the session to the committed state.
pub(crate) fn apply(
    plan: &Plan,
    gen: &Generated,
    stores: &mut [Option<Box<dyn AnyStore>>],
    links: &mut [Option<LinkSet>],
) {
    let mut assigned: HashMap<usize, Vec<(u32, i64)>> = HashMap::new();
    for step in &plan.steps {
        if let Step::Insert { store, slots, .. } = step {
            let v = assigned.entry(*store).or_default();
            v.extend(slots.iter().map(|&s| (s, gen.get(*store, s))));
        }
    }
    for (i, s) in stores.iter_mut().enumerate() {
        if let Some(s) = s {
            s.committed(assigned.get(&i).map_or(&[][..], Vec::as_slice));
        }
    }
    for l in links.iter_mut().flatten() {
        l.committed();
    }
}

#[cfg(test)]
mod tests;

/// Renders a plan's statements without a database: a stand-in connection records each statement
/// and numbers generated keys as a fresh table would.
pub(crate) fn render(
    plan: &Plan,
    view: View<'_>,
    dialect: &'static dyn Dialect,
) -> Result<Vec<String>> {
    let mut rec = Recorder {
        dialect,
        lines: Vec::new(),
        next: HashMap::new(),
    };
    let mut log = StatementLog::default();
    let mut run = Runner::new(&mut rec, &mut log, false);
    execute(plan, view, &mut run, Verify::Nothing)?;
    Ok(rec.lines)
}

struct Recorder {
    dialect: &'static dyn Dialect,
    lines: Vec<String>,
    next: HashMap<String, i64>,
}

impl Recorder {
    fn line(&mut self, sql: &str, params: &[ValueRef<'_>]) {
        let params: Vec<String> = params.iter().map(|p| p.to_string()).collect();
        self.lines.push(if params.is_empty() {
            sql.to_owned()
        } else {
            format!("{sql} -- [{}]", params.join(", "))
        });
    }
}

impl Conn for Recorder {
    fn dialect(&self) -> &'static dyn Dialect {
        self.dialect
    }
    fn execute(&mut self, sql: &str, params: &[ValueRef<'_>]) -> Result<u64> {
        self.line(sql, params);
        Ok(0)
    }
    fn insert(
        &mut self,
        sql: &str,
        params: &[ValueRef<'_>],
        rows: usize,
        ids: &mut Vec<i64>,
    ) -> Result<()> {
        self.line(sql, params);
        // `INSERT INTO <quoted table> ...`, whatever the quotes.
        let table = sql
            .strip_prefix("INSERT INTO ")
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_default()
            .to_owned();
        let next = self.next.entry(table).or_insert(1);
        ids.extend(*next..*next + rows as i64);
        *next += rows as i64;
        Ok(())
    }
    fn insert_arrays(
        &mut self,
        sql: &str,
        width: usize,
        params: &[ValueRef<'_>],
        ids: Option<&mut Vec<i64>>,
    ) -> Result<()> {
        match ids {
            Some(ids) => self.insert(sql, params, params.len() / width.max(1), ids),
            None => self.execute(sql, params).map(drop),
        }
    }
    fn query(
        &mut self,
        sql: &str,
        params: &[ValueRef<'_>],
        _each: &mut dyn FnMut(&dyn RowSource) -> Result<()>,
    ) -> Result<()> {
        self.line(sql, params);
        Ok(())
    }
    fn batch(&mut self, sql: &str) -> Result<()> {
        self.line(sql, &[]);
        Ok(())
    }
    fn in_transaction(&self) -> bool {
        false
    }
}
