//! The Diesel 2.x peer of relata's benchmark: `diesel-peer <w1|..|w6|w8> <url> <data.json>`
//! runs one workload (see `../README.md`) and prints `{"secs": S, "sum": N}`.
//!
//! It is written the way an experienced Diesel user writes it: a `table!` schema matching the
//! harness's DDL, derived `Queryable`/`Selectable`/`Identifiable`/`Insertable`/`Associations`
//! models, and the association API (`belonging_to` + `grouped_by`) for the many-to-many, through
//! the join model `StudentCourse` (two `belongs_to`). Every query is built by the typed query
//! builder, so the fixed-shape ones (W3, W5) hit Diesel's per-connection prepared-statement cache
//! after their first use. The workloads are written once (`workloads!`) and instantiated for
//! `SqliteConnection` and `PgConnection`, so each backend runs statically dispatched code (no
//! `MultiConnection`).
//!
//! - **w1**: one `transaction`; the ids come back through `.returning(id)` (RETURNING needs
//!   SQLite 3.35, hence the `returning_clauses_for_sqlite_3_35` feature), taken in RETURNING order.
//!   - PostgreSQL: multi-row `insert_into(..).values(&slice)` batches (`.get_results()` for
//!     students and courses, `execute` for the `StudentCourse` links, which counts the rows), each
//!     as large as the 65,535-bind limit of the wire protocol allows: a round trip per row is
//!     what would cost here.
//!   - SQLite: one `insert_into(..).values(&row)` per row (`get_result` / `execute`). A single
//!     row's insert has a static query id, so Diesel prepares it once and reuses it from the
//!     statement cache. Measured at full size, this beats 32,766-bind batches by 15-20% (about
//!     2.9 s against 3.5 s on a quiet moment): a multi-row `VALUES` compiles into a program as
//!     long as its rows, is prepared anew for every batch (a slice's insert has no static query
//!     id), and, as one statement that may fail half-done inside a transaction, makes SQLite keep
//!     a statement journal of every page it touches (the link index is touched all over). The
//!     batch path is kept (`row_at_a_time = false` in the `sqlite` instantiation below flips it).
//!
//!   On PostgreSQL W1 then runs `ANALYZE students, courses, student_course` (timed), as the
//!   harness's raw PostgreSQL side and relata do after a bulk load.
//! - **w2**: `students.load`, then `StudentCourse::belonging_to(&students).inner_join(courses)
//!   .select((StudentCourse::as_select(), Course::as_select()))`, then `.grouped_by(&students)`
//!   into `Vec<(Student, Vec<Course>)>`: Diesel's documented many-to-many eager load. On
//!   PostgreSQL `belonging_to` binds the parent ids as one array (`student_id = ANY($1)`), so it
//!   is one query whatever the number of parents. On SQLite it is `IN (?, ?, ...)` with one bind
//!   per parent, and 100,000 parents exceed the 32,766-bind limit, so the parents are chunked
//!   (4 queries at full size) and the pairs of all chunks grouped once. Chunking keeps the
//!   association API (it is what the same code does for any parent set, filtered or not);
//!   dropping the `IN` and joining every link would only be valid because W2 loads every student.
//! - **w3**: per lookup, `students.filter(name.eq(..)).first(conn)`, then
//!   `StudentCourse::belonging_to(&student).inner_join(courses).select(Course::as_select())`.
//!   Both statements are prepared once and reused from the statement cache (on SQLite, Diesel
//!   re-binds a borrowed parameter to NULL after each use, and the bundled build's STAT4 then has
//!   SQLite re-plan the name lookup at its next run: Diesel's behaviour, left as it is).
//! - **w4**: the mirror of w2: `courses.load`, `StudentCourse::belonging_to(&courses)
//!   .inner_join(students)`, `.grouped_by(&courses)` (1,000 parents: one query on both backends).
//! - **w5**: the ids are read (untimed) in id order; then, one `transaction` per `churn_batch`
//!   steps, per step: `students.find(id).first`, the student's courses via `belonging_to`, and
//!   `diesel::delete(student_course.find((student, drop)))` plus
//!   `insert_into(student_course).values(StudentCourse { .. })`, all from the statement cache.
//!
//! On SQLite every connection runs `PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;
//! PRAGMA cache_size = -65536;` (the harness's settings; the file is already in WAL mode).

use std::error::Error;
use std::process::ExitCode;
use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use serde::Deserialize;

/// The harness's schema (relata's DDL), as `diesel print-schema` would describe it with 64-bit
/// keys (`BIGINT` on PostgreSQL; SQLite's `INTEGER` is 64-bit).
mod schema {
    diesel::table! {
        students (id) {
            id -> BigInt,
            name -> Text,
        }
    }

    diesel::table! {
        courses (id) {
            id -> BigInt,
            title -> Text,
        }
    }

    diesel::table! {
        student_course (student_id, course_id) {
            student_id -> BigInt,
            course_id -> BigInt,
        }
    }

    diesel::joinable!(student_course -> students (student_id));
    diesel::joinable!(student_course -> courses (course_id));
    diesel::allow_tables_to_appear_in_same_query!(students, courses, student_course);

    // W8 (`BENCH=relations`): a one-to-many by a foreign key.
    diesel::table! {
        teachers (id) {
            id -> BigInt,
            name -> Text,
        }
    }

    diesel::table! {
        lectures (id) {
            id -> BigInt,
            title -> Text,
            teacher_id -> BigInt,
        }
    }

    diesel::joinable!(lectures -> teachers (teacher_id));
    diesel::allow_tables_to_appear_in_same_query!(teachers, lectures);
}

use schema::{courses, lectures, student_course, students, teachers};

#[derive(Queryable, Selectable, Identifiable, Debug)]
#[diesel(table_name = teachers)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct Teacher {
    id: i64,
    name: String,
}

#[derive(Queryable, Selectable, Identifiable, Associations, Debug)]
#[diesel(table_name = lectures)]
#[diesel(belongs_to(Teacher))]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct Lecture {
    id: i64,
    title: String,
    teacher_id: i64,
}

diesel::define_sql_function! {
    /// The length of a text (`length`, on both backends).
    fn length(x: diesel::sql_types::Text) -> diesel::sql_types::Integer;
}

#[derive(Queryable, Selectable, Identifiable, Debug, Clone)]
#[diesel(table_name = students)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct Student {
    id: i64,
    name: String,
}

/// A student to insert: the id is generated by the database.
#[derive(Insertable)]
#[diesel(table_name = students)]
struct NewStudent<'a> {
    name: &'a str,
}

#[derive(Queryable, Selectable, Identifiable, Debug, Clone)]
#[diesel(table_name = courses)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct Course {
    id: i64,
    title: String,
}

/// A course to insert: the id is generated by the database.
#[derive(Insertable)]
#[diesel(table_name = courses)]
struct NewCourse<'a> {
    title: &'a str,
}

/// The join model of the many-to-many.
#[derive(Queryable, Selectable, Identifiable, Insertable, Associations, Debug, Clone, Copy)]
#[diesel(table_name = student_course)]
#[diesel(primary_key(student_id, course_id))]
#[diesel(belongs_to(Student))]
#[diesel(belongs_to(Course))]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct StudentCourse {
    student_id: i64,
    course_id: i64,
}

/// The data file (see `../README.md`).
#[derive(Deserialize)]
struct Data {
    names: Vec<String>,
    titles: Vec<String>,
    /// Course indices per student.
    links: Vec<Vec<usize>>,
    /// Student indices.
    lookups: Vec<usize>,
    /// `[student index, drop_pick, add_from]`.
    churn: Vec<(usize, u64, usize)>,
    churn_batch: usize,
}

type Res<T> = Result<T, Box<dyn Error>>;

/// Runs `f`, returning the seconds it took and its result.
fn timed<T>(f: impl FnOnce() -> Res<T>) -> Res<(f64, T)> {
    let start = Instant::now();
    let out = f()?;
    Ok((start.elapsed().as_secs_f64(), out))
}

/// W5's choice for one step: the course to drop (`drop_pick` into the sorted current ids) and
/// the course to add (the first from `add_from` on, cyclically, that is not current).
fn churn_choice(
    current_sorted: &[i64],
    course_ids: &[i64],
    drop_pick: u64,
    add_from: usize,
) -> Res<(i64, i64)> {
    if current_sorted.is_empty() || course_ids.is_empty() {
        return Err("W5: a student without courses, or no courses".into());
    }
    let drop = current_sorted[(drop_pick % current_sorted.len() as u64) as usize];
    let n = course_ids.len();
    let add = (0..n)
        .map(|off| course_ids[(add_from + off) % n])
        .find(|c| current_sorted.binary_search(c).is_err())
        .ok_or("W5: a student who takes every course")?;
    Ok((drop, add))
}

/// The six workloads for one connection type. `row_at_a_time`: W1 inserts one row per statement
/// (Diesel's cached prepared statement) instead of multi-row batches; `analyze_after_load`: W1
/// ends with `ANALYZE` (timed, after the commit); `max_binds` is the most bind
/// parameters one statement may carry; `in_chunk` the most parents one `belonging_to` may take.
macro_rules! workloads {
    (
        $(#[$doc:meta])* $module:ident,
        $conn:ty,
        row_at_a_time = $row_at_a_time:expr,
        analyze_after_load = $analyze:expr,
        max_binds = $max_binds:expr,
        in_chunk = $in_chunk:expr
    ) => {
        $(#[$doc])*
        mod $module {
            use super::*;

            const ROW_AT_A_TIME: bool = $row_at_a_time;
            const ANALYZE_AFTER_LOAD: bool = $analyze;
            const MAX_BINDS: usize = $max_binds;
            const IN_CHUNK: usize = $in_chunk;

            /// Runs `workload` on `conn` and returns its seconds and sum.
            pub fn run(conn: &mut $conn, workload: &str, data: &Data) -> Res<(f64, u64)> {
                match workload {
                    "w1" => timed(|| {
                        let sum = create(conn, data)?;
                        if ANALYZE_AFTER_LOAD {
                            // What an experienced user does after a bulk load on a server (the
                            // harness's raw side and relata do it too): fresh planner statistics
                            // now, not at autovacuum's next round.
                            conn.batch_execute("ANALYZE students, courses, student_course")?;
                        }
                        Ok(sum)
                    }),
                    "w2" => timed(|| eager(conn)),
                    "w3" => timed(|| lookup(conn, data)),
                    "w4" => timed(|| reverse(conn)),
                    "w6" => timed(|| report(conn)),
                    "w8" => timed(|| teachers_with_lectures(conn)),
                    "w5" => {
                        // Untimed: the ids by index.
                        let student_ids: Vec<i64> = students::table
                            .select(students::id)
                            .order(students::id)
                            .load(conn)?;
                        let course_ids: Vec<i64> = courses::table
                            .select(courses::id)
                            .order(courses::id)
                            .load(conn)?;
                        timed(|| churn(conn, data, &student_ids, &course_ids).map(|()| 0))
                    }
                    other => Err(format!("unknown workload {other:?}").into()),
                }
            }

            /// W1: batch inserts returning the generated ids, in one transaction.
            fn create(conn: &mut $conn, data: &Data) -> Res<u64> {
                conn.transaction(|conn| {
                    let new_students: Vec<NewStudent> =
                        data.names.iter().map(|name| NewStudent { name }).collect();
                    let mut student_ids = Vec::with_capacity(new_students.len());
                    if ROW_AT_A_TIME {
                        for row in &new_students {
                            student_ids.push(
                                diesel::insert_into(students::table)
                                    .values(row)
                                    .returning(students::id)
                                    .get_result::<i64>(conn)?,
                            );
                        }
                    } else {
                        for chunk in new_students.chunks(MAX_BINDS) {
                            student_ids.extend(
                                diesel::insert_into(students::table)
                                    .values(chunk)
                                    .returning(students::id)
                                    .get_results::<i64>(conn)?,
                            );
                        }
                    }

                    let new_courses: Vec<NewCourse> =
                        data.titles.iter().map(|title| NewCourse { title }).collect();
                    let mut course_ids = Vec::with_capacity(new_courses.len());
                    if ROW_AT_A_TIME {
                        for row in &new_courses {
                            course_ids.push(
                                diesel::insert_into(courses::table)
                                    .values(row)
                                    .returning(courses::id)
                                    .get_result::<i64>(conn)?,
                            );
                        }
                    } else {
                        for chunk in new_courses.chunks(MAX_BINDS) {
                            course_ids.extend(
                                diesel::insert_into(courses::table)
                                    .values(chunk)
                                    .returning(courses::id)
                                    .get_results::<i64>(conn)?,
                            );
                        }
                    }
                    if student_ids.len() != data.names.len()
                        || course_ids.len() != data.titles.len()
                    {
                        return Err("W1: RETURNING gave the wrong number of ids".into());
                    }

                    let course_ids_ref = &course_ids;
                    let links: Vec<StudentCourse> = student_ids
                        .iter()
                        .zip(&data.links)
                        .flat_map(|(&student_id, picked)| {
                            picked.iter().map(move |&c| StudentCourse {
                                student_id,
                                course_id: course_ids_ref[c],
                            })
                        })
                        .collect();
                    let mut inserted = 0u64;
                    if ROW_AT_A_TIME {
                        for row in &links {
                            inserted += diesel::insert_into(student_course::table)
                                .values(row)
                                .execute(conn)? as u64;
                        }
                    } else {
                        for chunk in links.chunks(MAX_BINDS / 2) {
                            inserted += diesel::insert_into(student_course::table)
                                .values(chunk)
                                .execute(conn)? as u64;
                        }
                    }

                    let ids: i64 = student_ids.iter().sum::<i64>() + course_ids.iter().sum::<i64>();
                    Ok(inserted + ids as u64)
                })
            }

            /// W2: every student with their courses, by `belonging_to` + `grouped_by`.
            fn eager(conn: &mut $conn) -> Res<u64> {
                let all: Vec<Student> = students::table.select(Student::as_select()).load(conn)?;
                let mut pairs: Vec<(StudentCourse, Course)> = Vec::new();
                for parents in all.chunks(IN_CHUNK) {
                    pairs.extend(
                        StudentCourse::belonging_to(parents)
                            .inner_join(courses::table)
                            .select((StudentCourse::as_select(), Course::as_select()))
                            .load::<(StudentCourse, Course)>(conn)?,
                    );
                }
                let with_courses: Vec<(Student, Vec<Course>)> = pairs
                    .grouped_by(&all)
                    .into_iter()
                    .zip(all)
                    .map(|(pairs, student)| (student, pairs.into_iter().map(|(_, c)| c).collect()))
                    .collect();

                Ok(with_courses
                    .iter()
                    .flat_map(|(_, taken)| taken)
                    .map(|c| c.title.len() as u64)
                    .sum())
            }

            /// W8 (`BENCH=relations`): every teacher with its lectures, Diesel's documented
            /// one-to-many: `teachers.load`, `Lecture::belonging_to(&teachers)` (chunked under
            /// the bind limit on SQLite) in key order, `.grouped_by(&teachers)`. The checksum is
            /// the harness's: over teachers in key order (i from 1), i times (the name's length
            /// plus, over its lectures in key order, j from 1, j times the title's length).
            fn teachers_with_lectures(conn: &mut $conn) -> Res<u64> {
                let all: Vec<Teacher> = teachers::table
                    .order(teachers::id)
                    .select(Teacher::as_select())
                    .load(conn)?;
                let mut taught: Vec<Lecture> = Vec::new();
                for parents in all.chunks(IN_CHUNK) {
                    taught.extend(
                        Lecture::belonging_to(parents)
                            .order((lectures::teacher_id, lectures::id))
                            .select(Lecture::as_select())
                            .load::<Lecture>(conn)?,
                    );
                }
                let grouped: Vec<Vec<Lecture>> = taught.grouped_by(&all);
                let mut total = 0u64;
                for (i, (teacher, lectures)) in all.iter().zip(&grouped).enumerate() {
                    let mut inner = teacher.name.len() as u64;
                    for (j, l) in lectures.iter().enumerate() {
                        inner += (j as u64 + 1) * l.title.len() as u64;
                    }
                    total = total.wrapping_add((i as u64 + 1).wrapping_mul(inner));
                }
                Ok(total)
            }

            /// W3: a student by name, then their courses through the association.
            fn lookup(conn: &mut $conn, data: &Data) -> Res<u64> {
                let mut sum = 0u64;
                for &i in &data.lookups {
                    let student: Student = students::table
                        .filter(students::name.eq(&data.names[i]))
                        .select(Student::as_select())
                        .first(conn)?;
                    let taken: Vec<Course> = StudentCourse::belonging_to(&student)
                        .inner_join(courses::table)
                        .select(Course::as_select())
                        .load(conn)?;
                    sum += taken.iter().map(|c| c.title.len() as u64).sum::<u64>();
                }
                Ok(sum)
            }

            /// W4: every course with their students, by `belonging_to` + `grouped_by`.
            fn reverse(conn: &mut $conn) -> Res<u64> {
                let all: Vec<Course> = courses::table.select(Course::as_select()).load(conn)?;
                let mut pairs: Vec<(StudentCourse, Student)> = Vec::new();
                for parents in all.chunks(IN_CHUNK) {
                    pairs.extend(
                        StudentCourse::belonging_to(parents)
                            .inner_join(students::table)
                            .select((StudentCourse::as_select(), Student::as_select()))
                            .load::<(StudentCourse, Student)>(conn)?,
                    );
                }
                let with_students: Vec<(Course, Vec<Student>)> = pairs
                    .grouped_by(&all)
                    .into_iter()
                    .zip(all)
                    .map(|(pairs, course)| (course, pairs.into_iter().map(|(_, s)| s).collect()))
                    .collect();

                Ok(with_students
                    .iter()
                    .flat_map(|(_, taking)| taking)
                    .map(|s| s.name.len() as u64)
                    .sum())
            }

            /// W6: Diesel's query builder, two grouped joins: each course's title length and
            /// number of students (`left_join`, `group_by(courses::id)`, `count`), and each
            /// student's title-length sum and course count (`sum` / `count`, the average taken
            /// from them: Diesel's `avg` of an integer is a NUMERIC, read only with the
            /// `numeric` feature's BigDecimal).
            fn report(conn: &mut $conn) -> Res<u64> {
                use diesel::dsl::{count, sum};
                let per_course: Vec<(i32, i64)> = courses::table
                    .left_join(student_course::table)
                    .group_by(courses::id)
                    .select((length(courses::title), count(student_course::student_id.nullable())))
                    .load(conn)?;
                let per_student: Vec<(i64, Option<i64>, i64)> = student_course::table
                    .inner_join(courses::table)
                    .group_by(student_course::student_id)
                    .select((
                        student_course::student_id,
                        sum(length(courses::title)),
                        count(courses::id),
                    ))
                    .load(conn)?;
                let a: i64 = per_course.iter().map(|&(len, n)| i64::from(len) * n).sum();
                let b: i64 = per_student
                    .iter()
                    .map(|&(_, total, n)| {
                        total.map_or(0, |t| (t as f64 / n as f64 * 1000.0).round() as i64)
                    })
                    .sum();
                Ok((a + b) as u64)
            }

            /// W5: per step, the student, their courses, one link removed and one added; one
            /// transaction per `churn_batch` steps.
            fn churn(
                conn: &mut $conn,
                data: &Data,
                student_ids: &[i64],
                course_ids: &[i64],
            ) -> Res<()> {
                let mut current: Vec<i64> = Vec::new();
                for batch in data.churn.chunks(data.churn_batch.max(1)) {
                    conn.transaction(|conn| {
                        for &(student, drop_pick, add_from) in batch {
                            let student: Student = students::table
                                .find(student_ids[student])
                                .select(Student::as_select())
                                .first(conn)?;
                            let taken: Vec<Course> = StudentCourse::belonging_to(&student)
                                .inner_join(courses::table)
                                .select(Course::as_select())
                                .load(conn)?;
                            current.clear();
                            current.extend(taken.iter().map(|c| c.id));
                            current.sort_unstable();
                            let (drop, add) =
                                churn_choice(&current, course_ids, drop_pick, add_from)?;
                            diesel::delete(student_course::table.find((student.id, drop)))
                                .execute(conn)?;
                            diesel::insert_into(student_course::table)
                                .values(StudentCourse {
                                    student_id: student.id,
                                    course_id: add,
                                })
                                .execute(conn)?;
                        }
                        Ok::<_, Box<dyn Error>>(())
                    })?;
                }
                Ok(())
            }
        }
    };
}

workloads!(
    /// SQLite: W1 row at a time (faster here than batches: see the top of the file); 32,766
    /// binds per statement (SQLite's default `SQLITE_MAX_VARIABLE_NUMBER`, which the bundled
    /// build keeps), and `belonging_to` binds one variable per parent.
    sqlite,
    SqliteConnection,
    row_at_a_time = true,
    analyze_after_load = false,
    max_binds = 32_766,
    in_chunk = 32_766
);

workloads!(
    /// PostgreSQL: W1 in multi-row batches (a round trip per statement is what costs here) of up
    /// to 65,535 binds (the wire protocol's limit); `belonging_to` binds the parent ids as one
    /// array (`= ANY($1)`), so it needs no chunking.
    pg,
    PgConnection,
    row_at_a_time = false,
    analyze_after_load = true,
    max_binds = 65_535,
    in_chunk = usize::MAX
);

fn run() -> Res<(f64, u64)> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [workload, url, data_path] = args.as_slice() else {
        return Err("usage: diesel-peer <w1|w2|w3|w4|w5|w6|w8> <url> <data.json>".into());
    };
    let data: Data = serde_json::from_slice(&std::fs::read(data_path)?)
        .map_err(|e| format!("{data_path}: {e}"))?;
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut conn = SqliteConnection::establish(path)?;
        conn.batch_execute(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;",
        )?;
        sqlite::run(&mut conn, workload, &data)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut conn = PgConnection::establish(url)?;
        pg::run(&mut conn, workload, &data)
    } else {
        Err(format!("unsupported url {url:?} (sqlite:///path or postgres://...)").into())
    }
}

fn main() -> ExitCode {
    match run() {
        Ok((secs, sum)) => {
            println!("{{\"secs\": {secs}, \"sum\": {sum}}}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("diesel-peer: {e}");
            ExitCode::FAILURE
        }
    }
}
