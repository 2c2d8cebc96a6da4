//! The commit machine after a rejected write: narrowing a failed batch down to its row (a
//! savepoint, then each row alone) and, for an association row, looking for the missing parent,
//! so the error names the table, the row and the foreign key.

use super::*;
use crate::flush::diagnose::still_referenced;

impl<'v> Commit<'v> {
    /// A multi-row statement failed: on a constraint, find the row at fault by retrying the rows
    /// one at a time inside a savepoint that is rolled back afterwards (the transaction is rolled
    /// back anyway).
    pub(super) fn diagnose(&mut self, error: Error, start: usize, n: usize) {
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
        if !self.d.capabilities().continues_after_error {
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
    pub(super) fn diagnosis_work(&mut self) -> bool {
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

    pub(super) fn diagnosis_done(&mut self, outcome: Outcome) {
        let diag = self.diagnosis.as_mut().expect("diagnosing");
        match (self.awaiting, outcome) {
            (Awaiting::Savepoint, Err(_)) => {
                let diag = self.diagnosis.take().expect("diagnosing");
                let shape = self.shape.expect("a step is under way");
                let e = with_table(diag.error, shape.table);
                self.rejected(e, None);
            }
            (Awaiting::Retry(i), Err(failure)) => {
                let error = failure.error;
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
    pub(super) fn rejected(&mut self, error: Error, row: Option<usize>) {
        let step = &self.plan.steps[self.step];
        if let (Step::Delete { .. }, Some(_)) = (step, self.d.foreign_keys_referencing()) {
            if matches!(
                error,
                Error::Constraint {
                    kind: ConstraintKind::ForeignKey,
                    ..
                }
            ) {
                // The database did not say which table still references the row: ask its
                // catalog.
                self.referrers = Some(error);
                self.awaiting = Awaiting::Nothing;
                return;
            }
        }
        let is_fk = matches!(
            error,
            Error::Constraint {
                kind: ConstraintKind::ForeignKey,
                ..
            }
        );
        let child = match (step, row) {
            (Step::Insert { store, slots, .. }, Some(i)) => Some((*store, slots[i])),
            (Step::Update { store, slot, .. }, _) => Some((*store, *slot)),
            _ => None,
        };
        if let (true, Some((store, slot))) = (is_fk, child) {
            let named = self.name_reference(error, store, slot);
            return self.fail(named);
        }
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

    /// A child row rejected for a missing parent: names its foreign keys that hold a value
    /// (one of them references no row), where the database did not (SQLite, MySQL).
    fn name_reference(&self, mut error: Error, store: usize, slot: u32) -> Error {
        let Error::Constraint { constraint, .. } = &mut error else {
            return error;
        };
        if constraint.is_empty() {
            let t = self.view.store(store).table();
            let named: Vec<String> = t
                .columns
                .iter()
                .enumerate()
                .filter_map(|(c, col)| {
                    let parent = (col.references?.table)();
                    let value = self.column(store, slot, c).ok()?;
                    (value != ValueRef::Null).then(|| {
                        format!(
                            "{}.{} = {value} references {}.{}",
                            t.name, col.name, parent.name, parent.primary_key
                        )
                    })
                })
                .collect();
            *constraint = named.join(" or ");
        }
        error
    }

    /// Readies the look for the next parent of a rejected pair; after both, the commit fails
    /// with the foreign key named.
    pub(super) fn parent_work(&mut self) -> bool {
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
        let store = self.view.store((assoc_side.table.slot)());
        self.values = vec![store.key_param(id).to_owned()];
        self.read = Read::Found(false);
        self.why = Why::Diagnose;
        self.awaiting = Awaiting::Parent(side);
        self.pending = Pending::Query { owned: true };
        self.text = Text::Own;
        true
    }

    /// Readies the look-up of the foreign keys that reference the table of a blocked delete;
    /// once it ran, the commit fails naming them.
    pub(super) fn referrers_work(&mut self) -> bool {
        if self.awaiting == Awaiting::Referrers {
            let error = self.referrers.take().expect("looking for referrers");
            let mut found = match std::mem::replace(&mut self.read, Read::Nothing) {
                Read::Referrers(found) => found,
                _ => Vec::new(),
            };
            // The association rows this commit cleared block nothing.
            found.retain(|(t, c)| {
                !self.plan.steps.iter().any(|s| {
                    matches!(s, Step::UnlinkAll { assoc, side, .. }
                        if assoc.table == t.as_str() && assoc.sides(*side).0.column == c.as_str())
                })
            });
            let shape = self.shape.expect("a step is under way");
            self.fail(still_referenced(error, shape.table, &found));
            return false;
        }
        let shape = self.shape.expect("a step is under way");
        self.sql = self
            .d
            .foreign_keys_referencing()
            .expect("asked only where the dialect has it")
            .to_owned();
        self.values = vec![Value::Text(shape.table.to_owned())];
        self.read = Read::Referrers(Vec::new());
        self.why = Why::Diagnose;
        self.awaiting = Awaiting::Referrers;
        self.pending = Pending::Query { owned: true };
        self.text = Text::Own;
        true
    }

    /// The look-up's outcome: a failure leaves the error as the database gave it.
    pub(super) fn referrers_done(&mut self, outcome: Outcome) {
        if outcome.is_err() {
            self.read = Read::Referrers(Vec::new());
        }
    }

    pub(super) fn parent_done(&mut self, side: usize, outcome: Outcome) {
        let def = self.def();
        let view = self.view;
        let parents = self.parents.as_mut().expect("looking for parents");
        let found = matches!(self.read, Read::Found(true));
        if outcome.is_ok() && !found {
            let (s, id) = if side == 0 {
                (&def.left, parents.pair.0)
            } else {
                (&def.right, parents.pair.1)
            };
            // The key as stored (a chosen key's value, not its surrogate).
            let id = view.store((s.table.slot)()).key_param(id);
            parents.missing.push(format!(
                "{}.{} = {id} references {}.{}, which has no such row",
                def.table, s.column, s.table.name, s.table.primary_key
            ));
        }
    }
}
