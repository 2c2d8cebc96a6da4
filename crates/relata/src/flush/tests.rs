//! The planner without a database: the exact statements a flush emits, in order.

use crate::{
    schema, Association, Capabilities, Database, Dialect, Model, Session, SqlType, Sqlite,
};

#[derive(Model)]
#[relata(table = "students")]
struct Student {
    #[relata(primary_key)]
    id: Option<i64>,
    name: String,
}

#[derive(Model)]
#[relata(table = "courses")]
struct Course {
    #[relata(primary_key)]
    id: Option<i64>,
    title: String,
    credits: i32,
}

#[derive(Association)]
#[relata(table = "student_course")]
struct StudentCourse {
    #[relata(references = Student, relation = "courses")]
    student_id: i64,
    #[relata(references = Course, relation = "students")]
    course_id: i64,
}

fn student(id: Option<i64>, name: &str) -> Student {
    Student {
        id,
        name: name.into(),
    }
}

fn course(id: Option<i64>, title: &str) -> Course {
    Course {
        id,
        title: title.into(),
        credits: 5,
    }
}

fn session() -> Session {
    Database::offline(&Sqlite).session()
}

/// SQLite's spelling with multi-row inserts, as server dialects batch them.
struct Batching;

impl Dialect for Batching {
    fn name(&self) -> &'static str {
        "batching"
    }
    fn capabilities(&self) -> &Capabilities {
        const CAPABILITIES: Capabilities = Capabilities {
            max_params: 300,
            ..Capabilities::DEFAULT
        };
        &CAPABILITIES
    }
    fn column_type(&self, ty: SqlType) -> &'static str {
        Sqlite.column_type(ty)
    }
    fn generated_key(&self, autoincrement: bool) -> &'static str {
        Sqlite.generated_key(autoincrement)
    }
}

/// Asserts the statements the session would commit, one per line.
fn check(s: &Session, expect: &[&str]) {
    let got = s.pending_statements().expect("plannable");
    assert_eq!(got, expect, "\n got:\n{}\n", got.join("\n"));
}

#[test]
fn seed_graph_inserts_parents_then_pairs_with_generated_keys() {
    let mut s = session();
    seed(&mut s);
    check(
        &s,
        &[
            r#"INSERT INTO "students" ("name") VALUES (?) -- ["Alice"]"#,
            r#"INSERT INTO "students" ("name") VALUES (?) -- ["Bob"]"#,
            r#"INSERT INTO "courses" ("title", "credits") VALUES (?, ?) -- ["Math", 5]"#,
            r#"INSERT INTO "courses" ("title", "credits") VALUES (?, ?) -- ["Science", 5]"#,
            r#"INSERT INTO "student_course" ("student_id", "course_id") VALUES (?, ?) -- [1, 1]"#,
            r#"INSERT INTO "student_course" ("student_id", "course_id") VALUES (?, ?) -- [1, 2]"#,
            r#"INSERT INTO "student_course" ("student_id", "course_id") VALUES (?, ?) -- [2, 1]"#,
        ],
    );
}

/// A pair of stored objects may be in the database already (another session may have linked
/// it): it skips a present row. A pair with a new object cannot be: a plain insert.
#[test]
fn only_pairs_between_stored_objects_skip_present_rows() {
    let mut s = session();
    let alice = s.adopt(student(Some(7), "Alice"));
    let math = s.adopt(course(Some(3), "Math"));
    let dora = s.add(student(None, "Dora"));
    s.link(Student::courses(), dora, math);
    s.link(Student::courses(), alice, math);
    check(
        &s,
        &[
            r#"INSERT INTO "students" ("name") VALUES (?) -- ["Dora"]"#,
            r#"INSERT INTO "student_course" ("student_id", "course_id") VALUES (?, ?) ON CONFLICT DO NOTHING -- [7, 3]"#,
            r#"INSERT INTO "student_course" ("student_id", "course_id") VALUES (?, ?) -- [1, 3]"#,
        ],
    );
}

#[test]
fn batching_dialects_insert_many_rows_per_statement() {
    let mut s = Database::offline(&Batching).session();
    seed(&mut s);
    // Links are made before the courses exist in the session's eyes as stored rows.
    check(
        &s,
        &[
            r#"INSERT INTO "students" ("name") VALUES (?), (?) -- ["Alice", "Bob"]"#,
            r#"INSERT INTO "courses" ("title", "credits") VALUES (?, ?), (?, ?) -- ["Math", 5, "Science", 5]"#,
            r#"INSERT INTO "student_course" ("student_id", "course_id") VALUES (?, ?), (?, ?), (?, ?) -- [1, 1, 1, 2, 2, 1]"#,
        ],
    );
}

/// The seed graph: Alice takes Math and Science, Bob takes Math (linked from the course's side:
/// the same set of pairs).
fn seed(s: &mut Session) {
    let alice = s.add(student(None, "Alice"));
    let bob = s.add(student(None, "Bob"));
    let math = s.add(course(None, "Math"));
    let science = s.add(course(None, "Science"));
    s.extend(Student::courses(), alice, [math, science]);
    s.link(Course::students(), math, bob);
}

#[test]
fn nothing_pending_plans_nothing() {
    let s = session();
    assert!(s.plan().unwrap().is_empty());
    check(&s, &[]);
}

#[test]
fn linking_twice_plans_one_row_and_unlinking_a_fresh_link_plans_nothing() {
    let mut s = session();
    let alice = s.adopt(student(Some(7), "Alice"));
    let math = s.add(course(None, "Math"));
    assert!(s.link(Student::courses(), alice, math));
    assert!(!s.link(Student::courses(), alice, math));
    assert!(!s.link(Course::students(), math, alice));
    check(
        &s,
        &[
            r#"INSERT INTO "courses" ("title", "credits") VALUES (?, ?) -- ["Math", 5]"#,
            r#"INSERT INTO "student_course" ("student_id", "course_id") VALUES (?, ?) -- [7, 1]"#,
        ],
    );
    // The course is new, so the database cannot hold the pair: undoing the link leaves nothing.
    assert!(s.unlink(Student::courses(), alice, math));
    check(
        &s,
        &[r#"INSERT INTO "courses" ("title", "credits") VALUES (?, ?) -- ["Math", 5]"#],
    );
}

#[test]
fn undoing_a_link_nobody_loaded_still_deletes_the_pair() {
    let mut s = session();
    let alice = s.adopt(student(Some(7), "Alice"));
    let math = s.adopt(course(Some(3), "Math"));
    // Neither collection is loaded: the pair may already be stored, so the link inserts with
    // ON CONFLICT DO NOTHING and the unlink that follows must delete.
    assert!(s.link(Student::courses(), alice, math));
    check(
        &s,
        &[
            r#"INSERT INTO "student_course" ("student_id", "course_id") VALUES (?, ?) ON CONFLICT DO NOTHING -- [7, 3]"#,
        ],
    );
    assert!(s.unlink(Student::courses(), alice, math));
    check(
        &s,
        &[r#"DELETE FROM "student_course" WHERE "student_id" = ? AND "course_id" = ? -- [7, 3]"#],
    );
}

#[test]
fn update_writes_only_changed_columns() {
    let mut s = session();
    let math = s.adopt(course(Some(3), "Math"));
    s[math].credits = 5; // unchanged value: nothing to write
    check(&s, &[]);
    s[math].title = "Algebra".into();
    check(
        &s,
        &[r#"UPDATE "courses" SET "title" = ? WHERE "id" = ? -- ["Algebra", 3]"#],
    );
    s[math].credits = 6;
    check(
        &s,
        &[r#"UPDATE "courses" SET "title" = ?, "credits" = ? WHERE "id" = ? -- ["Algebra", 6, 3]"#],
    );
}

#[test]
fn deletes_clear_their_pairs_and_come_last_skipping_pending_pairs_of_deleted_objects() {
    let mut s = session();
    let alice = s.adopt(student(Some(1), "Alice"));
    let bob = s.adopt(student(Some(2), "Bob"));
    let math = s.adopt(course(Some(10), "Math"));
    let art = s.add(course(None, "Art"));
    s.link(Student::courses(), alice, math);
    s.link(Student::courses(), bob, math);
    s.unlink(Student::courses(), alice, art); // a new course has no pairs: no-op
    s.unlink(Course::students(), math, bob); // cancels the link above
    s.link(Student::courses(), alice, art);
    s.delete(alice); // its pending links go with it: all its pairs are deleted
    s.unlink(Student::courses(), bob, math);
    check(
        &s,
        &[
            r#"INSERT INTO "courses" ("title", "credits") VALUES (?, ?) -- ["Art", 5]"#,
            r#"DELETE FROM "student_course" WHERE "student_id" IN (?) -- [1]"#,
            r#"DELETE FROM "student_course" WHERE "student_id" = ? AND "course_id" = ? -- [2, 10]"#,
            r#"DELETE FROM "students" WHERE "id" IN (?) -- [1]"#,
        ],
    );
}

#[test]
fn new_object_deleted_before_commit_is_never_written() {
    let mut s = session();
    let ghost = s.add(student(None, "Ghost"));
    let math = s.add(course(None, "Math"));
    s.link(Student::courses(), ghost, math);
    s.delete(ghost);
    check(
        &s,
        &[r#"INSERT INTO "courses" ("title", "credits") VALUES (?, ?) -- ["Math", 5]"#],
    );
}

#[test]
fn explicit_ids_are_inserted_in_their_own_statement() {
    let mut s = session();
    s.add(student(None, "Alice"));
    s.add(student(Some(42), "Answer"));
    check(
        &s,
        &[
            r#"INSERT INTO "students" ("id", "name") VALUES (?, ?) -- [42, "Answer"]"#,
            r#"INSERT INTO "students" ("name") VALUES (?) -- ["Alice"]"#,
        ],
    );
}

#[test]
fn large_inserts_are_chunked() {
    let mut s = Database::offline(&Batching).session();
    s.add_all((0..600).map(|i| student(None, &format!("s{i}"))));
    let got = s.pending_statements().unwrap();
    assert_eq!(
        got.len(),
        2,
        "600 rows, the dialect's 300 parameters a statement"
    );
    assert!(got[0].matches("(?)").count() == 300 && got[1].matches("(?)").count() == 300);
    // Deletes name at most 256 rows a statement, however many the dialect allows.
    let mut s = Database::offline(&Batching).session();
    let stored: Vec<_> = (1..=600).map(|i| s.adopt(student(Some(i), "x"))).collect();
    for k in stored {
        s.delete(k);
    }
    let got = s.pending_statements().unwrap();
    assert_eq!(
        got.len(),
        6,
        "600 deletes in chunks of 256, their pairs too: {got:#?}"
    );
    assert!(got[..3]
        .iter()
        .all(|s| s.starts_with(r#"DELETE FROM "student_course""#)));
    assert_eq!(got[2].matches('?').count(), 88);
    assert_eq!(got[5].matches('?').count(), 88);
    // Two parameters a row: the dialect's limit of 300 parameters caps a statement at 150 rows.
    let mut s = Database::offline(&Batching).session();
    s.add_all((0..300).map(|i| course(None, &format!("c{i}"))));
    let got = s.pending_statements().unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].matches("(?, ?)").count(), 150);
}

#[test]
fn changing_a_stored_key_is_an_error() {
    let mut s = session();
    let alice = s.adopt(student(Some(1), "Alice"));
    s[alice].id = Some(2);
    let e = s.pending_statements().unwrap_err().to_string();
    assert!(
        e.contains("primary key of students(id = 1, name = \"Alice\") was changed to 2"),
        "{e}"
    );
}

#[test]
fn ddl_orders_parents_first_with_keys_cascades_and_reverse_index() {
    let ddl = schema![StudentCourse, Course, Student]
        .ddl(&Sqlite)
        .unwrap();
    assert_eq!(
        ddl,
        [
            r#"CREATE TABLE IF NOT EXISTS "courses" ("id" INTEGER PRIMARY KEY, "title" TEXT NOT NULL, "credits" INTEGER NOT NULL) STRICT"#,
            r#"CREATE TABLE IF NOT EXISTS "students" ("id" INTEGER PRIMARY KEY, "name" TEXT NOT NULL) STRICT"#,
            concat!(
                r#"CREATE TABLE IF NOT EXISTS "student_course" ("student_id" INTEGER NOT NULL, "course_id" INTEGER NOT NULL, "#,
                r#"PRIMARY KEY ("student_id", "course_id"), "#,
                r#"FOREIGN KEY ("student_id") REFERENCES "students" ("id") ON DELETE CASCADE, "#,
                r#"FOREIGN KEY ("course_id") REFERENCES "courses" ("id") ON DELETE CASCADE) STRICT, WITHOUT ROWID"#
            ),
            r#"CREATE INDEX IF NOT EXISTS "student_course_course_id_student_id" ON "student_course" ("course_id", "student_id")"#,
        ]
    );
}

#[test]
fn offline_database_refuses_io_with_a_clear_error() {
    let mut s = session();
    s.add(student(None, "Alice"));
    let e = s.commit().unwrap_err().to_string();
    assert!(e.contains("offline"), "{e}");
    assert!(s.has_changes(), "a failed commit keeps the pending changes");
}

#[test]
fn mysql_without_consecutive_keys_inserts_a_row_per_statement() {
    for (dialect, statements) in [
        (&crate::sql::MySql::MYSQL, 1),
        (&crate::sql::MySql::MYSQL_ROW_KEYS, 3),
    ] {
        let mut s = Database::offline(dialect).session();
        s.add_all((0..3).map(|i| student(None, &format!("s{i}"))));
        let got = s.pending_statements().unwrap();
        assert_eq!(got.len(), statements, "{got:#?}");
        assert!(
            got.iter().all(|l| l.starts_with("INSERT INTO `students`")),
            "{got:#?}"
        );
    }
    // Rows with ids of their own need no generated key: still batched.
    let mut s = Database::offline(&crate::sql::MySql::MYSQL_ROW_KEYS).session();
    s.add_all((1..=3).map(|i| student(Some(i), &format!("s{i}"))));
    assert_eq!(s.pending_statements().unwrap().len(), 1);
}

#[test]
fn postgres_inserts_many_rows_from_one_array_per_column() {
    let mut s = Database::offline(&crate::sql::Postgres).session();
    seed(&mut s);
    s.add_all([student(Some(40), "Zoë"), student(Some(41), "张伟")]);
    check(
        &s,
        &[
            r#"INSERT INTO "students" ("id", "name") SELECT * FROM unnest($1::BIGINT[], $2::TEXT[]) -- [40, "Zoë", 41, "张伟"]"#,
            r#"SELECT setval(q.s, $3) FROM (SELECT pg_get_serial_sequence($1, $2)::regclass AS s) AS q WHERE $3 > COALESCE(pg_sequence_last_value(q.s), 0) -- ["\"students\"", "id", 41]"#,
            r#"INSERT INTO "students" ("name") SELECT * FROM unnest($1::TEXT[]) RETURNING "id" -- ["Alice", "Bob"]"#,
            r#"INSERT INTO "courses" ("title", "credits") SELECT * FROM unnest($1::TEXT[], $2::INTEGER[]) RETURNING "id" -- ["Math", 5, "Science", 5]"#,
            r#"INSERT INTO "student_course" ("student_id", "course_id") SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[]) -- [1, 1, 1, 2, 2, 1]"#,
        ],
    );
    // The statement is the same for any number of rows, and the parameter limit does not cap
    // the rows: 20,000 rows are two statements of up to 16,384.
    let mut s = Database::offline(&crate::sql::Postgres).session();
    s.add_all((0..20_000).map(|i| student(None, &format!("s{i}"))));
    let got = s.pending_statements().unwrap();
    assert_eq!(got.len(), 2, "{:#?}", &got[..1]);
    let sql = |line: &str| line.split(" -- ").next().unwrap().to_owned();
    assert_eq!(sql(&got[0]), sql(&got[1]));
}

/// Every write binds exactly the parameters its layout lists, naming the columns in the same
/// order: the SQL and the values of a row come from one `Write` value and cannot drift apart.
#[test]
fn every_write_binds_what_its_layout_lists_in_order() {
    use crate::sql::{Param, Write};
    let table = <Course as Model>::TABLE;
    let assoc = <StudentCourse as crate::Association>::ASSOC;
    let writes = [
        Write::InsertObjects {
            table,
            with_id: true,
        },
        Write::InsertObjects {
            table,
            with_id: false,
        },
        Write::Update {
            table,
            columns: &[1, 0],
        },
        Write::DeleteObjects {
            table,
            returning: false,
        },
        Write::InsertPairs {
            assoc,
            skip_present: true,
        },
        Write::DeletePairs {
            assoc,
            returning: false,
        },
    ];
    let dialects: [&dyn Dialect; 3] = [&Sqlite, &crate::Postgres, &crate::MySql::MYSQL];
    for d in dialects {
        for write in writes {
            let layout = write.layout();
            let sql = write.sql(d, 1);
            let placeholders = sql.matches('?').count() + sql.matches('$').count();
            assert_eq!(placeholders, layout.len(), "{sql} binds {layout:?}");
            // The columns the statement names, in the order they appear.
            let named: Vec<&str> = layout
                .iter()
                .map(|p| match *p {
                    Param::Key => table.primary_key,
                    Param::Column(c) => table.columns[c].name,
                    Param::End(crate::Side::Left) => assoc.left.column,
                    Param::End(crate::Side::Right) => assoc.right.column,
                })
                .collect();
            let mut at = 0;
            for name in &named {
                let found = sql[at..]
                    .find(name)
                    .unwrap_or_else(|| panic!("{name} missing or out of order in {sql}"));
                at += found + name.len();
            }
        }
    }
}

#[test]
fn user_placeholders_skip_quotes_and_comments() {
    use crate::sql::user_placeholders;
    use crate::Postgres;
    let (sql, n) = user_placeholders(
        &Postgres,
        "SELECT '?', \"a?\", `b?` FROM t -- ?\nWHERE x = ? /* ? */ AND y = 'it''s ?' AND z = ?",
    );
    assert_eq!(n, 2);
    assert_eq!(
        sql,
        "SELECT '?', \"a?\", `b?` FROM t -- ?\nWHERE x = $1 /* ? */ AND y = 'it''s ?' AND z = $2"
    );
    assert_eq!(user_placeholders(&Sqlite, "? ?"), ("? ?".to_owned(), 2));
}
