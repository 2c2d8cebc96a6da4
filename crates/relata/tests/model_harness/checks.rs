//! The harness's checks: object states after a commit or rollback, each collection in the
//! session, and the whole database read through a new session, against the model.

use std::collections::BTreeSet;

use relata::ObjectState;

use super::{tag_of, Harness, World};
use crate::common::*;

impl Harness {
    /// Right after a commit or rollback: live objects are persistent with ids, others detached.
    pub(super) fn check_states(&self) {
        for (&tag, &k) in &self.students {
            let live = self.pending.students.contains_key(&tag);
            let state = self.s.state(k);
            if live {
                assert_eq!(
                    state,
                    ObjectState::Persistent,
                    "student {tag}; {}",
                    self.ctx()
                );
                assert!(
                    self.s.id(k).is_some(),
                    "student {tag} has no id; {}",
                    self.ctx()
                );
                assert_eq!(self.s[k].name, self.pending.students[&tag]);
            } else {
                assert_eq!(
                    state,
                    ObjectState::Detached,
                    "student {tag}; {}",
                    self.ctx()
                );
            }
        }
        for (&tag, &k) in &self.courses {
            let live = self.pending.courses.contains_key(&tag);
            let state = self.s.state(k);
            if live {
                assert_eq!(
                    state,
                    ObjectState::Persistent,
                    "course {tag}; {}",
                    self.ctx()
                );
                assert!(
                    self.s.id(k).is_some(),
                    "course {tag} has no id; {}",
                    self.ctx()
                );
            } else {
                assert_eq!(state, ObjectState::Detached, "course {tag}; {}", self.ctx());
            }
        }
    }

    /// The collection order: stored objects by id, then new objects in the order they were added.
    pub(super) fn assert_ordered(&self, what: &str, ids: &[(Option<i64>, u32)]) {
        let mut sorted = ids.to_vec();
        sorted.sort_by_key(|&(id, tag)| (id.unwrap_or(i64::MAX), tag));
        assert_eq!(ids, sorted.as_slice(), "order of {what}; {}", self.ctx());
    }

    pub(super) fn check_student_view(&mut self, st: u32) {
        let k = self.students[&st];
        let got = match self.s.related(Student::courses(), k) {
            Ok(v) => v,
            Err(e) => panic!("related(courses) of student {st}: {e}; {}", self.ctx()),
        };
        let tags: Vec<(Option<i64>, u32)> = got
            .iter()
            .map(|c| (self.s.id(*c), self.course_tags[c]))
            .collect();
        let set: BTreeSet<u32> = tags.iter().map(|&(_, t)| t).collect();
        assert_eq!(
            set.len(),
            tags.len(),
            "duplicates in student {st}'s courses {tags:?}; {}",
            self.ctx()
        );
        let expect: BTreeSet<u32> = self
            .pending
            .pairs
            .iter()
            .filter(|&&(s, _)| s == st)
            .map(|&(_, c)| c)
            .collect();
        assert_eq!(
            set,
            expect,
            "student {st}'s courses in the session; {}",
            self.ctx()
        );
        self.assert_ordered(&format!("student {st}'s courses"), &tags);
    }

    pub(super) fn check_course_view(&mut self, c: u32) {
        let k = self.courses[&c];
        let got = match self.s.related(Course::students(), k) {
            Ok(v) => v,
            Err(e) => panic!("related(students) of course {c}: {e}; {}", self.ctx()),
        };
        let tags: Vec<(Option<i64>, u32)> = got
            .iter()
            .map(|s| (self.s.id(*s), self.student_tags[s]))
            .collect();
        let set: BTreeSet<u32> = tags.iter().map(|&(_, t)| t).collect();
        assert_eq!(
            set.len(),
            tags.len(),
            "duplicates in course {c}'s students {tags:?}; {}",
            self.ctx()
        );
        let expect: BTreeSet<u32> = self
            .pending
            .pairs
            .iter()
            .filter(|&&(_, cc)| cc == c)
            .map(|&(s, _)| s)
            .collect();
        assert_eq!(
            set,
            expect,
            "course {c}'s students in the session; {}",
            self.ctx()
        );
        self.assert_ordered(&format!("course {c}'s students"), &tags);
    }

    pub(super) fn check_session_view(&mut self) {
        let students: Vec<u32> = self.pending.students.keys().copied().collect();
        let courses: Vec<u32> = self.pending.courses.keys().copied().collect();
        for st in students {
            self.check_student_view(st);
        }
        for c in courses {
            self.check_course_view(c);
        }
    }

    /// Reads the whole database through a new session and compares it with the committed world
    /// (and the ids with the ones the main session holds).
    pub(super) fn check_database(&self) {
        let mut s = self.db.session();
        let mut db = World::default();
        let studs = s
            .query::<Student>()
            .eager(Student::courses())
            .all()
            .unwrap();
        for &st in &studs {
            let tag = tag_of(&s[st].name);
            assert_eq!(
                s.id(st),
                self.s.id(self.students[&tag]),
                "student {tag}'s id; {}",
                self.ctx()
            );
            db.students.insert(tag, s[st].name.clone());
            for c in s.related(Student::courses(), st).unwrap() {
                assert!(
                    db.pairs.insert((tag, tag_of(&s[c].title))),
                    "duplicate pair; {}",
                    self.ctx()
                );
            }
        }
        let courses = s.query::<Course>().all().unwrap();
        let mut back = BTreeSet::new();
        for &c in &courses {
            let tag = tag_of(&s[c].title);
            assert_eq!(
                s.id(c),
                self.s.id(self.courses[&tag]),
                "course {tag}'s id; {}",
                self.ctx()
            );
            db.courses.insert(tag, s[c].title.clone());
            // Lazily, from the other side.
            for st in s.related(Course::students(), c).unwrap() {
                back.insert((tag_of(&s[st].name), tag));
            }
        }
        assert_eq!(
            db.pairs,
            back,
            "the two sides disagree in the database; {}",
            self.ctx()
        );
        assert_eq!(
            db,
            self.committed,
            "database vs committed model; {}",
            self.ctx()
        );
    }
}
