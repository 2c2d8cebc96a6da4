//! The MySQL and MariaDB dialects (also spoken by TiDB and Vitess).

use std::borrow::Cow;

use super::{Capabilities, Dialect, SchemaLock};
use crate::transaction::TxOptions;
use crate::value::SqlType;

/// MySQL and MariaDB: backtick-quoted identifiers, `?` placeholders, `AUTO_INCREMENT` keys,
/// InnoDB tables in `utf8mb4` (every Unicode character, 𠮷 included) with a binary collation that
/// does not pad (text compared and sorted by code point, trailing spaces significant, as on
/// SQLite and PostgreSQL: `utf8mb4_nopad_bin` on MariaDB, `utf8mb4_0900_bin` on MySQL 8; a
/// server with neither gets `utf8mb4_bin`, which ignores trailing spaces), indexes declared inside
/// `CREATE TABLE`, and multi-row writes of up to 256 rows a statement (a statement must fit the server's
/// `max_allowed_packet`).
///
/// Generated keys come from `RETURNING` on MariaDB 10.5 and later ([`MySql::MARIADB`]); on MySQL
/// ([`MySql::MYSQL`]) from the first generated id and the row count of each multi-row insert,
/// stepping by the server's `auto_increment_increment`, or from one single-row insert each where
/// the server's lock mode does not keep one statement's keys consecutive
/// ([`MySql::MYSQL_ROW_KEYS`]).
///
/// Text columns are `LONGTEXT`, except `unique` ones, which are `VARCHAR(768)`: InnoDB indexes
/// at most 3072 bytes of a key, four bytes a character in `utf8mb4`, and a unique key must hold
/// the whole value. relata's connections run in strict mode, so a longer value is an error,
/// never silently cut. An `index` column stays `LONGTEXT` (no length limit) with an index on its
/// first 768 characters, which serves lookups just the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MySql {
    /// `RETURNING` or not, and the rows with generated keys one `INSERT` can carry.
    capabilities: Capabilities,
    /// The tables' and connections' collation.
    collation: &'static str,
}

impl MySql {
    /// MySQL 8 with `innodb_autoinc_lock_mode` 0 or 1: a multi-row insert's keys are
    /// consecutive, so the driver's first id and row count give them all.
    pub const MYSQL: MySql = MySql::new(false, 256, "utf8mb4_0900_bin");
    /// MySQL 8 with `innodb_autoinc_lock_mode` 2 (its default), where one statement's keys may
    /// interleave with another's: one row per `INSERT` that needs its generated key.
    pub const MYSQL_ROW_KEYS: MySql = MySql::new(false, 1, "utf8mb4_0900_bin");
    /// MariaDB 10.5 and later: generated keys from `INSERT ... RETURNING`.
    pub const MARIADB: MySql = MySql::new(true, 256, "utf8mb4_nopad_bin");

    /// The binary collations that keep trailing spaces, MariaDB's then MySQL's, in the order
    /// relata prefers them when the server has them.
    pub const COLLATIONS: [&'static str; 2] = ["utf8mb4_nopad_bin", "utf8mb4_0900_bin"];

    const fn new(returning: bool, generated_key_rows: usize, collation: &'static str) -> MySql {
        MySql {
            capabilities: Capabilities {
                max_params: 65535,
                // A statement must fit `max_allowed_packet` (16 MiB by default on MariaDB): 256
                // rows keep rows of up to 64 KiB inside it.
                max_batch_rows: 256,
                max_generated_key_rows: generated_key_rows,
                returning,
                ..Capabilities::DEFAULT
            },
            collation,
        }
    }

    /// The dialect for a server: generated keys from `RETURNING` or not, how many rows an insert
    /// that needs generated keys carries (1 or 256), and the collation (one of
    /// [`MySql::COLLATIONS`], or `utf8mb4_bin`).
    pub fn variant(returning: bool, generated_key_rows: usize, collation: &str) -> &'static MySql {
        VARIANTS
            .iter()
            .find(|d| {
                d.capabilities.returning == returning
                    && d.capabilities.max_generated_key_rows == generated_key_rows.clamp(1, 256)
                    && d.collation == collation
            })
            .unwrap_or(if returning {
                &MySql::MARIADB
            } else {
                &MySql::MYSQL
            })
    }

    /// The collation of the tables relata creates and of its connections.
    pub fn collation(&self) -> &'static str {
        self.collation
    }
}

/// Every dialect a server can get, so that the one chosen at open is `'static`.
static VARIANTS: [MySql; 12] = {
    const C: [&str; 3] = ["utf8mb4_nopad_bin", "utf8mb4_0900_bin", "utf8mb4_bin"];
    [
        MySql::new(true, 256, C[0]),
        MySql::new(true, 256, C[1]),
        MySql::new(true, 256, C[2]),
        MySql::new(true, 1, C[0]),
        MySql::new(true, 1, C[1]),
        MySql::new(true, 1, C[2]),
        MySql::new(false, 256, C[0]),
        MySql::new(false, 256, C[1]),
        MySql::new(false, 256, C[2]),
        MySql::new(false, 1, C[0]),
        MySql::new(false, 1, C[1]),
        MySql::new(false, 1, C[2]),
    ]
};

impl Dialect for MySql {
    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn name(&self) -> &'static str {
        if self.capabilities.returning {
            "mariadb"
        } else {
            "mysql"
        }
    }

    fn quote(&self, out: &mut String, ident: &str) {
        out.push('`');
        for c in ident.chars() {
            if c == '`' {
                out.push('`');
            }
            out.push(c);
        }
        out.push('`');
    }

    fn column_type(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::BigInt => "BIGINT",
            SqlType::Int => "INT",
            SqlType::Text => "LONGTEXT",
            SqlType::Bool => "BOOLEAN",
            SqlType::Double => "DOUBLE",
            SqlType::Blob => "LONGBLOB",
            SqlType::Date => "DATE",
            SqlType::Time => "TIME(6)",
            // MySQL's TIMESTAMP stops in 2038: a UTC instant is a DATETIME holding UTC.
            SqlType::DateTime | SqlType::Timestamp => "DATETIME(6)",
            SqlType::Uuid => "CHAR(36)",
            SqlType::Json => "JSON",
            // Any rust_decimal: 29 digits before the point (2^96) and 28 after.
            SqlType::Decimal => "DECIMAL(57, 28)",
            SqlType::Enum(e) => e.definition,
        }
    }

    fn aggregate_cast(&self, ty: SqlType) -> Option<&'static str> {
        match ty {
            SqlType::BigInt | SqlType::Int => Some("SIGNED"),
            SqlType::Double => Some("DOUBLE"),
            // An average has 4 more decimal places than its column: back to relata's 28.
            SqlType::Decimal => Some("DECIMAL(65, 28)"),
            _ => None,
        }
    }

    fn char_length(&self) -> &'static str {
        "CHAR_LENGTH" // LENGTH counts bytes
    }

    fn key_column_type(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::Text => "VARCHAR(768)",
            SqlType::Blob => "VARBINARY(3072)",
            other => self.column_type(other),
        }
    }

    /// InnoDB indexes at most 3,072 bytes a key: an association's key is two of these, at 4
    /// bytes a character (utf8mb4).
    fn primary_key_type(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::Text => "VARCHAR(384)",
            SqlType::Blob => "VARBINARY(1536)",
            other => self.column_type(other),
        }
    }

    fn index_prefix(&self, ty: SqlType) -> Option<u32> {
        match ty {
            SqlType::Text => Some(768),
            SqlType::Blob => Some(3072),
            _ => None,
        }
    }

    fn typed_null(&self, out: &mut String, _ty: SqlType) {
        // MySQL's CAST knows few types; a UNION takes its column types from every arm anyway.
        out.push_str("NULL");
    }

    fn generated_key(&self, _autoincrement: bool) -> &'static str {
        // InnoDB keeps its counter across restarts (MySQL 8, MariaDB 10.2.4): never reused.
        "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY"
    }

    fn table_options(&self) -> &'static str {
        match self.collation {
            "utf8mb4_nopad_bin" => {
                " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin"
            }
            "utf8mb4_0900_bin" => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_bin",
            _ => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        }
    }

    fn begin(&self) -> &'static str {
        "START TRANSACTION"
    }

    fn foreign_keys_referencing(&self) -> Option<&'static str> {
        None // the error names the referencing table and constraint
    }

    fn existing_tables_and_indexes(&self) -> &'static str {
        // Indexes are declared inside CREATE TABLE here: the tables are all there is.
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
    }

    fn schema_lock(&self) -> Option<SchemaLock> {
        // DDL commits at once on MySQL, so no transaction holds processes apart: a named lock
        // per database does (held by the connection until released, waited for up to 30 s).
        Some(SchemaLock {
            acquire: "SELECT GET_LOCK(LEFT(CONCAT('relata.create_all.', DATABASE()), 64), 30)",
            granted_reads_one: true,
            release: Some(
                "SELECT RELEASE_LOCK(LEFT(CONCAT('relata.create_all.', DATABASE()), 64))",
            ),
        })
    }

    fn begin_with(&self, options: TxOptions) -> Cow<'static, str> {
        // The level is set for the next transaction only, before it starts; without one,
        // InnoDB's default (REPEATABLE READ) already reads one snapshot.
        let start = if options.is_read_only() {
            "START TRANSACTION READ ONLY"
        } else {
            self.begin()
        };
        match options.isolation_level() {
            None => Cow::Borrowed(start),
            Some(level) => Cow::Owned(format!(
                "SET TRANSACTION ISOLATION LEVEL {}; {start}",
                level.sql()
            )),
        }
    }

    fn on_conflict_do_nothing(&self, out: &mut String, first_column: &str) {
        // Not INSERT IGNORE, which would also turn a foreign key violation into a warning.
        out.push_str(" ON DUPLICATE KEY UPDATE ");
        self.quote(out, first_column);
        out.push_str(" = ");
        self.quote(out, first_column);
    }

    /// MySQL updates on a conflict with any unique key of the table, not only `on`: `on` is
    /// set too, so the row updated is the one with the new row's `on` value (a no-op when the
    /// conflict was on `on`).
    fn upsert_clause(
        &self,
        out: &mut String,
        _table: &str,
        on: &str,
        update: &[&str],
        version: Option<&str>,
    ) {
        out.push_str(" ON DUPLICATE KEY UPDATE ");
        for (i, c) in std::iter::once(&on).chain(update).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            self.quote(out, c);
            out.push_str(" = VALUES(");
            self.quote(out, c);
            out.push(')');
        }
        if let Some(v) = version {
            out.push_str(", ");
            self.quote(out, v);
            out.push_str(" = ");
            self.quote(out, v);
            out.push_str(" + 1");
        }
    }

    fn default_values(&self) -> &'static str {
        " () VALUES ()"
    }

    fn like_escape(&self) -> &'static str {
        // Backslash is LIKE's escape character by default, and a literal '\' would need escaping
        // that depends on the NO_BACKSLASH_ESCAPES mode (relata's connections leave it off).
        ""
    }

    fn inline_indexes(&self) -> bool {
        true
    }

    fn forward_foreign_keys(&self) -> super::ForwardKeys {
        // MariaDB is the flavour with `RETURNING`.
        if self.capabilities.returning {
            super::ForwardKeys::AlterIfNotExists
        } else {
            super::ForwardKeys::Alter
        }
    }
}
