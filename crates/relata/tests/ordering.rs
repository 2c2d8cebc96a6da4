//! Collection order: the target's primary key by default, or the column a relation declares, for
//! lazy loads, eager loads and pending links alike, on a fresh database of every backend. Also:
//! sessions move between threads.

#[macro_use]
mod common;

use relata::{schema, Association, Database, Key, Model, Session};

#[derive(Model)]
#[relata(table = "readers")]
struct Reader {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
}

#[derive(Model)]
#[relata(table = "books")]
struct Book {
    #[relata(primary_key)]
    id: Option<i64>,
    title: String,
}

/// A reader's books come by title; a book's readers by key (the default).
#[derive(Association)]
#[relata(table = "loans")]
struct Loan {
    #[relata(references = Reader, relation = "books", order_by = "title")]
    reader_id: i64,
    #[relata(references = Book, relation = "readers")]
    book_id: i64,
}

fn titles(s: &mut Session, r: Key<Reader>) -> Vec<String> {
    let books = s.related(Reader::books(), r).unwrap();
    books.iter().map(|&b| s[b].title.clone()).collect()
}

fn names(s: &mut Session, b: Key<Book>) -> Vec<String> {
    let readers = s.related(Book::readers(), b).unwrap();
    readers.iter().map(|&r| s[r].name.clone()).collect()
}

/// This file's schema.
fn library() -> relata::Schema {
    schema![Reader, Book, Loan]
}

/// Adds two readers and four books to `db` (created with [`library`]) and commits.
fn setup(db: &Database) {
    let mut s = db.session();
    let ann = s.add(Reader {
        id: None,
        name: "Ann".into(),
    });
    let zoe = s.add(Reader {
        id: None,
        name: "Zoë".into(),
    });
    // Keys in one order, titles in another.
    let books = s.add_all(["Ulysses", "Beloved", "Middlemarch", "Emma"].map(|t| Book {
        id: None,
        title: t.into(),
    }));
    s.extend(Reader::books(), ann, books.iter().copied());
    s.link(Reader::books(), zoe, books[3]);
    assert_eq!(
        titles(&mut s, ann),
        ["Beloved", "Emma", "Middlemarch", "Ulysses"]
    );
    s.commit().unwrap();
}

backend_test! {
    fn a_declared_order_holds_for_lazy_and_eager_loads_and_pending_links(t, library()) {
        let db = &t.db;
        setup(db);
        let mut s = db.session();
        let ann = s
            .query::<Reader>()
            .filter(Reader::NAME.eq("Ann"))
            .one()
            .unwrap();
        assert_eq!(
            titles(&mut s, ann),
            ["Beloved", "Emma", "Middlemarch", "Ulysses"]
        );

        let mut s = db.session();
        let readers = s.query::<Reader>().eager(Reader::books()).all().unwrap();
        s.set_strict(true);
        assert_eq!(
            titles(&mut s, readers[0]),
            ["Beloved", "Emma", "Middlemarch", "Ulysses"]
        );
        assert_eq!(titles(&mut s, readers[1]), ["Emma"]);

        // A new book sorts by its title too, before it has a key.
        let austen = s.add(Book {
            id: None,
            title: "Austen's letters".into(),
        });
        s.link(Reader::books(), readers[1], austen);
        assert_eq!(titles(&mut s, readers[1]), ["Austen's letters", "Emma"]);
    }
}

backend_test! {
    // Issue 14, item 7: the order follows a sort column that changed, once the change commits.
    fn a_declared_order_follows_a_renamed_member_after_the_commit(t, library()) {
        let db = &t.db;
        setup(db);
        let mut s = db.session();
        let ann = s
            .query::<Reader>()
            .filter(Reader::NAME.eq("Ann"))
            .one()
            .unwrap();
        assert_eq!(
            titles(&mut s, ann),
            ["Beloved", "Emma", "Middlemarch", "Ulysses"]
        );
        let beloved = s.related(Reader::books(), ann).unwrap()[0];
        s[beloved].title = "Zuleikha".into();
        s.commit().unwrap();
        assert_eq!(
            titles(&mut s, ann),
            ["Emma", "Middlemarch", "Ulysses", "Zuleikha"]
        );
        // The same order a new session reads from the database.
        let mut fresh = db.session();
        let ann = fresh
            .query::<Reader>()
            .filter(Reader::NAME.eq("Ann"))
            .one()
            .unwrap();
        assert_eq!(
            titles(&mut fresh, ann),
            ["Emma", "Middlemarch", "Ulysses", "Zuleikha"]
        );
    }
}

backend_test! {
    fn the_default_order_is_the_targets_key_with_new_objects_last(t, library()) {
        let db = &t.db;
        setup(db);
        let mut s = db.session();
        let books = s
            .query::<Book>()
            .order_by(Book::TITLE.desc())
            .eager(Book::readers())
            .all()
            .unwrap();
        let emma = books
            .iter()
            .copied()
            .find(|&b| s[b].title == "Emma")
            .unwrap();
        assert_eq!(names(&mut s, emma), ["Ann", "Zoë"]);
        let bob = s.add(Reader {
            id: None,
            name: "Bob".into(),
        });
        s.link(Book::readers(), emma, bob);
        assert_eq!(
            names(&mut s, emma),
            ["Ann", "Zoë", "Bob"],
            "new objects come last"
        );
        s.commit().unwrap();
        assert_eq!(
            names(&mut s, emma),
            ["Ann", "Zoë", "Bob"],
            "and keep their place once stored"
        );
    }
}

#[test]
fn sessions_and_databases_cross_threads() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Session>();
    send::<Database>();
    sync::<Database>();
    send::<Key<Reader>>();

    // On SQLite in memory: the threads share its single connection, taking turns.
    let t = common::open_with("memory", &library()).unwrap();
    let db = &t.db;
    setup(db);
    let handles: Vec<_> = ["Ann", "Zoë"]
        .into_iter()
        .map(|name| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut s = db.session();
                let r = s
                    .query::<Reader>()
                    .filter(Reader::NAME.eq(name))
                    .one()
                    .unwrap();
                titles(&mut s, r).len()
            })
        })
        .collect();
    let counts: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(counts, [4, 1]);
}
