//! The peers: Diesel, SeaORM and SQLAlchemy, each a separate program (`peers/`) run as a
//! subprocess, one workload per call. They live apart because Diesel and SeaORM link other
//! versions of SQLite than relata's rusqlite (Cargo allows one `sqlite3` link per build), and
//! SQLAlchemy is Python.
//!
//! The protocol (see `peers/README.md`): `PEER <w1|...|w6> <url> <data.json>` prints one
//! line, `{"secs": S, "sum": N}`, timed by the peer around the workload alone (after
//! connecting and reading the data file; W5 also reads the ids in id order before its timer).

use std::fmt::Write as _;

use super::*;

/// `text` as a JSON string literal.
fn json_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The data every peer reads: names, titles, links (course indices per student), lookups
/// (student indices), churn steps (`[student, drop_pick, add_from]`) and the steps per
/// transaction of W5.
pub fn data_json(data: &Data) -> String {
    let mut out = String::with_capacity(data.names.len() * 64);
    out.push_str("{\"names\":[");
    for (i, n) in data.names.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(&mut out, n);
    }
    out.push_str("],\"titles\":[");
    for (i, t) in data.titles.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(&mut out, t);
    }
    out.push_str("],\"links\":[");
    for (i, picked) in data.links.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let list: Vec<String> = picked.iter().map(usize::to_string).collect();
        let _ = write!(out, "[{}]", list.join(","));
    }
    let lookups: Vec<String> = data.lookups.iter().map(usize::to_string).collect();
    let _ = write!(out, "],\"lookups\":[{}],\"churn\":[", lookups.join(","));
    for (i, s) in data.churn.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "[{},{},{}]", s.student, s.drop_pick, s.add_from);
    }
    let _ = write!(out, "],\"churn_batch\":{CHURN_BATCH}}}");
    out
}

/// Creates the shared schema (relata's DDL) in a new SQLite file at `path`, in WAL mode.
pub fn create_sqlite(path: &Path) -> Res<()> {
    remove_db(path);
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    for sql in the_schema().ddl(&relata::Sqlite)? {
        conn.execute_batch(&sql)?;
    }
    Ok(())
}

/// `PREPARE=dir`: writes `dir/data.json` and an empty database `dir/empty.db` with the schema,
/// and prints the PostgreSQL DDL, for developing and checking a peer by hand.
pub fn prepare(dir: &Path, data: &Data) -> Res<ExitCode> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("data.json"), data_json(data))?;
    create_sqlite(&dir.join("empty.db"))?;
    println!(
        "wrote {}/data.json and {}/empty.db",
        dir.display(),
        dir.display()
    );
    println!("SQLite DDL:");
    for sql in the_schema().ddl(&relata::Sqlite)? {
        println!("  {sql};");
    }
    println!("PostgreSQL DDL:");
    for sql in the_schema().ddl(&relata::Postgres)? {
        println!("  {sql};");
    }
    Ok(ExitCode::SUCCESS)
}

/// A peer program, ready to run.
pub struct Peer {
    /// `diesel`, `seaorm` or `sqlalchemy`.
    pub name: &'static str,
    program: PathBuf,
    args: Vec<String>,
}

/// Every peer, in report order.
pub const PEERS: [&str; 3] = ["diesel", "seaorm", "sqlalchemy"];

/// The bench directory (peers live under it).
fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a setup command, failing with its output if it fails.
fn setup(what: &str, cmd: &mut std::process::Command) -> Res<()> {
    eprintln!("setting up {what} ...");
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// Builds (cargo, release) or installs (a virtual environment from `requirements.txt`) a peer.
pub fn prepare_peer(name: &'static str) -> Res<Peer> {
    let dir = bench_dir().join("peers").join(name);
    match name {
        "diesel" | "seaorm" => {
            let manifest = dir.join("Cargo.toml");
            setup(
                &format!("the {name} peer (cargo build --release)"),
                std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
                    .args(["build", "--release", "--quiet", "--manifest-path"])
                    .arg(&manifest),
            )?;
            Ok(Peer {
                name,
                program: dir.join("target/release").join(format!("{name}-peer")),
                args: Vec::new(),
            })
        }
        "sqlalchemy" => {
            let venv = bench_dir().join("target/sqlalchemy-venv");
            let python = venv.join("bin/python");
            let requirements = dir.join("requirements.txt");
            let stamp = venv.join("requirements.txt");
            let current = std::fs::read(&requirements)?;
            if std::fs::read(&stamp).ok().as_deref() != Some(current.as_slice()) {
                setup(
                    "a Python virtual environment for SQLAlchemy",
                    std::process::Command::new("python3")
                        .args(["-m", "venv", "--clear"])
                        .arg(&venv),
                )?;
                setup(
                    "SQLAlchemy from PyPI (pip install -r peers/sqlalchemy/requirements.txt)",
                    std::process::Command::new(&python)
                        .args(["-m", "pip", "install", "--quiet", "-r"])
                        .arg(&requirements),
                )?;
                std::fs::write(&stamp, current)?;
            }
            Ok(Peer {
                name,
                program: python,
                args: vec![dir.join("peer.py").display().to_string()],
            })
        }
        other => Err(format!("no peer named {other}").into()),
    }
}

/// Where a peer's run happens: a fresh SQLite file or a fresh PostgreSQL schema, with the shared
/// schema created; the schema is dropped with it.
pub enum Place {
    Sqlite(PathBuf),
    Postgres(pg::Schema),
}

impl Place {
    pub fn create(path: &Path, postgres: bool) -> Res<Place> {
        if postgres {
            Ok(Place::Postgres(pg::Schema::create_with_tables(path)?))
        } else {
            create_sqlite(path)?;
            Ok(Place::Sqlite(path.to_owned()))
        }
    }

    fn url(&self) -> String {
        match self {
            Place::Sqlite(path) => format!("sqlite://{}", path.display()),
            Place::Postgres(schema) => pg::url_in(&schema.0),
        }
    }

    /// On PostgreSQL, fresh planner statistics after W1, outside the timing, as autovacuum
    /// would give them on a server that runs it (this one does not): relata and the raw side
    /// analyze inside their W1, and a peer should not be judged on plans made without
    /// statistics.
    fn analyze(&self) -> Res<()> {
        if let Place::Postgres(schema) = self {
            pg::connect(&schema.0)?.batch_execute("ANALYZE students, courses, student_course")?;
        }
        Ok(())
    }

    fn fingerprint(&self, all_tables: bool) -> Res<u64> {
        match self {
            Place::Sqlite(path) => fingerprint(path, all_tables),
            Place::Postgres(schema) => pg::fingerprint(&schema.0, all_tables),
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Place::Sqlite(path) = self {
            remove_db(path);
        }
    }
}

/// Runs the six workloads with `peer`, one call each, in a fresh place; the harness takes the
/// fingerprints after W1 and W5 itself.
pub fn run_peer(peer: &Peer, path: &Path, postgres: bool, data_file: &Path) -> Res<Run> {
    let place = Place::create(path, postgres)?;
    let url = place.url();
    let mut run = Run::default();
    for (i, w) in ["w1", "w2", "w3", "w4", "w5", "w6"].into_iter().enumerate() {
        let (secs, sum) = run_workload(peer, w, &url, data_file)?;
        run.secs[i] = secs;
        run.sums[i] = sum;
        if i == 0 {
            run.state_after_create = place.fingerprint(true)?;
            place.analyze()?;
        }
        if i == 4 {
            run.sums[4] = place.fingerprint(false)?;
        }
    }
    Ok(run)
}

/// Runs one workload `w` with `peer` on the database at `url`: its time and checksum.
pub fn run_workload(peer: &Peer, w: &str, url: &str, data_file: &Path) -> Res<(f64, u64)> {
    let out = std::process::Command::new(&peer.program)
        .args(&peer.args)
        .args([w, url])
        .arg(data_file)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "{} {w} failed: {}",
            peer.name,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    let line = String::from_utf8(out.stdout)?;
    Ok(parse_result(line.trim()).ok_or_else(|| {
        format!(
            "{} {w} printed {line:?}, not {{\"secs\": S, \"sum\": N}}",
            peer.name
        )
    })?)
}

/// `{"secs": 1.5, "sum": 42}` (keys in either order, any spacing).
fn parse_result(line: &str) -> Option<(f64, u64)> {
    let body = line.strip_prefix('{')?.strip_suffix('}')?;
    let (mut secs, mut sum) = (None, None);
    for part in body.split(',') {
        let (key, value) = part.split_once(':')?;
        match key.trim().trim_matches('"') {
            "secs" => secs = value.trim().parse().ok(),
            "sum" => sum = value.trim().parse().ok(),
            _ => return None,
        }
    }
    Some((secs?, sum?))
}
