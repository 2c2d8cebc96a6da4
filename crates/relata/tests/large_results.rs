//! Large results on every backend: a million rows streamed in bounded memory (a select's values
//! and a query's objects), a stream stopped by its callback leaving the session usable, numbered
//! pages with their total, and keyset pages that neither repeat nor skip rows when others are
//! added between pages.

mod common;

use common::BACKENDS;
use relata::{params, schema, Error, Model, Schema};

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "items")]
struct Item {
    #[relata(primary_key)]
    id: Option<i64>,
    #[relata(index)]
    label: String,
    rank: i64,
}

fn items() -> Schema {
    schema![Item]
}

/// How many rows the streaming test reads, and how much the process may grow while it does:
/// collected, the rows would take about 150 MiB (100-character labels).
const ROWS: i64 = 1_000_000;
const LIMIT_MIB: u64 = 32;

/// The process's resident memory now, in KiB (Linux).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// Fills `items` with `ROWS` rows in one statement the database generates.
fn fill(t: &common::TestDb) {
    let sql = match t.backend {
        "postgres" => {
            "INSERT INTO items (label, rank) SELECT lpad(i::text, 100, '0'), i % 7 \
                       FROM generate_series(1, 1000000) AS g(i)"
        }
        "mysql" => {
            "INSERT INTO items (label, rank) SELECT LPAD(seq, 100, '0'), seq % 7 \
                    FROM seq_1_to_1000000"
        }
        _ => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) \
              INSERT INTO items (label, rank) SELECT printf('%0100d', i), i % 7 FROM n"
        }
    };
    let mut s = t.db.session();
    assert_eq!(s.execute(sql, params![]).unwrap(), ROWS as u64);
}

/// One test for every backend, one after another, so that nothing else runs in the process
/// while it measures.
#[test]
fn a_million_rows_stream_in_bounded_memory() {
    // The measure sees memory the process touches.
    let before = rss_kib();
    let held = vec![1u8; 64 << 20];
    assert!(
        rss_kib() - before >= 48 << 10,
        "VmRSS shows a 64 MiB vector"
    );
    drop(held);
    for backend in BACKENDS {
        let Some(t) = common::open_with(backend, &items()) else {
            continue;
        };
        eprintln!("--- backend: {backend}");
        fill(&t);
        let mut s = t.db.session();
        let start = rss_kib();
        let (mut peak, mut n, mut sum) = (start, 0i64, 0i64);
        s.query::<Item>()
            .select((Item::ID, Item::LABEL))
            .for_each(|(id, label): (i64, String)| {
                assert_eq!(label.len(), 100);
                n += 1;
                sum += id;
                if n % 50_000 == 0 {
                    peak = peak.max(rss_kib());
                }
                Ok::<_, Error>(())
            })
            .unwrap();
        assert_eq!(
            (n, sum),
            (ROWS, ROWS * (ROWS + 1) / 2),
            "{backend}: every row once"
        );
        let grown = peak.saturating_sub(start) / 1024;
        eprintln!("{backend}: select of {ROWS} rows grew the process by {grown} MiB");
        assert!(
            grown < LIMIT_MIB,
            "{backend}: grew by {grown} MiB streaming a select"
        );

        // The objects themselves, without the identity map.
        let start = rss_kib();
        let (mut peak, mut n) = (start, 0i64);
        s.query::<Item>()
            .filter(Item::RANK.eq(3))
            .for_each(|item| {
                assert_eq!(item.rank, 3);
                n += 1;
                if n % 50_000 == 0 {
                    peak = peak.max(rss_kib());
                }
                Ok::<_, Error>(())
            })
            .unwrap();
        assert_eq!(n, (1..=ROWS).filter(|i| i % 7 == 3).count() as i64);
        let grown = peak.saturating_sub(start) / 1024;
        eprintln!("{backend}: query of {n} objects grew the process by {grown} MiB");
        assert!(
            grown < LIMIT_MIB,
            "{backend}: grew by {grown} MiB streaming objects"
        );
    }
}

/// The error a callback stops a stream with.
#[derive(Debug, PartialEq)]
enum Stop {
    Enough(usize),
    Relata(String),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Relata(e.to_string())
    }
}

backend_test! {
    /// A callback's error stops the stream, comes back as itself, and leaves the session (and
    /// its connection) usable, inside a block too.
    fn a_stopped_stream_leaves_the_session_usable(t, items()) {
        let mut s = t.db.session();
        s.add_all((0..3000).map(|i| Item { id: None, label: format!("Алиса {i}"), rank: i % 3 }));
        s.commit().unwrap();
        let mut seen = 0;
        let stopped = s.query::<Item>().select(Item::LABEL).for_each(|_| {
            seen += 1;
            if seen == 10 { Err(Stop::Enough(seen)) } else { Ok(()) }
        });
        assert_eq!(stopped, Err(Stop::Enough(10)));
        assert_eq!(s.query::<Item>().count().unwrap(), 3000);
        s.transaction(|s| {
            let r = s.query::<Item>().for_each(|_| Err(Stop::Enough(0)));
            assert_eq!(r, Err(Stop::Enough(0)));
            s.add(Item { id: None, label: "张伟".into(), rank: 9 });
            Ok::<_, Error>(())
        })
        .unwrap();
        assert_eq!(s.query::<Item>().filter(Item::RANK.eq(9)).count().unwrap(), 1);
    }
}

backend_test! {
    /// Numbered pages: the window and the total, the last page short, a page past the end
    /// empty, page 0 refused.
    fn numbered_pages(t, items()) {
        let mut s = t.db.session();
        s.add_all((1..=23).map(|i| Item { id: None, label: format!("L{i:02}"), rank: i % 2 }));
        s.commit().unwrap();
        let q = |s: &mut relata::Session, n| s.query::<Item>().filter(Item::RANK.eq(1)).order_by(Item::LABEL.desc()).page(n, 5).unwrap();
        let first = q(&mut s, 1);
        assert_eq!((first.total, first.pages(), first.has_next(), first.has_previous()), (12, 3, true, false));
        let labels: Vec<String> = first.items.iter().map(|&k| s[k].label.clone()).collect();
        assert_eq!(labels, ["L23", "L21", "L19", "L17", "L15"]);
        let last = q(&mut s, 3);
        assert_eq!((last.items.len(), last.has_next()), (2, false));
        assert_eq!(s[last.items[1]].label, "L01");
        assert!(q(&mut s, 4).items.is_empty());
        let e = s.query::<Item>().page(0, 5).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    }
}

backend_test! {
    /// Keyset pages by a column with repeated values (the key breaks ties): every row exactly
    /// once, in order, even with rows added before the cursor between pages; an order by an
    /// expression is refused.
    fn keyset_pages(t, items()) {
        let mut s = t.db.session();
        s.add_all((0..47).map(|i| Item { id: None, label: ["b", "a", "c"][i % 3].to_string(), rank: i as i64 }));
        s.commit().unwrap();
        let (mut after, mut seen, mut pages) = (None, Vec::new(), 0);
        loop {
            let page = s.query::<Item>().order_by(Item::LABEL.desc()).keyset(after.as_ref(), 10).unwrap();
            pages += 1;
            seen.extend(page.items.iter().map(|&k| (s[k].label.clone(), s.id(k).unwrap())));
            if pages == 2 {
                // Another writer adds a row that sorts before the cursor: not seen, nothing repeats.
                let mut other = t.db.session();
                other.add(Item { id: None, label: "c".into(), rank: 100 });
                other.commit().unwrap();
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 5);
        assert_eq!(seen.len(), 47);
        let mut sorted = seen.clone();
        sorted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        assert_eq!(seen, sorted, "in the query's order, the key breaking ties");
        // A cursor continues only the query that made it: another order is named, not paged.
        let first = s.query::<Item>().order_by(Item::LABEL.desc()).keyset(None, 10).unwrap();
        let by_rank = s.query::<Item>().order_by(Item::RANK.desc()).keyset(first.next.as_ref(), 10);
        let e = by_rank.unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { message } if message.contains("\"label\"") && message.contains("\"rank\"")),
            "{e:?}"
        );
        let e = s.query::<Item>().order_by(Item::LABEL.length().asc()).keyset(None, 10).unwrap_err();
        assert!(matches!(&e, Error::InvalidArgument { message } if message.contains("columns")), "{e:?}");
    }
}

backend_test! {
    /// `paginate`: the pages of one query read one at a time, the session used and committed
    /// between them (every object renamed, page by page, by keyset: renaming does not move a row
    /// the cursor has passed, since the order is by key).
    fn paginate_with_the_session_free_between_pages(t, items()) {
        let mut s = t.db.session();
        s.add_all((0..23).map(|i| Item { id: None, label: format!("old {i}"), rank: i }));
        s.commit().unwrap();
        let pages = s.query::<Item>().order_by(Item::RANK.asc()).paginate(5);
        assert_eq!(pages.size(), 5);
        let (mut cursor, mut renamed) = (None, 0);
        loop {
            let page = pages.after(&mut s, cursor.as_ref()).unwrap();
            for &k in &page.items {
                s[k].label = format!("новый {}", s[k].rank);
                renamed += 1;
            }
            s.commit().unwrap();
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(renamed, 23);
        let last = pages.page(&mut s, 5).unwrap();
        assert_eq!((last.items.len(), last.total, last.pages()), (3, 23, 5));
        assert_eq!(s[last.items[2]].label, "новый 22");
        let old = s.query::<Item>().filter(Item::LABEL.starts_with("old")).count().unwrap();
        assert_eq!(old, 0);
    }
}

backend_test! {
    /// A keyset cursor comes from the rows as stored: an unsaved change to the last object of a
    /// page (its order column moved far ahead) neither skips nor repeats rows.
    fn a_cursor_ignores_unsaved_changes(t, items()) {
        let mut s = t.db.session();
        s.add_all((0..9).map(|i| Item { id: None, label: format!("L{i}"), rank: i }));
        s.commit().unwrap();
        let pages = s.query::<Item>().order_by(Item::RANK.asc()).paginate(3);
        let first = pages.after(&mut s, None).unwrap();
        let last = *first.items.last().unwrap();
        s[last].rank = 100; // not committed
        let second = pages.after(&mut s, first.next.as_ref()).unwrap();
        let ranks: Vec<i64> = second.items.iter().map(|&k| s[k].rank).collect();
        assert_eq!(ranks, [3, 4, 5]);
    }
}
