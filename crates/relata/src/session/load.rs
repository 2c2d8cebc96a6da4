//! Reading: queries merged into the identity map, and collection loads (lazy for one object,
//! eager for every result of a query: one statement, or two for an eager load on SQLite and
//! MySQL).

use std::cmp::Ordering;

use super::EagerSpec;
use super::{relation_name, AnyStore, CachedSql, LinkSet, Session, State};
use crate::error::{Error, Result};
use crate::hash::IdSet;
use crate::io::{Params, Reader, Reads, Statements};
use crate::model::{Key, Model, TableDef};
use crate::query::QuerySpec;
use crate::relation::{AssocDef, Processor, Side, Storage};
use crate::sql;
use crate::value::{RowSource, Value, ValueRef};

impl Session {
    /// Runs a query and its eager loads; returns the keys of the results in order, leaving out
    /// objects deleted in this session.
    pub(crate) fn run_query<M: Model>(
        &mut self,
        spec: &QuerySpec,
        eager: &[EagerSpec],
    ) -> Result<Vec<Key<M>>> {
        self.autoflush()?;
        let mut params = Vec::new();
        let sql = sql::select(self.db.dialect(), M::TABLE, spec, &mut params);
        let slots = self.run_select::<M>(&sql, &params)?;
        for e in eager {
            self.load_eager_path(e, M::TABLE, spec, &slots)?;
        }
        Ok(slots.into_iter().map(|s| Key::new(self.id, s)).collect())
    }

    /// An eager load for `parents` (the results of `spec` on `parent`), then the next relation
    /// of its path for the objects it loaded: their query is "the targets related to a result
    /// of `spec`" (a superset under a limit; only the objects loaded get collections).
    fn load_eager_path(
        &mut self,
        e: &EagerSpec,
        parent: &'static TableDef,
        spec: &QuerySpec,
        parents: &[u32],
    ) -> Result<()> {
        (e.ensure_target)(self);
        if e.def.storage == Storage::Table {
            self.load_eager(e.def, e.side, parent, spec, parents)?;
        } else {
            self.load_eager_fk(e.def, e.side, parent, spec, parents)?;
        }
        let Some(next) = &e.then else {
            return Ok(());
        };
        let mut loaded: Vec<u32> = Vec::new();
        for &p in parents {
            self.settle_parent_if_many_to_one(e, p);
            loaded.extend_from_slice(self.collection_slots(e.def, e.side, p));
        }
        loaded.sort_unstable();
        loaded.dedup();
        let via = QuerySpec {
            filter: Some(crate::query::Expr::Related {
                def: e.def,
                side: e.side.other(),
                inner: spec.filter.clone().map(Box::new),
            }),
            ..QuerySpec::default()
        };
        let target = e.def.sides(e.side).1.table;
        self.load_eager_path(next, target, &via, &loaded)
    }

    /// A many-to-one's side is settled from the child's key when asked for; a path reads it
    /// now, to know which parents it loaded.
    fn settle_parent_if_many_to_one(&mut self, e: &EagerSpec, child: u32) {
        if e.side == Side::Left && e.def.storage != Storage::Table {
            self.settle_parent(e.def, child);
        }
    }

    /// The object with this primary key, by one cached statement.
    pub(crate) fn select_by_id<M: Model>(&mut self, key: Value) -> Result<Option<Key<M>>> {
        let d = self.db.dialect();
        let sql = self.sql_cache.get(CachedSql::ById, (M::TABLE.slot)(), || {
            let pk = crate::model::Column::<M, i64>::new(M::TABLE.primary_key);
            let spec = QuerySpec {
                filter: Some(pk.eq(0).expr),
                unordered: true,
                ..QuerySpec::default()
            };
            sql::select(d, M::TABLE, &spec, &mut Vec::new())
        });
        let slots = self.run_select::<M>(&sql, &[key])?;
        Ok(slots.first().map(|&s| Key::new(self.id, s)))
    }

    /// Runs a select of `M`'s columns, merging the rows into the identity map; returns their
    /// slots in order, leaving out objects deleted in this session.
    pub(super) fn run_select<M: Model>(&mut self, sql: &str, params: &[Value]) -> Result<Vec<u32>> {
        self.ensure_store::<M>();
        let store = self.stores[(M::TABLE.slot)()].as_mut().expect("ensured");
        let merge = Merge {
            store: &mut **store,
            slots: Vec::new(),
        };
        let why = Doing("query", M::TABLE.name);
        let mut reads = Reads::new(&why, Statements::One(sql, Params::Values(params)), merge);
        self.db
            .drive(self.pinned.as_mut(), &mut reads, &mut self.log)?;
        Ok(reads.finish()?.slots)
    }

    /// Counts the rows a query matches.
    pub(crate) fn run_count<M: Model>(&mut self, spec: &QuerySpec) -> Result<u64> {
        self.autoflush()?;
        let mut params = Vec::new();
        let sql = sql::count(self.db.dialect(), M::TABLE, spec, &mut params);
        let why = Doing("count", M::TABLE.name);
        let mut reads = Reads::new(
            &why,
            Statements::One(&sql, Params::Values(&params)),
            Count(0),
        );
        self.db
            .drive(self.pinned.as_mut(), &mut reads, &mut self.log)?;
        Ok(reads.finish()?.0.max(0) as u64)
    }

    /// Makes sure the collection of `slot` is loaded: a new object's is empty; otherwise one
    /// statement loads it, unless the session is strict.
    pub(crate) fn ensure_loaded(
        &mut self,
        def: &'static AssocDef,
        side: Side,
        slot: u32,
        new: bool,
    ) -> Result<()> {
        if side == Side::Left && !new {
            // A child's parent, from its foreign key when the session holds the parent.
            self.settle_parent(def, slot);
        }
        let links = self.links_mut(def);
        if new || links.collection(side, slot).is_some_and(|s| s.loaded) {
            return Ok(());
        }
        let (from, _) = def.sides(side);
        let store = self
            .any_store((from.table.slot)())
            .expect("a key implies a store");
        let Some(id) = store.id(slot) else {
            // Detached without ever being stored: nothing in the database.
            self.links_mut(def).collection_mut(side, slot).loaded = true;
            return Ok(());
        };
        if self.strict {
            return Err(Error::LazyLoad {
                relation: relation_name(def, side),
                object: store.describe(slot),
            });
        }
        self.load_one(def, side, slot, id)
    }

    /// A lazy load: one parent's collection, by one statement joining the association to the
    /// targets (the relation's `Processor::lazy_load`), merged into the identity map.
    fn load_one(&mut self, def: &'static AssocDef, side: Side, slot: u32, id: i64) -> Result<()> {
        let (from, to) = def.sides(side);
        let d = self.db.dialect();
        let sql = self
            .sql_cache
            .get(CachedSql::LazyLoad(side), (def.slot)(), || {
                def.lazy_load(d, side)
            });
        let key = self.stores[(from.table.slot)()]
            .as_deref()
            .expect("a key implies a store")
            .key_param(id)
            .to_owned();
        let why = LoadWhy {
            def,
            side,
            lazy_for: Some(key.as_ref()),
        };
        let to_slot = (to.table.slot)();
        self.links_mut(def);
        let lazy = Lazy {
            links: self.links[(def.slot)()].as_mut().expect("ensured"),
            target: &mut **self.stores[to_slot].as_mut().expect("target store ensured"),
            slot,
            side,
            items: Vec::new(),
        };
        let key = [key.clone()];
        let mut reads = Reads::new(&why, Statements::One(&sql, Params::Values(&key)), lazy);
        self.db
            .drive(self.pinned.as_mut(), &mut reads, &mut self.log)?;
        let lazy = reads.finish()?;
        let coll = lazy.links.collection_mut(side, slot);
        coll.append_loaded(lazy.items, from.order_by.is_none());
        coll.loaded = true;
        Ok(())
    }

    /// An eager load: the collections of `parents` (the results of a query on the `from` side) in
    /// two statements, or one on PostgreSQL (the relation's `Processor::eager_load`: the pairs, then the targets
    /// they name), merged into the identity map; collections already loaded are left as they
    /// are.
    fn load_eager(
        &mut self,
        def: &'static AssocDef,
        side: Side,
        parent: &TableDef,
        spec: &QuerySpec,
        parents: &[u32],
    ) -> Result<()> {
        let (from, to) = def.sides(side);
        let d = self.db.dialect();
        let statements = def.eager_load(d, side, parent, spec);
        let why = LoadWhy {
            def,
            side,
            lazy_for: None,
        };
        let (from_slot, to_slot) = ((from.table.slot)(), (to.table.slot)());
        self.links_mut(def);
        // The target store is taken out so the parent lookups can read the other store (or, for a
        // self-referential relation, the same one) while targets are merged.
        let mut target = self.stores[to_slot].take().expect("target store ensured");
        let mut pairs = Pairs::default();
        // Only the query's results get their collections (not, say, an object deleted in this
        // session, which the query leaves out but the pairs still name).
        for &p in parents {
            if pairs.results.len() <= p as usize {
                pairs.results.resize(p as usize + 1, false);
            }
            pairs.results[p as usize] = true;
        }
        let eager = Eager {
            def,
            side,
            target: &mut *target,
            parents: (from_slot != to_slot).then(|| {
                self.stores[from_slot]
                    .as_deref()
                    .expect("parent store exists")
            }),
            links: self.links[(def.slot)()].as_mut().expect("ensured"),
            // A row's last column is the pair's target key, NULL on a target's row.
            to_column: to.table.columns.len() + 1,
            every_parent: spec.filter.is_none() && spec.limit.is_none() && spec.offset.is_none(),
            pairs,
        };
        let statements = statements
            .iter()
            .map(|(sql, params)| (sql.as_str(), Params::Values(params)))
            .collect();
        let mut reads = Reads::new(&why, Statements::Many(statements), eager);
        let driven = self
            .db
            .drive(self.pinned.as_mut(), &mut reads, &mut self.log);
        let result = driven.and_then(|()| reads.finish()).map(|eager| {
            let links = eager.links;
            eager
                .pairs
                .place(eager.target, links, side, from.order_by.is_none())
        });
        self.stores[to_slot] = Some(target);
        let incomplete = result?;
        let links = self.links[(def.slot)()].as_mut().expect("ensured");
        for &p in parents {
            let coll = links.collection_mut(side, p);
            if incomplete.contains(&p) {
                // Keep only the pending links, as for any unloaded collection.
                coll.items.clear();
                coll.sorted = false;
            } else if !coll.loaded {
                coll.loaded = true;
                if coll.items.is_empty() {
                    coll.sorted = true;
                }
            }
        }
        Ok(())
    }

    /// Sorts a collection into the relation's order (once: the flag stays until it changes).
    pub(crate) fn sort_collection(&mut self, def: &'static AssocDef, side: Side, slot: u32) {
        let (from, to) = def.sides(side);
        let target = self.stores[(to.table.slot)()]
            .as_deref()
            .expect("target store ensured");
        let Some(links) = self.links.get_mut((def.slot)()).and_then(Option::as_mut) else {
            return;
        };
        let coll = links.collection_mut(side, slot);
        if coll.sorted {
            return;
        }
        let order_col = from
            .order_by
            .and_then(|name| target.table().columns.iter().position(|c| c.name == name));
        coll.items.sort_by(|&a, &b| {
            let by_col = match order_col {
                Some(c) => compare_values(target.value(a, c), target.value(b, c)),
                None => Ordering::Equal,
            };
            // Then by key, objects without one yet (new, generated keys) last.
            let by_key = || match (target.key_value(a), target.key_value(b)) {
                (ValueRef::Null, ValueRef::Null) => Ordering::Equal,
                (ValueRef::Null, _) => Ordering::Greater,
                (_, ValueRef::Null) => Ordering::Less,
                (ka, kb) => compare_values(ka, kb),
            };
            by_col.then_with(by_key).then(a.cmp(&b))
        });
        coll.sorted = true;
    }

    /// The slots in a collection as it stands (sorted only if `sort_collection` ran), deleted
    /// and detached targets included: readers filter with `State::is_live`.
    pub(crate) fn collection_slots(&self, def: &AssocDef, side: Side, slot: u32) -> &[u32] {
        self.links
            .get((def.slot)())
            .and_then(Option::as_ref)
            .and_then(|links| links.collection(side, slot))
            .map_or(&[], |coll| &coll.items)
    }
}

/// Why a query or count ran: `query students`.
pub(super) struct Doing(pub &'static str, pub &'static str);

impl std::fmt::Display for Doing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0, self.1)
    }
}

/// Rows of a model merged into its store: the slots of the rows, in order, leaving out objects
/// deleted in this session.
struct Merge<'s> {
    store: &'s mut dyn AnyStore,
    slots: Vec<u32>,
}

impl Reader for Merge<'_> {
    fn row(&mut self, _statement: usize, row: &dyn RowSource) -> Result<()> {
        let slot = self.store.merge_row(row, 0)?;
        if self.store.state(slot) == State::Persistent {
            self.slots.push(slot);
        }
        Ok(())
    }
}

/// A count's one row.
struct Count(i64);

impl Reader for Count {
    fn row(&mut self, _statement: usize, row: &dyn RowSource) -> Result<()> {
        self.0 = row
            .get_i64(0)
            .map_err(|e| Error::Database {
                driver: None,
                message: e.0,
                sql: None,
            })?
            .unwrap_or(0);
        Ok(())
    }
}

/// A lazy load's rows: the targets, merged, and the collection's items.
struct Lazy<'s> {
    links: &'s mut LinkSet,
    target: &'s mut dyn AnyStore,
    slot: u32,
    side: Side,
    items: Vec<u32>,
}

impl Reader for Lazy<'_> {
    fn row(&mut self, _statement: usize, row: &dyn RowSource) -> Result<()> {
        let tslot = self.target.merge_row(row, 1)?;
        let (l, r) = if self.side == Side::Left {
            (self.slot, tslot)
        } else {
            (tslot, self.slot)
        };
        if self.links.loaded_pair(l, r, self.side) {
            self.items.push(tslot);
        }
        Ok(())
    }
}

/// An eager load's rows: pairs (a target key in the last column) and targets (NULL there).
struct Eager<'s> {
    def: &'static AssocDef,
    side: Side,
    target: &'s mut dyn AnyStore,
    /// The parents' store, unless it is the target's (a self-referential relation).
    parents: Option<&'s dyn AnyStore>,
    links: &'s mut LinkSet,
    to_column: usize,
    /// Whether the query has no filter, limit or offset (its targets' select reads every
    /// target).
    every_parent: bool,
    pairs: Pairs,
}

impl Reader for Eager<'_> {
    fn row(&mut self, _statement: usize, row: &dyn RowSource) -> Result<()> {
        let (_, to) = self.def.sides(self.side);
        match self.target.read_key(row, self.to_column)? {
            Some(tid) => {
                let parents = match self.parents {
                    Some(p) => p,
                    None => &*self.target,
                };
                // A parent the session does not hold (never a key it has seen) is skipped.
                let pid = parents.find_key(row, 0)?.unwrap_or(i64::MIN);
                self.pairs.add(pid, tid, parents, self.links, self.side);
            }
            None => {
                // Without a parent filter the targets' select reads every target: keep those
                // a pair named (all of them if a UNION ALL sent the targets first).
                let tid = self
                    .target
                    .read_key(row, 0)?
                    .ok_or_else(|| decode(self.def, to.column, "NULL key".into()))?;
                if !self.every_parent || self.pairs.count == 0 || self.pairs.wanted.contains(tid) {
                    self.target.merge_with_id(tid, row, 1)?;
                }
            }
        }
        Ok(())
    }

    /// Two statements: the targets follow the pairs, and none is needed when no pair of an
    /// unloaded result named one (then reading them would only fill the session).
    fn wants(&self, _statement: usize) -> bool {
        !self.pairs.targets.is_empty()
    }
}

fn decode(def: &AssocDef, column: &'static str, reason: String) -> Error {
    Error::Decode {
        table: def.table,
        column,
        reason,
    }
}

/// The pairs of an eager load, kept as target keys until the targets are in (they come after
/// the pairs): grouped by parent, in the order read.
#[derive(Default)]
struct Pairs {
    /// Target keys, parent after parent.
    targets: Vec<i64>,
    /// (parent slot, index of its first target key).
    groups: Vec<(u32, usize)>,
    /// The parent of the previous row: (id, slot, or `None` to skip its rows).
    current: Option<(i64, Option<u32>)>,
    /// The target keys named by some pair.
    wanted: IdSet,
    /// Pair rows read.
    count: usize,
    /// Which parent slots are results of the query.
    results: Vec<bool>,
}

impl Pairs {
    fn add(&mut self, pid: i64, tid: i64, parents: &dyn AnyStore, links: &mut LinkSet, side: Side) {
        self.count += 1;
        let slot = match self.current {
            Some((id, slot)) if id == pid => slot,
            _ => {
                // A parent not in the session, or whose collection is loaded already, is skipped.
                let slot = parents.slot_of(pid).filter(|&s| {
                    self.results.get(s as usize) == Some(&true)
                        && !links.collection(side, s).is_some_and(|coll| coll.loaded)
                });
                if let Some(s) = slot {
                    self.groups.push((s, self.targets.len()));
                }
                self.current = Some((pid, slot));
                slot
            }
        };
        if slot.is_some() {
            self.targets.push(tid);
            self.wanted.insert(tid);
        }
    }

    /// Moves the pairs into the collections, now that their targets are in the identity map.
    /// Returns the parents whose targets could not all be found (their collections stay unloaded).
    fn place(
        &self,
        target: &dyn AnyStore,
        links: &mut LinkSet,
        side: Side,
        by_key: bool,
    ) -> Vec<u32> {
        let mut incomplete = Vec::new();
        for (g, &(pslot, start)) in self.groups.iter().enumerate() {
            let end = self
                .groups
                .get(g + 1)
                .map_or(self.targets.len(), |next| next.1);
            let mut items = Vec::with_capacity(end - start);
            for &tid in &self.targets[start..end] {
                let Some(tslot) = target.slot_of(tid) else {
                    incomplete.push(pslot);
                    continue;
                };
                let (l, r) = if side == Side::Left {
                    (pslot, tslot)
                } else {
                    (tslot, pslot)
                };
                if links.loaded_pair(l, r, side) {
                    items.push(tslot);
                }
            }
            links
                .collection_mut(side, pslot)
                .append_loaded(items, by_key);
        }
        incomplete
    }
}

/// Why a collection load ran, formatted only if someone looks (a query budget, tracing, echo).
pub(super) struct LoadWhy<'k> {
    pub def: &'static AssocDef,
    pub side: Side,
    /// For a lazy load: the parent's key.
    pub lazy_for: Option<ValueRef<'k>>,
}

impl std::fmt::Display for LoadWhy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rel = relation_name(self.def, self.side);
        let (from, _) = self.def.sides(self.side);
        match self.lazy_for {
            Some(id) => write!(f, "lazy load of {rel} for {} #{id}", from.table.name),
            None => write!(f, "eager load of {rel}"),
        }
    }
}

/// A total order on values matching SQLite's default ordering: NULL, numbers, text (by bytes),
/// blobs.
fn compare_values(a: ValueRef<'_>, b: ValueRef<'_>) -> Ordering {
    fn rank(v: &ValueRef<'_>) -> u8 {
        match v {
            ValueRef::Null => 0,
            ValueRef::Integer(_) | ValueRef::Real(_) | ValueRef::Bool(_) | ValueRef::Decimal(_) => {
                1
            }
            ValueRef::Text(_) | ValueRef::Json(_) | ValueRef::Uuid(_) => 2,
            ValueRef::Blob(_) | ValueRef::Encoded(_) => 3,
            ValueRef::Date(_)
            | ValueRef::Time(_)
            | ValueRef::DateTime(_)
            | ValueRef::Timestamp(_) => 4,
        }
    }
    fn num(v: &ValueRef<'_>) -> f64 {
        match *v {
            ValueRef::Integer(i) => i as f64,
            ValueRef::Real(r) => r,
            ValueRef::Bool(b) => f64::from(u8::from(b)),
            _ => 0.0,
        }
    }
    match (a, b) {
        (x @ ValueRef::Encoded(_), y) => compare_values(x.to_owned().as_ref(), y),
        (x, y @ ValueRef::Encoded(_)) => compare_values(x, y.to_owned().as_ref()),
        (ValueRef::Integer(x), ValueRef::Integer(y)) => x.cmp(&y),
        (ValueRef::Text(x), ValueRef::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (ValueRef::Blob(x), ValueRef::Blob(y)) => x.cmp(y),
        (ValueRef::Date(x), ValueRef::Date(y)) => x.cmp(&y),
        (ValueRef::Time(x), ValueRef::Time(y)) => x.cmp(&y),
        (ValueRef::DateTime(x), ValueRef::DateTime(y)) => x.cmp(&y),
        (ValueRef::Timestamp(x), ValueRef::Timestamp(y)) => x.cmp(&y),
        (ValueRef::Uuid(x), ValueRef::Uuid(y)) => x.cmp(&y),
        (ValueRef::Json(x), ValueRef::Json(y)) => x.cmp(y),
        (ValueRef::Decimal(x), ValueRef::Decimal(y)) => {
            let approx =
                |n: crate::value::Numeric| n.mantissa() as f64 / 10f64.powi(n.scale() as i32);
            approx(x).total_cmp(&approx(y))
        }
        (x, y) if rank(&x) == 1 && rank(&y) == 1 => num(&x).total_cmp(&num(&y)),
        (x, y) => rank(&x).cmp(&rank(&y)),
    }
}
