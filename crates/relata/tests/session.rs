//! Integration tests of the public API, each on a fresh database of every backend: SQLite in
//! memory and in a file, PostgreSQL and MySQL/MariaDB.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::*;
use relata::{
    schema, Association, ConstraintKind, Database, Error, Key, Model, ObjectState, Session,
};

// ---------------------------------------------------------------------------------------------
// Extra models
// ---------------------------------------------------------------------------------------------

/// Several columns, one of them nullable: for partial updates and every kind of filter.
#[derive(Model, Debug, Clone)]
#[relata(table = "members")]
pub struct Member {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    pub nickname: Option<String>,
    pub age: i64,
}

fn member(name: &str, nickname: Option<&str>, age: i64) -> Member {
    Member {
        id: None,
        name: name.into(),
        nickname: nickname.map(Into::into),
        age,
    }
}

/// A model with a UNIQUE column, linked to students.
#[derive(Model, Debug, Clone)]
#[relata(table = "tags")]
pub struct Tag {
    #[relata(primary_key)]
    pub id: Option<i64>,
    #[relata(unique)]
    pub label: String,
}

fn tag(label: &str) -> Tag {
    Tag {
        id: None,
        label: label.into(),
    }
}

#[derive(Association)]
#[relata(table = "student_tag")]
pub struct StudentTag {
    #[relata(references = Student, relation = "tags")]
    pub student_id: i64,
    #[relata(references = Tag, relation = "students")]
    pub tag_id: i64,
}

/// Optional in Rust, NOT NULL in a hand-made table.
#[derive(Model, Debug, Clone)]
#[relata(table = "notes")]
pub struct Note {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub body: Option<String>,
}

/// Declares the table `students` a second time.
#[derive(Model, Debug, Clone)]
#[relata(table = "students")]
pub struct Pupil {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub name: String,
}

fn member_names(s: &Session, keys: &[Key<Member>]) -> Vec<String> {
    keys.iter().map(|&k| s[k].name.clone()).collect()
}

/// Members: Ann (annie, 31), Bob (-, 25), Cid (cid, 40), Dee (-, 25), Eve (evie, 19), in id order.
fn members_db(t: &TestDb) {
    let mut s = t.db.session();
    s.add_all([
        member("Ann", Some("annie"), 31),
        member("Bob", None, 25),
        member("Cid", Some("cid"), 40),
        member("Dee", None, 25),
        member("Eve", Some("evie"), 19),
    ]);
    s.commit().unwrap();
}

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
// Eager loading, strict mode and query budgets
// ---------------------------------------------------------------------------------------------

backend_test! {
    fn eager_loading_serves_every_collection_without_further_statements(t) {
        seed_committed(&t.db);
        // The query, then the eager load (the pairs and the targets: one statement on
        // PostgreSQL, two elsewhere).
        let budget = 1 + t.db.dialect().eager_load_statements();
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

// ---------------------------------------------------------------------------------------------
// Failed commits
// ---------------------------------------------------------------------------------------------

fn tags_schema() -> relata::Schema {
    schema![Student, Course, StudentCourse, Tag, StudentTag]
}

fn tag_labels(db: &Database) -> Vec<String> {
    let mut s = db.session();
    let ks = s.query::<Tag>().order_by(Tag::LABEL.asc()).all().unwrap();
    ks.iter().map(|&k| s[k].label.clone()).collect()
}

backend_test! {
    fn unique_violation_fails_the_whole_commit_and_can_be_fixed(t, tags_schema()) {
        let mut s = t.db.session();
        s.add(tag("rust"));
        seed(&mut s);
        s.commit().unwrap();

        let mut s = t.db.session();
        let math = course_titled(&mut s, "Math");
        let bob = student_named(&mut s, "Bob");
        let zed = s.add(student("Zed"));
        let go = s.add(tag("go"));
        let dup = s.add(tag("rust"));
        s.link(Student::tags(), zed, go);
        s.link(Student::tags(), zed, dup);
        s.link(Student::courses(), zed, math);
        s[bob].name = "Bobby".into();

        let err = s.commit().unwrap_err();
        match &err {
            Error::Constraint {
                kind,
                table,
                constraint,
                row,
                ..
            } => {
                assert_eq!(*kind, ConstraintKind::Unique);
                assert_eq!(table, "tags");
                assert_eq!(constraint, "tags.label");
                let row = row.as_deref().expect("the rejected row");
                assert!(row.contains("\"rust\""), "{row}");
                assert!(!row.contains("\"go\""), "only the offending row: {row}");
            }
            other => panic!("expected a UNIQUE violation, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("tags.label"), "{msg}");
        assert!(msg.contains("rust"), "{msg}");

        // Nothing was written.
        assert_eq!(contents(&t.db), seed_contents());
        assert_eq!(tag_labels(&t.db), ["rust"]);
        // The session still holds everything.
        assert!(s.has_changes());
        assert_eq!(s.state(zed), ObjectState::New);
        assert_eq!(s.state(dup), ObjectState::New);
        assert_eq!(s.id(zed), None);
        assert_eq!(s.id(go), None);
        assert_eq!(s.state(bob), ObjectState::Modified);
        assert_eq!(s[bob].name, "Bobby");
        assert_eq!(s.related(Student::tags(), zed).unwrap(), [go, dup]);
        assert_eq!(students_of(&mut s, math), ["Alice", "Bobby", "Zed"]);

        // Fix and commit again.
        s[dup].label = "rust 2".into();
        s.commit().unwrap();
        assert!(s.id(zed).is_some() && s.id(dup).is_some());
        assert_eq!(s.state(bob), ObjectState::Persistent);
        assert_eq!(tag_labels(&t.db), ["go", "rust", "rust 2"]);
        let c = contents(&t.db);
        assert_eq!(c.students, ["Alice", "Bobby", "Zed"]);
        assert!(c.pairs.contains(&("Zed".to_owned(), "Math".to_owned())));
        let mut s2 = t.db.session();
        let zed = student_named(&mut s2, "Zed");
        let ts = s2.related(Student::tags(), zed).unwrap();
        let labels: Vec<&str> = ts.iter().map(|&k| s2[k].label.as_str()).collect();
        assert_eq!(labels, ["go", "rust 2"]);
    }
}

backend_test! {
    fn not_null_violation_names_the_column(t, schema![]) {
        t.db.execute_batch(t.notes_not_null_ddl()).unwrap();
        let mut s = t.db.session();
        let fine = s.add(Note {
            id: None,
            body: Some("fine".into()),
        });
        let empty = s.add(Note {
            id: None,
            body: None,
        });
        let err = s.commit().unwrap_err();
        match &err {
            Error::Constraint {
                kind,
                table,
                constraint,
                row,
                ..
            } => {
                assert_eq!(*kind, ConstraintKind::NotNull);
                assert_eq!(table, "notes");
                assert_eq!(constraint, "notes.body");
                // PostgreSQL stops the transaction at the first error, so the row comes
                // from its message: the whole row, generated key included.
                let expected = if t.backend == "postgres" {
                    "notes(2, null)"
                } else {
                    "notes(body = NULL)"
                };
                assert_eq!(row.as_deref(), Some(expected));
            }
            other => panic!("expected a NOT NULL violation, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.starts_with("notes.body is NOT NULL"), "{msg}");
        assert_eq!(t.db.session().query::<Note>().count().unwrap(), 0);
        assert!(s.has_changes());
        assert_eq!(s.state(fine), ObjectState::New);

        s[empty].body = Some("fixed".into());
        s.commit().unwrap();
        let mut s2 = t.db.session();
        assert_eq!(s2.query::<Note>().count().unwrap(), 2);
        let k = s2
            .query::<Note>()
            .filter(Note::BODY.eq("fixed"))
            .one()
            .unwrap();
        assert_eq!(s2.id(k), s.id(empty));
    }
}

backend_test! {
    fn foreign_key_violation_names_the_missing_side(t) {
        seed_committed(&t.db);
        let mut a = t.db.session();
        let bob = student_named(&mut a, "Bob");
        let science = course_titled(&mut a, "Science");
        let science_id = a.id(science).unwrap();

        let mut b = t.db.session();
        let sci = course_titled(&mut b, "Science");
        b.delete(sci);
        b.commit().unwrap();
        let after_b = contents(&t.db);
        assert_eq!(after_b.courses, ["Math"]);

        let newbie = a.add(student("Newbie"));
        a.link(Student::courses(), bob, science);
        let err = a.commit().unwrap_err();
        match &err {
            Error::Constraint {
                kind,
                table,
                constraint,
                ..
            } => {
                assert_eq!(*kind, ConstraintKind::ForeignKey);
                assert_eq!(table, "student_course");
                assert!(
                    constraint.contains(&format!("student_course.course_id = {science_id}")),
                    "{constraint}"
                );
                assert!(constraint.contains("courses.id"), "{constraint}");
                assert!(
                    !constraint.contains("student_id"),
                    "the student exists: {constraint}"
                );
            }
            other => panic!("expected a FOREIGN KEY violation, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("student_course"), "{msg}");
        assert!(msg.contains("course_id"), "{msg}");
        assert_eq!(contents(&t.db), after_b, "nothing written");
        assert!(a.has_changes());
        assert_eq!(a.state(newbie), ObjectState::New);

        // Dropping the bad link lets the rest through.
        assert!(a.unlink(Student::courses(), bob, science));
        a.commit().unwrap();
        let c = contents(&t.db);
        assert_eq!(c.students, ["Alice", "Bob", "Newbie"]);
        assert_eq!(c.pairs, after_b.pairs);
    }
}

#[test]
fn a_locked_database_is_busy_and_the_commit_can_be_retried() {
    let (_dir, url) = temp_file_url();
    let db = Database::open(&url).unwrap();
    db.create_all(&school()).unwrap();
    let other = Database::open(&url).unwrap();

    let mut s = db.session();
    let k = seed(&mut s);
    // Another connection holds the write lock for the length of its transaction block.
    let mut holder = other.session();
    holder
        .transaction(|_| {
            let started = Instant::now();
            let err = s.commit().unwrap_err();
            let waited = started.elapsed();
            assert!(
                matches!(err, Error::Busy { .. }),
                "expected Busy, got {err:?}"
            );
            assert!(err.is_retryable());
            assert!(
                waited >= Duration::from_secs(1),
                "waited for the lock first: {waited:?}"
            );
            assert!(s.has_changes());
            assert_eq!(s.id(k.alice), None);
            Ok(())
        })
        .unwrap();

    s.commit().unwrap();
    assert!(s.id(k.alice).is_some());
    assert_eq!(contents(&db), seed_contents());
    assert_eq!(contents(&other), seed_contents());
}

// ---------------------------------------------------------------------------------------------
// Opening databases and creating schemas
// ---------------------------------------------------------------------------------------------

#[test]
fn open_rejects_unknown_schemes() {
    let err = Database::open("ftp://example.com/x.db").unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("ftp://example.com/x.db"), "{msg}");
    assert!(msg.contains("ftp"), "{msg}");

    let err = Database::open("sqlite://").unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    assert!(err.to_string().contains("sqlite://"), "{err}");
}

#[test]
fn open_never_shows_a_password() {
    // An unresolvable host (with the backend compiled in) or a missing backend: either way the
    // error shows the URL with its password masked.
    let url = "postgres://user:secret@host.invalid/db";
    let err = Database::open(url).unwrap_err();
    assert!(
        matches!(err, Error::InvalidUrl { .. } | Error::Connect { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(!msg.contains("secret"), "{msg}");
    assert!(!format!("{err:?}").contains("secret"), "{err:?}");
    assert!(msg.contains("postgres://user:***@host.invalid/db"), "{msg}");
    assert!(msg.contains("postgres"), "{msg}");
}

#[test]
fn open_fails_clearly_for_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path()
            .join("missing")
            .join("sub")
            .join("x.db")
            .display()
    );
    let err = Database::open(&url).unwrap_err();
    match &err {
        Error::Connect { url: u, .. } => assert_eq!(u, &url),
        other => panic!("expected Connect, got {other:?}"),
    }
    assert!(err.to_string().contains(&url), "{err}");
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn open_fails_clearly_for_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.db");
    std::fs::write(&path, "this is not a database\n".repeat(200)).unwrap();
    let url = format!("sqlite://{}", path.display());
    let err = Database::open(&url).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&url), "{msg}");
    assert!(msg.contains("not a database"), "{msg}");
    // The file is left alone.
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "this is not a database\n".repeat(200)
    );
}

backend_test! {
    fn create_all_is_idempotent(t) {
        seed_committed(&t.db);
        t.db.create_all(&school()).unwrap();
        t.db.create_all(&school()).unwrap();
        t.db.create_all(&schema![Course, Student]).unwrap();
        assert_eq!(contents(&t.db), seed_contents());
    }
}

#[test]
fn schema_errors_name_the_types() {
    let t = open_empty("memory").expect("SQLite is always available");
    let err =
        t.db.create_all(&schema![Student, Course, StudentCourse, Pupil])
            .unwrap_err();
    match &err {
        Error::Schema { message } => {
            assert!(message.contains("Student"), "{message}");
            assert!(message.contains("Pupil"), "{message}");
            assert!(message.contains("students"), "{message}");
        }
        other => panic!("expected Schema, got {other:?}"),
    }
    // Nothing was created.
    assert!(t.db.session().query::<Course>().count().is_err());

    let err =
        t.db.create_all(&schema![Student, StudentCourse])
            .unwrap_err();
    match &err {
        Error::Schema { message } => {
            assert!(message.contains("StudentCourse"), "{message}");
            assert!(message.contains("Course"), "{message}");
            assert!(message.contains("courses"), "{message}");
        }
        other => panic!("expected Schema, got {other:?}"),
    }
    assert!(t.db.session().query::<Student>().count().is_err());

    let err = t.db.create_all(&schema![Student, Student]).unwrap_err();
    assert!(matches!(err, Error::Schema { .. }), "{err:?}");
    assert!(err.to_string().contains("Student"), "{err}");

    // The schema is checked without a database too.
    assert!(schema![Course, StudentCourse].ordered().is_err());
    assert!(school().ordered().is_ok());
}
