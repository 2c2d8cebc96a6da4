//! The foreign keys a commit writes from the session's many-to-one links ([`Fill`]): which
//! parent each child's column takes, and the order new objects of a self-referential model are
//! inserted in (a parent's batch before its children's). No IO.

use super::plan::{End, Plan, View};
use crate::error::{Error, Result};
use crate::hash::FxHashMap;
use crate::relation::{OnDelete, Storage};
use crate::session::{LinkOp, State};

/// The parents of one foreign key column of one model, by child slot: `None` for `NULL` (the
/// child was unlinked from its parent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fill {
    pub store: usize,
    pub column: usize,
    pub parents: FxHashMap<u32, Option<End>>,
}

impl Plan {
    /// The parent the commit writes into column `column` of object `slot` of `store`, if a
    /// link says (`Some(None)`: `NULL`).
    pub(crate) fn fill(&self, store: usize, slot: u32, column: usize) -> Option<Option<End>> {
        self.fills
            .iter()
            .find(|f| f.store == store && f.column == column)?
            .parents
            .get(&slot)
            .copied()
    }

    /// The foreign key columns of `store` the links fill for `slot`.
    pub(super) fn filled_columns(
        &self,
        store: usize,
        slot: u32,
    ) -> impl Iterator<Item = usize> + '_ {
        self.fills
            .iter()
            .filter(move |f| f.store == store && f.parents.contains_key(&slot))
            .map(|f| f.column)
    }
}

/// The foreign keys the session's many-to-one links set: per child with pending changes, the
/// parent of its last link (`None`, `NULL`, when it was only unlinked). A child being deleted
/// needs none; one linked to a parent the commit deletes gets `NULL` if the foreign key is
/// `ON DELETE SET NULL`; otherwise a parent deleted or rolled back, or no parent for a `NOT
/// NULL` column, is an error naming the child.
pub(super) fn fills(view: View<'_>) -> Result<Vec<Fill>> {
    let mut out = Vec::new();
    for &ls in view.link_order {
        let links = view.links(ls);
        let Storage::ForeignKey {
            column, nullable, ..
        } = links.def.storage
        else {
            continue;
        };
        let def = links.def;
        let (cst, pst) = ((def.left.table.slot)(), (def.right.table.slot)());
        let (children, parents) = (view.store(cst), view.store(pst));
        let mut fill: FxHashMap<u32, Option<End>> = FxHashMap::default();
        let set_null = children.table().columns[column]
            .references
            .is_some_and(|r| r.on_delete == OnDelete::SetNull);
        for p in links.live() {
            let state = children.state(p.left);
            if !matches!(state, State::New | State::Persistent) {
                continue;
            }
            match p.op {
                LinkOp::Add => {
                    let end = match parents.state(p.right) {
                        State::New => End::New {
                            store: pst,
                            slot: p.right,
                        },
                        State::Persistent => End::Id(parents.id(p.right).expect("persistent")),
                        // Linked to a parent this commit deletes: what the foreign key does
                        // to its children, done here (the link is never written).
                        State::Deleted if set_null => {
                            fill.insert(p.left, None);
                            continue;
                        }
                        _ => {
                            return Err(Error::InvalidKey {
                                message: format!(
                                    "cannot make {} the {} of {}: it was deleted or rolled back; add it again first, or link another",
                                    parents.describe(p.right),
                                    def.left.relation,
                                    children.describe(p.left),
                                ),
                            })
                        }
                    };
                    fill.insert(p.left, Some(end));
                }
                LinkOp::Remove => {
                    fill.entry(p.left).or_insert(None);
                }
            }
        }
        if !nullable {
            if let Some((&child, _)) = fill
                .iter()
                .filter(|(_, e)| e.is_none())
                .min_by_key(|(c, _)| **c)
            {
                return Err(Error::InvalidKey {
                    message: format!(
                        "{} would have no {}: `{}.{}` is NOT NULL; link it to another {} or delete it",
                        children.describe(child),
                        def.left.relation,
                        def.table,
                        def.right.column,
                        def.right.table.model,
                    ),
                });
            }
        }
        if !fill.is_empty() {
            out.push(Fill {
                store: cst,
                column,
                parents: fill,
            });
        }
    }
    Ok(out)
}

/// `slots` (new objects of store `st`) in batches, each after the batches of the new objects of
/// the same store its objects reference by a link: one batch unless the model references itself.
pub(super) fn generations(
    view: View<'_>,
    st: usize,
    plan: &Plan,
    slots: Vec<u32>,
) -> Result<Vec<Vec<u32>>> {
    let own = |slot: u32| -> Vec<u32> {
        plan.fills
            .iter()
            .filter(|f| f.store == st)
            .filter_map(|f| match f.parents.get(&slot) {
                Some(Some(End::New { store, slot: p })) if *store == st => Some(*p),
                _ => None,
            })
            .collect()
    };
    if slots.iter().all(|&s| own(s).is_empty()) {
        return Ok(vec![slots]);
    }
    let mut depth: FxHashMap<u32, usize> = FxHashMap::default();
    for &slot in &slots {
        // Walk up the new parents; a walk longer than the objects is a cycle.
        let (mut chain, mut at) = (vec![slot], slot);
        while let Some(&p) = own(at).first() {
            if chain.len() > slots.len() {
                return Err(Error::InvalidKey {
                    message: format!(
                        "new objects reference each other in a cycle through {}: none can be inserted first; commit one without its link, then link it",
                        view.store(st).describe(slot)
                    ),
                });
            }
            chain.push(p);
            at = p;
        }
        depth.insert(slot, chain.len() - 1);
    }
    let deepest = depth.values().copied().max().unwrap_or(0);
    let mut out = vec![Vec::new(); deepest + 1];
    for slot in slots {
        out[depth[&slot]].push(slot);
    }
    Ok(out)
}
