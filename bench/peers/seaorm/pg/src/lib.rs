//! The SeaORM peer's PostgreSQL half: the five workloads in **async SeaORM 2.x** (`sqlx-postgres`,
//! `runtime-tokio`) on a **current-thread** tokio runtime. sea-orm-sync, which the peer uses on
//! SQLite (`../src/main.rs`), has no PostgreSQL driver. The calls are the same as there, with
//! `.await`; the entities are the same source (`../src/entity/`), compiled here against async
//! SeaORM.
//!
//! The URL goes to `Database::connect` as given, with SeaORM's default pool options: sqlx reads
//! `options=-c search_path=<schema>` from it and sends it as a startup parameter, so every pooled
//! connection starts in the schema. Two effects of those defaults, kept because they are what a
//! SeaORM user gets: sqlx pings a connection before handing it out of the pool
//! (`test_before_acquire`), and it hands a connection back through a spawned task that a
//! current-thread runtime has not run yet when the next statement asks, so the pool opens a few
//! more connections (up to six seen in w3) inside the timer, each with its own statement cache.
//! (`max_connections(1)` was slower, 5.3 s against 3.7–4.2 s for w3 at full size on analysed
//! tables, as every statement then waits for that task.)
//!
//! The one difference from SQLite: PostgreSQL allows 65535 bound values per statement, the
//! limit the inserts here are sized to (2000-row statements measured about the same, 11.2 s
//! against 10.6 s for w1 at full size).

#[path = "../../src/data.rs"]
mod data;
#[path = "../../src/entity/mod.rs"]
mod entity;

use std::time::Instant;

use data::Data;
use entity::{course, lecture, student, student_course, teacher};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Database, DatabaseConnection, EntityTrait, ModelTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

/// PostgreSQL's limit on bound values in one statement (the wire protocol counts them in 16
/// bits). SeaORM binds every value and splits nothing itself, so the peer sizes its statements.
const MAX_BINDS: usize = 65535;

type Error = Box<dyn std::error::Error>;

/// Runs `workload` against the PostgreSQL `url`: connects, reads the data file, then times the
/// workload alone. Returns (seconds, checksum).
pub fn run(workload: &str, url: &str, data_path: &str) -> Result<(f64, u64), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(workload, url, data_path))
}

async fn run_async(workload: &str, url: &str, data_path: &str) -> Result<(f64, u64), Error> {
    let db = Database::connect(url).await?;
    let data = Data::read(data_path)?;
    // W5 reads the ids by index, in id order, before its timer.
    let ids = match workload {
        "w5" => Some(ids_in_order(&db).await?),
        _ => None,
    };

    let start = Instant::now();
    let sum = match (workload, &ids) {
        ("w1", _) => w1_create(&db, &data).await?,
        ("w2", _) => w2_eager(&db).await?,
        ("w3", _) => w3_lookup(&db, &data).await?,
        ("w4", _) => w4_reverse(&db).await?,
        ("w6", _) => w6_report(&db).await?,
        ("w8", _) => {
            let loaded: Vec<(teacher::Model, Vec<lecture::Model>)> = teacher::Entity::find()
                .find_with_related(lecture::Entity)
                .order_by_asc(teacher::Column::Id)
                .order_by_asc(lecture::Column::Id)
                .all(&db)
                .await?;
            data::w8_sum(&loaded)
        }
        ("w5", Some((student_ids, course_ids))) => {
            w5_churn(&db, &data, student_ids, course_ids).await?
        }
        (other, _) => return Err(format!("unknown workload {other:?}").into()),
    };
    let secs = start.elapsed().as_secs_f64();
    db.close().await?;
    Ok((secs, sum))
}

async fn ids_in_order(db: &DatabaseConnection) -> Result<(Vec<i64>, Vec<i64>), Error> {
    let student_ids: Vec<i64> = student::Entity::find()
        .select_only()
        .column(student::Column::Id)
        .order_by_asc(student::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let course_ids: Vec<i64> = course::Entity::find()
        .select_only()
        .column(course::Column::Id)
        .order_by_asc(course::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok((student_ids, course_ids))
}

async fn w1_create(db: &DatabaseConnection, data: &Data) -> Result<u64, Error> {
    let txn = db.begin().await?;

    let mut student_ids: Vec<i64> = Vec::with_capacity(data.names.len());
    for chunk in data.names.chunks(MAX_BINDS) {
        let rows = chunk.iter().map(|name| student::ActiveModel {
            name: Set(name.clone()),
            ..Default::default()
        });
        student_ids.extend(
            student::Entity::insert_many(rows)
                .exec_with_returning_keys(&txn)
                .await?,
        );
    }

    let mut course_ids: Vec<i64> = Vec::with_capacity(data.titles.len());
    for chunk in data.titles.chunks(MAX_BINDS) {
        let rows = chunk.iter().map(|title| course::ActiveModel {
            title: Set(title.clone()),
            ..Default::default()
        });
        course_ids.extend(
            course::Entity::insert_many(rows)
                .exec_with_returning_keys(&txn)
                .await?,
        );
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
        links += student_course::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }

    txn.commit().await?;

    let ids: i64 = student_ids.iter().sum::<i64>() + course_ids.iter().sum::<i64>();
    Ok(links + ids as u64)
}

async fn w2_eager(db: &DatabaseConnection) -> Result<u64, Error> {
    let loaded: Vec<(student::Model, Vec<course::Model>)> = student::Entity::find()
        .find_with_related(course::Entity)
        .all(db)
        .await?;
    Ok(loaded
        .iter()
        .flat_map(|(_, courses)| courses)
        .map(|c| c.title.len() as u64)
        .sum())
}

async fn w3_lookup(db: &DatabaseConnection, data: &Data) -> Result<u64, Error> {
    let mut sum = 0u64;
    for &i in &data.lookups {
        let name = data.names[i].as_str();
        let student = student::Entity::find()
            .filter(student::Column::Name.eq(name))
            .one(db)
            .await?
            .ok_or_else(|| format!("no student named {name:?}"))?;
        let courses = student.find_related(course::Entity).all(db).await?;
        sum += courses.iter().map(|c| c.title.len() as u64).sum::<u64>();
    }
    Ok(sum)
}

async fn w4_reverse(db: &DatabaseConnection) -> Result<u64, Error> {
    let loaded: Vec<(course::Model, Vec<student::Model>)> = course::Entity::find()
        .find_with_related(student::Entity)
        .all(db)
        .await?;
    Ok(loaded
        .iter()
        .flat_map(|(_, students)| students)
        .map(|s| s.name.len() as u64)
        .sum())
}

async fn w6_report(db: &DatabaseConnection) -> Result<u64, Error> {
    let per_course: Vec<(i64, i64)> = data::report::per_course().into_tuple().all(db).await?;
    let per_student: Vec<(i64, Option<f64>)> =
        data::report::per_student().into_tuple().all(db).await?;
    Ok(data::report_sum(&per_course, &per_student))
}

async fn w5_churn(
    db: &DatabaseConnection,
    data: &Data,
    student_ids: &[i64],
    course_ids: &[i64],
) -> Result<u64, Error> {
    let c = course_ids.len() as u64;
    for batch in data.churn.chunks(data.churn_batch.max(1)) {
        let txn = db.begin().await?;
        for &(s, drop_pick, add_from) in batch {
            let student = student::Entity::find_by_id(student_ids[s])
                .one(&txn)
                .await?
                .ok_or_else(|| format!("no student with id {}", student_ids[s]))?;
            let mut current: Vec<i64> = student
                .find_related(course::Entity)
                .all(&txn)
                .await?
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

            student_course::Entity::delete_by_id((student.id, drop))
                .exec(&txn)
                .await?;
            student_course::ActiveModel {
                student_id: Set(student.id),
                course_id: Set(add),
            }
            .insert(&txn)
            .await?;
        }
        txn.commit().await?;
    }
    Ok(0)
}
