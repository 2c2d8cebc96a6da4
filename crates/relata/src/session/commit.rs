//! Ending a unit of work: the plan of a commit, the commit itself (a `flush::Commit` machine run
//! on the session's connection), transaction blocks and their guard, and rollback.

use super::*;
use crate::io::{Params, Reads, Statements};

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
            tables: self.tables.as_deref(),
        }
    }

    /// Runs `plan` as a commit machine ending as `tx` says, on the block's connection or one of
    /// its own: whether a block's next transaction began, and the keys generated (or why the
    /// commit failed).
    pub(super) fn run_commit(
        &mut self,
        plan: &Plan,
        tx: flush::Tx,
    ) -> Result<(bool, Result<flush::Generated>)> {
        let view = flush::View {
            stores: &self.stores,
            store_order: &self.store_order,
            links: &self.links,
            link_order: &self.link_order,
            tables: self.tables.as_deref(),
        };
        let mut commit =
            flush::Commit::new(plan, view, self.db.dialect(), flush::Verify::Outcomes, tx);
        self.db
            .drive(self.pinned.as_mut(), &mut commit, &mut self.log)?;
        Ok((commit.reopened(), commit.finish()))
    }

    /// Reads the database's table names, once, if a commit deletes objects: it clears their
    /// pairs from every association table the database has.
    pub(super) fn know_tables(&mut self) -> Result<()> {
        // The database's copy: `create_all` and `execute_batch` forget it.
        self.tables = self.db.table_names();
        let deletes = self
            .stores
            .iter()
            .flatten()
            .any(|s| !s.deleted_slots().is_empty());
        if self.tables.is_some() || !deletes {
            return Ok(());
        }
        let d = self.db.dialect();
        let mut reads = Reads::new(
            &"commit: the database's tables",
            Statements::One(d.existing_tables_and_indexes(), Params::Values(&[])),
            TableNames::default(),
        );
        self.db
            .drive(self.pinned.as_mut(), &mut reads, &mut self.log)?;
        self.db.set_table_names(Some(reads.finish()?));
        self.tables = self.db.table_names();
        Ok(())
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
        if !self.savepoints.is_empty() {
            // The transaction belongs to the outermost block: inside a savepoint, a commit
            // writes the changes so far, which land when the outermost block commits.
            return self.flush();
        }
        if self.implicit {
            // The transaction a flush began: committed (or rolled back by the failure), and
            // the session holds no connection after.
            let done = self.commit_inner(false);
            self.end_implicit(false);
            return done;
        }
        self.commit_inner(true)
    }

    /// Commits; inside a transaction block, `reopen` starts the block's next transaction.
    pub(super) fn commit_inner(&mut self, reopen: bool) -> Result<()> {
        self.know_tables()?;
        let plan = flush::plan(self.view())?;
        let in_block = self.pinned.is_some();
        if in_block && self.block.is_read_only() && !plan.is_empty() {
            return Err(Error::ReadOnly);
        }
        if plan.is_empty() && self.flushes == 0 && (!in_block || reopen) {
            flush::apply(
                &plan,
                &flush::Generated::default(),
                &mut self.stores,
                &mut self.links,
                None,
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
        let (reopened, outcome) = self.run_commit(&plan, tx)?;
        if in_block && reopen && !reopened {
            // The block goes on without a transaction of its own: each statement then runs in
            // its own, as outside a block.
            self.pinned = None;
        }
        match outcome {
            Ok(ids) => {
                flush::apply(&plan, &ids, &mut self.stores, &mut self.links, None);
                self.flushes = 0;
                self.upserted.clear();
                Ok(())
            }
            Err(e) => {
                // The block's transaction was rolled back, and with it what its flushes wrote:
                // those changes are pending again.
                self.undo_flushes(0);
                Err(e)
            }
        }
    }

    /// Discards every pending change: new objects become detached, modified objects get their
    /// committed values back, deleted objects and unlinked pairs come back, new links vanish.
    ///
    /// Inside a transaction block, what a [`flush`](Session::flush) wrote is in the block's
    /// transaction, no longer pending: to undo it, fail the block or a
    /// [`savepoint`](Session::savepoint). Outside a block, the transaction a flush began is
    /// rolled back, and what it wrote is discarded with the rest.
    pub fn rollback(&mut self) {
        self.end_implicit(true);
        self.discard_pending();
    }

    /// Discards every pending change, in the session only.
    pub(super) fn discard_pending(&mut self) {
        for s in self.stores.iter_mut().flatten() {
            s.rolled_back();
        }
        for l in self.links.iter_mut().flatten() {
            l.rolled_back();
        }
    }
}
