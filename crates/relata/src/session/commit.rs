//! Ending a unit of work: the plan of a commit, the commit itself (a `flush::Commit` machine run
//! on the session's connection), transaction blocks and their guard, and rollback.

use super::*;

impl Session {
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
