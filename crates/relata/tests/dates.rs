//! chrono's dates and times as model fields, on every backend: round trips at the edges (leap
//! day, years 1 and 9999, microseconds, time zones), the native column types (read from the
//! database's own catalog), ISO-8601 text on SQLite, filters and ordering, and a clear error for
//! a date no database here stores.
#![cfg(feature = "chrono")]

mod common;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use relata::{schema, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "events")]
struct Event {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
    #[relata(index)]
    day: NaiveDate,
    at: NaiveTime,
    local: NaiveDateTime,
    instant: DateTime<Utc>,
    until: Option<NaiveDate>,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn event(name: &str, day: NaiveDate, at: NaiveTime) -> Event {
    Event {
        id: None,
        name: name.into(),
        day,
        at,
        local: day.and_time(at),
        instant: Utc.from_utc_datetime(&day.and_time(at)),
        until: None,
    }
}

fn tables() -> relata::Schema {
    schema![Event]
}

backend_test! {
    /// Values at the edges come back exactly, to the microsecond; a time zone's instant is kept.
    fn dates_and_times_round_trip_at_the_edges(t, tables()) {
        let mut s = t.db.session();
        let micro = NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap();
        let midnight = NaiveTime::from_hms_opt(0, 0, 0).unwrap();
        let cases = [
            event("leap day", date(2024, 2, 29), micro),
            event("year 1", date(1, 1, 1), midnight),
            event("year 9999", date(9999, 12, 31), micro),
            event("epoch", date(1970, 1, 1), midnight),
            event("before the epoch", date(1969, 12, 31), NaiveTime::from_hms_micro_opt(12, 0, 0, 1).unwrap()),
        ];
        let mut keys: Vec<_> = cases.iter().cloned().map(|e| s.add(e)).collect();
        // An instant given in another time zone is the same instant.
        let kolkata = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
        let there = kolkata.with_ymd_and_hms(2024, 2, 29, 23, 30, 0).unwrap();
        let mut tz = event("Kolkata", date(2024, 2, 29), midnight);
        tz.instant = there.with_timezone(&Utc);
        tz.until = Some(date(2024, 3, 1));
        keys.push(s.add(tz.clone()));
        s.commit().unwrap();

        let mut fresh = t.db.session();
        let all = fresh.query::<Event>().order_by(Event::ID.asc()).all().unwrap();
        assert_eq!(all.len(), 6);
        for (k, expect) in all.iter().zip(cases.iter().chain([&tz])) {
            let got = &fresh[*k];
            assert_eq!((&got.name, got.day, got.at, got.local, got.instant, got.until),
                (&expect.name, expect.day, expect.at, expect.local, expect.instant, expect.until));
        }
        assert_eq!(fresh[all[5]].instant.to_rfc3339(), "2024-02-29T18:00:00+00:00");
    }
}

backend_test! {
    /// Finer than a microsecond is cut: what is stored is what reads back, and the cut value is
    /// no change.
    fn nanoseconds_are_cut_to_microseconds(t, tables()) {
        let mut s = t.db.session();
        let at = NaiveTime::from_hms_nano_opt(8, 15, 0, 123_456_789).unwrap();
        let k = s.add(event("nanos", date(2024, 1, 1), at));
        s.commit().unwrap();
        let mut fresh = t.db.session();
        let got = fresh.query::<Event>().one().unwrap();
        assert_eq!(fresh[got].at, NaiveTime::from_hms_micro_opt(8, 15, 0, 123_456).unwrap());
        s[k].at = NaiveTime::from_hms_nano_opt(8, 15, 0, 123_456_999).unwrap();
        assert!(s.pending_statements().unwrap().is_empty(), "the same microsecond: no change");
    }
}

backend_test! {
    /// Filters compare dates as dates, and ordering by a date column is by time.
    fn filters_and_order_by_dates(t, tables()) {
        let mut s = t.db.session();
        let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap();
        for (name, d) in [("b", date(2024, 2, 29)), ("a", date(999, 1, 1)), ("c", date(2024, 3, 1)), ("d", date(10, 5, 5))] {
            s.add(event(name, d, noon));
        }
        s.commit().unwrap();
        let spring = s
            .query::<Event>()
            .filter(Event::DAY.ge(date(2024, 2, 29)))
            .order_by(Event::DAY.asc())
            .all()
            .unwrap();
        let names: Vec<_> = spring.iter().map(|&k| s[k].name.clone()).collect();
        assert_eq!(names, ["b", "c"]);
        let by_day = s.query::<Event>().order_by(Event::DAY.asc()).all().unwrap();
        let names: Vec<_> = by_day.iter().map(|&k| s[k].name.clone()).collect();
        assert_eq!(names, ["d", "a", "b", "c"]);
        let later = Utc.with_ymd_and_hms(2024, 2, 29, 12, 0, 0).unwrap();
        assert_eq!(s.query::<Event>().filter(Event::INSTANT.eq(later)).count().unwrap(), 1);
        assert_eq!(s.query::<Event>().filter(Event::UNTIL.is_null()).count().unwrap(), 4);
    }
}

backend_test! {
    /// Each type has the native column type: DATE, TIME, TIMESTAMP, TIMESTAMPTZ on PostgreSQL;
    /// DATE, TIME, DATETIME on MySQL; TEXT holding ISO-8601 on SQLite.
    fn columns_have_native_types(t, tables()) {
        let types: Vec<(String, String)> = common::column_types(t, "events")
            .into_iter()
            .filter(|(c, _)| ["day", "at", "local", "instant"].contains(&c.as_str()))
            .collect();
        let expect: [&str; 4] = match t.backend {
            "postgres" => ["date", "time without time zone", "timestamp without time zone", "timestamp with time zone"],
            "mysql" => ["date", "time(6)", "datetime(6)", "datetime(6)"],
            _ => ["text", "text", "text", "text"],
        };
        let got: Vec<&str> = types.iter().map(|(_, ty)| ty.as_str()).collect();
        assert_eq!(got, expect, "{types:?}");
    }
}

#[test]
/// On SQLite the values are ISO-8601 text that SQLite's own date functions read.
fn sqlite_stores_iso_8601_text() {
    let Some(t) = common::open_with("file", &tables()) else {
        return;
    };
    let mut s = t.db.session();
    let at = NaiveTime::from_hms_micro_opt(9, 30, 0, 500).unwrap();
    s.add(event("text", date(2024, 2, 29), at));
    s.commit().unwrap();
    let path = t.dir().unwrap().join("x.db");
    let raw = rusqlite::Connection::open(path).unwrap();
    let row: (String, String, String, String, String) = raw
        .query_row(
            "SELECT day, at, local, instant, typeof(day) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(
        row,
        (
            "2024-02-29".into(),
            "09:30:00.000500".into(),
            "2024-02-29 09:30:00.000500".into(),
            "2024-02-29 09:30:00.000500Z".into(),
            "text".into()
        )
    );
    let weekday: String = raw
        .query_row(
            "SELECT strftime('%w', day) || ' ' || julianday(instant) FROM events",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(weekday.starts_with("4 2460369.89"), "{weekday}"); // a Thursday; Julian days start at noon
}

backend_test! {
    /// A date past year 9999 is refused before anything is written, with an error that says so.
    fn a_date_past_9999_is_refused(t, tables()) {
        let mut s = t.db.session();
        s.add(event("ok", date(2024, 1, 1), NaiveTime::from_hms_opt(1, 0, 0).unwrap()));
        s.add(event("far", date(10_000, 1, 1), NaiveTime::from_hms_opt(1, 0, 0).unwrap()));
        let e = s.commit().unwrap_err();
        assert!(e.to_string().contains("years 1 to 9999"), "{e}");
        assert!(t.db.session().query::<Event>().count().unwrap() == 0, "nothing was written");
    }
}
