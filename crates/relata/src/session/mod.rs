//! The session: identity map, object states, link sets and change tracking. Users hold typed
//! [`Key`]s; the session owns the objects. Nothing here does IO: reads (`load.rs`), commits and
//! the start and end of transaction blocks are machines (`io::Machine`) that the session hands
//! to its database's connection to run.

mod links;
mod load;
mod store;

use std::ops::{Index, IndexMut};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

pub use store::ObjectState;

use crate::error::{Error, Result};
use crate::flush::{self, Plan};
use crate::hash::FxHashMap;
use crate::io::{Connection, Control, Database, StatementLog};
use crate::model::{Key, Model};
use crate::query::Query;
use crate::relation::{AssocDef, Relation};
use crate::transaction::TxOptions;
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
}

/// Statements of a fixed shape, rendered once per session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CachedSql {
    /// A model's select by primary key.
    ById,
    /// A lazy load in one direction (1 = from the left side).
    LazyLoad(usize),
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

    /// The object's database id: `None` until its first commit.
    pub fn id<M: Model>(&self, key: Key<M>) -> Option<i64> {
        self.check(key);
        let store = self.store::<M>().expect("a key implies a store");
        AnyStore::id(store, key.slot)
    }

    /// Where the object stands: new, persistent, modified, deleted or detached.
    pub fn state<M: Model>(&self, key: Key<M>) -> ObjectState {
        self.check(key);
        self.store::<M>()
            .expect("a key implies a store")
            .public_state(key.slot)
    }

    /// Marks an object for deletion at the next commit (a new object is simply dropped). Its links
    /// go with it: the database removes its association rows (`ON DELETE CASCADE`), and the
    /// session stops showing it in any collection at once.
    pub fn delete<M: Model>(&mut self, key: Key<M>) {
        let was_new = self.entry_state(key) == State::New;
        self.store_mut::<M>().delete(key.slot);
        if was_new {
            let table = M::TABLE.name;
            for links in self.links.iter_mut().flatten() {
                if links.def.left.table.name == table {
                    links.drop_new_object(true, key.slot);
                }
                if links.def.right.table.name == table {
                    links.drop_new_object(false, key.slot);
                }
            }
        }
    }

    /// The object with this database id: from the identity map if the session holds it, else
    /// loaded. `None` if there is no such row or it is deleted in this session.
    pub fn find<M: Model>(&mut self, id: i64) -> Result<Option<Key<M>>> {
        if let Some(store) = self.store::<M>() {
            if let Some(slot) = store.by_id.get(id) {
                let key = Key::new(self.id, slot);
                return Ok((store.entries[slot as usize].state == State::Persistent).then_some(key));
            }
        }
        self.select_by_id::<M>(id)
    }

    /// Starts a query on `M`.
    pub fn query<M: Model>(&mut self) -> Query<'_, M> {
        Query::new(self)
    }

    /// Which ends of a relation's pair are new objects, and the pair in association order.
    fn pair<F: Model, T: Model>(
        &self,
        rel: Relation<F, T>,
        from: Key<F>,
        to: Key<T>,
    ) -> ((u32, u32), NewEnds) {
        let from_new = self.entry_state(from) == State::New;
        let to_new = self.entry_state(to) == State::New;
        if rel.from_left {
            (
                (from.slot, to.slot),
                NewEnds {
                    left: from_new,
                    right: to_new,
                },
            )
        } else {
            (
                (to.slot, from.slot),
                NewEnds {
                    left: to_new,
                    right: from_new,
                },
            )
        }
    }

    /// Links two objects through a relationship; both directions see it at once. Returns whether
    /// anything changed (linking a linked pair is a no-op; re-linking a pair unlinked in this
    /// session cancels the unlink).
    pub fn link<F: Model, T: Model>(
        &mut self,
        rel: Relation<F, T>,
        from: Key<F>,
        to: Key<T>,
    ) -> bool {
        self.change_link(rel, from, to, LinkOp::Add)
    }

    /// Unlinks two objects; returns whether anything changed.
    pub fn unlink<F: Model, T: Model>(
        &mut self,
        rel: Relation<F, T>,
        from: Key<F>,
        to: Key<T>,
    ) -> bool {
        self.change_link(rel, from, to, LinkOp::Remove)
    }

    fn change_link<F: Model, T: Model>(
        &mut self,
        rel: Relation<F, T>,
        from: Key<F>,
        to: Key<T>,
        op: LinkOp,
    ) -> bool {
        let ((l, r), new) = self.pair(rel, from, to);
        let links = self.links_mut(rel.def);
        match op {
            LinkOp::Add => links.link(l, r, new),
            LinkOp::Remove => links.unlink(l, r, new),
        }
    }

    /// Links `from` to each of `to`; returns how many links were new.
    pub fn extend<F: Model, T: Model>(
        &mut self,
        rel: Relation<F, T>,
        from: Key<F>,
        to: impl IntoIterator<Item = Key<T>>,
    ) -> usize {
        to.into_iter().filter(|&t| self.link(rel, from, t)).count()
    }

    /// Whether `from` is linked to `to` (loading `from`'s collection if needed).
    pub fn contains<F: Model, T: Model>(
        &mut self,
        rel: Relation<F, T>,
        from: Key<F>,
        to: Key<T>,
    ) -> Result<bool> {
        self.check(to);
        Ok(self.related_objects(rel, from)?.keys().any(|k| k == to))
    }

    /// The objects linked to `from`, in the relation's order (the target's primary key unless the
    /// relation declares an order; new objects last, in the order they were added). Loads the
    /// collection on first access, unless the session is strict (then it is an error).
    ///
    /// To read the objects rather than their keys, [`Session::related_objects`] borrows them
    /// without building a `Vec`.
    pub fn related<F: Model, T: Model>(
        &mut self,
        rel: Relation<F, T>,
        from: Key<F>,
    ) -> Result<Vec<Key<T>>> {
        Ok(self.related_objects(rel, from)?.keys().collect())
    }

    /// The objects linked to `from`, borrowed from the session: the same objects in the same
    /// order as [`Session::related`], read in place (no `Vec` of keys, no lookup per key), for
    /// loops that only read. Loads the collection on first access, as `related` does.
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
    /// for title in ["Math", "Физика", "化学"] {
    ///     let course = s.add(Course { id: None, title: title.into() });
    ///     s.link(Student::courses(), alice, course);
    /// }
    /// s.commit()?;
    /// let titles: Vec<&str> = s
    ///     .related_objects(Student::courses(), alice)?
    ///     .map(|c| c.title.as_str())
    ///     .collect();
    /// assert_eq!(titles, ["Math", "Физика", "化学"]);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn related_objects<F: Model, T: Model>(
        &mut self,
        rel: Relation<F, T>,
        from: Key<F>,
    ) -> Result<Related<'_, T>> {
        self.ensure_store::<T>();
        let new = self.entry_state(from) == State::New;
        self.ensure_loaded(rel.def, rel.from_left, from.slot, new)?;
        self.sort_collection(rel.def, rel.from_left, from.slot);
        let store = self.store::<T>().expect("ensured");
        Ok(Related {
            slots: self
                .collection_slots(rel.def, rel.from_left, from.slot)
                .iter(),
            entries: &store.entries,
            all_live: store.all_live(),
            session: self.id,
        })
    }

    /// Unlinks everything from `from`; returns how many links were removed.
    pub fn clear<F: Model, T: Model>(
        &mut self,
        rel: Relation<F, T>,
        from: Key<F>,
    ) -> Result<usize> {
        let current = self.related(rel, from)?;
        Ok(current
            .into_iter()
            .filter(|&t| self.unlink(rel, from, t))
            .count())
    }

    /// Makes `from`'s collection exactly `to`: unlinks what is not in it, links what is missing.
    /// Pairs in both are untouched (nothing is written for them).
    pub fn replace<F: Model, T: Model>(
        &mut self,
        rel: Relation<F, T>,
        from: Key<F>,
        to: impl IntoIterator<Item = Key<T>>,
    ) -> Result<()> {
        let wanted: Vec<Key<T>> = to.into_iter().collect();
        for t in self.related(rel, from)? {
            if !wanted.contains(&t) {
                self.unlink(rel, from, t);
            }
        }
        for t in wanted {
            self.link(rel, from, t);
        }
        Ok(())
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

    /// What a commit would do now, as data (no IO).
    pub fn plan(&self) -> Result<Plan> {
        flush::plan(self.view())
    }

    /// The statements a commit would run now, rendered with their parameters, without running
    /// anything (generated keys are shown as they would be numbered on a fresh table).
    pub fn pending_statements(&self) -> Result<Vec<String>> {
        let plan = self.plan()?;
        flush::render(&plan, self.view(), self.db.dialect())
    }

    pub(crate) fn view(&self) -> flush::View<'_> {
        flush::View {
            stores: &self.stores,
            store_order: &self.store_order,
            links: &self.links,
            link_order: &self.link_order,
        }
    }

    /// Writes every pending change in one transaction, in dependency order: inserts (parents
    /// first), updates, association rows (with the generated keys), then deletes.
    ///
    /// If any statement fails, the transaction is rolled back, the database is exactly as it was,
    /// and the session is exactly as it was before `commit()` (fix the cause and commit again, or
    /// `rollback()`). The error names the table, the constraint and the row.
    ///
    /// Inside [`Session::transaction`], `commit()` ends the block's transaction with the changes
    /// so far and opens the next one.
    pub fn commit(&mut self) -> Result<()> {
        self.commit_inner(true)
    }

    /// Commits; inside a transaction block, `reopen` starts the block's next transaction.
    fn commit_inner(&mut self, reopen: bool) -> Result<()> {
        let plan = flush::plan(self.view())?;
        let in_block = self.pinned.is_some();
        if in_block && self.block.is_read_only() && !plan.is_empty() {
            return Err(Error::ReadOnly);
        }
        if plan.is_empty() && (!in_block || reopen) {
            flush::apply(
                &plan,
                &flush::Generated::default(),
                &mut self.stores,
                &mut self.links,
            );
            return Ok(());
        }
        let dialect = self.db.dialect();
        let tx = if in_block {
            // The block's transaction is open: write into it, end it, and open the next.
            flush::Tx::Block {
                reopen: reopen.then(|| dialect.begin_with(self.block)),
            }
        } else {
            flush::Tx::Own(dialect.begin().into())
        };
        let view = flush::View {
            stores: &self.stores,
            store_order: &self.store_order,
            links: &self.links,
            link_order: &self.link_order,
        };
        let mut commit = flush::Commit::new(&plan, view, dialect, flush::Verify::Outcomes, tx);
        self.db
            .drive(self.pinned.as_mut(), &mut commit, &mut self.log)?;
        if in_block && reopen && !commit.reopened() {
            // The block goes on without a transaction of its own: each statement then runs in
            // its own, as outside a block.
            self.pinned = None;
        }
        let ids = commit.finish()?;
        flush::apply(&plan, &ids, &mut self.stores, &mut self.links);
        Ok(())
    }

    /// Runs `body` in one database transaction on one connection, then commits the session:
    /// the block's reads see one consistent snapshot and skip a transaction of their own each
    /// (several times faster for many small reads), and its changes land together.
    ///
    /// The transaction takes the write lock at once (`BEGIN IMMEDIATE` on SQLite), so other
    /// writers wait while the block runs; keep blocks short, and read in a read-only block
    /// ([`Session::transaction_with`] and [`TxOptions::read_only`]), which never waits for a
    /// writer. If `body` fails, the transaction is rolled back and the error returned; changes
    /// not yet committed stay pending in the session. If `body` panics, the transaction is rolled
    /// back as the panic leaves the block, and the session can run blocks again.
    /// A `commit()` inside the block lands the changes so far and continues in a new transaction.
    /// A block inside a block is part of the outer one.
    ///
    /// ```
    /// # use relata::{Database, Model, schema};
    /// # #[derive(Model)] #[relata(table = "students")]
    /// # struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student])?;
    /// let mut s = db.session();
    /// s.transaction(|s| {
    ///     for name in ["Alice", "Bob"] {
    ///         if s.query::<Student>().filter(Student::NAME.eq(name)).count()? == 0 {
    ///             s.add(Student { id: None, name: name.into() });
    ///         }
    ///     }
    ///     Ok(())
    /// })?; // committed here
    /// assert_eq!(s.query::<Student>().count()?, 2);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn transaction<T>(&mut self, body: impl FnOnce(&mut Session) -> Result<T>) -> Result<T> {
        self.transaction_with(TxOptions::new(), body)
    }

    /// [`Session::transaction`] with options: an isolation level, or a read-only block.
    ///
    /// A read-only block reads one consistent snapshot without taking a write lock (SQLite:
    /// a deferred `BEGIN`, so it neither waits for a writer nor holds one up; PostgreSQL and
    /// MySQL: `READ ONLY` at `REPEATABLE READ` unless another level is chosen). It commits
    /// nothing: changes made in it stay pending, and `commit()` inside it is
    /// [`Error::ReadOnly`].
    ///
    /// `body` may fail with the application's own error type, anything that can hold a relata
    /// error (`E: From<relata::Error>`); the block is rolled back all the same.
    ///
    /// ```
    /// # use relata::{Database, Model, TxOptions, schema};
    /// # #[derive(Model)] #[relata(table = "students")]
    /// # struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student])?;
    /// let mut s = db.session();
    /// let (count, names) = s.transaction_with(TxOptions::new().read_only(), |s| {
    ///     let count = s.query::<Student>().count()?;
    ///     let keys = s.query::<Student>().order_by(Student::NAME.asc()).all()?;
    ///     Ok::<_, relata::Error>((count, keys.len()))
    /// })?;
    /// assert_eq!((count, names), (0, 0)); // both read the same snapshot
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn transaction_with<T, E: From<Error>>(
        &mut self,
        options: TxOptions,
        body: impl FnOnce(&mut Session) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        if self.pinned.is_some() {
            return body(self);
        }
        let mut conn = self.db.engine.checkout()?;
        let mut begin = Control::new("begin", vec![self.db.dialect().begin_with(options)]);
        self.db.drive(Some(&mut conn), &mut begin, &mut self.log)?;
        begin.finish()?;
        self.pinned = Some(conn);
        self.block = options;
        // Ends the block however `body` leaves it, a panic included: a transaction still open
        // is rolled back and the connection goes back to the pool, so the session can run
        // blocks again and other sessions are not locked out.
        let block = Block(self);
        let s = &mut *block.0;
        match body(s) {
            Ok(value) => {
                let ended = if s.block.is_read_only() {
                    s.end_read_only_block()
                } else {
                    s.commit_inner(false)
                };
                ended.map(|()| value).map_err(E::from)
            }
            Err(e) => Err(e),
        }
    }

    /// Ends a read-only block's transaction; pending changes stay pending.
    fn end_read_only_block(&mut self) -> Result<()> {
        let mut commit = Control::new("commit", vec!["COMMIT".into()]);
        self.db
            .drive(self.pinned.as_mut(), &mut commit, &mut self.log)?;
        commit.finish()
    }

    /// Discards every pending change: new objects become detached, modified objects get their
    /// committed values back, deleted objects and unlinked pairs come back, new links vanish.
    pub fn rollback(&mut self) {
        for s in self.stores.iter_mut().flatten() {
            s.rolled_back();
        }
        for l in self.links.iter_mut().flatten() {
            l.rolled_back();
        }
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

/// The end of a transaction block, on every way out of it (a panic included): the block's
/// connection leaves the session, rolled back if its transaction is still open.
struct Block<'s>(&'s mut Session);

impl Drop for Block<'_> {
    fn drop(&mut self) {
        let s = &mut *self.0;
        s.block = TxOptions::new();
        if let Some(mut conn) = s.pinned.take() {
            if conn.in_transaction() {
                // The error that matters is the block's own; a connection that cannot roll back
                // reports itself broken and the pool drops it.
                let mut rollback = Control::new("rollback", vec!["ROLLBACK".into()]);
                let _ = s.db.drive(Some(&mut conn), &mut rollback, &mut s.log);
            }
        }
    }
}

/// The objects linked to one object, borrowed from its session: an iterator over `&T` in the
/// relation's order, from [`Session::related_objects`]. It allocates nothing; the session cannot
/// change while it lives.
pub struct Related<'s, T: Model> {
    slots: std::slice::Iter<'s, u32>,
    entries: &'s [store::Entry<T>],
    /// No target is deleted or detached, so no slot needs its state checked.
    all_live: bool,
    session: u32,
}

impl<'s, T: Model> Related<'s, T> {
    /// The next slot whose object is still in the collection (not deleted or detached).
    fn next_slot(&mut self) -> Option<u32> {
        if self.all_live {
            return self.slots.next().copied();
        }
        self.slots
            .by_ref()
            .copied()
            .find(|&s| self.entries[s as usize].state.is_live())
    }

    /// The remaining objects with their keys, for when the loop also links, unlinks or looks an
    /// object up again later.
    pub fn with_keys(mut self) -> impl Iterator<Item = (Key<T>, &'s T)> {
        std::iter::from_fn(move || {
            let slot = self.next_slot()?;
            Some((
                Key::new(self.session, slot),
                &self.entries[slot as usize].obj,
            ))
        })
    }

    /// The remaining objects' keys only.
    pub fn keys(self) -> impl Iterator<Item = Key<T>> + 's {
        self.with_keys().map(|(k, _)| k)
    }
}

impl<'s, T: Model> Iterator for Related<'s, T> {
    type Item = &'s T;

    fn next(&mut self) -> Option<&'s T> {
        let slot = self.next_slot()?;
        Some(&self.entries[slot as usize].obj)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.slots.len();
        (if self.all_live { left } else { 0 }, Some(left))
    }
}

impl<T: Model> std::iter::FusedIterator for Related<'_, T> {}

impl<T: Model> std::fmt::Debug for Related<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Related")
            .field("table", &T::TABLE.name)
            .field("remaining", &self.slots.len())
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
pub(crate) fn relation_name(def: &AssocDef, from_left: bool) -> String {
    let (from, _) = def.sides(from_left);
    format!("{}.{}", from.table.model, from.relation)
}
