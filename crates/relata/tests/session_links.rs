//! The seed scenario, linking and unlinking pairs from either side of the relationship, and the
//! collection operations (`extend`, `replace`, `clear`, `contains`) and their order; each test
//! runs on a fresh database of every backend: SQLite in memory and in a file, PostgreSQL and
//! MySQL/MariaDB.

#[macro_use]
mod common;

use common::*;
use relata::ObjectState;

// ---------------------------------------------------------------------------------------------
// The seed scenario and links
// ---------------------------------------------------------------------------------------------

backend_test! {
    fn seed_scenario_from_both_sides_after_commit_and_in_a_new_session(t) {
        let mut s = t.db.session();
        let k = seed(&mut s);
        s.commit().unwrap();
        assert_eq!(courses_of(&mut s, k.alice), ["Math", "Science"]);
        assert_eq!(courses_of(&mut s, k.bob), ["Math"]);
        assert_eq!(students_of(&mut s, k.math), ["Alice", "Bob"]);
        assert_eq!(students_of(&mut s, k.science), ["Alice"]);

        // Reloaded from the database, lazily.
        let mut s2 = t.db.session();
        let alice = student_named(&mut s2, "Alice");
        let bob = student_named(&mut s2, "Bob");
        let math = course_titled(&mut s2, "Math");
        let science = course_titled(&mut s2, "Science");
        assert_eq!(courses_of(&mut s2, alice), ["Math", "Science"]);
        assert_eq!(courses_of(&mut s2, bob), ["Math"]);
        assert_eq!(students_of(&mut s2, math), ["Alice", "Bob"]);
        assert_eq!(students_of(&mut s2, science), ["Alice"]);
        // The collections hold the very keys the queries returned.
        assert_eq!(s2.related(Course::students(), math).unwrap(), [alice, bob]);
        assert_eq!(
            s2.related(Student::courses(), alice).unwrap(),
            [math, science]
        );

        // Reloaded eagerly, from both sides.
        let mut s3 = t.db.session();
        let cs = s3
            .query::<Course>()
            .order_by(Course::TITLE.asc())
            .eager(Course::students())
            .all()
            .unwrap();
        let by_course: Vec<Vec<String>> = cs.iter().map(|&c| students_of(&mut s3, c)).collect();
        assert_eq!(by_course, [vec!["Alice", "Bob"], vec!["Alice"]]);
        assert_eq!(contents(&t.db), seed_contents());
    }
}

backend_test! {
    fn links_are_visible_from_both_sides_before_commit(t) {
        let mut s = t.db.session();
        let alice = s.add(student("Alice"));
        let math = s.add(course("Math"));
        let science = s.add(course("Science"));
        assert!(s.related(Student::courses(), alice).unwrap().is_empty());
        assert!(s.link(Student::courses(), alice, math));
        // Linked from the other side: the same set of pairs.
        assert!(s.link(Course::students(), science, alice));
        assert_eq!(courses_of(&mut s, alice), ["Math", "Science"]);
        assert_eq!(students_of(&mut s, math), ["Alice"]);
        assert_eq!(students_of(&mut s, science), ["Alice"]);
        assert!(s.contains(Course::students(), math, alice).unwrap());
        assert!(s.contains(Student::courses(), alice, science).unwrap());
        // Nothing was read or written to show them.
        assert_eq!(s.statements_run(), 0);
        assert_eq!(s.state(alice), ObjectState::New);
        s.commit().unwrap();
        assert_eq!(
            contents(&t.db).pairs,
            pairs(&[("Alice", "Math"), ("Alice", "Science")])
        );
    }
}

backend_test! {
    fn linking_a_linked_pair_is_a_no_op_and_writes_one_row(t) {
        let mut s = t.db.session();
        let alice = s.add(student("Alice"));
        let math = s.add(course("Math"));
        assert!(s.link(Student::courses(), alice, math));
        assert!(!s.link(Student::courses(), alice, math));
        assert!(!s.link(Course::students(), math, alice));
        assert_eq!(s.extend(Student::courses(), alice, [math, math]), 0);
        assert_eq!(courses_of(&mut s, alice), ["Math"]);
        assert_eq!(students_of(&mut s, math), ["Alice"]);
        let pending = pending_sql(&s);
        let pair_inserts: Vec<&String> = pending
            .iter()
            .filter(|l| l.starts_with(r#"INSERT INTO "student_course""#))
            .collect();
        assert_eq!(pair_inserts.len(), 1, "{pending:#?}");
        assert!(
            pair_inserts[0].ends_with("-- [1, 1]"),
            "one pair, (1, 1): {pending:#?}"
        );
        s.commit().unwrap();
        assert_eq!(contents(&t.db).pairs, pairs(&[("Alice", "Math")]));

        // Once stored and loaded, linking again is still a no-op that writes nothing.
        let mut s2 = t.db.session();
        let a = student_named(&mut s2, "Alice");
        let m = course_titled(&mut s2, "Math");
        assert!(s2.contains(Student::courses(), a, m).unwrap());
        assert!(!s2.link(Student::courses(), a, m));
        assert!(!s2.link(Course::students(), m, a));
        assert!(!s2.has_changes());
        assert!(pending_sql(&s2).is_empty());
    }
}

backend_test! {
    fn unlink_then_relink_in_one_session_writes_nothing(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        let alice = student_named(&mut s, "Alice");
        let math = course_titled(&mut s, "Math");
        assert_eq!(courses_of(&mut s, alice), ["Math", "Science"]);
        assert!(s.unlink(Student::courses(), alice, math));
        assert!(s.has_changes());
        assert_eq!(courses_of(&mut s, alice), ["Science"]);
        assert_eq!(students_of(&mut s, math), ["Bob"]);
        let pending = pending_sql(&s);
        assert_eq!(pending.len(), 1, "{pending:#?}");
        assert!(
            pending[0].starts_with(r#"DELETE FROM "student_course""#),
            "{pending:#?}"
        );
        // Unlinking twice changes nothing more.
        assert!(!s.unlink(Course::students(), math, alice));

        s.link(Course::students(), math, alice);
        assert!(!s.has_changes());
        assert!(pending_sql(&s).is_empty());
        assert_eq!(courses_of(&mut s, alice), ["Math", "Science"]);
        assert_eq!(students_of(&mut s, math), ["Alice", "Bob"]);
        let before = s.statements_run();
        s.commit().unwrap();
        assert_eq!(s.statements_run(), before, "an empty commit runs nothing");
        assert_eq!(contents(&t.db), seed_contents());
    }
}

backend_test! {
    fn link_then_unlink_writes_nothing_and_unknown_pairs_end_as_requested(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        let bob = student_named(&mut s, "Bob");
        let science = course_titled(&mut s, "Science");
        // With Bob's courses loaded, the session knows the pair is not stored: linking then
        // unlinking it leaves nothing to do.
        assert_eq!(courses_of(&mut s, bob), ["Math"]);
        assert!(s.link(Student::courses(), bob, science));
        assert!(s.unlink(Student::courses(), bob, science));
        assert!(!s.has_changes());
        assert!(pending_sql(&s).is_empty());
        let before = s.statements_run();
        s.commit().unwrap();
        assert_eq!(s.statements_run(), before);

        // With nothing loaded the pair may be stored, so the unlink must still delete it.
        let mut s = t.db.session();
        let bob = student_named(&mut s, "Bob");
        let science = course_titled(&mut s, "Science");
        assert!(s.link(Student::courses(), bob, science));
        assert!(s.unlink(Student::courses(), bob, science));
        let pending = pending_sql(&s);
        assert_eq!(pending.len(), 1, "{pending:#?}");
        assert!(
            pending[0].starts_with(r#"DELETE FROM "student_course""#),
            "{pending:#?}"
        );
        s.commit().unwrap();
        assert_eq!(contents(&t.db), seed_contents());

        // Collections not loaded: the session cannot know whether the pairs exist, but the end
        // state is what was asked for.
        let mut s = t.db.session();
        let bob = student_named(&mut s, "Bob");
        let science = course_titled(&mut s, "Science");
        let math2 = course_titled(&mut s, "Math");
        s.unlink(Student::courses(), bob, science); // absent in the database
        s.link(Student::courses(), bob, science);
        s.unlink(Student::courses(), bob, math2); // present in the database
        s.link(Student::courses(), bob, math2);
        s.commit().unwrap();
        assert_eq!(
            contents(&t.db).pairs,
            pairs(&[
                ("Alice", "Math"),
                ("Alice", "Science"),
                ("Bob", "Math"),
                ("Bob", "Science")
            ])
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Collection operations
// ---------------------------------------------------------------------------------------------

backend_test! {
    fn clear_replace_extend_and_contains(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        let alice = student_named(&mut s, "Alice");
        let bob = student_named(&mut s, "Bob");
        let math = course_titled(&mut s, "Math");
        let science = course_titled(&mut s, "Science");
        let art = s.add(course("Art"));
        assert!(s.contains(Student::courses(), alice, math).unwrap());
        assert!(!s.contains(Student::courses(), bob, science).unwrap());
        assert!(!s.contains(Student::courses(), alice, art).unwrap());

        assert_eq!(s.extend(Student::courses(), alice, [math, art]), 1);
        assert!(s.contains(Student::courses(), alice, art).unwrap());
        assert!(s.contains(Course::students(), art, alice).unwrap());
        assert_eq!(courses_of(&mut s, alice), ["Math", "Science", "Art"]);

        s.replace(Student::courses(), alice, [art, science])
            .unwrap();
        assert_eq!(courses_of(&mut s, alice), ["Science", "Art"]);
        assert_eq!(students_of(&mut s, math), ["Bob"]);
        assert!(!s.contains(Course::students(), math, alice).unwrap());

        assert_eq!(s.clear(Course::students(), science).unwrap(), 1);
        assert_eq!(courses_of(&mut s, alice), ["Art"]);
        assert!(students_of(&mut s, science).is_empty());
        assert_eq!(s.clear(Course::students(), science).unwrap(), 0);
        s.commit().unwrap();
        assert_eq!(
            contents(&t.db).pairs,
            pairs(&[("Alice", "Art"), ("Bob", "Math")])
        );

        // replace with what is there writes nothing; clear from the student side.
        let mut s = t.db.session();
        let alice = student_named(&mut s, "Alice");
        let bob = student_named(&mut s, "Bob");
        let art = course_titled(&mut s, "Art");
        s.replace(Student::courses(), alice, [art]).unwrap();
        assert!(!s.has_changes());
        assert_eq!(s.clear(Student::courses(), bob).unwrap(), 1);
        assert!(courses_of(&mut s, bob).is_empty());
        s.commit().unwrap();
        assert_eq!(contents(&t.db).pairs, pairs(&[("Alice", "Art")]));
    }
}

backend_test! {
    fn collections_are_ordered_by_the_target_primary_key(t) {
        let mut s = t.db.session();
        s.add_all([course("Zeta"), course("Alpha"), course("Mid")]);
        s.add(student("Sam"));
        s.commit().unwrap();

        let mut s = t.db.session();
        let sam = student_named(&mut s, "Sam");
        let zeta = course_titled(&mut s, "Zeta");
        let alpha = course_titled(&mut s, "Alpha");
        let mid = course_titled(&mut s, "Mid");
        s.extend(Student::courses(), sam, [mid, alpha, zeta]);
        assert_eq!(courses_of(&mut s, sam), ["Zeta", "Alpha", "Mid"]);
        // New objects come last, in the order they were added.
        let beta = s.add(course("Beta"));
        let aardvark = s.add(course("Aardvark"));
        s.link(Student::courses(), sam, aardvark);
        s.link(Student::courses(), sam, beta);
        assert_eq!(
            courses_of(&mut s, sam),
            ["Zeta", "Alpha", "Mid", "Beta", "Aardvark"]
        );
        // The other side too: students of Zeta.
        let zoe = s.add(student("Zoe"));
        let abe = s.add(student("Abe"));
        s.link(Course::students(), zeta, abe);
        s.link(Course::students(), zeta, zoe);
        assert_eq!(students_of(&mut s, zeta), ["Sam", "Zoe", "Abe"]);
        s.commit().unwrap();
        assert_eq!(
            courses_of(&mut s, sam),
            ["Zeta", "Alpha", "Mid", "Beta", "Aardvark"]
        );
        assert_eq!(students_of(&mut s, zeta), ["Sam", "Zoe", "Abe"]);

        // Reloaded, lazily and eagerly.
        let mut s = t.db.session();
        let sam = student_named(&mut s, "Sam");
        assert_eq!(
            courses_of(&mut s, sam),
            ["Zeta", "Alpha", "Mid", "Beta", "Aardvark"]
        );
        let mut s = t.db.session();
        let all = s
            .query::<Student>()
            .filter(Student::NAME.eq("Sam"))
            .eager(Student::courses())
            .all()
            .unwrap();
        assert_eq!(
            courses_of(&mut s, all[0]),
            ["Zeta", "Alpha", "Mid", "Beta", "Aardvark"]
        );
        let zetas = s
            .query::<Course>()
            .filter(Course::TITLE.eq("Zeta"))
            .eager(Course::students())
            .all()
            .unwrap();
        assert_eq!(students_of(&mut s, zetas[0]), ["Sam", "Zoe", "Abe"]);
    }
}
