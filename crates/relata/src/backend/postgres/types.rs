//! Values in and out: relata's values bound to the types the server inferred (one by one, or a
//! column of a multi-row insert as one array), and rows read back.

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{IsNull, Kind, ToSql, Type};

use crate::value::{DecodeError, RowSource, ValueRef};

/// Binds relata's values to whatever type the server inferred for each parameter, checking
/// ranges instead of wrapping (an i64 into an `INTEGER` column that cannot hold it is an error).
#[derive(Debug)]
pub(super) struct Bind<'a>(pub(super) ValueRef<'a>);

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for Bind<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        match self.0 {
            ValueRef::Null => Ok(IsNull::Yes),
            ValueRef::Integer(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::FLOAT8 => (v as f64).to_sql(ty, out),
                _ => Err(mismatch("an integer", ty)),
            },
            ValueRef::Real(v) => match *ty {
                Type::FLOAT8 => v.to_sql(ty, out),
                Type::FLOAT4 => (v as f32).to_sql(ty, out),
                _ => Err(mismatch("a float", ty)),
            },
            ValueRef::Bool(v) => match *ty {
                Type::BOOL => v.to_sql(ty, out),
                _ => Err(mismatch("a boolean", ty)),
            },
            ValueRef::Text(v) => v.to_sql(ty, out),
            ValueRef::Blob(v) => v.to_sql(ty, out),
            ValueRef::Encoded(v) => Bind(v.encode().as_ref()).to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// One column of a multi-row insert bound as one array parameter (`$1::BIGINT[]`): every
/// `width`th value of the row-major `params`, from `column` on, each encoded as [`Bind`] encodes
/// it for the array's element type (so an `INTEGER` column still refuses an i64 it cannot hold).
#[derive(Debug)]
pub(super) struct Column<'a> {
    pub(super) params: &'a [ValueRef<'a>],
    pub(super) column: usize,
    pub(super) width: usize,
}

impl ToSql for Column<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        let Kind::Array(element) = ty.kind() else {
            return Err(mismatch("an array of values", ty));
        };
        let values = self.params.iter().skip(self.column).step_by(self.width);
        let len = i32::try_from(values.len())?;
        // The binary array format: dimensions, a has-NULL flag, the element type, each
        // dimension's length and lower bound, then each element as its length and bytes (-1 for
        // NULL).
        out.put_i32(1);
        let has_null_at = out.len();
        out.put_i32(0);
        out.put_u32(element.oid());
        out.put_i32(len);
        out.put_i32(1);
        let mut has_null = false;
        for &v in values {
            let at = out.len();
            out.put_i32(0);
            let size = match Bind(v).to_sql(element, out)? {
                IsNull::Yes => {
                    has_null = true;
                    -1
                }
                IsNull::No => i32::try_from(out.len() - at - 4)?,
            };
            out[at..at + 4].copy_from_slice(&size.to_be_bytes());
        }
        if has_null {
            out[has_null_at..has_null_at + 4].copy_from_slice(&1i32.to_be_bytes());
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Array(_))
    }

    tokio_postgres::types::to_sql_checked!();
}

pub(super) fn mismatch(what: &str, ty: &Type) -> BoxError {
    format!("cannot store {what} in a column of type {ty}").into()
}

/// How a value sits in a statement's parameter list.
pub(super) fn binds<'a>(params: &'a [ValueRef<'a>]) -> Vec<Bind<'a>> {
    params.iter().map(|&v| Bind(v)).collect()
}

pub(super) fn refs<'a>(binds: &'a [Bind<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    binds.iter().map(|b| b as &(dyn ToSql + Sync)).collect()
}

pub(super) struct Row<'a>(pub(super) &'a tokio_postgres::Row);

impl Row<'_> {
    fn ty(&self, idx: usize) -> &Type {
        self.0.columns()[idx].type_()
    }

    fn get<'r, T: tokio_postgres::types::FromSql<'r>>(
        &'r self,
        idx: usize,
    ) -> std::result::Result<Option<T>, DecodeError> {
        self.0
            .try_get::<_, Option<T>>(idx)
            .map_err(|e| DecodeError(e.to_string()))
    }
}

impl RowSource for Row<'_> {
    fn get_i64(&self, idx: usize) -> std::result::Result<Option<i64>, DecodeError> {
        match *self.ty(idx) {
            Type::INT8 => self.get::<i64>(idx),
            Type::INT4 => Ok(self.get::<i32>(idx)?.map(i64::from)),
            Type::INT2 => Ok(self.get::<i16>(idx)?.map(i64::from)),
            ref other => Err(DecodeError(format!("expected an integer, found {other}"))),
        }
    }
    fn get_f64(&self, idx: usize) -> std::result::Result<Option<f64>, DecodeError> {
        match *self.ty(idx) {
            Type::FLOAT8 => self.get::<f64>(idx),
            Type::FLOAT4 => Ok(self.get::<f32>(idx)?.map(f64::from)),
            ref other => Err(DecodeError(format!("expected a float, found {other}"))),
        }
    }
    fn get_bool(&self, idx: usize) -> std::result::Result<Option<bool>, DecodeError> {
        self.get::<bool>(idx)
    }
    fn get_text(&self, idx: usize) -> std::result::Result<Option<String>, DecodeError> {
        self.get::<String>(idx)
    }
    fn get_blob(&self, idx: usize) -> std::result::Result<Option<Vec<u8>>, DecodeError> {
        self.get::<Vec<u8>>(idx)
    }
}
