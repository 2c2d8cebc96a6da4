//! Eager loads through a foreign key, one statement each and no pairs to read: a one-to-many
//! reads the children themselves (each row names its parent in its foreign key column, so the
//! children table is scanned once, where the many-to-many's two statements would read it twice);
//! a many-to-one reads the parents its children reference, then takes each child's parent from
//! its own field.

use super::load::LoadWhy;
use super::{AnyStore, LinkSet, Session};
use crate::error::Result;
use crate::io::{Params, Reader, Reads, Statements};
use crate::model::TableDef;
use crate::query::QuerySpec;
use crate::relation::{AssocDef, Side, Storage};
use crate::sql;
use crate::value::RowSource;

impl Session {
    /// The eager load of a foreign key relation from `side`, for the results `parents` of a
    /// query on `parent` (see the module).
    pub(super) fn load_eager_fk(
        &mut self,
        def: &'static AssocDef,
        side: Side,
        parent: &TableDef,
        spec: &QuerySpec,
        parents: &[u32],
    ) -> Result<()> {
        match side {
            Side::Right => self.load_children(def, parent, spec, parents),
            Side::Left => self.load_referenced(def, parent, spec, parents),
        }
    }

    /// One-to-many: the results' children, merged, each placed in its parent's collection.
    fn load_children(
        &mut self,
        def: &'static AssocDef,
        parent: &TableDef,
        spec: &QuerySpec,
        parents: &[u32],
    ) -> Result<()> {
        let Storage::ForeignKey { column, .. } = def.storage else {
            unreachable!("a foreign key's load");
        };
        let (sql, params) = sql::select_children(self.db.dialect(), def, parent, spec);
        let why = LoadWhy {
            def,
            side: Side::Right,
            lazy_for: None,
        };
        let (child_st, parent_st) = ((def.left.table.slot)(), (def.right.table.slot)());
        self.links_mut(def);
        // The children's store is taken out so the parents' can be read while children merge
        // (for a self-referential relation, the parents are looked up in the children's).
        let mut target = self.stores[child_st].take().expect("target store ensured");
        let mut results = vec![false; parents.iter().max().map_or(0, |&m| m as usize + 1)];
        for &p in parents {
            results[p as usize] = true;
        }
        let reader = Children {
            target: &mut *target,
            parents: (child_st != parent_st).then(|| {
                self.stores[parent_st]
                    .as_deref()
                    .expect("parent store exists")
            }),
            links: self.links[(def.slot)()].as_mut().expect("ensured"),
            fk_at: 1 + column,
            results,
            current: None,
            groups: Vec::new(),
        };
        let mut reads = Reads::new(&why, Statements::One(&sql, Params::Values(&params)), reader);
        let driven = self
            .db
            .drive(self.pinned.as_mut(), &mut reads, &mut self.log);
        let result = driven.and_then(|()| reads.finish()).map(|r| r.groups);
        self.stores[child_st] = Some(target);
        let groups = result?;
        let links = self.links[(def.slot)()].as_mut().expect("ensured");
        let by_key = def.right.order_by.is_none();
        for (p, items) in groups {
            links
                .collection_mut(Side::Right, p)
                .append_loaded(items, by_key);
        }
        for &p in parents {
            let coll = links.collection_mut(Side::Right, p);
            if !coll.loaded {
                coll.loaded = true;
                if coll.items.is_empty() {
                    coll.sorted = true;
                }
            }
        }
        Ok(())
    }

    /// Many-to-one: the parents the results reference, merged; then each result's parent is
    /// its foreign key's, with no statement more.
    fn load_referenced(
        &mut self,
        def: &'static AssocDef,
        child: &TableDef,
        spec: &QuerySpec,
        children: &[u32],
    ) -> Result<()> {
        let (sql, params) = sql::select_referenced(self.db.dialect(), def, child, spec);
        let why = LoadWhy {
            def,
            side: Side::Left,
            lazy_for: None,
        };
        let parent_st = (def.right.table.slot)();
        let target = self.stores[parent_st]
            .as_deref_mut()
            .expect("target store ensured");
        let mut reads = Reads::new(
            &why,
            Statements::One(&sql, Params::Values(&params)),
            Parents(target),
        );
        self.db
            .drive(self.pinned.as_mut(), &mut reads, &mut self.log)?;
        reads.finish()?;
        for &c in children {
            self.settle_parent(def, c);
        }
        Ok(())
    }
}

/// A one-to-many's rows: children, grouped by the parent their foreign key names (the rows come
/// ordered by it).
struct Children<'s> {
    target: &'s mut dyn AnyStore,
    /// The parents' store, unless it is the children's (a self-referential relation).
    parents: Option<&'s dyn AnyStore>,
    links: &'s mut LinkSet,
    /// The foreign key's index in a row (after the key).
    fk_at: usize,
    /// Which parent slots are results of the query.
    results: Vec<bool>,
    /// The parent of the previous row: its id, and its slot if its collection is being loaded.
    current: Option<(i64, Option<u32>)>,
    /// (parent slot, its children in order).
    groups: Vec<(u32, Vec<u32>)>,
}

impl Reader for Children<'_> {
    fn row(&mut self, _statement: usize, row: &dyn RowSource) -> Result<()> {
        let child = self.target.merge_row(row, 0)?;
        let parents = match self.parents {
            Some(p) => p,
            None => &*self.target,
        };
        // A parent the session does not hold (never a key it has seen) is skipped.
        let Some(pid) = parents.find_key(row, self.fk_at)? else {
            return Ok(());
        };
        let slot = match self.current {
            Some((id, slot)) if id == pid => slot,
            _ => {
                // Only the query's results whose collections are not loaded yet take children.
                let slot = parents.slot_of(pid).filter(|&s| {
                    self.results.get(s as usize) == Some(&true)
                        && !self
                            .links
                            .collection(Side::Right, s)
                            .is_some_and(|c| c.loaded)
                });
                if let Some(s) = slot {
                    self.groups.push((s, Vec::new()));
                }
                self.current = Some((pid, slot));
                slot
            }
        };
        if let Some(p) = slot {
            if self.links.loaded_pair(child, p, Side::Right) {
                self.groups.last_mut().expect("pushed").1.push(child);
            }
        }
        Ok(())
    }
}

/// A many-to-one's rows: the parents, merged into their store (a row's last column, the eager
/// load's marker, is not read).
struct Parents<'s>(&'s mut dyn AnyStore);

impl Reader for Parents<'_> {
    fn row(&mut self, _statement: usize, row: &dyn RowSource) -> Result<()> {
        self.0.merge_row(row, 0)?;
        Ok(())
    }
}
