//! The session's relationships: linking and unlinking (both directions see it at once), and
//! reading a collection, loaded on first use.

use super::*;
use crate::relation::{OnDelete, Storage};
use crate::value::ValueRef;

impl Session {
    /// Which ends of a relation's pair are new objects, and the pair in association order.
    fn pair<F: Model, T: Model>(
        &self,
        rel: Relation<F, T>,
        from: Key<F>,
        to: Key<T>,
    ) -> ((u32, u32), NewEnds) {
        let from_new = self.entry_state(from) == State::New;
        let to_new = self.entry_state(to) == State::New;
        if rel.side == Side::Left {
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
        let def = rel.def();
        if def.storage != Storage::Table {
            return self.change_parent(def, (l, r), new, op);
        }
        let links = self.links_mut(def);
        match op {
            LinkOp::Add => links.link(l, r, new),
            LinkOp::Remove => links.unlink(l, r, new),
        }
    }

    /// A link through a foreign key: a child has one parent, so linking it to another unlinks
    /// the one it had, and unlinking a parent it does not have changes nothing.
    fn change_parent(
        &mut self,
        def: &'static AssocDef,
        (child, parent): (u32, u32),
        new: NewEnds,
        op: LinkOp,
    ) -> bool {
        self.settle_parent(def, child);
        let links = self.links_mut(def);
        let known = links
            .collection(Side::Left, child)
            .filter(|c| c.loaded)
            .map(|c| c.items.clone());
        match op {
            LinkOp::Add => {
                if known.as_deref() == Some(&[parent]) {
                    return false;
                }
                let parents = (def.right.table.slot)();
                for old in known.unwrap_or_default() {
                    let old_new = self
                        .any_store(parents)
                        .is_some_and(|p| p.state(old) == State::New);
                    let ends = NewEnds {
                        left: new.left,
                        right: old_new,
                    };
                    self.links_mut(def).unlink(child, old, ends);
                }
                let links = self.links_mut(def);
                let changed = links.link(child, parent, new);
                // The link decides the child's parent, whatever the database holds.
                links.collection_mut(Side::Left, child).loaded = true;
                changed
            }
            LinkOp::Remove => match known {
                Some(items) if items.contains(&parent) => {
                    let changed = links.unlink(child, parent, new);
                    if let Storage::ForeignKey {
                        delete_orphans: true,
                        ..
                    } = def.storage
                    {
                        // An orphan: deleted at once, so every view shows it gone.
                        self.delete_object(def.left.table, child);
                    }
                    changed
                }
                // Not its parent (or, unknown, a parent the session does not hold: not this one).
                _ => false,
            },
        }
    }

    /// The children the session holds of object `slot` of `table`, per foreign key that
    /// references the model and does something on delete (`cascade`, `set null`): those whose
    /// parent, as the session shows it, is that object.
    pub(crate) fn children_held(
        &mut self,
        table: &'static TableDef,
        slot: u32,
    ) -> Vec<(&'static AssocDef, OnDelete, Vec<u32>)> {
        let mut out = Vec::new();
        for (def, on_delete) in crate::relation::foreign_keys_to(table) {
            if !matches!(on_delete, OnDelete::Cascade | OnDelete::SetNull) {
                continue;
            }
            let Storage::ForeignKey { column, .. } = def.storage else {
                continue;
            };
            let (Some(children), Some(parents)) = (
                self.any_store((def.left.table.slot)()),
                self.any_store((table.slot)()),
            ) else {
                continue;
            };
            let key = parents.key_value(slot);
            let links = self.links.get((def.slot)()).and_then(Option::as_ref);
            let kids: Vec<u32> = (0..children.len() as u32)
                .filter(|&c| matches!(children.state(c), State::New | State::Persistent))
                .filter(|&c| match links.and_then(|l| l.collection(Side::Left, c)) {
                    // Its parent as linked in the session (a new child's, or one moved).
                    Some(coll) if coll.loaded || coll.items.contains(&slot) => {
                        coll.items.contains(&slot)
                    }
                    // As stored.
                    _ => key != ValueRef::Null && children.stored_value(c, column) == key,
                })
                .collect();
            if !kids.is_empty() {
                out.push((def, on_delete, kids));
            }
        }
        out
    }

    /// Unlinks a child from its parent through a foreign key (a `set null` of a deleted parent).
    pub(crate) fn unlink_parent(&mut self, def: &'static AssocDef, child: u32, parent: u32) {
        let state = |st: usize, slot: u32| {
            self.any_store(st)
                .is_some_and(|s| s.state(slot) == State::New)
        };
        let new = NewEnds {
            left: state((def.left.table.slot)(), child),
            right: state((def.right.table.slot)(), parent),
        };
        self.change_parent(def, (child, parent), new, LinkOp::Remove);
    }

    /// Puts a stored child's parent in view from its foreign key, without IO, when the session
    /// holds the parent (or the key is `NULL`): its many-to-one side is then loaded. A new
    /// child's side is loaded as it stands.
    pub(crate) fn settle_parent(&mut self, def: &'static AssocDef, child: u32) {
        let Storage::ForeignKey { column, .. } = def.storage else {
            return;
        };
        let (cst, pst) = ((def.left.table.slot)(), (def.right.table.slot)());
        if self
            .links_mut(def)
            .collection(Side::Left, child)
            .is_some_and(|c| c.loaded)
        {
            return;
        }
        let Some(children) = self.any_store(cst) else {
            return;
        };
        match children.state(child) {
            State::Persistent => {}
            State::New => {
                // The database has no row for it: its pending links are all it has (a flush
                // rolled back leaves its view unloaded).
                self.links_mut(def).collection_mut(Side::Left, child).loaded = true;
                return;
            }
            _ => return,
        }
        let parent = match children.stored_value(child, column) {
            ValueRef::Null => None,
            key => match self.any_store(pst).and_then(|p| p.slot_of_key(key)) {
                Some(p) => Some(p),
                None => return,
            },
        };
        let links = self.links_mut(def);
        if let Some(p) = parent {
            if links.loaded_pair(child, p, Side::Left) {
                links.collection_mut(Side::Left, child).push(p);
            }
        }
        links.collection_mut(Side::Left, child).loaded = true;
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
        self.ensure_loaded(rel.def(), rel.side, from.slot, new)?;
        self.sort_collection(rel.def(), rel.side, from.slot);
        let store = self.store::<T>().expect("ensured");
        Ok(Related {
            slots: self.collection_slots(rel.def(), rel.side, from.slot).iter(),
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
