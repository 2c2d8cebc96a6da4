//! Keys, ids and the identity map; modifying and deleting objects (only the changed columns are
//! written, links go with a deleted object); and rolling pending changes back. Each test runs on
//! a fresh database of every backend: SQLite in memory and in a file, PostgreSQL and
//! MySQL/MariaDB.

#[macro_use]
mod common;

use common::members::*;
use common::*;
use relata::{schema, Error, Key, ObjectState};

// ---------------------------------------------------------------------------------------------
// Keys, ids and the identity map
// ---------------------------------------------------------------------------------------------

backend_test! {
    fn keys_are_stable_and_ids_are_assigned_at_commit(t) {
        let mut s = t.db.session();
        let a = s.add(student("A"));
        let more = s.add_all([student("B"), student("C")]);
        assert_eq!(more.len(), 2);
        assert_ne!(more[0], more[1]);
        for &k in [a].iter().chain(&more) {
            assert_eq!(s.id(k), None);
            assert_eq!(s[k].id, None);
            assert_eq!(s.state(k), ObjectState::New);
        }
        s.commit().unwrap();
        let ids: Vec<i64> = [a, more[0], more[1]]
            .iter()
            .map(|&k| s.id(k).expect("id after commit"))
            .collect();
        assert!(ids[0] < ids[1] && ids[1] < ids[2], "{ids:?}");
        assert_eq!(s[a].id, Some(ids[0]));
        assert_eq!(s[a].name, "A");
        assert_eq!(names(&s, &more), ["B", "C"]);
        for &k in [a].iter().chain(&more) {
            assert_eq!(s.state(k), ObjectState::Persistent);
        }
        // Finding by id gives back the same key; so do queries.
        assert_eq!(s.find::<Student>(ids[1]).unwrap(), Some(more[0]));
        assert_eq!(s.query::<Student>().all().unwrap(), [a, more[0], more[1]]);
        assert_eq!(student_named(&mut s, "C"), more[1]);
        assert_eq!(s.find::<Student>(ids[2] + 100).unwrap(), None);

        // A new session: one row is one key, whatever path reaches it.
        let mut s2 = t.db.session();
        let b = s2.find::<Student>(ids[1]).unwrap().expect("B is stored");
        assert_eq!(s2[b].name, "B");
        assert_eq!(s2.id(b), Some(ids[1]));
        assert_eq!(s2.find::<Student>(ids[1]).unwrap(), Some(b));
        assert_eq!(student_named(&mut s2, "B"), b);
        let all = s2
            .query::<Student>()
            .order_by(Student::NAME.desc())
            .all()
            .unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[1], b);
        let again = s2.query::<Student>().all().unwrap();
        assert_eq!(again, [all[2], all[1], all[0]]);
    }
}

backend_test! {
    fn identity_map_one_row_one_key_across_queries_and_relations(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        let q1 = s
            .query::<Student>()
            .filter(Student::NAME.like("A%"))
            .all()
            .unwrap();
        let q2 = s.query::<Student>().all().unwrap();
        assert_eq!(q1.len(), 1);
        assert_eq!(q2.len(), 2);
        assert_eq!(q1[0], q2[0]);
        let math = course_titled(&mut s, "Math");
        assert_eq!(s.related(Course::students(), math).unwrap(), q2);
        // A query does not overwrite pending changes of an object it finds again.
        s[q2[1]].name = "Bobby".into();
        let again = student_named(&mut s, "Bob");
        assert_eq!(again, q2[1]);
        assert_eq!(s[again].name, "Bobby");
        assert_eq!(s.state(again), ObjectState::Modified);
    }
}

// ---------------------------------------------------------------------------------------------
// Modifying and deleting
// ---------------------------------------------------------------------------------------------

backend_test! {
    fn modifying_writes_only_the_changed_columns(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        let alice = student_named(&mut s, "Alice");
        let id = s.id(alice).unwrap();
        assert_eq!(s.state(alice), ObjectState::Persistent);
        s[alice].name = "Alicia".into();
        assert_eq!(s.state(alice), ObjectState::Modified);
        assert!(s.has_changes());
        assert_eq!(
            pending_sql(&s),
            [format!(
                r#"UPDATE "students" SET "name" = ? WHERE "id" = ? -- ["Alicia", {id}]"#
            )]
        );
        s.commit().unwrap();
        assert_eq!(s.state(alice), ObjectState::Persistent);
        assert!(!s.has_changes());

        let mut s2 = t.db.session();
        let again = student_named(&mut s2, "Alicia");
        assert_eq!(s2.id(again), Some(id));
        assert_eq!(
            s2.query::<Student>()
                .filter(Student::NAME.eq("Alice"))
                .count()
                .unwrap(),
            0
        );
        // Links are untouched by an update.
        assert_eq!(courses_of(&mut s2, again), ["Math", "Science"]);
    }
}

backend_test! {
    fn modifying_a_column_back_and_forth_writes_only_the_net_change(t, schema![Member]) {
        members_db(t);
        let mut s = t.db.session();
        let ann = s
            .query::<Member>()
            .filter(Member::NAME.eq("Ann"))
            .one()
            .unwrap();
        let id = s.id(ann).unwrap();
        s[ann].nickname = Some("Nan".into());
        assert_eq!(
            pending_sql(&s),
            [format!(
                r#"UPDATE "members" SET "nickname" = ? WHERE "id" = ? -- ["Nan", {id}]"#
            )]
        );
        s[ann].age = 32;
        s[ann].nickname = Some("annie".into()); // back to the stored value
        assert_eq!(
            pending_sql(&s),
            [format!(
                r#"UPDATE "members" SET "age" = ? WHERE "id" = ? -- [32, {id}]"#
            )]
        );
        s.commit().unwrap();
        let mut s2 = t.db.session();
        let ann = s2.find::<Member>(id).unwrap().unwrap();
        assert_eq!(
            (
                s2[ann].name.as_str(),
                s2[ann].nickname.as_deref(),
                s2[ann].age
            ),
            ("Ann", Some("annie"), 32)
        );
    }
}

backend_test! {
    fn modify_then_restore_writes_nothing(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        let bob = student_named(&mut s, "Bob");
        s[bob].name = "Robert".into();
        assert_eq!(s.state(bob), ObjectState::Modified);
        s[bob].name = "Bob".into();
        assert_eq!(s.state(bob), ObjectState::Persistent);
        assert!(!s.has_changes());
        assert!(pending_sql(&s).is_empty());
        let before = s.statements_run();
        s.commit().unwrap();
        assert_eq!(s.statements_run(), before);
    }
}

backend_test! {
    fn delete_removes_the_object_and_its_links_from_both_sides(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        let alice = student_named(&mut s, "Alice");
        let alice_id = s.id(alice).unwrap();
        let math = course_titled(&mut s, "Math");
        let science = course_titled(&mut s, "Science");
        assert_eq!(students_of(&mut s, math), ["Alice", "Bob"]);
        s.delete(alice);
        assert_eq!(s.state(alice), ObjectState::Deleted);
        // Gone from every collection at once, loaded before the delete or after it.
        assert_eq!(students_of(&mut s, math), ["Bob"]);
        assert!(students_of(&mut s, science).is_empty());
        assert!(!s.contains(Course::students(), math, alice).unwrap());
        assert_eq!(s.find::<Student>(alice_id).unwrap(), None);
        let remaining = s.query::<Student>().all().unwrap();
        assert_eq!(names(&s, &remaining), ["Bob"]);
        s.commit().unwrap();
        assert_eq!(s.state(alice), ObjectState::Detached);
        assert_eq!(s[alice].name, "Alice", "a detached object keeps its values");
        assert_eq!(students_of(&mut s, math), ["Bob"]);
        assert_eq!(s.find::<Student>(alice_id).unwrap(), None);
        let c = contents(&t.db);
        assert_eq!(c.students, ["Bob"]);
        assert_eq!(c.courses, ["Math", "Science"]);
        assert_eq!(c.pairs, pairs(&[("Bob", "Math")]));

        // From the other side: deleting a course unlinks its students.
        let mut s = t.db.session();
        let bob = student_named(&mut s, "Bob");
        let math = course_titled(&mut s, "Math");
        s.delete(math);
        assert!(courses_of(&mut s, bob).is_empty());
        s.commit().unwrap();
        assert!(courses_of(&mut s, bob).is_empty());
        let c = contents(&t.db);
        assert_eq!(c.students, ["Bob"]);
        assert_eq!(c.courses, ["Science"]);
        assert!(c.pairs.is_empty());
    }
}

backend_test! {
    fn related_objects_borrow_the_same_collection_related_returns(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        let math = course_titled(&mut s, "Math");
        let alice = student_named(&mut s, "Alice");
        // New objects come after the stored ones, in the order they were linked.
        let zhang = s.add(student("张伟"));
        let alisa = s.add(student("Алиса"));
        s.link(Course::students(), math, zhang);
        s.link(Course::students(), math, alisa);
        let keys = s.related(Course::students(), math).unwrap();
        let read: Vec<String> = s
            .related_objects(Course::students(), math)
            .unwrap()
            .map(|st| st.name.clone())
            .collect();
        assert_eq!(read, ["Alice", "Bob", "张伟", "Алиса"]);
        assert_eq!(read, names(&s, &keys));
        let with_keys: Vec<Key<Student>> = s
            .related_objects(Course::students(), math)
            .unwrap()
            .with_keys()
            .map(|(k, st)| {
                assert!(!st.name.is_empty());
                k
            })
            .collect();
        assert_eq!(with_keys, keys);
        assert_eq!(
            s.related_objects(Course::students(), math).unwrap().size_hint(),
            (4, Some(4))
        );

        // A deleted member is skipped at once, stored or new.
        s.delete(alice);
        s.delete(alisa);
        let related = s.related_objects(Course::students(), math).unwrap();
        let (low, high) = related.size_hint();
        assert_eq!(low, 0, "states are checked while iterating");
        assert!(high >= Some(2), "{high:?}");
        let read: Vec<&str> = related.map(|st| st.name.as_str()).collect();
        assert_eq!(read, ["Bob", "张伟"]);
        assert_eq!(
            s.related_objects(Course::students(), math).unwrap().keys().collect::<Vec<_>>(),
            s.related(Course::students(), math).unwrap()
        );

        // It loads like `related`, and is refused like it in strict mode.
        let mut s = t.db.session();
        let alice = student_named(&mut s, "Alice");
        s.set_strict(true);
        assert!(matches!(
            s.related_objects(Student::courses(), alice),
            Err(Error::LazyLoad { .. })
        ));
        s.set_strict(false);
        let before = s.statements_run();
        let titles: Vec<&str> = s
            .related_objects(Student::courses(), alice)
            .unwrap()
            .map(|c| c.title.as_str())
            .collect();
        assert_eq!(titles, ["Math", "Science"]);
        assert_eq!(s.statements_run(), before + 1, "one lazy load");
    }
}

backend_test! {
    fn deleting_a_new_linked_object_drops_it_and_its_links(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        let math = course_titled(&mut s, "Math");
        let nina = s.add(student("Nina"));
        assert!(s.link(Student::courses(), nina, math));
        assert_eq!(students_of(&mut s, math), ["Alice", "Bob", "Nina"]);
        s.delete(nina);
        assert_eq!(s.state(nina), ObjectState::Detached);
        assert_eq!(students_of(&mut s, math), ["Alice", "Bob"]);
        // "A new object is simply dropped. Its links go with it."
        let commit = s.commit();
        assert!(
            commit.is_ok(),
            "committing after deleting a new, linked object failed: {}",
            commit.unwrap_err()
        );
        assert!(!s.has_changes());
        assert_eq!(contents(&t.db), seed_contents());
    }
}

// ---------------------------------------------------------------------------------------------
// Rollback
// ---------------------------------------------------------------------------------------------

backend_test! {
    fn rollback_discards_pending_adds_links_modifications_and_deletes(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        let alice = student_named(&mut s, "Alice");
        let bob = student_named(&mut s, "Bob");
        let math = course_titled(&mut s, "Math");
        let science = course_titled(&mut s, "Science");
        assert_eq!(courses_of(&mut s, alice), ["Math", "Science"]);

        let xavier = s.add(student("Xavier"));
        let art = s.add(course("Art"));
        s.link(Student::courses(), xavier, math);
        s.link(Student::courses(), bob, art);
        s[bob].name = "Robert".into();
        s.delete(science);
        s.unlink(Student::courses(), alice, math);
        assert_eq!(s.state(xavier), ObjectState::New);
        assert_eq!(s.state(bob), ObjectState::Modified);
        assert_eq!(s.state(science), ObjectState::Deleted);
        assert!(courses_of(&mut s, alice).is_empty());
        assert_eq!(students_of(&mut s, math), ["Robert", "Xavier"]);
        assert!(s.has_changes());

        s.rollback();
        assert_eq!(s.state(xavier), ObjectState::Detached);
        assert_eq!(s.state(art), ObjectState::Detached);
        assert_eq!(s.state(bob), ObjectState::Persistent);
        assert_eq!(s[bob].name, "Bob");
        assert_eq!(s.state(science), ObjectState::Persistent);
        assert_eq!(s.state(alice), ObjectState::Persistent);
        assert_eq!(courses_of(&mut s, alice), ["Math", "Science"]);
        assert_eq!(courses_of(&mut s, bob), ["Math"]);
        assert_eq!(students_of(&mut s, math), ["Alice", "Bob"]);
        assert_eq!(students_of(&mut s, science), ["Alice"]);
        assert!(!s.has_changes());
        assert!(pending_sql(&s).is_empty());
        let before = s.statements_run();
        s.commit().unwrap();
        assert_eq!(s.statements_run(), before);
        assert_eq!(contents(&t.db), seed_contents());

        // Rolling back a session that never committed leaves the database empty.
        let Some(t2) = open_with(t.backend, &school()) else {
            return;
        };
        let mut s = t2.db.session();
        let k = seed(&mut s);
        s.rollback();
        assert_eq!(s.state(k.alice), ObjectState::Detached);
        assert!(!s.has_changes());
        s.commit().unwrap();
        assert_eq!(contents(&t2.db), Contents::default());
    }
}

backend_test! {
    fn rollback_of_an_unlink_keeps_both_collections_consistent(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        let alice = student_named(&mut s, "Alice");
        let math = course_titled(&mut s, "Math");
        // Neither collection is loaded yet.
        assert!(s.unlink(Student::courses(), alice, math));
        assert_eq!(courses_of(&mut s, alice), ["Science"]); // loads Alice's side only
        s.rollback();
        assert_eq!(
            students_of(&mut s, math),
            ["Alice", "Bob"],
            "Math's students after rolling back the unlink"
        );
        assert_eq!(courses_of(&mut s, alice), ["Math", "Science"]);
    }
}

backend_test! {
    fn linking_a_stored_pair_then_loading_both_sides_shows_it_once(t) {
        seed_committed(&t.db);
        let mut s = t.db.session();
        let alice = student_named(&mut s, "Alice");
        let math = course_titled(&mut s, "Math");
        // Neither collection is loaded: the session cannot tell the pair is already stored.
        s.link(Student::courses(), alice, math);
        assert_eq!(courses_of(&mut s, alice), ["Math", "Science"]); // loads Alice's side
        assert_eq!(
            students_of(&mut s, math),
            ["Alice", "Bob"],
            "Math's students, loaded after Alice's courses"
        );
        s.commit().unwrap();
        assert_eq!(contents(&t.db), seed_contents());
    }
}
