//! The commit machine's plan steps: the shape of each step's batches, their SQL and
//! parameters (rendered together from the same step, so their column order cannot drift), and
//! what each batch's outcome means (generated keys, the verdict on checked unlinks).

use super::*;

impl<'v> Commit<'v> {
    /// The shape of `step`'s batches; its width is the row layout's (`self.layout`, set first).
    pub(super) fn shape(&self, step: &Step) -> Shape {
        let d = self.d;
        let deletes = d.capabilities().max_batch_rows.min(DELETE_BATCH_ROWS);
        match step {
            Step::Insert {
                store,
                slots,
                with_id,
            } => {
                let table = self.view.store(*store).table();
                let width = self.layout.len();
                let per = if width == 0 {
                    1
                } else if *with_id {
                    sql::insert_rows_per_statement(d, width, d.capabilities().max_batch_rows)
                } else {
                    sql::insert_rows_per_statement(
                        d,
                        width,
                        d.capabilities().max_generated_key_rows,
                    )
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
                width: self.layout.len(),
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
                width: self.layout.len(),
                per: sql::rows_per_statement(d, self.layout.len(), deletes),
                table: self.view.links(*links).def.table,
                kind: if *checked && self.verify == Verify::Outcomes {
                    Kind::Checked
                } else {
                    Kind::Delete
                },
            },
            Step::Link { links, pairs, .. } => Shape {
                count: pairs.len(),
                width: self.layout.len(),
                per: sql::insert_rows_per_statement(
                    d,
                    self.layout.len(),
                    d.capabilities().max_batch_rows,
                ),
                table: self.view.links(*links).def.table,
                kind: Kind::Link,
            },
            Step::UnlinkAll { assoc, ids, .. } => Shape {
                count: ids.len(),
                width: self.layout.len(),
                per: sql::rows_per_statement(d, self.layout.len(), deletes),
                table: assoc.table,
                // However many pairs each object had: nothing to check.
                kind: Kind::Delete,
            },
            Step::Delete { store, ids } => Shape {
                count: ids.len(),
                width: self.layout.len(),
                per: sql::rows_per_statement(d, self.layout.len(), deletes),
                table: self.view.store(*store).table().name,
                // The session saw every object it deletes: each must still be there.
                kind: if self.verify == Verify::Outcomes {
                    Kind::Checked
                } else {
                    Kind::Delete
                },
            },
        }
    }

    /// The write `step` makes, as data: its SQL and its parameters' layout both come from it.
    pub(super) fn write(&self, step: &'v Step) -> Write<'v> {
        match step {
            Step::Insert { store, with_id, .. } => Write::InsertObjects {
                table: self.view.store(*store).table(),
                with_id: *with_id,
            },
            Step::Update { store, columns, .. } => Write::Update {
                table: self.view.store(*store).table(),
                columns,
            },
            Step::Unlink { links, .. } => Write::DeletePairs {
                assoc: self.view.links(*links).def,
                returning: self.reads_back(),
            },
            Step::Link {
                links,
                skip_present,
                ..
            } => Write::InsertPairs {
                assoc: self.view.links(*links).def,
                skip_present: *skip_present,
            },
            Step::UnlinkAll { assoc, side, .. } => Write::DeletePairsOf { assoc, side: *side },
            Step::Delete { store, .. } => Write::DeleteObjects {
                table: self.view.store(*store).table(),
                returning: self.reads_back(),
            },
        }
    }

    /// Whether the current step's batches read back what they deleted: checked deletes of
    /// several rows a statement, where the dialect has `RETURNING`.
    fn reads_back(&self) -> bool {
        self.shape
            .is_some_and(|s| s.kind == Kind::Checked && s.per > 1)
            && self.d.capabilities().returning
    }

    /// Up to ten rows of `step` (indexes) for a message: `table(key = 1), ... and 3 more`.
    fn describe_rows(&self, step: &Step, rows: &[usize]) -> String {
        match step {
            Step::Unlink { links, pairs, .. } => {
                let def = self.view.links(*links).def;
                let chosen: Vec<_> = rows
                    .iter()
                    .map(|&i| {
                        let (l, r) = pairs[i];
                        [
                            self.end_param(def, Side::Left, l),
                            self.end_param(def, Side::Right, r),
                        ]
                    })
                    .collect();
                describe_pairs(def, &chosen)
            }
            _ => {
                let mut shown: Vec<String> = rows
                    .iter()
                    .take(10)
                    .map(|&i| self.describe(step, i, &[]))
                    .collect();
                if rows.len() > 10 {
                    shown.push(format!("and {} more", rows.len() - 10));
                }
                shown.join(", ")
            }
        }
    }

    /// The statement of `step` for `n` rows.
    pub(super) fn render(&self, step: &'v Step, n: usize) -> String {
        self.write(step).sql(self.d, n)
    }

    /// Appends the parameters of row `i` of `step`, in the order of the step's write's layout
    /// (`self.layout`).
    pub(super) fn fill(&self, step: &Step, i: usize, params: &mut Vec<ValueRef<'v>>) -> Result<()> {
        let unplanned = |p: Param| -> ! { unreachable!("a {step:?} lays out no {p:?}") };
        match step {
            Step::Insert {
                store: st, slots, ..
            } => {
                let (store, slot) = (self.view.store(*st), slots[i]);
                for &p in &self.layout {
                    params.push(match p {
                        Param::Key => {
                            store.key_param(store.requested_id(slot).expect("planned with id"))
                        }
                        Param::Column(c) => self.column(*st, slot, c)?,
                        Param::End(_) => unplanned(p),
                    });
                }
            }
            Step::Update {
                store: st,
                slot,
                id,
                read_as,
                ..
            } => {
                let store = self.view.store(*st);
                let version = store.table().version;
                for &p in &self.layout {
                    params.push(match p {
                        Param::Key => store.key_param(*id),
                        // The version checked is the one the session read the row with.
                        Param::Column(c) if Some(c) == version => store.value(*read_as, c),
                        Param::Column(c) => self.column(*st, *slot, c)?,
                        Param::End(_) => unplanned(p),
                    });
                }
            }
            Step::Unlink { links, pairs, .. } => {
                let def = self.view.links(*links).def;
                let (l, r) = pairs[i];
                for &p in &self.layout {
                    params.push(match p {
                        Param::End(side @ Side::Left) => self.end_param(def, side, l),
                        Param::End(side @ Side::Right) => self.end_param(def, side, r),
                        _ => unplanned(p),
                    });
                }
            }
            Step::Link { links, pairs, .. } => {
                let def = self.view.links(*links).def;
                let (l, r) = pairs[i];
                for &p in &self.layout {
                    params.push(match p {
                        Param::End(side @ Side::Left) => {
                            self.end_param(def, side, self.resolve(l)?)
                        }
                        Param::End(side @ Side::Right) => {
                            self.end_param(def, side, self.resolve(r)?)
                        }
                        _ => unplanned(p),
                    });
                }
            }
            Step::Delete { store, ids } => {
                let store = self.view.store(*store);
                for &p in &self.layout {
                    params.push(match p {
                        Param::Key => store.key_param(ids[i]),
                        _ => unplanned(p),
                    });
                }
            }
            Step::UnlinkAll { assoc, side, ids } => {
                for &p in &self.layout {
                    params.push(match p {
                        Param::Key => self.end_param(assoc, *side, ids[i]),
                        _ => unplanned(p),
                    });
                }
            }
        }
        Ok(())
    }

    /// Row `i` of `step` for a message.
    pub(super) fn describe(&self, step: &Step, i: usize, row: &[ValueRef<'_>]) -> String {
        match step {
            Step::Insert { store, slots, .. } => self.view.store(*store).describe(slots[i]),
            Step::Update { store, slot, .. } => self.view.store(*store).describe(*slot),
            Step::Unlink { links, .. } | Step::Link { links, .. } => {
                pair_row(self.view.links(*links).def, row)
            }
            Step::Delete { store, ids } => {
                let store = self.view.store(*store);
                let table = store.table();
                let key = store.key_param(ids[i]);
                format!("{}({} = {key})", table.name, table.primary_key)
            }
            Step::UnlinkAll { assoc, side, ids } => {
                format!(
                    "{}({} = {})",
                    assoc.table,
                    assoc.sides(*side).0.column,
                    self.end_param(assoc, *side, ids[i])
                )
            }
        }
    }

    pub(super) fn why_of(&self, step: &Step, table: &'static str) -> Why {
        match step {
            Step::Insert { .. } => Why::Insert(table),
            Step::Update { .. } => Why::Update(table),
            Step::Unlink { .. } | Step::UnlinkAll { .. } => Why::Unlink(table),
            Step::Link { .. } => Why::Link(table),
            Step::Delete { .. } => Why::Delete(table),
        }
    }

    pub(super) fn def(&self) -> &'v AssocDef {
        match &self.plan.steps[self.step] {
            Step::Unlink { links, .. } | Step::Link { links, .. } => self.view.links(*links).def,
            _ => unreachable!("only pair steps have an association"),
        }
    }

    /// Readies the next statement of the plan's steps; `false` when every step is done (or the
    /// commit failed).
    pub(super) fn step_work(&mut self) -> bool {
        if self.diagnosis.is_some() {
            return self.diagnosis_work();
        }
        if self.parents.is_some() {
            return self.parent_work();
        }
        if self.referrers.is_some() {
            return self.referrers_work();
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
                    // The row layout first: a step's width is its length.
                    self.layout = self.write(step).layout();
                    let shape = self.shape(step);
                    self.shape = Some(shape);
                    self.pos = 0;
                    self.keys.clear();
                    self.gone.clear();
                    self.unsure.clear();
                    self.matched = 0;
                    self.awaiting = Awaiting::Nothing;
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
    pub(super) fn rows_work(&mut self, step: &'v Step, shape: Shape) -> bool {
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
        // Rows are read back only by the statements below that say so.
        self.read = Read::Nothing;
        self.pending = if shape.kind == Kind::Update {
            Pending::Execute(0, self.params.len())
        } else if each {
            Pending::Each(
                shape.width,
                match shape.kind {
                    Kind::Insert { keys: true } => EachOut::Keys,
                    Kind::Checked => {
                        self.changed.clear();
                        EachOut::Changed
                    }
                    _ => EachOut::Nothing,
                },
            )
        } else {
            match shape.kind {
                Kind::Insert { keys } if self.d.capabilities().insert_arrays && n > 1 => {
                    Pending::InsertArrays(shape.width, keys)
                }
                Kind::Link if self.d.capabilities().insert_arrays && n > 1 => {
                    Pending::InsertArrays(shape.width, false)
                }
                Kind::Insert { keys: true } => Pending::Insert(n),
                Kind::Checked if self.d.capabilities().returning => {
                    self.read = match step {
                        Step::Unlink { links, .. } => {
                            let def = self.view.links(*links).def;
                            let end = |s: &AssocSide| self.view.store((s.table.slot)());
                            Read::Pairs(IdPairs::default(), [end(&def.left), end(&def.right)])
                        }
                        Step::Delete { store, .. } => {
                            Read::Keys(IdSet::default(), self.view.store(*store))
                        }
                        _ => unreachable!("only unlinks and deletes are checked"),
                    };
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
    pub(super) fn end_of_step(&mut self, step: &Step, shape: Shape) -> bool {
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
                    // Chosen keys (text, UUIDs, numbered by the application) have no generator
                    // to advance.
                    let generated = store.table().chosen_key.is_none();
                    if let (Some(sql), Some(&max), true) = (
                        self.d.advance_key_generator(),
                        self.keys.iter().max(),
                        generated,
                    ) {
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
                        driver: None,
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
            (_, Kind::Checked) if !(self.gone.is_empty() && self.unsure.is_empty()) => {
                let key = if self.unsure.is_empty() {
                    self.describe_rows(step, &self.gone)
                } else {
                    format!(
                        "one or more of {} (the database does not say which)",
                        self.describe_rows(step, &self.unsure)
                    )
                };
                self.fail(Error::Stale {
                    statement: "DELETE",
                    table: shape.table.to_owned(),
                    key,
                    expected: shape.count as u64,
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
    pub(super) fn rows_done(&mut self, start: usize, n: usize, outcome: Outcome) {
        let step = &self.plan.steps[self.step];
        let shape = self.shape.expect("a step is under way");
        match outcome {
            Ok(changed) => {
                self.pos = start + n;
                if shape.kind == Kind::Update && self.verify == Verify::Outcomes && changed != 1 {
                    // The row is gone: another session deleted it after this one read it.
                    let key = self.describe(step, 0, &[]);
                    return self.fail(Error::Stale {
                        statement: "UPDATE",
                        table: shape.table.to_owned(),
                        key,
                        expected: 1,
                        matched: changed,
                    });
                }
                if shape.kind == Kind::Checked {
                    let rows = start..start + n;
                    if shape.per == 1 {
                        for (i, &c) in rows.zip(&self.changed) {
                            self.matched += c;
                            if c == 0 {
                                self.gone.push(i);
                            }
                        }
                    } else if !matches!(self.read, Read::Nothing | Read::Found(_)) {
                        let deleted = |i: usize| match (&self.read, step) {
                            (Read::Pairs(read, _), Step::Unlink { pairs, .. }) => {
                                read.contains(&pairs[i])
                            }
                            (Read::Keys(read, _), Step::Delete { ids, .. }) => {
                                read.contains(ids[i])
                            }
                            _ => true,
                        };
                        let gone: Vec<usize> = rows.filter(|&i| !deleted(i)).collect();
                        self.matched += (n - gone.len()) as u64;
                        self.gone.extend(gone);
                    } else {
                        self.matched += changed;
                        if (changed as usize) < n {
                            self.unsure.extend(rows);
                        }
                    }
                }
            }
            Err(failure) => {
                let Failure { error, row } = *failure;
                if shape.kind == Kind::Checked && shape.per > 1 {
                    // Not retried row by row (the statement reads back what it deleted).
                    if n == 1 {
                        let e = with_row(error, shape.table, || self.describe(step, start, &[]));
                        return self.rejected(e, Some(start));
                    }
                    return self.rejected(with_table(error, shape.table), None);
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
}
