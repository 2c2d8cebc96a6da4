//! Text on the server backends: MySQL/MariaDB's strict mode rejects an over-long key value instead
//! of cutting it, and, on every backend, Unicode names round-trip and sort by code point and
//! trailing spaces are significant.
//!
//! Each test opens its own isolated database (a PostgreSQL schema or a MySQL database) and is
//! skipped when `RELATA_TEST_POSTGRES` / `RELATA_TEST_MYSQL` is unset. The Unicode and trailing-space checks are
//! `backend_test!`s and run on SQLite too.

#[macro_use]
mod common;

use std::collections::BTreeSet;

use common::tags::*;
use common::*;
use relata::{ConstraintKind, Key};

// ---------------------------------------------------------------------------------------------
// 4. MySQL strict mode
// ---------------------------------------------------------------------------------------------

/// MySQL/MariaDB run in strict mode on relata's connections: a UNIQUE text column is
/// `VARCHAR(768)`, a 769-character value is rejected with `ConstraintKind::Length` naming
/// `tags.label` (never silently cut), nothing of the commit is written, and 768 four-byte
/// characters (the limit counts characters, not bytes) round-trip exactly.
#[test]
#[cfg_attr(
    relata_skip_mysql,
    ignore = "MySQL/MariaDB test: set RELATA_TEST_MYSQL to a server URL and build with --all-features (see README)"
)]
fn mysql_strict_mode_rejects_an_over_long_key_value_instead_of_cutting_it() {
    let Some(t) = open_with("mysql", &tagged_school()) else {
        return;
    };
    let mut s = t.db.session();
    let zed = s.add(student("Zed"));
    let short = s.add(tag("short"));
    let long = s.add(tag(&"a".repeat(769)));
    s.link(Student::tags(), zed, short);
    s.link(Student::tags(), zed, long);

    let err = s.commit().unwrap_err();
    let (constraint, row) = expect_constraint(&err, ConstraintKind::Length, "tags");
    assert_eq!(constraint, "tags.label");
    let row = row.expect("the row at fault");
    assert!(row.contains("aaaa"), "{row}");
    assert!(!row.contains("short"), "only the offending row: {row}");
    let msg = err.to_string();
    assert!(msg.contains("too long for tags.label"), "{msg}");
    // Nothing was written: not the student, not the short tag, not a truncated long one.
    assert_eq!(contents(&t.db), Contents::default());
    assert!(tag_labels(&t.db).is_empty());
    assert!(s.has_changes());
    assert_eq!(s.id(zed), None);

    // 769 four-byte characters are too long as well.
    s[long].label = "𠮷".repeat(769);
    let err = s.commit().unwrap_err();
    let (constraint, _) = expect_constraint(&err, ConstraintKind::Length, "tags");
    assert_eq!(constraint, "tags.label");
    assert!(tag_labels(&t.db).is_empty());

    // 768 of them fit exactly and come back unchanged.
    let kanji = "𠮷".repeat(768);
    assert_eq!(kanji.len(), 768 * 4);
    s[long].label = kanji.clone();
    s.commit().unwrap();
    let mut fresh = t.db.session();
    let k = fresh
        .query::<Tag>()
        .filter(Tag::LABEL.eq(kanji.as_str()))
        .one()
        .unwrap();
    assert_eq!(fresh[k].label, kanji);
    assert_eq!(fresh.id(k), s.id(long));
    let zed_again = student_named(&mut fresh, "Zed");
    let mut labels = tags_of(&mut fresh, zed_again);
    labels.sort();
    // By code point, 's' (U+0073) comes before '𠮷' (U+20BB7).
    assert_eq!(labels, ["short".to_owned(), kanji.clone()]);
    assert_eq!(tag_labels(&t.db), ["short".to_owned(), kanji]);
}

// ---------------------------------------------------------------------------------------------
// 9. Unicode on every backend
// ---------------------------------------------------------------------------------------------

/// Names in code point order: ASCII capitals before small letters, Latin-1, Cyrillic, CJK, a
/// halfwidth katakana (U+FF71, which UTF-16 order would put after 𠮷) and a character beyond the
/// Basic Multilingual Plane.
const UNICODE_NAMES: [&str; 8] = [
    "Bob",
    "alice",
    "Émile",
    "Алиса",
    "张伟",
    "ｱｷﾗ",
    "𠮷",
    "𠮷野家",
];

backend_test! {
    /// Unicode names (Cyrillic, CJK, 𠮷 beyond the BMP) round-trip exactly, match by equality
    /// (case-sensitively), and sort by code point on every backend: "Bob" < "alice" < "Алиса" <
    /// "张伟" < "ｱｷﾗ" < "𠮷".
    fn unicode_names_round_trip_and_sort_by_code_point(t) {
        let mut sorted = UNICODE_NAMES.to_vec();
        sorted.sort(); // str's order is byte order of UTF-8, that is code point order
        assert_eq!(sorted, UNICODE_NAMES);

        let mut s = t.db.session();
        // Added out of order.
        let keys: Vec<Key<Student>> =
            [5, 2, 7, 0, 3, 6, 1, 4].iter().map(|&i| s.add(student(UNICODE_NAMES[i]))).collect();
        let topic = s.add(course("Ελληνικά 📚"));
        s.extend(Course::students(), topic, keys.iter().copied());
        s.commit().unwrap();

        let mut fresh = t.db.session();
        let asc = fresh.query::<Student>().order_by(Student::NAME.asc()).all().unwrap();
        assert_eq!(names(&fresh, &asc), UNICODE_NAMES);
        let desc = fresh.query::<Student>().order_by(Student::NAME.desc()).all().unwrap();
        let mut reversed = UNICODE_NAMES.to_vec();
        reversed.reverse();
        assert_eq!(names(&fresh, &desc), reversed);
        for name in UNICODE_NAMES {
            let k = student_named(&mut fresh, name);
            assert_eq!(fresh[k].name, name);
            assert_eq!(fresh[k].name.chars().count(), name.chars().count());
        }
        // Case matters: "alice" is not "Alice", "Bob" is not "bob".
        assert_eq!(fresh.query::<Student>().filter(Student::NAME.eq("Alice")).count().unwrap(), 0);
        assert_eq!(fresh.query::<Student>().filter(Student::NAME.eq("bob")).count().unwrap(), 0);
        // Ranges compare by code point too.
        let cyrillic_and_up = fresh
            .query::<Student>()
            .filter(Student::NAME.ge("Алиса"))
            .order_by(Student::NAME.asc())
            .all()
            .unwrap();
        assert_eq!(names(&fresh, &cyrillic_and_up), UNICODE_NAMES[3..]);

        let c = contents(&t.db);
        assert_eq!(c.students, UNICODE_NAMES);
        assert_eq!(c.courses, ["Ελληνικά 📚"]);
        let expected: BTreeSet<(String, String)> = UNICODE_NAMES
            .iter()
            .map(|&n| (n.to_owned(), "Ελληνικά 📚".to_owned()))
            .collect();
        assert_eq!(c.pairs, expected);
        let topic_again = course_titled(&mut fresh, "Ελληνικά 📚");
        assert_eq!(students_of(&mut fresh, topic_again), {
            // The course's students in the relation's order (by primary key): insertion order.
            [5, 2, 7, 0, 3, 6, 1, 4].map(|i| UNICODE_NAMES[i].to_owned()).to_vec()
        });
    }
}

backend_test! {
    /// Issue 12, item 9: trailing spaces are part of a name on every backend. MariaDB's
    /// `utf8mb4_bin` pads (it compared `Pad`, `Pad ` and `Pad  ` as one name, so removing
    /// `Solo` removed `Solo `); relata's MySQL tables use a collation that does not.
    fn trailing_spaces_are_significant_in_lookups_and_unique_keys(t, tagged_school()) {
        let mut s = t.db.session();
        for name in ["Pad", "Pad ", "Pad  ", "Solo "] {
            s.add(student(name));
        }
        for label in ["x", "x ", " x"] {
            s.add(tag(label));
        }
        s.commit().expect("labels that differ only in spaces are distinct");
        let mut s = t.db.session();
        for name in ["Pad", "Pad ", "Pad  ", "Solo "] {
            let found = s.query::<Student>().filter(Student::NAME.eq(name)).all().unwrap();
            assert_eq!(names(&s, &found), [name], "lookup of {name:?}");
        }
        assert_eq!(
            s.query::<Student>().filter(Student::NAME.eq("Solo")).count().unwrap(),
            0,
            "`Solo` is not `Solo `"
        );
        let ordered = s.query::<Student>().order_by(Student::NAME.asc()).all().unwrap();
        assert_eq!(names(&s, &ordered), ["Pad", "Pad ", "Pad  ", "Solo "]);
        assert_eq!(tag_labels(&t.db), [" x", "x", "x "]);
        let found = s.query::<Tag>().filter(Tag::LABEL.eq("x ")).count().unwrap();
        assert_eq!(found, 1);
    }
}
