//! A store's journal: what a commit or a flush changes in its objects (ids, snapshots, states),
//! and, while the transaction is open, what each flush changed, to put back if it rolls back.

use super::store::{State, Store};
use crate::model::Model;
use crate::value::{Value, ValueRef};

/// What undoing flushes did to a store (`AnyStore::revert_flushes`).
pub(crate) struct Reverted {
    /// New objects deleted after their flush, which are detached again (their links must go).
    pub dropped: Vec<u32>,
    /// Whether a flush undone had deleted objects, which are back with their pairs.
    pub deleted: bool,
}

/// What one flush (`Session::flush`) did to a store's objects, kept until the transaction ends:
/// if it rolls back, the flushed changes become pending again.
pub(crate) struct Flushed<M> {
    /// The flush's number in the transaction.
    pub seq: u32,
    /// Objects inserted, with the id they had before (a requested one, or `None`).
    pub inserted: Vec<(u32, Option<i64>)>,
    /// Objects updated, with their state before the flush.
    pub updated: Vec<(u32, Box<M>)>,
    /// Objects deleted.
    pub deleted: Vec<u32>,
    /// Foreign keys links wrote into objects, with their values before.
    pub filled: Vec<(u32, usize, Value)>,
}

impl<M: Model> Store<M> {
    /// Applies a successful commit or flush (see `AnyStore::committed`).
    pub(super) fn apply_commit(&mut self, ids: &[(u32, i64)], flush: Option<u32>) {
        let mut record = flush.map(|seq| Flushed {
            seq,
            inserted: Vec::new(),
            updated: Vec::new(),
            deleted: Vec::new(),
            filled: std::mem::take(&mut self.filled),
        });
        if record.is_none() {
            self.journal.clear();
            self.filled.clear();
        }
        for &(slot, id) in ids {
            if let Some(r) = &mut record {
                r.inserted
                    .push((slot, self.entries[slot as usize].obj.id()));
            }
            let id = if Self::chosen() {
                // The insert bound this very key, so it is one.
                let key = self.entries[slot as usize].obj.key_value();
                self.keys
                    .intern(M::TABLE, key)
                    .expect("an inserted key is a key")
            } else {
                id
            };
            self.set_held_id(slot, Some(id));
            self.entries[slot as usize].state = State::Persistent;
            self.by_id.insert(id, slot);
        }
        for slot in self.dirty.drain(..) {
            let old = self.entries[slot as usize].snapshot.take();
            if let (Some(r), Some(old)) = (&mut record, old) {
                r.updated.push((slot, old));
            }
        }
        for slot in std::mem::take(&mut self.deleted) {
            // Unless a new object took its row over (a row switch), the key is free.
            if let Some(id) = self
                .held_id(slot)
                .filter(|&id| self.by_id.get(id) == Some(slot))
            {
                self.by_id.remove(id);
            }
            let e = &mut self.entries[slot as usize];
            e.state = State::Detached;
            self.detached += 1;
            if let Some(r) = &mut record {
                r.deleted.push(slot);
            }
        }
        self.new.clear();
        if let Some(r) = record {
            self.journal.push(r);
        }
    }

    /// Undoes flushes (see `AnyStore::revert_flushes`).
    pub(super) fn revert(&mut self, mark: u32) -> Reverted {
        let mut dropped = Vec::new();
        let mut deleted = false;
        while self.journal.last().is_some_and(|r| r.seq >= mark) {
            let r = self.journal.pop().expect("checked");
            for (slot, old) in r.updated {
                // Changed again since the flush: the older state is the one to compare with.
                let e = &mut self.entries[slot as usize];
                if let Some(ValueRef::Integer(v)) = M::TABLE.version.map(|c| old.value(c)) {
                    // The row holds the version from before the flush again.
                    e.obj.set_version(v);
                }
                if e.snapshot.replace(old).is_none() {
                    self.dirty.push(slot);
                }
            }
            for (slot, column, old) in r.filled.into_iter().rev() {
                // The link is pending again: the field is what it was before the flush filled it.
                let obj = &mut self.entries[slot as usize].obj;
                obj.set_value(column, &super::keys::OneValue(old.as_ref()), 0)
                    .expect("a value the field held reads back");
            }
            let mut again = Vec::with_capacity(r.inserted.len());
            for (slot, before) in r.inserted {
                if let Some(id) = self
                    .held_id(slot)
                    .filter(|&id| self.by_id.get(id) == Some(slot))
                {
                    self.by_id.remove(id);
                }
                self.set_held_id(slot, before);
                let e = &mut self.entries[slot as usize];
                if e.snapshot.take().is_some() {
                    self.dirty.retain(|&d| d != slot);
                }
                match e.state {
                    State::Deleted => {
                        // New again, and deleted: gone, as a new object deleted before its
                        // first commit is.
                        self.deleted.retain(|&d| d != slot);
                        e.state = State::Detached;
                        self.detached += 1;
                        dropped.push(slot);
                    }
                    _ => {
                        e.state = State::New;
                        again.push(slot);
                    }
                }
            }
            // Earlier flushes' objects come first, as they were added first.
            self.new.splice(0..0, again);
            // After the inserts: a row switch's new object gives the key back to the deleted one.
            deleted |= !r.deleted.is_empty();
            for slot in r.deleted {
                self.entries[slot as usize].state = State::Deleted;
                self.detached -= 1;
                if let Some(id) = self.held_id(slot) {
                    self.by_id.insert(id, slot);
                }
                self.deleted.push(slot);
            }
        }
        Reverted { dropped, deleted }
    }
}
