//! The `members` model (several columns, one of them nullable) and its fixture, for the tests of
//! partial updates and of every kind of query filter.

use relata::{Key, Model, Session};

use super::TestDb;

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

pub fn member(name: &str, nickname: Option<&str>, age: i64) -> Member {
    Member {
        id: None,
        name: name.into(),
        nickname: nickname.map(Into::into),
        age,
    }
}

pub fn member_names(s: &Session, keys: &[Key<Member>]) -> Vec<String> {
    keys.iter().map(|&k| s[k].name.clone()).collect()
}

/// Members: Ann (annie, 31), Bob (-, 25), Cid (cid, 40), Dee (-, 25), Eve (evie, 19), in id order.
pub fn members_db(t: &TestDb) {
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
