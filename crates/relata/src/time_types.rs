//! The `time` crate's dates and times as model fields (the `time` feature): `Date`, `Time`,
//! `PrimitiveDateTime` and `OffsetDateTime` (stored as the UTC instant; read back at UTC), in the
//! same columns as chrono's, to the microsecond.

use time::{Month, OffsetDateTime, PrimitiveDateTime};

use crate::value::{column_type, Date, DateTime, DecodeError, Time, Timestamp, ValueRef};

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

column_type!(
    time::Date,
    Date,
    get_date,
    |v| ValueRef::Date(date_of(v)),
    |r| time_date(r)
);
column_type!(
    time::Time,
    Time,
    get_time,
    |v| ValueRef::Time(time_of(v)),
    |r| time_time(r)
);
column_type!(
    PrimitiveDateTime,
    DateTime,
    get_datetime,
    |v| ValueRef::DateTime(DateTime {
        date: date_of(&v.date()),
        time: time_of(&v.time()),
    }),
    |r| Ok::<_, DecodeError>(PrimitiveDateTime::new(
        time_date(r.date)?,
        time_time(r.time)?
    ))
);
column_type!(
    OffsetDateTime,
    Timestamp,
    get_timestamp,
    |v| ValueRef::Timestamp(Timestamp {
        micros: (v.unix_timestamp_nanos() / 1_000) as i64,
    }),
    |r| OffsetDateTime::from_unix_timestamp_nanos(i128::from(r.micros) * 1_000)
        .map_err(|e| DecodeError(format!("{r}: {e}")))
);
