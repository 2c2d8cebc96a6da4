//! UUIDs and JSON documents as model fields, on every backend: round trips, the native column
//! types (UUID and JSONB on PostgreSQL, CHAR(36) and JSON on MySQL, text on SQLite), filters on
//! UUIDs, change tracking of documents, and a document that does not fit its type.
#![cfg(all(feature = "uuid", feature = "serde_json"))]

mod common;

use relata::{schema, Error, Json, Model, ObjectState};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Settings {
    theme: String,
    reminders: bool,
    limits: Vec<u32>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "profiles")]
struct Profile {
    #[relata(primary_key)]
    id: Option<i64>,
    #[relata(unique)]
    token: Uuid,
    previous: Option<Uuid>,
    settings: Json<Settings>,
    #[relata(json)]
    tags: Vec<String>,
    extra: serde_json::Value,
    note: Option<Json<Settings>>,
}

fn token(n: u8) -> Uuid {
    Uuid::from_bytes([
        n, 0x12, 0x34, 0x56, 0x78, 0x9a, 0x4b, 0xcd, 0x8e, 0xf0, 0x11, 0x22, 0x33, 0x44, 0x55, n,
    ])
}

fn profile(n: u8) -> Profile {
    Profile {
        id: None,
        token: token(n),
        previous: (n % 2 == 0).then(|| token(n + 100)),
        settings: Json(Settings {
            theme: format!("тема {n} 主题"),
            reminders: n % 2 == 1,
            limits: vec![1, 2, u32::from(n)],
        }),
        tags: vec!["Алиса".into(), "张伟".into(), "quote\"d".into()],
        extra: serde_json::json!({"n": n, "nested": {"list": [1, null, "x"]}}),
        note: None,
    }
}

fn tables() -> relata::Schema {
    schema![Profile]
}

backend_test! {
    fn uuids_and_documents_round_trip(t, tables()) {
        let mut s = t.db.session();
        let a = s.add(profile(1));
        let b = s.add(profile(2));
        s.commit().unwrap();
        let mut fresh = t.db.session();
        let all = fresh.query::<Profile>().order_by(Profile::ID.asc()).all().unwrap();
        assert_eq!(fresh[all[0]], s[a]);
        assert_eq!(fresh[all[1]], s[b]);
        let found = fresh.query::<Profile>().filter(Profile::TOKEN.eq(token(2))).one().unwrap();
        assert_eq!(found, all[1]);
        let with_previous = fresh.query::<Profile>().filter(Profile::PREVIOUS.is_null()).count().unwrap();
        assert_eq!(with_previous, 1);
    }
}

backend_test! {
    /// A document is compared by its JSON text: a change is an UPDATE of that column, no change
    /// is nothing; an unknown document kind (`Json<T>` that does not fit) is a clear error.
    fn documents_track_changes_and_refuse_what_does_not_fit(t, tables()) {
        let mut s = t.db.session();
        let a = s.add(profile(3));
        s.commit().unwrap();
        s[a].settings.0.limits.push(9);
        assert_eq!(s.state(a), ObjectState::Modified);
        s[a].tags.clear();
        let sql = s.pending_statements().unwrap();
        assert_eq!(sql.len(), 1);
        assert!(sql[0].contains("settings") && sql[0].contains("tags") && !sql[0].contains("extra"), "{}", sql[0]);
        s.commit().unwrap();
        let mut fresh = t.db.session();
        let k = fresh.query::<Profile>().one().unwrap();
        assert_eq!(fresh[k].settings.0.limits, [1, 2, 3, 9]);
        assert!(fresh[k].tags.is_empty());
        fresh[k].extra = serde_json::json!({"n": 3, "nested": {"list": [1, null, "x"]}});
        assert_eq!(fresh.state(k), ObjectState::Persistent, "the same document");

        // A document that is no Settings.
        fresh[k].extra = serde_json::json!("just text");
        fresh.commit().unwrap();
        #[derive(Model)]
        #[relata(table = "profiles")]
        struct Loose {
            #[relata(primary_key)]
            id: Option<i64>,
            extra: serde_json::Value,
        }
        let mut s2 = t.db.session();
        let l = s2.query::<Loose>().one().unwrap();
        assert_eq!(s2[l].extra, serde_json::json!("just text"));
        #[derive(Model)]
        #[relata(table = "profiles")]
        struct Strict {
            #[relata(primary_key)]
            id: Option<i64>,
            extra: Json<Settings>,
        }
        let e = s2.query::<Strict>().all().unwrap_err();
        match &e {
            Error::Decode { table, column, reason } => {
                assert_eq!((*table, *column), ("profiles", "extra"));
                assert!(reason.contains("does not fit"), "{reason}");
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
    }
}

backend_test! {
    /// UUID and JSONB on PostgreSQL, CHAR(36) and JSON on MySQL (MariaDB reports JSON as
    /// longtext), text on SQLite.
    fn columns_have_native_types(t, tables()) {
        let types: Vec<(String, String)> = common::column_types(t, "profiles")
            .into_iter()
            .filter(|(c, _)| ["token", "settings"].contains(&c.as_str()))
            .collect();
        let expect: [&str; 2] = match t.backend {
            "postgres" => ["uuid", "jsonb"],
            "mysql" => ["char(36)", "longtext"],
            _ => ["text", "text"],
        };
        let got: Vec<&str> = types.iter().map(|(_, ty)| ty.as_str()).collect();
        assert_eq!(got, expect, "{types:?}");
    }
}

#[test]
/// On SQLite a UUID is its hyphenated text, and a document is JSON text SQLite's functions read.
fn sqlite_stores_text_its_json_functions_read() {
    let Some(t) = common::open_with("file", &tables()) else {
        return;
    };
    let mut s = t.db.session();
    s.add(profile(4));
    s.commit().unwrap();
    let raw = rusqlite::Connection::open(t.dir().unwrap().join("x.db")).unwrap();
    let (tok, theme): (String, String) = raw
        .query_row(
            "SELECT token, json_extract(settings, '$.theme') FROM profiles",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(tok, "04123456-789a-4bcd-8ef0-112233445504");
    assert_eq!(theme, "тема 4 主题");
}

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "grids")]
struct Grid {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
    /// Tuple keys: JSON objects have text keys only, so this does not serialize.
    #[relata(json)]
    cells: std::collections::BTreeMap<(i32, i32), i32>,
}

backend_test! {
    /// A document that does not serialize is refused when it is bound, with the reason, and
    /// nothing of the commit is written.
    fn a_document_that_does_not_serialize_is_refused(t, schema![Grid]) {
        let mut s = t.db.session();
        s.add(Grid { id: None, name: "empty".into(), cells: Default::default() });
        s.add(Grid { id: None, name: "tuple keys".into(), cells: [((0, 0), 1)].into() });
        let e = s.commit().unwrap_err();
        assert!(e.to_string().contains("does not serialize to JSON"), "{e}");
        assert_eq!(t.db.session().query::<Grid>().count().unwrap(), 0, "nothing was written");
    }
}
