//! Dates and times as relata binds and reads them, independent of any date crate: a civil date, a
//! time of day and a UTC instant, to the microsecond (what PostgreSQL and MySQL store), with the
//! ISO-8601 text SQLite stores them as. The `chrono` (and other) field types convert to these.

use std::fmt;

use crate::value::DecodeError;

/// A calendar date (proleptic Gregorian), years 1 to 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// The year, 1 to 9999.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u8,
    /// The day of the month, 1 to 31.
    pub day: u8,
}

/// A time of day, to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time {
    /// Microseconds since midnight (below 86,400,000,000).
    pub micros: u64,
}

/// A date and a time of day, with no time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    /// The date.
    pub date: Date,
    /// The time of day.
    pub time: Time,
}

/// An instant, as microseconds since 1970-01-01 00:00:00 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Microseconds since the Unix epoch.
    pub micros: i64,
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

impl Date {
    /// Days since 1970-01-01 (negative before), by Howard Hinnant's `days_from_civil`.
    pub fn days_since_epoch(self) -> i64 {
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01, by `civil_from_days`.
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Checks the date is one relata stores: years 1 to 9999, a real day of its month.
    pub fn checked(self) -> Result<Date, DecodeError> {
        let ok = (1..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && Date::from_days_since_epoch(self.days_since_epoch()) == self;
        if ok {
            Ok(self)
        } else {
            Err(DecodeError(format!(
                "{self} is not a date relata stores (years 1 to 9999)"
            )))
        }
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Date, DecodeError> {
        let bad = || DecodeError(format!("{s:?} is not a date (YYYY-MM-DD)"));
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32, DecodeError> {
            s.get(r)
                .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|p| p.parse().ok())
                .ok_or_else(bad)
        };
        Date {
            year: num(0..4)? as i32,
            month: num(5..7)? as u8,
            day: num(8..10)? as u8,
        }
        .checked()
        .map_err(|_| bad())
    }
}

impl Time {
    /// A time from its parts; `None` out of range.
    pub fn from_hms_micro(hour: u32, minute: u32, second: u32, micro: u32) -> Option<Time> {
        (hour < 24 && minute < 60 && second < 60 && micro < 1_000_000).then(|| Time {
            micros: ((u64::from(hour) * 60 + u64::from(minute)) * 60 + u64::from(second))
                * 1_000_000
                + u64::from(micro),
        })
    }

    /// (hour, minute, second, microsecond).
    pub fn parts(self) -> (u32, u32, u32, u32) {
        let secs = self.micros / 1_000_000;
        (
            (secs / 3600) as u32,
            (secs / 60 % 60) as u32,
            (secs % 60) as u32,
            (self.micros % 1_000_000) as u32,
        )
    }

    /// Parses `HH:MM:SS` with an optional fraction of up to six digits.
    pub fn parse(s: &str) -> Result<Time, DecodeError> {
        let bad = || DecodeError(format!("{s:?} is not a time (HH:MM:SS[.ffffff])"));
        let (main, frac) = match s.split_once('.') {
            Some((m, f)) => (m, f),
            None => (s, ""),
        };
        let b = main.as_bytes();
        if b.len() != 8 || b[2] != b':' || b[5] != b':' || frac.len() > 6 {
            return Err(bad());
        }
        if !frac.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32, DecodeError> {
            main.get(r)
                .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|p| p.parse().ok())
                .ok_or_else(bad)
        };
        let micro = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<6}").parse().map_err(|_| bad())?
        };
        Time::from_hms_micro(num(0..2)?, num(3..5)?, num(6..8)?, micro).ok_or_else(bad)
    }
}

impl DateTime {
    /// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]` (or with a `T` between).
    pub fn parse(s: &str) -> Result<DateTime, DecodeError> {
        if s.len() < 19 || !matches!(s.as_bytes()[10], b' ' | b'T') {
            return Err(DecodeError(format!(
                "{s:?} is not a date and time (YYYY-MM-DD HH:MM:SS[.ffffff])"
            )));
        }
        Ok(DateTime {
            date: Date::parse(&s[..10])?,
            time: Time::parse(&s[11..])?,
        })
    }
}

impl Timestamp {
    /// The instant of a UTC date and time.
    pub fn from_utc(dt: DateTime) -> Timestamp {
        Timestamp {
            micros: dt.date.days_since_epoch() * MICROS_PER_DAY + dt.time.micros as i64,
        }
    }

    /// The UTC date and time of the instant.
    pub fn to_utc(self) -> DateTime {
        let days = self.micros.div_euclid(MICROS_PER_DAY);
        DateTime {
            date: Date::from_days_since_epoch(days),
            time: Time {
                micros: self.micros.rem_euclid(MICROS_PER_DAY) as u64,
            },
        }
    }

    /// Parses a UTC date and time as [`DateTime::parse`] does, followed by `Z` or `+00:00` (or
    /// another offset, which is applied).
    pub fn parse(s: &str) -> Result<Timestamp, DecodeError> {
        let bad = || {
            DecodeError(format!(
                "{s:?} is not a timestamp (YYYY-MM-DD HH:MM:SS[.ffffff]Z)"
            ))
        };
        let (main, offset_micros) = if let Some(m) = s.strip_suffix('Z') {
            (m, 0)
        } else if s.len() > 6 && matches!(s.as_bytes()[s.len() - 6], b'+' | b'-') {
            let (m, off) = s.split_at(s.len() - 6);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let hh: i64 = off.get(1..3).and_then(|p| p.parse().ok()).ok_or_else(bad)?;
            let mm: i64 = off.get(4..6).and_then(|p| p.parse().ok()).ok_or_else(bad)?;
            (m, sign * (hh * 60 + mm) * 60_000_000)
        } else {
            (s, 0)
        };
        let dt = DateTime::parse(main).map_err(|_| bad())?;
        Ok(Timestamp {
            micros: Timestamp::from_utc(dt).micros - offset_micros,
        })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for Time {
    /// `HH:MM:SS`, with `.ffffff` only when there are microseconds (SQLite's own form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s, us) = self.parts();
        write!(f, "{h:02}:{m:02}:{s:02}")?;
        if us != 0 {
            write!(f, ".{us:06}")?;
        }
        Ok(())
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.date, self.time)
    }
}

impl fmt::Display for Timestamp {
    /// The UTC date and time with a `Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Z", self.to_utc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_at_the_edges() {
        for (y, m, d) in [
            (1, 1, 1),
            (1970, 1, 1),
            (2000, 2, 29),
            (2024, 2, 29),
            (9999, 12, 31),
            (1969, 12, 31),
        ] {
            let date = Date {
                year: y,
                month: m,
                day: d,
            };
            assert_eq!(Date::from_days_since_epoch(date.days_since_epoch()), date);
        }
        assert_eq!(
            Date {
                year: 1970,
                month: 1,
                day: 1
            }
            .days_since_epoch(),
            0
        );
        assert_eq!(
            Date {
                year: 2000,
                month: 1,
                day: 1
            }
            .days_since_epoch(),
            10_957
        );
        assert!(Date {
            year: 2023,
            month: 2,
            day: 29
        }
        .checked()
        .is_err());
        assert!(Date {
            year: 0,
            month: 1,
            day: 1
        }
        .checked()
        .is_err());
    }

    #[test]
    fn text_round_trips() {
        let d = Date::parse("2024-02-29").unwrap();
        assert_eq!(d.to_string(), "2024-02-29");
        assert!(Date::parse("2023-02-29").is_err());
        assert!(Date::parse("24-02-29").is_err());
        let t = Time::parse("23:59:59.999999").unwrap();
        assert_eq!(t.to_string(), "23:59:59.999999");
        assert_eq!(
            Time::parse("12:00:00.5").unwrap().to_string(),
            "12:00:00.500000"
        );
        assert_eq!(Time::parse("12:00:00").unwrap().to_string(), "12:00:00");
        assert!(Time::parse("24:00:00").is_err());
        let dt = DateTime::parse("0001-01-01T00:00:00").unwrap();
        assert_eq!(dt.to_string(), "0001-01-01 00:00:00");
        let ts = Timestamp::parse("2024-02-29 23:30:00+02:00").unwrap();
        assert_eq!(ts.to_string(), "2024-02-29 21:30:00Z");
        assert_eq!(Timestamp::parse(&ts.to_string()).unwrap(), ts);
        let before = Timestamp::parse("1969-12-31 23:59:59.999999Z").unwrap();
        assert_eq!(before.micros, -1);
    }
}
