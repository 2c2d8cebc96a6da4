//! Random schools (students, courses, enrollments, Unicode names) read back with selects of
//! aggregates, joins, groups, `having`, `distinct`, relation aggregates and keyset pages, each
//! checked against the same answer computed in Rust from the data. SQLite in memory gets the
//! main search; a file and the servers fewer cases, each on a brand-new database.

#[macro_use]
mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use proptest::prelude::*;
use relata::Key;

#[derive(Debug, Clone)]
struct School {
    names: Vec<String>,
    titles: Vec<String>,
    /// (student index, course index), distinct.
    pairs: BTreeSet<(usize, usize)>,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Алиса",
            "张伟",
            "𠮷",
            "O'Brien",
            "%_",
            "Zoë",
            "Bob",
            "",
            "Math"
        ])
        .prop_map(str::to_owned),
        "[a-zA-Zа-я张伟𠮷%_' ]{0,6}",
    ]
}

fn school() -> impl Strategy<Value = School> {
    (
        prop::collection::vec(text(), 0..8),
        prop::collection::vec(text(), 0..6),
    )
        .prop_flat_map(|(names, titles)| {
            let (n, c) = (names.len(), titles.len());
            let pairs = if n == 0 || c == 0 {
                Just(BTreeSet::new()).boxed()
            } else {
                prop::collection::btree_set((0..n, 0..c), 0..(n * c).min(20)).boxed()
            };
            (Just(names), Just(titles), pairs)
        })
        .prop_map(|(names, titles, pairs)| School {
            names,
            titles,
            pairs,
        })
}

fn chars(s: &str) -> i64 {
    s.chars().count() as i64
}

/// Stores the school, then checks every select against the data.
fn check(backend: &'static str, school: &School) {
    let Some(t) = open_with(backend, &common::school()) else {
        return;
    };
    let mut s = t.db.session();
    let students: Vec<Key<Student>> = s.add_all(school.names.iter().map(|n| student(n)));
    let courses: Vec<Key<Course>> = s.add_all(school.titles.iter().map(|c| course(c)));
    for &(i, j) in &school.pairs {
        s.link(Student::courses(), students[i], courses[j]);
    }
    s.commit().unwrap();
    let sid: Vec<i64> = students.iter().map(|&k| s.id(k).unwrap()).collect();
    let cid: Vec<i64> = courses.iter().map(|&k| s.id(k).unwrap()).collect();

    // Students per course: a left join grouped by course, and the relation's count per row.
    let mut expected: BTreeMap<i64, i64> = cid.iter().map(|&c| (c, 0)).collect();
    for &(_, j) in &school.pairs {
        *expected.get_mut(&cid[j]).unwrap() += 1;
    }
    let joined: BTreeMap<i64, i64> = s
        .query::<Course>()
        .left_join(Course::students())
        .group_by(Course::ID)
        .select((Course::ID, Student::ID.count()))
        .all()
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(joined, expected, "{backend}: left join counts");
    let per_row: BTreeMap<i64, i64> = s
        .query::<Course>()
        .select((Course::ID, Course::students().count()))
        .all()
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(per_row, expected, "{backend}: relation counts");

    // Each student's average title length: by a join (students with courses), and per row
    // (None for a student without).
    let mut lengths: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for &(i, j) in &school.pairs {
        lengths
            .entry(sid[i])
            .or_default()
            .push(chars(&school.titles[j]));
    }
    let avg = |v: &Vec<i64>| v.iter().sum::<i64>() as f64 / v.len() as f64;
    let grouped: Vec<(i64, Option<f64>)> = s
        .query::<Student>()
        .join(Student::courses())
        .group_by(Student::ID)
        .order_by(Student::ID.asc())
        .select((Student::ID, Course::TITLE.length().avg()))
        .all()
        .unwrap();
    assert_eq!(
        grouped.len(),
        lengths.len(),
        "{backend}: one row per student with courses"
    );
    for (id, got) in &grouped {
        let want = avg(&lengths[id]);
        assert!(
            (got.unwrap() - want).abs() < 1e-9,
            "{backend}: average of {id}: {got:?} vs {want}"
        );
    }
    let per_student: Vec<(i64, Option<f64>)> = s
        .query::<Student>()
        .select((
            Student::ID,
            Student::courses().aggregate(Course::TITLE.length().avg()),
        ))
        .all()
        .unwrap();
    assert_eq!(per_student.len(), sid.len());
    for (id, got) in per_student {
        match (lengths.get(&id), got) {
            (None, None) => {}
            (Some(v), Some(g)) => assert!((g - avg(v)).abs() < 1e-9, "{backend}: per row average"),
            other => panic!("{backend}: student {id}: {other:?}"),
        }
    }

    // Students taking two courses or more, by HAVING.
    let busy: BTreeSet<i64> = s
        .query::<Student>()
        .join(Student::courses())
        .group_by(Student::ID)
        .having(Course::ID.count().ge(2))
        .select(Student::ID)
        .all()
        .unwrap()
        .into_iter()
        .collect();
    let want: BTreeSet<i64> = lengths
        .iter()
        .filter(|(_, v)| v.len() >= 2)
        .map(|(&id, _)| id)
        .collect();
    assert_eq!(busy, want, "{backend}: having");

    // The distinct titles of the courses someone takes, and distinct names overall.
    let titles: BTreeSet<String> = s
        .query::<Student>()
        .join(Student::courses())
        .distinct()
        .select(Course::TITLE)
        .all()
        .unwrap()
        .into_iter()
        .collect();
    let want: BTreeSet<String> = school
        .pairs
        .iter()
        .map(|&(_, j)| school.titles[j].clone())
        .collect();
    assert_eq!(titles, want, "{backend}: distinct titles");
    let (n, distinct_names, total, longest): (i64, i64, Option<i64>, Option<i64>) = s
        .query::<Student>()
        .select((
            Student::ID.count(),
            Student::NAME.count_distinct(),
            Student::NAME.length().sum(),
            Student::NAME.length().max(),
        ))
        .one()
        .unwrap();
    let names: BTreeSet<&String> = school.names.iter().collect();
    assert_eq!(n, school.names.len() as i64);
    assert_eq!(
        distinct_names,
        names.len() as i64,
        "{backend}: count distinct"
    );
    let lens: Vec<i64> = school.names.iter().map(|n| chars(n)).collect();
    assert_eq!(total, (!lens.is_empty()).then(|| lens.iter().sum()));
    assert_eq!(longest, lens.iter().max().copied());

    // Keyset pages by key, descending: every student once, in that order.
    let mut after = None;
    let mut seen = Vec::new();
    loop {
        let page = s
            .query::<Student>()
            .order_by(Student::ID.desc())
            .keyset(after.as_ref(), 3)
            .unwrap();
        seen.extend(page.items.iter().map(|&k| s.id(k).unwrap()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let mut want = sid.clone();
    want.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, want, "{backend}: keyset pages");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn sqlite_memory(school in school()) {
        check("memory", &school);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn sqlite_file(school in school()) {
        check("file", &school);
    }
}

// Plain functions, run below only when the server is there (a skipped server is said once).
proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    fn postgres_cases(school in school()) {
        check("postgres", &school);
    }

    fn mysql_cases(school in school()) {
        check("mysql", &school);
    }
}

server_property_tests!(postgres_cases, mysql_cases);
