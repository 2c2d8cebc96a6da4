//! Selects of values on every backend: aggregates (count, count distinct, sum, avg, min, max)
//! over a table and per group, `group_by` with `having`, joins and left joins along a relation,
//! a relation's count and aggregates per parent in one statement, `distinct`, lengths in
//! characters, and ordering by an expression. Ported from SQLAlchemy's `test/orm/test_query.py`
//! where named.

mod common;

use common::{course, seed, student, Course, Student};
use relata::{schema, Error, Model, Schema};
use rust_decimal::Decimal;

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "scores")]
struct Score {
    #[relata(primary_key)]
    id: Option<i64>,
    who: String,
    points: i64,
    weight: f64,
    bonus: Option<i32>,
    fee: Decimal,
}

fn scores() -> Schema {
    schema![Score]
}

fn score(who: &str, points: i64, weight: f64, bonus: Option<i32>, fee: &str) -> Score {
    Score {
        id: None,
        who: who.into(),
        points,
        weight,
        bonus,
        fee: fee.parse().unwrap(),
    }
}

fn add_scores(t: &common::TestDb) {
    let mut s = t.db.session();
    s.add(score("Alice", 10, 0.5, Some(1), "0.1"));
    s.add(score("Alice", 20, 1.5, None, "0.1"));
    s.add(score("Алиса", 30, 2.0, Some(4), "0.1"));
    s.add(score(
        "张伟",
        7,
        0.25,
        None,
        "12345678901234567890.123456789",
    ));
    s.commit().unwrap();
}

backend_test! {
    /// Ports `AggregateTest.test_sum` and `test_apply`: aggregates of a filtered query, typed
    /// by the column (integers sum to i64, average to f64; NULLs left out).
    fn aggregates_over_a_table(t, scores()) {
        add_scores(t);
        let mut s = t.db.session();
        let row = s
            .query::<Score>()
            .filter(Score::POINTS.ge(10))
            .select((
                Score::ID.count(),
                Score::POINTS.sum(),
                Score::POINTS.avg(),
                Score::POINTS.min(),
                Score::POINTS.max(),
                Score::WHO.count_distinct(),
                Score::BONUS.count(),
                Score::BONUS.sum(),
            ))
            .one()
            .unwrap();
        assert_eq!(row, (3, Some(60), Some(20.0), Some(10), Some(30), 2, 2, Some(5)));
        let (weights, heaviest): (Option<f64>, Option<f64>) =
            s.query::<Score>().select((Score::WEIGHT.sum(), Score::WEIGHT.max())).one().unwrap();
        assert_eq!((weights, heaviest), (Some(4.25), Some(2.0)));
        let (first, last): (Option<String>, Option<String>) =
            s.query::<Score>().select((Score::WHO.min(), Score::WHO.max())).one().unwrap();
        assert_eq!(first.as_deref(), Some("Alice"));
        assert!(last.is_some());
    }
}

backend_test! {
    /// Over no rows: count is 0 and every other aggregate `None`.
    fn aggregates_over_no_rows(t, scores()) {
        let mut s = t.db.session();
        let row = s
            .query::<Score>()
            .select((Score::ID.count(), Score::POINTS.sum(), Score::WEIGHT.avg(), Score::WHO.max(), Score::FEE.sum()))
            .one()
            .unwrap();
        assert_eq!(row, (0, None, None, None, None));
    }
}

backend_test! {
    /// Decimals sum exactly (0.1 three times is 0.3, not 0.30000000000000004) and keep 28
    /// digits; their average is a decimal too.
    fn decimal_sums_are_exact(t, scores()) {
        add_scores(t);
        let mut s = t.db.session();
        let (sum, avg): (Option<Decimal>, Option<Decimal>) = s
            .query::<Score>()
            .filter(Score::FEE.lt("1".parse::<Decimal>().unwrap()))
            .select((Score::FEE.sum(), Score::FEE.avg()))
            .one()
            .unwrap();
        assert_eq!(sum, Some("0.3".parse().unwrap()));
        assert_eq!(avg.map(|d| d.normalize()), Some("0.1".parse().unwrap()));
        let total: Option<Decimal> = s.query::<Score>().select(Score::FEE.sum()).one().unwrap();
        assert_eq!(total, Some("12345678901234567890.423456789".parse().unwrap()));
    }
}

backend_test! {
    /// Decimals compare by value in min and max (as text, 9.5 would be the largest of 9.5, 10
    /// and -2).
    fn decimal_extremes_compare_by_value(t, scores()) {
        let mut s = t.db.session();
        for fee in ["9.5", "10", "-2", "10.00"] {
            s.add(score("Alice", 1, 1.0, None, fee));
        }
        s.commit().unwrap();
        let (min, max): (Option<Decimal>, Option<Decimal>) =
            s.query::<Score>().select((Score::FEE.min(), Score::FEE.max())).one().unwrap();
        assert_eq!(min, Some(Decimal::from(-2)));
        assert_eq!(max.map(|d| d.normalize()), Some(Decimal::from(10)));
    }
}

backend_test! {
    /// Lengths count characters, not bytes, on every backend (MySQL's LENGTH counts bytes).
    fn length_counts_characters(t, scores()) {
        add_scores(t);
        let mut s = t.db.session();
        let rows: Vec<(String, i64)> = s
            .query::<Score>()
            .distinct()
            .order_by(Score::WHO.length().desc())
            .order_by(Score::WHO.asc())
            .select((Score::WHO, Score::WHO.length()))
            .all()
            .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0], ("Alice".to_owned(), 5));
        assert_eq!(rows[1], ("Алиса".to_owned(), 5));
        assert_eq!(rows[2], ("张伟".to_owned(), 2));
    }
}

backend_test! {
    /// Ports `AggregateTest.test_having`: a join along the relation, grouped per student,
    /// kept by a condition on the group's count.
    fn group_by_with_having(t) {
        let mut s = t.db.session();
        seed(&mut s);
        s.add(student("Алиса"));
        s.commit().unwrap();
        let at_least_two: Vec<String> = s
            .query::<Student>()
            .join(Student::courses())
            .group_by((Student::ID, Student::NAME))
            .having(Course::ID.count().gt(1))
            .select(Student::NAME)
            .all()
            .unwrap();
        assert_eq!(at_least_two, ["Alice"]);
        let fewer: Vec<String> = s
            .query::<Student>()
            .order_by(Student::NAME.asc())
            .join(Student::courses())
            .group_by((Student::ID, Student::NAME))
            .having(Course::ID.count().lt(2))
            .select(Student::NAME)
            .all()
            .unwrap();
        assert_eq!(fewer, ["Bob"]); // Алиса takes nothing: the inner join has no row for her
    }
}

backend_test! {
    /// A left join keeps the parents with no related object: their joined columns read as
    /// `None` and their count as 0. The rows come in the order asked, by an aggregate.
    fn left_join_counts_zero(t) {
        let mut s = t.db.session();
        seed(&mut s);
        s.add(course("Art"));
        s.commit().unwrap();
        let counts: Vec<(String, i64)> = s
            .query::<Course>()
            .left_join(Course::students())
            .group_by((Course::ID, Course::TITLE))
            .order_by(Student::ID.count().desc())
            .order_by(Course::TITLE.asc())
            .select((Course::TITLE, Student::ID.count()))
            .all()
            .unwrap();
        assert_eq!(counts, [("Math".into(), 2), ("Science".into(), 1), ("Art".into(), 0)]);
        let rows: Vec<(String, Option<String>)> = s
            .query::<Course>()
            .filter(Course::TITLE.ne("Math"))
            .left_join(Course::students())
            .order_by(Course::TITLE.asc())
            .select((Course::TITLE, Student::NAME))
            .all()
            .unwrap();
        assert_eq!(rows, [("Art".into(), None), ("Science".into(), Some("Alice".into()))]);
    }
}

backend_test! {
    /// "Each course with its number of students" in one statement, without loading a student:
    /// the relation's count per parent, also usable as a filter and an order of a model query.
    fn relation_count_per_parent(t) {
        let mut s = t.db.session();
        let seeded = seed(&mut s);
        s.add(course("Art"));
        s.commit().unwrap();
        let statements = s.statements_run();
        let counts: Vec<(String, i64)> = s
            .query::<Course>()
            .order_by(Course::students().count().desc())
            .order_by(Course::TITLE.asc())
            .select((Course::TITLE, Course::students().count()))
            .all()
            .unwrap();
        assert_eq!(s.statements_run() - statements, 1);
        assert_eq!(counts, [("Math".into(), 2), ("Science".into(), 1), ("Art".into(), 0)]);
        let popular = s
            .query::<Course>()
            .filter(Course::students().count().ge(2))
            .all()
            .unwrap();
        assert_eq!(popular, [seeded.math]);
        let by_load = s
            .query::<Course>()
            .order_by(Course::students().count().asc())
            .order_by(Course::TITLE.asc())
            .all()
            .unwrap();
        assert_eq!(common::titles(&s, &by_load), ["Art", "Science", "Math"]);
    }
}

backend_test! {
    /// An aggregate over each parent's related objects: the average title length of each
    /// student's courses (`None` for a student with none), the longest title, and a count of
    /// distinct titles.
    fn relation_aggregates_per_parent(t) {
        let mut s = t.db.session();
        seed(&mut s);
        s.add(student("张伟"));
        s.commit().unwrap();
        let rows: Vec<(String, Option<f64>, Option<String>, i64)> = s
            .query::<Student>()
            .order_by(Student::ID.asc())
            .select((
                Student::NAME,
                Student::courses().aggregate(Course::TITLE.length().avg()),
                Student::courses().aggregate(Course::TITLE.max()),
                Student::courses().aggregate(Course::TITLE.count_distinct()),
            ))
            .all()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("Alice".into(), Some(5.5), Some("Science".into()), 2),
                ("Bob".into(), Some(4.0), Some("Math".into()), 1),
                ("张伟".into(), None, None, 0),
            ]
        );
        // The average over students of their number of courses: an aggregate of a per-row value.
        let avg: Option<f64> = s.query::<Student>().select(Student::courses().count().avg()).one().unwrap();
        assert_eq!(avg, Some(1.0));
    }
}

backend_test! {
    /// Ports `DistinctTest.test_basic`: `distinct` leaves out repeated rows of a join.
    fn distinct_rows(t) {
        let mut s = t.db.session();
        seed(&mut s);
        s.commit().unwrap();
        let mut all: Vec<String> = s
            .query::<Student>()
            .join(Student::courses())
            .select(Course::TITLE)
            .all()
            .unwrap();
        all.sort();
        assert_eq!(all, ["Math", "Math", "Science"]);
        let distinct: Vec<String> = s
            .query::<Student>()
            .join(Student::courses())
            .distinct()
            .order_by(Course::TITLE.asc())
            .select(Course::TITLE)
            .all()
            .unwrap();
        assert_eq!(distinct, ["Math", "Science"]);
    }
}

backend_test! {
    /// Joins chain: from students to their courses to those courses' students (the classmates),
    /// filtered on each model, windowed by limit and offset.
    fn joins_chain_and_filter_each_model(t) {
        let mut s = t.db.session();
        seed(&mut s);
        s.commit().unwrap();
        let rows: Vec<(String, String)> = s
            .query::<Student>()
            .filter(Student::NAME.eq("Bob"))
            .join(Student::courses())
            .filter(Course::TITLE.starts_with("Ma"))
            .group_by((Course::ID, Course::TITLE))
            .select((Course::TITLE, Course::TITLE))
            .all()
            .unwrap();
        assert_eq!(rows, [("Math".into(), "Math".into())]);
        let second: Vec<String> = s
            .query::<Course>()
            .order_by(Course::TITLE.asc())
            .select(Course::TITLE)
            .limit(1)
            .offset(1)
            .all()
            .unwrap();
        assert_eq!(second, ["Science"]);
    }
}

backend_test! {
    /// `one` and `first` of a select: none, one, or several rows (the error counts them all).
    fn one_and_first(t) {
        let mut s = t.db.session();
        seed(&mut s);
        s.commit().unwrap();
        let none = s.query::<Student>().filter(Student::NAME.eq("nobody")).select(Student::NAME).one();
        assert!(matches!(none, Err(Error::NotFound { table: "students", .. })), "{none:?}");
        s.add(student("Алиса"));
        s.commit().unwrap();
        let several = s.query::<Student>().select(Student::NAME).one();
        assert!(matches!(several, Err(Error::MultipleRows { count: 3, .. })), "{several:?}");
        let first = s
            .query::<Student>()
            .filter(Student::NAME.ne("Алиса"))
            .order_by(Student::NAME.desc())
            .select(Student::NAME)
            .first()
            .unwrap();
        assert_eq!(first.as_deref(), Some("Bob"));
        // The count of a grouped select is of its groups.
        let groups = s.query::<Student>().group_by(Student::NAME.length()).select(Student::NAME.length()).one();
        assert!(matches!(groups, Err(Error::MultipleRows { count: 2, .. })), "{groups:?}");
    }
}

backend_test! {
    /// A select inside a block with autoflush sees the block's own writes; after the block
    /// fails, nothing of it is left.
    fn select_sees_the_blocks_writes(t) {
        let mut s = t.db.session();
        s.set_autoflush(true);
        let failed = s.transaction(|s| {
            s.add(student("Алиса"));
            let n: i64 = s.query::<Student>().select(Student::ID.count()).one()?;
            assert_eq!(n, 1);
            Err::<(), _>(Error::Statement { sql: String::new(), message: "give up".into() })
        });
        assert!(failed.is_err());
        let n: i64 = s.query::<Student>().select(Student::ID.count()).one().unwrap();
        assert_eq!(n, 0);
    }
}

/// One row of "each course with its number of students".
#[derive(relata::Row, Debug, PartialEq)]
struct CourseCount {
    title: String,
    students: i64,
}

backend_test! {
    /// A select's rows into a derived struct, and the same struct from raw SQL.
    fn rows_into_a_derived_struct(t) {
        let mut s = t.db.session();
        seed(&mut s);
        s.commit().unwrap();
        let rows: Vec<CourseCount> = s
            .query::<Course>()
            .order_by(Course::TITLE.asc())
            .select((Course::TITLE, Course::students().count()))
            .all_as()
            .unwrap();
        assert_eq!(
            rows,
            [
                CourseCount { title: "Math".into(), students: 2 },
                CourseCount { title: "Science".into(), students: 1 },
            ]
        );
        let raw: Vec<CourseCount> = s
            .select(
                "SELECT c.title, COUNT(sc.student_id) FROM courses c \
                 LEFT JOIN student_course sc ON sc.course_id = c.id GROUP BY c.id, c.title ORDER BY c.title",
                relata::params![],
            )
            .unwrap();
        assert_eq!(raw, rows);
    }
}
