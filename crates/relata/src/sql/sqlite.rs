//! The SQLite dialect.

use std::borrow::Cow;

use super::{Capabilities, Dialect};
use crate::transaction::TxOptions;
use crate::value::SqlType;

/// SQLite: `?` placeholders, one row per write statement, `STRICT` tables (a value of the wrong type is an error, not silently
/// stored), and a `WITHOUT ROWID` association table clustered on its composite key.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sqlite;

impl Dialect for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn capabilities(&self) -> &Capabilities {
        const CAPABILITIES: Capabilities = Capabilities {
            // SQLITE_MAX_VARIABLE_NUMBER is 32766 since SQLite 3.32; the bundled library is newer.
            max_params: 32766,
            // In-process, a statement costs no round trip, while a write of several rows inside
            // a transaction makes SQLite keep a statement journal (a copy of every page it first
            // touches, so it can undo a half-done statement): measured 2x slower than one
            // prepared single-row statement run for each row, for a million association rows.
            max_batch_rows: 1,
            max_generated_key_rows: 1,
            ..Capabilities::DEFAULT
        };
        &CAPABILITIES
    }

    fn column_type(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::BigInt | SqlType::Int | SqlType::Bool => "INTEGER",
            // Dates and times as ISO-8601 text, which SQLite's date functions and other tools
            // read; UUIDs hyphenated; JSON as its text, which SQLite's JSON functions read.
            SqlType::Text
            | SqlType::Date
            | SqlType::Time
            | SqlType::DateTime
            | SqlType::Timestamp
            | SqlType::Uuid
            | SqlType::Json
            | SqlType::Decimal
            | SqlType::Enum(_) => "TEXT",
            SqlType::Double => "REAL",
            SqlType::Blob => "BLOB",
        }
    }

    /// Decimals are text here, which `SUM` would add as floats and `MIN` compare as text: the
    /// connection's own exact aggregates (registered when it opens) compute them instead.
    fn aggregate_function(&self, func: &'static str, ty: SqlType) -> &'static str {
        match (ty, func) {
            (SqlType::Decimal, "SUM") => "relata_decimal_sum",
            (SqlType::Decimal, "AVG") => "relata_decimal_avg",
            (SqlType::Decimal, "MIN") => "relata_decimal_min",
            (SqlType::Decimal, "MAX") => "relata_decimal_max",
            _ => func,
        }
    }

    fn generated_key(&self, autoincrement: bool) -> &'static str {
        if autoincrement {
            "INTEGER PRIMARY KEY AUTOINCREMENT"
        } else {
            "INTEGER PRIMARY KEY"
        }
    }

    fn begin(&self) -> &'static str {
        // Take the write lock up front: a deferred transaction that later needs to write can fail
        // with SQLITE_BUSY halfway through a commit instead of waiting its turn.
        "BEGIN IMMEDIATE"
    }

    fn begin_with(&self, options: TxOptions) -> Cow<'static, str> {
        // SQLite runs one writer at a time, so every transaction is serializable whatever level
        // is asked for. A read-only block starts deferred: in WAL mode it reads its snapshot
        // while a writer writes, and no writer waits for it.
        Cow::Borrowed(if options.is_read_only() {
            "BEGIN"
        } else {
            self.begin()
        })
    }

    fn table_options(&self) -> &'static str {
        " STRICT"
    }

    fn association_table_options(&self) -> &'static str {
        " STRICT, WITHOUT ROWID"
    }
}
