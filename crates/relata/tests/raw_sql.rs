//! SQL of the application's own with bound parameters, on every backend: `execute` for changed
//! rows, `select` into tuples and single values, `select_models` into the identity map; `?`
//! placeholders everywhere (not inside quotes or comments), a wrong parameter count named, and
//! values never pasted into the text.

mod common;

use common::{student, Student};
use relata::{params, Error, ObjectState};

const INJECTION: &str = "Robert'); DROP TABLE students;--";

backend_test! {
    fn execute_binds_and_counts(t) {
        let mut s = t.db.session();
        let n = s
            .execute("INSERT INTO students (name) VALUES (?), (?), (?)", params![INJECTION, "Алиса", "张伟"])
            .unwrap();
        assert_eq!(n, 3);
        let n = s.execute("UPDATE students SET name = ? WHERE name = ?", params!["Alice", "Алиса"]).unwrap();
        assert_eq!(n, 1);
        let n = s.execute("DELETE FROM students WHERE name = ?", params!["nobody"]).unwrap();
        assert_eq!(n, 0);
        let names: Vec<String> = s.select("SELECT name FROM students ORDER BY id", params![]).unwrap();
        assert_eq!(names, [INJECTION, "Alice", "张伟"]);
    }
}

backend_test! {
    /// Rows read into tuples of column types, `Option` for NULL; a `?` inside quotes or a
    /// comment is not a placeholder.
    fn select_reads_tuples(t) {
        let mut s = t.db.session();
        s.execute("INSERT INTO students (name) VALUES (?), (?)", params!["a?b", "Bob"]).unwrap();
        let rows: Vec<(i64, String, Option<String>)> = s
            .select(
                "SELECT id, name, CASE WHEN name = '?' THEN 'never' ELSE NULL END /* ? */ \
                 FROM students WHERE name <> ? -- a comment with a ?\n ORDER BY id",
                params!["nobody"],
            )
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].1.as_str(), rows[0].2.as_deref()), ("a?b", None));
        let count: Vec<i64> = s.select("SELECT count(*) FROM students WHERE name LIKE ?", params!["%?%"]).unwrap();
        assert_eq!(count, [1]);
    }
}

backend_test! {
    /// A model's rows from a query of its own, merged into the identity map: the session's own
    /// object comes back with its key and its pending change.
    fn select_models_merges_into_the_identity_map(t) {
        let mut s = t.db.session();
        let alice = s.add(student("Alice"));
        s.add(student("Bob"));
        s.commit().unwrap();
        s[alice].name = "Alicia".into();
        let keys = s
            .select_models::<Student>(
                "SELECT id, name FROM students WHERE id >= ? ORDER BY id",
                params![s.id(alice).unwrap()],
            )
            .unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], alice);
        assert_eq!(s[alice].name, "Alicia");
        assert_eq!(s.state(alice), ObjectState::Modified);
        assert_eq!(s[keys[1]].name, "Bob");
    }
}

backend_test! {
    /// A wrong number of parameters is named before anything runs; a column that does not fit
    /// the asked type is named; a database error comes back as such.
    fn mistakes_are_clear_errors(t) {
        let mut s = t.db.session();
        let e = s.execute("INSERT INTO students (name) VALUES (?)", params!["a", "b"]).unwrap_err();
        assert!(matches!(e, Error::Statement { .. }), "{e}");
        assert!(e.to_string().contains("1 placeholder (?) but 2 parameters"), "{e}");
        s.execute("INSERT INTO students (name) VALUES (?)", params!["a"]).unwrap();
        let e = s.select::<(String, i64)>("SELECT name, name FROM students", params![]).unwrap_err();
        match &e {
            Error::Decode { column, .. } => assert_eq!(*column, "column 2"),
            other => panic!("expected a decode error, got {other:?}"),
        }
        let e = s.execute("INSERT INTO no_such_table (x) VALUES (?)", params![1]).unwrap_err();
        assert!(e.to_string().contains("no_such_table"), "{e}");
    }
}

backend_test! {
    /// In a transaction block the statements are part of the block: a failed block undoes them.
    fn raw_statements_run_in_the_block(t) {
        let mut s = t.db.session();
        let r = s.transaction(|s| {
            s.execute("INSERT INTO students (name) VALUES (?)", params!["in the block"])?;
            let n: Vec<i64> = s.select("SELECT count(*) FROM students", params![])?;
            assert_eq!(n, [1]);
            Err::<(), _>(Error::ReadOnly)
        });
        assert!(r.is_err());
        let n: Vec<i64> = s.select("SELECT count(*) FROM students", params![]).unwrap();
        assert_eq!(n, [0]);
    }
}
