//! The six workloads on MySQL/MariaDB: relata against the raw `mysql` crate (the driver relata's
//! MySQL backend uses), prepared statements in one transaction, W1 in multi-row INSERTs.
//!
//! Each run gets a database of its own, dropped afterwards.

use std::path::Path;

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, Params, TxOpts, Value as MyValue};

use super::*;

/// The server, from `MY_URL` (default: the local test server).
pub fn base_url() -> String {
    std::env::var("MY_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

/// The server's URL with `database` as the path.
pub fn url_in(database: &str) -> Res<String> {
    let base = base_url();
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (base.as_str(), String::new()),
    };
    let authority_end = head
        .strip_prefix("mysql://")
        .and_then(|rest| rest.find('/').map(|i| i + "mysql://".len()))
        .unwrap_or(head.len());
    Ok(format!("{}/{database}{query}", &head[..authority_end]))
}

/// A connection with the session settings relata's backend uses (utf8mb4, binary collation).
fn connect_to(url: &str) -> Res<Conn> {
    let opts = OptsBuilder::from_opts(Opts::from_url(url)?)
        .init(vec!["SET NAMES utf8mb4 COLLATE utf8mb4_bin"]);
    Ok(Conn::new(opts)?)
}

pub fn connect(database: &str) -> Res<Conn> {
    connect_to(&url_in(database)?)
}

/// The run's database, dropped with the guard.
pub struct Db(pub String);

impl Db {
    /// A new, empty database for the run at `path`.
    pub fn create(path: &Path) -> Res<Db> {
        let name = server_run_name(path);
        let mut admin = connect_to(&base_url())?;
        admin.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))?;
        admin.query_drop(format!(
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))?;
        Ok(Db(name))
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let dropped = connect_to(&base_url())
            .and_then(|mut c| Ok(c.query_drop(format!("DROP DATABASE `{}`", self.0))?));
        if let Err(e) = dropped {
            eprintln!("could not drop database {}: {e}", self.0);
        }
    }
}

/// The server's version, for the table's heading.
pub fn version() -> Res<String> {
    let mut c = connect_to(&base_url())?;
    Ok(c.query_first::<String, _>("SELECT VERSION()")?
        .unwrap_or_default())
}

/// The same plain SQL read of a database for every implementation (see `fingerprint`).
fn fingerprint(database: &str, all_tables: bool) -> Res<u64> {
    let mut c = connect(database)?;
    let mut h = 0u64;
    if all_tables {
        for sql in [
            "SELECT id, name FROM students ORDER BY id",
            "SELECT id, title FROM courses ORDER BY id",
        ] {
            for (id, text) in c.query::<(i64, String), _>(sql)? {
                h = mix(h, id as u64);
                h = mix(h, str_hash(&text));
            }
        }
    }
    let pairs = c.query::<(i64, i64), _>(
        "SELECT student_id, course_id FROM student_course ORDER BY student_id, course_id",
    )?;
    for &(s, co) in &pairs {
        h = mix(h, s as u64);
        h = mix(h, co as u64);
    }
    Ok(mix(h, pairs.len() as u64))
}

/// relata on MySQL: the very workload code of the SQLite run.
pub fn relata(path: &Path, data: &Data) -> Res<Run> {
    let db = Db::create(path)?;
    let url = url_in(&db.0)?;
    with_relata::run_on(
        || Ok(Database::open(&url)?),
        |all| fingerprint(&db.0, all),
        data,
    )
}

/// The raw `mysql` crate: the DDL relata emits, then the six workloads.
pub fn raw(path: &Path, data: &Data) -> Res<Run> {
    let db = Db::create(path)?;
    let mut c = connect(&db.0)?;
    for sql in the_schema().ddl(&relata::MySql::MARIADB)? {
        c.query_drop(sql)?;
    }
    let lock_mode: Option<i64> = c.query_first("SELECT @@innodb_autoinc_lock_mode")?;
    if !matches!(lock_mode, Some(0 | 1)) {
        return Err(format!(
            "innodb_autoinc_lock_mode is {lock_mode:?}: the raw side reads a multi-row INSERT's \
             keys as consecutive, which needs 0 or 1"
        )
        .into());
    }
    let workloads = RawWorkloads {
        create,
        eager,
        lookup,
        reverse,
        churn,
        report,
    };
    workloads.run(c, || connect(&db.0), |all| fingerprint(&db.0, all), data)
}

/// Rows per multi-row INSERT: what relata's MySQL backend writes per statement.
const BATCH: usize = 256;

/// Inserts `rows` (each `width` values, flattened) in multi-row statements of up to `BATCH` rows,
/// each statement shape prepared once; returns the generated id of every row. MySQL numbers a
/// multi-row INSERT's rows consecutively from `LAST_INSERT_ID()` (InnoDB's default
/// `innodb_autoinc_lock_mode`; relata's backend checks the same thing the same way).
fn insert_batches(
    tx: &mut mysql::Transaction<'_>,
    table: &str,
    columns: &str,
    width: usize,
    values: Vec<MyValue>,
    want_ids: bool,
) -> Res<(Vec<i64>, u64)> {
    let rows = values.len() / width;
    let mut ids = Vec::with_capacity(if want_ids { rows } else { 0 });
    let mut inserted = 0u64;
    let one = format!("({})", vec!["?"; width].join(", "));
    let mut statements: HashMap<usize, mysql::Statement> = HashMap::new();
    let mut values = values.into_iter();
    let mut left = rows;
    while left > 0 {
        let n = left.min(BATCH);
        let stmt = match statements.get(&n) {
            Some(s) => s.clone(),
            None => {
                let sql = format!(
                    "INSERT INTO {table} ({columns}) VALUES {}",
                    vec![one.as_str(); n].join(", ")
                );
                let s = tx.prep(sql)?;
                statements.insert(n, s.clone());
                s
            }
        };
        let chunk: Vec<MyValue> = values.by_ref().take(n * width).collect();
        tx.exec_drop(&stmt, Params::Positional(chunk))?;
        let affected = tx.affected_rows();
        if affected != n as u64 {
            return Err(format!("{table}: {affected} rows inserted of {n}").into());
        }
        inserted += affected;
        if want_ids {
            let first = tx.last_insert_id().ok_or("no LAST_INSERT_ID")? as i64;
            ids.extend(first..first + n as i64);
        }
        left -= n;
    }
    Ok((ids, inserted))
}

/// W1: multi-row prepared INSERTs of 256 rows, one transaction.
fn create(c: &mut Conn, data: &Data) -> Res<(u64, Ids)> {
    let mut tx = c.start_transaction(TxOpts::default())?;
    let names = data
        .names
        .iter()
        .map(|n| MyValue::from(n.as_str()))
        .collect();
    let (students, _) = insert_batches(&mut tx, "students", "name", 1, names, true)?;
    let titles = data
        .titles
        .iter()
        .map(|t| MyValue::from(t.as_str()))
        .collect();
    let (courses, _) = insert_batches(&mut tx, "courses", "title", 1, titles, true)?;
    let mut pairs = Vec::with_capacity(data.links.len() * 2 * data.links[0].len());
    for (sid, picked) in students.iter().zip(&data.links) {
        for &ci in picked {
            pairs.push(MyValue::from(*sid));
            pairs.push(MyValue::from(courses[ci]));
        }
    }
    let (_, links) = insert_batches(
        &mut tx,
        "student_course",
        "student_id, course_id",
        2,
        pairs,
        false,
    )?;
    tx.commit()?;
    let ids = Ids { students, courses };
    let sum =
        links + ids.students.iter().sum::<i64>() as u64 + ids.courses.iter().sum::<i64>() as u64;
    Ok((sum, ids))
}

/// Streams the rows of a query without parameters, as the binary protocol does for relata.
fn each_row<T: mysql::prelude::FromRow>(c: &mut Conn, sql: &str, mut f: impl FnMut(T)) -> Res<()> {
    let stmt = c.prep(sql)?;
    for row in c.exec_iter(&stmt, ())? {
        f(mysql::from_row(row?));
    }
    Ok(())
}

/// W2 and W4: the targets into a map, the parents in id order, then the pairs in (parent,
/// target) order merged onto the parents; the checksum sums the targets' text lengths.
fn load_both_ways(c: &mut Conn, parents: &str, targets: &str, pairs: &str) -> Res<u64> {
    let mut by_id: IdMap<(i64, String)> = IdMap::default();
    each_row(c, targets, |(id, text): (i64, String)| {
        by_id.insert(id, (id, text));
    })?;
    let mut rows: Vec<(i64, String, Vec<i64>)> = Vec::new();
    each_row(c, parents, |(id, text): (i64, String)| {
        rows.push((id, text, Vec::new()))
    })?;
    let mut i = 0;
    each_row(c, pairs, |(pid, tid): (i64, i64)| {
        while rows[i].0 != pid {
            i += 1;
        }
        rows[i].2.push(tid);
    })?;
    let mut sum = 0u64;
    for (_, text, linked) in &rows {
        debug_assert!(!text.is_empty());
        for t in linked {
            sum += by_id[t].1.len() as u64;
        }
    }
    Ok(sum)
}

/// W2: every student with its courses.
fn eager(c: &mut Conn) -> Res<u64> {
    load_both_ways(
        c,
        "SELECT id, name FROM students ORDER BY id",
        "SELECT id, title FROM courses",
        "SELECT student_id, course_id FROM student_course ORDER BY student_id, course_id",
    )
}

/// W6: two GROUP BY statements as one would write them by hand.
fn report(c: &mut Conn) -> Res<u64> {
    let mut per_course = Vec::new();
    each_row(
        c,
        "SELECT CHAR_LENGTH(c.title), COUNT(sc.student_id) FROM courses c \
         LEFT JOIN student_course sc ON sc.course_id = c.id GROUP BY c.id",
        |r: (i64, i64)| per_course.push(r),
    )?;
    let mut per_student = Vec::new();
    each_row(
        c,
        "SELECT sc.student_id, CAST(AVG(CHAR_LENGTH(c.title)) AS DOUBLE) FROM student_course sc \
         JOIN courses c ON c.id = sc.course_id GROUP BY sc.student_id",
        |r: (i64, Option<f64>)| per_student.push(r.1),
    )?;
    Ok(report_sum(per_course, per_student))
}

/// W4: every course with its students (the pairs off the reverse index).
fn reverse(c: &mut Conn) -> Res<u64> {
    load_both_ways(
        c,
        "SELECT id, title FROM courses ORDER BY id",
        "SELECT id, name FROM students",
        "SELECT course_id, student_id FROM student_course ORDER BY course_id, student_id",
    )
}

/// W3: one prepared statement finds the student by name, one joins its courses.
fn lookup(c: &mut Conn, data: &Data) -> Res<u64> {
    let by_name = c.prep("SELECT id, name FROM students WHERE name = ?")?;
    let courses_of = c.prep(
        "SELECT c.id, c.title FROM student_course sc JOIN courses c ON c.id = sc.course_id \
         WHERE sc.student_id = ? ORDER BY c.id",
    )?;
    let mut sum = 0u64;
    for &i in &data.lookups {
        let (id, name): (i64, String) = c
            .exec_first(&by_name, (data.names[i].as_str(),))?
            .ok_or("student not found")?;
        debug_assert_eq!(name, data.names[i]);
        for (_, title) in c.exec::<(i64, String), _, _>(&courses_of, (id,))? {
            sum += title.len() as u64;
        }
    }
    Ok(sum)
}

/// W5: per step, read the student's course ids, DELETE one pair and INSERT another; one
/// transaction per 1,000 steps.
fn churn(c: &mut Conn, data: &Data, ids: &Ids) -> Res<()> {
    let current_of =
        c.prep("SELECT course_id FROM student_course WHERE student_id = ? ORDER BY course_id")?;
    let delete = c.prep("DELETE FROM student_course WHERE student_id = ? AND course_id = ?")?;
    let insert = c.prep("INSERT INTO student_course (student_id, course_id) VALUES (?, ?)")?;
    for batch in data.churn.chunks(CHURN_BATCH) {
        let mut tx = c.start_transaction(TxOpts::default())?;
        for &step in batch {
            let sid = ids.students[step.student];
            let current: Vec<i64> = tx.exec(&current_of, (sid,))?;
            let (drop, add) = churn_choice(&current, &ids.courses, step);
            tx.exec_drop(&delete, (sid, drop))?;
            tx.exec_drop(&insert, (sid, add))?;
        }
        tx.commit()?;
    }
    Ok(())
}
