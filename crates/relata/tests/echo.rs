//! Every statement is a `tracing` event under the target `relata::sql`, with its parameters.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

mod common;

use common::{Course, Student};
use relata::Database;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records every event as `target: field=value ...`.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0
            .lock()
            .unwrap()
            .push(format!("{}:{}", event.metadata().target(), fields.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Held by each test for its whole run. tracing caches whether anyone listens at a callsite
/// when the callsite is first hit; a callsite first hit on another thread while this test's
/// scoped subscriber (`with_default`) was being put in place was cached as unheard, and its
/// events (here `BEGIN`, `COMMIT` and the query) never reached the subscriber. So the tests
/// take turns, setup included.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn statements_are_traced_with_parameters_and_reasons() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let db = Database::open("sqlite::memory:").unwrap();
        db.create_all(&common::school()).unwrap();
        let mut s = db.session();
        let alice = s.add(Student {
            id: None,
            name: "Алиса".into(),
        });
        let math = s.add(Course {
            id: None,
            title: "Math".into(),
        });
        s.link(Student::courses(), alice, math);
        s.commit().unwrap();
        s.query::<Student>()
            .filter(Student::NAME.eq("Алиса"))
            .one()
            .unwrap();
    });
    let events = capture.0.lock().unwrap().join("\n");
    for expected in [
        r#"relata::sql: message=INSERT INTO "students" ("name") VALUES (?) why=commit: insert students rows=1 params=[("Алиса")]"#,
        r#"why=commit: link student_course rows=1 params=[(1, 1)]"#,
        r#"message=COMMIT why=commit"#,
        r#"WHERE "t0"."name" = ? LIMIT ? why=query students params=["Алиса", 2]"#,
    ] {
        assert!(
            events.contains(expected),
            "missing {expected:?} in\n{events}"
        );
    }
}

/// On PostgreSQL a commit that inserts 1,000 rows or more into a table refreshes that table's
/// planner statistics right after (`ANALYZE`), and only those tables; smaller commits do not.
#[test]
#[cfg_attr(
    relata_skip_postgres,
    ignore = "PostgreSQL test: set RELATA_TEST_POSTGRES to a server URL and build with --all-features (see README)"
)]
fn postgres_analyzes_after_a_bulk_load() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(t) = common::open_with("postgres", &common::school()) else {
        return;
    };
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let mut s = t.db.session();
        let math = s.add(common::course("Math"));
        let students = s.add_all((0..1_000).map(|i| common::student(&format!("s{i}"))));
        for &st in &students {
            s.link(Student::courses(), st, math);
        }
        s.commit().unwrap();
        // 999 more rows: below the threshold.
        s.add_all((0..999).map(|i| common::student(&format!("t{i}"))));
        s.commit().unwrap();
        // The connection is fine afterwards, outside any transaction.
        assert_eq!(s.query::<Student>().count().unwrap(), 1_999);
    });
    let events = capture.0.lock().unwrap();
    let analyzed: Vec<&String> = events.iter().filter(|e| e.contains("ANALYZE")).collect();
    assert_eq!(analyzed.len(), 1, "{analyzed:#?}");
    assert!(
        analyzed[0].contains(
            r#"message=ANALYZE "students", "student_course" why=statistics after a bulk load"#
        ),
        "{analyzed:#?}"
    );
}
