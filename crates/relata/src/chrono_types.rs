//! `chrono`'s dates and times as model fields (the `chrono` feature, on by default): stored as
//! `DATE`, `TIME`, `TIMESTAMP` and `TIMESTAMPTZ` on PostgreSQL, `DATE`, `TIME(6)` and
//! `DATETIME(6)` on MySQL, ISO-8601 text on SQLite, to the microsecond (finer digits are cut).

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use crate::value::{column_type, Date, DateTime, DecodeError, Time, Timestamp, ValueRef};

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

column_type!(
    NaiveDate,
    Date,
    get_date,
    |v| ValueRef::Date(date_of(v)),
    |r| naive_date(r)
);
column_type!(
    NaiveTime,
    Time,
    get_time,
    |v| ValueRef::Time(time_of(v)),
    |r| naive_time(r)
);
column_type!(
    NaiveDateTime,
    DateTime,
    get_datetime,
    |v| ValueRef::DateTime(DateTime {
        date: date_of(&v.date()),
        time: time_of(&v.time()),
    }),
    |r| Ok::<_, DecodeError>(NaiveDateTime::new(naive_date(r.date)?, naive_time(r.time)?))
);
column_type!(
    chrono::DateTime<Utc>,
    Timestamp,
    get_timestamp,
    |v| ValueRef::Timestamp(Timestamp {
        micros: v.timestamp_micros(),
    }),
    |r| chrono::DateTime::<Utc>::from_timestamp_micros(r.micros)
        .ok_or_else(|| DecodeError(format!("{r} is out of chrono's range")))
);
