//! The many-to-many kind: a relation through an association table, as a [`Processor`]. Its
//! saves are the pair changes of the session's link set (deletes of unlinked pairs, then inserts
//! of linked ones), after the inserts of both ends' models; its loads join the association to
//! the targets; its filter is an `EXISTS` over the association. Deleting an object clears its
//! pairs by a step of the plan's own (`Step::UnlinkAll`), from every association registered
//! for its model, so pending pair changes of a deleted object are left out here.

use super::{AssocDef, Processor, Side, Storage};
use crate::error::{Error, Result};
use crate::expr::Scalar;
use crate::flush::{End, Step, View};
use crate::model::TableDef;
use crate::query::{Expr, QuerySpec};
use crate::session::{AnyStore, LinkOp, State};
use crate::sql::{self, Dialect, Sql};
use crate::value::Value;

impl Processor for AssocDef {
    fn depends_on(&self) -> Vec<usize> {
        vec![(self.left.table.slot)(), (self.right.table.slot)()]
    }

    fn process_saves(&self, view: View<'_>, ls: usize, steps: &mut Vec<Step>) -> Result<()> {
        if self.storage != Storage::Table {
            // A foreign key's links are written as the children's column (`Plan::fills`).
            return Ok(());
        }
        let links = view.links(ls);
        let (left, right) = (
            view.store((self.left.table.slot)()),
            view.store((self.right.table.slot)()),
        );
        let (left_slot, right_slot) = ((self.left.table.slot)(), (self.right.table.slot)());
        let (mut unlink, mut unlink_seen) = (Vec::new(), Vec::new());
        let (mut link, mut link_absent) = (Vec::new(), Vec::new());
        for p in links.live() {
            let (ls_, rs_) = (left.state(p.left), right.state(p.right));
            // A pair of an object being deleted goes with it (the plan clears all its pairs).
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
                                self.table
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
        Ok(())
    }

    fn lazy_load(&self, d: &dyn Dialect, side: Side) -> String {
        sql::select_related(d, self, side)
    }

    fn eager_load(
        &self,
        d: &dyn Dialect,
        side: Side,
        parent: &TableDef,
        spec: &QuerySpec,
    ) -> Vec<(String, Vec<Value>)> {
        sql::select_eager(d, self, side, parent, spec)
    }

    fn exists(
        &self,
        s: &mut Sql<'_>,
        side: Side,
        outer: (&str, &TableDef),
        inner: Option<&Expr>,
        depth: &mut usize,
        params: &mut Vec<Value>,
    ) {
        sql::exists_related(s, self, side, outer, inner, depth, params);
    }

    fn aggregate(
        &self,
        s: &mut Sql<'_>,
        side: Side,
        outer: (&str, &TableDef),
        agg: &Scalar,
        depth: &mut usize,
        params: &mut Vec<Value>,
    ) {
        sql::aggregate_related(s, self, side, outer, agg, depth, params);
    }

    fn join(
        &self,
        s: &mut Sql<'_>,
        side: Side,
        outer: (&str, &TableDef),
        target: &str,
        left: bool,
        parts: sql::JoinParts,
    ) {
        sql::join_related(s, self, side, outer, target, left, parts);
    }
}
