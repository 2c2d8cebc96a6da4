//! `BENCH=relations`: the relationship kinds beyond the many-to-many. W8 "one-to-many":
//! `TEACHERS` teachers (default 1,000) with `PER_TEACHER` lectures each (default 100), linked by
//! a foreign key (`lectures.teacher_id`); the timed work loads every teacher with its lectures:
//! relata by `query::<Teacher>().eager(Teacher::lectures())`, the raw driver by two statements
//! grouped by hand into the same objects. Both walk the result into one checksum. The data is
//! written once per repetition by relata (its commit time, new parents' keys filled into a
//! hundred thousand children, is printed alongside), outside the load timings; each load runs on
//! a freshly opened connection, relata's and raw's alternating first. `IMPLS=sqlalchemy,diesel,
//! seaorm` adds the peers' `w8` (SQLAlchemy's `selectinload`, Diesel's `belonging_to` +
//! `grouped_by`, SeaORM's `find_with_related`), on SQLite and PostgreSQL.

use super::*;

/// The goal for W8: relata within this many times the raw driver.
const GOAL: f64 = 1.2;

#[derive(Model)]
#[relata(table = "teachers")]
pub struct Teacher {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub name: String,
}

#[derive(Model)]
#[relata(table = "lectures")]
pub struct Lecture {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub title: String,
    #[relata(references = Teacher, relation = "teacher", inverse = "lectures")]
    pub teacher_id: i64,
}

fn schema() -> relata::Schema {
    schema![Teacher, Lecture]
}

/// The checksum every side computes (the peers too, in their languages): over teachers in key
/// order (i from 1), i times (the name's length plus, over its lectures in key order, j from 1,
/// j times the title's length). Positions weigh in, so a collection in another order or under
/// another teacher changes it.
#[derive(Default)]
struct Sum {
    total: u64,
    teachers: u64,
    inner: u64,
    lectures: u64,
}

impl Sum {
    fn teacher(&mut self, name: &str) {
        self.close();
        self.teachers += 1;
        self.inner = name.len() as u64;
        self.lectures = 0;
    }
    fn lecture(&mut self, title: &str) {
        self.lectures += 1;
        self.inner += self.lectures * title.len() as u64;
    }
    fn close(&mut self) {
        self.total = self
            .total
            .wrapping_add(self.teachers.wrapping_mul(self.inner));
        self.inner = 0;
    }
    fn finish(mut self) -> u64 {
        self.close();
        self.total
    }
}

/// A lecture as the raw side materializes it (the fields relata's objects hold).
#[allow(dead_code)] // read only through the checksum, as a program would read them
struct RawLecture {
    id: i64,
    title: String,
    teacher_id: i64,
}

/// Groups lectures read `ORDER BY teacher_id, id` under teachers read `ORDER BY id`.
fn grouped(
    teachers: &[(i64, String)],
    lectures: impl IntoIterator<Item = RawLecture>,
) -> Vec<Vec<RawLecture>> {
    let index: HashMap<i64, usize, BuildHasherDefault<IdHasher>> = teachers
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    let mut out: Vec<Vec<RawLecture>> = teachers.iter().map(|_| Vec::new()).collect();
    for l in lectures {
        if let Some(&i) = index.get(&l.teacher_id) {
            out[i].push(l);
        }
    }
    out
}

fn raw_sum(teachers: &[(i64, String)], lectures: &[Vec<RawLecture>]) -> u64 {
    let mut sum = Sum::default();
    for ((_, name), ls) in teachers.iter().zip(lectures) {
        sum.teacher(name);
        for l in ls {
            sum.lecture(&l.title);
        }
    }
    sum.finish()
}

/// Writes the data with relata: every teacher and lecture new, each lecture linked to its new
/// teacher, one commit. Returns the commit's time.
fn create(db: &Database, teachers: usize, per: usize) -> Res<f64> {
    db.create_all(&schema())?;
    let mut rng = Rng(SEED ^ 0x0A_7E_AC_4E);
    let (t, ()) = time(|| {
        let mut s = db.session();
        let keys = s.add_all((0..teachers).map(|i| Teacher {
            id: None,
            name: format!("teacher-{i}"),
        }));
        for (i, &t) in keys.iter().enumerate() {
            for j in 0..per {
                let title = format!("lecture-{i}-{j}-{}", "x".repeat(rng.below(40)));
                let l = s.add(Lecture {
                    id: None,
                    title,
                    teacher_id: 0,
                });
                s.link(Lecture::teacher(), l, t);
            }
        }
        s.commit()?;
        Ok(())
    })?;
    Ok(t)
}

fn relata_load(db: &Database) -> Res<u64> {
    let mut s = db.session();
    let teachers = s.query::<Teacher>().eager(Teacher::lectures()).all()?;
    let mut sum = Sum::default();
    for t in teachers {
        sum.teacher(&s[t].name);
        for l in s.related_objects(Teacher::lectures(), t)? {
            sum.lecture(&l.title);
        }
    }
    Ok(sum.finish())
}

const TEACHERS_SQL: &str = "SELECT id, name FROM teachers ORDER BY id";
const LECTURES_SQL: &str = "SELECT id, title, teacher_id FROM lectures ORDER BY teacher_id, id";

fn sqlite_load(path: &Path) -> Res<u64> {
    let c = Connection::open(path)?;
    let teachers: Vec<(i64, String)> = c
        .prepare(TEACHERS_SQL)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut stmt = c.prepare(LECTURES_SQL)?;
    let lectures = stmt
        .query_map([], |r| {
            Ok(RawLecture {
                id: r.get(0)?,
                title: r.get(1)?,
                teacher_id: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(raw_sum(&teachers, &grouped(&teachers, lectures)))
}

fn postgres_load(schema: &str) -> Res<u64> {
    let mut c = pg::connect(schema)?;
    let teachers: Vec<(i64, String)> = c
        .query(TEACHERS_SQL, &[])?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let lectures: Vec<RawLecture> = c
        .query(LECTURES_SQL, &[])?
        .iter()
        .map(|r| RawLecture {
            id: r.get(0),
            title: r.get(1),
            teacher_id: r.get(2),
        })
        .collect();
    Ok(raw_sum(&teachers, &grouped(&teachers, lectures)))
}

fn mysql_load(database: &str) -> Res<u64> {
    use mysql::prelude::Queryable;
    let mut c = my::connect(database)?;
    let teachers: Vec<(i64, String)> = c.exec(TEACHERS_SQL, ())?;
    let lectures: Vec<RawLecture> =
        c.exec_map(LECTURES_SQL, (), |(id, title, teacher_id)| RawLecture {
            id,
            title,
            teacher_id,
        })?;
    Ok(raw_sum(&teachers, &grouped(&teachers, lectures)))
}

/// One repetition's times: relata's commit, relata's load, raw's load, each peer's load.
struct Times {
    create: f64,
    relata: f64,
    raw: f64,
    peers: Vec<f64>,
}

/// What a repetition runs on.
struct Setup<'a> {
    backend: Backend,
    dir: &'a Path,
    teachers: usize,
    per: usize,
    /// The peers asked for (`IMPLS=sqlalchemy,...`), with the file their protocol passes.
    peers: &'a [peers::Peer],
    data_file: &'a Path,
}

fn once(setup: &Setup<'_>, rep: usize) -> Res<Times> {
    let Setup {
        backend,
        dir,
        teachers,
        per,
        ..
    } = *setup;
    let path = dir.join(format!("relations-{rep}.db"));
    remove_db(&path);
    // The database, and how each side opens it (the guards drop a server's schema).
    let (url, _pg, _my) = match backend {
        Backend::Sqlite => (format!("sqlite://{}", path.display()), None, None),
        Backend::Postgres => {
            let s = pg::Schema::create(&path)?;
            (pg::url_in(&s.0), Some(s), None)
        }
        Backend::Mysql => {
            let d = my::Db::create(&path)?;
            (my::url_in(&d.0)?, None, Some(d))
        }
    };
    let create_secs = create(&Database::open(&url)?, teachers, per)?;
    if let Some(s) = &_pg {
        // As for W1: statistics before the reads, on both sides alike.
        pg::connect(&s.0)?.batch_execute("ANALYZE")?;
    }
    let relata_run = || -> Res<(f64, u64)> {
        let db = Database::open(&url)?;
        time(|| relata_load(&db))
    };
    let raw_run = || -> Res<(f64, u64)> {
        match (&_pg, &_my) {
            (Some(s), _) => time(|| postgres_load(&s.0)),
            (_, Some(d)) => time(|| mysql_load(&d.0)),
            _ => time(|| sqlite_load(&path)),
        }
    };
    let (relata, raw) = if rep.is_multiple_of(2) {
        let a = relata_run()?;
        (a, raw_run()?)
    } else {
        let b = raw_run()?;
        (relata_run()?, b)
    };
    // The peers last, on the same data (they speak SQLite and PostgreSQL).
    let mut peer_times = Vec::new();
    for peer in setup.peers {
        let (secs, sum) = peers::run_workload(peer, "w8", &url, setup.data_file)?;
        if sum != relata.1 {
            return Err(format!(
                "W8 checksums differ: relata {} vs {} {sum}: the two did not load the same thing",
                relata.1, peer.name
            )
            .into());
        }
        eprintln!("rep {}: {} W8 load {secs:.3}s", rep + 1, peer.name);
        peer_times.push(secs);
    }
    remove_db(&path);
    if relata.1 != raw.1 {
        return Err(format!(
            "W8 checksums differ: relata {} vs raw {}: the two did not load the same thing",
            relata.1, raw.1
        )
        .into());
    }
    eprintln!(
        "rep {}: relata create {:.3}s, W8 load relata {:.3}s raw {:.3}s sum={}",
        rep + 1,
        create_secs,
        relata.0,
        raw.0,
        relata.1
    );
    Ok(Times {
        create: create_secs,
        relata: relata.0,
        raw: raw.0,
        peers: peer_times,
    })
}

pub fn run(backend: Backend, cfg: &Config, dir: &Path) -> Res<ExitCode> {
    let quick = std::env::var("QUICK").is_ok();
    let teachers = env_usize("TEACHERS", if quick { 100 } else { 1_000 })?;
    let per = env_usize("PER_TEACHER", if quick { 20 } else { 100 })?;
    // IMPLS=sqlalchemy,diesel,seaorm adds peers (on SQLite and PostgreSQL), prepared first.
    let wanted = std::env::var("IMPLS").unwrap_or_default();
    let mut ready = Vec::new();
    for name in wanted.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let Some(&name) = peers::PEERS.iter().find(|p| **p == name) else {
            return Err(format!(
                "IMPLS: {name}: expected some of {}",
                peers::PEERS.join(", ")
            )
            .into());
        };
        if backend == Backend::Mysql {
            return Err("the peers speak SQLite and PostgreSQL only".into());
        }
        ready.push(peers::prepare_peer(name)?);
    }
    // The peers' protocol passes the workloads' data file; W8 reads only the database.
    let data_file = dir.join("w8.json");
    std::fs::write(&data_file, peers::data_json(&Data::generate(cfg)))?;
    let setup = Setup {
        backend,
        dir,
        teachers,
        per,
        peers: &ready,
        data_file: &data_file,
    };
    let mut times = Vec::new();
    for rep in 0..cfg.reps {
        times.push(once(&setup, rep)?);
    }
    let col = |f: fn(&Times) -> f64| median(times.iter().map(f).collect());
    let (create, relata, raw) = (col(|t| t.create), col(|t| t.relata), col(|t| t.raw));
    println!(
        "Machine: {} cores ({}), {}; {teachers} teachers x {per} lectures, REPS={} (median).",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        backend.title(),
        cfg.reps
    );
    println!();
    println!("| workload | relata (s) | raw driver (s) | relata ÷ raw |");
    println!("|---|---:|---:|---:|");
    let ratio = relata / raw;
    let mark = if ratio <= GOAL { "✓" } else { "✗" };
    println!(
        "| W8 one-to-many load | {relata:.3} | {raw:.3} | {ratio:.2}x {mark} (goal ≤ {GOAL}x) |"
    );
    for (i, peer) in ready.iter().enumerate() {
        let t = median(times.iter().map(|t| t.peers[i]).collect());
        let mark = if t > relata { "✓" } else { "✗" };
        println!();
        println!(
            "{}: {t:.3} s, {:.2}x relata's time {mark} (goal: slower than relata)",
            peer.name,
            t / relata
        );
    }
    println!();
    println!(
        "relata's commit of the data (every lecture's key filled from its new teacher): {create:.3} s"
    );
    Ok(ExitCode::SUCCESS)
}
