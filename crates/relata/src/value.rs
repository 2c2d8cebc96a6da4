//! Values and the conversions between Rust field types and SQL.
//!
//! Writing borrows: a model hands out [`ValueRef`]s that point into its own fields, so a flush binds
//! strings and blobs without copying them. Reading goes through [`RowSource`], which each backend
//! implements over its driver's row type, so a model decodes straight from the driver's buffers.

use std::fmt;

pub use crate::numeric::Numeric;
pub use crate::temporal::{Date, DateTime, Time, Timestamp};

/// The SQL storage type of a column, as the schema declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// A 64-bit signed integer (`i64`).
    BigInt,
    /// A 32-bit signed integer (`i32`).
    Int,
    /// Text of any length (`String`).
    Text,
    /// A boolean (`bool`).
    Bool,
    /// A double-precision float (`f64`).
    Double,
    /// Bytes (`Vec<u8>`).
    Blob,
    /// A calendar date (`chrono::NaiveDate`): `DATE`, ISO-8601 text on SQLite.
    Date,
    /// A time of day to the microsecond (`chrono::NaiveTime`): `TIME`.
    Time,
    /// A date and time without a time zone (`chrono::NaiveDateTime`): `TIMESTAMP` on
    /// PostgreSQL, `DATETIME(6)` on MySQL.
    DateTime,
    /// An instant in UTC (`chrono::DateTime<Utc>`): `TIMESTAMPTZ` on PostgreSQL, `DATETIME(6)`
    /// holding UTC on MySQL.
    Timestamp,
    /// A UUID (`uuid::Uuid`): `UUID` on PostgreSQL, `CHAR(36)` on MySQL, hyphenated text on
    /// SQLite.
    Uuid,
    /// A JSON document (`serde_json::Value`, `Json<T>`): `JSONB` on PostgreSQL, `JSON` on
    /// MySQL, text on SQLite.
    Json,
    /// An exact decimal (`rust_decimal::Decimal`): `NUMERIC` on PostgreSQL, `DECIMAL(57, 28)`
    /// on MySQL, decimal text on SQLite.
    Decimal,
    /// A native enum (`#[derive(relata::Enum)]` with `#[relata(native)]`): a type of its own
    /// on PostgreSQL (`CREATE TYPE ... AS ENUM`), an `ENUM(...)` column on MySQL, text on
    /// SQLite.
    Enum(&'static EnumType),
}

/// A native enum type: its name and its values, in order (what `#[derive(relata::Enum)]` with
/// `#[relata(native)]` declares).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EnumType {
    /// The type's name in the database (PostgreSQL), a lowercase identifier.
    pub name: &'static str,
    /// The values, in order.
    pub values: &'static [&'static str],
    /// The values as SQL declares an enum: `ENUM('active', 'on_leave')` (quotes doubled).
    pub definition: &'static str,
}

/// A borrowed SQL value: what a model's field looks like when it is bound to a statement.
#[derive(Clone, Copy)]
pub enum ValueRef<'a> {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Integer(i64),
    /// A float.
    Real(f64),
    /// A boolean.
    Bool(bool),
    /// UTF-8 text.
    Text(&'a str),
    /// Bytes.
    Blob(&'a [u8]),
    /// A calendar date.
    Date(Date),
    /// A time of day.
    Time(Time),
    /// A date and time without a time zone.
    DateTime(DateTime),
    /// An instant in UTC.
    Timestamp(Timestamp),
    /// A UUID's 16 bytes.
    Uuid([u8; 16]),
    /// A JSON document's text.
    Json(&'a str),
    /// An exact decimal.
    Decimal(Numeric),
    /// A field of a user type ([`StoredAs`]), turned into its stored value when it is bound,
    /// compared or shown (so the field need not hold that value itself).
    Encoded(&'a dyn Encode),
}

/// A value that becomes a SQL value on demand: what a [`ValueRef::Encoded`] holds. Implemented
/// for every [`StoredAs`] type; implement `StoredAs`, not this.
pub trait Encode: Send + Sync + 'static {
    /// The value to bind, or why there is none (a JSON document that does not serialize): the
    /// statement is then not run.
    fn encode(&self) -> Result<Value, String>;
}

/// An encoded value for comparing and showing: one that cannot be encoded counts as `NULL` (it
/// is never bound: binding it is an error).
fn lossy(e: &dyn Encode) -> Value {
    e.encode().unwrap_or(Value::Null)
}

impl fmt::Debug for ValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("Null"),
            Self::Integer(v) => f.debug_tuple("Integer").field(v).finish(),
            Self::Real(v) => f.debug_tuple("Real").field(v).finish(),
            Self::Bool(v) => f.debug_tuple("Bool").field(v).finish(),
            Self::Text(v) => f.debug_tuple("Text").field(v).finish(),
            Self::Blob(v) => f.debug_tuple("Blob").field(v).finish(),
            Self::Date(v) => f.debug_tuple("Date").field(v).finish(),
            Self::Time(v) => f.debug_tuple("Time").field(v).finish(),
            Self::DateTime(v) => f.debug_tuple("DateTime").field(v).finish(),
            Self::Timestamp(v) => f.debug_tuple("Timestamp").field(v).finish(),
            Self::Uuid(v) => f.debug_tuple("Uuid").field(&uuid_text(v)).finish(),
            Self::Json(v) => f.debug_tuple("Json").field(v).finish(),
            Self::Decimal(v) => f.debug_tuple("Decimal").field(&v.to_string()).finish(),
            Self::Encoded(v) => f.debug_tuple("Encoded").field(&v.encode()).finish(),
        }
    }
}

impl PartialEq for ValueRef<'_> {
    /// Equality as change tracking needs it: floats compare by bits, so `NaN` equals itself and a
    /// field that did not change is never written. An encoded value compares as what it encodes
    /// to.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Encoded(a), b) => lossy(*a).as_ref() == *b,
            (a, Self::Encoded(b)) => *a == lossy(*b).as_ref(),
            (Self::Null, Self::Null) => true,
            (Self::Integer(a), Self::Integer(b)) => a == b,
            (Self::Real(a), Self::Real(b)) => a.to_bits() == b.to_bits(),
            (Self::Bool(a), Self::Bool(b)) => a == b,
            (Self::Text(a), Self::Text(b)) => a == b,
            (Self::Blob(a), Self::Blob(b)) => a == b,
            (Self::Date(a), Self::Date(b)) => a == b,
            (Self::Time(a), Self::Time(b)) => a == b,
            (Self::DateTime(a), Self::DateTime(b)) => a == b,
            (Self::Timestamp(a), Self::Timestamp(b)) => a == b,
            (Self::Uuid(a), Self::Uuid(b)) => a == b,
            (Self::Json(a), Self::Json(b)) => a == b,
            (Self::Decimal(a), Self::Decimal(b)) => a == b,
            _ => false,
        }
    }
}

impl ValueRef<'_> {
    /// Copies the value into an owned [`Value`].
    pub fn to_owned(&self) -> Value {
        match *self {
            Self::Null => Value::Null,
            Self::Integer(v) => Value::Integer(v),
            Self::Real(v) => Value::Real(v),
            Self::Bool(v) => Value::Bool(v),
            Self::Text(v) => Value::Text(v.to_owned()),
            Self::Blob(v) => Value::Blob(v.to_owned()),
            Self::Date(v) => Value::Date(v),
            Self::Time(v) => Value::Time(v),
            Self::DateTime(v) => Value::DateTime(v),
            Self::Timestamp(v) => Value::Timestamp(v),
            Self::Uuid(v) => Value::Uuid(v),
            Self::Json(v) => Value::Json(v.to_owned()),
            Self::Decimal(v) => Value::Decimal(v),
            Self::Encoded(v) => lossy(v),
        }
    }
}

/// Checks that a date or time value is one relata stores (years 1 to 9999), before it is bound:
/// outside that range, text would no longer sort by time and the servers differ.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))] // only backends bind
pub(crate) fn in_range(v: ValueRef<'_>) -> Result<(), String> {
    let date = match v {
        ValueRef::Date(d) => d,
        ValueRef::DateTime(dt) => dt.date,
        ValueRef::Timestamp(ts) => ts.to_utc().date,
        _ => return Ok(()),
    };
    date.checked().map(|_| ()).map_err(|e| e.0)
}

/// An owned SQL value: the parameters of queries and filters.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Integer(i64),
    /// A float.
    Real(f64),
    /// A boolean.
    Bool(bool),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
    /// A calendar date.
    Date(Date),
    /// A time of day.
    Time(Time),
    /// A date and time without a time zone.
    DateTime(DateTime),
    /// An instant in UTC.
    Timestamp(Timestamp),
    /// A UUID's 16 bytes.
    Uuid([u8; 16]),
    /// A JSON document's text.
    Json(String),
    /// An exact decimal.
    Decimal(Numeric),
}

impl Value {
    /// Borrows the value.
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Self::Null => ValueRef::Null,
            Self::Integer(v) => ValueRef::Integer(*v),
            Self::Real(v) => ValueRef::Real(*v),
            Self::Bool(v) => ValueRef::Bool(*v),
            Self::Text(v) => ValueRef::Text(v),
            Self::Blob(v) => ValueRef::Blob(v),
            Self::Date(v) => ValueRef::Date(*v),
            Self::Time(v) => ValueRef::Time(*v),
            Self::DateTime(v) => ValueRef::DateTime(*v),
            Self::Timestamp(v) => ValueRef::Timestamp(*v),
            Self::Uuid(v) => ValueRef::Uuid(*v),
            Self::Json(v) => ValueRef::Json(v),
            Self::Decimal(v) => ValueRef::Decimal(*v),
        }
    }
}

/// A UUID's canonical text: 36 lowercase hex digits and hyphens.
pub fn uuid_text(bytes: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Parses a UUID's text (hyphenated or not, any case).
pub fn parse_uuid(text: &str) -> Result<[u8; 16], DecodeError> {
    let hex: Vec<u8> = text.bytes().filter(|&c| c != b'-').collect();
    let bad = || DecodeError(format!("{text:?} is not a UUID"));
    if hex.len() != 32 || text.len() > 36 {
        return Err(bad());
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).map_err(|_| bad())?;
        out[i] = u8::from_str_radix(s, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

impl fmt::Display for ValueRef<'_> {
    /// Renders the value the way echo and error messages show it: text quoted (and cut after 60
    /// characters), blobs by length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("NULL"),
            Self::Integer(v) => write!(f, "{v}"),
            Self::Real(v) => write!(f, "{v:?}"),
            Self::Bool(v) => write!(f, "{v}"),
            Self::Text(v) => {
                let mut chars = v.chars();
                let head: String = chars.by_ref().take(60).collect();
                if chars.next().is_some() {
                    write!(f, "{:?}…", head)
                } else {
                    write!(f, "{head:?}")
                }
            }
            Self::Blob(v) => write!(f, "<{} bytes>", v.len()),
            Self::Date(v) => write!(f, "{v}"),
            Self::Time(v) => write!(f, "{v}"),
            Self::DateTime(v) => write!(f, "{v}"),
            Self::Timestamp(v) => write!(f, "{v}"),
            Self::Uuid(v) => f.write_str(&uuid_text(v)),
            Self::Json(v) => ValueRef::Text(v).fmt(f),
            Self::Decimal(v) => write!(f, "{v}"),
            Self::Encoded(v) => lossy(*v).fmt(f),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_ref().fmt(f)
    }
}

/// Why a stored value could not become the field's Rust type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

/// Read access to one row of a result, implemented by each backend over its driver's row.
///
/// Each getter returns `Ok(None)` for SQL `NULL` and an error when the stored value has another type.
pub trait RowSource {
    /// Reads an integer column.
    fn get_i64(&self, idx: usize) -> Result<Option<i64>, DecodeError>;
    /// Reads a float column.
    fn get_f64(&self, idx: usize) -> Result<Option<f64>, DecodeError>;
    /// Reads a boolean column.
    fn get_bool(&self, idx: usize) -> Result<Option<bool>, DecodeError>;
    /// Reads a text column.
    fn get_text(&self, idx: usize) -> Result<Option<String>, DecodeError>;
    /// Reads a bytes column.
    fn get_blob(&self, idx: usize) -> Result<Option<Vec<u8>>, DecodeError>;
    /// Reads a date column (by default from ISO-8601 text, as SQLite stores it).
    fn get_date(&self, idx: usize) -> Result<Option<Date>, DecodeError> {
        self.get_text(idx)?.map(|t| Date::parse(&t)).transpose()
    }
    /// Reads a time column (by default from ISO-8601 text).
    fn get_time(&self, idx: usize) -> Result<Option<Time>, DecodeError> {
        self.get_text(idx)?.map(|t| Time::parse(&t)).transpose()
    }
    /// Reads a date-and-time column (by default from ISO-8601 text).
    fn get_datetime(&self, idx: usize) -> Result<Option<DateTime>, DecodeError> {
        self.get_text(idx)?.map(|t| DateTime::parse(&t)).transpose()
    }
    /// Reads a UTC timestamp column (by default from ISO-8601 text with `Z` or an offset).
    fn get_timestamp(&self, idx: usize) -> Result<Option<Timestamp>, DecodeError> {
        self.get_text(idx)?
            .map(|t| Timestamp::parse(&t))
            .transpose()
    }
    /// Reads a UUID column (by default from its text).
    fn get_uuid(&self, idx: usize) -> Result<Option<[u8; 16]>, DecodeError> {
        self.get_text(idx)?.map(|t| parse_uuid(&t)).transpose()
    }
    /// Reads a decimal column (by default from its text).
    fn get_decimal(&self, idx: usize) -> Result<Option<Numeric>, DecodeError> {
        self.get_text(idx)?.map(|t| Numeric::parse(&t)).transpose()
    }
    /// Reads a JSON column's text (by default as text).
    fn get_json(&self, idx: usize) -> Result<Option<String>, DecodeError> {
        self.get_text(idx)
    }
}

/// A Rust type that can be a model's field: it knows its SQL type, how to bind itself, and how
/// to read itself from a row.
///
/// Every value round-trips exactly, with one exception that is SQLite's: a REAL with no fractional
/// part is stored as an integer, so `-0.0_f64` reads back as `0.0`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in a relata column",
    label = "unsupported field type",
    note = "supported field types: i64, i32, String, bool, f64, Vec<u8>, your own types that implement relata::StoredAs (or #[derive(relata::Enum)]), and Option<T> of those (nullable)"
)]
pub trait ColumnType: Clone + 'static {
    /// The SQL type of the column.
    const SQL_TYPE: SqlType;
    /// Whether the column accepts `NULL` (true only for `Option<T>`).
    const NULLABLE: bool = false;
    /// Borrows the field as a value to bind.
    fn to_value(&self) -> ValueRef<'_>;
    /// Reads the field from column `idx` of a row; `Ok(None)` means the stored value is `NULL`.
    fn read_nullable(row: &dyn RowSource, idx: usize) -> Result<Option<Self>, DecodeError>;
    /// Reads the field, rejecting `NULL` unless the type is an `Option`.
    fn read(row: &dyn RowSource, idx: usize) -> Result<Self, DecodeError> {
        Self::read_nullable(row, idx)?.ok_or_else(|| {
            DecodeError("found NULL in a column whose field is not an Option".into())
        })
    }
}

/// `ColumnType` for a field type from its SQL type, the `RowSource` getter that reads it, how it
/// binds (`|v| ..` from `&Self`) and how it reads (`|r| ..` from the getter's value, a `Result`).
/// The optional types (chrono, time, uuid, rust_decimal) use it too.
macro_rules! column_type {
    ($ty:ty, $sql:ident, $get:ident, |$v:ident| $to:expr, |$r:ident| $from:expr) => {
        impl $crate::value::ColumnType for $ty {
            const SQL_TYPE: $crate::value::SqlType = $crate::value::SqlType::$sql;
            fn to_value(&self) -> $crate::value::ValueRef<'_> {
                let $v = self;
                $to
            }
            fn read_nullable(
                row: &dyn $crate::value::RowSource,
                idx: usize,
            ) -> Result<Option<Self>, $crate::value::DecodeError> {
                match row.$get(idx)? {
                    None => Ok(None),
                    Some($r) => $from.map(Some),
                }
            }
        }
        impl $crate::expr::Nullable for $ty {
            type Base = $ty;
        }
    };
}
// For the optional types' modules.
#[cfg(any(
    feature = "chrono",
    feature = "time",
    feature = "uuid",
    feature = "rust_decimal"
))]
pub(crate) use column_type;

column_type!(i64, BigInt, get_i64, |v| ValueRef::Integer(*v), |r| Ok(r));
column_type!(
    i32,
    Int,
    get_i64,
    |v| ValueRef::Integer(i64::from(*v)),
    |r| { i32::try_from(r).map_err(|_| DecodeError(format!("{r} does not fit in an i32"))) }
);
column_type!(String, Text, get_text, |v| ValueRef::Text(v), |r| Ok(r));
column_type!(bool, Bool, get_bool, |v| ValueRef::Bool(*v), |r| Ok(r));
// SQLite stores a REAL with no fractional part as an integer, so -0.0 reads back as 0.0.
column_type!(f64, Double, get_f64, |v| ValueRef::Real(*v), |r| Ok(r));
column_type!(Vec<u8>, Blob, get_blob, |v| ValueRef::Blob(v), |r| Ok(r));

/// A type of your own stored as one of relata's column types: a newtype, an enum, anything that
/// converts to and from a value relata stores. Implementing it makes the type a model field (and
/// `Option<T>` a nullable one) and a filter value; `#[derive(relata::Enum)]` implements it for an
/// enum stored by variant name.
///
/// ```
/// use relata::{DecodeError, StoredAs};
///
/// /// A grade, stored as its letter.
/// #[derive(Debug, Clone, Copy, PartialEq)]
/// struct Grade(char);
///
/// impl StoredAs for Grade {
///     type Stored = String;
///     fn to_stored(&self) -> String {
///         self.0.to_string()
///     }
///     fn from_stored(stored: String) -> Result<Self, DecodeError> {
///         match stored.as_str() {
///             "A" | "B" | "C" | "D" | "F" => Ok(Grade(stored.chars().next().unwrap())),
///             other => Err(DecodeError(format!("{other:?} is not a grade (A, B, C, D or F)"))),
///         }
///     }
/// }
///
/// #[derive(relata::Model)]
/// struct Enrollment {
///     #[relata(primary_key)]
///     id: Option<i64>,
///     grade: Grade,             // a TEXT column
///     retake: Option<Grade>,    // a nullable one
/// }
/// # let _ = Enrollment::GRADE.eq(Grade('A'));
/// ```
pub trait StoredAs: Clone + Send + Sync + 'static {
    /// The column type it is stored as (`String`, `i64`, `Vec<u8>`, ...; not an `Option`).
    type Stored: ColumnType;
    /// The value to store.
    fn to_stored(&self) -> Self::Stored;
    /// The value back from what was stored; an error says why the stored value is not one (it
    /// is reported with the table and column).
    fn from_stored(stored: Self::Stored) -> Result<Self, DecodeError>;
    /// The column's type when it is not the stored type's: a native enum
    /// (`#[derive(relata::Enum)]` with `#[relata(native)]` sets it).
    const NATIVE_TYPE: Option<SqlType> = None;
}

impl<T: StoredAs> Encode for T {
    fn encode(&self) -> Result<Value, String> {
        Ok(self.to_stored().to_value().to_owned())
    }
}

impl<T: StoredAs> ColumnType for T {
    const SQL_TYPE: SqlType = match T::NATIVE_TYPE {
        Some(native) => native,
        None => T::Stored::SQL_TYPE,
    };
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Encoded(self)
    }
    fn read_nullable(row: &dyn RowSource, idx: usize) -> Result<Option<Self>, DecodeError> {
        match T::Stored::read_nullable(row, idx)? {
            None => Ok(None),
            Some(stored) => T::from_stored(stored).map(Some),
        }
    }
}

impl<T: StoredAs> crate::expr::Nullable for T {
    type Base = T;
}

impl<T: ColumnType> ColumnType for Option<T> {
    const SQL_TYPE: SqlType = T::SQL_TYPE;
    const NULLABLE: bool = true;
    fn to_value(&self) -> ValueRef<'_> {
        match self {
            Some(v) => v.to_value(),
            None => ValueRef::Null,
        }
    }
    fn read_nullable(row: &dyn RowSource, idx: usize) -> Result<Option<Self>, DecodeError> {
        Ok(Some(T::read_nullable(row, idx)?))
    }
}

/// A Rust value that may be compared with a column of type `T` in a filter.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be compared with a column of type `{T}`",
    label = "expected a value of the column's type"
)]
///
/// `&str` binds to `String` columns, `T` binds to `Option<T>` columns, and `None` binds to any
/// nullable column (comparing with `None` renders `IS NULL`).
pub trait Bind<T> {
    /// The value as a query parameter.
    fn into_value(self) -> Value;
}

impl<T: ColumnType> Bind<T> for T {
    fn into_value(self) -> Value {
        self.to_value().to_owned()
    }
}

impl<T: ColumnType> Bind<Option<T>> for T {
    fn into_value(self) -> Value {
        self.to_value().to_owned()
    }
}

impl Bind<String> for &str {
    fn into_value(self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl Bind<Option<String>> for &str {
    fn into_value(self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl Bind<String> for &String {
    fn into_value(self) -> Value {
        Value::Text(self.clone())
    }
}

impl Bind<Vec<u8>> for &[u8] {
    fn into_value(self) -> Value {
        Value::Blob(self.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_compare_by_bits_for_change_tracking() {
        assert_eq!(ValueRef::Real(f64::NAN), ValueRef::Real(f64::NAN));
        assert_ne!(ValueRef::Real(0.0), ValueRef::Real(-0.0));
        assert_ne!(ValueRef::Integer(1), ValueRef::Bool(true));
    }

    #[test]
    fn display_quotes_and_cuts_long_text() {
        assert_eq!(
            ValueRef::Text("Robert'); --").to_string(),
            "\"Robert'); --\""
        );
        let long = "я".repeat(100);
        let shown = ValueRef::Text(&long).to_string();
        assert!(shown.ends_with('…'), "{shown}");
        assert_eq!(shown.chars().filter(|c| *c == 'я').count(), 60);
        assert_eq!(ValueRef::Blob(&[1, 2, 3]).to_string(), "<3 bytes>");
    }
}
