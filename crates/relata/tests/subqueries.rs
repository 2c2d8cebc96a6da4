//! Subqueries over any table, related by a declared relation or not, on every backend:
//! `IN (SELECT ...)`, correlated `EXISTS` and `NOT EXISTS`, inside model queries and selects.
//! Ports SQLAlchemy's `test/orm/test_query.py` `ExistsTest` and the `in_()` of a subquery where
//! named.

mod common;

use common::{seed, student, Course, Student, StudentCourse};
use relata::{schema, subquery, Model, Schema};

/// A payment names its student by a plain column: no relation, no foreign key.
#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "payments")]
struct Payment {
    #[relata(primary_key)]
    id: Option<i64>,
    student_id: Option<i64>,
    amount: i64,
    note: String,
}

fn with_payments() -> Schema {
    schema![Student, Course, StudentCourse, Payment]
}

/// Seeds the school, then payments: Alice 150 and 20, Bob 50, one with no student.
fn pay(t: &common::TestDb) {
    let mut s = t.db.session();
    let seeded = seed(&mut s);
    s.add(student("Алиса"));
    s.commit().unwrap();
    let (alice, bob) = (s.id(seeded.alice), s.id(seeded.bob));
    for (who, amount, note) in [
        (alice, 150, "fees"),
        (alice, 20, "it's'); --"),
        (bob, 50, "books"),
        (None, 999, "anonymous"),
    ] {
        s.add(Payment {
            id: None,
            student_id: who,
            amount,
            note: note.into(),
        });
    }
    s.commit().unwrap();
}

fn names(s: &mut relata::Session, filter: relata::Filter<Student>) -> Vec<String> {
    s.query::<Student>()
        .filter(filter)
        .order_by(Student::NAME.asc())
        .select(Student::NAME)
        .all()
        .unwrap()
}

backend_test! {
    /// `IN (SELECT ...)` of a plain column, filtered; a nullable column matches a non-null one;
    /// an empty subquery matches nothing.
    fn in_subquery(t, with_payments()) {
        pay(t);
        let mut s = t.db.session();
        let big = subquery(Payment::STUDENT_ID).filter(Payment::AMOUNT.ge(100));
        assert_eq!(names(&mut s, Student::ID.in_subquery(big.clone())), ["Alice"]);
        assert_eq!(names(&mut s, !Student::ID.in_subquery(subquery(Payment::STUDENT_ID).filter(Payment::STUDENT_ID.is_not_null()))), ["Алиса"]);
        let none = subquery(Payment::STUDENT_ID).filter(Payment::AMOUNT.gt(10_000));
        assert!(names(&mut s, Student::ID.in_subquery(none)).is_empty());
        // A value with quotes is bound, not pasted.
        let odd = subquery(Payment::STUDENT_ID).filter(Payment::NOTE.eq("it's'); --"));
        assert_eq!(names(&mut s, Student::ID.in_subquery(odd)), ["Alice"]);
    }
}

backend_test! {
    /// Ports `ExistsTest.test_exists`: a correlated `EXISTS`, and `NOT EXISTS` by `!`, combined
    /// with other conditions and with a relation's `any`.
    fn correlated_exists(t, with_payments()) {
        pay(t);
        let mut s = t.db.session();
        let paid = || subquery(Payment::ID).correlate(Payment::STUDENT_ID, Student::ID);
        assert_eq!(names(&mut s, paid().exists()), ["Alice", "Bob"]);
        assert_eq!(names(&mut s, !paid().exists()), ["Алиса"]);
        let paid_small = paid().filter(Payment::AMOUNT.lt(30)).exists();
        assert_eq!(names(&mut s, paid_small), ["Alice"]);
        let math_and_paid_books =
            Student::courses().any(Course::TITLE.eq("Math")) & paid().filter(Payment::NOTE.eq("books")).exists();
        assert_eq!(names(&mut s, math_and_paid_books), ["Bob"]);
    }
}

backend_test! {
    /// A subquery inside a subquery, and in a select's filter with an aggregate: the total paid
    /// by students who take Science.
    fn nested_and_in_selects(t, with_payments()) {
        pay(t);
        let mut s = t.db.session();
        let science_takers = subquery(Student::ID).filter(Student::courses().any(Course::TITLE.eq("Science")));
        let total: Option<i64> = s
            .query::<Payment>()
            .filter(Payment::STUDENT_ID.in_subquery(science_takers))
            .select(Payment::AMOUNT.sum())
            .one()
            .unwrap();
        assert_eq!(total, Some(170));
        let payers_of_math = subquery(Payment::STUDENT_ID)
            .filter(Payment::STUDENT_ID.in_subquery(subquery(Student::ID).filter(Student::courses().any(Course::TITLE.eq("Math")))));
        let per_course: Vec<(String, i64)> = s
            .query::<Course>()
            .join(Course::students())
            .filter(Student::ID.in_subquery(payers_of_math))
            .group_by((Course::ID, Course::TITLE))
            .order_by(Course::TITLE.asc())
            .select((Course::TITLE, Student::ID.count()))
            .all()
            .unwrap();
        assert_eq!(per_course, [("Math".into(), 2), ("Science".into(), 1)]);
    }
}
