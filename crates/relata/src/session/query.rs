//! The [`Query`] builder: a filter, an order, a window and eager loads on a model, run by the
//! session (`load.rs`) and merged into its identity map.

use std::marker::PhantomData;

use super::select::{Columns, NoColumns, Outer, Projection, Select};
use super::Session;
use crate::error::{Error, Result};
use crate::model::{Key, Model};
use crate::query::{describe_filter, Filter, Order, QuerySpec};
use crate::relation::{AssocDef, Relation, Side};

/// An eager load requested on a query: the association and the direction.
#[derive(Debug, Clone)]
pub(crate) struct EagerSpec {
    pub def: &'static AssocDef,
    pub side: Side,
    /// Creates the target model's store in the session (the loader is not generic).
    pub ensure_target: fn(&mut Session),
    /// A relation of the targets to load next, for every object this one loaded (a path:
    /// lesson → course → teacher).
    pub then: Option<Box<EagerSpec>>,
}

/// A query for objects of model `M`, made by `session.query::<M>()`. Results are merged into the
/// session's identity map (one row is one key) and come back as keys; objects already in the
/// session keep their pending changes.
///
/// Queries read what the database holds: pending changes are not in it until committed, or
/// flushed in a transaction block ([`Session::flush`], or [`Session::set_autoflush`] to flush
/// before every query of a block).
pub struct Query<'s, M: Model> {
    pub(super) session: &'s mut Session,
    pub(super) spec: QuerySpec,
    eager: Vec<EagerSpec>,
    /// Whether the rows overwrite unchanged objects the session holds.
    populate: bool,
    _p: PhantomData<fn() -> M>,
}

impl<'s, M: Model> Query<'s, M> {
    /// A query with this spec (a [`Pages`](crate::Pages) running one of its pages).
    pub(super) fn with_spec(session: &'s mut Session, spec: QuerySpec) -> Self {
        Query {
            spec,
            ..Query::new(session)
        }
    }

    pub(crate) fn new(session: &'s mut Session) -> Self {
        Query {
            session,
            spec: QuerySpec::default(),
            eager: Vec::new(),
            populate: false,
            _p: PhantomData,
        }
    }

    /// Keeps the rows that match `filter` (several calls combine with AND).
    pub fn filter(mut self, filter: Filter<M>) -> Self {
        self.spec.filter = Some(match self.spec.filter.take() {
            None => filter.expr,
            Some(prev) => Filter::<M>::new(prev).and(filter).expr,
        });
        self
    }

    /// Orders the results (several calls add tie-breakers); the primary key always breaks the last
    /// tie, so results come in a stable order.
    pub fn order_by(mut self, order: Order<M>) -> Self {
        self.spec.order.push((order.by, order.descending));
        self
    }

    /// At most `n` results.
    pub fn limit(mut self, n: u64) -> Self {
        self.spec.limit = Some(n);
        self
    }

    /// Skips the first `n` results.
    pub fn offset(mut self, n: u64) -> Self {
        self.spec.offset = Some(n);
        self
    }

    /// Also loads `relation`'s collection for every result, not one statement per object but two
    /// for all of them: the pairs, then the targets they name (one `UNION ALL` on PostgreSQL; see
    /// [`Capabilities::eager_load_statements`](crate::Capabilities::eager_load_statements)).
    pub fn eager<T: Model>(mut self, relation: Relation<M, T>) -> Self {
        self.eager.push(EagerSpec {
            def: relation.def(),
            side: relation.side,
            ensure_target: Session::ensure_store::<T>,
            then: None,
        });
        self
    }

    /// Loads a path of two relations: `relation`'s collection for every result, then `then`'s
    /// for every object that loaded, one or two statements per relation (never one per object).
    /// `eager_then(Lesson::course(), Course::teacher())` reads each lesson's course and each
    /// course's teacher; with strict mode on, walking them runs nothing more.
    ///
    /// ```
    /// # use relata::{schema, Database, Model};
    /// # #[derive(Model)] struct Teacher { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # #[derive(Model)] struct Course { #[relata(primary_key)] id: Option<i64>, title: String,
    /// #     #[relata(references = Teacher, relation = "teacher", inverse = "courses")] teacher_id: Option<i64> }
    /// # #[derive(Model)] struct Lesson { #[relata(primary_key)] id: Option<i64>, topic: String,
    /// #     #[relata(references = Course, relation = "course", inverse = "lessons")] course_id: i64 }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Teacher, Course, Lesson])?;
    /// # let mut s = db.session();
    /// # let t = s.add(Teacher { id: None, name: "Ada".into() });
    /// # let c = s.add(Course { id: None, title: "Math".into(), teacher_id: None });
    /// # let l = s.add(Lesson { id: None, topic: "Limits".into(), course_id: 0 });
    /// # s.link(Course::teacher(), c, t);
    /// # s.link(Lesson::course(), l, c);
    /// # s.commit()?;
    /// let mut s = db.session();
    /// s.set_strict(true); // any lazy load is an error
    /// let lessons = s.query::<Lesson>().eager_then(Lesson::course(), Course::teacher()).all()?;
    /// let course = s.related(Lesson::course(), lessons[0])?[0];
    /// let teacher = s.related(Course::teacher(), course)?[0];
    /// assert_eq!(s[teacher].name, "Ada");
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn eager_then<T: Model, U: Model>(
        mut self,
        relation: Relation<M, T>,
        then: Relation<T, U>,
    ) -> Self {
        self.eager.push(EagerSpec {
            def: relation.def(),
            side: relation.side,
            ensure_target: Session::ensure_store::<T>,
            then: Some(Box::new(EagerSpec {
                def: then.def(),
                side: then.side,
                ensure_target: Session::ensure_store::<U>,
                then: None,
            })),
        });
        self
    }

    /// Makes the rows read overwrite the objects the session already holds (SQLAlchemy's
    /// `populate_existing`): by default an object already in the identity map keeps the values
    /// it was first read with. Objects with unsaved changes are never overwritten: they keep
    /// their changes. Costs nothing more in statements.
    pub fn populate_existing(mut self) -> Self {
        self.populate = true;
        self
    }

    /// Runs the query, with the rows overwriting held objects if asked.
    fn run(&mut self) -> Result<Vec<Key<M>>> {
        if !self.populate {
            return self.session.run_query::<M>(&self.spec, &self.eager);
        }
        self.session.store_mut::<M>().populate = true;
        let found = self.session.run_query::<M>(&self.spec, &self.eager);
        self.session.store_mut::<M>().populate = false;
        found
    }

    /// Turns the query into a [`Select`] of values (its filter, order and window kept; eager
    /// loads do not apply to values).
    fn into_select(self) -> Select<'s, (M, ()), NoColumns> {
        Select::from_query(self.session, self.spec)
    }

    /// Reads values instead of objects: a column, an [`Expression`](crate::Expression), or a
    /// tuple of them, per matching row (see [`Select`]).
    ///
    /// ```
    /// # use relata::{Database, Model, schema};
    /// # #[derive(Model)] struct Course { #[relata(primary_key)] id: Option<i64>, title: String }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Course])?;
    /// let mut s = db.session();
    /// for title in ["Math", "Logic", "Музыка"] {
    ///     s.add(Course { id: None, title: title.into() });
    /// }
    /// s.commit()?;
    /// let rows: Vec<(String, i64)> = s
    ///     .query::<Course>()
    ///     .order_by(Course::TITLE.length().desc())
    ///     .order_by(Course::TITLE.asc())
    ///     .select((Course::TITLE, Course::TITLE.length()))
    ///     .all()?;
    /// assert_eq!(rows[0], ("Музыка".to_owned(), 6)); // characters, not bytes
    /// let (n, avg): (i64, Option<f64>) =
    ///     s.query::<Course>().select((Course::ID.count(), Course::TITLE.length().avg())).one()?;
    /// assert_eq!((n, avg), (3, Some(5.0)));
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn select<P: Projection<(M, ()), I>, I>(
        self,
        parts: P,
    ) -> Select<'s, (M, ()), Columns<P::Row>> {
        self.into_select().select(parts)
    }

    /// Joins the objects related along `relation` for a [`Select`] of values: one row per
    /// related pair, rows with no related object left out.
    ///
    /// ```
    /// # use relata::{Association, Database, Model, schema};
    /// # #[derive(Model)] #[relata(table = "students")] struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # #[derive(Model)] #[relata(table = "courses")] struct Course { #[relata(primary_key)] id: Option<i64>, title: String }
    /// # #[derive(Association)] #[relata(table = "student_course")]
    /// # struct StudentCourse {
    /// #     #[relata(references = Student, relation = "courses")] student_id: i64,
    /// #     #[relata(references = Course, relation = "students")] course_id: i64,
    /// # }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student, Course, StudentCourse])?;
    /// # let mut s = db.session();
    /// # let math = s.add(Course { id: None, title: "Math".into() });
    /// # let art = s.add(Course { id: None, title: "Art".into() });
    /// # let alice = s.add(Student { id: None, name: "Alice".into() });
    /// # let bob = s.add(Student { id: None, name: "Bob".into() });
    /// # s.extend(Student::courses(), alice, [math, art]);
    /// # s.link(Student::courses(), bob, math);
    /// # s.commit()?;
    /// // Each enrollment as (student, course), Alice (Math, Art) and Bob (Math):
    /// let pairs: Vec<(String, String)> = s
    ///     .query::<Student>()
    ///     .join(Student::courses())
    ///     .order_by(Student::NAME.asc())
    ///     .order_by(Course::TITLE.asc())
    ///     .select((Student::NAME, Course::TITLE))
    ///     .all()?;
    /// assert_eq!(pairs.len(), 3);
    /// assert_eq!(pairs[0], ("Alice".to_owned(), "Art".to_owned()));
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn join<T: Model>(self, relation: Relation<M, T>) -> Select<'s, (T, (M, ())), NoColumns> {
        self.into_select().join(relation)
    }

    /// Joins like [`Query::join`], keeping rows with no related object (see
    /// [`Select::left_join`]).
    ///
    /// ```
    /// # use relata::{Association, Database, Model, schema};
    /// # #[derive(Model)] #[relata(table = "students")] struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # #[derive(Model)] #[relata(table = "courses")] struct Course { #[relata(primary_key)] id: Option<i64>, title: String }
    /// # #[derive(Association)] #[relata(table = "student_course")]
    /// # struct StudentCourse {
    /// #     #[relata(references = Student, relation = "courses")] student_id: i64,
    /// #     #[relata(references = Course, relation = "students")] course_id: i64,
    /// # }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student, Course, StudentCourse])?;
    /// # let mut s = db.session();
    /// # let math = s.add(Course { id: None, title: "Math".into() });
    /// # let art = s.add(Course { id: None, title: "Art".into() });
    /// # let alice = s.add(Student { id: None, name: "Alice".into() });
    /// # let bob = s.add(Student { id: None, name: "Bob".into() });
    /// # s.extend(Student::courses(), alice, [math, art]);
    /// # s.link(Student::courses(), bob, math);
    /// # s.commit()?;
    /// s.add(Course { id: None, title: "Музыка".into() });
    /// s.commit()?;
    /// // Every course, with its students' names where it has any (None where it has none).
    /// let rows: Vec<(String, Option<String>)> = s
    ///     .query::<Course>()
    ///     .left_join(Course::students())
    ///     .filter(Course::TITLE.ne("Math"))
    ///     .order_by(Course::TITLE.asc())
    ///     .select((Course::TITLE, Student::NAME))
    ///     .all()?;
    /// assert_eq!(rows, [("Art".into(), Some("Alice".into())), ("Музыка".into(), None)]);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn left_join<T: Model>(
        self,
        relation: Relation<M, T>,
    ) -> Select<'s, (Outer<T>, (M, ())), NoColumns> {
        self.into_select().left_join(relation)
    }

    /// Groups the rows for a [`Select`] of aggregates (see [`Select::group_by`]).
    ///
    /// ```
    /// # use relata::{Association, Database, Model, schema};
    /// # #[derive(Model)] #[relata(table = "students")] struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # #[derive(Model)] #[relata(table = "courses")] struct Course { #[relata(primary_key)] id: Option<i64>, title: String }
    /// # #[derive(Association)] #[relata(table = "student_course")]
    /// # struct StudentCourse {
    /// #     #[relata(references = Student, relation = "courses")] student_id: i64,
    /// #     #[relata(references = Course, relation = "students")] course_id: i64,
    /// # }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student, Course, StudentCourse])?;
    /// # let mut s = db.session();
    /// # let math = s.add(Course { id: None, title: "Math".into() });
    /// # let art = s.add(Course { id: None, title: "Art".into() });
    /// # let alice = s.add(Student { id: None, name: "Alice".into() });
    /// # let bob = s.add(Student { id: None, name: "Bob".into() });
    /// # s.extend(Student::courses(), alice, [math, art]);
    /// # s.link(Student::courses(), bob, math);
    /// # s.commit()?;
    /// // How many courses have each title length.
    /// let per_length: Vec<(i64, i64)> = s
    ///     .query::<Course>()
    ///     .group_by(Course::TITLE.length())
    ///     .order_by(Course::TITLE.length().asc())
    ///     .select((Course::TITLE.length(), Course::ID.count()))
    ///     .all()?;
    /// assert_eq!(per_length, [(3, 1), (4, 1)]);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn group_by<P: Projection<(M, ()), I>, I>(self, by: P) -> Select<'s, (M, ()), NoColumns> {
        self.into_select().group_by(by)
    }

    /// Leaves out duplicate rows of a [`Select`] (see [`Select::distinct`]).
    ///
    /// ```
    /// # use relata::{Association, Database, Model, schema};
    /// # #[derive(Model)] #[relata(table = "students")] struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # #[derive(Model)] #[relata(table = "courses")] struct Course { #[relata(primary_key)] id: Option<i64>, title: String }
    /// # #[derive(Association)] #[relata(table = "student_course")]
    /// # struct StudentCourse {
    /// #     #[relata(references = Student, relation = "courses")] student_id: i64,
    /// #     #[relata(references = Course, relation = "students")] course_id: i64,
    /// # }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student, Course, StudentCourse])?;
    /// # let mut s = db.session();
    /// # let math = s.add(Course { id: None, title: "Math".into() });
    /// # let art = s.add(Course { id: None, title: "Art".into() });
    /// # let alice = s.add(Student { id: None, name: "Alice".into() });
    /// # let bob = s.add(Student { id: None, name: "Bob".into() });
    /// # s.extend(Student::courses(), alice, [math, art]);
    /// # s.link(Student::courses(), bob, math);
    /// # s.commit()?;
    /// s.add(Student { id: None, name: "Alice".into() });
    /// s.commit()?;
    /// let names: Vec<String> =
    ///     s.query::<Student>().distinct().order_by(Student::NAME.asc()).select(Student::NAME).all()?;
    /// assert_eq!(names, ["Alice", "Bob"]);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn distinct(self) -> Select<'s, (M, ()), NoColumns> {
        self.into_select().distinct()
    }

    /// Every matching object.
    pub fn all(mut self) -> Result<Vec<Key<M>>> {
        self.run()
    }

    /// The first matching object, if any.
    pub fn first(mut self) -> Result<Option<Key<M>>> {
        self.spec.limit = Some(1);
        Ok(self.run()?.into_iter().next())
    }

    /// The only matching object: an error if none or several match.
    pub fn one(mut self) -> Result<Key<M>> {
        self.spec.limit = Some(2);
        self.spec.unordered = self.spec.offset.is_none();
        let found = self.run()?;
        match found.len() {
            1 => Ok(found[0]),
            0 => Err(Error::NotFound {
                table: M::TABLE.name,
                what: describe_filter(&self.spec),
            }),
            _ => {
                self.spec.limit = None;
                let count = self.session.run_count::<M>(&self.spec)?;
                Err(Error::MultipleRows {
                    table: M::TABLE.name,
                    count,
                })
            }
        }
    }

    /// How many rows match (ignores ordering; honours limit and offset).
    pub fn count(self) -> Result<u64> {
        self.session.run_count::<M>(&self.spec)
    }
}
