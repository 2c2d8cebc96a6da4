//! The model and the harness behind `model_proptest.rs`: the session operations (`Op`), a plain
//! in-memory model of them (`World`), and `Harness`, which applies operations to a real session
//! and checks the session and the database against the model after each step.
//!
//! The model keeps two worlds: `committed` (what the database must hold) and `pending` (what the
//! session must show). Operations change `pending`; a commit copies it to `committed`, a rollback
//! copies `committed` back. Deleting an object removes its pairs. Operations only ever pick live
//! objects (those in `pending`). Dropping the session for a new one discards pending changes, like
//! a rollback.
//!
//! Inside a transaction block (`Block`), `Flush` writes pending changes into the block's
//! transaction and `Savepoint` runs operations that may fail: a failed savepoint puts `pending`
//! back as it was when the savepoint began; a failed block leaves the database as `committed` and
//! the session's changes pending (what it flushed too); a block that succeeds commits `pending`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use relata::{Database, Key, ObjectState, Session};

use crate::common::*;

mod checks;

const MAX_STUDENTS: usize = 6;
const MAX_COURSES: usize = 5;

#[derive(Debug, Clone)]
pub enum Op {
    AddStudent(String),
    AddCourse(String),
    /// Student, course, and whether to link from the course's side.
    Link(usize, usize, bool),
    Unlink(usize, usize, bool),
    DeleteStudent(usize),
    DeleteCourse(usize),
    /// Check one student's collection in the session.
    ViewStudent(usize),
    /// Check one course's collection in the session.
    ViewCourse(usize),
    /// Commit, then check the database; with `true` also check every collection in the session.
    Commit(bool),
    Rollback(bool),
    /// Drop the session (discarding pending changes) and continue in a new one that finds every
    /// live object by id, so collections start unloaded.
    Reopen,
    /// Eager-load every student's courses (`false`) or every course's students (`true`) into
    /// the session as it is, pending changes and all, then check every collection.
    Eager(bool),
    /// A transaction block running these operations (no `Commit`, `Rollback`, `Reopen` or
    /// `Block` among them), which fails at its end if `true`.
    Block(Vec<Op>, bool),
    /// Inside a block: a savepoint running these operations, which fails at its end if `true`.
    Savepoint(Vec<Op>, bool),
    /// Inside a block: write the pending changes into its transaction.
    Flush,
}

/// The error a block or savepoint of the harness fails with: the application's own type.
#[derive(Debug)]
enum Refused {
    Db(relata::Error),
    OnPurpose,
}

impl From<relata::Error> for Refused {
    fn from(e: relata::Error) -> Refused {
        Refused::Db(e)
    }
}

/// Objects by tag (a number unique to each added object, in add order), and pairs of tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct World {
    students: BTreeMap<u32, String>,
    courses: BTreeMap<u32, String>,
    /// (student tag, course tag)
    pairs: BTreeSet<(u32, u32)>,
}

/// The tag at the end of a stored name (`name#tag`).
fn tag_of(name: &str) -> u32 {
    let (_, t) = name.rsplit_once('#').expect("names end in #tag");
    t.parse().expect("a numeric tag")
}

struct Harness {
    db: Database,
    s: Session,
    committed: World,
    pending: World,
    /// What the database holds as the session sees it: `committed`, plus what a block flushed.
    written: World,
    next_tag: u32,
    students: HashMap<u32, Key<Student>>,
    courses: HashMap<u32, Key<Course>>,
    student_tags: HashMap<Key<Student>, u32>,
    course_tags: HashMap<Key<Course>, u32>,
    /// What happened so far, for failure messages.
    trace: Vec<String>,
}

impl Harness {
    /// A harness on `db`, which holds the seed schema and nothing else.
    fn new(db: &Database) -> Harness {
        Harness {
            s: db.session(),
            db: db.clone(),
            committed: World::default(),
            pending: World::default(),
            written: World::default(),
            next_tag: 0,
            students: HashMap::new(),
            courses: HashMap::new(),
            student_tags: HashMap::new(),
            course_tags: HashMap::new(),
            trace: Vec::new(),
        }
    }

    fn ctx(&self) -> String {
        format!("after ops:\n  {}", self.trace.join("\n  "))
    }

    fn pick_student(&self, i: usize) -> Option<u32> {
        let live: Vec<u32> = self.pending.students.keys().copied().collect();
        (!live.is_empty()).then(|| live[i % live.len()])
    }

    fn pick_course(&self, i: usize) -> Option<u32> {
        let live: Vec<u32> = self.pending.courses.keys().copied().collect();
        (!live.is_empty()).then(|| live[i % live.len()])
    }

    fn fresh_name(&mut self, prefix: &str) -> (u32, String) {
        let tag = self.next_tag;
        self.next_tag += 1;
        (tag, format!("{prefix}#{tag}"))
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::AddStudent(prefix) => {
                if self.pending.students.len() >= MAX_STUDENTS {
                    return;
                }
                let (tag, name) = self.fresh_name(prefix);
                self.trace.push(format!("add student {tag} {name:?}"));
                let k = self.s.add(student(&name));
                assert_eq!(self.s.state(k), ObjectState::New, "{}", self.ctx());
                self.students.insert(tag, k);
                self.student_tags.insert(k, tag);
                self.pending.students.insert(tag, name);
            }
            Op::AddCourse(prefix) => {
                if self.pending.courses.len() >= MAX_COURSES {
                    return;
                }
                let (tag, name) = self.fresh_name(prefix);
                self.trace.push(format!("add course {tag} {name:?}"));
                let k = self.s.add(course(&name));
                self.courses.insert(tag, k);
                self.course_tags.insert(k, tag);
                self.pending.courses.insert(tag, name);
            }
            Op::Link(i, j, from_course) | Op::Unlink(i, j, from_course) => {
                let (Some(st), Some(c)) = (self.pick_student(*i), self.pick_course(*j)) else {
                    return;
                };
                let link = matches!(op, Op::Link(..));
                let (sk, ck) = (self.students[&st], self.courses[&c]);
                let verb = if link { "link" } else { "unlink" };
                let side = if *from_course {
                    "course side"
                } else {
                    "student side"
                };
                self.trace
                    .push(format!("{verb} student {st} / course {c} ({side})"));
                let was = self.pending.pairs.contains(&(st, c));
                let changed = match (link, from_course) {
                    (true, false) => self.s.link(Student::courses(), sk, ck),
                    (true, true) => self.s.link(Course::students(), ck, sk),
                    (false, false) => self.s.unlink(Student::courses(), sk, ck),
                    (false, true) => self.s.unlink(Course::students(), ck, sk),
                };
                if link {
                    // Linking an unlinked pair always changes something.
                    assert!(
                        was || changed,
                        "link returned false for a new pair; {}",
                        self.ctx()
                    );
                    self.pending.pairs.insert((st, c));
                } else {
                    assert!(
                        !was || changed,
                        "unlink returned false for a linked pair; {}",
                        self.ctx()
                    );
                    self.pending.pairs.remove(&(st, c));
                }
            }
            Op::DeleteStudent(i) => {
                let Some(st) = self.pick_student(*i) else {
                    return;
                };
                self.trace.push(format!("delete student {st}"));
                let k = self.students[&st];
                self.s.delete(k);
                let expect = if self.written.students.contains_key(&st) {
                    ObjectState::Deleted
                } else {
                    ObjectState::Detached
                };
                assert_eq!(self.s.state(k), expect, "{}", self.ctx());
                self.pending.students.remove(&st);
                self.pending.pairs.retain(|&(s, _)| s != st);
            }
            Op::DeleteCourse(i) => {
                let Some(c) = self.pick_course(*i) else {
                    return;
                };
                self.trace.push(format!("delete course {c}"));
                let k = self.courses[&c];
                self.s.delete(k);
                let expect = if self.written.courses.contains_key(&c) {
                    ObjectState::Deleted
                } else {
                    ObjectState::Detached
                };
                assert_eq!(self.s.state(k), expect, "{}", self.ctx());
                self.pending.courses.remove(&c);
                self.pending.pairs.retain(|&(_, cc)| cc != c);
            }
            Op::ViewStudent(i) => {
                if let Some(st) = self.pick_student(*i) {
                    self.trace.push(format!("view student {st}"));
                    self.check_student_view(st);
                }
            }
            Op::ViewCourse(i) => {
                if let Some(c) = self.pick_course(*i) {
                    self.trace.push(format!("view course {c}"));
                    self.check_course_view(c);
                }
            }
            Op::Commit(view) => {
                self.trace.push("commit".into());
                if let Err(e) = self.s.commit() {
                    panic!("commit failed: {e}; {}", self.ctx());
                }
                self.committed = self.pending.clone();
                self.written = self.committed.clone();
                assert!(
                    !self.s.has_changes(),
                    "changes left after commit; {}",
                    self.ctx()
                );
                self.check_states();
                self.check_database();
                if *view {
                    self.check_session_view();
                }
            }
            Op::Reopen => self.reopen(),
            Op::Eager(from_courses) => {
                self.trace.push(format!(
                    "eager load from the {} side",
                    if *from_courses { "course" } else { "student" }
                ));
                if *from_courses {
                    self.s
                        .query::<Course>()
                        .eager(Course::students())
                        .all()
                        .unwrap();
                } else {
                    self.s
                        .query::<Student>()
                        .eager(Student::courses())
                        .all()
                        .unwrap();
                }
                self.check_session_view();
            }
            Op::Block(ops, fail) => self.block(ops, *fail),
            Op::Savepoint(ops, fail) => self.savepoint(ops, *fail),
            Op::Flush => {
                self.trace.push("flush".into());
                if let Err(e) = self.s.flush() {
                    panic!("flush failed: {e}; {}", self.ctx());
                }
                self.written = self.pending.clone();
                self.check_session_view();
            }
            Op::Rollback(view) => {
                self.trace.push("rollback".into());
                self.s.rollback();
                self.pending = self.committed.clone();
                self.written = self.committed.clone();
                assert!(
                    !self.s.has_changes(),
                    "changes left after rollback; {}",
                    self.ctx()
                );
                self.check_states();
                self.check_database();
                if *view {
                    self.check_session_view();
                }
            }
        }
    }

    /// Runs `ops` in a block or a savepoint (`nested`), which fails at its end if `fail`: the
    /// session is moved into the harness for the operations and back out after.
    fn nested(&mut self, ops: &[Op], fail: bool, savepoint: bool) -> Result<(), Refused> {
        let what = if savepoint { "savepoint" } else { "block" };
        self.trace.push(format!("{what} (fails: {fail}) {{"));
        let mut s = std::mem::replace(&mut self.s, self.db.session());
        let body = |inner: &mut Session| {
            std::mem::swap(&mut self.s, inner);
            for op in ops {
                self.apply(op);
            }
            std::mem::swap(&mut self.s, inner);
            if fail {
                Err(Refused::OnPurpose)
            } else {
                Ok(())
            }
        };
        let result = if savepoint {
            s.savepoint(body)
        } else {
            s.transaction(body)
        };
        self.s = s;
        self.trace.push("}".into());
        if let Err(Refused::Db(e)) = &result {
            panic!("{what} failed: {e}; {}", self.ctx());
        }
        result
    }

    fn block(&mut self, ops: &[Op], fail: bool) {
        if self.nested(ops, fail, false).is_ok() {
            self.committed = self.pending.clone();
            self.check_states();
        }
        self.written = self.committed.clone();
        self.check_database();
        self.check_session_view();
    }

    fn savepoint(&mut self, ops: &[Op], fail: bool) {
        let before = self.pending.clone();
        // A savepoint flushes what is pending first.
        self.written = self.pending.clone();
        if self.nested(ops, fail, true).is_err() {
            self.written = before.clone();
            self.pending = before;
        }
        self.check_session_view();
    }

    fn reopen(&mut self) {
        self.trace.push("reopen".into());
        self.pending = self.committed.clone();
        self.written = self.committed.clone();
        // The ids first: the old session goes (with a transaction a flush began, which rolls
        // back) before the new one needs a connection.
        let student_ids: Vec<(u32, i64)> = self
            .committed
            .students
            .keys()
            .map(|&tag| {
                (
                    tag,
                    self.s
                        .id(self.students[&tag])
                        .expect("a committed student has an id"),
                )
            })
            .collect();
        let course_ids: Vec<(u32, i64)> = self
            .committed
            .courses
            .keys()
            .map(|&tag| {
                (
                    tag,
                    self.s
                        .id(self.courses[&tag])
                        .expect("a committed course has an id"),
                )
            })
            .collect();
        self.s = self.db.session();
        let mut s = self.db.session();
        let (mut students, mut courses) = (HashMap::new(), HashMap::new());
        for (tag, id) in student_ids {
            let k = s
                .find::<Student>(id)
                .unwrap()
                .expect("a committed student is stored");
            assert_eq!(s[k].name, self.committed.students[&tag], "{}", self.ctx());
            students.insert(tag, k);
        }
        for (tag, id) in course_ids {
            let k = s
                .find::<Course>(id)
                .unwrap()
                .expect("a committed course is stored");
            assert_eq!(s[k].title, self.committed.courses[&tag], "{}", self.ctx());
            courses.insert(tag, k);
        }
        self.student_tags = students.iter().map(|(&t, &k)| (k, t)).collect();
        self.course_tags = courses.iter().map(|(&t, &k)| (k, t)).collect();
        self.students = students;
        self.courses = courses;
        self.s = s;
        assert!(!self.s.has_changes());
    }
}

/// Runs `ops` on `db` (the seed schema, empty) and checks the end state.
pub fn run(db: &Database, ops: &[Op]) {
    let mut h = Harness::new(db);
    for op in ops {
        h.apply(op);
    }
    h.trace.push("(end)".into());
    h.check_session_view();
    if !h.s.in_transaction() {
        // (With a transaction a flush began, the database is checked after the commit below.)
        h.check_database();
    }
    // Committing what is left must bring the database to the pending world.
    h.apply(&Op::Commit(true));
}

/// Runs `ops` on a brand-new database of `backend` (nothing when the backend is skipped).
pub fn run_on_new(backend: &'static str, ops: &[Op]) {
    if let Some(t) = open_with(backend, &school()) {
        run(&t.db, ops);
    }
}
