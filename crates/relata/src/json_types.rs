//! JSON fields (the `serde_json` feature, on by default): `serde_json::Value`, and any serde type
//! as [`Json<T>`] or with `#[relata(json)]` on the field. `JSONB` on PostgreSQL, `JSON` on MySQL,
//! text on SQLite (which its JSON functions read).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::value::{ColumnType, DecodeError, Encode, RowSource, SqlType, Value, ValueRef};

/// A column holding any serde type as JSON: `settings: Json<Settings>`, or `#[relata(json)]` on
/// a field of the type itself. It reads back as the type (a document that does not fit it is an
/// error naming the table and column); it is compared, for change tracking, by its JSON text.
///
/// ```
/// use relata::{Json, Model};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// struct Settings { theme: String, reminders: bool }
///
/// #[derive(Model)]
/// #[relata(table = "profiles")]
/// struct Profile {
///     #[relata(primary_key)]
///     id: Option<i64>,
///     settings: Json<Settings>,
///     #[relata(json)]
///     tags: Vec<String>,          // the same, without the wrapper
///     extra: serde_json::Value,   // any document
/// }
/// ```
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// A field of type `T` seen as `Json<T>`, without moving it (what `#[relata(json)]` uses).
    pub fn from_ref(value: &T) -> &Json<T> {
        // SAFETY: `Json<T>` is `repr(transparent)` over `T`: the same layout, so a reference to
        // a `T` is a valid reference to a `Json<T>` for the same lifetime.
        unsafe { &*(value as *const T as *const Json<T>) }
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| format!("the value does not serialize to JSON: {e}"))
}

/// Reads a JSON column into `T`; `what` says what failed.
fn read_json<T: DeserializeOwned>(
    row: &dyn RowSource,
    idx: usize,
    what: &str,
) -> Result<Option<T>, DecodeError> {
    row.get_json(idx)?
        .map(|text| serde_json::from_str(&text).map_err(|e| DecodeError(format!("{what}: {e}"))))
        .transpose()
}

impl<T: Serialize + Send + Sync + 'static> Encode for Json<T> {
    fn encode(&self) -> Result<Value, String> {
        to_json(&self.0).map(Value::Json)
    }
}

impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> ColumnType for Json<T> {
    const SQL_TYPE: SqlType = SqlType::Json;
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Encoded(self)
    }
    fn read_nullable(row: &dyn RowSource, idx: usize) -> Result<Option<Self>, DecodeError> {
        let what = format!("the JSON does not fit {}", std::any::type_name::<T>());
        Ok(read_json(row, idx, &what)?.map(Json))
    }
}

impl Encode for serde_json::Value {
    fn encode(&self) -> Result<Value, String> {
        to_json(self).map(Value::Json)
    }
}

impl ColumnType for serde_json::Value {
    const SQL_TYPE: SqlType = SqlType::Json;
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Encoded(self)
    }
    fn read_nullable(row: &dyn RowSource, idx: usize) -> Result<Option<Self>, DecodeError> {
        read_json(row, idx, "the column holds no JSON document")
    }
}

impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> crate::expr::Nullable
    for Json<T>
{
    type Base = Json<T>;
}

impl crate::expr::Nullable for serde_json::Value {
    type Base = serde_json::Value;
}
