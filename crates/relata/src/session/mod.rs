//! The session: identity map, object states, link sets and change tracking. Users hold typed
//! [`Key`]s; the session owns the objects. Nothing here does IO: reads (`load.rs`), commits and
//! the start and end of transaction blocks are machines (`io::Machine`) that the session hands
//! to its database's connection to run.

mod blocks;
mod children;
mod commit;
mod journal;
mod keys;
mod links;
mod load;
mod pages;
mod query;
mod raw;
mod refresh;
mod relations;
mod select;
mod store;
mod stream;
mod upsert;

use std::ops::{Index, IndexMut};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

pub use pages::{Cursor, KeysetPage, Page, Pages};
pub(crate) use query::EagerSpec;
pub use query::Query;
pub use raw::{FromRow, ToParam};
pub use relations::Related;
pub use select::{Columns, Has, Here, NoColumns, Outer, Parts, Projection, Select, Sources, There};
pub use store::ObjectState;

use crate::error::{Error, Result};
use crate::flush::{self, Plan};
use crate::hash::FxHashMap;
use crate::io::{Connection, Control, Database, StatementLog, TableNames};
use crate::model::{describe_row, Key, Model, TableDef};
use crate::relation::OnDelete;
use crate::relation::{AssocDef, Relation, Side};
use crate::transaction::TxOptions;
use crate::value::{ColumnType, Value};
pub(crate) use links::{LinkOp, LinkSet, NewEnds};
pub(crate) use store::{AnyStore, State, Store};

static NEXT_SESSION: AtomicU32 = AtomicU32::new(1);

/// A unit of work on a [`Database`]: add, read, modify and delete objects, link and unlink them,
/// query, then `commit()` everything in one transaction, or `rollback()`.
///
/// Dropping a session discards its pending changes (it holds no database transaction between
/// calls, so nothing is locked while you work).
///
/// ```
/// # use relata::{Database, Model, Association, schema};
/// # #[derive(Model)] #[relata(table = "students")]
/// # struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
/// # #[derive(Model)] #[relata(table = "courses")]
/// # struct Course { #[relata(primary_key)] id: Option<i64>, title: String }
/// # #[derive(Association)] #[relata(table = "student_course")]
/// # struct StudentCourse {
/// #     #[relata(references = Student, relation = "courses")] student_id: i64,
/// #     #[relata(references = Course, relation = "students")] course_id: i64,
/// # }
/// let db = Database::open("sqlite::memory:")?;
/// db.create_all(&schema![Student, Course, StudentCourse])?;
/// let mut s = db.session();
/// let alice = s.add(Student { id: None, name: "Alice".into() });
/// let math = s.add(Course { id: None, title: "Math".into() });
/// s.link(Student::courses(), alice, math);
/// assert_eq!(s.related(Course::students(), math)?, vec![alice]); // visible before any commit
/// s.commit()?;
/// assert!(s[alice].id.is_some());
/// # Ok::<(), relata::Error>(())
/// ```
///
/// # Commit, flush, savepoints, stale data, refresh
///
/// - [`commit`](Session::commit) writes every pending change in one transaction (`BEGIN`, one
///   statement per batch, `COMMIT`); if anything fails, nothing is written and the session is as it
///   was.
/// - [`transaction`](Session::transaction) runs a block on one connection in one transaction; inside
///   it, [`flush`](Session::flush) writes pending changes without committing (the batches between
///   `SAVEPOINT` and `RELEASE`), [`set_autoflush`](Session::set_autoflush) flushes before each
///   query, and [`savepoint`](Session::savepoint) (or a block inside the block) can fail on its own
///   (`SAVEPOINT`, then `RELEASE` or `ROLLBACK TO`).
/// - An update or delete whose row another session deleted, or whose `#[relata(version)]` it
///   changed, is [`Error::Stale`]: never a success for a write the database did not make.
/// - [`refresh`](Session::refresh) reads an object again (one statement, plus one per loaded
///   collection), [`expire_all`](Session::expire_all) and
///   [`Query::populate_existing`] make the next reads overwrite what the session holds, and
///   [`expunge`](Session::expunge) lets an object go. None overwrites unsaved changes.
///
/// ```
/// # use relata::{Database, Error, Model, schema};
/// # #[derive(Model)] #[relata(table = "students")]
/// # struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
/// # let db = Database::open("sqlite::memory:")?;
/// # db.create_all(&schema![Student])?;
/// let mut s = db.session();
/// let alice = s.add(Student { id: None, name: "Alice".into() });
/// s.commit()?;
/// let mut other = db.session(); // another user deletes her
/// let k = other.find::<Student>(s.id(alice).unwrap())?.unwrap();
/// other.delete(k);
/// other.commit()?;
/// s[alice].name = "Алиса".into();
/// let e = s.commit().unwrap_err(); // UPDATE matched no row
/// assert!(matches!(e, Error::Stale { statement: "UPDATE", .. }));
/// assert_eq!(s[alice].name, "Алиса"); // the session keeps the change
/// # Ok::<(), relata::Error>(())
/// ```
pub struct Session {
    db: Database,
    id: u32,
    stores: Vec<Option<Box<dyn AnyStore>>>,
    /// Model slots in first-use order: the flush's tie-break between unrelated tables.
    store_order: Vec<usize>,
    links: Vec<Option<LinkSet>>,
    link_order: Vec<usize>,
    strict: bool,
    log: StatementLog,
    sql_cache: SqlCache,
    /// The connection of the current `transaction` block, if any.
    pinned: Option<Box<dyn Connection>>,
    /// The current block's options (a `commit()` inside it opens the next transaction with
    /// them).
    block: TxOptions,
    /// How many flushes the block's open transaction holds (each numbered, from 0, in the
    /// stores' and link sets' journals).
    flushes: u32,
    /// The savepoints open, innermost last: the number of flushes when each began.
    savepoints: Vec<u32>,
    /// Whether queries in a read-write block flush first.
    autoflush: bool,
    /// Whether the pinned connection's transaction was begun by a `flush()` outside any block
    /// (it lasts until `commit()` or `rollback()`), rather than by a block.
    implicit: bool,
    /// The stores (by slot) an upsert wrote to inside the open transaction: read again if it
    /// rolls back.
    upserted: Vec<usize>,
    /// The database's table names, once a commit that deletes objects needed them.
    tables: Option<Arc<TableNames>>,
}

/// Statements of a fixed shape, rendered once per session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CachedSql {
    /// A model's select by primary key.
    ById,
    /// A lazy load from one side.
    LazyLoad(Side),
}

/// Rendered SQL by shape and model or association slot.
#[derive(Default)]
pub(crate) struct SqlCache(FxHashMap<(CachedSql, usize), Arc<str>>);

impl SqlCache {
    pub(crate) fn get(
        &mut self,
        kind: CachedSql,
        slot: usize,
        render: impl FnOnce() -> String,
    ) -> Arc<str> {
        self.0
            .entry((kind, slot))
            .or_insert_with(|| render().into())
            .clone()
    }
}

impl Session {
    pub(crate) fn new(db: Database) -> Session {
        Session {
            db,
            id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
            stores: Vec::new(),
            store_order: Vec::new(),
            links: Vec::new(),
            link_order: Vec::new(),
            strict: false,
            log: StatementLog::default(),
            sql_cache: SqlCache::default(),
            pinned: None,
            block: TxOptions::new(),
            flushes: 0,
            savepoints: Vec::new(),
            autoflush: false,
            implicit: false,
            upserted: Vec::new(),
            tables: None,
        }
    }

    /// The database this session works on.
    pub fn database(&self) -> &Database {
        &self.db
    }

    pub(crate) fn ensure_store<M: Model>(&mut self) {
        let slot = (M::TABLE.slot)();
        if self.stores.len() <= slot {
            self.stores.resize_with(slot + 1, || None);
        }
        if self.stores[slot].is_none() {
            self.stores[slot] = Some(Box::new(Store::<M>::new()));
            self.store_order.push(slot);
        }
    }

    fn store<M: Model>(&self) -> Option<&Store<M>> {
        let s: &dyn AnyStore = self.stores.get((M::TABLE.slot)())?.as_deref()?;
        (s as &dyn std::any::Any).downcast_ref::<Store<M>>()
    }

    fn store_mut<M: Model>(&mut self) -> &mut Store<M> {
        self.ensure_store::<M>();
        self.stores[(M::TABLE.slot)()]
            .as_mut()
            .and_then(|s| (&mut **s as &mut dyn std::any::Any).downcast_mut::<Store<M>>())
            .expect("store was just ensured")
    }

    pub(crate) fn any_store(&self, table_slot: usize) -> Option<&dyn AnyStore> {
        self.stores.get(table_slot)?.as_deref()
    }

    fn links_mut(&mut self, def: &'static AssocDef) -> &mut LinkSet {
        let slot = (def.slot)();
        if self.links.len() <= slot {
            self.links.resize_with(slot + 1, || None);
        }
        if self.links[slot].is_none() {
            self.links[slot] = Some(LinkSet::new(def));
            self.link_order.push(slot);
        }
        self.links[slot].as_mut().expect("just ensured")
    }

    fn check<M: Model>(&self, key: Key<M>) {
        assert!(
            key.session == self.id,
            "{key:?} belongs to another session; keys are only valid in the session that made them (use Session::find with the id)"
        );
    }

    fn entry_state<M: Model>(&self, key: Key<M>) -> State {
        self.check(key);
        self.store::<M>().expect("a key implies a store").entries[key.slot as usize].state
    }

    /// Adds a new object; it is inserted at the next commit. Returns its key, valid before and
    /// after the commit. An object added with an id set inserts that id.
    pub fn add<M: Model>(&mut self, obj: M) -> Key<M> {
        let slot = self.store_mut::<M>().add(obj);
        Key::new(self.id, slot)
    }

    /// Puts an object into the session as if loaded from the database (for planner tests).
    #[cfg(test)]
    pub(crate) fn adopt<M: Model>(&mut self, obj: M) -> Key<M> {
        let id = obj.id().expect("adopted objects have ids");
        let store = self.store_mut::<M>();
        let slot = store.entries.len() as u32;
        store.entries.push(store::Entry {
            obj,
            state: State::Persistent,
            snapshot: None,
            expired: false,
        });
        store.by_id.insert(id, slot);
        Key::new(self.id, slot)
    }

    /// Adds several objects; returns their keys in order.
    pub fn add_all<M: Model>(&mut self, objs: impl IntoIterator<Item = M>) -> Vec<Key<M>> {
        let id = self.id;
        let store = self.store_mut::<M>();
        objs.into_iter()
            .map(|o| Key::new(id, store.add(o)))
            .collect()
    }

    /// The object behind a key (also `&session[key]`).
    pub fn get<M: Model>(&self, key: Key<M>) -> &M {
        self.check(key);
        &self.store::<M>().expect("a key implies a store").entries[key.slot as usize].obj
    }

    /// The object behind a key, for writing (also `&mut session[key]`): the session compares it
    /// with its last committed state at commit and updates the changed columns only.
    pub fn get_mut<M: Model>(&mut self, key: Key<M>) -> &mut M {
        self.check(key);
        self.store_mut::<M>().get_mut(key.slot)
    }

    /// The object's primary key. A generated key (`Option<i64>`) is `None` until the object's
    /// first commit; a key the application chose is known from the start.
    pub fn id<M: Model>(&self, key: Key<M>) -> Option<M::Id> {
        self.check(key);
        let store = self.store::<M>().expect("a key implies a store");
        if M::TABLE.chosen_key.is_none() && AnyStore::id(store, key.slot).is_none() {
            // Until committed, a generated key the user set by hand is only a request.
            return None;
        }
        store.stored(key.slot).primary_key()
    }

    /// Where the object stands: new, persistent, modified, deleted or detached.
    pub fn state<M: Model>(&self, key: Key<M>) -> ObjectState {
        self.check(key);
        self.store::<M>()
            .expect("a key implies a store")
            .public_state(key.slot)
    }

    /// Marks an object for deletion at the next commit (a new object is simply dropped). Its links
    /// go with it: the commit deletes its rows in every association table that references its
    /// model (one statement per association, before the object's own `DELETE`, so no
    /// `ON DELETE CASCADE` is needed), and the session stops showing it in any collection at once.
    ///
    /// Adding another object with the deleted one's primary key before the commit makes the
    /// commit an `UPDATE` of the row (a "row switch", as SQLAlchemy does): rows of other tables
    /// that reference it stay valid, the old object's pairs are deleted and the new one's
    /// inserted. If the row was deleted elsewhere meanwhile, that is [`Error::Stale`].
    pub fn delete<M: Model>(&mut self, key: Key<M>) {
        self.check(key);
        self.delete_object(M::TABLE, key.slot);
    }

    /// Deletes object `slot` of `table`'s model, then does to the children the session holds
    /// what the foreign keys that reference it say: `cascade` deletes them (and theirs), `set
    /// null` unlinks them, so that every view shows at once what the commit will leave.
    pub(crate) fn delete_object(&mut self, table: &'static TableDef, slot: u32) {
        let Some(state) = self.any_store((table.slot)()).map(|s| s.state(slot)) else {
            return;
        };
        if !matches!(state, State::New | State::Persistent) {
            return;
        }
        let children = self.children_held(table, slot);
        if let Some(store) = self.stores[(table.slot)()].as_deref_mut() {
            store.delete(slot);
        }
        if state == State::New {
            for links in self.links.iter_mut().flatten() {
                if links.def.left.table.name == table.name {
                    links.drop_new_object(Side::Left, slot);
                }
                if links.def.right.table.name == table.name {
                    links.drop_new_object(Side::Right, slot);
                }
            }
        }
        for (def, on_delete, kids) in children {
            for child in kids {
                match on_delete {
                    OnDelete::Cascade => self.delete_object(def.left.table, child),
                    OnDelete::SetNull => {
                        self.unlink_parent(def, child, slot);
                    }
                    OnDelete::NoAction | OnDelete::Restrict => {}
                }
            }
        }
    }

    /// The object with this primary key: from the identity map if the session holds it, else
    /// loaded. `None` if there is no such row or it is deleted in this session. The key is the
    /// model's [`Model::Id`]: an `i64` for a generated key, or the type of a chosen one.
    ///
    /// ```
    /// use relata::{schema, Association, Database, Model};
    ///
    /// #[derive(Model)]
    /// struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    ///
    /// /// Courses are keyed by the code the school gives them.
    /// #[derive(Model)]
    /// struct Course { #[relata(primary_key)] code: String, title: String }
    ///
    /// #[derive(Association)]
    /// struct Enrollment {
    ///     #[relata(references = Student, relation = "courses")]
    ///     student_id: i64,
    ///     #[relata(references = Course, relation = "students")]
    ///     course_code: String,
    /// }
    ///
    /// let db = Database::open("sqlite::memory:")?;
    /// db.create_all(&schema![Student, Course, Enrollment])?;
    /// let mut s = db.session();
    /// let alice = s.add(Student { id: None, name: "Alice".into() });
    /// let math = s.add(Course { code: "MATH101".into(), title: "Math".into() });
    /// assert_eq!(s.id(math).as_deref(), Some("MATH101")); // known before the commit
    /// s.link(Student::courses(), alice, math);
    /// s.commit()?;
    ///
    /// let mut other = db.session();
    /// let math = other.find::<Course>("MATH101")?.expect("stored");
    /// assert_eq!(other.related(Course::students(), math)?.len(), 1);
    /// let first = other.find::<Student>(1)?.expect("stored");
    /// assert_eq!(other[first].name, "Alice");
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn find<M: Model>(&mut self, id: impl Into<M::Id>) -> Result<Option<Key<M>>> {
        let key = ColumnType::to_value(&id.into()).to_owned();
        if let Some(store) = self.store::<M>() {
            let held = match (M::TABLE.chosen_key, &key) {
                (None, Value::Integer(id)) => Some(*id),
                (None, _) => None,
                (Some(_), key) => store.keys.get(key.as_ref()),
            };
            if let Some(slot) = held.and_then(|id| store.by_id.get(id)) {
                let e = &store.entries[slot as usize];
                if !e.expired {
                    let key = Key::new(self.id, slot);
                    return Ok((e.state == State::Persistent).then_some(key));
                }
            }
        }
        self.select_by_id::<M>(key)
    }

    /// Starts a query on `M`.
    pub fn query<M: Model>(&mut self) -> Query<'_, M> {
        Query::new(self)
    }

    /// Makes lazy loads errors (`Error::LazyLoad`), so tests can prove a block does no N+1.
    pub fn set_strict(&mut self, strict: bool) {
        self.strict = strict;
    }

    /// How many statements this session has run.
    pub fn statements_run(&self) -> u64 {
        self.log.count
    }

    /// Runs `body` and fails with `Error::QueryBudget` if it ran more than `limit` statements
    /// (every statement counts, `BEGIN` and `COMMIT` included); the error lists each statement
    /// with why it ran, naming the relation of any lazy load.
    pub fn query_budget<T>(
        &mut self,
        limit: usize,
        body: impl FnOnce(&mut Session) -> Result<T>,
    ) -> Result<T> {
        let outer = self.log.recording.replace(Vec::new());
        let result = body(self);
        let ran = std::mem::replace(&mut self.log.recording, outer).unwrap_or_default();
        if let Some(outer) = &mut self.log.recording {
            outer.extend(ran.iter().cloned());
        }
        if ran.len() > limit {
            return Err(Error::QueryBudget {
                limit,
                statements: ran,
            });
        }
        result
    }

    /// Whether a commit would write anything.
    pub fn has_changes(&self) -> bool {
        self.stores.iter().flatten().any(|s| {
            s.new_slots().iter().any(|&x| s.state(x) == State::New)
                || !s.deleted_slots().is_empty()
                || s.dirty_slots()
                    .iter()
                    .any(|&x| !s.changed_columns(x).is_empty())
        }) || self
            .links
            .iter()
            .flatten()
            .any(|l| l.live().next().is_some())
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("database", &self.db)
            .field("id", &self.id)
            .field("in_transaction_block", &self.pinned.is_some())
            .field("has_changes", &self.has_changes())
            .field("statements_run", &self.log.count)
            .finish()
    }
}

impl<M: Model> Index<Key<M>> for Session {
    type Output = M;
    fn index(&self, key: Key<M>) -> &M {
        self.get(key)
    }
}

impl<M: Model> IndexMut<Key<M>> for Session {
    fn index_mut(&mut self, key: Key<M>) -> &mut M {
        self.get_mut(key)
    }
}

/// `Student.courses`: a relation's name for messages.
pub(crate) fn relation_name(def: &AssocDef, side: Side) -> String {
    let (from, _) = def.sides(side);
    format!("{}.{}", from.table.model, from.relation)
}
