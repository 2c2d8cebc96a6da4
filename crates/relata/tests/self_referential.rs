//! A many-to-many from a model to itself: each direction is its own relationship.

use relata::{schema, Association, Database, Model};

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

#[test]
fn both_directions_of_a_self_reference_stay_in_step() -> relata::Result<()> {
    let db = Database::open("sqlite::memory:")?;
    db.create_all(&schema![Person, Follows])?;
    let mut s = db.session();
    let [ann, ben, cat] = ["Ann", "Ben", "Cat"].map(|n| {
        s.add(Person {
            id: None,
            name: n.into(),
        })
    });
    s.extend(Person::following(), ann, [ben, cat]);
    s.link(Person::followers(), ann, cat); // cat follows ann
    let v = s.related(Person::followers(), cat)?;
    assert_eq!(names(&s, &v), ["Ann"]);
    s.commit()?;

    let mut s = db.session();
    let ann = s.query::<Person>().filter(Person::NAME.eq("Ann")).one()?;
    let cat = s.query::<Person>().filter(Person::NAME.eq("Cat")).one()?;
    let v = s.related(Person::following(), ann)?;
    assert_eq!(names(&s, &v), ["Ben", "Cat"]);
    let v = s.related(Person::followers(), ann)?;
    assert_eq!(names(&s, &v), ["Cat"]);
    let v = s.related(Person::following(), cat)?;
    assert_eq!(names(&s, &v), ["Ann"]);

    let everyone = s.query::<Person>().eager(Person::followers()).all()?;
    s.set_strict(true);
    let counts: Vec<usize> = everyone
        .iter()
        .map(|&p| s.related(Person::followers(), p).map(|v| v.len()))
        .collect::<relata::Result<_>>()?;
    assert_eq!(counts, [1, 1, 1]);
    let followed_by_cat = s
        .query::<Person>()
        .filter(Person::followers().any(Person::NAME.eq("Cat")))
        .all()?;
    assert_eq!(names(&s, &followed_by_cat), ["Ann"]);
    Ok(())
}
