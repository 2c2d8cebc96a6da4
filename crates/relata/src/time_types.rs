//! The `time` crate's dates and times as model fields (the `time` feature): `Date`, `Time`,
//! `PrimitiveDateTime` and `OffsetDateTime` (stored as the UTC instant; read back at UTC), in the
//! same columns as chrono's, to the microsecond.

use time::{Month, OffsetDateTime, PrimitiveDateTime};

use crate::value::{
    ColumnType, Date, DateTime, DecodeError, RowSource, SqlType, Time, Timestamp, ValueRef,
};

fn date_of(d: &time::Date) -> Date {
    Date {
        year: d.year(),
        month: u8::from(d.month()),
        day: d.day(),
    }
}

fn time_date(d: Date) -> Result<time::Date, DecodeError> {
    let month = Month::try_from(d.month).map_err(|e| DecodeError(format!("{d}: {e}")))?;
    time::Date::from_calendar_date(d.year, month, d.day)
        .map_err(|e| DecodeError(format!("{d}: {e}")))
}

fn time_of(t: &time::Time) -> Time {
    let (h, m, s, us) = t.as_hms_micro();
    Time::from_hms_micro(h.into(), m.into(), s.into(), us).expect("a time::Time is a time of day")
}

fn time_time(t: Time) -> Result<time::Time, DecodeError> {
    let (h, m, s, us) = t.parts();
    time::Time::from_hms_micro(h as u8, m as u8, s as u8, us)
        .map_err(|e| DecodeError(format!("{t}: {e}")))
}

impl ColumnType for time::Date {
    const SQL_TYPE: SqlType = SqlType::Date;
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Date(date_of(self))
    }
    fn read_nullable(row: &dyn RowSource, idx: usize) -> Result<Option<Self>, DecodeError> {
        row.get_date(idx)?.map(time_date).transpose()
    }
}

impl ColumnType for time::Time {
    const SQL_TYPE: SqlType = SqlType::Time;
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Time(time_of(self))
    }
    fn read_nullable(row: &dyn RowSource, idx: usize) -> Result<Option<Self>, DecodeError> {
        row.get_time(idx)?.map(time_time).transpose()
    }
}

impl ColumnType for PrimitiveDateTime {
    const SQL_TYPE: SqlType = SqlType::DateTime;
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::DateTime(DateTime {
            date: date_of(&self.date()),
            time: time_of(&self.time()),
        })
    }
    fn read_nullable(row: &dyn RowSource, idx: usize) -> Result<Option<Self>, DecodeError> {
        row.get_datetime(idx)?
            .map(|dt| {
                Ok(PrimitiveDateTime::new(
                    time_date(dt.date)?,
                    time_time(dt.time)?,
                ))
            })
            .transpose()
    }
}

impl ColumnType for OffsetDateTime {
    const SQL_TYPE: SqlType = SqlType::Timestamp;
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Timestamp(Timestamp {
            micros: (self.unix_timestamp_nanos() / 1_000) as i64,
        })
    }
    fn read_nullable(row: &dyn RowSource, idx: usize) -> Result<Option<Self>, DecodeError> {
        row.get_timestamp(idx)?
            .map(|ts| {
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.micros) * 1_000)
                    .map_err(|e| DecodeError(format!("{ts}: {e}")))
            })
            .transpose()
    }
}
