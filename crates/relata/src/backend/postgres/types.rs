//! Values in and out: relata's values bound to the types the server inferred (one by one, or a
//! column of a multi-row insert as one array), and rows read back.

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{IsNull, Kind, ToSql, Type};

use crate::value::{Date, DateTime, DecodeError, Numeric, RowSource, Time, Timestamp, ValueRef};

/// PostgreSQL counts days and microseconds from 2000-01-01, the Unix epoch's 10,957th day.
const PG_EPOCH_DAYS: i64 = 10_957;
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS * 86_400_000_000;

/// Binds relata's values to whatever type the server inferred for each parameter, checking
/// ranges instead of wrapping (an i64 into an `INTEGER` column that cannot hold it is an error).
#[derive(Debug)]
pub(super) struct Bind<'a>(pub(super) ValueRef<'a>);

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for Bind<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        crate::value::in_range(self.0)?;
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
            ValueRef::Date(d) => match *ty {
                Type::DATE => {
                    out.put_i32(i32::try_from(d.days_since_epoch() - PG_EPOCH_DAYS)?);
                    Ok(IsNull::No)
                }
                _ => temporal(
                    ty,
                    out,
                    DateTime {
                        date: d,
                        time: Time { micros: 0 },
                    },
                    "a date",
                ),
            },
            ValueRef::Time(t) => match *ty {
                Type::TIME => {
                    out.put_i64(t.micros as i64);
                    Ok(IsNull::No)
                }
                _ => Err(mismatch("a time of day", ty)),
            },
            ValueRef::DateTime(dt) => temporal(ty, out, dt, "a date and time"),
            ValueRef::Timestamp(ts) => temporal(ty, out, ts.to_utc(), "a timestamp"),
            ValueRef::Uuid(v) => match *ty {
                Type::UUID => {
                    out.put_slice(&v);
                    Ok(IsNull::No)
                }
                _ => crate::value::uuid_text(&v).as_str().to_sql(ty, out),
            },
            ValueRef::Decimal(v) => match *ty {
                Type::NUMERIC => {
                    out.put_slice(&v.to_pg());
                    Ok(IsNull::No)
                }
                _ => v.to_string().as_str().to_sql(ty, out),
            },
            ValueRef::Json(v) => match *ty {
                // JSONB's binary form: a version byte, then the text.
                Type::JSONB => {
                    out.put_u8(1);
                    out.put_slice(v.as_bytes());
                    Ok(IsNull::No)
                }
                Type::JSON => {
                    out.put_slice(v.as_bytes());
                    Ok(IsNull::No)
                }
                _ => v.to_sql(ty, out),
            },
            ValueRef::Encoded(v) => Bind(v.encode()?.as_ref()).to_sql(ty, out),
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

/// A date and time bound to a `TIMESTAMP` or `TIMESTAMPTZ` parameter (taken as UTC), as
/// microseconds since 2000-01-01.
fn temporal(
    ty: &Type,
    out: &mut BytesMut,
    dt: DateTime,
    what: &str,
) -> std::result::Result<IsNull, BoxError> {
    match *ty {
        Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            out.put_i64(Timestamp::from_utc(dt).micros - PG_EPOCH_MICROS);
            Ok(IsNull::No)
        }
        _ => Err(mismatch(what, ty)),
    }
}

/// A `DATE` as PostgreSQL sends it: days since 2000-01-01.
struct PgDays(i32);

impl<'a> tokio_postgres::types::FromSql<'a> for PgDays {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        Ok(PgDays(i32::from_be_bytes(raw.try_into()?)))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }
}

/// A `TIME`, `TIMESTAMP` or `TIMESTAMPTZ` as PostgreSQL sends it: microseconds (since midnight,
/// or since 2000-01-01).
struct PgMicros(i64);

impl<'a> tokio_postgres::types::FromSql<'a> for PgMicros {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        Ok(PgMicros(i64::from_be_bytes(raw.try_into()?)))
    }
    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::TIME | Type::TIMESTAMP | Type::TIMESTAMPTZ)
    }
}

/// A `NUMERIC` as PostgreSQL sends it.
struct PgNumeric(Vec<u8>);

impl<'a> tokio_postgres::types::FromSql<'a> for PgNumeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        Ok(PgNumeric(raw.to_vec()))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// A `UUID` as PostgreSQL sends it: 16 bytes.
struct PgUuid([u8; 16]);

impl<'a> tokio_postgres::types::FromSql<'a> for PgUuid {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        Ok(PgUuid(raw.try_into()?))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }
}

/// A `JSON` or `JSONB` document's text (JSONB's version byte dropped).
struct PgJson(String);

impl<'a> tokio_postgres::types::FromSql<'a> for PgJson {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        let text = if *ty == Type::JSONB {
            match raw.split_first() {
                Some((1, rest)) => rest,
                _ => return Err("an unknown JSONB version".into()),
            }
        } else {
            raw
        };
        Ok(PgJson(std::str::from_utf8(text)?.to_owned()))
    }
    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSON | Type::JSONB)
    }
}

/// PostgreSQL's `infinity` and `-infinity` are no date relata reads.
fn finite<T: Copy + PartialEq + std::fmt::Debug>(
    v: T,
    min: T,
    max: T,
) -> std::result::Result<T, DecodeError> {
    if v == min || v == max {
        Err(DecodeError(
            "the database holds infinity, which is no date relata reads".into(),
        ))
    } else {
        Ok(v)
    }
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

/// The label of a native enum value, as text.
struct EnumLabel(String);

impl<'a> tokio_postgres::types::FromSql<'a> for EnumLabel {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        Ok(EnumLabel(std::str::from_utf8(raw)?.to_owned()))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Enum(_))
    }
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
        match self.ty(idx).kind() {
            // A native enum's value is its label's text.
            Kind::Enum(_) => Ok(self.get::<EnumLabel>(idx)?.map(|l| l.0)),
            _ => self.get::<String>(idx),
        }
    }
    fn get_blob(&self, idx: usize) -> std::result::Result<Option<Vec<u8>>, DecodeError> {
        self.get::<Vec<u8>>(idx)
    }
    fn get_date(&self, idx: usize) -> std::result::Result<Option<Date>, DecodeError> {
        let Some(PgDays(days)) = self.get::<PgDays>(idx)? else {
            return Ok(None);
        };
        let days = finite(days, i32::MIN, i32::MAX)?;
        Date::from_days_since_epoch(i64::from(days) + PG_EPOCH_DAYS)
            .checked()
            .map(Some)
    }
    fn get_time(&self, idx: usize) -> std::result::Result<Option<Time>, DecodeError> {
        Ok(self
            .get::<PgMicros>(idx)?
            .map(|PgMicros(us)| Time { micros: us as u64 }))
    }
    fn get_timestamp(&self, idx: usize) -> std::result::Result<Option<Timestamp>, DecodeError> {
        let Some(PgMicros(us)) = self.get::<PgMicros>(idx)? else {
            return Ok(None);
        };
        let us = finite(us, i64::MIN, i64::MAX)?;
        let ts = Timestamp {
            micros: us + PG_EPOCH_MICROS,
        };
        ts.to_utc().date.checked()?;
        Ok(Some(ts))
    }
    fn get_datetime(&self, idx: usize) -> std::result::Result<Option<DateTime>, DecodeError> {
        Ok(self.get_timestamp(idx)?.map(Timestamp::to_utc))
    }
    fn get_decimal(&self, idx: usize) -> std::result::Result<Option<Numeric>, DecodeError> {
        self.get::<PgNumeric>(idx)?
            .map(|PgNumeric(raw)| Numeric::from_pg(&raw))
            .transpose()
    }
    fn get_uuid(&self, idx: usize) -> std::result::Result<Option<[u8; 16]>, DecodeError> {
        Ok(self.get::<PgUuid>(idx)?.map(|PgUuid(b)| b))
    }
    fn get_json(&self, idx: usize) -> std::result::Result<Option<String>, DecodeError> {
        Ok(self.get::<PgJson>(idx)?.map(|PgJson(t)| t))
    }
}
