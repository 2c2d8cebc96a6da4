//! Reading: queries merged into the identity map, and collection loads (lazy for one object,
//! eager for every result of a query, one statement either way).

use std::cmp::Ordering;

use super::{connection, relation_name, AnyStore, CachedSql, LinkSet, Session, State};
use crate::backend::Runner;
use crate::error::{Error, Result};
use crate::model::{Key, Model};
use crate::query::{EagerSpec, QuerySpec};
use crate::relation::AssocDef;
use crate::sql::{self, Parents};
use crate::value::{RowSource, Value, ValueRef};

impl Session {
    /// Runs a query and its eager loads; returns the keys of the results in order, leaving out
    /// objects deleted in this session.
    pub(crate) fn run_query<M: Model>(
        &mut self,
        spec: &QuerySpec,
        eager: &[EagerSpec],
    ) -> Result<Vec<Key<M>>> {
        let mut params = Vec::new();
        let sql = sql::select(self.db.dialect(), M::TABLE, spec, &mut params);
        let slots = self.run_select::<M>(&sql, &params)?;
        for e in eager {
            (e.ensure_target)(self);
            self.load_related(
                e.def,
                e.from_left,
                Parents::Query(M::TABLE, spec),
                Vec::new(),
                &slots,
            )?;
        }
        Ok(slots.into_iter().map(|s| Key::new(self.id, s)).collect())
    }

    /// The object with this primary key, by one cached statement.
    pub(crate) fn select_by_id<M: Model>(&mut self, id: i64) -> Result<Option<Key<M>>> {
        let d = self.db.dialect();
        let sql = self.sql_cache.get(CachedSql::ById, (M::TABLE.slot)(), || {
            let pk = crate::model::Column::<M, i64>::new(M::TABLE.primary_key);
            let spec = QuerySpec {
                filter: Some(pk.eq(0).expr),
                ..QuerySpec::default()
            };
            sql::select(d, M::TABLE, &spec, &mut Vec::new())
        });
        let slots = self.run_select::<M>(&sql, &[Value::Integer(id)])?;
        Ok(slots.first().map(|&s| Key::new(self.id, s)))
    }

    /// Runs a select of `M`'s columns, merging the rows into the identity map; returns their
    /// slots in order, leaving out objects deleted in this session.
    fn run_select<M: Model>(&mut self, sql: &str, params: &[Value]) -> Result<Vec<u32>> {
        self.ensure_store::<M>();
        let db = self.db.clone();
        let mut borrowed = None;
        let conn = connection(&mut self.pinned, &mut borrowed, &db)?;
        let mut run = Runner::new(conn, &mut self.log, db.echo());
        let store = self.stores[(M::TABLE.slot)()].as_mut().expect("ensured");
        let mut slots = Vec::new();
        run.query(
            &format_args!("query {}", M::TABLE.name),
            sql,
            params,
            &mut |row| {
                let slot = store.merge_row(row, 0)?;
                if store.state(slot) == State::Persistent {
                    slots.push(slot);
                }
                Ok(())
            },
        )?;
        Ok(slots)
    }

    /// Counts the rows a query matches.
    pub(crate) fn run_count<M: Model>(&mut self, spec: &QuerySpec) -> Result<u64> {
        let mut params = Vec::new();
        let sql = sql::count(self.db.dialect(), M::TABLE, spec, &mut params);
        let db = self.db.clone();
        let mut borrowed = None;
        let conn = connection(&mut self.pinned, &mut borrowed, &db)?;
        let mut run = Runner::new(conn, &mut self.log, db.echo());
        let mut count = 0;
        run.query(
            &format_args!("count {}", M::TABLE.name),
            &sql,
            &params,
            &mut |row| {
                count = row
                    .get_i64(0)
                    .map_err(|e| Error::Database {
                        message: e.0,
                        sql: None,
                    })?
                    .unwrap_or(0);
                Ok(())
            },
        )?;
        Ok(count.max(0) as u64)
    }

    /// Makes sure the collection of `slot` is loaded: a new object's is empty; otherwise one
    /// statement loads it, unless the session is strict.
    pub(crate) fn ensure_loaded(
        &mut self,
        def: &'static AssocDef,
        from_left: bool,
        slot: u32,
        new: bool,
    ) -> Result<()> {
        let links = self.links_mut(def);
        if new || links.side(from_left, slot).is_some_and(|s| s.loaded) {
            return Ok(());
        }
        let (from, _) = def.sides(from_left);
        let store = self
            .any_store((from.table.slot)())
            .expect("a key implies a store");
        let Some(id) = store.id(slot) else {
            // Detached without ever being stored: nothing in the database.
            self.links_mut(def).side_mut(from_left, slot).loaded = true;
            return Ok(());
        };
        if self.strict {
            return Err(Error::LazyLoad {
                relation: relation_name(def, from_left),
                object: store.describe(slot),
            });
        }
        self.load_related(
            def,
            from_left,
            Parents::One,
            vec![Value::Integer(id)],
            &[slot],
        )
    }

    /// Loads the collections of `parents` (slots of the `from` side), merging the related objects
    /// into the identity map; collections already loaded are left as they are.
    ///
    /// One statement either way: for one parent (a lazy load) a join of the association to the
    /// targets; for the results of a query (an eager load) see `sql::select_eager`.
    fn load_related(
        &mut self,
        def: &'static AssocDef,
        from_left: bool,
        which: Parents<'_>,
        mut params: Vec<Value>,
        parents: &[u32],
    ) -> Result<()> {
        let (from, to) = def.sides(from_left);
        let d = self.db.dialect();
        let lazy_for = match (&which, params.first()) {
            (Parents::One, Some(Value::Integer(id))) => Some(*id),
            _ => None,
        };
        let why = LoadWhy {
            def,
            from_left,
            lazy_for,
        };
        let (from_slot, to_slot) = ((from.table.slot)(), (to.table.slot)());
        self.links_mut(def);
        let db = self.db.clone();
        let mut borrowed = None;
        let conn = connection(&mut self.pinned, &mut borrowed, &db)?;
        let mut run = Runner::new(conn, &mut self.log, db.echo());
        let joined = lazy_for.is_some();
        let sql = match which {
            Parents::One => {
                let dir = usize::from(from_left);
                let cached = self
                    .sql_cache
                    .get(CachedSql::LazyLoad(dir), (def.slot)(), || {
                        sql::select_related(d, def, from_left, which, &mut Vec::new())
                    });
                params = vec![Value::Integer(lazy_for.expect("one parent"))];
                cached
            }
            Parents::Query(parent, spec) => {
                sql::select_eager(d, def, from_left, parent, spec, &mut params).into()
            }
        };
        // In an eager load's rows, the pair's target key follows the target's columns.
        let to_column = to.table.columns.len() + 1;
        let links = self.links[(def.slot)()].as_mut().expect("ensured");
        // The target store is taken out so the parent lookups can read the other store (or, for a
        // self-referential relation, the same one) while targets are merged.
        let mut target = self.stores[to_slot].take().expect("target store ensured");
        let mut fill = Fill {
            def,
            from_left,
            current: None,
            incomplete: Vec::new(),
            early: Vec::new(),
            scratch: Vec::new(),
            scratch_for: None,
        };
        let result = run.query(&why, &sql, &params, &mut |row| {
            // An eager load's row is a target when its last column is NULL, else a pair.
            let pair_to = if joined {
                None
            } else {
                match row
                    .get_i64(to_column)
                    .map_err(|e| fill.decode(to.column, e.0))?
                {
                    None => return target.merge_row(row, 0).map(drop),
                    to => to,
                }
            };
            let parents = if from_slot == to_slot {
                &*target
            } else {
                self.stores[from_slot]
                    .as_deref()
                    .expect("parent store exists")
            };
            let Some(pslot) = fill.parent(row, parents, links)? else {
                return Ok(());
            };
            let tslot = if joined {
                target.merge_row(row, 1)?
            } else {
                let tid = pair_to.expect("a pair row");
                match target.slot_of(tid) {
                    Some(t) => t,
                    None => {
                        // Its target row has not come yet (the database returned the arms
                        // interleaved): place the pair once every row is in.
                        fill.early.push((pslot, tid));
                        return Ok(());
                    }
                }
            };
            let (l, r) = if from_left {
                (pslot, tslot)
            } else {
                (tslot, pslot)
            };
            if links.loaded_pair(l, r, from_left) {
                fill.scratch.push(tslot);
            }
            Ok(())
        });
        fill.flush(links);
        for &(pslot, tid) in &fill.early {
            match target.slot_of(tid) {
                Some(tslot) => {
                    let (l, r) = if from_left {
                        (pslot, tslot)
                    } else {
                        (tslot, pslot)
                    };
                    if links.loaded_pair(l, r, from_left) {
                        let side = links.side_mut(from_left, pslot);
                        side.items.push(tslot);
                        side.sorted = false;
                    }
                }
                // Cannot happen within one statement's snapshot; if it does, leave the
                // collection unloaded so its next access reads it whole.
                None => fill.incomplete.push(pslot),
            }
        }
        self.stores[to_slot] = Some(target);
        result?;
        let links = self.links[(def.slot)()].as_mut().expect("ensured");
        for &p in parents {
            if fill.incomplete.contains(&p) {
                continue;
            }
            let side = links.side_mut(from_left, p);
            if !side.loaded {
                side.loaded = true;
                if side.items.is_empty() {
                    side.sorted = true;
                }
            }
        }
        for p in fill.incomplete {
            // Keep only the pending links, as for any unloaded collection.
            let side = links.side_mut(from_left, p);
            side.items.clear();
            side.sorted = false;
        }
        Ok(())
    }

    /// The live members of a loaded collection, sorted into the relation's order.
    pub(crate) fn collection<K>(
        &mut self,
        def: &'static AssocDef,
        from_left: bool,
        slot: u32,
        key: impl Fn(u32) -> K,
    ) -> Vec<K> {
        let (from, to) = def.sides(from_left);
        let to_slot = (to.table.slot)();
        let def_slot = (def.slot)();
        let target = self.stores[to_slot]
            .as_deref()
            .expect("target store ensured");
        let Some(links) = self.links.get_mut(def_slot).and_then(Option::as_mut) else {
            return Vec::new();
        };
        let side = links.side_mut(from_left, slot);
        if !side.sorted {
            let order_col = from
                .order_by
                .and_then(|name| target.table().columns.iter().position(|c| c.name == name));
            side.items.sort_by(|&a, &b| {
                let by_col = match order_col {
                    Some(c) => compare_values(target.value(a, c), target.value(b, c)),
                    None => Ordering::Equal,
                };
                by_col
                    .then_with(|| {
                        let ia = target.id(a).unwrap_or(i64::MAX);
                        let ib = target.id(b).unwrap_or(i64::MAX);
                        ia.cmp(&ib)
                    })
                    .then(a.cmp(&b))
            });
            side.sorted = true;
        }
        let mut out = Vec::with_capacity(side.items.len());
        if target.all_live() {
            out.extend(side.items.iter().map(|&t| key(t)));
        } else {
            out.extend(
                side.items
                    .iter()
                    .filter(|&&t| matches!(target.state(t), State::New | State::Persistent))
                    .map(|&t| key(t)),
            );
        }
        out
    }
}

/// Groups the rows of a collection load by parent (rows come ordered by parent id).
struct Fill {
    def: &'static AssocDef,
    from_left: bool,
    /// The parent of the previous row: (id, slot, whether its collection is skipped).
    current: Option<(i64, u32, bool)>,
    /// Parents whose rows could not all be placed.
    incomplete: Vec<u32>,
    /// Pairs that came before their target's row: (parent slot, target id).
    early: Vec<(u32, i64)>,
    /// The targets of the current parent's rows, not yet in its collection.
    scratch: Vec<u32>,
    /// The parent `scratch` belongs to.
    scratch_for: Option<u32>,
}

impl Fill {
    fn decode(&self, column: &'static str, reason: String) -> Error {
        Error::Decode {
            table: self.def.table,
            column,
            reason,
        }
    }

    fn read_id(&self, row: &dyn RowSource, idx: usize, column: &'static str) -> Result<i64> {
        row.get_i64(idx)
            .map_err(|e| e.0)
            .and_then(|v| v.ok_or_else(|| "NULL key".to_owned()))
            .map_err(|reason| self.decode(column, reason))
    }

    /// The slot of this row's parent, or `None` when its rows are to be skipped (its collection
    /// is loaded already, or it is not in the session).
    fn parent(
        &mut self,
        row: &dyn RowSource,
        parents: &dyn AnyStore,
        links: &mut LinkSet,
    ) -> Result<Option<u32>> {
        let (from, _) = self.def.sides(self.from_left);
        let pid = self.read_id(row, 0, from.column)?;
        if let Some((id, slot, skip)) = self.current {
            if id == pid {
                return Ok((!skip).then_some(slot));
            }
        }
        self.flush(links);
        let Some(slot) = parents.slot_of(pid) else {
            self.current = Some((pid, u32::MAX, true));
            return Ok(None);
        };
        let side = links.side_mut(self.from_left, slot);
        let skip = side.loaded;
        if !skip {
            // Rows arrive in the target's key order; pending links already in view break it.
            side.sorted = side.items.is_empty() && from.order_by.is_none();
        }
        self.current = Some((pid, slot, skip));
        if !skip {
            self.scratch_for = Some(slot);
        }
        Ok((!skip).then_some(slot))
    }

    /// Moves the rows gathered for the current parent into its collection: one allocation of
    /// the right size instead of a collection grown row by row.
    fn flush(&mut self, links: &mut LinkSet) {
        if let Some(p) = self.scratch_for.take() {
            let side = links.side_mut(self.from_left, p);
            if side.items.is_empty() {
                side.items = self.scratch.as_slice().to_vec();
            } else {
                side.items.extend_from_slice(&self.scratch);
            }
            self.scratch.clear();
        }
    }
}

/// Why a collection load ran, formatted only if someone looks (a query budget, tracing, echo).
struct LoadWhy {
    def: &'static AssocDef,
    from_left: bool,
    /// For a lazy load: the parent's id.
    lazy_for: Option<i64>,
}

impl std::fmt::Display for LoadWhy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rel = relation_name(self.def, self.from_left);
        let (from, _) = self.def.sides(self.from_left);
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
            ValueRef::Integer(_) | ValueRef::Real(_) | ValueRef::Bool(_) => 1,
            ValueRef::Text(_) => 2,
            ValueRef::Blob(_) => 3,
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
        (ValueRef::Integer(x), ValueRef::Integer(y)) => x.cmp(&y),
        (ValueRef::Text(x), ValueRef::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (ValueRef::Blob(x), ValueRef::Blob(y)) => x.cmp(y),
        (x, y) if rank(&x) == 1 && rank(&y) == 1 => num(&x).total_cmp(&num(&y)),
        (x, y) => rank(&x).cmp(&rank(&y)),
    }
}
