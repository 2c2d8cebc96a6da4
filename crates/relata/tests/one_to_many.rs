//! Many-to-one and one-to-many relations by a foreign key on the child (`Course.teacher_id`
//! references `Teacher`; the models are in `fk_school/`): the foreign key and its index in the
//! DDL, both relation handles, linking before any commit (a new parent is inserted first and
//! its key filled in), moving a child, clearing a nullable parent, lazy and eager loads both
//! ways, filters, joins and counts across the relation, a missing parent named, rollbacks.
//! Deletes and the self-referential tree are in `one_to_many_deletes.rs`. Ports the one-to-many
//! parts of SQLAlchemy's `test/orm/test_unitofworkv2.py` (`RudimentaryFlushTest`:
//! `test_one_to_many_save`, `test_many_to_one_save`...) where they apply.

mod common;
mod fk_school;

use fk_school::*;
use relata::{schema, ConstraintKind, Error, Session, Sqlite};

backend_test! {
    /// Ports `RudimentaryFlushTest.test_one_to_many_save` (test_unitofworkv2.py): a new parent and new children linked
    /// before the commit: the parent is inserted first and its key fills the children's column.
    fn new_parent_and_children(t, school()) {
        let mut s = t.db.session();
        let ivan = s.add(teacher("Иван"));
        let math = s.add(course("Math"));
        let art = s.add(course("Art"));
        assert!(s.link(Teacher::courses(), ivan, math));
        assert!(s.link(Course::teacher(), art, ivan));
        assert!(!s.link(Course::teacher(), art, ivan), "linking a linked pair is a no-op");
        assert_eq!(titles(&mut s, ivan), ["Art", "Math"], "both sides see it before the commit");
        assert_eq!(s.related(Course::teacher(), math).unwrap(), [ivan]);
        s.commit().unwrap();
        let id = s.id(ivan).unwrap();
        assert_eq!(s[math].teacher_id, Some(id), "the commit filled the key in");
        assert_eq!(rows(&mut s), [("Art".into(), "Иван".into()), ("Math".into(), "Иван".into())]);
        assert!(!s.has_changes());

        // A fresh session reads both ways.
        let mut s = t.db.session();
        let ivan = s.find::<Teacher>(id).unwrap().unwrap();
        assert_eq!(titles(&mut s, ivan), ["Art", "Math"]);
        let art = s.query::<Course>().filter(Course::TITLE.eq("Art")).one().unwrap();
        assert_eq!(s.related(Course::teacher(), art).unwrap(), [ivan]);
    }
}

backend_test! {
    /// Ports `RudimentaryFlushTest.test_many_to_one_save` (test_unitofworkv2.py), then moves: a
    /// stored child linked to another parent moves (one `UPDATE` of its key column); every view
    /// sees it at once; a new session reads it back.
    fn move_a_child(t, school()) {
        let mut s = t.db.session();
        let (ivan, wang, cs) = seed(&mut s);
        let mut s = t.db.session();
        let ivan_k = s.find::<Teacher>(s_id(&t.db, "Иван")).unwrap().unwrap();
        let wang_k = s.find::<Teacher>(s_id(&t.db, "张伟")).unwrap().unwrap();
        let _ = (ivan, wang, cs);
        assert_eq!(titles(&mut s, ivan_k), ["Art", "Math"]);
        let math = s.query::<Course>().filter(Course::TITLE.eq("Math")).one().unwrap();
        // Wang's collection is not loaded: the move must still show there once it is.
        assert!(s.link(Course::teacher(), math, wang_k));
        assert_eq!(titles(&mut s, ivan_k), ["Art"]);
        assert_eq!(titles(&mut s, wang_k), ["Math", "化学"]);
        assert_eq!(s.related(Course::teacher(), math).unwrap(), [wang_k]);
        let sql = common::pending_sql(&s);
        assert_eq!(sql.len(), 1, "{sql:?}");
        assert!(sql[0].starts_with("UPDATE") && sql[0].contains("teacher_id") && !sql[0].contains("title"), "{sql:?}");
        s.commit().unwrap();
        assert_eq!(s[math].teacher_id, s.id(wang_k));
        assert_eq!(rows(&mut s), [("Art".into(), "Иван".into()), ("Math".into(), "张伟".into()), ("化学".into(), "张伟".into())]);

        // Moving back through the other handle, from a parent whose collection is loaded.
        assert!(s.link(Teacher::courses(), ivan_k, math));
        assert!(!s.link(Teacher::courses(), ivan_k, math));
        assert_eq!(titles(&mut s, wang_k), ["化学"]);
        s.commit().unwrap();
        let mut fresh = t.db.session();
        let ivan2 = fresh.find::<Teacher>(s.id(ivan_k).unwrap()).unwrap().unwrap();
        assert_eq!(titles(&mut fresh, ivan2), ["Art", "Math"]);
    }
}

/// The id of the teacher named `name`, read by a session of its own.
fn s_id(db: &relata::Database, name: &str) -> i64 {
    let mut s = db.session();
    let k = s
        .query::<Teacher>()
        .filter(Teacher::NAME.eq(name))
        .one()
        .unwrap();
    s.id(k).unwrap()
}

backend_test! {
    /// Unlinking a nullable many-to-one clears the key (`NULL`); unlinking a parent the child
    /// does not have changes nothing; a `NOT NULL` key left without a parent is refused at the
    /// commit, naming the child, with the database and the session as they were.
    fn unlink_and_not_null(t, school()) {
        let mut s = t.db.session();
        let (ivan, wang, cs) = seed(&mut s);
        assert!(!s.unlink(Teacher::courses(), wang, cs[0]), "not its teacher");
        assert!(s.unlink(Course::teacher(), cs[0], ivan));
        assert!(!s.unlink(Course::teacher(), cs[0], ivan));
        assert_eq!(s.related(Course::teacher(), cs[0]).unwrap(), []);
        assert_eq!(titles(&mut s, ivan), ["Art"]);
        s.commit().unwrap();
        assert_eq!(s[cs[0]].teacher_id, None);
        assert_eq!(rows(&mut s)[1], ("Math".into(), "-".into()));

        let l = s.add(lesson("Limits"));
        s.link(Lesson::course(), l, cs[0]);
        s.commit().unwrap();
        assert_eq!(s[l].course_id, s.id(cs[0]).unwrap());
        s.unlink(Course::lessons(), cs[0], l);
        let err = s.commit().unwrap_err();
        assert!(matches!(err, Error::InvalidKey { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("Limits") && msg.contains("om_lessons.course_id") && msg.contains("NOT NULL"), "{msg}");
        assert_eq!(count(&mut s, "om_lessons"), 1);
        // Still pending: linking it to another course fixes the commit.
        s.link(Lesson::course(), l, cs[1]);
        s.commit().unwrap();
        assert_eq!(s[l].course_id, s.id(cs[1]).unwrap());
    }
}

backend_test! {
    /// Eager loads both ways, in one statement per relation and none per parent (strict mode),
    /// with collections in the declared order (`order_by = "title"`); nested through two
    /// foreign keys (lesson → course → teacher).
    fn eager_both_ways(t, school()) {
        let mut s = t.db.session();
        let (_, _, cs) = seed(&mut s);
        for (c, topic) in [(0, "Limits"), (0, "Series"), (2, "Acids")] {
            let l = s.add(lesson(topic));
            s.link(Lesson::course(), l, cs[c]);
        }
        s.add(teacher("Nobody"));
        s.commit().unwrap();

        let mut s = t.db.session();
        s.set_strict(true);
        let before = s.statements_run();
        let teachers = s.query::<Teacher>().eager(Teacher::courses()).order_by(Teacher::NAME.asc()).all().unwrap();
        assert_eq!(s.statements_run() - before, 2, "the teachers, then all their courses at once");
        let names: Vec<String> = teachers.iter().map(|&k| s[k].name.clone()).collect();
        assert_eq!(names, ["Nobody", "Иван", "张伟"]);
        assert_eq!(titles(&mut s, teachers[0]), Vec::<String>::new());
        assert_eq!(titles(&mut s, teachers[1]), ["Art", "Math"]);
        assert_eq!(titles(&mut s, teachers[2]), ["化学"]);

        let mut s = t.db.session();
        s.set_strict(true);
        let lessons = s.query::<Lesson>().eager(Lesson::course()).order_by(Lesson::TOPIC.asc()).all().unwrap();
        let courses = s.query::<Course>().eager(Course::teacher()).eager(Course::lessons()).order_by(Course::TITLE.asc()).all().unwrap();
        let of = |s: &mut Session, l| s.related(Lesson::course(), l).unwrap().iter().map(|&c| s[c].title.clone()).collect::<Vec<_>>();
        assert_eq!(of(&mut s, lessons[0]), ["化学"]);
        assert_eq!(of(&mut s, lessons[1]), ["Math"]);
        let teacher_of = |s: &mut Session, c| s.related(Course::teacher(), c).unwrap().iter().map(|&k| s[k].name.clone()).collect::<Vec<_>>();
        assert_eq!(teacher_of(&mut s, courses[0]), ["Иван"]);
        assert_eq!(teacher_of(&mut s, courses[2]), ["张伟"]);
        assert_eq!(s.related(Course::lessons(), courses[1]).unwrap().len(), 2);
        assert_eq!(s.related(Course::lessons(), courses[0]).unwrap().len(), 0);
        // Lazy loads are refused in strict mode: every collection above came eagerly.
        let t2 = s.query::<Teacher>().filter(Teacher::NAME.eq("Иван")).one().unwrap();
        assert!(matches!(s.related(Teacher::courses(), t2), Err(Error::LazyLoad { .. })));
    }
}

backend_test! {
    /// Filters, joins and counts across a foreign key, in both directions (`any`, `exists`, a
    /// join, the number of courses per teacher in one statement).
    fn filters_and_counts(t, school()) {
        let mut s = t.db.session();
        seed(&mut s);
        s.add(teacher("Nobody"));
        s.commit().unwrap();
        let mut s = t.db.session();
        let names = |s: &mut Session, keys: Vec<relata::Key<Teacher>>| keys.iter().map(|&k| s[k].name.clone()).collect::<Vec<_>>();
        let math_teachers = s.query::<Teacher>().filter(Teacher::courses().any(Course::TITLE.eq("Math"))).all().unwrap();
        assert_eq!(names(&mut s, math_teachers), ["Иван"]);
        let idle = s.query::<Teacher>().filter(!Teacher::courses().exists()).all().unwrap();
        assert_eq!(names(&mut s, idle), ["Nobody"]);
        let of_wang = s.query::<Course>().filter(Course::teacher().any(Teacher::NAME.eq("张伟"))).all().unwrap();
        assert_eq!(of_wang.len(), 1);
        assert_eq!(s[of_wang[0]].title, "化学");
        let counts: Vec<(String, i64)> = s
            .query::<Teacher>()
            .order_by(Teacher::courses().count().desc())
            .order_by(Teacher::NAME.asc())
            .select((Teacher::NAME, Teacher::courses().count()))
            .all()
            .unwrap();
        assert_eq!(counts, [("Иван".into(), 2), ("张伟".into(), 1), ("Nobody".into(), 0)]);
        let pairs: Vec<(String, String)> = s
            .query::<Course>()
            .join(Course::teacher())
            .order_by(Course::TITLE.asc())
            .select((Course::TITLE, Teacher::NAME))
            .all()
            .unwrap();
        assert_eq!(pairs, [("Art".into(), "Иван".into()), ("Math".into(), "Иван".into()), ("化学".into(), "张伟".into())]);
    }
}

backend_test! {
    /// A child whose foreign key names a parent that does not exist is refused with an
    /// `Error::Constraint` naming the child row, and nothing is written.
    fn missing_parent(t, school()) {
        let mut s = t.db.session();
        let c = s.add(Course { id: None, title: "Ghost".into(), teacher_id: Some(999_999), room_code: None });
        s.add(teacher("Kept?"));
        let err = s.commit().unwrap_err();
        match &err {
            Error::Constraint { kind, row, .. } => {
                assert_eq!(*kind, ConstraintKind::ForeignKey, "{err:?}");
                let row = row.clone().unwrap_or_default();
                assert!(row.contains("999999"), "{err:?}");
                let msg = err.to_string();
                assert!(msg.contains("om_courses") && msg.contains("om_teachers"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(count(&mut s, "om_teachers"), 0);
        assert_eq!(count(&mut s, "om_courses"), 0);
        // Fixed, the same session commits.
        s[c].teacher_id = None;
        s.commit().unwrap();
        assert_eq!(count(&mut s, "om_courses"), 1);
    }
}

backend_test! {
    /// Writing the foreign key field itself moves the child too (SQLAlchemy's "set the column"
    /// way): after the commit every view shows it under its new parent.
    fn direct_field_write(t, school()) {
        let mut s = t.db.session();
        let (ivan, wang, cs) = seed(&mut s);
        assert_eq!(titles(&mut s, ivan), ["Art", "Math"]);
        assert_eq!(titles(&mut s, wang), ["化学"]);
        s[cs[0]].teacher_id = s.id(wang);
        s.commit().unwrap();
        assert_eq!(titles(&mut s, ivan), ["Art"]);
        assert_eq!(titles(&mut s, wang), ["Math", "化学"]);
        assert_eq!(s.related(Course::teacher(), cs[0]).unwrap(), [wang]);
    }
}

backend_test! {
    /// A failed block rolls the database back and leaves its links pending (as every change of
    /// a failed block is): the view and the field show them, the database does not, and the
    /// next commit writes them. `rollback()` puts the field and the views back.
    fn rollback_keeps_then_discards_links(t, school()) {
        let mut s = t.db.session();
        let (ivan, wang, cs) = seed(&mut s);
        let r: Result<(), Error> = s.transaction(|s| {
            s.link(Course::teacher(), cs[0], wang);
            s.flush()?;
            Err(Error::InvalidKey { message: "stop".into() })
        });
        assert!(r.is_err());
        assert_eq!(rows(&mut s)[1], ("Math".into(), "Иван".into()), "the database rolled back");
        assert!(s.has_changes());
        assert_eq!(s.related(Course::teacher(), cs[0]).unwrap(), [wang]);
        s.commit().unwrap();
        assert_eq!(rows(&mut s)[1], ("Math".into(), "张伟".into()));

        let _ = s.savepoint(|s| -> Result<(), Error> {
            s.link(Course::teacher(), cs[2], ivan);
            s.flush()?;
            Err(Error::InvalidKey { message: "undo".into() })
        });
        assert_eq!(titles(&mut s, ivan), ["Art", "化学"]);
        s.rollback();
        assert_eq!(s[cs[2]].teacher_id, s.id(wang), "the field is as stored");
        assert_eq!(titles(&mut s, ivan), ["Art"]);
        assert_eq!(titles(&mut s, wang), ["Math", "化学"]);
        assert!(!s.has_changes());
        s.commit().unwrap();
        assert_eq!(rows(&mut s)[2], ("化学".into(), "张伟".into()));
    }
}

#[test]
fn ddl_has_the_foreign_keys_and_their_indexes() {
    let ddl = school().ddl(&Sqlite).unwrap().join(";\n");
    assert!(
        ddl.contains(
            r#"FOREIGN KEY ("teacher_id") REFERENCES "om_teachers" ("id") ON DELETE SET NULL"#
        ),
        "{ddl}"
    );
    assert!(
        ddl.contains(
            r#"FOREIGN KEY ("course_id") REFERENCES "om_courses" ("id") ON DELETE CASCADE"#
        ),
        "{ddl}"
    );
    assert!(
        ddl.contains(
            r#"FOREIGN KEY ("room_code") REFERENCES "om_rooms" ("code") ON DELETE RESTRICT"#
        ),
        "{ddl}"
    );
    assert!(
        ddl.contains(r#"FOREIGN KEY ("manager_id") REFERENCES "om_employees" ("id")"#),
        "{ddl}"
    );
    assert!(ddl.contains(r#"CREATE INDEX IF NOT EXISTS "om_courses_teacher_id_idx" ON "om_courses" ("teacher_id")"#), "{ddl}");
    // Parents before children.
    let at = |t: &str| {
        ddl.find(&format!("CREATE TABLE IF NOT EXISTS \"{t}\""))
            .unwrap()
    };
    assert!(
        at("om_teachers") < at("om_courses")
            && at("om_rooms") < at("om_courses")
            && at("om_courses") < at("om_lessons")
    );
}

#[test]
fn a_parent_left_out_of_the_schema_is_named() {
    let err = schema![Course, Teacher].ddl(&Sqlite).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Schema { .. }), "{err:?}");
    assert!(
        msg.contains("Course") && msg.contains("Room") && msg.contains("schema!"),
        "{msg}"
    );
}

backend_test! {
    /// Nested eager paths across foreign keys (lesson → course → teacher, and teacher → courses
    /// → lessons): one statement per relation, then nothing more (strict), with a filter and a
    /// limit on the first query (the next level loads only for what the first loaded).
    fn nested_eager_paths(t, school()) {
        let mut s = t.db.session();
        let (_, _, cs) = seed(&mut s);
        for (c, topic) in [(0, "Limits"), (0, "Series"), (1, "Colour"), (2, "Acids")] {
            let l = s.add(lesson(topic));
            s.link(Lesson::course(), l, cs[c]);
        }
        s.commit().unwrap();

        let mut s = t.db.session();
        s.set_strict(true);
        let before = s.statements_run();
        let lessons = s
            .query::<Lesson>()
            .filter(Lesson::TOPIC.ne("Colour"))
            .eager_then(Lesson::course(), Course::teacher())
            .order_by(Lesson::TOPIC.asc())
            .all()
            .unwrap();
        assert_eq!(s.statements_run() - before, 3, "lessons, their courses, those courses' teachers");
        let path = |s: &mut Session, l| {
            let c = s.related(Lesson::course(), l).unwrap()[0];
            let t = s.related(Course::teacher(), c).unwrap()[0];
            (s[c].title.clone(), s[t].name.clone())
        };
        assert_eq!(path(&mut s, lessons[0]), ("化学".into(), "张伟".into()), "Acids");
        assert_eq!(path(&mut s, lessons[1]), ("Math".into(), "Иван".into()), "Limits");
        assert_eq!(path(&mut s, lessons[2]), ("Math".into(), "Иван".into()), "Series");

        let mut s = t.db.session();
        s.set_strict(true);
        let teachers = s
            .query::<Teacher>()
            .eager_then(Teacher::courses(), Course::lessons())
            .order_by(Teacher::NAME.asc())
            .limit(1)
            .all()
            .unwrap();
        assert_eq!(s[teachers[0]].name, "Иван");
        let courses = s.related(Teacher::courses(), teachers[0]).unwrap();
        let topics: Vec<Vec<String>> = courses
            .iter()
            .map(|&c| s.related_objects(Course::lessons(), c).unwrap().map(|l| l.topic.clone()).collect())
            .collect();
        assert_eq!(topics, [vec!["Colour".to_string()], vec!["Limits".into(), "Series".into()]], "Art, then Math");
    }
}
