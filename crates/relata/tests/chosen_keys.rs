//! Primary keys the application chooses (text codes, UUIDs, its own integers) on every backend,
//! alone and as association ends next to generated keys: inserts, links both ways, lazy and
//! eager loads, filters across the relation, updates, deletes (with their pairs), row switches,
//! duplicates named, upserts, keyset pages and the native column types. Ports the intent of
//! SQLAlchemy's `test/orm/test_naturalpks.py` (`NaturalPKTest.test_manytomany`,
//! `test_onetomany_passive`'s setup with string keys) for what relata allows: a stored key never
//! changes (SQLAlchemy's `passive_updates` cascades of a changed key are refused here instead).

mod common;

use relata::{params, schema, Association, ConstraintKind, Error, Model, Schema, Session};
use uuid::Uuid;

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "ck_students")]
struct Student {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "ck_courses")]
struct Course {
    #[relata(primary_key)]
    code: String,
    title: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "ck_badges")]
struct Badge {
    #[relata(primary_key)]
    id: Uuid,
    label: String,
}

/// A room numbered by the school, not by the database.
#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "ck_rooms")]
struct Room {
    #[relata(primary_key)]
    number: i64,
    name: String,
}

/// A generated key on one end, a text key on the other.
#[derive(Association)]
#[relata(table = "ck_enrollment")]
struct Enrollment {
    #[relata(references = Student, relation = "courses")]
    student_id: i64,
    #[relata(references = Course, relation = "students")]
    course_code: String,
}

/// Text and UUID ends.
#[derive(Association)]
#[relata(table = "ck_course_badges")]
struct CourseBadge {
    #[relata(references = Course, relation = "badges")]
    course_code: String,
    #[relata(references = Badge, relation = "courses")]
    badge_id: Uuid,
}

/// Two text ends on one model (on MySQL, two text keys in one index).
#[derive(Association)]
#[relata(table = "ck_prerequisites")]
struct Prerequisite {
    #[relata(references = Course, relation = "prerequisites")]
    course_code: String,
    #[relata(references = Course, relation = "required_by")]
    required_code: String,
}

/// Rooms and courses: a chosen integer key next to a text key.
#[derive(Association)]
#[relata(table = "ck_course_rooms")]
struct CourseRoom {
    #[relata(references = Course, relation = "rooms")]
    course_code: String,
    #[relata(references = Room, relation = "courses")]
    room_number: i64,
}

fn school() -> Schema {
    schema![
        Student,
        Course,
        Badge,
        Room,
        Enrollment,
        CourseBadge,
        Prerequisite,
        CourseRoom
    ]
}

fn course(code: &str, title: &str) -> Course {
    Course {
        code: code.into(),
        title: title.into(),
    }
}

fn student(name: &str) -> Student {
    Student {
        id: None,
        name: name.into(),
    }
}

/// The enrollment pairs as the database holds them: (student name, course code).
fn enrollments(s: &mut Session) -> Vec<(String, String)> {
    s.select(
        "SELECT s.name, e.course_code FROM ck_enrollment e JOIN ck_students s ON s.id = e.student_id ORDER BY s.name, e.course_code",
        params![],
    )
    .unwrap()
}

fn titles(s: &mut Session, keys: &[relata::Key<Course>]) -> Vec<String> {
    keys.iter().map(|&k| s[k].title.clone()).collect()
}

backend_test! {
    /// Ports `NaturalPKTest.test_manytomany`: objects with chosen keys are linked before any
    /// commit, inserted first, and their pairs carry the keys themselves, in any script.
    fn link_by_text_keys(t, school()) {
        let mut s = t.db.session();
        let alice = s.add(student("Алиса"));
        let bob = s.add(student("Bob"));
        let math = s.add(course("MATH101", "Math"));
        let chinese = s.add(course("中文", "汉语"));
        s.link(Student::courses(), alice, math);
        s.link(Student::courses(), alice, chinese);
        s.link(Course::students(), math, bob);
        assert_eq!(s.id(math).as_deref(), Some("MATH101"), "a chosen key is known before the commit");
        assert_eq!(s.id(alice), None);
        s.commit().unwrap();
        assert_eq!(
            enrollments(&mut s),
            [
                ("Bob".to_owned(), "MATH101".to_owned()),
                ("Алиса".to_owned(), "MATH101".to_owned()),
                ("Алиса".to_owned(), "中文".to_owned()),
            ]
        );

        // A fresh session walks both ways, lazily.
        let mut s = t.db.session();
        let math = s.find::<Course>("MATH101").unwrap().expect("stored");
        assert_eq!(s[math].title, "Math");
        let mut names: Vec<String> = s.related_objects(Course::students(), math).unwrap().map(|st| st.name.clone()).collect();
        names.sort();
        assert_eq!(names, ["Bob", "Алиса"]);
        let alice = s.query::<Student>().filter(Student::NAME.eq("Алиса")).one().unwrap();
        let courses = s.related(Student::courses(), alice).unwrap();
        // A collection comes in its targets' key order: byte order of the codes.
        assert_eq!(titles(&mut s, &courses), ["Math", "汉语"]);
        assert_eq!(s.find::<Course>("MATH101").unwrap(), Some(math), "from the identity map");
        assert_eq!(s.find::<Course>("math101").unwrap(), None, "keys compare exactly");

        // Filters across the relation name the key column.
        let of_chinese = s
            .query::<Student>()
            .filter(Student::courses().any(Course::CODE.eq("中文")))
            .all()
            .unwrap();
        assert_eq!(of_chinese, [alice]);
    }
}

backend_test! {
    /// Eager loads of collections whose targets (or parents) have text keys: one statement per
    /// relation, no lazy load (strict), on both sides and on a self-referential relation.
    fn eager_loads(t, school()) {
        let mut s = t.db.session();
        let (a, b) = (s.add(student("A")), s.add(student("B")));
        let cs: Vec<_> = ["C3", "C1", "C2"].iter().map(|c| s.add(course(c, &format!("title {c}")))).collect();
        s.extend(Student::courses(), a, cs.clone());
        s.link(Student::courses(), b, cs[1]);
        s.link(Course::prerequisites(), cs[0], cs[1]);
        s.link(Course::prerequisites(), cs[0], cs[2]);
        s.commit().unwrap();

        let mut s = t.db.session();
        s.set_strict(true);
        let students = s.query::<Student>().eager(Student::courses()).order_by(Student::NAME.asc()).all().unwrap();
        let codes = |s: &mut Session, k| -> Vec<String> {
            let keys = s.related(Student::courses(), k).unwrap();
            keys.iter().map(|&c| s[c].code.clone()).collect()
        };
        assert_eq!(codes(&mut s, students[0]), ["C1", "C2", "C3"]);
        assert_eq!(codes(&mut s, students[1]), ["C1"]);

        let courses = s.query::<Course>().eager(Course::students()).eager(Course::prerequisites()).order_by(Course::CODE.asc()).all().unwrap();
        assert_eq!(courses.iter().map(|&c| s[c].code.clone()).collect::<Vec<_>>(), ["C1", "C2", "C3"]);
        assert_eq!(s.related(Course::students(), courses[0]).unwrap().len(), 2);
        let pre = s.related(Course::prerequisites(), courses[2]).unwrap();
        assert_eq!(pre, [courses[0], courses[1]]);
        assert!(s.related(Course::prerequisites(), courses[0]).unwrap().is_empty());
    }
}

backend_test! {
    /// A title changes by an UPDATE keyed by the code; a deleted course takes its pairs along
    /// (deleted by code); changing a stored key is refused, naming the row, and the session
    /// stays usable.
    fn update_and_delete(t, school()) {
        let mut s = t.db.session();
        let alice = s.add(student("Alice"));
        let math = s.add(course("M", "Math"));
        let art = s.add(course("A", "Art"));
        s.extend(Student::courses(), alice, [math, art]);
        s.link(Course::prerequisites(), art, math);
        s.commit().unwrap();

        s[math].title = "Mathematics".into();
        s.commit().unwrap();
        let titles: Vec<(String, String)> = s.select("SELECT code, title FROM ck_courses ORDER BY code", params![]).unwrap();
        assert_eq!(titles, [("A".to_owned(), "Art".to_owned()), ("M".to_owned(), "Mathematics".to_owned())]);

        s.delete(math);
        s.commit().unwrap();
        assert_eq!(enrollments(&mut s), [("Alice".to_owned(), "A".to_owned())]);
        let pre: Vec<i64> = s.select("SELECT COUNT(*) FROM ck_prerequisites", params![]).unwrap();
        assert_eq!(pre, [0]);
        assert_eq!(s.related(Student::courses(), alice).unwrap(), [art]);

        s[art].code = "ART".into();
        match s.commit() {
            Err(Error::InvalidKey { message }) => assert!(message.contains("\"A\"") && message.contains("ART"), "{message}"),
            other => panic!("expected InvalidKey, got {other:?}"),
        }
        s[art].code = "A".into();
        s.commit().unwrap();
    }
}

backend_test! {
    /// Two new objects with one key: the database rejects the second, the error names it, the
    /// database holds what it held, and the session can fix it and commit.
    fn duplicate_key_named(t, school()) {
        let mut s = t.db.session();
        s.add(course("X", "first"));
        s.commit().unwrap();
        let dup = s.add(course("X", "second"));
        let alice = s.add(student("Alice"));
        s.link(Student::courses(), alice, dup);
        match s.commit().unwrap_err() {
            Error::Constraint { kind, table, row, .. } => {
                assert_eq!(kind, ConstraintKind::PrimaryKey);
                assert_eq!(table, "ck_courses");
                assert!(row.as_deref().unwrap_or("").contains("\"X\""), "{row:?}");
            }
            other => panic!("expected a primary key violation, got {other:?}"),
        }
        let n: Vec<i64> = s.select("SELECT COUNT(*) FROM ck_students", params![]).unwrap();
        assert_eq!(n, [0], "nothing of the failed commit landed");
        s[dup].code = "Y".into();
        s.commit().unwrap();
        assert_eq!(enrollments(&mut s), [("Alice".to_owned(), "Y".to_owned())]);
    }
}

backend_test! {
    /// Deleting an object and adding another with its key in one commit is an UPDATE of the row
    /// (a row switch): the old object's pairs go, the new one's come.
    fn row_switch(t, school()) {
        let mut s = t.db.session();
        let alice = s.add(student("Alice"));
        let old = s.add(course("K", "old"));
        s.link(Student::courses(), alice, old);
        s.commit().unwrap();
        s.delete(old);
        let new = s.add(course("K", "new"));
        let bob = s.add(student("Bob"));
        s.link(Student::courses(), bob, new);
        s.commit().unwrap();
        assert_eq!(enrollments(&mut s), [("Bob".to_owned(), "K".to_owned())]);
        let rows: Vec<(String, String)> = s.select("SELECT code, title FROM ck_courses", params![]).unwrap();
        assert_eq!(rows, [("K".to_owned(), "new".to_owned())]);
        assert_eq!(s.find::<Course>("K").unwrap(), Some(new));
    }
}

backend_test! {
    /// UUID keys as an association end with a text key: stored natively (read back as UUIDs by
    /// the raw driver), linked, unlinked, found.
    fn uuid_ends(t, school()) {
        let mut s = t.db.session();
        let ids = [Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef), Uuid::from_u128(7)];
        let gold = s.add(Badge { id: ids[0], label: "gold".into() });
        let blue = s.add(Badge { id: ids[1], label: "blue".into() });
        let math = s.add(course("M", "Math"));
        s.extend(Course::badges(), math, [gold, blue]);
        s.commit().unwrap();
        s.unlink(Course::badges(), math, gold);
        s.commit().unwrap();
        let pairs: Vec<(String, Uuid)> = s.select("SELECT course_code, badge_id FROM ck_course_badges", params![]).unwrap();
        assert_eq!(pairs, [("M".to_owned(), ids[1])]);

        let mut s = t.db.session();
        let blue = s.find::<Badge>(ids[1]).unwrap().expect("stored");
        assert_eq!(s.id(blue), Some(ids[1]));
        let courses = s.related(Badge::courses(), blue).unwrap();
        assert_eq!(titles(&mut s, &courses), ["Math"]);
        let gold = s.find::<Badge>(ids[0]).unwrap().expect("stored");
        assert!(s.related(Badge::courses(), gold).unwrap().is_empty());
    }
}

backend_test! {
    /// Integer keys the application numbers: inserted as given (no generator involved), linked
    /// to text keys, found by number; a generated key next to them still counts from 1.
    fn chosen_integer_keys(t, school()) {
        let mut s = t.db.session();
        let r = s.add(Room { number: 204, name: "Lab".into() });
        let m = s.add(course("M", "Math"));
        s.link(Course::rooms(), m, r);
        let alice = s.add(student("Alice"));
        s.commit().unwrap();
        assert_eq!(s.id(alice), Some(1));
        let mut s = t.db.session();
        let r = s.find::<Room>(204).unwrap().expect("stored");
        assert_eq!(s.id(r), Some(204));
        let courses = s.related(Room::courses(), r).unwrap();
        assert_eq!(titles(&mut s, &courses), ["Math"]);
    }
}

backend_test! {
    /// Upsert on a chosen key, and keyset pages ordered by it.
    fn upsert_and_pages(t, school()) {
        let mut s = t.db.session();
        let a = s.upsert(Course::CODE, course("A", "first")).unwrap();
        let again = s.upsert(Course::CODE, course("A", "second")).unwrap();
        assert_eq!(a, again);
        assert_eq!(s[a].title, "second");
        s.upsert_all(Course::CODE, (0..25).map(|i| course(&format!("K{i:02}"), "k"))).unwrap();
        let (mut after, mut seen) = (None, Vec::new());
        loop {
            let page = s.query::<Course>().order_by(Course::TITLE.asc()).keyset(after.as_ref(), 10).unwrap();
            seen.extend(page.items.iter().map(|&k| s[k].code.clone()));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut expected: Vec<String> = (0..25).map(|i| format!("K{i:02}")).collect();
        expected.push("A".into());
        assert_eq!(seen, expected, "ordered by title, then by key");
    }
}

backend_test! {
    /// A flush inside a transaction block that rolls back: the new objects are new again, and a
    /// second commit writes them and their pairs.
    fn rolled_back_flush(t, school()) {
        let mut s = t.db.session();
        let alice = s.add(student("Alice"));
        let math = s.add(course("M", "Math"));
        s.link(Student::courses(), alice, math);
        let failed: Result<(), Error> = s.transaction(|s| {
            s.flush()?;
            Err(Error::InvalidArgument { message: "stop".into() })
        });
        assert!(failed.is_err());
        s.commit().unwrap();
        assert_eq!(enrollments(&mut s), [("Alice".to_owned(), "M".to_owned())]);
    }
}
