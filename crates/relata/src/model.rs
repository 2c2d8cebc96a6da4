//! The [`Model`] trait that `#[derive(Model)]` implements, its table metadata, typed keys and typed
//! column expressions.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::Result;
use crate::value::{ColumnType, RowSource, SqlType, ValueRef};

/// One column of a model's table, other than the primary key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnDef {
    /// The column's name in the database.
    pub name: &'static str,
    /// The field's name in the Rust struct.
    pub field: &'static str,
    /// Its SQL type.
    pub sql_type: SqlType,
    /// Whether it accepts `NULL` (the field is an `Option`).
    pub nullable: bool,
    /// Whether it carries a `UNIQUE` constraint (`#[relata(unique)]`).
    pub unique: bool,
    /// Whether it has an index (`#[relata(index)]`).
    pub indexed: bool,
    /// Whether that index is a hash index (`#[relata(index = "hash")]`) where the database has
    /// them (PostgreSQL): equality lookups only, but no limit on the size of a value, where a
    /// PostgreSQL B-tree entry holds at most about 2,700 bytes. SQLite and MySQL use their usual
    /// index instead.
    pub hash_index: bool,
    /// The model this column's foreign key references (`#[relata(references = Teacher)]`).
    pub references: Option<Reference>,
}

/// A foreign key column's target: the referenced model's table (its primary key) and what a
/// delete of a referenced row does.
#[derive(Clone, Copy)]
pub struct Reference {
    /// The referenced model's table (a function: a model may reference itself).
    pub table: fn() -> &'static TableDef,
    /// What deleting the referenced row does to this one.
    pub on_delete: crate::relation::OnDelete,
}

impl PartialEq for Reference {
    fn eq(&self, other: &Self) -> bool {
        (self.table)().name == (other.table)().name && self.on_delete == other.on_delete
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reference")
            .field("table", &(self.table)().name)
            .field("on_delete", &self.on_delete)
            .finish()
    }
}

/// A model's table: its name, primary key and columns, as the derive declares them.
#[derive(Debug)]
pub struct TableDef {
    /// The table's name in the database.
    pub name: &'static str,
    /// The Rust type's name, for messages.
    pub model: &'static str,
    /// The primary key column's name.
    pub primary_key: &'static str,
    /// The type of a key the application chooses (`#[relata(primary_key)] code: String`,
    /// a `uuid::Uuid`, an `i64` it numbers itself); `None` for the generated integer key
    /// (`Option<i64>`, filled in by the database at the first commit).
    pub chosen_key: Option<SqlType>,
    /// Whether generated keys are never reused after a delete (SQLite's `AUTOINCREMENT`).
    pub autoincrement: bool,
    /// The other columns, in field order.
    pub columns: &'static [ColumnDef],
    /// The version column (`#[relata(version)]`), an index into `columns`: every UPDATE of an
    /// object checks it still holds the version the session read and increments it, so of two
    /// sessions that changed the same row, the second to commit gets [`Error::Stale`](crate::Error::Stale).
    pub version: Option<usize>,
    /// The process-wide slot of this model's type, used to index per-model storage.
    #[doc(hidden)]
    pub slot: fn() -> usize,
}

impl TableDef {
    /// The primary key's SQL type: `BigInt` for a generated key, else the chosen key's.
    pub fn key_type(&self) -> SqlType {
        self.chosen_key.unwrap_or(SqlType::BigInt)
    }
}

impl PartialEq for TableDef {
    /// Tables are equal when they have the same name (a schema never holds two of one name).
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// A process-wide slot number, assigned on first use; lets a session index its per-type storage
/// with a plain vector instead of hashing a `TypeId`.
#[doc(hidden)]
pub struct Slot(AtomicUsize);

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

impl Slot {
    /// An unassigned slot.
    #[allow(clippy::new_without_default)] // only used in statics, where Default cannot be called
    pub const fn new() -> Self {
        Slot(AtomicUsize::new(usize::MAX))
    }

    /// The slot's number, assigned on the first call.
    #[inline]
    pub fn get(&self) -> usize {
        let v = self.0.load(Ordering::Relaxed);
        if v != usize::MAX {
            return v;
        }
        let fresh = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
        match self
            .0
            .compare_exchange(usize::MAX, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh,
            Err(current) => current,
        }
    }
}

/// A type stored in a table: implemented by `#[derive(Model)]`.
///
/// A model has one primary key field (marked `#[relata(primary_key)]`) and any number of column
/// fields. The key is either generated, `Option<i64>`: `None` until the object is first
/// committed, then the database's key; or chosen by the application, of any [`KeyType`]
/// (`String`, `uuid::Uuid`, `i64`): set when the object is made, and never changed after it
/// is stored.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a relata model",
    label = "not a model",
    note = "add #[derive(relata::Model)] to `{Self}`"
)]
pub trait Model: Sized + Send + 'static {
    /// The primary key's Rust type: `i64` for a generated key, the field's type for a chosen
    /// one (what [`Session::id`](crate::Session::id) returns and
    /// [`Session::find`](crate::Session::find) takes).
    type Id: KeyType;
    /// The table's metadata.
    const TABLE: &'static TableDef;
    /// A generated primary key: `None` until the object has been committed. Always `None` for
    /// a model whose key is chosen ([`TableDef::chosen_key`]).
    fn id(&self) -> Option<i64>;
    /// Sets a generated primary key (used by the session after an insert); does nothing for a
    /// chosen key.
    fn set_id(&mut self, id: Option<i64>);
    /// The primary key as the database stores it: a generated key (`NULL` before the first
    /// commit), or the chosen key's value.
    fn key_value(&self) -> ValueRef<'_>;
    /// The primary key as its Rust type: `None` for a generated key not assigned yet.
    fn primary_key(&self) -> Option<Self::Id>;
    /// The value of column `column` (an index into [`TableDef::columns`]).
    fn value(&self, column: usize) -> ValueRef<'_>;
    /// Builds a model from a row holding its primary key in column `start - 1` and every other
    /// column, in order, from index `start`. A generated key is read already and given as
    /// `id`; a chosen key is read from the row.
    fn from_row(id: i64, row: &dyn RowSource, start: usize) -> Result<Self>;
    /// A copy of the object (the session keeps one to know which columns changed).
    fn snapshot(&self) -> Self;
    /// Sets column `column` (an index into [`TableDef::columns`]) to the value in column `idx`
    /// of `row`: how the session writes a parent's key into a foreign key field.
    fn set_value(&mut self, column: usize, row: &dyn RowSource, idx: usize) -> Result<()>;
    /// Sets the version column ([`TableDef::version`]), if the model has one: the session
    /// counts versions from 1 and increments them as its updates commit.
    fn set_version(&mut self, version: i64) {
        let _ = version;
    }
}

/// A typed handle to an object held by a session: `Copy`, and the same before and after the
/// object is committed. Read with `session[key]`, write with `&mut session[key]`.
pub struct Key<M> {
    pub(crate) slot: u32,
    pub(crate) session: u32,
    _model: PhantomData<fn() -> M>,
}

impl<M> Key<M> {
    pub(crate) fn new(session: u32, slot: u32) -> Self {
        Key {
            slot,
            session,
            _model: PhantomData,
        }
    }

    /// The object's position in its session, stable for the session's life (not its database id:
    /// see `Session::id`).
    pub fn index(self) -> u32 {
        self.slot
    }
}

impl<M> Clone for Key<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for Key<M> {}
impl<M> PartialEq for Key<M> {
    fn eq(&self, other: &Self) -> bool {
        self.slot == other.slot && self.session == other.session
    }
}
impl<M> Eq for Key<M> {}
impl<M> Hash for Key<M> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.slot.hash(state);
        self.session.hash(state);
    }
}
impl<M> PartialOrd for Key<M> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for Key<M> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.session, self.slot).cmp(&(other.session, other.slot))
    }
}
impl<M: Model> fmt::Debug for Key<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key<{}>({})", M::TABLE.model, self.slot)
    }
}

/// A typed column of model `M` holding Rust values of type `T`; the derive makes one constant per
/// field (`Student::NAME`) and `Student::ID` for the primary key. Build filters from it.
pub struct Column<M, T> {
    pub(crate) name: &'static str,
    _p: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Column<M, T> {
    /// A column named `name` (used by the derive).
    #[doc(hidden)]
    pub const fn new(name: &'static str) -> Self {
        Column {
            name,
            _p: PhantomData,
        }
    }

    /// The column's name in the database.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<M, T> Clone for Column<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, T> Copy for Column<M, T> {}

impl<M: Model, T> fmt::Debug for Column<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", M::TABLE.name, self.name)
    }
}

/// Compile-time check used by the derives: `T` must be a column type.
#[doc(hidden)]
pub const fn assert_column_type<T: ColumnType>() {}

/// A type that can be a model's primary key. Generated keys are `i64`; a key the application
/// chooses can be `i64`, `String` or `uuid::Uuid`, or a type of its own stored as one of them
/// (implement this marker for a [`StoredAs`](crate::StoredAs) newtype over `String`, say).
///
/// Keys are compared by their stored value: two objects whose keys store the same text are
/// the same row. On MySQL a text key is a `VARCHAR(384)` (two of them fit one index of an
/// association table), compared byte for byte.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a primary key",
    label = "not a key type",
    note = "a primary key is `Option<i64>` (generated), or `i64`, `String` or `uuid::Uuid` (chosen by the application)"
)]
pub trait KeyType: ColumnType + Send {}

impl KeyType for i64 {}
impl KeyType for String {}
#[cfg(feature = "uuid")]
impl KeyType for uuid::Uuid {}

/// Compile-time check used by the derives: `T` must be a model.
#[doc(hidden)]
pub const fn assert_model<T: Model>() {}

/// Renders `table(col = value, ...)` for messages about one row.
pub(crate) fn describe_row<M: Model>(obj: &M) -> String {
    let table = M::TABLE;
    let mut out = format!("{}(", table.name);
    let key = obj.key_value();
    if key != ValueRef::Null {
        out.push_str(&format!("{} = {key}, ", table.primary_key));
    }
    for (i, c) in table.columns.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&format!("{} = {}", c.name, obj.value(i)));
    }
    out.push(')');
    out
}
