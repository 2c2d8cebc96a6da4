//! The bench's SeaORM 2.x peer: `seaorm-peer <w1|..|w6|w8> <url> <data.json>` (protocol and
//! workloads in `../README.md`).
//!
//! Flavours: **SQLite** runs on **sea-orm-sync 2.x** (SeaORM's synchronous build; driver
//! rusqlite 0.38 with its own bundled SQLite), this file. sea-orm-sync has no PostgreSQL driver,
//! so **PostgreSQL** runs on **async SeaORM 2.x** (`sqlx-postgres`) on a current-thread tokio
//! runtime, in the `seaorm-pg` crate (`pg/`), which does the same five workloads with the same
//! calls plus `.await`; both compile the same entity source (`src/entity/`). On SQLite the one
//! connection that sea-orm-sync keeps runs relata's pragmas (`foreign_keys = ON`,
//! `synchronous = NORMAL`, `cache_size = -65536`) through `execute_unprepared` right after
//! `Database::connect`.
//!
//! The entities (`entity/`) are `DeriveEntityModel` structs with `DeriveRelation` enums; the
//! many-to-many is `Related<course::Entity> for student::Entity` through `student_course`
//! (`to()` + `via()`), and the mirror.
//!
//! - **w1**: one transaction (`db.begin()` … `txn.commit()`); students and courses with
//!   `Entity::insert_many(..).exec_with_returning_keys(..)` (`INSERT … RETURNING "id"`), the
//!   generated ids read back in data order; then the links with
//!   `student_course::Entity::insert_many(..).exec_without_returning(..)` (no generated key, the
//!   affected-row count is the links inserted). Each `INSERT` carries as many rows as SQLite's
//!   limit on bound values allows ([`MAX_BINDS`]; 2 values a link), as few statements as
//!   possible: SQLite journals the pages each multi-row statement touches, so fewer, larger
//!   statements are measurably faster (32766 rows: ~2.2 s at full size, 1000 rows: ~3.8 s).
//! - **w2**: SeaORM's eager loading, `student::Entity::find().find_with_related(course::Entity)
//!   .all(db)` → `Vec<(student::Model, Vec<course::Model>)>`: one query, students `LEFT JOIN`
//!   student_course `LEFT JOIN` courses through `Related::via`, ordered by student id, folded
//!   into the pairs by SeaORM. Chosen over the 2.x loader (`students.load_many(course::Entity,
//!   db)`, which in 2.x does many-to-many itself; `load_many_to_many` is legacy) because the
//!   loader puts every student id in one `IN` list, which fails at full size on SQLite ("too many
//!   SQL variables", limit 32766) and needs hand-made slices; in slices of 1000 it measured the
//!   same on SQLite (w2 1.35–1.5 s, w4 1.5 s against 1.25 s) and on analysed PostgreSQL, but its
//!   `IN (($1), ..)` queries take ~56 s for w2 on the unanalysed tables the harness leaves.
//! - **w3**: `student::Entity::find().filter(student::Column::Name.eq(..)).one(db)`, then
//!   `student.find_related(course::Entity).all(db)` (a join through the junction).
//! - **w4**: the mirror of w2 (`course::Entity::find().find_with_related(student::Entity)`).
//! - **w5**: ids read first with `select_only().column(..).into_tuple()`; then per step, in a
//!   transaction of `churn_batch` steps: `student::Entity::find_by_id(id).one(&txn)`,
//!   `student.find_related(course::Entity).all(&txn)`,
//!   `student_course::Entity::delete_by_id((sid, drop)).exec(&txn)` and
//!   `student_course::ActiveModel { .. }.insert(&txn)`.
//! - **w6**: SeaORM's query builder with sea-query functions (`data::report`): `select_only()`,
//!   `column_as(Func::count(..))`, `join(JoinType::LeftJoin, course::Relation::StudentCourse
//!   .def())`, `group_by`, `into_tuple()`; lengths cast to BIGINT and averages to DOUBLE
//!   PRECISION so they decode the same on SQLite and PostgreSQL.
//! - **w8** (`BENCH=relations`): the one-to-many `teacher` → `lecture` (`has_many` /
//!   `belongs_to` entities), `teacher::Entity::find().find_with_related(lecture::Entity)` ordered
//!   by both keys: one query, teachers `LEFT JOIN` lectures, folded per teacher by SeaORM.

mod data;
mod entity;

use std::process::ExitCode;
use std::time::Instant;

use data::Data;
use entity::{course, lecture, student, student_course, teacher};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait,
    ModelTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

/// SQLite's limit on bound values in one statement (`SQLITE_MAX_VARIABLE_NUMBER`, 32766 since
/// 3.32). SeaORM binds every value and splits nothing itself, so the peer sizes its statements.
const MAX_BINDS: usize = 32766;

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    match run() {
        Ok((secs, sum)) => {
            println!("{{\"secs\": {secs}, \"sum\": {sum}}}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seaorm-peer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(f64, u64), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, workload, url, data_path] = &args[..] else {
        return Err("usage: seaorm-peer <w1|w2|w3|w4|w5|w6|w8> <url> <data.json>".into());
    };
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return seaorm_pg::run(workload, url, data_path);
    }
    if !url.starts_with("sqlite:") {
        return Err(format!("not a sqlite: or postgres: URL: {url}").into());
    }
    let db = connect(url)?;
    let data = Data::read(data_path)?;

    match workload.as_str() {
        "w1" => timed(|| w1_create(&db, &data)),
        "w2" => timed(|| w2_eager(&db)),
        "w3" => timed(|| w3_lookup(&db, &data)),
        "w4" => timed(|| w4_reverse(&db)),
        "w6" => timed(|| w6_report(&db)),
        "w8" => timed(|| w8_one_to_many(&db)),
        "w5" => {
            // Untimed: the ids by index, in id order.
            let student_ids: Vec<i64> = student::Entity::find()
                .select_only()
                .column(student::Column::Id)
                .order_by_asc(student::Column::Id)
                .into_tuple()
                .all(&db)?;
            let course_ids: Vec<i64> = course::Entity::find()
                .select_only()
                .column(course::Column::Id)
                .order_by_asc(course::Column::Id)
                .into_tuple()
                .all(&db)?;
            timed(|| w5_churn(&db, &data, &student_ids, &course_ids))
        }
        other => Err(format!("unknown workload {other:?}").into()),
    }
}

fn connect(url: &str) -> Result<DatabaseConnection, Error> {
    let db = Database::connect(url)?;
    // sea-orm-sync holds a single rusqlite connection, so this is every connection it uses.
    db.execute_unprepared(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;",
    )?;
    Ok(db)
}

fn timed(f: impl FnOnce() -> Result<u64, Error>) -> Result<(f64, u64), Error> {
    let start = Instant::now();
    let sum = f()?;
    Ok((start.elapsed().as_secs_f64(), sum))
}

fn w1_create(db: &DatabaseConnection, data: &Data) -> Result<u64, Error> {
    let txn = db.begin()?;

    let mut student_ids: Vec<i64> = Vec::with_capacity(data.names.len());
    for chunk in data.names.chunks(MAX_BINDS) {
        let rows = chunk.iter().map(|name| student::ActiveModel {
            name: Set(name.clone()),
            ..Default::default()
        });
        student_ids.extend(student::Entity::insert_many(rows).exec_with_returning_keys(&txn)?);
    }

    let mut course_ids: Vec<i64> = Vec::with_capacity(data.titles.len());
    for chunk in data.titles.chunks(MAX_BINDS) {
        let rows = chunk.iter().map(|title| course::ActiveModel {
            title: Set(title.clone()),
            ..Default::default()
        });
        course_ids.extend(course::Entity::insert_many(rows).exec_with_returning_keys(&txn)?);
    }
    if student_ids.len() != data.names.len() || course_ids.len() != data.titles.len() {
        return Err("INSERT … RETURNING gave back the wrong number of ids".into());
    }

    let pairs: Vec<(i64, i64)> = data
        .links
        .iter()
        .enumerate()
        .flat_map(|(i, picked)| picked.iter().map(move |&j| (i, j)))
        .map(|(i, j)| (student_ids[i], course_ids[j]))
        .collect();
    let mut links = 0u64;
    for chunk in pairs.chunks(MAX_BINDS / 2) {
        let rows = chunk
            .iter()
            .map(|&(student_id, course_id)| student_course::ActiveModel {
                student_id: Set(student_id),
                course_id: Set(course_id),
            });
        links += student_course::Entity::insert_many(rows).exec_without_returning(&txn)?;
    }

    txn.commit()?;

    let ids: i64 = student_ids.iter().sum::<i64>() + course_ids.iter().sum::<i64>();
    Ok(links + ids as u64)
}

fn w2_eager(db: &DatabaseConnection) -> Result<u64, Error> {
    let loaded: Vec<(student::Model, Vec<course::Model>)> = student::Entity::find()
        .find_with_related(course::Entity)
        .all(db)?;
    Ok(loaded
        .iter()
        .flat_map(|(_, courses)| courses)
        .map(|c| c.title.len() as u64)
        .sum())
}

/// W8 (`BENCH=relations`): every teacher with its lectures, `find_with_related` on the
/// one-to-many (one query, teachers `LEFT JOIN` lectures), lectures in key order within each
/// teacher. The checksum is the harness's (see `w8_sum`).
fn w8_one_to_many(db: &DatabaseConnection) -> Result<u64, Error> {
    let loaded: Vec<(teacher::Model, Vec<lecture::Model>)> = teacher::Entity::find()
        .find_with_related(lecture::Entity)
        .order_by_asc(teacher::Column::Id)
        .order_by_asc(lecture::Column::Id)
        .all(db)?;
    Ok(data::w8_sum(&loaded))
}

fn w3_lookup(db: &DatabaseConnection, data: &Data) -> Result<u64, Error> {
    let mut sum = 0u64;
    for &i in &data.lookups {
        let name = data.names[i].as_str();
        let student = student::Entity::find()
            .filter(student::Column::Name.eq(name))
            .one(db)?
            .ok_or_else(|| format!("no student named {name:?}"))?;
        let courses = student.find_related(course::Entity).all(db)?;
        sum += courses.iter().map(|c| c.title.len() as u64).sum::<u64>();
    }
    Ok(sum)
}

fn w4_reverse(db: &DatabaseConnection) -> Result<u64, Error> {
    let loaded: Vec<(course::Model, Vec<student::Model>)> = course::Entity::find()
        .find_with_related(student::Entity)
        .all(db)?;
    Ok(loaded
        .iter()
        .flat_map(|(_, students)| students)
        .map(|s| s.name.len() as u64)
        .sum())
}

fn w6_report(db: &DatabaseConnection) -> Result<u64, Error> {
    let per_course: Vec<(i64, i64)> = data::report::per_course().into_tuple().all(db)?;
    let per_student: Vec<(i64, Option<f64>)> = data::report::per_student().into_tuple().all(db)?;
    Ok(data::report_sum(&per_course, &per_student))
}

fn w5_churn(
    db: &DatabaseConnection,
    data: &Data,
    student_ids: &[i64],
    course_ids: &[i64],
) -> Result<u64, Error> {
    let c = course_ids.len() as u64;
    for batch in data.churn.chunks(data.churn_batch.max(1)) {
        let txn = db.begin()?;
        for &(s, drop_pick, add_from) in batch {
            let student = student::Entity::find_by_id(student_ids[s])
                .one(&txn)?
                .ok_or_else(|| format!("no student with id {}", student_ids[s]))?;
            let mut current: Vec<i64> = student
                .find_related(course::Entity)
                .all(&txn)?
                .into_iter()
                .map(|course| course.id)
                .collect();
            if current.is_empty() {
                return Err(format!("student {} has no courses", student.id).into());
            }
            current.sort_unstable();
            let drop = current[(drop_pick % current.len() as u64) as usize];
            let add = (0..c)
                .map(|off| course_ids[((add_from % c + off) % c) as usize])
                .find(|id| current.binary_search(id).is_err())
                .ok_or_else(|| format!("student {} takes every course", student.id))?;

            student_course::Entity::delete_by_id((student.id, drop)).exec(&txn)?;
            student_course::ActiveModel {
                student_id: Set(student.id),
                course_id: Set(add),
            }
            .insert(&txn)?;
        }
        txn.commit()?;
    }
    Ok(0)
}
