//! Keys the application chooses (text, UUIDs, integers it numbers itself), as the session holds
//! them: each distinct key of a model gets a dense surrogate id, once, for the session's life,
//! so the identity map, the link sets and the unit of work keep working on `i64`s whatever the
//! key's type. The surrogate never reaches the database: statements bind the key itself
//! ([`KeyMap::value`]) and rows are read back to their surrogate ([`KeyMap::intern`]). A key the
//! session writes into a foreign key field is read into it as a one-column row ([`OneValue`]).

use crate::error::{Error, Result};
use crate::hash::FxHashMap;
use crate::model::TableDef;
use crate::value::{DecodeError, RowSource, SqlType, Value, ValueRef};

/// The error for a row whose primary key is `NULL`.
pub(crate) fn null_key(table: &TableDef) -> Error {
    Error::Decode {
        table: table.name,
        column: table.primary_key,
        reason: "the primary key is NULL".into(),
    }
}

/// A key's identity: equal when the database stores the same value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Ident {
    Int(i64),
    Text(Box<str>),
    Uuid([u8; 16]),
    Bytes(Box<[u8]>),
}

impl Ident {
    /// The identity of a key value; `None` for `NULL` or a value that cannot be a key.
    fn of(v: ValueRef<'_>) -> Option<Ident> {
        Some(match v {
            ValueRef::Integer(i) => Ident::Int(i),
            ValueRef::Text(t) | ValueRef::Json(t) => Ident::Text(t.into()),
            ValueRef::Uuid(u) => Ident::Uuid(u),
            ValueRef::Blob(b) => Ident::Bytes(b.into()),
            ValueRef::Encoded(e) => return Ident::of(e.encode().ok()?.as_ref()),
            _ => return None,
        })
    }
}

/// The chosen keys a session has seen for one model, and their surrogate ids (from 1).
#[derive(Default)]
pub(crate) struct KeyMap {
    values: Vec<Value>,
    ids: FxHashMap<Ident, i64>,
}

impl KeyMap {
    /// The surrogate id of `key`, given one if it has none yet.
    pub fn intern(&mut self, table: &TableDef, key: ValueRef<'_>) -> Result<i64> {
        let ident = Ident::of(key).ok_or_else(|| not_a_key(table, key))?;
        if let Some(&id) = self.ids.get(&ident) {
            return Ok(id);
        }
        self.values.push(key.to_owned());
        let id = self.values.len() as i64;
        self.ids.insert(ident, id);
        Ok(id)
    }

    /// The surrogate id of `key`, if the session has seen it.
    pub fn get(&self, key: ValueRef<'_>) -> Option<i64> {
        self.ids.get(&Ident::of(key)?).copied()
    }

    /// The key a surrogate id stands for, as statements bind it.
    pub fn value(&self, id: i64) -> ValueRef<'_> {
        self.values[(id - 1) as usize].as_ref()
    }
}

/// The error for a key that cannot identify a row (`NULL`, or a value no key type stores).
fn not_a_key(table: &TableDef, key: ValueRef<'_>) -> Error {
    Error::InvalidKey {
        message: format!(
            "{} cannot be the primary key {}.{} (a key is a non-NULL integer, text, UUID or blob)",
            key, table.name, table.primary_key
        ),
    }
}

/// Reads the chosen key of `table` (of type `ty`) from column `idx` of a row (`None` for
/// `NULL`).
pub(crate) fn read_chosen(
    table: &TableDef,
    ty: SqlType,
    row: &dyn RowSource,
    idx: usize,
) -> Result<Option<Value>> {
    let read: Result<Option<Value>, DecodeError> = match ty {
        SqlType::BigInt | SqlType::Int => row.get_i64(idx).map(|v| v.map(Value::Integer)),
        SqlType::Uuid => row.get_uuid(idx).map(|v| v.map(Value::Uuid)),
        SqlType::Blob => row.get_blob(idx).map(|v| v.map(Value::Blob)),
        _ => row.get_text(idx).map(|v| v.map(Value::Text)),
    };
    let bad = |reason: String| Error::Decode {
        table: table.name,
        column: table.primary_key,
        reason,
    };
    read.map_err(|e| bad(e.0))
}

/// One value read as a row of one column: how the session writes a key it holds into a field
/// (`Model::set_value`). Keys are integers, text or UUIDs.
pub(crate) struct OneValue<'a>(pub ValueRef<'a>);

impl OneValue<'_> {
    fn wrong(&self, wanted: &str) -> DecodeError {
        DecodeError(format!("expected {wanted}, found {}", self.0))
    }
}

impl RowSource for OneValue<'_> {
    fn get_i64(&self, _: usize) -> Result<Option<i64>, DecodeError> {
        match self.0 {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(v) => Ok(Some(v)),
            _ => Err(self.wrong("an integer")),
        }
    }
    fn get_f64(&self, _: usize) -> Result<Option<f64>, DecodeError> {
        match self.0 {
            ValueRef::Null => Ok(None),
            ValueRef::Real(v) => Ok(Some(v)),
            _ => Err(self.wrong("a float")),
        }
    }
    fn get_bool(&self, _: usize) -> Result<Option<bool>, DecodeError> {
        match self.0 {
            ValueRef::Null => Ok(None),
            ValueRef::Bool(v) => Ok(Some(v)),
            _ => Err(self.wrong("a boolean")),
        }
    }
    fn get_text(&self, _: usize) -> Result<Option<String>, DecodeError> {
        match self.0 {
            ValueRef::Null => Ok(None),
            ValueRef::Text(v) => Ok(Some(v.to_owned())),
            _ => Err(self.wrong("text")),
        }
    }
    fn get_blob(&self, _: usize) -> Result<Option<Vec<u8>>, DecodeError> {
        match self.0 {
            ValueRef::Null => Ok(None),
            ValueRef::Blob(v) => Ok(Some(v.to_vec())),
            _ => Err(self.wrong("bytes")),
        }
    }
    fn get_uuid(&self, _: usize) -> Result<Option<[u8; 16]>, DecodeError> {
        match self.0 {
            ValueRef::Null => Ok(None),
            ValueRef::Uuid(v) => Ok(Some(v)),
            _ => Err(self.wrong("a UUID")),
        }
    }
}
