//! How one database spells SQL ([`Dialect`]) and what it can do ([`Capabilities`]).

use std::borrow::Cow;

use crate::transaction::{Isolation, TxOptions};
use crate::value::{EnumType, SqlType};

/// What a database can do, and how relata batches its work there: plain data, one value per
/// dialect (`Dialect::capabilities`), read where the flush and the loaders decide how many rows
/// a statement carries and which statements to run. How SQL is *spelled* stays in [`Dialect`]'s
/// methods; these are the policy. Build one from [`Capabilities::DEFAULT`] with the fields that
/// differ (`Capabilities { returning: true, ..Capabilities::DEFAULT }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The most bound parameters one statement may carry.
    pub max_params: usize,
    /// The most rows one batched write (`INSERT ... VALUES`, `DELETE ... IN`, deletes capped at
    /// 256) carries, within `max_params`. PostgreSQL wants many: the bench's W1 (1.1M
    /// rows) takes 12.1 s at 256 rows a statement, 10.9 s at 4,096 and 10.5 s at 16,384, about
    /// the time of `COPY`. MySQL keeps 256 (a statement must fit `max_allowed_packet`, 16 MiB by
    /// default on MariaDB). SQLite wants one, run again for each row on one prepared statement,
    /// see [`Sqlite`](super::Sqlite).
    pub max_batch_rows: usize,
    /// The most rows one `INSERT` carries when relata needs their generated keys.
    pub max_generated_key_rows: usize,
    /// Whether `INSERT ... RETURNING` gives the generated keys (then relata reads them from the
    /// statement; otherwise the driver reports them).
    pub returning: bool,
    /// Whether a multi-row `INSERT` takes its rows from one array parameter per column
    /// (`INSERT INTO t (a, b) SELECT * FROM unnest($1::BIGINT[], $2::TEXT[])`) rather than a
    /// parameter per value (`VALUES ($1, $2), ($3, $4), ...`). PostgreSQL parses and plans a
    /// statement of two parameters instead of 32,768: a million FK-checked association rows
    /// took 10.1 s against 11.0 s in 16,384-row statements (`COPY`: 9.7 s), and the SQL is the
    /// same for any number of rows, so one prepared statement serves every batch.
    pub insert_arrays: bool,
    /// How many statements an eager load ([`Query::eager`](crate::Query::eager)) runs: 2, the
    /// pairs and then the targets, or 1, the same two selects as one `UNION ALL` (PostgreSQL,
    /// where it costs no more: one round trip and one snapshot). Measured on a million pairs:
    /// MariaDB's `UNION ALL` takes 0.22 s of server time against 0.15 s for the two plain
    /// selects, and ignores the pairs' `ORDER BY` inside the union's derived table; SQLite runs
    /// 4% more instructions for the eager load (9% more in `sqlite3_step`) as one statement.
    pub eager_load_statements: usize,
    /// Whether to refresh the planner's statistics (`ANALYZE`) of a table right after a commit
    /// that inserted 1,000 rows or more into it. PostgreSQL plans
    /// from statistics that autovacuum refreshes only on its next round (up to a minute later);
    /// until then a freshly loaded table looks empty and a lookup through it can be planned as a
    /// scan of the other side (measured: 0.9 ms instead of 0.03 ms for a lazy load).
    pub analyze_after_bulk_load: bool,
    /// Whether the transaction stays usable after a failed statement (so a failing batch can be
    /// retried row by row to name the row at fault).
    pub continues_after_error: bool,
}

impl Capabilities {
    /// The common case: 32,766 parameters, 16,384 rows a batch, keys from the driver, two
    /// statements an eager load, and a transaction that survives a failed statement.
    pub const DEFAULT: Capabilities = Capabilities {
        max_params: 32766,
        max_batch_rows: 16384,
        max_generated_key_rows: 16384,
        returning: false,
        insert_arrays: false,
        eager_load_statements: 2,
        analyze_after_bulk_load: false,
        continues_after_error: true,
    };
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities::DEFAULT
    }
}

/// How one database spells SQL. Each dialect is a zero-sized type that overrides only what differs
/// from the defaults.
pub trait Dialect: Send + Sync + 'static {
    /// The dialect's name (`sqlite`).
    fn name(&self) -> &'static str;

    /// What the database can do and how relata batches work there.
    fn capabilities(&self) -> &Capabilities;

    /// Appends `ident` quoted as an identifier.
    fn quote(&self, out: &mut String, ident: &str) {
        out.push('"');
        for c in ident.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    }

    /// Appends the placeholder for the `n`th parameter (1-based).
    fn placeholder(&self, out: &mut String, n: usize) {
        let _ = n;
        out.push('?');
    }

    /// The column type for a Rust field type.
    fn column_type(&self, ty: SqlType) -> &'static str;

    /// The column type of a `unique` or `index` column (MySQL cannot index unbounded text).
    fn key_column_type(&self, ty: SqlType) -> &'static str {
        self.column_type(ty)
    }

    /// The column type of a primary key column the application fills (a chosen key, an end of
    /// an association): bounded so that two of them fit one index (MySQL).
    fn primary_key_type(&self, ty: SqlType) -> &'static str {
        self.key_column_type(ty)
    }

    /// The type a `CAST` names for a Rust field type (a column type may carry a collation).
    fn cast_type(&self, ty: SqlType) -> &'static str {
        self.column_type(ty)
    }

    /// The statement that creates a native enum type before the tables that use it, where the
    /// database has such types (PostgreSQL); `None` where an enum is a column type (MySQL) or
    /// text (SQLite).
    fn create_enum(&self, e: &EnumType) -> Option<String> {
        let _ = e;
        None
    }

    /// Appends a `NULL` of the given type, for a `UNION` arm whose other arm has a typed column.
    fn typed_null(&self, out: &mut String, ty: SqlType) {
        out.push_str("CAST(NULL AS ");
        out.push_str(self.cast_type(ty));
        out.push(')');
    }

    /// The type an aggregate's result is cast to so that it reads as `ty`, where the database
    /// answers with another type (PostgreSQL sums integers as `NUMERIC` and averages them as
    /// `NUMERIC`; MySQL as `DECIMAL`); `None` to leave it as the database gives it (SQLite).
    fn aggregate_cast(&self, ty: SqlType) -> Option<&'static str> {
        let _ = ty;
        None
    }

    /// The aggregate function that computes `func` (`SUM`, `AVG`, `MIN` or `MAX`) for a result
    /// of type `ty`: `func` itself, or a function of relata's where the database's own would not
    /// be exact (SQLite's decimals).
    fn aggregate_function(&self, func: &'static str, ty: SqlType) -> &'static str {
        let _ = ty;
        func
    }

    /// The function that gives a text's length in characters.
    fn char_length(&self) -> &'static str {
        "length"
    }

    /// The definition of an integer primary key the database generates.
    fn generated_key(&self, autoincrement: bool) -> &'static str;

    /// What follows `CREATE TABLE (...)` for a model's table.
    fn table_options(&self) -> &'static str {
        ""
    }

    /// What follows `CREATE TABLE (...)` for an association table.
    fn association_table_options(&self) -> &'static str {
        self.table_options()
    }

    /// A query of one text column: the names of the tables and indexes in the schema that
    /// `CREATE TABLE` without a schema name writes to. `create_all` reads it first and runs no
    /// DDL (and takes no lock) when every table and index it would create is there.
    fn existing_tables_and_indexes(&self) -> &'static str {
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'index')"
    }

    /// A query of two text columns naming each foreign key that references the table bound as
    /// its one parameter (the referencing table, and its column), for a dialect whose error
    /// for a delete blocked by a foreign key names neither (SQLite); `None` where it does.
    fn foreign_keys_referencing(&self) -> Option<&'static str> {
        Some(
            "SELECT m.name, f.\"from\" FROM sqlite_master AS m \
             JOIN pragma_foreign_key_list(m.name) AS f \
             WHERE m.type = 'table' AND f.\"table\" = ? ORDER BY m.name, f.\"from\"",
        )
    }

    /// How `create_all` keeps two processes from creating the same tables at once, where the
    /// transaction that runs the DDL does not (two PostgreSQL transactions may both run `CREATE
    /// TABLE IF NOT EXISTS` for one table, and the second fails on a catalog unique index):
    /// `None` where the transaction's own lock suffices (SQLite's `BEGIN IMMEDIATE`).
    fn schema_lock(&self) -> Option<SchemaLock> {
        None
    }

    /// The statement that opens a write transaction.
    fn begin(&self) -> &'static str {
        "BEGIN"
    }

    /// The statement(s) that open a transaction block with these options: the isolation level
    /// and read-only mode as the SQL standard (and PostgreSQL) spells them; a read-only block
    /// without a level reads one snapshot (`REPEATABLE READ`).
    fn begin_with(&self, options: TxOptions) -> Cow<'static, str> {
        let isolation = match (options.isolation_level(), options.is_read_only()) {
            (None, true) => Some(Isolation::RepeatableRead),
            (level, _) => level,
        };
        match (isolation, options.is_read_only()) {
            (None, _) => Cow::Borrowed(self.begin()),
            (Some(level), read_only) => Cow::Owned(format!(
                "BEGIN ISOLATION LEVEL {}{}",
                level.sql(),
                if read_only { " READ ONLY" } else { "" }
            )),
        }
    }

    /// What turns an insert of association rows into one that skips pairs already present;
    /// `first_column` is the association's first key column.
    fn on_conflict_do_nothing(&self, out: &mut String, first_column: &str) {
        let _ = first_column;
        out.push_str(" ON CONFLICT DO NOTHING");
    }

    /// What turns an insert into an upsert: a row whose `on` column (the primary key or a
    /// unique column) holds a value already present updates that row's `update` columns to the
    /// new row's instead, and counts its `version` column up. `ON CONFLICT (on) DO UPDATE SET
    /// ...` as SQLite and PostgreSQL spell it.
    fn upsert_clause(
        &self,
        out: &mut String,
        table: &str,
        on: &str,
        update: &[&str],
        version: Option<&str>,
    ) {
        out.push_str(" ON CONFLICT (");
        self.quote(out, on);
        out.push_str(") DO UPDATE SET ");
        // With nothing else to update, a no-op assignment still makes it return the row.
        let set: &[&str] = if update.is_empty() && version.is_none() {
            &[on]
        } else {
            update
        };
        for (i, c) in set.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            self.quote(out, c);
            out.push_str(" = excluded.");
            self.quote(out, c);
        }
        if let Some(v) = version {
            if !set.is_empty() {
                out.push_str(", ");
            }
            self.quote(out, v);
            out.push_str(" = ");
            self.quote(out, table);
            out.push('.');
            self.quote(out, v);
            out.push_str(" + 1");
        }
    }

    /// How an `INSERT` of one row with no columns but its generated key ends.
    fn default_values(&self) -> &'static str {
        " DEFAULT VALUES"
    }

    /// What follows `LIKE ?` to make `\` its escape character.
    fn like_escape(&self) -> &'static str {
        " ESCAPE '\\'"
    }

    /// How a foreign key to a table created later (two tables that reference each other) is
    /// declared: inline where the database checks the parent only when rows are written
    /// (SQLite), else added by `ALTER TABLE` once both tables exist.
    fn forward_foreign_keys(&self) -> ForwardKeys {
        ForwardKeys::Inline
    }

    /// Whether indexes are declared inside `CREATE TABLE` (MySQL has no `CREATE INDEX IF NOT
    /// EXISTS`) rather than by `CREATE INDEX IF NOT EXISTS` after it.
    fn inline_indexes(&self) -> bool {
        false
    }

    /// The access method of a hash index (`USING ...`), where the database has one for
    /// `#[relata(index = "hash")]`; `None` makes those columns' indexes ordinary ones.
    fn hash_index_method(&self) -> Option<&'static str> {
        None
    }

    /// How many leading characters (bytes for a blob) an index on a column of this type covers,
    /// where the database cannot index whole values (MySQL: 3072 bytes, 768 `utf8mb4`
    /// characters); `None` to index whole values. A prefix index still serves equality and
    /// range lookups: the database checks the whole value of each row the prefix finds.
    fn index_prefix(&self, _ty: SqlType) -> Option<u32> {
        None
    }

    /// A statement, run after inserting objects with ids their users chose, that moves the
    /// table's key generator past `$3`, the largest of them, so generated keys never collide
    /// with them. Parameters: the quoted table name, the key column, the largest id.
    fn advance_key_generator(&self) -> Option<&'static str> {
        None
    }
}

/// A lock on a database's schema, held while `create_all` runs its DDL (see
/// [`Dialect::schema_lock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaLock {
    /// A query run first in the DDL's transaction that waits for the lock; with
    /// `granted_reads_one`, it returns one row whose first column is 1 when the lock was granted
    /// (MySQL's `GET_LOCK` returns 0 when it gave up waiting).
    pub acquire: &'static str,
    /// Whether `acquire` returns 1 when granted.
    pub granted_reads_one: bool,
    /// A query that releases the lock after the transaction, where ending the transaction does
    /// not release it.
    pub release: Option<&'static str>,
}

/// How a dialect declares a foreign key to a table created after its own
/// ([`Dialect::forward_foreign_keys`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForwardKeys {
    /// In `CREATE TABLE`, like any other (SQLite resolves the parent when rows are written).
    Inline,
    /// `ALTER TABLE ... ADD CONSTRAINT` in a block that skips a constraint already there
    /// (PostgreSQL: `DO $$ ... EXCEPTION WHEN duplicate_object ...`).
    AlterUnlessPresent,
    /// `ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY IF NOT EXISTS` (MariaDB).
    AlterIfNotExists,
    /// A plain `ALTER TABLE ... ADD CONSTRAINT` (MySQL 8, which has no `IF NOT EXISTS` for it:
    /// `create_all` runs it only when a table of the schema is missing).
    Alter,
}
