//! The operations behind the commands, each one transaction through relata's public API.

use std::collections::{HashMap, HashSet};

use relata::{ConstraintKind, Database, Key, Retry, Session, TxOptions};

use crate::error::{Error, Result};
use crate::model::{registrar_schema, Course, Party, Student};

/// The longest name or title registrar accepts, in characters.
pub const MAX_NAME_CHARS: usize = 1000;

/// A student or course named on the command line: `#ID` or a name (a course's title).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `#3`: the row with this id.
    Id(i64),
    /// `#` and digits beyond the largest id there can be (`#99999999999999999999`), as given:
    /// no row has it.
    IdOutOfRange(String),
    /// Anything else: the rows with exactly this name.
    Name(String),
}

impl Target {
    /// `#` followed by digits is an id; anything else (including `#` followed by other text) is a
    /// name. (Names of the form `#` and digits are refused when stored, see [`check_name`], so
    /// every name can be given as itself.)
    pub fn parse(arg: &str) -> Target {
        if !looks_like_an_id(arg) {
            return Target::Name(arg.to_owned());
        }
        match arg[1..].parse() {
            Ok(id) => Target::Id(id),
            Err(_) => Target::IdOutOfRange(arg.to_owned()),
        }
    }
}

/// Whether `name` reads as an id (`#` and digits), which the command line would take as one.
fn looks_like_an_id(name: &str) -> bool {
    name.strip_prefix('#')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
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

/// How far an import has got, for a progress display: each stage may take a while on a large
/// file or a distant server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStage {
    /// Reading every student and course, with their enrollments.
    Loading,
    /// Matching the file's names against them.
    Matching {
        /// How many pairs the file has.
        pairs: usize,
    },
    /// Writing what is new, in one commit.
    Writing {
        /// New students.
        students: usize,
        /// New courses.
        courses: usize,
        /// New enrollments.
        enrollments: usize,
    },
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
/// [`MAX_NAME_CHARS`] characters, no NUL (which PostgreSQL cannot store), and not `#` followed
/// by digits (that is how ids are written on the command line, so such a name could never be
/// given by name). It is stored exactly as given otherwise.
pub fn check_name<M: Party>(name: &str) -> Result<()> {
    let (noun, field) = (M::NOUN, M::FIELD);
    if looks_like_an_id(name) {
        return Err(Error::Input(format!(
            "a {noun} {field} cannot be {name:?}: `#` and digits is how ids are written ({name} means the {noun} with id {}); write it another way, for example \"No. {}\"",
            &name[1..],
            &name[1..]
        )));
    }
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

    /// Imports pairs (see [`crate::read_pairs`]): students and courses are found by name, or
    /// created when no row has the name; each pair is enrolled unless it is enrolled already or
    /// repeated (then it is counted as skipped). A name shared by several rows is an error naming
    /// the line. All or nothing; two imports at once create each new name once.
    pub fn import(&self, pairs: &[Pair]) -> Result<ImportSummary> {
        self.import_with_progress(pairs, |_| {})
    }

    /// [`Registrar::import`], telling `progress` each stage as it begins (a stage may come again
    /// when the import runs again after colliding with another command).
    pub fn import_with_progress(
        &self,
        pairs: &[Pair],
        mut progress: impl FnMut(ImportStage),
    ) -> Result<ImportSummary> {
        for p in pairs {
            let at = |e: Error| Error::Input(format!("line {}: {e}", p.line));
            check_name::<Student>(&p.student).map_err(at)?;
            check_name::<Course>(&p.course).map_err(at)?;
        }
        let (summary, _) = self.write(|s| {
            progress(ImportStage::Loading);
            let mut summary = ImportSummary::default();
            let mut students = Names::<Student>::load(s, true)?;
            let mut courses = Names::<Course>::load(s, false)?;
            progress(ImportStage::Matching { pairs: pairs.len() });
            for p in pairs {
                let st = students.get_or_add(s, &p.student, p.line, &mut summary.students_added)?;
                let c = courses.get_or_add(s, &p.course, p.line, &mut summary.courses_added)?;
                if s.link(Student::courses(), st, c) {
                    summary.enrollments_added += 1;
                } else {
                    summary.skipped += 1;
                }
            }
            progress(ImportStage::Writing {
                students: summary.students_added,
                courses: summary.courses_added,
                enrollments: summary.enrollments_added,
            });
            Ok(summary)
        })?;
        Ok(summary)
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

/// The one row `target` names, or an error saying there is none or which ids share the name.
fn resolve<M: Party>(s: &mut Session, target: &Target) -> Result<Key<M>> {
    let noun = M::NOUN;
    match target {
        Target::Id(id) => s.find::<M>(*id)?.ok_or_else(|| {
            Error::Input(format!(
                "no {noun} has id #{id}; `registrar {noun} list` shows every {noun}"
            ))
        }),
        Target::IdOutOfRange(given) => Err(Error::Input(format!(
            "no {noun} has id {given}: ids are whole numbers up to {}; `registrar {noun} list` shows every {noun}",
            i64::MAX
        ))),
        Target::Name(name) => {
            let keys = s
                .query::<M>()
                .filter(M::NAME_COLUMN.eq(name.as_str()))
                .order_by(M::ID_COLUMN.asc())
                .all()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(line: u64, student: &str, course: &str) -> Pair {
        Pair {
            line,
            student: student.into(),
            course: course.into(),
        }
    }

    /// The import tells its progress display each stage, with the counts it is about to write.
    #[test]
    fn import_reports_its_stages() {
        let r = Registrar::open("sqlite::memory:").unwrap();
        r.add::<Student>(&["Alice".into()]).unwrap();
        let pairs = [
            pair(2, "Alice", "Math"),
            pair(3, "Алиса", "Math"),
            pair(4, "Alice", "Math"),
        ];
        let mut stages = Vec::new();
        let summary = r.import_with_progress(&pairs, |s| stages.push(s)).unwrap();
        assert_eq!(
            stages,
            [
                ImportStage::Loading,
                ImportStage::Matching { pairs: 3 },
                ImportStage::Writing {
                    students: 1,
                    courses: 1,
                    enrollments: 2
                },
            ]
        );
        assert_eq!(summary.skipped, 1);
    }

    #[test]
    fn ids_parse_and_names_that_look_like_ids_are_refused() {
        assert_eq!(Target::parse("#12"), Target::Id(12));
        assert_eq!(
            Target::parse("#99999999999999999999"),
            Target::IdOutOfRange("#99999999999999999999".into())
        );
        for name in ["#", "#x", "# 1", "12", "Alice"] {
            assert_eq!(Target::parse(name), Target::Name(name.into()));
            assert!(check_name::<Student>(name).is_ok(), "{name}");
        }
        assert!(check_name::<Course>("#0").is_err());
    }
}
