//! Many-to-one and one-to-many relations by a foreign key on the child (`Course.teacher_id`
//! references `Teacher`): the foreign key and its index in the DDL, both relation handles,
//! linking before any commit (a new parent is inserted first and its key filled in), moving a
//! child, clearing a nullable parent, lazy and eager loads both ways, filters across the
//! relation, `ON DELETE` as declared, and a self-referential tree inserted in one commit. Ports
//! the one-to-many parts of SQLAlchemy's `test/orm/test_unitofworkv2.py` (`RudimentaryFlushTest`:
//! `test_one_to_many_save`, `test_many_to_one_save`, `test_one_to_many_delete_parent`...) and
//! `test/orm/test_cascade.py` where they apply.

mod common;

use relata::{schema, ConstraintKind, Error, Model, Schema, Session, Sqlite};

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "om_teachers")]
struct Teacher {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
}

/// A room the school numbers with a code (a chosen text key as a parent).
#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "om_rooms")]
struct Room {
    #[relata(primary_key)]
    code: String,
    seats: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "om_courses")]
struct Course {
    #[relata(primary_key)]
    id: Option<i64>,
    title: String,
    #[relata(references = Teacher, relation = "teacher", inverse = "courses", order_by = "title", on_delete = "set null")]
    teacher_id: Option<i64>,
    #[relata(references = Room, relation = "room", inverse = "courses", on_delete = "restrict")]
    room_code: Option<String>,
}

/// A lesson belongs to one course (NOT NULL) and goes with it.
#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "om_lessons")]
struct Lesson {
    #[relata(primary_key)]
    id: Option<i64>,
    topic: String,
    #[relata(references = Course, relation = "course", inverse = "lessons", on_delete = "cascade")]
    course_id: i64,
}

/// A self-referential many-to-one: each employee's manager.
#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "om_employees")]
struct Employee {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
    #[relata(references = Employee, relation = "manager", inverse = "reports", order_by = "name")]
    manager_id: Option<i64>,
}

fn school() -> Schema {
    schema![Lesson, Course, Teacher, Room, Employee]
}

fn teacher(name: &str) -> Teacher {
    Teacher {
        id: None,
        name: name.into(),
    }
}

fn course(title: &str) -> Course {
    Course {
        id: None,
        title: title.into(),
        teacher_id: None,
        room_code: None,
    }
}

fn lesson(topic: &str) -> Lesson {
    // The course is set by a link before the commit.
    Lesson {
        id: None,
        topic: topic.into(),
        course_id: 0,
    }
}

fn employee(name: &str) -> Employee {
    Employee {
        id: None,
        name: name.into(),
        manager_id: None,
    }
}

fn count(s: &mut Session, table: &str) -> i64 {
    let n: Vec<(i64,)> = s
        .select(&format!("SELECT COUNT(*) FROM {table}"), relata::params![])
        .unwrap();
    n[0].0
}

/// Two teachers, three courses: Ivan teaches Math and Art, Wang teaches 化学.
fn seed(
    s: &mut Session,
) -> (
    relata::Key<Teacher>,
    relata::Key<Teacher>,
    Vec<relata::Key<Course>>,
) {
    let ivan = s.add(teacher("Иван"));
    let wang = s.add(teacher("张伟"));
    let cs: Vec<_> = ["Math", "Art", "化学"]
        .iter()
        .map(|t| s.add(course(t)))
        .collect();
    s.link(Teacher::courses(), ivan, cs[0]);
    s.link(Teacher::courses(), ivan, cs[1]);
    s.link(Teacher::courses(), wang, cs[2]);
    s.commit().unwrap();
    (ivan, wang, cs)
}

/// (course title, teacher name or "-") as the database holds them.
fn rows(s: &mut Session) -> Vec<(String, String)> {
    s.select(
        "SELECT c.title, COALESCE(t.name, '-') FROM om_courses c LEFT JOIN om_teachers t ON t.id = c.teacher_id ORDER BY c.title",
        relata::params![],
    )
    .unwrap()
}

fn titles(s: &mut Session, t: relata::Key<Teacher>) -> Vec<String> {
    s.related_objects(Teacher::courses(), t)
        .unwrap()
        .map(|c| c.title.clone())
        .collect()
}

backend_test! {
    /// Ports `RudimentaryFlushTest.test_one_to_many_save`: a new parent and new children linked
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
    /// Ports `RudimentaryFlushTest.test_many_to_one_save` and the moves of
    /// `test_one_to_many_update`: a stored child linked to another parent moves (one `UPDATE` of
    /// its key column); every view sees it at once; a new session reads it back.
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
        assert!(s.statements_run() - before <= 3, "{}", s.statements_run() - before);
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
    /// `ON DELETE` as declared: deleting a course deletes its lessons (cascade), deleting a
    /// teacher leaves its courses with no teacher (set null), deleting a room courses use is
    /// refused (restrict) with an `Error::Constraint` and the database unchanged. Ports
    /// `test_cascade.py`'s database-side (`passive_deletes`) cases.
    fn on_delete(t, school()) {
        let mut s = t.db.session();
        let (ivan, _, cs) = seed(&mut s);
        let r = s.add(Room { code: "R-101".into(), seats: 30 });
        s.link(Room::courses(), r, cs[1]);
        let l = s.add(lesson("Limits"));
        s.link(Lesson::course(), l, cs[0]);
        s.commit().unwrap();
        assert_eq!(s[cs[1]].room_code.as_deref(), Some("R-101"), "a text key fills the column");

        s.delete(cs[0]);
        s.commit().unwrap();
        assert_eq!(count(&mut s, "om_lessons"), 0);

        s.delete(ivan);
        s.commit().unwrap();
        assert_eq!(rows(&mut s), [("Art".into(), "-".into()), ("化学".into(), "张伟".into())]);

        s.delete(r);
        let err = s.commit().unwrap_err();
        match &err {
            Error::Constraint { kind, table, .. } => {
                assert_eq!(*kind, ConstraintKind::ForeignKey, "{err:?}");
                assert!(table.contains("om_rooms") || table.contains("om_courses"), "{err:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(count(&mut s, "om_rooms"), 1);
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
    /// Ports `test_unitofworkv2.py`'s `SingleCycleTest.test_one_to_many_save`: a tree of new
    /// employees linked to new managers of the same table, inserted in one commit (managers
    /// in a batch before their reports); a cycle of new objects is refused with a clear error.
    fn self_referential_tree(t, school()) {
        let mut s = t.db.session();
        let ceo = s.add(employee("Ada"));
        let cto = s.add(employee("Brian"));
        let devs: Vec<_> = ["Chen", "Дмитрий", "Eve"].iter().map(|n| s.add(employee(n))).collect();
        // Children first, to show the order comes from the links, not from `add`.
        for &d in &devs {
            s.link(Employee::manager(), d, cto);
        }
        s.link(Employee::reports(), ceo, cto);
        assert_eq!(s.related(Employee::reports(), cto).unwrap().len(), 3);
        s.commit().unwrap();
        let pairs: Vec<(String, String)> = s
            .select(
                "SELECT e.name, COALESCE(m.name, '-') FROM om_employees e LEFT JOIN om_employees m ON m.id = e.manager_id ORDER BY e.id",
                relata::params![],
            )
            .unwrap();
        let mut pairs = pairs;
        pairs.sort();
        assert_eq!(pairs, [
            ("Ada".into(), "-".into()),
            ("Brian".into(), "Ada".into()),
            ("Chen".into(), "Brian".into()),
            ("Eve".into(), "Brian".into()),
            ("Дмитрий".into(), "Brian".into()),
        ]);
        let mut fresh = t.db.session();
        let brian = fresh.query::<Employee>().filter(Employee::NAME.eq("Brian")).one().unwrap();
        let reports: Vec<String> = fresh.related_objects(Employee::reports(), brian).unwrap().map(|e| e.name.clone()).collect();
        assert_eq!(reports, ["Chen", "Eve", "Дмитрий"]);
        let bosses = fresh.query::<Employee>().filter(Employee::reports().exists()).order_by(Employee::NAME.asc()).all().unwrap();
        assert_eq!(bosses.len(), 2);

        // A cycle among new objects cannot be inserted.
        let a = s.add(employee("X"));
        let b = s.add(employee("Y"));
        s.link(Employee::manager(), a, b);
        s.link(Employee::manager(), b, a);
        let err = s.commit().unwrap_err();
        assert!(err.to_string().contains("cycle"), "{err}");
        assert_eq!(count(&mut s, "om_employees"), 5);
        s.unlink(Employee::manager(), b, a);
        s.commit().unwrap();
        assert_eq!(count(&mut s, "om_employees"), 7);
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
    /// What the foreign keys do on delete is done in the session too, before the commit: deleting
    /// a course deletes the lessons the session holds (`cascade`: they are deleted objects at
    /// once, and the plan deletes them before the course), deleting a teacher unlinks its
    /// courses (`set null`: their teacher is gone from every view, and the commit writes the
    /// `NULL` itself). Ports `test_cascade.py`'s `O2MCascadeDeleteOrphanTest.test_cascade_delete`
    /// and `M2OCascadeDeleteNoOrphanTest`-style checks of the session state.
    fn cascades_in_the_session(t, school()) {
        let mut s = t.db.session();
        let (ivan, wang, cs) = seed(&mut s);
        let lessons: Vec<_> = ["Limits", "Series"].iter().map(|n| s.add(lesson(n))).collect();
        for &l in &lessons {
            s.link(Lesson::course(), l, cs[0]);
        }
        s.commit().unwrap();

        s.delete(cs[0]);
        for &l in &lessons {
            assert_eq!(s.state(l), relata::ObjectState::Deleted, "the lessons go with their course");
        }
        assert_eq!(titles(&mut s, ivan), ["Art"], "the course left its teacher's collection");
        s.delete(ivan);
        assert_eq!(s.related(Course::teacher(), cs[1]).unwrap(), [], "set null: no teacher now");
        assert_eq!(s[cs[1]].teacher_id, s.id(ivan), "the field changes when the commit writes it");
        s.commit().unwrap();
        assert_eq!(s[cs[1]].teacher_id, None);
        assert_eq!(count(&mut s, "om_lessons"), 0);
        assert_eq!(rows(&mut s), [("Art".into(), "-".into()), ("化学".into(), "张伟".into())]);
        for &l in &lessons {
            assert_eq!(s.state(l), relata::ObjectState::Detached);
        }

        // A new child of a new parent deleted before the commit goes too (cascade), and a
        // rollback brings everything back.
        let c = s.add(course("Draft"));
        let l = s.add(lesson("Intro"));
        s.link(Lesson::course(), l, c);
        s.delete(c);
        assert_eq!(s.state(l), relata::ObjectState::Detached);
        s.delete(wang);
        assert_eq!(s.related(Course::teacher(), cs[2]).unwrap(), []);
        s.rollback();
        assert_eq!(s.related(Course::teacher(), cs[2]).unwrap(), [wang]);
        s.commit().unwrap();
        assert_eq!(rows(&mut s), [("Art".into(), "-".into()), ("化学".into(), "张伟".into())]);
    }
}
