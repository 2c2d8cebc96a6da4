//! The CSV import: the pairs it reads, the stages it reports, what it did, and the matching of
//! the file's names against the stored rows, creating those no row has.

use std::collections::HashMap;

use relata::{Key, Session};

use super::target::{ambiguous, check_name};
use super::Registrar;
use crate::error::{Error, Result};
use crate::model::{Course, Party, Student};

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

impl Registrar {
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
}
