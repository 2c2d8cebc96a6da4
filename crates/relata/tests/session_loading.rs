//! Loading collections: eager loading, strict mode (a lazy load is an error) and query budgets.
//! Each test runs on a fresh database of every backend: SQLite in memory and in a file,
//! PostgreSQL and MySQL/MariaDB.

#[macro_use]
mod common;

use common::*;
use relata::Error;

// ---------------------------------------------------------------------------------------------
// Eager loading, strict mode and query budgets
// ---------------------------------------------------------------------------------------------

backend_test! {
    fn eager_loading_serves_every_collection_without_further_statements(t) {
        seed_committed(&t.db);
        // The query, then the eager load (the pairs and the targets: one statement on
        // PostgreSQL, two elsewhere).
        let budget = 1 + t.db.dialect().capabilities().eager_load_statements;
        let mut s = t.db.session();
        s.set_strict(true);
        let studs = s
            .query_budget(budget, |s| {
                s.query::<Student>()
                    .order_by(Student::NAME.asc())
                    .eager(Student::courses())
                    .all()
            })
            .unwrap();
        let before = s.statements_run();
        let got = s
            .query_budget(0, |s| {
                let mut out = Vec::new();
                for &st in &studs {
                    let cs = s.related(Student::courses(), st)?;
                    out.push(titles(s, &cs));
                }
                Ok(out)
            })
            .unwrap();
        assert_eq!(got, [vec!["Math", "Science"], vec!["Math"]]);
        assert_eq!(s.statements_run(), before);

        // The other direction.
        let mut s = t.db.session();
        s.set_strict(true);
        let courses = s
            .query_budget(budget, |s| {
                s.query::<Course>()
                    .order_by(Course::TITLE.desc())
                    .eager(Course::students())
                    .all()
            })
            .unwrap();
        let got = s
            .query_budget(0, |s| {
                let mut out = Vec::new();
                for &c in &courses {
                    let ss = s.related(Course::students(), c)?;
                    out.push(names(s, &ss));
                }
                Ok(out)
            })
            .unwrap();
        assert_eq!(got, [vec!["Alice"], vec!["Alice", "Bob"]]);

        // With a filter and a limit: exactly the results' collections are loaded.
        let mut s = t.db.session();
        s.set_strict(true);
        let bob = s
            .query::<Student>()
            .filter(Student::NAME.ne("Alice"))
            .limit(1)
            .eager(Student::courses())
            .all()
            .unwrap();
        assert_eq!(names(&s, &bob), ["Bob"]);
        assert_eq!(courses_of(&mut s, bob[0]), ["Math"]);
        let alice = student_named(&mut s, "Alice");
        assert!(matches!(
            s.related(Student::courses(), alice),
            Err(Error::LazyLoad { .. })
        ));
    }
}

backend_test! {
    fn an_eager_load_with_no_links_reads_no_targets(t) {
        // Students and courses, nobody enrolled: the pairs come back empty, so the courses are
        // not read (two statements on every backend: the query and the pairs, or PostgreSQL's
        // one UNION ALL).
        let mut s = t.db.session();
        s.add_all([student("Алиса"), student("张伟")]);
        s.add_all([course("Math"), course("Science")]);
        s.commit().unwrap();
        let mut s = t.db.session();
        s.set_strict(true);
        let studs = s
            .query_budget(2, |s| {
                s.query::<Student>()
                    .order_by(Student::NAME.asc())
                    .eager(Student::courses())
                    .all()
            })
            .unwrap();
        assert_eq!(names(&s, &studs), ["Алиса", "张伟"]);
        // Loaded (strict mode would refuse a lazy load) and empty.
        for st in studs {
            assert!(s.related(Student::courses(), st).unwrap().is_empty());
        }
    }
}

backend_test! {
    fn lazy_load_in_strict_mode_is_an_error_naming_the_relation(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        s.set_strict(true);
        let alice = student_named(&mut s, "Alice");
        let before = s.statements_run();
        let err = s.related(Student::courses(), alice).unwrap_err();
        match &err {
            Error::LazyLoad { relation, object } => {
                assert_eq!(relation, "Student.courses");
                assert!(object.contains("Alice"), "{object}");
            }
            other => panic!("expected LazyLoad, got {other:?}"),
        }
        assert!(err.to_string().contains("Student.courses"), "{err}");
        assert_eq!(s.statements_run(), before, "nothing ran");
        let math = course_titled(&mut s, "Math");
        let err = s.related(Course::students(), math).unwrap_err();
        assert!(err.to_string().contains("Course.students"), "{err}");
        assert!(matches!(
            s.contains(Course::students(), math, alice),
            Err(Error::LazyLoad { .. })
        ));

        // Out of strict mode the load happens; back in strict mode it is served from memory.
        s.set_strict(false);
        assert_eq!(courses_of(&mut s, alice), ["Math", "Science"]);
        s.set_strict(true);
        assert_eq!(courses_of(&mut s, alice), ["Math", "Science"]);
        // A new object's collection needs no load.
        let new = s.add(student("Nora"));
        assert!(s.related(Student::courses(), new).unwrap().is_empty());
    }
}

backend_test! {
    fn query_budget_failure_lists_the_statements(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        let err = s
            .query_budget(1, |s| {
                let all = s.query::<Student>().order_by(Student::NAME.asc()).all()?;
                for st in all {
                    s.related(Student::courses(), st)?;
                }
                Ok(())
            })
            .unwrap_err();
        match &err {
            Error::QueryBudget { limit, statements } => {
                assert_eq!(*limit, 1);
                assert_eq!(statements.len(), 3, "{statements:#?}");
                assert!(statements[0].contains("students"), "{statements:#?}");
                assert!(
                    statements[1].contains("lazy load of Student.courses"),
                    "{statements:#?}"
                );
                assert!(
                    statements[2].contains("lazy load of Student.courses"),
                    "{statements:#?}"
                );
            }
            other => panic!("expected QueryBudget, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("query budget of 1 exceeded"), "{msg}");
        assert!(msg.contains("3 statements ran"), "{msg}");
        assert!(msg.contains("lazy load of Student.courses"), "{msg}");
        assert!(msg.contains("SELECT"), "{msg}");

        // Within budget: the body's result.
        let mut s = t.db.session();
        let n = s
            .query_budget(3, |s| {
                let all = s.query::<Student>().all()?;
                let mut n = 0;
                for st in all {
                    n += s.related(Student::courses(), st)?.len();
                }
                Ok(n)
            })
            .unwrap();
        assert_eq!(n, 3);
        // Commits count too (BEGIN, the statements, COMMIT).
        let mut s = t.db.session();
        s.add(student("Zed"));
        let err = s.query_budget(1, |s| s.commit()).unwrap_err();
        assert!(matches!(err, Error::QueryBudget { .. }), "{err}");
    }
}

backend_test! {
    /// A nested eager path over a many-to-many (each student's courses, then each course's
    /// students: the classmates) runs a fixed number of statements, whatever the number of
    /// students, and serves every collection on the path without a lazy load.
    fn a_nested_eager_path_reaches_the_classmates(t) {
        seed_committed(&t.db);
        let per_relation = t.db.dialect().capabilities().eager_load_statements;
        let mut s = t.db.session();
        s.set_strict(true);
        let studs = s
            .query_budget(1 + 2 * per_relation, |s| {
                s.query::<Student>()
                    .order_by(Student::NAME.asc())
                    .eager_then(Student::courses(), Course::students())
                    .all()
            })
            .unwrap();
        assert_eq!(names(&s, &studs), ["Alice", "Bob"]);
        let mut classmates: Vec<String> = Vec::new();
        for c in s.related(Student::courses(), studs[1]).unwrap() {
            let of_course = s.related(Course::students(), c).unwrap();
            classmates.extend(names(&s, &of_course));
        }
        classmates.sort();
        assert_eq!(classmates, ["Alice", "Bob"], "Bob takes Math with Alice");
    }
}
