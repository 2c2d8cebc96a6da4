//! A many-to-many from a model to itself: each direction is its own relationship. On a fresh
//! database of every backend.

#[macro_use]
mod common;

use relata::{schema, Association, Model};

#[derive(Model)]
#[relata(table = "people")]
struct Person {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
}

/// `follower` follows `followed`.
#[derive(Association)]
#[relata(table = "follows")]
struct Follows {
    #[relata(references = Person, relation = "following")]
    follower_id: i64,
    #[relata(references = Person, relation = "followers")]
    followed_id: i64,
}

fn names(s: &relata::Session, keys: &[relata::Key<Person>]) -> Vec<String> {
    keys.iter().map(|&k| s[k].name.clone()).collect()
}

backend_test! {
    fn both_directions_of_a_self_reference_stay_in_step(t, schema![Person, Follows]) {
        let db = &t.db;
        let mut s = db.session();
        let [ann, ben, cat] = ["Ann", "Ben", "Cat"].map(|n| {
            s.add(Person {
                id: None,
                name: n.into(),
            })
        });
        s.extend(Person::following(), ann, [ben, cat]);
        s.link(Person::followers(), ann, cat); // cat follows ann
        let v = s.related(Person::followers(), cat).unwrap();
        assert_eq!(names(&s, &v), ["Ann"]);
        s.commit().unwrap();

        let mut s = db.session();
        let ann = s
            .query::<Person>()
            .filter(Person::NAME.eq("Ann"))
            .one()
            .unwrap();
        let cat = s
            .query::<Person>()
            .filter(Person::NAME.eq("Cat"))
            .one()
            .unwrap();
        let v = s.related(Person::following(), ann).unwrap();
        assert_eq!(names(&s, &v), ["Ben", "Cat"]);
        let v = s.related(Person::followers(), ann).unwrap();
        assert_eq!(names(&s, &v), ["Cat"]);
        let v = s.related(Person::following(), cat).unwrap();
        assert_eq!(names(&s, &v), ["Ann"]);

        let everyone = s
            .query::<Person>()
            .eager(Person::followers())
            .all()
            .unwrap();
        s.set_strict(true);
        let counts: Vec<usize> = everyone
            .iter()
            .map(|&p| s.related(Person::followers(), p).map(|v| v.len()))
            .collect::<relata::Result<_>>()
            .unwrap();
        assert_eq!(counts, [1, 1, 1]);
        let followed_by_cat = s
            .query::<Person>()
            .filter(Person::followers().any(Person::NAME.eq("Cat")))
            .all()
            .unwrap();
        assert_eq!(names(&s, &followed_by_cat), ["Ann"]);
    }
}
