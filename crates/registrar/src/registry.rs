//! The operations behind the commands, each one transaction through relata's public API.
//!
//! This module holds [`Registrar`] with its transactions and the values its commands return;
//! naming rows (ids, names, the checks on a new name) is in `target`, and the CSV import's
//! matching of names in `import`.

mod import;
mod target;

use std::collections::{HashMap, HashSet};

use relata::{ConstraintKind, Database, Key, Retry, Session, TxOptions};

use crate::error::{Error, Result};
use crate::model::{registrar_schema, Course, Party, Student};

pub use self::import::{ImportStage, ImportSummary, Pair};
use self::target::resolve;
pub use self::target::{check_name, Target, MAX_NAME_CHARS};

/// A student's or course's id and name (title).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The id.
    pub id: i64,
    /// The name or title.
    pub name: String,
}

impl std::fmt::Display for Entry {
    /// `Alice (#1)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (#{})", self.name, self.id)
    }
}

/// One line of `student list` or `course list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The student or course.
    pub entry: Entry,
    /// How many courses the student takes, or students the course has.
    pub count: usize,
}

/// `student show` or `course show`: the entry and the other side, by name then id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The student or course.
    pub entry: Entry,
    /// Its courses (of a student) or students (of a course).
    pub related: Vec<Entry>,
}

/// A student or course that `add` stored, with the ids of the others that have the same name (a
/// name may repeat, but then it no longer names one row: those rows must be given by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// The new row.
    pub entry: Entry,
    /// The ids of the rows that had this name before it, in id order (empty when the name is
    /// new).
    pub same_name: Vec<i64>,
}

/// One row of an export: a student and a course they are enrolled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The student.
    pub student: Entry,
    /// The course.
    pub course: Entry,
}

/// An open registrar database: the schema exists, every method is one transaction.
#[derive(Clone, Debug)]
pub struct Registrar {
    db: Database,
}

impl Registrar {
    /// Opens the database at `url` and creates the schema if it is missing.
    pub fn open(url: &str) -> Result<Registrar> {
        let db = Database::open(url).map_err(|source| Error::Database {
            url: relata::mask_url(url),
            source: Box::new(source),
        })?;
        let registrar = Registrar { db };
        registrar
            .db
            .create_all(&registrar_schema())
            .map_err(|e| registrar.with_url(e.into()))?;
        Ok(registrar)
    }

    /// The relata database underneath.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Prints every SQL statement to stderr from now on.
    pub fn set_echo(&self, on: bool) {
        self.db.set_echo(on);
    }

    /// A database error made inside a transaction, with the database's URL filled in.
    fn with_url(&self, e: Error) -> Error {
        match e {
            Error::Database { url, source } if url.is_empty() => Error::Database {
                url: self.db.url().to_owned(),
                source,
            },
            e => e,
        }
    }

    /// Runs `body` in a read-only transaction: one snapshot, no write lock, so it never waits
    /// for a command that writes, and never makes one wait.
    fn read<T>(&self, body: impl FnOnce(&mut Session) -> Result<T>) -> Result<T> {
        self.db
            .session()
            .transaction_with(TxOptions::new().read_only(), body)
            .map_err(|e| self.with_url(e))
    }

    /// Runs `body` in a serializable transaction on a new session and commits what it staged;
    /// if `body` fails, nothing is written. Two commands that would interleave (two clerks
    /// enrolling the same pair, two imports creating the same names) cannot both commit: the
    /// database refuses one (a serialization failure or deadlock, or, where the database saw
    /// the other's row only at the end, a duplicate or vanished enrollment), and that one runs
    /// again from the start, so its own checks see the other's work ("already enrolled") and
    /// every name is created once. Returns the committed session with `body`'s value.
    fn write<T>(&self, mut body: impl FnMut(&mut Session) -> Result<T>) -> Result<(T, Session)> {
        let mut reruns = 0;
        loop {
            match self.db.transaction_with_retry(&WRITE_RETRY, &mut body) {
                Ok(done) => return Ok((done.value, done.session)),
                Err(e) if reruns < 3 && changed_underneath(&e) => reruns += 1,
                Err(e) => return Err(self.with_url(e)),
            }
        }
    }

    /// Adds students or courses by name, returning them with their new ids and the ids of any
    /// rows that had the same name already (the name is still stored: names may repeat, but
    /// then only ids tell the rows apart).
    pub fn add<M: Party>(&self, names: &[String]) -> Result<Vec<Added>> {
        for name in names {
            check_name::<M>(name)?;
        }
        let ((keys, before), s) = self.write(|s| {
            let existing = s
                .query::<M>()
                .filter(M::NAME_COLUMN.is_in(names.iter().map(String::as_str)))
                .order_by(M::ID_COLUMN.asc())
                .all()?;
            let mut before: HashMap<String, Vec<i64>> = HashMap::new();
            for k in existing {
                before
                    .entry(s[k].name().to_owned())
                    .or_default()
                    .push(s.id(k).unwrap_or_default());
            }
            Ok((s.add_all(names.iter().map(|n| M::named(n.clone()))), before))
        })?;
        let mut seen = before;
        Ok(keys
            .into_iter()
            .map(|k| {
                let entry = entry(&s, k);
                let ids = seen.entry(entry.name.clone()).or_default();
                let same_name = ids.clone();
                ids.push(entry.id);
                Added { entry, same_name }
            })
            .collect())
    }

    /// Every student (or course) by name then id, with how many of the other side each has: one
    /// statement (a count per row; nothing of the other side is loaded).
    pub fn list<M: Party>(&self) -> Result<Vec<Listed>> {
        self.read(|s| {
            // One statement: each row's enrollments are counted, not loaded.
            let rows: Vec<(i64, String, i64)> = s
                .query::<M>()
                .order_by(M::NAME_COLUMN.asc())
                .order_by(M::ID_COLUMN.asc())
                .select((M::ID_COLUMN, M::NAME_COLUMN, M::enrollments().count()))
                .all()?;
            Ok(rows
                .into_iter()
                .map(|(id, name, count)| Listed {
                    entry: Entry { id, name },
                    count: count.max(0) as usize,
                })
                .collect())
        })
    }

    /// Every student (or course) by name then id, each with the other side by name then id: two
    /// statements, however many rows (the enrollments load eagerly).
    pub fn roster<M: Party>(&self) -> Result<Vec<Shown>> {
        self.read(|s| {
            let keys = s
                .query::<M>()
                .order_by(M::NAME_COLUMN.asc())
                .order_by(M::ID_COLUMN.asc())
                .eager(M::enrollments())
                .all()?;
            keys.into_iter().map(|k| shown(s, k)).collect()
        })
    }

    /// One student with their courses, or one course with its students, by name then id.
    pub fn show<M: Party>(&self, target: &Target) -> Result<Shown> {
        self.read(|s| {
            let key = resolve::<M>(s, target)?;
            shown(s, key)
        })
    }

    /// Renames a student (or retitles a course); returns the entry before and after.
    pub fn rename<M: Party>(&self, target: &Target, name: &str) -> Result<(Entry, Entry)> {
        check_name::<M>(name)?;
        let (renamed, _) = self.write(|s| {
            let key = resolve::<M>(s, target)?;
            let before = entry(s, key);
            s[key].set_name(name.to_owned());
            Ok((before, entry(s, key)))
        })?;
        Ok(renamed)
    }

    /// Removes a student or course and its enrollments; returns it and how many enrollments went.
    pub fn remove<M: Party>(&self, target: &Target) -> Result<(Entry, usize)> {
        let (removed, _) = self.write(|s| {
            let key = resolve::<M>(s, target)?;
            let removed = entry(s, key);
            let enrollments = s.clear(M::enrollments(), key)?;
            s.delete(key);
            Ok((removed, enrollments))
        })?;
        Ok(removed)
    }

    /// Enrolls one student in each of `courses`: all or none. A pair that is enrolled already, or
    /// a course given twice, is an error and nothing is written.
    pub fn enroll(&self, student: &Target, courses: &[Target]) -> Result<(Entry, Vec<Entry>)> {
        self.change_enrollments(student, courses, true)
    }

    /// Drops one student from each of `courses`: all or none. A pair that is not enrolled, or a
    /// course given twice, is an error and nothing is written.
    pub fn drop(&self, student: &Target, courses: &[Target]) -> Result<(Entry, Vec<Entry>)> {
        self.change_enrollments(student, courses, false)
    }

    fn change_enrollments(
        &self,
        student: &Target,
        courses: &[Target],
        enroll: bool,
    ) -> Result<(Entry, Vec<Entry>)> {
        let (done, _) = self.write(|s| {
            let st = resolve::<Student>(s, student)?;
            let mut seen = HashSet::new();
            let mut changed = Vec::with_capacity(courses.len());
            for target in courses {
                let c = resolve::<Course>(s, target)?;
                if !seen.insert(c) {
                    return Err(Error::Input(format!(
                        "{} is given twice; name each course once",
                        entry(s, c)
                    )));
                }
                let enrolled = s.contains(Student::courses(), st, c)?;
                match (enroll, enrolled) {
                    (true, true) => {
                        return Err(Error::Input(format!(
                            "{} is already enrolled in {}",
                            entry(s, st),
                            entry(s, c)
                        )))
                    }
                    (false, false) => {
                        return Err(Error::Input(format!(
                            "{} is not enrolled in {}",
                            entry(s, st),
                            entry(s, c)
                        )))
                    }
                    _ => {}
                }
                changed.push(c);
            }
            for &c in &changed {
                if enroll {
                    s.link(Student::courses(), st, c);
                } else {
                    s.unlink(Student::courses(), st, c);
                }
            }
            let courses = changed.into_iter().map(|c| entry(s, c)).collect();
            Ok((entry(s, st), courses))
        })?;
        Ok(done)
    }

    /// Every enrollment, by student name (then id), then course title (then id).
    pub fn export(&self) -> Result<Vec<Enrolled>> {
        let mut out = Vec::new();
        for shown in self.roster::<Student>()? {
            out.extend(shown.related.into_iter().map(|course| Enrolled {
                student: shown.entry.clone(),
                course,
            }));
        }
        Ok(out)
    }
}

/// How registrar's writes retry: at SERIALIZABLE, up to 20 attempts (a busy office's commands
/// collide rarely, but an import and a burst of enrollments can take a few rounds).
const WRITE_RETRY: Retry = Retry::serializable().attempts(20);

/// Whether a commit failed because another command changed the same enrollment first, seen only
/// at the end (a duplicate pair, or a pair gone): the command is run again from the start, and
/// its own checks then name what happened.
fn changed_underneath(e: &Error) -> bool {
    let Error::Database { source, .. } = e else {
        return false;
    };
    match &**source {
        relata::Error::Stale { .. } => true,
        relata::Error::Constraint {
            kind: ConstraintKind::PrimaryKey | ConstraintKind::Unique,
            table,
            ..
        } => table == "student_course",
        _ => false,
    }
}

/// The object and its related objects, by name then id.
fn shown<M: Party>(s: &mut Session, key: Key<M>) -> Result<Shown> {
    let mut related: Vec<Entry> = s
        .related(M::enrollments(), key)?
        .into_iter()
        .map(|k| entry(s, k))
        .collect();
    sort_entries(&mut related);
    Ok(Shown {
        entry: entry(s, key),
        related,
    })
}

/// The stored object as an [`Entry`].
fn entry<M: Party>(s: &Session, key: Key<M>) -> Entry {
    Entry {
        id: s.id(key).unwrap_or_default(),
        name: s[key].name().to_owned(),
    }
}

/// By name (code point order, as the databases sort), then id.
fn sort_entries(entries: &mut [Entry]) {
    entries.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
}
