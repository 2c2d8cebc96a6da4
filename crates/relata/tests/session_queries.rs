//! Queries: comparisons, text matching, `is_in`, null checks, `and`/`or`/`not`, order, limit and
//! offset, `first`/`one`/`count`, filters across the relationship, and text (Unicode, quotes,
//! wildcards) that round-trips literally. Each test runs on a fresh database of every backend:
//! SQLite in memory and in a file, PostgreSQL and MySQL/MariaDB.

#[macro_use]
mod common;

use common::members::*;
use common::*;
use relata::{schema, Error, Session};

/// Runs a query on members with `filter` and returns the names in order.
macro_rules! members_where {
    ($s:expr, $filter:expr) => {{
        let keys = $s.query::<Member>().filter($filter).all().unwrap();
        member_names($s, &keys)
    }};
}

/// Runs a query on students with `filter` and returns the names in order.
macro_rules! students_where {
    ($s:expr, $filter:expr) => {{
        let keys = $s.query::<Student>().filter($filter).all().unwrap();
        names($s, &keys)
    }};
}

/// Runs a query on courses with `filter` and returns the titles in order.
macro_rules! courses_where {
    ($s:expr, $filter:expr) => {{
        let keys = $s.query::<Course>().filter($filter).all().unwrap();
        titles($s, &keys)
    }};
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

backend_test! {
    fn query_comparisons(t, schema![Member]) {
        members_db(t);
        let s = &mut t.db.session();
        assert_eq!(members_where!(s, Member::AGE.eq(25)), ["Bob", "Dee"]);
        assert_eq!(members_where!(s, Member::AGE.ne(25)), ["Ann", "Cid", "Eve"]);
        assert_eq!(members_where!(s, Member::AGE.lt(25)), ["Eve"]);
        assert_eq!(members_where!(s, Member::AGE.le(25)), ["Bob", "Dee", "Eve"]);
        assert_eq!(members_where!(s, Member::AGE.gt(31)), ["Cid"]);
        assert_eq!(members_where!(s, Member::AGE.ge(31)), ["Ann", "Cid"]);
        assert_eq!(members_where!(s, Member::NAME.lt("Cid")), ["Ann", "Bob"]);
        assert_eq!(members_where!(s, Member::NAME.ge("Dee")), ["Dee", "Eve"]);
        assert_eq!(members_where!(s, Member::NAME.eq("Cid")), ["Cid"]);
        assert_eq!(members_where!(s, Member::NICKNAME.eq("cid")), ["Cid"]);
        // Comparing a nullable column with None means IS NULL / IS NOT NULL.
        assert_eq!(
            members_where!(s, Member::NICKNAME.eq(None::<String>)),
            ["Bob", "Dee"]
        );
        assert_eq!(
            members_where!(s, Member::NICKNAME.ne(None::<String>)),
            ["Ann", "Cid", "Eve"]
        );
        let cid = s
            .query::<Member>()
            .filter(Member::NAME.eq("Cid"))
            .one()
            .unwrap();
        let id = s.id(cid).unwrap();
        assert_eq!(
            s.query::<Member>().filter(Member::ID.eq(id)).one().unwrap(),
            cid
        );
        assert_eq!(members_where!(s, Member::ID.gt(id)), ["Dee", "Eve"]);
    }
}

backend_test! {
    fn query_like_and_literal_text_matching(t, schema![Member]) {
        members_db(t);
        let s = &mut t.db.session();
        assert_eq!(members_where!(s, Member::NAME.like("%e")), ["Dee", "Eve"]);
        assert_eq!(members_where!(s, Member::NAME.like("_o_")), ["Bob"]);
        // Case-sensitive on every backend.
        assert!(members_where!(s, Member::NAME.like("a%")).is_empty());
        assert_eq!(members_where!(s, Member::NAME.like("A%")), ["Ann"]);
        assert_eq!(members_where!(s, Member::NAME.like("A__")), ["Ann"]);
        assert!(members_where!(s, Member::NAME.like("A_")).is_empty());
        assert_eq!(
            members_where!(s, Member::NICKNAME.like("%ie")),
            ["Ann", "Eve"]
        );
        assert_eq!(members_where!(s, Member::NICKNAME.contains("ni")), ["Ann"]);
    }
}

backend_test! {
    fn query_contains_starts_with_and_ends_with_match_literally(t) {
        let mut s = t.db.session();
        s.add_all(
            [
                "100%",
                "100 percent",
                "a_b",
                "axb",
                r"back\slash",
                "backxslash",
            ]
            .map(student),
        );
        s.commit().unwrap();
        let mut s = t.db.session();
        let s = &mut s;
        assert_eq!(students_where!(s, Student::NAME.contains("%")), ["100%"]);
        assert_eq!(students_where!(s, Student::NAME.contains("_")), ["a_b"]);
        assert_eq!(
            students_where!(s, Student::NAME.starts_with("100%")),
            ["100%"]
        );
        assert_eq!(students_where!(s, Student::NAME.ends_with("_b")), ["a_b"]);
        assert_eq!(
            students_where!(s, Student::NAME.contains(r"\")),
            [r"back\slash"]
        );
        assert_eq!(
            students_where!(s, Student::NAME.contains(r"k\s")),
            [r"back\slash"]
        );
        // The same text as a pattern: wildcards.
        assert_eq!(
            students_where!(s, Student::NAME.like("100%")),
            ["100%", "100 percent"]
        );
        assert_eq!(
            students_where!(s, Student::NAME.like("a_b")),
            ["a_b", "axb"]
        );
        assert_eq!(
            students_where!(s, Student::NAME.like(relata::escape_like("a_b"))),
            ["a_b"]
        );
    }
}

backend_test! {
    fn query_is_in_including_the_empty_list(t, schema![Member]) {
        members_db(t);
        let s = &mut t.db.session();
        assert_eq!(
            members_where!(s, Member::AGE.is_in([25, 40])),
            ["Bob", "Cid", "Dee"]
        );
        assert_eq!(
            members_where!(s, Member::NAME.is_in(["Ann", "Zed"])),
            ["Ann"]
        );
        assert!(members_where!(s, Member::AGE.is_in(Vec::<i64>::new())).is_empty());
        assert!(members_where!(s, Member::NAME.is_in(Vec::<&str>::new())).is_empty());
        assert_eq!(
            members_where!(s, !Member::AGE.is_in(Vec::<i64>::new())),
            ["Ann", "Bob", "Cid", "Dee", "Eve"]
        );
        assert_eq!(
            s.query::<Member>()
                .filter(Member::AGE.is_in(Vec::<i64>::new()))
                .count()
                .unwrap(),
            0
        );
        assert_eq!(
            members_where!(s, Member::AGE.is_in(Vec::<i64>::new()) | Member::AGE.eq(19)),
            ["Eve"]
        );
    }
}

backend_test! {
    fn query_null_checks_on_an_optional_column(t, schema![Member]) {
        members_db(t);
        let s = &mut t.db.session();
        assert_eq!(
            members_where!(s, Member::NICKNAME.is_null()),
            ["Bob", "Dee"]
        );
        assert_eq!(
            members_where!(s, Member::NICKNAME.is_not_null()),
            ["Ann", "Cid", "Eve"]
        );
        assert_eq!(
            s.query::<Member>()
                .filter(Member::NICKNAME.is_null())
                .count()
                .unwrap(),
            2
        );
        // Setting a value to NULL and back, through the session.
        let ann = s
            .query::<Member>()
            .filter(Member::NAME.eq("Ann"))
            .one()
            .unwrap();
        s[ann].nickname = None;
        s.commit().unwrap();
        assert_eq!(
            members_where!(s, Member::NICKNAME.is_null()),
            ["Ann", "Bob", "Dee"]
        );
    }
}

backend_test! {
    fn query_and_or_not(t, schema![Member]) {
        members_db(t);
        let s = &mut t.db.session();
        assert_eq!(
            members_where!(s, Member::AGE.eq(25) & Member::NAME.eq("Bob")),
            ["Bob"]
        );
        assert_eq!(
            members_where!(s, Member::AGE.eq(25).and(Member::NICKNAME.is_null())),
            ["Bob", "Dee"]
        );
        assert_eq!(
            members_where!(s, Member::AGE.lt(20) | Member::AGE.gt(35)),
            ["Cid", "Eve"]
        );
        assert_eq!(
            members_where!(s, Member::AGE.lt(20).or(Member::AGE.gt(35))),
            ["Cid", "Eve"]
        );
        assert_eq!(
            members_where!(s, !Member::AGE.eq(25)),
            ["Ann", "Cid", "Eve"]
        );
        assert_eq!(
            members_where!(s, Member::AGE.eq(25).not()),
            ["Ann", "Cid", "Eve"]
        );
        assert_eq!(
            members_where!(
                s,
                !(Member::AGE.eq(25) | Member::NAME.eq("Ann")) & Member::NICKNAME.is_not_null()
            ),
            ["Cid", "Eve"]
        );
        assert_eq!(
            members_where!(
                s,
                Member::AGE.eq(25) & Member::NAME.eq("Bob") | Member::NAME.eq("Eve")
            ),
            ["Bob", "Eve"]
        );
        assert_eq!(
            members_where!(
                s,
                Member::AGE.eq(25) & (Member::NAME.eq("Bob") | Member::NAME.eq("Eve"))
            ),
            ["Bob"]
        );
        // Several filter calls combine with AND.
        let keys = s
            .query::<Member>()
            .filter(Member::AGE.ge(25))
            .filter(Member::NICKNAME.is_not_null())
            .filter(Member::NAME.ne("Cid"))
            .all()
            .unwrap();
        assert_eq!(member_names(s, &keys), ["Ann"]);
    }
}

backend_test! {
    fn query_order_limit_offset(t, schema![Member]) {
        members_db(t);
        let s = &mut t.db.session();
        let q =
            |s: &mut Session,
             f: &dyn Fn(relata::Query<'_, Member>) -> relata::Query<'_, Member>| {
                let keys = f(s.query::<Member>()).all().unwrap();
                member_names(s, &keys)
            };
        assert_eq!(
            q(s, &|q| q.order_by(Member::AGE.asc())),
            ["Eve", "Bob", "Dee", "Ann", "Cid"]
        );
        assert_eq!(
            q(s, &|q| q.order_by(Member::AGE.desc())),
            ["Cid", "Ann", "Bob", "Dee", "Eve"]
        );
        assert_eq!(
            q(s, &|q| q
                .order_by(Member::AGE.desc())
                .order_by(Member::NAME.desc())),
            ["Cid", "Ann", "Dee", "Bob", "Eve"]
        );
        assert_eq!(
            q(s, &|q| q.order_by(Member::NAME.desc())),
            ["Eve", "Dee", "Cid", "Bob", "Ann"]
        );
        assert_eq!(
            q(s, &|q| q.order_by(Member::NAME.asc()).limit(2)),
            ["Ann", "Bob"]
        );
        assert_eq!(
            q(s, &|q| q.order_by(Member::NAME.asc()).offset(1).limit(2)),
            ["Bob", "Cid"]
        );
        assert_eq!(
            q(s, &|q| q.order_by(Member::NAME.asc()).offset(3)),
            ["Dee", "Eve"]
        );
        assert!(q(s, &|q| q.offset(10)).is_empty());
        assert!(q(s, &|q| q.limit(0)).is_empty());
        assert_eq!(
            q(s, &|q| q
                .filter(Member::AGE.ge(25))
                .order_by(Member::AGE.desc())
                .limit(3)),
            ["Cid", "Ann", "Bob"]
        );
        assert_eq!(s.query::<Member>().limit(2).count().unwrap(), 2);
        assert_eq!(s.query::<Member>().offset(3).count().unwrap(), 2);
        assert_eq!(s.query::<Member>().offset(4).limit(5).count().unwrap(), 1);
    }
}

backend_test! {
    fn query_first_one_and_count(t, schema![Member]) {
        members_db(t);
        let s = &mut t.db.session();
        let first = s
            .query::<Member>()
            .order_by(Member::AGE.desc())
            .first()
            .unwrap()
            .unwrap();
        assert_eq!(s[first].name, "Cid");
        assert_eq!(
            s.query::<Member>()
                .filter(Member::AGE.gt(100))
                .first()
                .unwrap(),
            None
        );
        let ann = s
            .query::<Member>()
            .filter(Member::NAME.eq("Ann"))
            .one()
            .unwrap();
        assert_eq!(s[ann].age, 31);

        match s.query::<Member>().filter(Member::NAME.eq("Zed")).one() {
            Err(e @ Error::NotFound { .. }) => {
                let Error::NotFound { table, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(*table, "members");
                assert!(e.to_string().contains("members"), "{e}");
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
        match s.query::<Member>().filter(Member::AGE.eq(25)).one() {
            Err(Error::MultipleRows { table, count }) => {
                assert_eq!(table, "members");
                assert_eq!(count, 2);
            }
            other => panic!("expected MultipleRows, got {other:?}"),
        }
        match s.query::<Member>().one() {
            Err(e @ Error::MultipleRows { count: 5, .. }) => {
                assert!(e.to_string().contains("5 matched"), "{e}")
            }
            other => panic!("expected MultipleRows of 5, got {other:?}"),
        }
        use relata::OptionalExtension;
        assert_eq!(
            s.query::<Member>()
                .filter(Member::NAME.eq("Zed"))
                .one()
                .optional()
                .unwrap(),
            None
        );

        assert_eq!(s.query::<Member>().count().unwrap(), 5);
        assert_eq!(
            s.query::<Member>()
                .filter(Member::AGE.eq(25))
                .count()
                .unwrap(),
            2
        );
        assert_eq!(
            s.query::<Member>()
                .filter(Member::NAME.eq("Zed"))
                .count()
                .unwrap(),
            0
        );
    }
}

backend_test! {
    fn filtering_across_the_relationship_in_both_directions(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        s.add(student("Carol")); // takes nothing
        s.add(course("Art")); // taken by nobody
        s.commit().unwrap();
        let s = &mut t.db.session();
        assert_eq!(
            students_where!(s, Student::courses().any(Course::TITLE.eq("Math"))),
            ["Alice", "Bob"]
        );
        assert_eq!(
            students_where!(s, Student::courses().any(Course::TITLE.eq("Science"))),
            ["Alice"]
        );
        assert!(students_where!(s, Student::courses().any(Course::TITLE.eq("Art"))).is_empty());
        assert_eq!(
            students_where!(s, Student::courses().exists()),
            ["Alice", "Bob"]
        );
        assert_eq!(students_where!(s, !Student::courses().exists()), ["Carol"]);
        assert_eq!(
            students_where!(
                s,
                !Student::courses().any(Course::TITLE.eq("Science")) & Student::NAME.ne("Carol")
            ),
            ["Bob"]
        );
        // Both conditions on one related course vs. on any two.
        assert!(students_where!(
            s,
            Student::courses().any(Course::TITLE.eq("Math") & Course::TITLE.eq("Science"))
        )
        .is_empty());
        assert_eq!(
            students_where!(
                s,
                Student::courses().any(Course::TITLE.eq("Math"))
                    & Student::courses().any(Course::TITLE.eq("Science"))
            ),
            ["Alice"]
        );

        assert_eq!(
            courses_where!(s, Course::students().any(Student::NAME.eq("Bob"))),
            ["Math"]
        );
        assert_eq!(
            courses_where!(s, Course::students().any(Student::NAME.eq("Alice"))),
            ["Math", "Science"]
        );
        assert_eq!(
            courses_where!(s, Course::students().exists()),
            ["Math", "Science"]
        );
        assert_eq!(courses_where!(s, !Course::students().exists()), ["Art"]);
        // Nested: courses taken by someone who takes Science.
        assert_eq!(
            courses_where!(
                s,
                Course::students().any(Student::courses().any(Course::TITLE.eq("Science")))
            ),
            ["Math", "Science"]
        );
        assert_eq!(
            s.query::<Student>()
                .filter(Student::courses().exists())
                .count()
                .unwrap(),
            2
        );
        // inverse() is the other side.
        assert_eq!(
            courses_where!(s, Student::courses().inverse().any(Student::NAME.eq("Bob"))),
            ["Math"]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Text round trips
// ---------------------------------------------------------------------------------------------

const ODD_NAMES: [&str; 7] = [
    "Алиса",
    "张伟",
    "𠮷",
    "Robert'); DROP TABLE students;--",
    "%_",
    "O'Brien \"the\" 👩‍🔬",
    "tab\tnew\nline",
];

backend_test! {
    fn unicode_and_sql_looking_values_round_trip_literally(t) {
        let mut s = t.db.session();
        let keys = s.add_all(ODD_NAMES.map(student));
        let math = s.add(course("数学"));
        let drop = s.add(course("'; DROP TABLE courses; --"));
        s.extend(Course::students(), math, keys.clone());
        s.link(Course::students(), drop, keys[3]);
        s.commit().unwrap();

        let mut s = t.db.session();
        for name in ODD_NAMES {
            let k = student_named(&mut s, name);
            assert_eq!(s[k].name, name);
            assert_eq!(
                students_where!(&mut s, Student::NAME.contains(name)),
                [name],
                "contains({name:?})"
            );
            assert_eq!(
                students_where!(&mut s, Student::NAME.like(relata::escape_like(name))),
                [name],
                "like(escape_like({name:?}))"
            );
        }
        let s = &mut s;
        assert_eq!(students_where!(s, Student::NAME.contains("лис")), ["Алиса"]);
        assert_eq!(students_where!(s, Student::NAME.like("张%")), ["张伟"]);
        assert_eq!(
            students_where!(s, Student::NAME.starts_with("张")),
            ["张伟"]
        );
        assert_eq!(students_where!(s, Student::NAME.ends_with("𠮷")), ["𠮷"]);
        // `_` is one character, however many bytes it takes.
        assert_eq!(students_where!(s, Student::NAME.like("_")), ["𠮷"]);
        assert_eq!(students_where!(s, Student::NAME.like("__")), ["张伟", "%_"]);
        assert_eq!(students_where!(s, Student::NAME.contains("%_")), ["%_"]);
        assert_eq!(
            students_where!(s, Student::NAME.ends_with(";--")),
            ["Robert'); DROP TABLE students;--"]
        );
        assert_eq!(
            students_where!(s, Student::NAME.contains("'")),
            ["Robert'); DROP TABLE students;--", "O'Brien \"the\" 👩‍🔬"]
        );
        assert_eq!(
            students_where!(s, Student::NAME.is_in(["𠮷", "Алиса"])),
            ["Алиса", "𠮷"]
        );
        let m = course_titled(s, "数学");
        assert_eq!(students_of(s, m), ODD_NAMES);
        let d = course_titled(s, "'; DROP TABLE courses; --");
        assert_eq!(students_of(s, d), ["Robert'); DROP TABLE students;--"]);

        // The tables are all still there.
        assert_eq!(s.query::<Student>().count().unwrap(), 7);
        assert_eq!(s.query::<Course>().count().unwrap(), 2);
        let c = contents(&t.db);
        assert_eq!(c.pairs.len(), 8);
        t.db.create_all(&school()).unwrap();
        assert_eq!(contents(&t.db), c);
    }
}
