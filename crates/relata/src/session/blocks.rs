//! Transaction blocks and what happens inside them: savepoints (a block inside a block), flushes
//! (the pending changes written into the block's transaction without committing it) and
//! autoflush. No IO of its own: each statement is a machine run on the block's connection.
//!
//! What a flush wrote is kept in the stores' and link sets' journals, numbered by flush, until
//! the transaction ends: if it (or a savepoint) rolls back, the flushed changes are made pending
//! again, so the session always matches what the database will hold.

use super::*;

/// The savepoint of a block `depth` blocks deep (1 for the first inside the outermost).
fn savepoint_name(depth: usize) -> String {
    format!("relata_sp_{depth}")
}

impl Session {
    /// Writes the pending changes into the current transaction block's transaction without
    /// committing it: new objects get their ids, and the block's queries see the rows. They land
    /// when the block commits, or are undone with it: if the block (or the savepoint the flush
    /// ran in) fails, what the flush wrote is rolled back and those changes are pending in the
    /// session again.
    ///
    /// A flush runs the statements a commit would, between a `SAVEPOINT` and its `RELEASE` (two
    /// more statements), so a flush that fails (a constraint, a stale row) writes nothing, leaves
    /// the session as it was, and the block can go on. In a read-only block, with changes to
    /// write, it is [`Error::ReadOnly`]. With nothing to write it runs no statement.
    ///
    /// Outside a block, a flush begins a transaction (`BEGIN`, on a connection the session then
    /// holds) that lasts until [`commit`](Session::commit), which commits it with whatever is
    /// still pending, or [`rollback`](Session::rollback), which rolls it back and discards every
    /// change, flushed or not (SQLAlchemy's autobegin). Meanwhile the session's reads see what it
    /// flushed, and on SQLite the session holds the database's write lock: other writers wait.
    /// A [`transaction`](Session::transaction) block then takes that transaction over and
    /// commits it at its end.
    ///
    /// ```
    /// # use relata::{Database, Model, schema};
    /// # #[derive(Model)] #[relata(table = "students")]
    /// # struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student])?;
    /// let mut s = db.session();
    /// s.transaction(|s| {
    ///     let alice = s.add(Student { id: None, name: "Alice".into() });
    ///     assert_eq!(s.query::<Student>().count()?, 0); // not written yet
    ///     s.flush()?;
    ///     assert!(s.id(alice).is_some()); // the database gave it its id
    ///     assert_eq!(s.query::<Student>().count()?, 1); // the block's queries see it
    ///     Ok::<_, relata::Error>(())
    /// })?; // committed here
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn flush(&mut self) -> Result<()> {
        self.know_tables()?;
        let plan = flush::plan(self.view())?;
        if plan.is_empty() {
            return Ok(());
        }
        if self.pinned.is_some() && self.block.is_read_only() {
            return Err(Error::ReadOnly);
        }
        let began = self.pinned.is_none();
        if began {
            self.begin(TxOptions::new())?;
            self.implicit = true;
        }
        let ids = match self.run_commit(&plan, flush::Tx::Savepoint) {
            Ok((_, Ok(ids))) => ids,
            Ok((_, Err(e))) | Err(e) => {
                if began {
                    // Nothing was written: the session holds no transaction for nothing.
                    self.end_implicit(true);
                }
                return Err(e);
            }
        };
        let seq = self.flushes;
        self.flushes += 1;
        flush::apply(&plan, &ids, &mut self.stores, &mut self.links, Some(seq));
        Ok(())
    }

    /// Whether the session holds a database transaction now: inside a transaction block, or
    /// after a [`flush`](Session::flush) outside one, until `commit()` or `rollback()`.
    pub fn in_transaction(&self) -> bool {
        self.pinned.is_some()
    }

    /// Makes every query (`all`, `first`, `one`, `count`) in a read-write transaction block
    /// flush the pending changes first, so it sees them: SQLAlchemy's default. Off by default:
    /// outside a block nothing changes (a query reads what is committed), and inside one a query
    /// after changes costs the flush's statements. Lazy loads and `related` need no flush: the
    /// session merges pending links into what it reads.
    ///
    /// ```
    /// # use relata::{Database, Model, schema};
    /// # #[derive(Model)] #[relata(table = "students")]
    /// # struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student])?;
    /// let mut s = db.session();
    /// s.set_autoflush(true);
    /// s.transaction(|s| {
    ///     s.add(Student { id: None, name: "Alice".into() });
    ///     assert_eq!(s.query::<Student>().filter(Student::NAME.eq("Alice")).count()?, 1);
    ///     Ok::<_, relata::Error>(())
    /// })?;
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn set_autoflush(&mut self, on: bool) {
        self.autoflush = on;
    }

    /// Flushes before a query, if autoflush is on and the session is in a read-write block.
    pub(super) fn autoflush(&mut self) -> Result<()> {
        if self.autoflush && self.pinned.is_some() && !self.block.is_read_only() {
            self.flush()
        } else {
            Ok(())
        }
    }

    /// Runs `body` in one database transaction on one connection, then commits the session:
    /// the block's reads see one consistent snapshot and skip a transaction of their own each
    /// (several times faster for many small reads), and its changes land together.
    ///
    /// The transaction takes the write lock at once (`BEGIN IMMEDIATE` on SQLite), so other
    /// writers wait while the block runs; keep blocks short, and read in a read-only block
    /// ([`Session::transaction_with`] and [`TxOptions::read_only`]), which never waits for a
    /// writer.
    ///
    /// `body` may fail with the application's own error type, anything that can hold a relata
    /// error (`E: From<relata::Error>`). If it fails, the transaction is rolled back and the
    /// error returned; the session's changes not yet committed stay pending (those a
    /// [`flush`](Session::flush) wrote become pending again): commit them, or `rollback()`. If
    /// `body` panics, the transaction is rolled back as the panic leaves the block, and the
    /// session can run blocks again. A `commit()` inside the block lands the changes so far and
    /// continues in a new transaction.
    ///
    /// A block inside a block is a [`savepoint`](Session::savepoint): if it fails, its own work
    /// is undone and the outer block goes on.
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
    ///     Ok::<_, relata::Error>(())
    /// })?; // committed here
    /// assert_eq!(s.query::<Student>().count()?, 2);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn transaction<T, E: From<Error>>(
        &mut self,
        body: impl FnOnce(&mut Session) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
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
    /// Inside a block this is a [`savepoint`](Session::savepoint) of the outer block's
    /// transaction, whose options it keeps (a transaction's level is chosen when it begins).
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
        if self.pinned.is_some() && !self.implicit {
            return self.savepoint(body);
        }
        if self.implicit {
            // The transaction a flush began becomes the block's, begun at the default level.
            self.implicit = false;
        } else {
            self.begin(options)?;
            self.block = options;
        }
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

    /// Runs `body` inside a savepoint of the current transaction block (SQLAlchemy's
    /// `begin_nested`): if it fails (or panics), the database goes back to the savepoint and the
    /// session forgets everything `body` did (objects it added are detached, its changes,
    /// deletes, links and unlinks are undone, including what it flushed), and the error is
    /// returned: the outer block can go on and commit. If it succeeds, its changes are part of
    /// the outer block.
    ///
    /// The pending changes from before the savepoint are flushed first (so a failure cannot undo
    /// them), then `SAVEPOINT`; at the end `RELEASE SAVEPOINT`, or `ROLLBACK TO SAVEPOINT` and
    /// `RELEASE SAVEPOINT`. Inside a savepoint, `commit()` flushes (the transaction belongs to
    /// the outermost block). Outside any block, a savepoint is a transaction block of its own
    /// ([`Session::transaction`]). Savepoints nest.
    ///
    /// ```
    /// # use relata::{Database, Model, schema};
    /// # #[derive(Model)] #[relata(table = "students")]
    /// # struct Student { #[relata(primary_key)] id: Option<i64>, #[relata(unique)] name: String }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student])?;
    /// let mut s = db.session();
    /// s.transaction(|s| {
    ///     s.add(Student { id: None, name: "Alice".into() });
    ///     let second = s.savepoint(|s| {
    ///         s.add(Student { id: None, name: "Alice".into() }); // a duplicate
    ///         s.flush()
    ///     });
    ///     assert!(second.is_err()); // undone; the first Alice stays
    ///     Ok::<_, relata::Error>(())
    /// })?;
    /// assert_eq!(s.query::<Student>().count()?, 1);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn savepoint<T, E: From<Error>>(
        &mut self,
        body: impl FnOnce(&mut Session) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        if self.pinned.is_none() {
            return self.transaction(body);
        }
        self.flush()?;
        let depth = self.savepoints.len();
        let name = savepoint_name(depth + 1);
        self.control("savepoint", vec![format!("SAVEPOINT {name}")])?;
        self.savepoints.push(self.flushes);
        // Rolls back to the savepoint however `body` leaves it, unless it was released.
        let nested = Nested { s: self, depth };
        let s = &mut *nested.s;
        let value = body(s)?;
        let mark = s.savepoints[depth];
        s.savepoints.truncate(depth);
        if let Err(e) = s.control(
            "release savepoint",
            vec![format!("RELEASE SAVEPOINT {name}")],
        ) {
            s.savepoints.push(mark);
            return Err(e.into());
        }
        Ok(value)
    }

    /// Checks a connection out of the pool and begins a transaction on it, which the session
    /// then holds.
    pub(super) fn begin(&mut self, options: TxOptions) -> Result<()> {
        let mut conn = self.db.engine.checkout()?;
        let mut begin = Control::new("begin", vec![self.db.dialect().begin_with(options)]);
        self.db.drive(Some(&mut conn), &mut begin, &mut self.log)?;
        begin.finish()?;
        self.pinned = Some(conn);
        Ok(())
    }

    /// Ends the transaction a flush outside any block began: after `commit`, or rolled back.
    pub(super) fn end_implicit(&mut self, roll_back: bool) {
        if !std::mem::take(&mut self.implicit) {
            return;
        }
        if roll_back {
            let _ = self.control("rollback", vec!["ROLLBACK".into()]);
        }
        self.pinned = None;
        self.savepoints.clear();
        self.undo_flushes(0);
    }

    /// Runs statements without parameters on the block's connection (never on another: with
    /// no block, nothing runs).
    pub(super) fn control(&mut self, why: &str, statements: Vec<String>) -> Result<()> {
        if self.pinned.is_none() {
            return Ok(());
        }
        let mut control = Control::new(why, statements.into_iter().map(Into::into).collect());
        self.db
            .drive(self.pinned.as_mut(), &mut control, &mut self.log)?;
        control.finish()
    }

    /// Ends a read-only block's transaction; pending changes stay pending.
    fn end_read_only_block(&mut self) -> Result<()> {
        self.control("commit", vec!["COMMIT".into()])
    }

    /// Makes what the flushes numbered `mark` and later wrote pending again (their transaction
    /// or savepoint rolled back).
    pub(super) fn undo_flushes(&mut self, mark: u32) {
        // Upserts write at once: after a rollback, the objects they returned are read again.
        for store in std::mem::take(&mut self.upserted) {
            if let Some(Some(store)) = self.stores.get_mut(store) {
                store.expire_unchanged();
            }
        }
        if self.flushes <= mark {
            return;
        }
        let (mut dropped, mut deleted) = (Vec::new(), Vec::new());
        for (i, store) in self.stores.iter_mut().enumerate() {
            if let Some(store) = store {
                let reverted = store.revert_flushes(mark);
                if !reverted.dropped.is_empty() {
                    dropped.push((i, reverted.dropped));
                }
                if reverted.deleted {
                    deleted.push(store.table());
                }
            }
        }
        for links in self.links.iter_mut().flatten() {
            links.revert_flushes(mark);
        }
        // What a reverted flush deleted is back, with its pairs: a collection loaded since
        // the flush did not see them, so every collection of the model's relations is read
        // again when next asked for (a rare path: a rolled-back flush that deleted).
        for table in deleted {
            for links in self.links.iter_mut().flatten() {
                if links.def.left.table == table || links.def.right.table == table {
                    links.expire_all();
                }
            }
        }
        // New objects deleted after their flush are gone again, and their links with them.
        for (store, slots) in dropped {
            for links in self.links.iter_mut().flatten() {
                for side in [Side::Left, Side::Right] {
                    if (links.def.sides(side).0.table.slot)() == store {
                        for &slot in &slots {
                            links.drop_new_object(side, slot);
                        }
                    }
                }
            }
        }
        self.flushes = mark;
    }

    /// Undoes everything since the savepoint `depth` deep began, in the database and in the
    /// session.
    fn roll_back_savepoint(&mut self, depth: usize) {
        let mark = self.savepoints[depth];
        self.savepoints.truncate(depth);
        let name = savepoint_name(depth + 1);
        // If the transaction itself is gone, the outer block's commit reports it.
        let _ = self.control(
            "rollback to savepoint",
            vec![
                format!("ROLLBACK TO SAVEPOINT {name}"),
                format!("RELEASE SAVEPOINT {name}"),
            ],
        );
        // Nothing was pending when the savepoint began (it flushed): every pending change is
        // the savepoint's, before and after its flushes are made pending again.
        self.discard_pending();
        self.undo_flushes(mark);
        self.discard_pending();
    }
}

/// The end of a transaction block, on every way out of it (a panic included): the block's
/// connection leaves the session, rolled back if its transaction is still open, and what the
/// block flushed and did not commit is pending again.
struct Block<'s>(&'s mut Session);

impl Drop for Block<'_> {
    fn drop(&mut self) {
        let s = &mut *self.0;
        s.block = TxOptions::new();
        s.savepoints.clear();
        if let Some(mut conn) = s.pinned.take() {
            if conn.in_transaction() {
                // The error that matters is the block's own; a connection that cannot roll back
                // reports itself broken and the pool drops it.
                let mut rollback = Control::new("rollback", vec!["ROLLBACK".into()]);
                let _ = s.db.drive(Some(&mut conn), &mut rollback, &mut s.log);
            }
        }
        s.undo_flushes(0);
    }
}

/// The end of a savepoint: unless it was released, rolled back to, on every way out of it (a
/// panic included).
struct Nested<'s> {
    s: &'s mut Session,
    depth: usize,
}

impl Drop for Nested<'_> {
    fn drop(&mut self) {
        if self.s.savepoints.len() > self.depth {
            self.s.roll_back_savepoint(self.depth);
        }
    }
}
