//! One many-to-many relationship in a session: a single set of pairs, indexed from both ends, so
//! `Student::courses` and `Course::students` can never disagree. No IO.
//!
//! Pairs are `(left slot, right slot)` in the association's declared order. What is known of the
//! database is kept per object and side: a *loaded* collection holds every pair the database has
//! for that object, merged with the pending changes. Pending changes are a log (for a
//! deterministic flush order) indexed by pair.

use crate::hash::FxHashMap;
use crate::relation::{AssocDef, Side, Storage};

/// A pending change to one pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkOp {
    /// Insert the pair (skipping it if the database already has it).
    Add,
    /// Delete the pair.
    Remove,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    pub left: u32,
    pub right: u32,
    pub op: LinkOp,
    /// Cancelled entries stay in the log (so indexes stay valid) until the next commit/rollback.
    pub live: bool,
    /// What is known of the database: `Some(true)` it holds the pair, `Some(false)` it does not,
    /// `None` unknown (neither side's collection was loaded). Undoing a change cancels it only
    /// when known; an unknown link undone by an unlink must still delete.
    pub stored: Option<bool>,
}

/// One object's collection on one side.
///
/// Invariant: a side that is not `loaded` holds exactly the pending links of its object.
#[derive(Debug, Default, Clone)]
pub(crate) struct Collection {
    /// Every database pair of this object is in `items` (minus pending removes).
    pub loaded: bool,
    /// `items` is in the collection's order.
    pub sorted: bool,
    /// Slots of the objects on the other side.
    pub items: Vec<u32>,
}

impl Collection {
    fn remove(&mut self, slot: u32) -> bool {
        match self.items.iter().position(|&s| s == slot) {
            Some(i) => {
                self.items.swap_remove(i);
                self.sorted = false;
                true
            }
            None => false,
        }
    }
    pub fn push(&mut self, slot: u32) {
        self.items.push(slot);
        self.sorted = false;
    }

    /// Adds a collection's rows read from the database (in the target's key order): taken as they
    /// are if the collection held nothing (sorted if `by_key` is its order), appended otherwise.
    pub fn append_loaded(&mut self, items: Vec<u32>, by_key: bool) {
        if self.items.is_empty() {
            self.items = items;
            self.sorted = by_key;
        } else if !items.is_empty() {
            self.items.extend(items);
            self.sorted = false;
        }
    }
}

pub(crate) struct LinkSet {
    pub def: &'static AssocDef,
    pub pending: FxHashMap<(u32, u32), u32>,
    pub log: Vec<Pending>,
    pub left: Vec<Collection>,
    pub right: Vec<Collection>,
    /// The changes each flush of the open transaction wrote, by flush number, to make pending
    /// again if it rolls back.
    pub journal: Vec<(u32, Vec<Pending>)>,
}

/// Whether each end of a pair is a new object (whose collections are empty in the database, so
/// known without loading).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewEnds {
    pub left: bool,
    pub right: bool,
}

impl LinkSet {
    pub fn new(def: &'static AssocDef) -> Self {
        LinkSet {
            def,
            pending: FxHashMap::default(),
            log: Vec::new(),
            left: Vec::new(),
            right: Vec::new(),
            journal: Vec::new(),
        }
    }

    /// The collection of `slot` on `side`.
    pub fn collection(&self, side: Side, slot: u32) -> Option<&Collection> {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
        .get(slot as usize)
    }

    pub fn collection_mut(&mut self, side: Side, slot: u32) -> &mut Collection {
        let sides = if side == Side::Left {
            &mut self.left
        } else {
            &mut self.right
        };
        if sides.len() <= slot as usize {
            sides.resize_with(slot as usize + 1, Collection::default);
        }
        &mut sides[slot as usize]
    }

    /// Whether the database holds the pair, when one side's collection tells.
    fn known_present(&self, l: u32, r: u32, new: NewEnds) -> Option<bool> {
        if new.left || new.right {
            return Some(false);
        }
        if let Some(side) = self.collection(Side::Left, l).filter(|s| s.loaded) {
            return Some(side.items.contains(&r));
        }
        if let Some(side) = self.collection(Side::Right, r).filter(|s| s.loaded) {
            return Some(side.items.contains(&l));
        }
        None
    }

    /// A new object's collections are complete as they stand: the database has no pairs for it.
    fn mark_new(&mut self, l: u32, r: u32, new: NewEnds) {
        if new.left {
            self.collection_mut(Side::Left, l).loaded = true;
        }
        if new.right {
            self.collection_mut(Side::Right, r).loaded = true;
        }
    }

    fn view_add(&mut self, l: u32, r: u32) {
        self.collection_mut(Side::Left, l).push(r);
        self.collection_mut(Side::Right, r).push(l);
    }

    /// Puts a stored pair back in view: only loaded collections show stored pairs (an unloaded one
    /// holds pending links only, and will read the pair from the database when loaded).
    fn view_add_stored(&mut self, l: u32, r: u32) {
        if self.collection(Side::Left, l).is_some_and(|s| s.loaded) {
            self.collection_mut(Side::Left, l).push(r);
        }
        if self.collection(Side::Right, r).is_some_and(|s| s.loaded) {
            self.collection_mut(Side::Right, r).push(l);
        }
    }

    fn view_remove(&mut self, l: u32, r: u32) {
        self.collection_mut(Side::Left, l).remove(r);
        self.collection_mut(Side::Right, r).remove(l);
    }

    fn cancel(&mut self, l: u32, r: u32) -> Option<Pending> {
        let i = self.pending.remove(&(l, r))?;
        let entry = &mut self.log[i as usize];
        entry.live = false;
        Some(*entry)
    }

    fn record(&mut self, l: u32, r: u32, op: LinkOp, stored: Option<bool>) {
        self.pending.insert((l, r), self.log.len() as u32);
        self.log.push(Pending {
            left: l,
            right: r,
            op,
            live: true,
            stored,
        });
    }

    /// Links a pair; returns whether anything changed. Linking a linked pair is a no-op, and
    /// re-linking a stored pair unlinked in this session cancels the unlink.
    pub fn link(&mut self, l: u32, r: u32, new: NewEnds) -> bool {
        self.mark_new(l, r, new);
        if let Some(&i) = self.pending.get(&(l, r)) {
            let entry = self.log[i as usize];
            if entry.op == LinkOp::Add {
                return false;
            }
            self.cancel(l, r);
            if entry.stored == Some(true) {
                self.view_add_stored(l, r);
            } else {
                // Unknown whether the database has it: insert, skipping it if present.
                self.record(l, r, LinkOp::Add, None);
                self.view_add(l, r);
            }
            return true;
        }
        match self.known_present(l, r, new) {
            Some(true) => false,
            stored => {
                self.record(l, r, LinkOp::Add, stored);
                self.view_add(l, r);
                true
            }
        }
    }

    /// Unlinks a pair; returns whether anything changed. Unlinking a pair linked in this session
    /// cancels the link when the database is known not to hold it.
    pub fn unlink(&mut self, l: u32, r: u32, new: NewEnds) -> bool {
        if let Some(&i) = self.pending.get(&(l, r)) {
            let entry = self.log[i as usize];
            if entry.op == LinkOp::Remove {
                return false;
            }
            self.cancel(l, r);
            if entry.stored.is_none() {
                self.record(l, r, LinkOp::Remove, None);
            }
            self.view_remove(l, r);
            return true;
        }
        match self.known_present(l, r, new) {
            Some(false) => false,
            stored => {
                self.record(l, r, LinkOp::Remove, stored);
                self.view_remove(l, r);
                true
            }
        }
    }

    /// Forgets every pending link of an object that is dropped before it was ever stored (a new
    /// object deleted before commit): its links go with it, as the database's cascade would.
    pub fn drop_new_object(&mut self, on: Side, slot: u32) {
        // A new object's collection holds exactly its links, all pending: walk it, not the log.
        let others = self
            .collection(on, slot)
            .map(|coll| coll.items.clone())
            .unwrap_or_default();
        for other in others {
            let (l, r) = if on == Side::Left {
                (slot, other)
            } else {
                (other, slot)
            };
            self.cancel(l, r);
            self.view_remove(l, r);
        }
    }

    /// The pending change to a pair, if any.
    pub fn pending_op(&self, l: u32, r: u32) -> Option<LinkOp> {
        if self.pending.is_empty() {
            return None;
        }
        self.pending.get(&(l, r)).map(|&i| self.log[i as usize].op)
    }

    /// A pair read from the database while loading a collection on the `side` side: tells
    /// whether to add it to that collection (yes unless unlinked in this session, or already in
    /// view through a pending link, which is then dropped since the database has the pair).
    pub fn loaded_pair(&mut self, l: u32, r: u32, side: Side) -> bool {
        // Through a foreign key a child has one parent: one the session knows (linked to
        // another, or unlinked) hides the database's.
        if side == Side::Right
            && self.def.storage != Storage::Table
            && self
                .collection(Side::Left, l)
                .is_some_and(|c| c.loaded && !c.items.contains(&r))
        {
            return false;
        }
        match self.pending_op(l, r) {
            None => true,
            Some(LinkOp::Add) => {
                self.cancel(l, r);
                // No longer pending: the other side keeps it only if loaded.
                let (slot, item) = match side {
                    Side::Left => (r, l),
                    Side::Right => (l, r),
                };
                let other = side.other();
                if !self.collection(other, slot).is_some_and(|s| s.loaded) {
                    self.collection_mut(other, slot).remove(item);
                }
                false
            }
            Some(LinkOp::Remove) => {
                let i = self.pending[&(l, r)];
                self.log[i as usize].stored = Some(true);
                false
            }
        }
    }

    /// Live pending changes in the order they were made.
    pub fn live(&self) -> impl Iterator<Item = &Pending> {
        self.log.iter().filter(|p| p.live)
    }

    /// After a successful commit: nothing is pending. Loaded views already show the committed
    /// state; a view that was never loaded held only pending links, which are now in the database
    /// and will come back with its first load. After a flush (`flush: Some(seq)`), the changes
    /// it wrote are kept in the journal; after a commit, the journal is forgotten.
    pub fn committed(&mut self, flush: Option<u32>) {
        match flush {
            Some(seq) if !self.log.is_empty() => {
                let written = self.live().copied().collect();
                self.journal.push((seq, written));
            }
            Some(_) => {}
            None => self.journal.clear(),
        }
        if self.log.is_empty() {
            return;
        }
        self.pending.clear();
        self.log.clear();
        for coll in self.left.iter_mut().chain(self.right.iter_mut()) {
            if !coll.loaded {
                coll.items.clear();
            }
        }
    }

    /// Makes the changes that flushes numbered `mark` and later wrote pending again (their
    /// transaction or savepoint rolled back), under the changes made since, which are replayed on
    /// top as the `link` and `unlink` calls they were.
    pub fn revert_flushes(&mut self, mark: u32) {
        while self.journal.last().is_some_and(|(seq, _)| *seq >= mark) {
            let (_, written) = self.journal.pop().expect("checked");
            // Take the changes made since the flush out of view: the views then show what the
            // flush left in the database.
            let since: Vec<Pending> = self.live().copied().collect();
            self.rolled_back();
            for p in &written {
                self.record(p.left, p.right, p.op, p.stored);
                if p.op == LinkOp::Add {
                    // Loaded views hold the pair (the database had it after the flush); the
                    // others hold their pending links, which it is again.
                    self.view_add_unloaded(p.left, p.right);
                }
            }
            // A view loaded since the flush read what the flush wrote, which is gone: both
            // ends' collections are read again when next asked for.
            for p in &written {
                self.expire(Side::Left, p.left);
                self.expire(Side::Right, p.right);
            }
            const OLD: NewEnds = NewEnds {
                left: false,
                right: false,
            };
            for p in since {
                match p.op {
                    LinkOp::Add => self.link(p.left, p.right, OLD),
                    LinkOp::Remove => self.unlink(p.left, p.right, OLD),
                };
            }
        }
    }

    /// Drops the pending change to a pair, putting the views back as `rolled_back` does.
    pub fn discard(&mut self, l: u32, r: u32) {
        if let Some(p) = self.cancel(l, r) {
            match p.op {
                LinkOp::Add => self.view_remove(l, r),
                LinkOp::Remove if p.stored == Some(true) => self.view_add_stored(l, r),
                LinkOp::Remove => {}
            }
        }
    }

    /// Forgets every collection read from the database: each holds its object's pending links
    /// only, and is read again when next asked for.
    pub fn expire_all(&mut self) {
        for coll in self.left.iter_mut().chain(self.right.iter_mut()) {
            *coll = Collection::default();
        }
        let adds: Vec<(u32, u32)> = self
            .live()
            .filter(|p| p.op == LinkOp::Add)
            .map(|p| (p.left, p.right))
            .collect();
        for (l, r) in adds {
            self.view_add(l, r);
        }
    }

    /// Expires the collections on `side` that hold the object `slot` of the other side.
    pub fn expire_holding(&mut self, side: Side, slot: u32) {
        let holding: Vec<u32> = match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
        .iter()
        .enumerate()
        .filter(|(_, c)| c.items.contains(&slot))
        .map(|(i, _)| i as u32)
        .collect();
        for parent in holding {
            self.expire(side, parent);
            // An unloaded collection holds pending links only; the object's are gone.
            let coll = self.collection_mut(side, parent);
            coll.items.retain(|&s| s != slot);
        }
    }

    /// Puts a pending pair in the views that are not loaded (a loaded one has it already).
    fn view_add_unloaded(&mut self, l: u32, r: u32) {
        if !self.collection(Side::Left, l).is_some_and(|s| s.loaded) {
            self.collection_mut(Side::Left, l).push(r);
        }
        if !self.collection(Side::Right, r).is_some_and(|s| s.loaded) {
            self.collection_mut(Side::Right, r).push(l);
        }
    }

    /// Forgets what a collection read from the database: it holds its object's pending links
    /// only, and is read again when next asked for.
    pub fn expire(&mut self, side: Side, slot: u32) {
        if !self.collection(side, slot).is_some_and(|s| s.loaded) {
            return;
        }
        let items = self
            .live()
            .filter(|p| p.op == LinkOp::Add)
            .filter_map(|p| match side {
                Side::Left => (p.left == slot).then_some(p.right),
                Side::Right => (p.right == slot).then_some(p.left),
            })
            .collect();
        *self.collection_mut(side, slot) = Collection {
            loaded: false,
            sorted: false,
            items,
        };
    }

    /// Marks every collection on `side` to be sorted again at its next read (a target's sort
    /// column changed).
    pub fn unsort(&mut self, side: Side) {
        let colls = match side {
            Side::Left => &mut self.left,
            Side::Right => &mut self.right,
        };
        for coll in colls {
            coll.sorted = false;
        }
    }

    /// After a rollback: pending links leave the views, removed pairs the database holds return.
    pub fn rolled_back(&mut self) {
        let log = std::mem::take(&mut self.log);
        self.pending.clear();
        for p in log.iter().filter(|p| p.live) {
            match p.op {
                LinkOp::Add => self.view_remove(p.left, p.right),
                LinkOp::Remove if p.stored == Some(true) => self.view_add_stored(p.left, p.right),
                LinkOp::Remove => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
