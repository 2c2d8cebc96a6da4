//! Deletes across foreign keys: `ON DELETE` as declared (cascade, set null, restrict) in the
//! database and in the session (children the session holds are deleted or unlinked at once),
//! and a self-referential tree inserted in one commit. Ports test_cascade.py and
//! test_unitofworkv2.py (`RudimentaryFlushTest`, `SingleCycleTest`) where they apply, each test
//! naming its source.

mod common;
mod fk_school;

use fk_school::*;
use relata::{ConstraintKind, Error, Session};

backend_test! {
    /// `ON DELETE` as declared: deleting a course deletes its lessons (cascade), deleting a
    /// teacher leaves its courses with no teacher (set null), deleting a room courses use is
    /// refused (restrict) with an `Error::Constraint` and the database unchanged. Ports
    /// test_unitofwork.py's `PassiveDeletesTest.test_basic` (a foreign key `ON DELETE CASCADE`
    /// removes the children with their parent).
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
        // A batch per generation: Ada, then Brian with Ada's key, then the three with his.
        let sql = common::pending_sql(&s).join("\n");
        let at = |name: &str| sql.find(&format!("\"{name}\"")).unwrap_or_else(|| panic!("{name}: {sql}"));
        assert!(at("Ada") < at("Brian") && at("Brian") < at("Chen") && at("Brian") < at("Eve"), "{sql}");
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

        // Eager both ways on the one table, strict: no lazy load after.
        let mut fresh = t.db.session();
        fresh.set_strict(true);
        let all = fresh.query::<Employee>().eager(Employee::reports()).eager(Employee::manager()).order_by(Employee::NAME.asc()).all().unwrap();
        let names = |s: &mut Session, keys: Vec<relata::Key<Employee>>| keys.iter().map(|&k| s[k].name.clone()).collect::<Vec<_>>();
        let ada = all[0];
        let of_ada = fresh.related(Employee::reports(), ada).unwrap();
        assert_eq!(names(&mut fresh, of_ada.clone()), ["Brian"]);
        let of_brian = fresh.related(Employee::reports(), of_ada[0]).unwrap();
        assert_eq!(names(&mut fresh, of_brian), ["Chen", "Eve", "Дмитрий"]);
        assert_eq!(fresh.related(Employee::manager(), ada).unwrap(), []);
        let boss = fresh.related(Employee::manager(), all[2]).unwrap();
        assert_eq!(names(&mut fresh, boss), ["Brian"], "Chen's manager");

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
    /// What the foreign keys do on delete is done in the session too, before the commit: deleting
    /// a course deletes the lessons the session holds (`cascade`: they are deleted objects at
    /// once, and the plan deletes them before the course), deleting a teacher unlinks its
    /// courses (`set null`: their teacher is gone from every view, and the commit writes the
    /// `NULL` itself, before the parent's `DELETE`). Ports test_unitofworkv2.py's
    /// `RudimentaryFlushTest.test_one_to_many_delete_parent` (the children's keys set to `NULL`,
    /// then the parent deleted) and test_cascade.py's `O2MCascadeDeleteOrphanTest.test_delete`
    /// (the children go with their parent), with the session's state checked too.
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

backend_test! {
    /// `delete_orphans`: a chapter unlinked from its course is deleted (at once in the session,
    /// by the commit in the database); one moved to another course is not; deleting a course
    /// deletes its chapters in the session although the foreign key says nothing on delete.
    /// Ports test_cascade.py's `O2MCascadeDeleteOrphanTest.test_collection_orphans` (a child
    /// removed from its parent's collection is deleted) and `test_delete` where they apply.
    fn delete_orphans(t, school()) {
        let mut s = t.db.session();
        let (_, _, cs) = seed(&mut s);
        let ch: Vec<_> = ["Limits", "Series", "Proofs"].iter().map(|h| s.add(chapter(h))).collect();
        for &c in &ch {
            s.link(Chapter::course(), c, cs[0]);
        }
        s.commit().unwrap();

        assert!(s.unlink(Course::chapters(), cs[0], ch[0]));
        assert_eq!(s.state(ch[0]), relata::ObjectState::Deleted, "an orphan is deleted at once");
        assert!(s.link(Course::chapters(), cs[1], ch[1]), "a move is no orphan");
        assert_eq!(s.state(ch[1]), relata::ObjectState::Persistent);
        assert_eq!(s.related(Course::chapters(), cs[0]).unwrap(), [ch[2]]);
        s.commit().unwrap();
        assert_eq!(count(&mut s, "om_chapters"), 2);

        s.delete(cs[0]);
        assert_eq!(s.state(ch[2]), relata::ObjectState::Deleted, "a parent's orphans go with it");
        s.commit().unwrap();
        assert_eq!(count(&mut s, "om_chapters"), 1);
        let left: Vec<(String,)> = s.select("SELECT heading FROM om_chapters", relata::params![]).unwrap();
        assert_eq!(left, [("Series".to_string(),)]);
    }
}

/// Two models that reference each other (each author's favourite book, each book's author).
mod cycle {
    use relata::Model;

    #[derive(Model, Debug)]
    #[relata(table = "cy_authors")]
    pub struct Author {
        #[relata(primary_key)]
        pub id: Option<i64>,
        pub name: String,
        #[relata(references = Book, relation = "favorite", inverse = "fans")]
        pub favorite_id: Option<i64>,
    }

    #[derive(Model, Debug)]
    #[relata(table = "cy_books")]
    pub struct Book {
        #[relata(primary_key)]
        pub id: Option<i64>,
        pub title: String,
        #[relata(references = Author, relation = "author", inverse = "books")]
        pub author_id: Option<i64>,
    }

    /// Each needs the other (NOT NULL both ways): no row could ever be inserted first.
    #[derive(Model, Debug)]
    #[relata(table = "cy_chickens")]
    pub struct Chicken {
        #[relata(primary_key)]
        pub id: Option<i64>,
        #[relata(references = Egg, relation = "egg", inverse = "hatched")]
        pub egg_id: i64,
    }

    #[derive(Model, Debug)]
    #[relata(table = "cy_eggs")]
    pub struct Egg {
        #[relata(primary_key)]
        pub id: Option<i64>,
        #[relata(references = Chicken, relation = "chicken", inverse = "laid")]
        pub chicken_id: i64,
    }
}

backend_test! {
    /// Tables that reference each other by nullable keys are created (the closing key added once
    /// both exist, where the database needs it), and again without error; new objects that
    /// reference each other in one commit are refused naming both models (as SQLAlchemy's
    /// `CircularDependencyError` without `post_update`), and two commits do it; deleting both
    /// works once one no longer references the other. NOT NULL keys in a cycle are refused by
    /// the schema, naming the tables.
    fn models_that_reference_each_other(t, relata::schema![cycle::Author, cycle::Book]) {
        use cycle::{Author, Book, Chicken, Egg};
        let err = relata::schema![Chicken, Egg].ddl(&relata::Sqlite).unwrap_err();
        assert!(matches!(err, Error::Schema { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("cycle") && msg.contains("cy_chickens") && msg.contains("cy_eggs") && msg.contains("Option"), "{msg}");

        t.db.create_all(&relata::schema![Author, Book]).expect("create_all again changes nothing");
        // Every statement of the DDL runs again without error: the closing key is added only if
        // it is not there (PostgreSQL's DO block, MariaDB's IF NOT EXISTS).
        for sql in relata::schema![Author, Book].ddl(t.db.dialect()).unwrap() {
            t.db.execute_batch(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let mut s = t.db.session();
        let a = s.add(Author { id: None, name: "Лев".into(), favorite_id: None });
        let b = s.add(Book { id: None, title: "Война и мир".into(), author_id: None });
        s.link(Book::author(), b, a);
        s.link(Author::favorite(), a, b);
        let err = s.commit().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("Author") && msg.contains("Book") && msg.contains("commit one of them"), "{msg}");
        s.unlink(Author::favorite(), a, b);
        s.commit().unwrap();
        s.link(Author::favorite(), a, b);
        s.commit().unwrap();
        assert_eq!(s[a].favorite_id, s.id(b));
        assert_eq!(s.related(Book::fans(), b).unwrap(), [a]);

        // The database holds both keys: a book that is no one's is refused.
        let ghost = s.add(Author { id: None, name: "ghost".into(), favorite_id: Some(999_999) });
        let err = s.commit().unwrap_err();
        assert!(matches!(err, Error::Constraint { kind: relata::ConstraintKind::ForeignKey, .. }), "{err:?}");
        s.delete(ghost);

        // Deleting both in one commit: neither can go first (each references the other).
        s.delete(a);
        s.delete(b);
        let msg = s.commit().unwrap_err().to_string();
        assert!(msg.contains("deleted in one commit") && msg.contains("Author"), "{msg}");
        s.rollback();
        s.unlink(Author::favorite(), a, b);
        s.commit().unwrap();
        s.delete(a);
        s.delete(b);
        s.commit().unwrap();
    }
}
