//! `BENCH=import`: registrar's `import` of the S*K pairs as a CSV file (student name, course
//! title), against relata's W1 bulk create of the same students, courses and links, each on a
//! fresh SQLite file, interleaved. The import's timing covers reading and parsing the file,
//! finding or creating every student and course by name, and the one commit; opening the
//! database and creating the schema are outside both timings.

use std::fs::File;
use std::io::{BufWriter, Write};

use super::*;

/// The target: an import takes at most this many times W1.
const TARGET: f64 = 1.5;

pub fn run(cfg: &Config, data: &Data, dir: &Path) -> Res<ExitCode> {
    let csv = dir.join("pairs.csv");
    let mut w = BufWriter::new(File::create(&csv)?);
    writeln!(w, "student,course")?;
    for (name, picked) in data.names.iter().zip(&data.links) {
        for &c in picked {
            writeln!(w, "{name},{}", data.titles[c])?;
        }
    }
    w.flush()?;
    drop(w);
    let pairs = cfg.students * cfg.per_student;
    let (mut create, mut import) = (Vec::new(), Vec::new());
    for rep in 0..cfg.reps {
        let path = dir.join(format!("create-{rep}.db"));
        remove_db(&path);
        let db = Database::open(&format!("sqlite://{}", path.display()))?;
        db.create_all(&the_schema())?;
        let (t, (sum, _)) = time(|| with_relata::create(&db, data))?;
        drop(db);
        remove_db(&path);
        eprintln!(
            "rep {}/{}  relata W1 create: {t:.3}s sum={sum}",
            rep + 1,
            cfg.reps
        );
        create.push(t);

        let path = dir.join(format!("import-{rep}.db"));
        remove_db(&path);
        let r = registrar::Registrar::open(&format!("sqlite://{}", path.display()))?;
        let (t, summary) = time(|| {
            let bytes = std::fs::read(&csv)?;
            let read = registrar::read_pairs(&bytes, |_| {})?;
            Ok(r.import(&read)?)
        })?;
        drop(r);
        remove_db(&path);
        eprintln!(
            "rep {}/{} registrar import: {t:.3}s {summary:?}",
            rep + 1,
            cfg.reps
        );
        let expected = (cfg.students, cfg.courses, pairs, 0);
        let got = (
            summary.students_added,
            summary.courses_added,
            summary.enrollments_added,
            summary.skipped,
        );
        if got != expected {
            eprintln!("import added {got:?} (students, courses, enrollments, skipped), expected {expected:?}");
            return Ok(ExitCode::FAILURE);
        }
        import.push(t);
    }
    let _ = std::fs::remove_file(&csv);
    let (c, i) = (median(create), median(import));
    println!(
        "Machine: {} cores ({}), SQLite {}; {pairs} pairs: S={} students, C={} courses, K={}, \
         REPS={} (median shown).",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        rusqlite::version(),
        cfg.students,
        cfg.courses,
        cfg.per_student,
        cfg.reps,
    );
    println!();
    println!(
        "| job | relata W1 create (s) | registrar import (s) | ratio import/W1 | target | met? |"
    );
    println!("|---|---:|---:|---:|---:|:---:|");
    let ratio = i / c;
    println!(
        "| {pairs} pairs | {c:.3} | {i:.3} | {ratio:.2}x | {TARGET:.1}x | {} |",
        if ratio <= TARGET { "yes" } else { "no" }
    );
    Ok(ExitCode::SUCCESS)
}
