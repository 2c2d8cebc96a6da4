//! `uuid::Uuid` as a model field (the `uuid` feature, on by default): `UUID` on PostgreSQL,
//! `CHAR(36)` on MySQL, hyphenated lowercase text on SQLite.

use crate::value::{column_type, DecodeError, ValueRef};

column_type!(
    uuid::Uuid,
    Uuid,
    get_uuid,
    |v| ValueRef::Uuid(*v.as_bytes()),
    |r| Ok::<_, DecodeError>(uuid::Uuid::from_bytes(r))
);
