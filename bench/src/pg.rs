//! The six workloads on PostgreSQL: relata against the raw `postgres` crate (prepared statements
//! in one transaction), plus W1 by `COPY` as the insert ceiling.
//!
//! Each run gets a schema of its own (`search_path`), dropped afterwards.

use std::io::Write as _;
use std::path::Path;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

use super::*;

/// The server, from `PG_URL` (default: the local test server).
pub fn base_url() -> String {
    std::env::var("PG_URL").unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

/// The URL of the server with `search_path` set to `schema`.
pub fn url_in(schema: &str) -> String {
    let base = base_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

pub fn connect(schema: &str) -> Res<Client> {
    Ok(url_in(schema).parse::<postgres::Config>()?.connect(NoTls)?)
}

/// Creates the run's schema; it is dropped by the returned guard.
pub struct Schema(pub String);

impl Schema {
    /// A new schema, with the shared tables created in it.
    pub fn create_with_tables(path: &Path) -> Res<Schema> {
        let schema = Schema::create(path)?;
        create_schema(&mut connect(&schema.0)?)?;
        Ok(schema)
    }

    /// A new, empty schema for the run at `path`.
    pub fn create(path: &Path) -> Res<Schema> {
        let name = server_run_name(path);
        let mut admin: Client = base_url().parse::<postgres::Config>()?.connect(NoTls)?;
        admin.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS \"{name}\" CASCADE; CREATE SCHEMA \"{name}\""
        ))?;
        Ok(Schema(name))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let dropped = base_url()
            .parse::<postgres::Config>()
            .and_then(|c| c.connect(NoTls))
            .and_then(|mut c| c.batch_execute(&format!("DROP SCHEMA \"{}\" CASCADE", self.0)));
        if let Err(e) = dropped {
            eprintln!("could not drop schema {}: {e}", self.0);
        }
    }
}

/// Writes every dirty page out (`CHECKPOINT`), outside the timings: every implementation
/// calls this before it starts and after its W1, so no workload pays for the writes of an
/// earlier one (the server checkpoints every `max_wal_size` of WAL, and a million-row W1
/// fills it). Without it, relata's W4 measured 1.6 s in the interleaved run against 0.9 s alone.
pub fn checkpoint() -> Res<()> {
    let mut c: Client = base_url().parse::<postgres::Config>()?.connect(NoTls)?;
    c.batch_execute("CHECKPOINT")?;
    Ok(())
}

/// `VACUUM` of the three tables, outside the timings, after every implementation's W1: what
/// autovacuum does on a default server after a bulk load (20% of a table inserted), but it is off
/// on this one. Without it the visibility map stays empty, so every index-only scan also reads
/// the heap row: the ordered read of the million pairs behind W4's eager load took 0.60 s in the
/// server instead of 0.18 s (`EXPLAIN (ANALYZE, BUFFERS)`: 1,004,900 buffers against 4,901),
/// while a hash join (Diesel's plan) barely notices. Whether autovacuum ran before W4 would
/// otherwise decide the result.
fn vacuum(c: &mut Client) -> Res<()> {
    // One statement per call: VACUUM refuses to run inside the implicit transaction of a
    // multi-statement batch.
    c.batch_execute("VACUUM students, courses, student_course")?;
    Ok(())
}

/// The same plain SQL read of a database for every implementation (see `fingerprint`); after
/// W1 (`all_tables`) it also vacuums and checkpoints.
pub fn fingerprint(schema: &str, all_tables: bool) -> Res<u64> {
    let mut c = connect(schema)?;
    let mut h = 0u64;
    if all_tables {
        for sql in [
            "SELECT id, name FROM students ORDER BY id",
            "SELECT id, title FROM courses ORDER BY id",
        ] {
            for r in c.query(sql, &[])? {
                h = mix(h, r.get::<_, i64>(0) as u64);
                h = mix(h, str_hash(r.get::<_, &str>(1)));
            }
        }
    }
    let mut n = 0u64;
    for r in c.query(
        "SELECT student_id, course_id FROM student_course ORDER BY student_id, course_id",
        &[],
    )? {
        h = mix(h, r.get::<_, i64>(0) as u64);
        h = mix(h, r.get::<_, i64>(1) as u64);
        n += 1;
    }
    if all_tables {
        vacuum(&mut c)?;
        checkpoint()?;
    }
    Ok(mix(h, n))
}

/// relata on PostgreSQL: the very workload code of the SQLite run.
pub fn relata(path: &Path, data: &Data) -> Res<Run> {
    let schema = Schema::create(path)?;
    let url = url_in(&schema.0);
    with_relata::run_on(
        || Ok(Database::open(&url)?),
        |all| fingerprint(&schema.0, all),
        data,
    )
}

/// Runs the DDL relata emits for the schema.
fn create_schema(c: &mut Client) -> Res<()> {
    let mut tx = c.transaction()?;
    for sql in the_schema().ddl(&relata::Postgres)? {
        tx.batch_execute(&sql)?;
    }
    tx.commit()?;
    Ok(())
}

/// The raw `postgres` crate: prepared statements, one transaction; then W1 again by COPY into
/// a second schema, as the insert ceiling.
pub fn raw(path: &Path, data: &Data) -> Res<Run> {
    let schema = Schema::create(path)?;
    let mut c = connect(&schema.0)?;
    create_schema(&mut c)?;
    let workloads = RawWorkloads {
        create,
        eager,
        lookup,
        reverse,
        churn,
        report,
    };
    let mut run = workloads.run(
        c,
        || connect(&schema.0),
        |all| fingerprint(&schema.0, all),
        data,
    )?;
    drop(schema);

    let copy_path = path.with_file_name(format!(
        "{}-copy",
        path.file_stem().and_then(|s| s.to_str()).unwrap_or("run")
    ));
    let schema = Schema::create(&copy_path)?;
    let mut c = connect(&schema.0)?;
    create_schema(&mut c)?;
    let (t, sum) = time(|| create_by_copy(&mut c, data))?;
    drop(c);
    if sum != run.sums[0] || fingerprint(&schema.0, true)? != run.state_after_create {
        return Err("W1 by COPY stored something else than W1 by INSERT".into());
    }
    run.copy_secs = Some(t);
    Ok(run)
}

/// W1: prepared single-row INSERTs (`RETURNING id` for the generated keys), one transaction,
/// then `ANALYZE`.
fn create(c: &mut Client, data: &Data) -> Res<(u64, Ids)> {
    let mut tx = c.transaction()?;
    let mut ids = Ids {
        students: Vec::with_capacity(data.names.len()),
        courses: Vec::with_capacity(data.titles.len()),
    };
    let ins = tx.prepare("INSERT INTO students (name) VALUES ($1) RETURNING id")?;
    for name in &data.names {
        ids.students.push(tx.query_one(&ins, &[name])?.get(0));
    }
    let ins = tx.prepare("INSERT INTO courses (title) VALUES ($1) RETURNING id")?;
    for title in &data.titles {
        ids.courses.push(tx.query_one(&ins, &[title])?.get(0));
    }
    let ins = tx.prepare("INSERT INTO student_course (student_id, course_id) VALUES ($1, $2)")?;
    let mut links = 0u64;
    for (sid, picked) in ids.students.iter().zip(&data.links) {
        for &ci in picked {
            links += tx.execute(&ins, &[sid, &ids.courses[ci]])?;
        }
    }
    tx.commit()?;
    // What an experienced user does after a bulk load (relata does it too): fresh planner
    // statistics now, not at autovacuum's next round.
    c.batch_execute("ANALYZE students, courses, student_course")?;
    let sum =
        links + ids.students.iter().sum::<i64>() as u64 + ids.courses.iter().sum::<i64>() as u64;
    Ok((sum, ids))
}

/// W1 by COPY (text format): the rows, then the generated ids read back in id order (one
/// writer, so a COPY's rows get consecutive ids in file order), then the links.
fn create_by_copy(c: &mut Client, data: &Data) -> Res<u64> {
    let mut tx = c.transaction()?;
    let escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('\t', "\\t")
            .replace('\n', "\\n")
            .replace('\r', "\\r")
    };
    let mut w = tx.copy_in("COPY students (name) FROM STDIN")?;
    for name in &data.names {
        writeln!(w, "{}", escape(name))?;
    }
    w.finish()?;
    let mut w = tx.copy_in("COPY courses (title) FROM STDIN")?;
    for title in &data.titles {
        writeln!(w, "{}", escape(title))?;
    }
    w.finish()?;
    let students: Vec<i64> = tx
        .query("SELECT id FROM students ORDER BY id", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let courses: Vec<i64> = tx
        .query("SELECT id FROM courses ORDER BY id", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut w = tx.copy_in("COPY student_course (student_id, course_id) FROM STDIN")?;
    let mut links = 0u64;
    for (sid, picked) in students.iter().zip(&data.links) {
        for &ci in picked {
            writeln!(w, "{sid}\t{}", courses[ci])?;
            links += 1;
        }
    }
    w.finish()?;
    tx.commit()?;
    c.batch_execute("ANALYZE students, courses, student_course")?;
    Ok(links + students.iter().sum::<i64>() as u64 + courses.iter().sum::<i64>() as u64)
}

struct StudentRow {
    id: i64,
    name: String,
    courses: Vec<i64>,
}

struct CourseRow {
    id: i64,
    title: String,
    students: Vec<i64>,
}

/// Streams the rows of a query without parameters.
fn each_row(c: &mut Client, sql: &str, mut f: impl FnMut(&postgres::Row)) -> Res<()> {
    let stmt = c.prepare(sql)?;
    let mut rows = c.query_raw(&stmt, std::iter::empty::<i64>())?;
    while let Some(r) = rows.next()? {
        f(&r);
    }
    Ok(())
}

/// W6: two GROUP BY statements as one would write them by hand.
fn report(c: &mut Client) -> Res<u64> {
    let mut per_course = Vec::new();
    each_row(
        c,
        "SELECT length(c.title)::bigint, COUNT(sc.student_id) FROM courses c \
         LEFT JOIN student_course sc ON sc.course_id = c.id GROUP BY c.id",
        |r| per_course.push((r.get::<_, i64>(0), r.get::<_, i64>(1))),
    )?;
    let mut per_student = Vec::new();
    each_row(
        c,
        "SELECT sc.student_id, AVG(length(c.title))::float8 FROM student_course sc \
         JOIN courses c ON c.id = sc.course_id GROUP BY sc.student_id",
        |r| per_student.push(r.get::<_, Option<f64>>(1)),
    )?;
    Ok(report_sum(per_course, per_student))
}

/// W2: the courses into a map, the students in id order, then the links merged on.
fn eager(c: &mut Client) -> Res<u64> {
    let mut courses: IdMap<CourseRow> = IdMap::default();
    each_row(c, "SELECT id, title FROM courses", |r| {
        let id = r.get(0);
        courses.insert(
            id,
            CourseRow {
                id,
                title: r.get(1),
                students: Vec::new(),
            },
        );
    })?;
    let mut students = Vec::new();
    each_row(c, "SELECT id, name FROM students ORDER BY id", |r| {
        students.push(StudentRow {
            id: r.get(0),
            name: r.get(1),
            courses: Vec::new(),
        })
    })?;
    let mut i = 0;
    each_row(
        c,
        "SELECT student_id, course_id FROM student_course ORDER BY student_id, course_id",
        |r| {
            let (sid, cid): (i64, i64) = (r.get(0), r.get(1));
            while students[i].id != sid {
                i += 1;
            }
            students[i].courses.push(cid);
        },
    )?;
    let mut sum = 0u64;
    for s in &students {
        debug_assert!(!s.name.is_empty());
        for cid in &s.courses {
            sum += courses[cid].title.len() as u64;
        }
    }
    debug_assert!(courses.values().all(|c| c.students.is_empty() && c.id > 0));
    Ok(sum)
}

/// W3: one prepared statement finds the student by name, one joins its courses.
fn lookup(c: &mut Client, data: &Data) -> Res<u64> {
    let by_name = c.prepare("SELECT id, name FROM students WHERE name = $1")?;
    let courses_of = c.prepare(
        "SELECT c.id, c.title FROM student_course sc JOIN courses c ON c.id = sc.course_id \
         WHERE sc.student_id = $1 ORDER BY c.id",
    )?;
    let mut sum = 0u64;
    for &i in &data.lookups {
        let r = c.query_one(&by_name, &[&data.names[i]])?;
        let student = StudentRow {
            id: r.get(0),
            name: r.get(1),
            courses: Vec::new(),
        };
        for r in c.query(&courses_of, &[&student.id])? {
            let course = CourseRow {
                id: r.get(0),
                title: r.get(1),
                students: Vec::new(),
            };
            sum += course.title.len() as u64;
        }
    }
    Ok(sum)
}

/// W4: the students into a map, the courses in id order, then the links (reverse index) merged on.
fn reverse(c: &mut Client) -> Res<u64> {
    let mut students: IdMap<StudentRow> = IdMap::default();
    each_row(c, "SELECT id, name FROM students", |r| {
        let id = r.get(0);
        students.insert(
            id,
            StudentRow {
                id,
                name: r.get(1),
                courses: Vec::new(),
            },
        );
    })?;
    let mut courses = Vec::new();
    each_row(c, "SELECT id, title FROM courses ORDER BY id", |r| {
        courses.push(CourseRow {
            id: r.get(0),
            title: r.get(1),
            students: Vec::new(),
        })
    })?;
    let mut i = 0;
    each_row(
        c,
        "SELECT course_id, student_id FROM student_course ORDER BY course_id, student_id",
        |r| {
            let (cid, sid): (i64, i64) = (r.get(0), r.get(1));
            while courses[i].id != cid {
                i += 1;
            }
            courses[i].students.push(sid);
        },
    )?;
    let mut sum = 0u64;
    for course in &courses {
        debug_assert!(!course.title.is_empty());
        for sid in &course.students {
            sum += students[sid].name.len() as u64;
        }
    }
    debug_assert!(students.values().all(|s| s.courses.is_empty() && s.id > 0));
    Ok(sum)
}

/// W5: per step, read the student's course ids, DELETE one pair and INSERT another; one
/// transaction per 1,000 steps.
fn churn(c: &mut Client, data: &Data, ids: &Ids) -> Res<()> {
    let current_of =
        c.prepare("SELECT course_id FROM student_course WHERE student_id = $1 ORDER BY course_id")?;
    let delete =
        c.prepare("DELETE FROM student_course WHERE student_id = $1 AND course_id = $2")?;
    let insert = c.prepare("INSERT INTO student_course (student_id, course_id) VALUES ($1, $2)")?;
    let mut current: Vec<i64> = Vec::new();
    for batch in data.churn.chunks(CHURN_BATCH) {
        let mut tx = c.transaction()?;
        for &step in batch {
            let sid = ids.students[step.student];
            current.clear();
            current.extend(
                tx.query(&current_of, &[&sid])?
                    .iter()
                    .map(|r| r.get::<_, i64>(0)),
            );
            let (drop, add) = churn_choice(&current, &ids.courses, step);
            tx.execute(&delete, &[&sid, &drop])?;
            tx.execute(&insert, &[&sid, &add])?;
        }
        tx.commit()?;
    }
    Ok(())
}
