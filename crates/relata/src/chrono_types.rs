//! `chrono`'s dates and times as model fields (the `chrono` feature, on by default): stored as
//! `DATE`, `TIME`, `TIMESTAMP` and `TIMESTAMPTZ` on PostgreSQL, `DATE`, `TIME(6)` and
//! `DATETIME(6)` on MySQL, ISO-8601 text on SQLite, to the microsecond (finer digits are cut).

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use crate::value::{
    ColumnType, Date, DateTime, DecodeError, RowSource, SqlType, Time, Timestamp, ValueRef,
};

fn date_of(d: &NaiveDate) -> Date {
    Date {
        year: d.year(),
        month: d.month() as u8,
        day: d.day() as u8,
    }
}

fn naive_date(d: Date) -> Result<NaiveDate, DecodeError> {
    NaiveDate::from_ymd_opt(d.year, d.month.into(), d.day.into())
        .ok_or_else(|| DecodeError(format!("{d} is not a date")))
}

fn time_of(t: &NaiveTime) -> Time {
    // A leap second's nanoseconds run past 10^9: its microseconds stop at 999,999.
    let micro = (t.nanosecond() / 1_000).min(999_999);
    Time {
        micros: u64::from(t.num_seconds_from_midnight()) * 1_000_000 + u64::from(micro),
    }
}

fn naive_time(t: Time) -> Result<NaiveTime, DecodeError> {
    let (h, m, s, us) = t.parts();
    NaiveTime::from_hms_micro_opt(h, m, s, us)
        .ok_or_else(|| DecodeError(format!("{t} is not a time of day")))
}

impl ColumnType for NaiveDate {
    const SQL_TYPE: SqlType = SqlType::Date;
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Date(date_of(self))
    }
    fn read_nullable(row: &dyn RowSource, idx: usize) -> Result<Option<Self>, DecodeError> {
        row.get_date(idx)?.map(naive_date).transpose()
    }
}

impl ColumnType for NaiveTime {
    const SQL_TYPE: SqlType = SqlType::Time;
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Time(time_of(self))
    }
    fn read_nullable(row: &dyn RowSource, idx: usize) -> Result<Option<Self>, DecodeError> {
        row.get_time(idx)?.map(naive_time).transpose()
    }
}

impl ColumnType for NaiveDateTime {
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
                Ok(NaiveDateTime::new(
                    naive_date(dt.date)?,
                    naive_time(dt.time)?,
                ))
            })
            .transpose()
    }
}

impl ColumnType for chrono::DateTime<Utc> {
    const SQL_TYPE: SqlType = SqlType::Timestamp;
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Timestamp(Timestamp {
            micros: self.timestamp_micros(),
        })
    }
    fn read_nullable(row: &dyn RowSource, idx: usize) -> Result<Option<Self>, DecodeError> {
        row.get_timestamp(idx)?
            .map(|ts| {
                chrono::DateTime::<Utc>::from_timestamp_micros(ts.micros)
                    .ok_or_else(|| DecodeError(format!("{ts} is out of chrono's range")))
            })
            .transpose()
    }
}
