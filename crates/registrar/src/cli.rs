//! The command line: parsing (clap), running a command, printing its result.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, ErrorKind, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use crate::output::{
    added_json, changed_json, count, entries_table, list_json, list_table, shown_json,
};
use registrar::escape_control;
use registrar::{read_pairs, write_pairs};
use registrar::{Course, Party, Student};
use registrar::{Error, Result};
use registrar::{ImportStage, Registrar, Target};

/// Where the database is when neither `--db` nor `REGISTRAR_DB` says.
pub const DEFAULT_DB: &str = "sqlite://registrar.db";

/// The environment variable that names the database when `--db` is not given.
pub const DB_ENV: &str = "REGISTRAR_DB";

const MAIN_EXAMPLES: &str = "\
Examples:
  registrar demo
  registrar student add Alice Bob
  registrar course add Math \"Art History\"
  registrar enroll Alice Math \"Art History\"
  registrar student show Alice
  registrar --db postgres://user@localhost/school course list
  registrar import term.csv

Students and courses are named by name (title) or by id, as #ID (for example #3).
The database is --db URL, else $REGISTRAR_DB, else sqlite://registrar.db here;
the schema is created on first use. A name that starts with - goes after --:
  registrar student add -- -Dash-";

/// registrar: students, courses and enrollments, on SQLite, PostgreSQL or MySQL.
#[derive(Parser, Debug)]
#[command(name = "registrar", version, after_help = MAIN_EXAMPLES)]
struct Cli {
    /// Database URL: sqlite://file.db, sqlite::memory:, postgres://user@host/db, mysql://user@host/db
    /// [default: $REGISTRAR_DB, else sqlite://registrar.db]
    #[arg(long, global = true, value_name = "URL")]
    db: Option<String>,
    /// Print exactly one JSON document on stdout instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Print every SQL statement (with its parameters) to stderr.
    #[arg(long, global = true)]
    echo: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the seed scenario on a fresh in-memory database and print who takes what
    #[command(
        after_help = "Example:\n  registrar demo\n\n--db is ignored: the demo never touches your data."
    )]
    Demo,
    /// Add, list, show, rename or remove students
    #[command(
        subcommand,
        after_help = "Examples:\n  registrar student add Alice Bob\n  registrar student list\n  registrar student show Alice"
    )]
    Student(PartyCommand),
    /// Add, list, show, rename or remove courses
    #[command(
        subcommand,
        after_help = "Examples:\n  registrar course add Math\n  registrar course list\n  registrar course show Math"
    )]
    Course(PartyCommand),
    /// Enroll one student in one or more courses (all or none)
    #[command(
        after_help = "Examples:\n  registrar enroll Alice Math Science\n  registrar enroll '#3' '#7'"
    )]
    Enroll {
        /// The student: a name or #ID
        student: String,
        /// The courses: titles or #IDs
        #[arg(required = true)]
        courses: Vec<String>,
    },
    /// Drop one student from one or more courses (all or none)
    #[command(
        after_help = "Examples:\n  registrar drop Alice Science\n  registrar drop '#3' Math '#7'"
    )]
    Drop {
        /// The student: a name or #ID
        student: String,
        /// The courses: titles or #IDs
        #[arg(required = true)]
        courses: Vec<String>,
    },
    /// Import a CSV with the header student,course: missing students and courses are created by
    /// name, each pair enrolled; pairs enrolled already or repeated are skipped (all or none)
    #[command(
        after_help = "Example:\n  registrar import term.csv\n\nterm.csv:\n  student,course\n  Alice,Math\n  \"Smith, Jo\",Art History"
    )]
    Import {
        /// The CSV file (UTF-8)
        file: PathBuf,
    },
    /// Write every enrollment as CSV (student,course), by student name then course title
    #[command(after_help = "Examples:\n  registrar export\n  registrar export term.csv")]
    Export {
        /// Where to write; stdout if not given
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum PartyCommand {
    /// Add one or more by name (title); prints each new id
    #[command(
        after_help = "Examples:\n  registrar student add Alice \"Bob Smith\" Алиса 张伟\n  registrar course add Math"
    )]
    Add {
        /// Names (titles), each stored exactly as given
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Every one with their number of enrollments, by name then id
    #[command(after_help = "Examples:\n  registrar student list\n  registrar --json course list")]
    List,
    /// One, with the other side of their enrollments by name then id
    #[command(
        after_help = "Examples:\n  registrar student show Alice\n  registrar course show '#2'"
    )]
    Show {
        /// A name (title) or #ID
        target: String,
    },
    /// Give a new name (title)
    #[command(
        after_help = "Examples:\n  registrar student rename Alice Alicia\n  registrar course rename '#2' \"Math I\""
    )]
    Rename {
        /// A name (title) or #ID
        target: String,
        /// The new name (title)
        name: String,
    },
    /// Remove one and their enrollments (its id is never given again)
    #[command(
        after_help = "Examples:\n  registrar student remove Bob\n  registrar course remove '#2'"
    )]
    Remove {
        /// A name (title) or #ID
        target: String,
    },
}

/// Runs registrar with these arguments (the first is the program name) and returns the exit
/// code: 0 on success, 1 on an error (printed to stderr as `error: ...`), 2 on a usage error.
///
/// Output that cannot be written never panics: a reader that closed the pipe early (`registrar
/// export | head -3`) ends the command quietly with exit code 0, as Unix tools do; any other
/// failure to write stdout (a full disk) is an error, exit code 1; and an error message that
/// cannot be written to stderr is lost, but the exit code still says 1.
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let outcome = execute(&cli).and_then(|printed| {
        let mut out = std::io::stdout().lock();
        let written = match printed {
            Printed::Human(text) => out.write_all(text.as_bytes()),
            Printed::Json(value) => writeln!(out, "{value}"),
        };
        written
            .and_then(|()| out.flush())
            .map_err(|e| Error::file(Path::new("stdout"), e))
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if stdout_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let message = escape_control(&e.to_string()).into_owned();
            if cli.json {
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "{}",
                    json!({"ok": false, "error": message})
                );
            }
            let _ = writeln!(std::io::stderr().lock(), "error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Whether writing stdout failed because its reader went away (`| head`): not an error.
fn stdout_closed(e: &Error) -> bool {
    matches!(e, Error::File { path, source } if path == "stdout" && source.kind() == ErrorKind::BrokenPipe)
}

/// Prints a warning on stderr (lost if stderr cannot be written; the command goes on).
fn warn(message: &str) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "warning: {}",
        escape_control(message)
    );
}

/// What a command prints: the JSON document, or the human text.
enum Printed {
    Human(String),
    Json(Value),
}

fn execute(cli: &Cli) -> Result<Printed> {
    if let Command::Demo = &cli.command {
        return demo(cli);
    }
    let url = database_url(cli.db.as_deref());
    let registrar = Registrar::open(&url)?;
    registrar.set_echo(cli.echo);
    match &cli.command {
        Command::Demo => demo(cli),
        Command::Student(c) => party::<Student>(&registrar, c, cli.json),
        Command::Course(c) => party::<Course>(&registrar, c, cli.json),
        Command::Enroll { student, courses } => {
            enrollments(&registrar, student, courses, true, cli.json)
        }
        Command::Drop { student, courses } => {
            enrollments(&registrar, student, courses, false, cli.json)
        }
        Command::Import { file } => import(&registrar, file, cli.json),
        Command::Export { file } => export(&registrar, file.as_deref(), cli.json),
    }
}

/// `--db`, else `$REGISTRAR_DB`, else [`DEFAULT_DB`].
fn database_url(flag: Option<&str>) -> String {
    match flag {
        Some(url) => url.to_owned(),
        None => std::env::var(DB_ENV)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_DB.to_owned()),
    }
}

fn targets(args: &[String]) -> Vec<Target> {
    args.iter().map(|a| Target::parse(a)).collect()
}

fn party<M: Party>(r: &Registrar, command: &PartyCommand, json: bool) -> Result<Printed> {
    let noun = M::NOUN;
    Ok(match command {
        PartyCommand::Add { names } => {
            let added = r.add::<M>(names)?;
            for a in added.iter().filter(|a| !a.same_name.is_empty()) {
                let ids: Vec<String> = a.same_name.iter().map(|id| format!("#{id}")).collect();
                warn(&format!(
                    "{} {} {:?} existed already ({}); the new one is #{}: give them by id from now on, or rename one (`registrar {noun} rename #{} NEW`)",
                    if a.same_name.len() == 1 { "a" } else { "several" },
                    if a.same_name.len() == 1 { noun } else { M::PLURAL },
                    a.entry.name,
                    ids.join(", "),
                    a.entry.id,
                    a.entry.id
                ));
            }
            let entries: Vec<_> = added.iter().map(|a| a.entry.clone()).collect();
            if json {
                Printed::Json(added_json::<M>(&added))
            } else {
                Printed::Human(entries_table::<M>(&entries).to_string())
            }
        }
        PartyCommand::List => {
            let rows = r.list::<M>()?;
            if json {
                Printed::Json(list_json::<M>(&rows))
            } else if rows.is_empty() {
                Printed::Human(format!(
                    "no {} yet; add one with `registrar {noun} add NAME`\n",
                    M::PLURAL
                ))
            } else {
                Printed::Human(list_table::<M>(&rows).to_string())
            }
        }
        PartyCommand::Show { target } => {
            let shown = r.show::<M>(&Target::parse(target))?;
            if json {
                Printed::Json(shown_json::<M>(&shown))
            } else {
                let (one, many) = (M::Other::NOUN, M::Other::PLURAL);
                let entry = escape_control(&shown.entry.to_string()).into_owned();
                let mut text = match shown.related.len() {
                    0 => format!("{entry}: no {many}\n"),
                    n => format!("{entry}: {}\n", count(n, one, many)),
                };
                if !shown.related.is_empty() {
                    text.push_str(&entries_table::<M::Other>(&shown.related).to_string());
                }
                Printed::Human(text)
            }
        }
        PartyCommand::Rename { target, name } => {
            let (before, after) = r.rename::<M>(&Target::parse(target), name)?;
            let changed = usize::from(before != after);
            if json {
                Printed::Json(changed_json(changed))
            } else {
                Printed::Human(format!(
                    "{noun} #{} renamed from {} to {}\n",
                    after.id,
                    escape_control(&format!("{:?}", before.name)),
                    escape_control(&format!("{:?}", after.name))
                ))
            }
        }
        PartyCommand::Remove { target } => {
            let (removed, enrollments) = r.remove::<M>(&Target::parse(target))?;
            if json {
                Printed::Json(changed_json(1))
            } else {
                Printed::Human(format!(
                    "removed {noun} {} and {}\n",
                    escape_control(&removed.to_string()),
                    count(enrollments, "enrollment", "enrollments")
                ))
            }
        }
    })
}

fn enrollments(
    r: &Registrar,
    student: &str,
    courses: &[String],
    enroll: bool,
    json: bool,
) -> Result<Printed> {
    let student = Target::parse(student);
    let courses = targets(courses);
    let (student, changed) = if enroll {
        r.enroll(&student, &courses)?
    } else {
        r.drop(&student, &courses)?
    };
    if json {
        return Ok(Printed::Json(changed_json(changed.len())));
    }
    let list: Vec<String> = changed.iter().map(ToString::to_string).collect();
    let student = escape_control(&student.to_string()).into_owned();
    let list = escape_control(&list.join(", ")).into_owned();
    Ok(Printed::Human(if enroll {
        format!("enrolled {student} in {list}\n")
    } else {
        format!("dropped {student} from {list}\n")
    }))
}

fn import(r: &Registrar, path: &Path, json: bool) -> Result<Printed> {
    let in_file = |e: Error| match e {
        Error::Input(message) => Error::Input(format!(
            "{}: {message}",
            escape_control(&path.display().to_string())
        )),
        other => other,
    };
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, e))?;
    let size = bytes.len() as u64;
    let bar = progress_bar(size, json);
    bar.set_message("reading the file");
    let pairs = read_pairs(&bytes, |at| bar.set_position(at)).map_err(in_file)?;
    bar.set_position(size);
    // The database work has no byte count: a spinner with the stage, ticking on its own so a
    // long commit on a distant server does not look frozen.
    bar.set_style(spinner_style());
    bar.enable_steady_tick(Duration::from_millis(120));
    let summary = r.import_with_progress(&pairs, |stage| {
        bar.set_message(match stage {
            ImportStage::Loading => "loading students and courses".to_owned(),
            ImportStage::Matching { pairs } => {
                format!("matching {}", count(pairs, "pair", "pairs"))
            }
            ImportStage::Writing {
                students,
                courses,
                enrollments,
            } => format!(
                "writing {}, {} and {}",
                count(students, "student", "students"),
                count(courses, "course", "courses"),
                count(enrollments, "enrollment", "enrollments")
            ),
        })
    });
    bar.finish_and_clear();
    let summary = summary.map_err(in_file)?;
    if json {
        // The interface fixes this shape; the full summary is the human output.
        return Ok(Printed::Json(changed_json(summary.enrollments_added)));
    }
    Ok(Printed::Human(format!(
        "imported {}: {}, {} and {} added; {} skipped (repeated or enrolled already)\n",
        escape_control(&path.display().to_string()),
        count(summary.students_added, "student", "students"),
        count(summary.courses_added, "course", "courses"),
        count(summary.enrollments_added, "enrollment", "enrollments"),
        count(summary.skipped, "pair", "pairs")
    )))
}

/// A byte-count bar on stderr when both stdout and stderr are terminals (and not `--json`);
/// hidden otherwise, so piped output stays clean.
fn progress_bar(bytes: u64, json: bool) -> ProgressBar {
    let interactive = !json && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    if !interactive {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>28} [{bar:40}] {bytes}/{total_bytes} {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The import's spinner, once the file is read: the stage and how long it has taken.
fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn export(r: &Registrar, path: Option<&Path>, json: bool) -> Result<Printed> {
    let rows = r.export()?;
    match path {
        None if json => Ok(Printed::Json(Value::Array(
            rows.iter()
                .map(|row| {
                    json!({
                        "student": {"id": row.student.id, "name": row.student.name},
                        "course": {"id": row.course.id, "title": row.course.name},
                    })
                })
                .collect(),
        ))),
        None => {
            let mut out = BufWriter::new(std::io::stdout().lock());
            write_pairs(&mut out, &rows).map_err(|e| Error::file(Path::new("stdout"), e))?;
            Ok(Printed::Human(String::new()))
        }
        Some(path) => {
            let file = File::create(path).map_err(|e| Error::file(path, e))?;
            write_pairs(BufWriter::new(file), &rows).map_err(|e| Error::file(path, e))?;
            Ok(if json {
                Printed::Json(json!({"ok": true, "changed": 0, "exported": rows.len()}))
            } else {
                Printed::Human(format!(
                    "exported {} to {}\n",
                    count(rows.len(), "enrollment", "enrollments"),
                    escape_control(&path.display().to_string())
                ))
            })
        }
    }
}

/// The seed scenario, through the same operations as the commands, on a fresh in-memory
/// database: the four lines of relata's example.
fn demo(cli: &Cli) -> Result<Printed> {
    let r = Registrar::open("sqlite::memory:")?;
    r.set_echo(cli.echo);
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    r.add::<Student>(&names(&["Alice", "Bob"]))?;
    r.add::<Course>(&names(&["Math", "Science"]))?;
    let t = |s: &str| Target::parse(s);
    r.enroll(&t("Alice"), &[t("Math"), t("Science")])?;
    r.enroll(&t("Bob"), &[t("Math")])?;
    let students: Vec<(String, Vec<String>)> = lines::<Student>(&r)?;
    let courses: Vec<(String, Vec<String>)> = lines::<Course>(&r)?;
    if cli.json {
        let side = |rows: &[(String, Vec<String>)], field: &str, others: &str| {
            Value::Array(
                rows.iter()
                    .map(|(name, related)| json!({field: name, others: related}))
                    .collect(),
            )
        };
        return Ok(Printed::Json(json!({
            "students": side(&students, "name", "courses"),
            "courses": side(&courses, "title", "students"),
        })));
    }
    let mut text = String::new();
    for (name, related) in students.iter().chain(&courses) {
        text.push_str(&format!("{name}: {}\n", related.join(", ")));
    }
    Ok(Printed::Human(text))
}

/// Each student (or course) by name with the names of the other side.
fn lines<M: Party>(r: &Registrar) -> Result<Vec<(String, Vec<String>)>> {
    Ok(r.roster::<M>()?
        .into_iter()
        .map(|shown| {
            let names = shown.related.into_iter().map(|e| e.name).collect();
            (shown.entry.name, names)
        })
        .collect())
}
