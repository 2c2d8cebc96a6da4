//! Random sequences of session operations, checked against a plain in-memory model (the
//! operations, the model and the harness that runs them are in `model_harness/mod.rs`).
//!
//! Each case runs on a brand-new database: SQLite in memory for the main search, and fewer cases
//! on a SQLite file, PostgreSQL and MySQL/MariaDB (the servers are skipped, with a note, when
//! their `RELATA_TEST_*` variable is unset; see `common::server_url`).

#[macro_use]
mod common;

mod model_harness;

use model_harness::{run, run_on_new, Op};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Алиса",
            "张伟",
            "𠮷",
            "O'Brien",
            "%_",
            "Zoë",
            "Bob",
            "",
            "'; DROP TABLE students;--",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Zа-яА-Я张伟𠮷%_' \\\\]{0,5}",
    ]
}

/// The changes a session makes, in and out of blocks.
fn change() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => name().prop_map(Op::AddStudent),
        2 => name().prop_map(Op::AddCourse),
        5 => (0..64usize, 0..64usize, any::<bool>()).prop_map(|(a, b, c)| Op::Link(a, b, c)),
        4 => (0..64usize, 0..64usize, any::<bool>()).prop_map(|(a, b, c)| Op::Unlink(a, b, c)),
        1 => (0..64usize).prop_map(Op::DeleteStudent),
        1 => (0..64usize).prop_map(Op::DeleteCourse),
    ]
}

/// What a transaction block or savepoint runs: changes, views, flushes.
fn inner_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        15 => change(),
        2 => (0..64usize).prop_map(Op::ViewStudent),
        2 => (0..64usize).prop_map(Op::ViewCourse),
        1 => any::<bool>().prop_map(Op::Eager),
        3 => Just(Op::Flush),
    ]
}

/// A savepoint, holding savepoints itself `depth` levels deep.
fn savepoint(depth: u32) -> BoxedStrategy<Op> {
    let body = if depth == 0 {
        inner_op().boxed()
    } else {
        prop_oneof![6 => inner_op(), 1 => savepoint(depth - 1)].boxed()
    };
    (prop::collection::vec(body, 0..10), any::<bool>())
        .prop_map(|(ops, fail)| Op::Savepoint(ops, fail))
        .boxed()
}

/// A transaction block of changes, flushes and savepoints.
fn block() -> impl Strategy<Value = Op> {
    let body = prop_oneof![6 => inner_op(), 2 => savepoint(1)];
    (prop::collection::vec(body, 0..14), any::<bool>()).prop_map(|(ops, fail)| Op::Block(ops, fail))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => block(),
        15 => change(),
        1 => Just(Op::Flush),
        3 => (0..64usize).prop_map(Op::ViewStudent),
        3 => (0..64usize).prop_map(Op::ViewCourse),
        3 => any::<bool>().prop_map(Op::Commit),
        2 => any::<bool>().prop_map(Op::Rollback),
        1 => Just(Op::Reopen),
        2 => any::<bool>().prop_map(Op::Eager),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 0..40)
}

/// The same property on every backend, each case on a brand-new database. SQLite in memory gets
/// the main search (256 cases, about a second); a file and the servers, where each case creates a
/// database (a schema on PostgreSQL), fewer. `PROPTEST_CASES=5000` sets every variant's count,
/// for a deeper search. All variants replay the seeds in `model_proptest.proptest-regressions`.
mod session_and_database_follow_the_model {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn sqlite_memory(ops in ops()) {
            run_on_new("memory", &ops);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn sqlite_file(ops in ops()) {
            run_on_new("file", &ops);
        }
    }

    // Without `#[test]`: plain functions, run below only when the server is there, so that a
    // skipped server is reported once rather than once a case.
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        fn postgres_cases(ops in ops()) {
            run_on_new("postgres", &ops);
        }

        fn mysql_cases(ops in ops()) {
            run_on_new("mysql", &ops);
        }
    }

    server_property_tests!(postgres_cases, mysql_cases);
}

backend_test! {
    /// A fixed sequence covering every operation, so the harness itself is exercised even if the
    /// random cases happen to miss something.
    fn harness_runs_a_fixed_sequence(t) {
        let i = |n: usize| n; // an index into the live objects, in add order
        let ops = [
            Op::AddStudent("Алиса".into()),
            Op::AddStudent("张伟".into()),
            Op::AddCourse("Math".into()),
            Op::AddCourse("𠮷".into()),
            Op::Link(i(0), i(0), false),
            Op::Link(i(1), i(0), true),
            Op::Link(i(0), i(1), false),
            Op::ViewCourse(i(0)),
            Op::Commit(false),
            Op::Unlink(i(0), i(0), true),
            Op::DeleteCourse(i(1)),
            Op::ViewStudent(i(0)),
            Op::Rollback(false),
            Op::DeleteStudent(i(1)),
            Op::Commit(true),
            Op::Link(i(0), i(1), true),
            Op::Unlink(i(0), i(1), false),
            Op::Commit(false),
            Op::Reopen,
            Op::Unlink(i(0), i(0), false),
            Op::ViewCourse(i(0)),
            Op::Link(i(0), i(1), false),
            Op::Commit(true),
            Op::Block(
                vec![
                    Op::AddCourse("Art".into()),
                    Op::Link(i(0), i(2), false),
                    Op::Flush,
                    Op::Savepoint(
                        vec![Op::DeleteStudent(i(0)), Op::Flush, Op::ViewCourse(i(2))],
                        true,
                    ),
                    Op::Savepoint(vec![Op::Unlink(i(0), i(1), true), Op::Flush], false),
                ],
                true,
            ),
            Op::Block(vec![Op::Flush, Op::Eager(true)], false),
        ];
        run(&t.db, &ops);
    }
}
