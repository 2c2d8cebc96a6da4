//! relata against plain rusqlite on five students/courses workloads (see README.md).
//!
//! ```text
//! cd bench && cargo run --release                      # full size: S=100000 C=1000 K=10
//! S=2000 C=50 K=5 REPS=3 cargo run --release           # a quick run
//! ```
//!
//! Every workload of both implementations reports a checksum; if any differs the program exits
//! with status 1 before printing the table.

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use relata::{schema, Association, Database, Model};
use rusqlite::Connection;

type Res<T> = Result<T, Box<dyn Error>>;

// ---------------------------------------------------------------------------------------------
// The schema (relata's models; the raw side runs the DDL relata emits for them).
// ---------------------------------------------------------------------------------------------

#[derive(Model)]
#[relata(table = "students")]
pub struct Student {
    #[relata(primary_key)]
    pub id: Option<i64>,
    #[relata(index)]
    pub name: String,
}

#[derive(Model)]
#[relata(table = "courses")]
pub struct Course {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub title: String,
}

#[derive(Association)]
#[relata(table = "student_course")]
pub struct StudentCourse {
    #[relata(references = Student, relation = "courses")]
    pub student_id: i64,
    #[relata(references = Course, relation = "students")]
    pub course_id: i64,
}

fn the_schema() -> relata::Schema {
    schema![Student, Course, StudentCourse]
}

// ---------------------------------------------------------------------------------------------
// Deterministic data.
// ---------------------------------------------------------------------------------------------

/// SplitMix64: small, fast, and good enough for picking benchmark data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One W5 step: a student (by index), which of their current courses to drop (`drop_pick` modulo
/// how many they have, in id order) and where to start looking for a course they lack.
#[derive(Clone, Copy)]
struct ChurnStep {
    student: usize,
    drop_pick: u64,
    add_from: usize,
}

struct Data {
    names: Vec<String>,
    titles: Vec<String>,
    /// Per student, the indices of its K distinct courses.
    links: Vec<Vec<usize>>,
    /// W3: student indices to look up by name.
    lookups: Vec<usize>,
    /// W5: the steps.
    churn: Vec<ChurnStep>,
}

const SEED: u64 = 0x5EED_2024_0BAD_CAFE;
const CHURN_BATCH: usize = 1000;

impl Data {
    fn generate(cfg: &Config) -> Data {
        let mut rng = Rng(SEED);
        let names = (0..cfg.students).map(|i| format!("student-{i}")).collect();
        let titles = (0..cfg.courses)
            .map(|j| format!("course-{j}-{}", "x".repeat(rng.below(48))))
            .collect();
        let links = (0..cfg.students)
            .map(|_| {
                let mut picked = Vec::with_capacity(cfg.per_student);
                while picked.len() < cfg.per_student {
                    let c = rng.below(cfg.courses);
                    if !picked.contains(&c) {
                        picked.push(c);
                    }
                }
                picked
            })
            .collect();
        let lookups = (0..cfg.lookups).map(|_| rng.below(cfg.students)).collect();
        let churn = (0..cfg.churn)
            .map(|_| ChurnStep {
                student: rng.below(cfg.students),
                drop_pick: rng.next(),
                add_from: rng.below(cfg.courses),
            })
            .collect();
        Data {
            names,
            titles,
            links,
            lookups,
            churn,
        }
    }
}

/// The change a W5 step makes, decided from the student's current course ids (sorted): drop the
/// `drop_pick`-th, add the first course (by index, from `add_from`, wrapping) the student lacks.
/// Both implementations call this, so they make the same changes.
fn churn_choice(current_sorted: &[i64], course_ids: &[i64], step: ChurnStep) -> (i64, i64) {
    let drop = current_sorted[(step.drop_pick % current_sorted.len() as u64) as usize];
    let n = course_ids.len();
    let add = (0..n)
        .map(|off| course_ids[(step.add_from + off) % n])
        .find(|c| current_sorted.binary_search(c).is_err())
        .expect("K < C, so every student lacks some course");
    (drop, add)
}

// ---------------------------------------------------------------------------------------------
// Configuration and results.
// ---------------------------------------------------------------------------------------------

struct Config {
    students: usize,
    courses: usize,
    per_student: usize,
    reps: usize,
    lookups: usize,
    churn: usize,
}

fn env_usize(name: &str, default: usize) -> Res<usize> {
    match std::env::var(name) {
        Ok(v) => Ok(v
            .trim()
            .replace('_', "")
            .parse()
            .map_err(|e| format!("{name}={v}: {e}"))?),
        Err(_) => Ok(default),
    }
}

impl Config {
    fn from_env() -> Res<Config> {
        // QUICK=1: a small run (well under two minutes with every peer); any size set
        // explicitly still wins.
        let quick = std::env::var("QUICK").is_ok_and(|v| v != "0");
        let pick = |full: usize, small: usize| if quick { small } else { full };
        let cfg = Config {
            students: env_usize("S", pick(100_000, 2_000))?,
            courses: env_usize("C", pick(1000, 100))?,
            per_student: env_usize("K", pick(10, 5))?,
            reps: env_usize("REPS", pick(1, 3))?,
            lookups: env_usize("LOOKUPS", pick(10_000, 1_000))?,
            churn: env_usize("CHURN", pick(20_000, 2_000))?,
        };
        if cfg.students == 0 || cfg.per_student == 0 || cfg.per_student >= cfg.courses {
            return Err("need S >= 1 and 1 <= K < C".into());
        }
        if cfg.reps == 0 {
            return Err("need REPS >= 1".into());
        }
        Ok(cfg)
    }
}

/// The workloads: name, the most relata may take against the raw driver, and the least
/// SQLAlchemy should take against relata (10x where the client's work dominates; W6 is one
/// aggregate statement a client only sends, so the database's time is everyone's).
const WORKLOADS: [(&str, f64, f64); 6] = [
    ("W1 create", 1.2, 10.0),
    ("W2 eager", 1.2, 10.0),
    ("W3 lookup", 1.5, 10.0),
    ("W4 reverse", 1.2, 10.0),
    ("W5 churn", 1.2, 10.0),
    ("W6 report", 1.1, 1.0),
];

/// W6's checksum: over courses, the number of students times the title's length; plus over
/// students, the average title length of their courses in thousandths.
fn report_sum(
    per_course: impl IntoIterator<Item = (i64, i64)>,
    per_student: impl IntoIterator<Item = Option<f64>>,
) -> u64 {
    let a: i64 = per_course.into_iter().map(|(len, n)| len * n).sum();
    let b: i64 = per_student
        .into_iter()
        .map(|avg| avg.map_or(0, |v| (v * 1000.0).round() as i64))
        .sum();
    (a + b) as u64
}

/// One run of all six workloads by one implementation: seconds and checksums.
#[derive(Default)]
struct Run {
    secs: [f64; 6],
    sums: [u64; 6],
    /// Fingerprint of the whole database after W1 (students, courses, links).
    state_after_create: u64,
    /// PostgreSQL's raw side: W1 by COPY, the insert ceiling.
    copy_secs: Option<f64>,
}

/// Ids generated by W1, by index.
struct Ids {
    students: Vec<i64>,
    courses: Vec<i64>,
}

fn time<T>(f: impl FnOnce() -> Res<T>) -> Res<(f64, T)> {
    let start = Instant::now();
    let v = f()?;
    Ok((start.elapsed().as_secs_f64(), v))
}

/// A HashMap hasher for integer keys (the Fx mix, as in rustc); used by the raw side.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517C_C1B7_2722_0A95);
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type IdMap<V> = HashMap<i64, V, BuildHasherDefault<IdHasher>>;

/// A running, order-sensitive hash of integers.
fn mix(h: u64, v: u64) -> u64 {
    (h ^ v)
        .wrapping_mul(0x100_0000_01B3)
        .rotate_left(17)
        .wrapping_add(0x9E37_79B9)
}

fn str_hash(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    })
}

/// The schema (PostgreSQL) or database (MySQL) name of one run on a server, from its place name
/// (`relata-0.db` → `relata_bench_relata_0_<pid>`), so runs never see each other's rows.
fn server_run_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("run")
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    format!("relata_bench_{stem}_{}", std::process::id())
}

/// The same plain SQL read of a database for both implementations, outside the timings: every
/// row of `student_course` (and of the two tables, with `all_tables`), in key order.
fn fingerprint(path: &Path, all_tables: bool) -> Res<u64> {
    let conn = Connection::open(path)?;
    let mut h = 0u64;
    if all_tables {
        for sql in [
            "SELECT id, name FROM students ORDER BY id",
            "SELECT id, title FROM courses ORDER BY id",
        ] {
            let mut st = conn.prepare(sql)?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                h = mix(h, r.get::<_, i64>(0)? as u64);
                h = mix(h, str_hash(r.get_ref(1)?.as_str()?));
            }
        }
    }
    let mut st = conn.prepare(
        "SELECT student_id, course_id FROM student_course ORDER BY student_id, course_id",
    )?;
    let mut rows = st.query([])?;
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        h = mix(h, r.get::<_, i64>(0)? as u64);
        h = mix(h, r.get::<_, i64>(1)? as u64);
        n += 1;
    }
    Ok(mix(h, n))
}

/// The workloads of a hand-written implementation, on one driver's connection type.
struct RawWorkloads<C> {
    create: fn(&mut C, &Data) -> Res<(u64, Ids)>,
    eager: fn(&mut C) -> Res<u64>,
    lookup: fn(&mut C, &Data) -> Res<u64>,
    reverse: fn(&mut C) -> Res<u64>,
    churn: fn(&mut C, &Data, &Ids) -> Res<()>,
    report: fn(&mut C) -> Res<u64>,
}

impl<C> RawWorkloads<C> {
    /// W1 on `first` (which holds the schema), then each later workload on a fresh connection
    /// from `connect`, opened outside the timing; `fingerprint` reads the database back after W1
    /// (every table) and W5 (the links), also outside.
    fn run(
        &self,
        first: C,
        connect: impl Fn() -> Res<C>,
        fingerprint: impl Fn(bool) -> Res<u64>,
        data: &Data,
    ) -> Res<Run> {
        let mut run = Run::default();
        let mut c = first;
        let (t, (sum, ids)) = time(|| (self.create)(&mut c, data))?;
        (run.secs[0], run.sums[0]) = (t, sum);
        drop(c);
        run.state_after_create = fingerprint(true)?;
        // Each connection is closed before the next opens.
        (run.secs[1], run.sums[1]) = {
            let mut c = connect()?;
            time(|| (self.eager)(&mut c))?
        };
        (run.secs[2], run.sums[2]) = {
            let mut c = connect()?;
            time(|| (self.lookup)(&mut c, data))?
        };
        (run.secs[3], run.sums[3]) = {
            let mut c = connect()?;
            time(|| (self.reverse)(&mut c))?
        };
        (run.secs[4], ()) = {
            let mut c = connect()?;
            time(|| (self.churn)(&mut c, data, &ids))?
        };
        run.sums[4] = fingerprint(false)?;
        (run.secs[5], run.sums[5]) = {
            let mut c = connect()?;
            time(|| (self.report)(&mut c))?
        };
        Ok(run)
    }
}

// ---------------------------------------------------------------------------------------------
// relata.
// ---------------------------------------------------------------------------------------------

mod import;
mod my;
mod peers;
mod pg;
mod relations;
mod report;

mod with_relata {
    use super::*;

    fn open(path: &Path) -> Res<Database> {
        Ok(Database::open(&format!("sqlite://{}", path.display()))?)
    }

    pub fn run(path: &Path, data: &Data) -> Res<Run> {
        run_on(|| open(path), |all| fingerprint(path, all), data)
    }

    /// The five workloads on databases from `open` (any backend); `fingerprint` reads the
    /// database back outside the timings.
    pub fn run_on(
        open: impl Fn() -> Res<Database>,
        fingerprint: impl Fn(bool) -> Res<u64>,
        data: &Data,
    ) -> Res<Run> {
        let mut run = Run::default();
        // Every workload gets a freshly opened database (so a fresh connection), outside the
        // timing, as the raw side gets a fresh connection.
        let db = open()?;
        db.create_all(&the_schema())?;
        let (t, (sum, ids)) = time(|| create(&db, data))?;
        (run.secs[0], run.sums[0]) = (t, sum);
        drop(db);
        run.state_after_create = fingerprint(true)?;

        let db = open()?;
        (run.secs[1], run.sums[1]) = time(|| eager(&db))?;
        drop(db);
        let db = open()?;
        (run.secs[2], run.sums[2]) = time(|| lookup(&db, data))?;
        drop(db);
        let db = open()?;
        (run.secs[3], run.sums[3]) = time(|| reverse(&db))?;
        drop(db);
        let db = open()?;
        let (t, ()) = time(|| churn(&db, data, &ids))?;
        drop(db);
        run.secs[4] = t;
        run.sums[4] = fingerprint(false)?;
        let db = open()?;
        (run.secs[5], run.sums[5]) = time(|| report(&db))?;
        drop(db);
        Ok(run)
    }

    /// W6: each course's number of students, and each student's average title length over
    /// its courses: two selects of joins grouped per parent, nothing loaded. (The per-parent
    /// aggregates, `Course::students().count()`, are correlated subqueries: as fast on SQLite,
    /// 2-10x slower on the servers for a whole table.)
    fn report(db: &Database) -> Res<u64> {
        let mut s = db.session();
        let per_course: Vec<(i64, i64)> = s
            .query::<Course>()
            .left_join(Course::students())
            .group_by(Course::ID)
            .select((Course::TITLE.length(), Student::ID.count()))
            .all()?;
        let per_student: Vec<Option<f64>> = s
            .query::<Student>()
            .join(Student::courses())
            .group_by(Student::ID)
            .select(Course::TITLE.length().avg())
            .all()?;
        Ok(report_sum(per_course, per_student))
    }

    /// W1: everything added to one session, one commit.
    pub(crate) fn create(db: &Database, data: &Data) -> Res<(u64, Ids)> {
        let mut s = db.session();
        let students = s.add_all(data.names.iter().map(|n| Student {
            id: None,
            name: n.clone(),
        }));
        let courses = s.add_all(data.titles.iter().map(|t| Course {
            id: None,
            title: t.clone(),
        }));
        let mut links = 0u64;
        for (st, picked) in students.iter().zip(&data.links) {
            links += s.extend(Student::courses(), *st, picked.iter().map(|&c| courses[c])) as u64;
        }
        s.commit()?;
        let ids = Ids {
            students: students
                .iter()
                .map(|&k| s.id(k).expect("committed"))
                .collect(),
            courses: courses
                .iter()
                .map(|&k| s.id(k).expect("committed"))
                .collect(),
        };
        let sum = links
            + ids.students.iter().sum::<i64>() as u64
            + ids.courses.iter().sum::<i64>() as u64;
        Ok((sum, ids))
    }

    /// W2: every student with its courses, eagerly.
    fn eager(db: &Database) -> Res<u64> {
        let mut s = db.session();
        let students = s.query::<Student>().eager(Student::courses()).all()?;
        let mut sum = 0u64;
        for st in students {
            for c in s.related_objects(Student::courses(), st)? {
                sum += c.title.len() as u64;
            }
        }
        Ok(sum)
    }

    /// W3: students by name, then their courses.
    fn lookup(db: &Database, data: &Data) -> Res<u64> {
        let mut s = db.session();
        let mut sum = 0u64;
        for &i in &data.lookups {
            let st = s
                .query::<Student>()
                .filter(Student::NAME.eq(data.names[i].as_str()))
                .one()?;
            for c in s.related_objects(Student::courses(), st)? {
                sum += c.title.len() as u64;
            }
        }
        Ok(sum)
    }

    /// W4: every course with its students, eagerly.
    fn reverse(db: &Database) -> Res<u64> {
        let mut s = db.session();
        let courses = s.query::<Course>().eager(Course::students()).all()?;
        let mut sum = 0u64;
        for c in courses {
            for st in s.related_objects(Course::students(), c)? {
                sum += st.name.len() as u64;
            }
        }
        Ok(sum)
    }

    /// W5: drop one course and add another, for random students; one transaction block (reads
    /// and the commit) per 1,000 steps, as the raw side runs one transaction per 1,000 steps.
    fn churn(db: &Database, data: &Data, ids: &Ids) -> Res<()> {
        let mut s = db.session();
        let mut current = Vec::new();
        for batch in data.churn.chunks(CHURN_BATCH) {
            s.transaction(|s| {
                for &step in batch {
                    let st = s
                        .find::<Student>(ids.students[step.student])?
                        .expect("W1 stored every student");
                    let courses = s.related(Student::courses(), st)?;
                    current.clear();
                    current.extend(courses.iter().map(|&c| s.id(c).expect("persistent")));
                    current.sort_unstable();
                    let (drop, add) = churn_choice(&current, &ids.courses, step);
                    let drop = *courses
                        .iter()
                        .find(|&&c| s.id(c) == Some(drop))
                        .expect("drop is current");
                    let add = s.find::<Course>(add)?.expect("W1 stored every course");
                    s.unlink(Student::courses(), st, drop);
                    s.link(Student::courses(), st, add);
                }
                Ok::<_, relata::Error>(())
            })?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Plain rusqlite.
// ---------------------------------------------------------------------------------------------

mod with_rusqlite {
    use super::*;

    /// The settings relata uses for a file: foreign keys, WAL, synchronous=NORMAL, a 64 MiB page
    /// cache.
    fn open(path: &Path) -> Res<Connection> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "cache_size", -65536)?;
        Ok(conn)
    }

    pub fn run(path: &Path, data: &Data) -> Res<Run> {
        let mut conn = open(path)?;
        // Exactly the DDL relata emits for the schema.
        let tx = conn.transaction()?;
        for sql in the_schema().ddl(&relata::Sqlite)? {
            tx.execute_batch(&sql)?;
        }
        tx.commit()?;
        let workloads = RawWorkloads {
            create,
            eager,
            lookup,
            reverse,
            churn,
            report,
        };
        workloads.run(conn, || open(path), |all| fingerprint(path, all), data)
    }

    /// W6: two GROUP BY statements as one would write them by hand.
    fn report(conn: &mut Connection) -> Res<u64> {
        let mut st = conn.prepare(
            "SELECT length(c.title), COUNT(sc.student_id) FROM courses c \
             LEFT JOIN student_course sc ON sc.course_id = c.id GROUP BY c.id",
        )?;
        let per_course = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<(i64, i64)>, _>>()?;
        let mut st = conn.prepare(
            "SELECT sc.student_id, AVG(length(c.title)) FROM student_course sc \
             JOIN courses c ON c.id = sc.course_id GROUP BY sc.student_id",
        )?;
        let per_student = st
            .query_map([], |r| r.get::<_, Option<f64>>(1))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(report_sum(per_course, per_student))
    }

    /// W1: prepared INSERTs, one row at a time, in one transaction.
    fn create(conn: &mut Connection, data: &Data) -> Res<(u64, Ids)> {
        let tx = conn.transaction()?;
        let mut ids = Ids {
            students: Vec::with_capacity(data.names.len()),
            courses: Vec::with_capacity(data.titles.len()),
        };
        let mut links = 0u64;
        {
            let mut ins = tx.prepare("INSERT INTO students (name) VALUES (?1)")?;
            for name in &data.names {
                ids.students.push(ins.insert([name])?);
            }
            let mut ins = tx.prepare("INSERT INTO courses (title) VALUES (?1)")?;
            for title in &data.titles {
                ids.courses.push(ins.insert([title])?);
            }
            let mut ins =
                tx.prepare("INSERT INTO student_course (student_id, course_id) VALUES (?1, ?2)")?;
            for (&sid, picked) in ids.students.iter().zip(&data.links) {
                for &c in picked {
                    links += ins.execute([sid, ids.courses[c]])? as u64;
                }
            }
        }
        tx.commit()?;
        let sum = links
            + ids.students.iter().sum::<i64>() as u64
            + ids.courses.iter().sum::<i64>() as u64;
        Ok((sum, ids))
    }

    struct StudentRow {
        #[allow(dead_code)] // loaded as relata loads it; the checksum needs only the courses
        id: i64,
        name: String,
        courses: Vec<i64>,
    }

    struct CourseRow {
        #[allow(dead_code)] // loaded as relata loads it; the checksum needs only the students
        id: i64,
        title: String,
        students: Vec<i64>,
    }

    /// W2: the courses into a map by id, the students in id order, then the links in
    /// (student, course) order (the association's primary key) merged onto the students.
    fn eager(conn: &mut Connection) -> Res<u64> {
        let mut courses: IdMap<CourseRow> = IdMap::default();
        let mut st = conn.prepare("SELECT id, title FROM courses")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id = r.get(0)?;
            courses.insert(
                id,
                CourseRow {
                    id,
                    title: r.get(1)?,
                    students: Vec::new(),
                },
            );
        }
        let mut students = Vec::new();
        let mut st = conn.prepare("SELECT id, name FROM students ORDER BY id")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            students.push(StudentRow {
                id: r.get(0)?,
                name: r.get(1)?,
                courses: Vec::new(),
            });
        }
        let mut st = conn.prepare(
            "SELECT student_id, course_id FROM student_course ORDER BY student_id, course_id",
        )?;
        let mut rows = st.query([])?;
        let mut i = 0;
        while let Some(r) = rows.next()? {
            let (sid, cid): (i64, i64) = (r.get(0)?, r.get(1)?);
            while students[i].id != sid {
                i += 1;
            }
            students[i].courses.push(cid);
        }
        let mut sum = 0u64;
        for s in &students {
            for c in &s.courses {
                sum += courses[c].title.len() as u64;
            }
        }
        Ok(sum)
    }

    /// W3: one prepared statement finds the student by name, one joins its courses.
    fn lookup(conn: &mut Connection, data: &Data) -> Res<u64> {
        let mut by_name = conn.prepare("SELECT id, name FROM students WHERE name = ?1")?;
        let mut courses_of = conn.prepare(
            "SELECT c.id, c.title FROM student_course sc JOIN courses c ON c.id = sc.course_id \
             WHERE sc.student_id = ?1 ORDER BY c.id",
        )?;
        let mut sum = 0u64;
        for &i in &data.lookups {
            let student = by_name.query_row([&data.names[i]], |r| {
                Ok(StudentRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    courses: Vec::new(),
                })
            })?;
            let mut rows = courses_of.query([student.id])?;
            while let Some(r) = rows.next()? {
                let course = CourseRow {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    students: Vec::new(),
                };
                sum += course.title.len() as u64;
            }
        }
        Ok(sum)
    }

    /// W4: the students into a map by id, the courses in id order, then the links in
    /// (course, student) order (the reverse index) merged onto the courses.
    fn reverse(conn: &mut Connection) -> Res<u64> {
        let mut students: IdMap<StudentRow> = IdMap::default();
        let mut st = conn.prepare("SELECT id, name FROM students")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id = r.get(0)?;
            students.insert(
                id,
                StudentRow {
                    id,
                    name: r.get(1)?,
                    courses: Vec::new(),
                },
            );
        }
        let mut courses = Vec::new();
        let mut st = conn.prepare("SELECT id, title FROM courses ORDER BY id")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            courses.push(CourseRow {
                id: r.get(0)?,
                title: r.get(1)?,
                students: Vec::new(),
            });
        }
        let mut st = conn.prepare(
            "SELECT course_id, student_id FROM student_course ORDER BY course_id, student_id",
        )?;
        let mut rows = st.query([])?;
        let mut i = 0;
        while let Some(r) = rows.next()? {
            let (cid, sid): (i64, i64) = (r.get(0)?, r.get(1)?);
            while courses[i].id != cid {
                i += 1;
            }
            courses[i].students.push(sid);
        }
        let mut sum = 0u64;
        for c in &courses {
            for s in &c.students {
                sum += students[s].name.len() as u64;
            }
        }
        Ok(sum)
    }

    /// W5: per step, read the student's course ids, DELETE one pair and INSERT another; one
    /// transaction per 1,000 steps.
    fn churn(conn: &mut Connection, data: &Data, ids: &Ids) -> Res<()> {
        let mut current_of = conn.prepare(
            "SELECT course_id FROM student_course WHERE student_id = ?1 ORDER BY course_id",
        )?;
        let mut delete =
            conn.prepare("DELETE FROM student_course WHERE student_id = ?1 AND course_id = ?2")?;
        let mut insert =
            conn.prepare("INSERT INTO student_course (student_id, course_id) VALUES (?1, ?2)")?;
        let mut current = Vec::new();
        conn.execute_batch("BEGIN")?;
        for (n, &step) in data.churn.iter().enumerate() {
            let sid = ids.students[step.student];
            current.clear();
            let mut rows = current_of.query([sid])?;
            while let Some(r) = rows.next()? {
                current.push(r.get(0)?);
            }
            let (drop, add) = churn_choice(&current, &ids.courses, step);
            delete.execute([sid, drop])?;
            insert.execute([sid, add])?;
            if (n + 1) % CHURN_BATCH == 0 {
                conn.execute_batch("COMMIT; BEGIN")?;
            }
        }
        conn.execute_batch("COMMIT")?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The harness.
// ---------------------------------------------------------------------------------------------

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where the workloads run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl Backend {
    fn file_stem(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::Mysql => "MariaDB",
        }
    }
}

/// One implementation: runs the five workloads in a fresh place named after a file path (a
/// SQLite file there, or a PostgreSQL schema named after it).
type RunFn<'a> = Box<dyn Fn(&Path) -> Res<Run> + 'a>;

fn real_main() -> Res<ExitCode> {
    let cfg = Config::from_env()?;
    let data = Data::generate(&cfg);
    let dir = std::env::temp_dir().join(format!("relata-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    // REDRAW=log CHART=out.svg TITLE=...: the chart of a saved run's log, without running.
    if let Ok(log) = std::env::var("REDRAW") {
        let _ = std::fs::remove_dir_all(&dir);
        let text = std::fs::read_to_string(&log)?;
        let (names, runs) = report::runs_from_log(&text)?;
        let chart = PathBuf::from(std::env::var("CHART").map_err(|_| "REDRAW needs CHART")?);
        let title = std::env::var("TITLE").unwrap_or_else(|_| log.clone());
        report::chart(&chart, &title, &names, &runs)?;
        return Ok(ExitCode::SUCCESS);
    }
    // PREPARE=dir: the data file and an empty database for developing a peer.
    if let Ok(target) = std::env::var("PREPARE") {
        let _ = std::fs::remove_dir_all(&dir);
        return peers::prepare(Path::new(&target), &data);
    }
    // BENCH=import: registrar's CSV import against W1 instead of the five workloads.
    if std::env::var("BENCH").as_deref() == Ok("import") {
        let code = import::run(&cfg, &data, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        return code;
    }
    // BACKEND=postgres runs against PG_URL, BACKEND=mysql against MY_URL, instead of SQLite files.
    let backend = match std::env::var("BACKEND").as_deref() {
        Ok("sqlite") | Err(_) => Backend::Sqlite,
        Ok("postgres") => Backend::Postgres,
        Ok("mysql") => Backend::Mysql,
        Ok(other) => {
            return Err(format!("BACKEND={other}: expected sqlite, postgres or mysql").into())
        }
    };
    // BENCH=relations: W8, the one-to-many load (on the backend chosen).
    if std::env::var("BENCH").as_deref() == Ok("relations") {
        let code = relations::run(backend, &cfg, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        return code;
    }
    let postgres = backend == Backend::Postgres;
    // IMPLS=relata,raw,diesel,seaorm,sqlalchemy picks implementations (relata always first);
    // IMPL=name runs one alone, with no table (for profiling).
    let only = std::env::var("IMPL").ok();
    let mut names: Vec<&'static str> = vec!["relata", "raw"];
    if backend != Backend::Mysql {
        // The peers speak SQLite and PostgreSQL (see peers/README.md).
        names.extend(peers::PEERS);
    }
    let wanted: Vec<String> = match (&only, std::env::var("IMPLS")) {
        (Some(o), _) => vec![o.clone()],
        (None, Ok(list)) => std::iter::once("relata".to_owned())
            .chain(list.split(',').map(|s| s.trim().to_owned()))
            .collect(),
        (None, Err(_)) => names.iter().map(|s| s.to_string()).collect(),
    };
    for w in &wanted {
        if !names.contains(&w.as_str()) {
            return Err(format!("{w}: expected one of {}", names.join(", ")).into());
        }
    }
    names.retain(|n| wanted.iter().any(|w| w == n));

    // The peers read the data from a file, and are built or installed first.
    let data_file = dir.join("data.json");
    std::fs::write(&data_file, peers::data_json(&data))?;
    let mut impls: Vec<(&'static str, RunFn<'_>)> = Vec::new();
    for &name in &names {
        let run: RunFn<'_> = match (name, backend) {
            ("relata", Backend::Sqlite) => Box::new(|p: &Path| with_relata::run(p, &data)),
            ("raw", Backend::Sqlite) => Box::new(|p: &Path| with_rusqlite::run(p, &data)),
            ("relata", Backend::Postgres) => Box::new(|p: &Path| pg::relata(p, &data)),
            ("raw", Backend::Postgres) => Box::new(|p: &Path| pg::raw(p, &data)),
            ("relata", Backend::Mysql) => Box::new(|p: &Path| my::relata(p, &data)),
            ("raw", Backend::Mysql) => Box::new(|p: &Path| my::raw(p, &data)),
            (peer, _) => {
                let peer = peers::prepare_peer(peer)?;
                let data_file = &data_file;
                Box::new(move |p: &Path| peers::run_peer(&peer, p, postgres, data_file))
            }
        };
        impls.push((name, run));
    }

    // Interleaved: every implementation once per repetition (A B C A B C ...), so that drift
    // on the machine hits them alike.
    let mut runs: Vec<Vec<Run>> = names.iter().map(|_| Vec::new()).collect();
    for rep in 0..cfg.reps {
        for (which, (name, f)) in impls.iter().enumerate() {
            let path = dir.join(format!("{name}-{rep}.db"));
            remove_db(&path);
            if postgres {
                pg::checkpoint()?;
            }
            let run = f(&path);
            remove_db(&path);
            let run = run?;
            let mut line = format!("rep {}/{} {name:>10}:", rep + 1, cfg.reps);
            for (i, (w, _, _)) in WORKLOADS.iter().enumerate() {
                let _ = write!(
                    line,
                    "  {} {:.3}s sum={}",
                    &w[..2],
                    run.secs[i],
                    run.sums[i]
                );
            }
            let _ = write!(line, "  state={:x}", run.state_after_create);
            eprintln!("{line}");
            runs[which].push(run);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if only.is_some() {
        eprintln!("IMPL is set: one implementation only, nothing to compare");
        return Ok(ExitCode::SUCCESS);
    }

    // Every run of every implementation must agree with the first relata run.
    let reference = &runs[0][0];
    let mut mismatch = false;
    for (which, name) in names.iter().enumerate() {
        for (rep, run) in runs[which].iter().enumerate() {
            for (i, (w, _, _)) in WORKLOADS.iter().enumerate() {
                if run.sums[i] != reference.sums[i] {
                    eprintln!(
                        "checksum mismatch: {w}: {name} rep {} gave {}, relata rep 1 gave {}",
                        rep + 1,
                        run.sums[i],
                        reference.sums[i]
                    );
                    mismatch = true;
                }
            }
            if run.state_after_create != reference.state_after_create {
                eprintln!(
                    "database after W1 differs: {name} rep {} vs relata rep 1",
                    rep + 1
                );
                mismatch = true;
            }
        }
    }
    if mismatch {
        eprintln!("refusing to print timings: the implementations did not compute the same thing");
        return Ok(ExitCode::FAILURE);
    }

    let engine = match backend {
        Backend::Postgres => {
            let mut c: postgres::Client = pg::base_url()
                .parse::<postgres::Config>()?
                .connect(postgres::NoTls)?;
            let v: String = c.query_one("SHOW server_version", &[])?.get(0);
            format!("PostgreSQL {v} on loopback TCP")
        }
        Backend::Mysql => format!("{} on loopback TCP", my::version()?),
        Backend::Sqlite => format!("SQLite {} (relata, raw)", rusqlite::version()),
    };
    println!(
        "Machine: {} cores ({}), {engine}; S={} students, C={} courses, K={} courses/student, \
         {} lookups, {} churn steps, REPS={} (median, min–max). Checksums agree.",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        cfg.students,
        cfg.courses,
        cfg.per_student,
        cfg.lookups,
        cfg.churn,
        cfg.reps,
    );
    println!();
    print!("{}", report::tables(&names, &runs));
    if let Some(i) = names.iter().position(|n| *n == "raw") {
        let copies: Vec<f64> = runs[i].iter().filter_map(|r| r.copy_secs).collect();
        if !copies.is_empty() {
            let r = median(runs[0].iter().map(|r| r.secs[0]).collect());
            let c = median(copies);
            println!();
            println!(
                "W1 by COPY (the insert ceiling): {c:.3} s; relata's multi-row INSERTs take {:.2}x that.",
                r / c
            );
        }
    }
    let chart = std::env::var("CHART")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("results")
                .join(format!("{}.svg", backend.file_stem()))
        });
    if let Some(parent) = chart.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let title = format!(
        "{} — S={} C={} K={}, time per workload (lower is better)",
        backend.title(),
        cfg.students,
        cfg.courses,
        cfg.per_student
    );
    report::chart(&chart, &title, &names, &runs)?;
    println!();
    println!("Chart: {}", chart.display());
    Ok(ExitCode::SUCCESS)
}
