//! The operations behind the commands, each one transaction through relata's public API.

use std::collections::{HashMap, HashSet};

use relata::{Database, Key, Session};

use crate::error::{Error, Result};
use crate::model::{registrar_schema, Course, Party, Student};

/// The longest name or title registrar accepts, in characters.
pub const MAX_NAME_CHARS: usize = 1000;

/// A student or course named on the command line: `#ID` or a name (a course's title).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `#3`: the row with this id.
    Id(i64),
    /// Anything else: the rows with exactly this name.
    Name(String),
}

impl Target {
    /// `#` followed by digits is an id; anything else (including `#` followed by other text) is a
    /// name.
    pub fn parse(arg: &str) -> Target {
        match arg.strip_prefix('#') {
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                // More digits than an i64 holds cannot be anyone's id.
                Target::Id(digits.parse().unwrap_or(i64::MAX))
            }
            _ => Target::Name(arg.to_owned()),
        }
    }
}

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

/// One CSV line of an import: a student's name, a course's title and where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The line number in the file (1 is the header).
    pub line: u64,
    /// The student's name.
    pub student: String,
    /// The course's title.
    pub course: String,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Students created because no student had their name.
    pub students_added: usize,
    /// Courses created because no course had their title.
    pub courses_added: usize,
    /// New enrollments.
    pub enrollments_added: usize,
    /// Pairs skipped: repeated in the file, or enrolled already.
    pub skipped: usize,
}

/// One row of an export: a student and a course they are enrolled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The student.
    pub student: Entry,
    /// The course.
    pub course: Entry,
}

/// Checks a name (or title) before it is stored: not empty or blank, at most
/// [`MAX_NAME_CHARS`] characters, no NUL (which PostgreSQL cannot store). It is stored exactly
/// as given otherwise.
pub fn check_name<M: Party>(name: &str) -> Result<()> {
    let (noun, field) = (M::NOUN, M::FIELD);
    if name.trim().is_empty() {
        return Err(Error::Input(format!(
            "a {noun} {field} cannot be empty or only spaces; give at least one visible character"
        )));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        let start: String = name.chars().take(20).collect();
        return Err(Error::Input(format!(
            "the {noun} {field} starting {start:?}... has {chars} characters; the limit is {MAX_NAME_CHARS}"
        )));
    }
    if name.contains('\0') {
        return Err(Error::Input(format!(
            "the {noun} {field} {name:?} contains a NUL character, which databases cannot store; remove it"
        )));
    }
    Ok(())
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
            .map_err(|e| registrar.db_error(e))?;
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

    fn db_error(&self, source: relata::Error) -> Error {
        Error::Database {
            url: self.db.url().to_owned(),
            source: Box::new(source),
        }
    }

    /// Runs `body` in one transaction on a new session, and commits what it staged at the end.
    /// If `body` fails, its pending changes are discarded and nothing is written.
    fn transaction<T>(&self, body: impl FnOnce(&mut Session) -> Result<T>) -> Result<T> {
        self.transaction_on(&mut self.db.session(), body)
    }

    /// [`Registrar::transaction`] on a given session, for a caller that reads the committed
    /// objects afterwards (their new ids).
    fn transaction_on<T>(
        &self,
        s: &mut Session,
        body: impl FnOnce(&mut Session) -> Result<T>,
    ) -> Result<T> {
        let mut outcome = None;
        let done = s.transaction(|s| {
            match body(s) {
                Ok(value) => outcome = Some(Ok(value)),
                // A database error rolls the transaction back through relata.
                Err(Error::Database { source, .. }) => return Err(*source),
                Err(other) => {
                    s.rollback();
                    outcome = Some(Err(other));
                }
            }
            Ok(())
        });
        match done {
            Ok(()) => outcome.expect("the body ran"),
            Err(e) => Err(self.db_error(e)),
        }
    }

    /// Adds students or courses by name, returning them with their new ids.
    pub fn add<M: Party>(&self, names: &[String]) -> Result<Vec<Entry>> {
        for name in names {
            check_name::<M>(name)?;
        }
        let mut s = self.db.session();
        let keys = self.transaction_on(&mut s, |s| {
            Ok(s.add_all(names.iter().map(|n| M::named(n.clone()))))
        })?;
        Ok(keys.into_iter().map(|k| entry(&s, k)).collect())
    }

    /// Every student (or course) by name then id, with how many of the other side each has.
    pub fn list<M: Party>(&self) -> Result<Vec<Listed>> {
        Ok(self
            .roster::<M>()?
            .into_iter()
            .map(|shown| Listed {
                count: shown.related.len(),
                entry: shown.entry,
            })
            .collect())
    }

    /// Every student (or course) by name then id, each with the other side by name then id: two
    /// statements, however many rows (the enrollments load eagerly).
    pub fn roster<M: Party>(&self) -> Result<Vec<Shown>> {
        self.transaction(|s| {
            let keys = s
                .query::<M>()
                .order_by(M::NAME_COLUMN.asc())
                .order_by(M::ID_COLUMN.asc())
                .eager(M::enrollments())
                .all()
                .map_err(|e| self.db_error(e))?;
            keys.into_iter().map(|k| self.shown(s, k)).collect()
        })
    }

    /// The object and its related objects, by name then id.
    fn shown<M: Party>(&self, s: &mut Session, key: Key<M>) -> Result<Shown> {
        let mut related: Vec<Entry> = s
            .related(M::enrollments(), key)
            .map_err(|e| self.db_error(e))?
            .into_iter()
            .map(|k| entry(s, k))
            .collect();
        sort_entries(&mut related);
        Ok(Shown {
            entry: entry(s, key),
            related,
        })
    }

    /// One student with their courses, or one course with its students, by name then id.
    pub fn show<M: Party>(&self, target: &Target) -> Result<Shown> {
        self.transaction(|s| {
            let key = self.resolve::<M>(s, target)?;
            self.shown(s, key)
        })
    }

    /// Renames a student (or retitles a course); returns the entry before and after.
    pub fn rename<M: Party>(&self, target: &Target, name: &str) -> Result<(Entry, Entry)> {
        check_name::<M>(name)?;
        self.transaction(|s| {
            let key = self.resolve::<M>(s, target)?;
            let before = entry(s, key);
            s[key].set_name(name.to_owned());
            Ok((before, entry(s, key)))
        })
    }

    /// Removes a student or course and its enrollments; returns it and how many enrollments went.
    pub fn remove<M: Party>(&self, target: &Target) -> Result<(Entry, usize)> {
        self.transaction(|s| {
            let key = self.resolve::<M>(s, target)?;
            let removed = entry(s, key);
            let enrollments = s
                .clear(M::enrollments(), key)
                .map_err(|e| self.db_error(e))?;
            s.delete(key);
            Ok((removed, enrollments))
        })
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
        self.transaction(|s| {
            let st = self.resolve::<Student>(s, student)?;
            let mut seen = HashSet::new();
            let mut changed = Vec::with_capacity(courses.len());
            for target in courses {
                let c = self.resolve::<Course>(s, target)?;
                if !seen.insert(c) {
                    return Err(Error::Input(format!(
                        "{} is given twice; name each course once",
                        entry(s, c)
                    )));
                }
                let enrolled = s
                    .contains(Student::courses(), st, c)
                    .map_err(|e| self.db_error(e))?;
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
        })
    }

    /// Imports pairs (see [`crate::read_pairs`]): students and courses are found by name, or
    /// created when no row has the name; each pair is enrolled unless it is enrolled already or
    /// repeated (then it is counted as skipped). A name shared by several rows is an error naming
    /// the line. All or nothing.
    pub fn import(&self, pairs: &[Pair]) -> Result<ImportSummary> {
        for p in pairs {
            let at = |e: Error| Error::Input(format!("line {}: {e}", p.line));
            check_name::<Student>(&p.student).map_err(at)?;
            check_name::<Course>(&p.course).map_err(at)?;
        }
        self.transaction(|s| {
            let mut summary = ImportSummary::default();
            let mut students = Names::<Student>::load(s, true).map_err(|e| self.db_error(e))?;
            let mut courses = Names::<Course>::load(s, false).map_err(|e| self.db_error(e))?;
            for p in pairs {
                let st = students.get_or_add(s, &p.student, p.line, &mut summary.students_added)?;
                let c = courses.get_or_add(s, &p.course, p.line, &mut summary.courses_added)?;
                if s.link(Student::courses(), st, c) {
                    summary.enrollments_added += 1;
                } else {
                    summary.skipped += 1;
                }
            }
            Ok(summary)
        })
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

    /// The one row `target` names, or an error saying there is none or which ids share the name.
    fn resolve<M: Party>(&self, s: &mut Session, target: &Target) -> Result<Key<M>> {
        let noun = M::NOUN;
        match target {
            Target::Id(id) => s
                .find::<M>(*id)
                .map_err(|e| self.db_error(e))?
                .ok_or_else(|| {
                    Error::Input(format!(
                        "no {noun} has id #{id}; `registrar {noun} list` shows every {noun}"
                    ))
                }),
            Target::Name(name) => {
                let keys = s
                    .query::<M>()
                    .filter(M::NAME_COLUMN.eq(name.as_str()))
                    .order_by(M::ID_COLUMN.asc())
                    .all()
                    .map_err(|e| self.db_error(e))?;
                match keys[..] {
                    [key] => Ok(key),
                    [] => Err(Error::Input(format!(
                        "no {noun} is named {name:?}; `registrar {noun} list` shows every {noun}"
                    ))),
                    _ => Err(Error::Input(format!(
                        "{}; give one by id, for example #{}",
                        ambiguous(s, name, &keys),
                        s.id(keys[0]).unwrap_or_default()
                    ))),
                }
            }
        }
    }
}

/// Says that several rows share a name, listing their ids: `2 students are named "Alice" (#1,
/// #4)`.
fn ambiguous<M: Party>(s: &Session, name: &str, keys: &[Key<M>]) -> String {
    let ids: Vec<String> = keys
        .iter()
        .map(|&k| format!("#{}", s.id(k).unwrap_or_default()))
        .collect();
    format!(
        "{} {}s are named {name:?} ({})",
        keys.len(),
        M::NOUN,
        ids.join(", ")
    )
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

/// Every stored row of one side by name, for an import; names new in the file are added as they
/// come.
struct Names<M: Party> {
    by_name: HashMap<String, Result<Key<M>, Vec<Key<M>>>>,
}

impl<M: Party> Names<M> {
    /// Loads every row of `M`, with its enrollments if `with_enrollments` (one side's suffice
    /// for `link` to know every stored pair).
    fn load(s: &mut Session, with_enrollments: bool) -> relata::Result<Names<M>> {
        let query = s.query::<M>();
        let keys = if with_enrollments {
            query.eager(M::enrollments()).all()?
        } else {
            query.all()?
        };
        let mut by_name: HashMap<String, Result<Key<M>, Vec<Key<M>>>> = HashMap::new();
        for k in keys {
            let name = s[k].name().to_owned();
            match by_name.get_mut(&name) {
                None => {
                    by_name.insert(name, Ok(k));
                }
                Some(Ok(first)) => {
                    let both = vec![*first, k];
                    by_name.insert(name, Err(both));
                }
                Some(Err(all)) => all.push(k),
            }
        }
        Ok(Names { by_name })
    }

    fn get_or_add(
        &mut self,
        s: &mut Session,
        name: &str,
        line: u64,
        added: &mut usize,
    ) -> Result<Key<M>> {
        match self.by_name.get(name) {
            Some(Ok(key)) => Ok(*key),
            Some(Err(keys)) => {
                let mut keys = keys.clone();
                keys.sort_by_key(|&k| s.id(k));
                Err(Error::Input(format!(
                    "line {line}: {}; an import cannot tell which one is meant, so rename all but one of them first",
                    ambiguous(s, name, &keys)
                )))
            }
            None => {
                let key = s.add(M::named(name.to_owned()));
                *added += 1;
                self.by_name.insert(name.to_owned(), Ok(key));
                Ok(key)
            }
        }
    }
}
