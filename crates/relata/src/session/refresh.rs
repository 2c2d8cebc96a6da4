//! Reading objects again, and forgetting them: `refresh` (one object and its loaded
//! collections, now), `expire_all` (everything, at the next read), `expunge` and `expunge_all`
//! (the session lets objects go). An object with unsaved changes is never overwritten silently.

use super::*;

impl Session {
    /// Reads the object's row again, and its loaded collections: what another session committed
    /// since this one read them becomes visible (an `unlink` of a pair linked elsewhere then
    /// deletes it). One statement for the object and one per loaded collection.
    ///
    /// An object with changes not yet committed (modified, marked for deletion, or with pending
    /// links or unlinks) is not overwritten: that is [`Error::Unsaved`], naming what would be lost
    /// (commit or `rollback()` first, or [`Session::refresh_discarding`]). A new object has no row
    /// to read (also `Error::Unsaved`); an object whose row was deleted elsewhere is
    /// [`Error::NotFound`], and the session keeps it as it was.
    ///
    /// ```
    /// # use relata::{Database, Model, schema};
    /// # #[derive(Model)] #[relata(table = "students")]
    /// # struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// let db = Database::open("sqlite::memory:")?;
    /// db.create_all(&schema![Student])?;
    /// let mut s = db.session();
    /// let alice = s.add(Student { id: None, name: "Alice".into() });
    /// s.commit()?;
    ///
    /// let mut other = db.session(); // another user renames her
    /// let k = other.find::<Student>(s.id(alice).unwrap())?.unwrap();
    /// other[k].name = "Alicia".into();
    /// other.commit()?;
    ///
    /// assert_eq!(s[alice].name, "Alice"); // what this session read
    /// s.refresh(alice)?;
    /// assert_eq!(s[alice].name, "Alicia");
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn refresh<M: Model>(&mut self, key: Key<M>) -> Result<()> {
        self.refresh_inner(key, false)
    }

    /// [`Session::refresh`], dropping the object's unsaved changes first (its changed fields,
    /// its deletion, its pending links and unlinks) instead of refusing.
    pub fn refresh_discarding<M: Model>(&mut self, key: Key<M>) -> Result<()> {
        self.refresh_inner(key, true)
    }

    fn refresh_inner<M: Model>(&mut self, key: Key<M>, discard: bool) -> Result<()> {
        self.check(key);
        let slot = key.slot;
        let store = self.store_mut::<M>();
        let object = describe_row(&store.entries[slot as usize].obj);
        let unsaved = |reason: &str| Error::Unsaved {
            object: object.clone(),
            reason: reason.to_owned(),
        };
        match store.entries[slot as usize].state {
            State::New => {
                return Err(unsaved(
                    "it is new, so there is no row to read yet (commit it first)",
                ))
            }
            State::Detached => {
                return Err(unsaved(
                    "it is detached: its row was deleted, or the session let it go",
                ))
            }
            State::Deleted if !discard => {
                return Err(unsaved("it is marked for deletion"));
            }
            State::Deleted => {
                store.deleted.retain(|&d| d != slot);
                store.entries[slot as usize].state = State::Persistent;
            }
            State::Persistent => {}
        }
        let store = self.store_mut::<M>();
        if !store.changed_columns(slot).is_empty() {
            if !discard {
                return Err(unsaved("it has changed fields not yet committed"));
            }
            let e = &mut store.entries[slot as usize];
            if let Some(old) = e.snapshot.take() {
                e.obj = *old;
                store.dirty.retain(|&d| d != slot);
            }
        }
        let links = self.pending_links_of(M::TABLE, slot);
        if links > 0 {
            if !discard {
                return Err(unsaved(&format!(
                    "it has {links} link{} or unlink{} not yet committed",
                    if links == 1 { "" } else { "s" },
                    if links == 1 { "" } else { "s" },
                )));
            }
            self.cancel_links_of(M::TABLE, slot);
        }
        let stored = self.store_mut::<M>();
        let id = stored.key_value(slot).to_owned();
        stored.expire(slot);
        match self.select_by_id::<M>(id.clone())? {
            Some(_) => {}
            None => {
                let store = self.store_mut::<M>();
                if std::mem::take(&mut store.entries[slot as usize].expired) {
                    store.expired -= 1;
                }
                return Err(Error::NotFound {
                    table: M::TABLE.name,
                    what: format!(
                        "{} = {id}: another session deleted {object} since this one read it",
                        M::TABLE.primary_key
                    ),
                });
            }
        }
        // Its loaded collections, read again now.
        let mut loaded = Vec::new();
        for links in self.links.iter_mut().flatten() {
            for side in [Side::Left, Side::Right] {
                if links.def.sides(side).0.table == M::TABLE
                    && links.collection(side, slot).is_some_and(|c| c.loaded)
                {
                    links.expire(side, slot);
                    loaded.push((links.def, side));
                }
            }
        }
        for (def, side) in loaded {
            self.ensure_loaded(def, side, slot, false)?;
        }
        Ok(())
    }

    /// How many pending links and unlinks involve the object at `slot` of `table`.
    fn pending_links_of(&self, table: &TableDef, slot: u32) -> usize {
        self.links
            .iter()
            .flatten()
            .map(|links| {
                links
                    .live()
                    .filter(|p| touches(links.def, table, slot, p.left, p.right))
                    .count()
            })
            .sum()
    }

    /// Drops the pending links and unlinks that involve the object at `slot` of `table`.
    fn cancel_links_of(&mut self, table: &TableDef, slot: u32) {
        for links in self.links.iter_mut().flatten() {
            let def = links.def;
            let pairs: Vec<(u32, u32)> = links
                .live()
                .filter(|p| touches(def, table, slot, p.left, p.right))
                .map(|p| (p.left, p.right))
                .collect();
            for (l, r) in pairs {
                links.discard(l, r);
            }
        }
    }

    /// Marks one object to be read again by the next query (or `find`) that returns its row, and
    /// forgets its loaded collections (read again when next asked for): [`Session::expire_all`]
    /// for one object. Unsaved changes are kept. No statement runs now.
    pub fn expire<M: Model>(&mut self, key: Key<M>) {
        self.check(key);
        let slot = key.slot;
        let store = self.store_mut::<M>();
        if store.entries[slot as usize].state == State::Persistent
            && store.changed_columns(slot).is_empty()
        {
            store.expire(slot);
        }
        for links in self.links.iter_mut().flatten() {
            for side in [Side::Left, Side::Right] {
                if links.def.sides(side).0.table == M::TABLE {
                    links.expire(side, slot);
                }
            }
        }
    }

    /// Forgets every collection the session loaded and marks every stored object without unsaved
    /// changes to be read again by the next query (or `find`) that returns its row: the next
    /// reads see what other sessions committed. Objects with unsaved changes keep them, and
    /// pending links stay pending. Until a read, `s[key]` shows the values read last. No
    /// statement runs now.
    pub fn expire_all(&mut self) {
        for store in self.stores.iter_mut().flatten() {
            store.expire_unchanged();
        }
        for links in self.links.iter_mut().flatten() {
            links.expire_all();
        }
    }

    /// Lets the object go: the session forgets it (and its pending changes and links), and it
    /// is [`ObjectState::Detached`]; its key still reads its last values. A later query that
    /// returns its row makes a new object, with a new key.
    pub fn expunge<M: Model>(&mut self, key: Key<M>) {
        self.check(key);
        let slot = key.slot;
        self.cancel_links_of(M::TABLE, slot);
        for links in self.links.iter_mut().flatten() {
            for side in [Side::Left, Side::Right] {
                let (from, to) = links.def.sides(side);
                if from.table == M::TABLE {
                    // Its own collections: empty, and never loaded again.
                    *links.collection_mut(side, slot) = Default::default();
                    links.collection_mut(side, slot).loaded = true;
                }
                if to.table == M::TABLE {
                    // Collections of others that show it are read again when next asked for.
                    links.expire_holding(side, slot);
                }
            }
        }
        let store = self.store_mut::<M>();
        if let Some(id) = store.held_id(slot) {
            if store.by_id.get(id) == Some(slot) {
                store.by_id.remove(id);
            }
        }
        let e = &mut store.entries[slot as usize];
        if e.state != State::Detached {
            e.state = State::Detached;
            store.detached += 1;
        }
        e.snapshot = None;
        if std::mem::take(&mut e.expired) {
            store.expired -= 1;
        }
        store.new.retain(|&s| s != slot);
        store.dirty.retain(|&s| s != slot);
        store.deleted.retain(|&s| s != slot);
    }

    /// Lets every object go ([`Session::expunge`] for all): the session is as new, except that
    /// old keys still read their objects' last values.
    pub fn expunge_all(&mut self) {
        for store in self.stores.iter_mut().flatten() {
            store.expunge_all();
        }
        for links in self.links.iter_mut().flatten() {
            *links = LinkSet::new(links.def);
        }
        self.flushes = 0;
    }
}

/// Whether the pair `(l, r)` of `def` has the object at `slot` of `table` at one of its ends.
fn touches(def: &AssocDef, table: &TableDef, slot: u32, l: u32, r: u32) -> bool {
    (def.left.table == table && l == slot) || (def.right.table == table && r == slot)
}
