//! How transaction blocks run: their isolation level, read-only blocks, and running a block
//! again when the database gave it up in a conflict with another.

use std::time::Duration;

use crate::error::Error;
use crate::io::Database;
use crate::session::Session;

/// A transaction's isolation level: how much of other transactions' concurrent work it may see.
/// Each backend runs at its own default unless a block asks ([`TxOptions::isolation`]):
/// PostgreSQL at `READ COMMITTED`, MySQL/MariaDB at `REPEATABLE READ`. SQLite transactions are
/// always serializable (one writer at a time), so it ignores the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isolation {
    /// Each statement sees what was committed before it began.
    ReadCommitted,
    /// Every statement sees the snapshot taken at the transaction's first read.
    RepeatableRead,
    /// The transaction behaves as if it ran alone: the database aborts one of two transactions
    /// that would otherwise interleave (PostgreSQL's serialization failure, InnoDB's deadlock),
    /// with [`Error::Conflict`]; run it again, for example with
    /// [`Database::transaction_with_retry`].
    Serializable,
}

impl Isolation {
    /// The level as SQL spells it (`REPEATABLE READ`).
    pub fn sql(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        }
    }
}

/// How a transaction block runs ([`Session::transaction_with`]): its isolation level and whether
/// it only reads. The default is what [`Session::transaction`] does: a read-write transaction at
/// the database's default level.
///
/// ```
/// use relata::{Isolation, TxOptions};
/// let report = TxOptions::new().read_only();
/// let transfer = TxOptions::new().isolation(Isolation::Serializable);
/// # let _ = (report, transfer);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOptions {
    isolation: Option<Isolation>,
    read_only: bool,
}

impl TxOptions {
    /// A read-write block at the database's default isolation level.
    pub const fn new() -> TxOptions {
        TxOptions {
            isolation: None,
            read_only: false,
        }
    }

    /// Runs the block at `level`.
    pub const fn isolation(mut self, level: Isolation) -> TxOptions {
        self.isolation = Some(level);
        self
    }

    /// Makes the block read-only: it takes no write lock, so it never waits for a writer (and a
    /// writer never waits for it), and it reads one consistent snapshot (at `REPEATABLE READ`
    /// unless another level is chosen; SQLite's deferred transaction). Changes made in it stay
    /// pending in the session; a `commit()` inside it is [`Error::ReadOnly`].
    pub const fn read_only(mut self) -> TxOptions {
        self.read_only = true;
        self
    }

    /// The isolation level asked for, if any.
    pub const fn isolation_level(&self) -> Option<Isolation> {
        self.isolation
    }

    /// Whether the block is read-only.
    pub const fn is_read_only(&self) -> bool {
        self.read_only
    }
}

/// When [`Database::transaction_with_retry`] runs a block again, and how long it waits first.
///
/// A retryable failure ([`Error::is_retryable`]: a serialization failure or deadlock, a busy or
/// locked database) is followed by a pause of a random length up to `backoff` (doubling with each
/// attempt, at most `max_backoff`: "full jitter", so that the transactions that collided do not
/// collide again), then a new attempt, up to `attempts` in all. The defaults: 10 attempts, 5 ms
/// doubling to at most 1 s, at the database's default isolation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    options: TxOptions,
    attempts: u32,
    backoff: Duration,
    max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry::new()
    }
}

impl Retry {
    /// The default policy: 10 attempts, 5 ms doubling to at most 1 s between them.
    pub const fn new() -> Retry {
        Retry {
            options: TxOptions::new(),
            attempts: 10,
            backoff: Duration::from_millis(5),
            max_backoff: Duration::from_secs(1),
        }
    }

    /// The default policy at [`Isolation::Serializable`]: what PostgreSQL's documentation and
    /// distributed engines such as CockroachDB (serializable by default) expect of clients.
    pub const fn serializable() -> Retry {
        Retry::new().options(TxOptions::new().isolation(Isolation::Serializable))
    }

    /// Runs each attempt with these transaction options.
    pub const fn options(mut self, options: TxOptions) -> Retry {
        self.options = options;
        self
    }

    /// At most `attempts` attempts in all (at least one).
    pub const fn attempts(mut self, attempts: u32) -> Retry {
        self.attempts = if attempts == 0 { 1 } else { attempts };
        self
    }

    /// The longest pause before the second attempt; it doubles for each later one, up to `max`.
    pub const fn backoff(mut self, first: Duration, max: Duration) -> Retry {
        self.backoff = first;
        self.max_backoff = max;
        self
    }

    /// The pause before attempt `attempt + 1`: random, up to the attempt's backoff.
    fn pause(&self, attempt: u32, random: &mut u64) -> Duration {
        let ceiling = self
            .backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max_backoff);
        // xorshift64: enough to spread the colliding transactions apart.
        *random ^= *random << 13;
        *random ^= *random >> 7;
        *random ^= *random << 17;
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(if nanos == 0 { 0 } else { *random % nanos })
    }
}

/// A block that [`Database::transaction_with_retry`] committed: its value, the session it ran in
/// (holding the committed objects, with their generated ids), and how many attempts it took.
#[derive(Debug)]
pub struct Committed<T> {
    /// What the block returned.
    pub value: T,
    /// The session of the attempt that committed.
    pub session: Session,
    /// How many attempts it took (1 when the first committed).
    pub attempts: u32,
}

/// Whether `e`, or an error it wraps (its `source()` chain), is a relata error that
/// [`Error::is_retryable`] says may succeed if run again.
pub fn is_retryable_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(relata) = err.downcast_ref::<Error>() {
            return relata.is_retryable();
        }
        current = err.source();
    }
    false
}

impl Database {
    /// Runs `body` in a transaction on a new session and commits it; when the database gives the
    /// transaction up in a conflict with another (a serialization failure, a deadlock, a busy
    /// database: [`Error::is_retryable`]), waits a moment and runs `body` again on another new
    /// session, as [`Retry`] says. Each attempt starts from scratch (a new session reads
    /// everything afresh), so `body` must do all of its reading inside the block and may run
    /// several times: keep side effects outside it.
    ///
    /// `body` may fail with the application's own error type `E`, which must be able to hold a
    /// relata error (`From<relata::Error>`); an `E` whose `source()` chain holds a retryable
    /// relata error is retried too. Any other error ends it at once, rolled back. When every
    /// attempt failed, the last error is returned.
    ///
    /// ```
    /// use relata::{Database, Model, Retry, schema};
    /// # #[derive(Model)] #[relata(table = "accounts")]
    /// # struct Account { #[relata(primary_key)] id: Option<i64>, balance: i64 }
    /// let db = Database::open("sqlite::memory:")?;
    /// db.create_all(&schema![Account])?;
    /// let done = db.transaction_with_retry(&Retry::serializable(), |s| {
    ///     if s.query::<Account>().count()? == 0 {
    ///         s.add(Account { id: None, balance: 100 });
    ///     }
    ///     Ok::<_, relata::Error>(())
    /// })?;
    /// assert_eq!(done.attempts, 1);
    /// assert_eq!(db.session().query::<Account>().count()?, 1);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn transaction_with_retry<T, E>(
        &self,
        retry: &Retry,
        mut body: impl FnMut(&mut Session) -> std::result::Result<T, E>,
    ) -> std::result::Result<Committed<T>, E>
    where
        E: From<Error> + std::error::Error + 'static,
    {
        let mut random = seed();
        let mut attempt = 1;
        loop {
            let mut session = self.session();
            match session.transaction_with(retry.options, &mut body) {
                Ok(value) => {
                    return Ok(Committed {
                        value,
                        session,
                        attempts: attempt,
                    })
                }
                Err(e) if attempt < retry.attempts && is_retryable_error(&e) => {
                    tracing::debug!(target: "relata::sql", attempt, error = %e, "retrying a transaction");
                    std::thread::sleep(retry.pause(attempt, &mut random));
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A seed for the backoff's randomness: the clock and the thread, never zero.
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_and_stay_under_the_ceiling() {
        let retry = Retry::new().backoff(Duration::from_millis(10), Duration::from_millis(50));
        let mut random = 12345;
        for attempt in 1..=8 {
            let ceiling =
                Duration::from_millis(10 * (1 << (attempt - 1))).min(Duration::from_millis(50));
            for _ in 0..50 {
                assert!(retry.pause(attempt, &mut random) < ceiling);
            }
        }
        assert_eq!(Retry::new().attempts(0).attempts, 1);
    }

    #[test]
    fn finds_a_retryable_error_behind_an_application_error() {
        #[derive(Debug)]
        struct App(Error);
        impl std::fmt::Display for App {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "app: {}", self.0)
            }
        }
        impl std::error::Error for App {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let conflict = || Error::Conflict {
            driver: None,
            message: "could not serialize access".into(),
        };
        assert!(is_retryable_error(&conflict()));
        assert!(is_retryable_error(&App(conflict())));
        assert!(!is_retryable_error(&App(Error::NotFound {
            table: "t",
            what: "x".into()
        })));
        assert!(!is_retryable_error(&std::fmt::Error));
    }
}
