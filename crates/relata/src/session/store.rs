//! The objects of one model held by a session: an arena indexed by key, the identity map from
//! database id to key, and the lists of pending inserts, updates and deletes. No IO.

use std::any::Any;

use super::journal::{Flushed, Reverted};
use super::keys::{null_key, read_chosen, KeyMap};
use crate::error::{Error, Result};
use crate::hash::IdIndex;
use crate::model::{describe_row, Model, TableDef};
use crate::value::{RowSource, Value, ValueRef};

/// Where an object stands with respect to the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectState {
    /// Added to the session, not committed yet.
    New,
    /// Stored in the database, unchanged in the session.
    Persistent,
    /// Stored in the database, with changed columns not committed yet.
    Modified,
    /// Marked for deletion; the delete is not committed yet.
    Deleted,
    /// No longer tied to a database row: its delete was committed, or it was new and was deleted
    /// or rolled back before any commit. Its last values can still be read.
    Detached,
}

/// The internal state; `Modified` is derived from the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    New,
    Persistent,
    Deleted,
    Detached,
}

impl State {
    /// Still in collections: new or stored, not deleted or detached.
    pub fn is_live(self) -> bool {
        matches!(self, State::New | State::Persistent)
    }
}

pub(crate) struct Entry<M> {
    pub obj: M,
    pub state: State,
    /// The object as last committed, kept from its first mutable access until the next commit or
    /// rollback; the columns that differ from it are the ones an UPDATE writes.
    pub snapshot: Option<Box<M>>,
    /// To be read again by the next query that returns its row (`Session::expire_all`).
    pub expired: bool,
}

pub(crate) struct Store<M: Model> {
    pub entries: Vec<Entry<M>>,
    pub by_id: IdIndex,
    /// Slots added since the last commit, in order (some may since have been deleted).
    pub new: Vec<u32>,
    /// Slots with a snapshot.
    pub dirty: Vec<u32>,
    /// Persistent slots marked for deletion.
    pub deleted: Vec<u32>,
    /// How many objects are detached (a terminal state), so reads can skip the state filter
    /// when none are.
    pub detached: usize,
    /// What each flush of the open transaction changed, to put back if it rolls back.
    pub journal: Vec<Flushed<M>>,
    /// How many objects are expired (`Entry::expired`), so reads skip the check when none are.
    pub expired: usize,
    /// Whether reads overwrite unchanged objects already held (`Query::populate_existing`).
    pub populate: bool,
    /// A chosen key's surrogate ids (see `keys`); empty for a generated key.
    pub keys: KeyMap,
    /// With a chosen key: each stored object's surrogate id, 0 while it is new.
    pub sids: Vec<i64>,
    /// Foreign keys the commit under way wrote into objects, with the values they held before
    /// (`AnyStore::set_value`): a flush rolled back puts them back.
    pub filled: Vec<(u32, usize, Value)>,
}

impl<M: Model> Store<M> {
    pub fn new() -> Self {
        Store {
            entries: Vec::new(),
            by_id: IdIndex::default(),
            new: Vec::new(),
            dirty: Vec::new(),
            deleted: Vec::new(),
            detached: 0,
            journal: Vec::new(),
            expired: 0,
            populate: false,
            keys: KeyMap::default(),
            sids: Vec::new(),
            filled: Vec::new(),
        }
    }

    /// Whether the application chooses the keys (`TableDef::chosen_key`).
    pub(super) fn chosen() -> bool {
        M::TABLE.chosen_key.is_some()
    }

    /// The id the session holds an object under (its generated key, or its chosen key's
    /// surrogate), whatever its state.
    pub fn held_id(&self, slot: u32) -> Option<i64> {
        if Self::chosen() {
            self.sids.get(slot as usize).copied().filter(|&s| s != 0)
        } else {
            self.stored(slot).id()
        }
    }

    /// Records the id an object is held under.
    pub(super) fn set_held_id(&mut self, slot: u32, id: Option<i64>) {
        if Self::chosen() {
            if self.sids.len() <= slot as usize {
                self.sids.resize(slot as usize + 1, 0);
            }
            self.sids[slot as usize] = id.unwrap_or(0);
        } else {
            self.entries[slot as usize].obj.set_id(id);
        }
    }

    /// The primary key in column `idx` of a row, as the id the session holds it under (`None`
    /// for `NULL`).
    fn read_key(&mut self, row: &dyn RowSource, idx: usize) -> Result<Option<i64>> {
        match M::TABLE.chosen_key {
            None => read_generated(M::TABLE, row, idx),
            Some(ty) => match read_chosen(M::TABLE, ty, row, idx)? {
                Some(key) => self.keys.intern(M::TABLE, key.as_ref()).map(Some),
                None => Ok(None),
            },
        }
    }

    pub fn add(&mut self, mut obj: M) -> u32 {
        if M::TABLE.version.is_some() {
            obj.set_version(1);
        }
        let slot = self.entries.len() as u32;
        self.entries.push(Entry {
            obj,
            state: State::New,
            snapshot: None,
            expired: false,
        });
        self.new.push(slot);
        slot
    }

    /// The object as the database holds it: its snapshot if it has unsaved changes.
    pub fn stored(&self, slot: u32) -> &M {
        let e = &self.entries[slot as usize];
        e.snapshot.as_deref().unwrap_or(&e.obj)
    }

    /// The object for writing; keeps a snapshot of a persistent object the first time.
    pub fn get_mut(&mut self, slot: u32) -> &mut M {
        let e = &mut self.entries[slot as usize];
        if e.state == State::Persistent && e.snapshot.is_none() {
            e.snapshot = Some(Box::new(e.obj.snapshot()));
            self.dirty.push(slot);
        }
        &mut e.obj
    }

    pub fn delete(&mut self, slot: u32) {
        let e = &mut self.entries[slot as usize];
        match e.state {
            State::New => {
                e.state = State::Detached;
                self.detached += 1;
            }
            State::Persistent => {
                e.state = State::Deleted;
                self.deleted.push(slot);
            }
            State::Deleted | State::Detached => {}
        }
    }

    pub fn public_state(&self, slot: u32) -> ObjectState {
        let e = &self.entries[slot as usize];
        match e.state {
            State::New => ObjectState::New,
            State::Persistent if !self.changed_columns(slot).is_empty() => ObjectState::Modified,
            State::Persistent => ObjectState::Persistent,
            State::Deleted => ObjectState::Deleted,
            State::Detached => ObjectState::Detached,
        }
    }

    /// Inserts a row (primary key at `start`, then every column) into the identity map, or finds
    /// the object already there (whose pending changes win over the row). Returns its slot.
    pub fn merge_row(&mut self, row: &dyn RowSource, start: usize) -> Result<u32> {
        let id = self
            .read_key(row, start)?
            .ok_or_else(|| null_key(M::TABLE))?;
        self.merge_with_id(id, row, start + 1)
    }

    /// `merge_row` for a row whose primary key was read already: `id`, the other columns from
    /// `start`.
    pub fn merge_with_id(&mut self, id: i64, row: &dyn RowSource, start: usize) -> Result<u32> {
        if let Some(slot) = self.by_id.get(id) {
            if self.expired > 0 || self.populate {
                self.reread(slot, id, row, start)?;
            }
            return Ok(slot);
        }
        Ok(self.hold(id, M::from_row(id, row, start)?))
    }

    /// Holds an object read from the database, under its id; returns its slot.
    fn hold(&mut self, id: i64, obj: M) -> u32 {
        let slot = self.entries.len() as u32;
        self.entries.push(Entry {
            obj,
            state: State::Persistent,
            snapshot: None,
            expired: false,
        });
        self.by_id.insert(id, slot);
        if Self::chosen() {
            self.set_held_id(slot, Some(id));
        }
        slot
    }

    /// The id to hold an object read from the database under: its generated key, or its
    /// chosen key's surrogate.
    pub fn id_of(&mut self, obj: &M) -> Result<i64> {
        match M::TABLE.chosen_key {
            None => obj.id().ok_or_else(|| null_key(M::TABLE)),
            Some(_) => self.keys.intern(M::TABLE, obj.key_value()),
        }
    }

    /// Puts an object as the database now holds it (an upsert's row) into the identity map: a
    /// held object without unsaved changes takes its values; one with unsaved changes keeps them
    /// (they are written over it at the next commit). Returns its slot.
    pub fn merge_owned(&mut self, id: i64, obj: M) -> u32 {
        if let Some(slot) = self.by_id.get(id) {
            let e = &self.entries[slot as usize];
            if e.state == State::Persistent && self.changed_columns(slot).is_empty() {
                self.overwrite(slot, obj);
            }
            return slot;
        }
        self.hold(id, obj)
    }

    /// Overwrites an object in the identity map with its row, if it is expired or the read
    /// populates existing objects, and it has no unsaved changes (those are never overwritten).
    fn reread(&mut self, slot: u32, id: i64, row: &dyn RowSource, start: usize) -> Result<()> {
        let e = &self.entries[slot as usize];
        if !(e.expired || self.populate) || e.state != State::Persistent {
            return Ok(());
        }
        if !self.changed_columns(slot).is_empty() {
            return Ok(());
        }
        self.overwrite(slot, M::from_row(id, row, start)?);
        Ok(())
    }

    /// Puts `obj` in place of an object without unsaved changes: it is then as read, not
    /// expired.
    fn overwrite(&mut self, slot: u32, obj: M) {
        let e = &mut self.entries[slot as usize];
        e.obj = obj;
        if e.snapshot.take().is_some() {
            self.dirty.retain(|&d| d != slot);
        }
        if std::mem::take(&mut e.expired) {
            self.expired -= 1;
        }
    }

    /// Marks an object to be read again by the next read of its row.
    pub fn expire(&mut self, slot: u32) {
        let e = &mut self.entries[slot as usize];
        if !e.expired {
            e.expired = true;
            self.expired += 1;
        }
    }

    /// The columns of a persistent object that differ from its snapshot.
    pub fn changed_columns(&self, slot: u32) -> Vec<usize> {
        let e = &self.entries[slot as usize];
        match &e.snapshot {
            None => Vec::new(),
            // The version column is relata's to write (`bump_version`), not a change.
            Some(old) => (0..M::TABLE.columns.len())
                .filter(|&c| Some(c) != M::TABLE.version && e.obj.value(c) != old.value(c))
                .collect(),
        }
    }
}

/// What the session, planner and executor need of a store without knowing its model type.
pub(crate) trait AnyStore: Any + Send {
    fn table(&self) -> &'static TableDef;
    fn len(&self) -> usize;
    fn state(&self, slot: u32) -> State;
    /// Whether every object is new or persistent (none deleted or detached).
    fn all_live(&self) -> bool;
    fn id(&self, slot: u32) -> Option<i64>;
    /// The id a new object was added with, if the user set one. A chosen key always is: its
    /// surrogate, or, for a key the session has not seen, a stand-in (`-1 - slot`) that
    /// `key_param` also understands and the commit replaces by the key's surrogate.
    fn requested_id(&self, slot: u32) -> Option<i64>;
    /// The primary key an object stores (`NULL` for a generated key not assigned yet), as
    /// statements bind it and orders compare it.
    fn key_value(&self, slot: u32) -> ValueRef<'_>;
    /// The primary key an id stands for, as statements bind it: the generated key itself, or
    /// the chosen key of the surrogate.
    fn key_param(&self, id: i64) -> ValueRef<'_>;
    /// The primary key in column `idx` of a row, as an id (giving a chosen key its surrogate);
    /// `None` for `NULL`.
    fn read_key(&mut self, row: &dyn RowSource, idx: usize) -> Result<Option<i64>>;
    /// The primary key in column `idx` of a row, as an id, if the session has seen it.
    fn find_key(&self, row: &dyn RowSource, idx: usize) -> Result<Option<i64>>;
    fn slot_of(&self, id: i64) -> Option<u32>;
    /// Marks an object deleted (a new one is dropped at once).
    fn delete(&mut self, slot: u32);
    /// The object whose primary key stores `key`, if the session holds it.
    fn slot_of_key(&self, key: ValueRef<'_>) -> Option<u32>;
    fn value(&self, slot: u32, column: usize) -> ValueRef<'_>;
    /// A column's value as the database holds it (the snapshot's, if the object changed).
    fn stored_value(&self, slot: u32, column: usize) -> ValueRef<'_>;
    /// Writes `value` into a column of an object the commit wrote it to (a foreign key a link
    /// filled). With `journal` (a flush, which may roll back), the value before is kept to put
    /// back, and a stored object keeps its snapshot of before, as for a change of the
    /// application's; a commit needs neither.
    fn set_value(
        &mut self,
        slot: u32,
        column: usize,
        value: ValueRef<'_>,
        journal: bool,
    ) -> Result<()>;
    fn describe(&self, slot: u32) -> String;
    fn new_slots(&self) -> &[u32];
    fn dirty_slots(&self) -> &[u32];
    fn deleted_slots(&self) -> &[u32];
    fn changed_columns(&self, slot: u32) -> Vec<usize>;
    /// The primary key as stored in the object differs from the id the session knows (the user
    /// changed the key field): the error to report, if so.
    fn check_key(&self, slot: u32) -> Result<()>;
    fn merge_row(&mut self, row: &dyn RowSource, start: usize) -> Result<u32>;
    fn merge_with_id(&mut self, id: i64, row: &dyn RowSource, start: usize) -> Result<u32>;
    /// Applies a successful commit: new objects get their ids, snapshots are dropped, deleted
    /// objects leave the identity map. A flush (`flush: Some(seq)`) keeps in the store's journal
    /// what it changed; a commit forgets the journal.
    fn committed(&mut self, ids: &[(u32, i64)], flush: Option<u32>);
    /// An update of the object committed (or was flushed): its version column, if it has one,
    /// holds the next version, as the database row now does.
    fn bump_version(&mut self, slot: u32, read_as: u32);
    /// Puts back what the flushes numbered `mark` and later changed (their transaction or
    /// savepoint rolled back): those changes are pending again.
    fn revert_flushes(&mut self, mark: u32) -> Reverted;
    /// Discards pending changes: new objects are detached, modified ones restored, deleted ones
    /// persistent again.
    fn rolled_back(&mut self);
    /// Marks every stored object without unsaved changes to be read again by the next read of
    /// its row.
    fn expire_unchanged(&mut self);
    /// Detaches every object: the session forgets them (their keys still read their values).
    fn expunge_all(&mut self);
}

/// The generated key in column `idx` of a row of `table` (`None` for `NULL`; an error if it is
/// no integer).
fn read_generated(table: &TableDef, row: &dyn RowSource, idx: usize) -> Result<Option<i64>> {
    row.get_i64(idx).map_err(|e| Error::Decode {
        table: table.name,
        column: table.primary_key,
        reason: e.0,
    })
}

/// The generated key in column `idx` of a row of `table` (an error if it is `NULL` or no
/// integer).
fn read_id(table: &TableDef, row: &dyn RowSource, idx: usize) -> Result<i64> {
    read_generated(table, row, idx)?.ok_or_else(|| null_key(table))
}

/// An object from a row holding its primary key, then every column, outside any identity map.
pub(crate) fn model_from_row<M: Model>(row: &dyn RowSource) -> Result<M> {
    // A chosen key is read by `from_row` itself.
    let id = match M::TABLE.chosen_key {
        None => read_id(M::TABLE, row, 0)?,
        Some(_) => 0,
    };
    M::from_row(id, row, 1)
}

impl<M: Model> AnyStore for Store<M> {
    fn table(&self) -> &'static TableDef {
        M::TABLE
    }
    fn len(&self) -> usize {
        self.entries.len()
    }
    fn state(&self, slot: u32) -> State {
        self.entries[slot as usize].state
    }
    fn all_live(&self) -> bool {
        self.deleted.is_empty() && self.detached == 0
    }
    fn id(&self, slot: u32) -> Option<i64> {
        let e = &self.entries[slot as usize];
        match e.state {
            // Until committed, an id the user set by hand is only a request.
            State::New => None,
            _ if Self::chosen() => self.held_id(slot),
            _ => e.snapshot.as_ref().map_or_else(|| e.obj.id(), |s| s.id()),
        }
    }
    fn requested_id(&self, slot: u32) -> Option<i64> {
        let obj = &self.entries[slot as usize].obj;
        match M::TABLE.chosen_key {
            None => obj.id(),
            Some(_) => Some(
                self.keys
                    .get(obj.key_value())
                    .unwrap_or(-1 - i64::from(slot)),
            ),
        }
    }
    fn key_value(&self, slot: u32) -> ValueRef<'_> {
        self.stored(slot).key_value()
    }
    fn key_param(&self, id: i64) -> ValueRef<'_> {
        match M::TABLE.chosen_key {
            None => ValueRef::Integer(id),
            Some(_) if id < 0 => self.entries[(-1 - id) as usize].obj.key_value(),
            Some(_) => self.keys.value(id),
        }
    }
    fn read_key(&mut self, row: &dyn RowSource, idx: usize) -> Result<Option<i64>> {
        Store::read_key(self, row, idx)
    }
    fn find_key(&self, row: &dyn RowSource, idx: usize) -> Result<Option<i64>> {
        match M::TABLE.chosen_key {
            None => read_generated(M::TABLE, row, idx),
            Some(ty) => Ok(
                read_chosen(M::TABLE, ty, row, idx)?.and_then(|key| self.keys.get(key.as_ref()))
            ),
        }
    }

    fn slot_of(&self, id: i64) -> Option<u32> {
        self.by_id.get(id)
    }
    fn delete(&mut self, slot: u32) {
        Store::delete(self, slot);
    }
    fn slot_of_key(&self, key: ValueRef<'_>) -> Option<u32> {
        let id = match (M::TABLE.chosen_key, key) {
            (None, ValueRef::Integer(id)) => id,
            (None, _) => return None,
            (Some(_), key) => self.keys.get(key)?,
        };
        self.by_id.get(id)
    }
    fn value(&self, slot: u32, column: usize) -> ValueRef<'_> {
        self.entries[slot as usize].obj.value(column)
    }
    fn stored_value(&self, slot: u32, column: usize) -> ValueRef<'_> {
        self.stored(slot).value(column)
    }
    fn set_value(
        &mut self,
        slot: u32,
        column: usize,
        value: ValueRef<'_>,
        journal: bool,
    ) -> Result<()> {
        if journal {
            let old = self.entries[slot as usize].obj.value(column).to_owned();
            self.filled.push((slot, column, old));
        }
        let obj = if !journal || self.entries[slot as usize].state == State::New {
            // A commit drops every snapshot: the object is what the row now holds.
            &mut self.entries[slot as usize].obj
        } else {
            self.get_mut(slot)
        };
        obj.set_value(column, &super::keys::OneValue(value), 0)
    }
    fn describe(&self, slot: u32) -> String {
        describe_row(&self.entries[slot as usize].obj)
    }
    fn new_slots(&self) -> &[u32] {
        &self.new
    }
    fn dirty_slots(&self) -> &[u32] {
        &self.dirty
    }
    fn deleted_slots(&self) -> &[u32] {
        &self.deleted
    }
    fn changed_columns(&self, slot: u32) -> Vec<usize> {
        Store::changed_columns(self, slot)
    }
    fn check_key(&self, slot: u32) -> Result<()> {
        let e = &self.entries[slot as usize];
        match &e.snapshot {
            Some(old) if old.key_value() != e.obj.key_value() => Err(Error::InvalidKey {
                message: format!(
                    "the primary key of {} was changed to {}; a stored object keeps its key (add a new object instead)",
                    describe_row(old.as_ref()),
                    match e.obj.key_value() {
                        ValueRef::Null => "None".to_owned(),
                        key => key.to_string(),
                    },
                ),
            }),
            _ => Ok(()),
        }
    }
    fn merge_row(&mut self, row: &dyn RowSource, start: usize) -> Result<u32> {
        Store::merge_row(self, row, start)
    }
    fn merge_with_id(&mut self, id: i64, row: &dyn RowSource, start: usize) -> Result<u32> {
        Store::merge_with_id(self, id, row, start)
    }
    fn bump_version(&mut self, slot: u32, read_as: u32) {
        if let Some(c) = M::TABLE.version {
            if let ValueRef::Integer(v) = self.entries[read_as as usize].obj.value(c) {
                self.entries[slot as usize].obj.set_version(v + 1);
            }
        }
    }
    fn committed(&mut self, ids: &[(u32, i64)], flush: Option<u32>) {
        self.apply_commit(ids, flush);
    }
    fn revert_flushes(&mut self, mark: u32) -> Reverted {
        self.revert(mark)
    }
    fn expire_unchanged(&mut self) {
        for slot in 0..self.entries.len() as u32 {
            if self.entries[slot as usize].state == State::Persistent
                && self.changed_columns(slot).is_empty()
            {
                self.expire(slot);
            }
        }
    }
    fn expunge_all(&mut self) {
        for e in &mut self.entries {
            e.state = State::Detached;
            e.snapshot = None;
            e.expired = false;
        }
        self.detached = self.entries.len();
        self.by_id = IdIndex::default();
        self.new.clear();
        self.dirty.clear();
        self.deleted.clear();
        self.journal.clear();
        self.expired = 0;
    }
    fn rolled_back(&mut self) {
        for slot in self.new.drain(..) {
            let e = &mut self.entries[slot as usize];
            if e.state == State::New {
                e.state = State::Detached;
                self.detached += 1;
            }
        }
        for slot in self.dirty.drain(..) {
            let e = &mut self.entries[slot as usize];
            if let Some(old) = e.snapshot.take() {
                e.obj = *old;
            }
        }
        for slot in self.deleted.drain(..) {
            self.entries[slot as usize].state = State::Persistent;
        }
    }
}
