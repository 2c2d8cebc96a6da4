//! `uuid::Uuid` as a model field (the `uuid` feature, on by default): `UUID` on PostgreSQL,
//! `CHAR(36)` on MySQL, hyphenated lowercase text on SQLite.

use crate::value::{ColumnType, DecodeError, RowSource, SqlType, ValueRef};

impl ColumnType for uuid::Uuid {
    const SQL_TYPE: SqlType = SqlType::Uuid;
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Uuid(*self.as_bytes())
    }
    fn read_nullable(row: &dyn RowSource, idx: usize) -> Result<Option<Self>, DecodeError> {
        Ok(row.get_uuid(idx)?.map(uuid::Uuid::from_bytes))
    }
}
