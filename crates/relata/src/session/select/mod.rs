//! The [`Select`] builder: a query that reads values, not objects. Columns and expressions of
//! the query's model and of the models it joins along relations, aggregates with `group_by`
//! and `having`, `distinct`, into tuples. Every model a part names must be one of the select's
//! sources (the query's model, or one it joined), which the types check: a column of another
//! model is a compile error.

mod projection;

use std::marker::PhantomData;

pub use projection::{Has, Here, Outer, Parts, Projection, Sources, There};

use super::load::Doing;
use super::Session;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::query::{Filter, Order, QuerySpec};
use crate::relation::Relation;
use crate::sql::{self, Join, SelectSpec, Source, Sql};
use crate::value::{DecodeError, RowSource};

/// The state of a [`Select`] before [`Select::select`] names what it reads.
#[doc(hidden)]
pub struct NoColumns;

/// The state of a [`Select`] that reads rows of type `R`.
#[doc(hidden)]
pub struct Columns<R>(ReadRow<R>);

/// Reads one row of a select from a column on, advancing past its columns.
type ReadRow<R> = fn(&dyn RowSource, &mut usize) -> Result<R, (usize, DecodeError)>;

/// A query that reads values rather than objects, made from a [`Query`](crate::Query) by
/// `select`, `join`, `left_join`, `group_by` or `distinct`: columns and expressions
/// ([`Expression`](crate::Expression)) of its model and of the models joined along relations, aggregates with
/// `group_by` and `having`, into tuples. Nothing is merged into the identity map. `S` lists the
/// models it reads from; `C` is what it reads, once [`Select::select`] says.
///
/// ```
/// # use relata::{Association, Database, Model, schema};
/// # #[derive(Model)] struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
/// # #[derive(Model)] struct Course { #[relata(primary_key)] id: Option<i64>, title: String }
/// # #[derive(Association)] #[relata(table = "student_course")]
/// # struct StudentCourse {
/// #     #[relata(references = Student, relation = "courses")] student_id: i64,
/// #     #[relata(references = Course, relation = "students")] course_id: i64,
/// # }
/// # let db = Database::open("sqlite::memory:")?;
/// # db.create_all(&schema![Student, Course, StudentCourse])?;
/// let mut s = db.session();
/// let math = s.add(Course { id: None, title: "Math".into() });
/// let art = s.add(Course { id: None, title: "Art".into() });
/// for (name, courses) in [("Alice", vec![math, art]), ("Bob", vec![math]), ("Алиса", vec![])] {
///     let st = s.add(Student { id: None, name: name.into() });
///     for c in courses {
///         s.link(Student::courses(), st, c);
///     }
/// }
/// s.commit()?;
/// // Students taking at least two courses: a join, a group and a condition on it.
/// let busy: Vec<(String, i64)> = s
///     .query::<Student>()
///     .join(Student::courses())
///     .group_by((Student::ID, Student::NAME))
///     .having(Course::ID.count().ge(2))
///     .select((Student::NAME, Course::ID.count()))
///     .all()?;
/// assert_eq!(busy, [("Alice".to_owned(), 2)]);
/// # Ok::<(), relata::Error>(())
/// ```
pub struct Select<'s, S, C = NoColumns> {
    session: &'s mut Session,
    spec: SelectSpec,
    columns: C,
    _p: PhantomData<fn() -> S>,
}

impl<'s, M: Model> Select<'s, (M, ()), NoColumns> {
    /// A select on `M` with a query's filter, order and window.
    pub(crate) fn from_query(session: &'s mut Session, q: QuerySpec) -> Self {
        let spec = SelectSpec {
            sources: vec![Source {
                table: M::TABLE,
                join: None,
            }],
            filter: q.filter.into_iter().map(|f| (0, f)).collect(),
            order: q.order.into_iter().map(|(o, d)| (0, o, d)).collect(),
            limit: q.limit,
            offset: q.offset,
            ..SelectSpec::default()
        };
        Select {
            session,
            spec,
            columns: NoColumns,
            _p: PhantomData,
        }
    }
}

impl<'s, S, C> Select<'s, S, C> {
    fn with<S2, C2>(self, columns: C2) -> Select<'s, S2, C2> {
        Select {
            session: self.session,
            spec: self.spec,
            columns,
            _p: PhantomData,
        }
    }

    fn join_kind<F, T: Model, I, J>(
        mut self,
        relation: Relation<F, T>,
        left: bool,
    ) -> Select<'s, (J, S), C>
    where
        S: Has<F, I>,
    {
        self.spec.sources.push(Source {
            table: T::TABLE,
            join: Some(Join {
                kind: relation.kind,
                side: relation.side,
                from: S::INDEX,
                left,
            }),
        });
        let columns = self.columns;
        Select {
            session: self.session,
            spec: self.spec,
            columns,
            _p: PhantomData,
        }
    }

    /// Joins the objects related along `relation` (from any model already in the select), one
    /// row per related pair: their columns can then be selected, filtered and grouped. Rows with
    /// no related object are left out (see [`Select::left_join`]). A relation from a model to
    /// itself cannot be joined (the select could not tell its two ends apart): use
    /// [`Relation::any`] or [`Relation::aggregate`] there. For the same reason, code generic
    /// over two models that could be one type (`fn list<M: Party>` joining `M::Other`) cannot
    /// join them; concrete code can, and generic code can use [`Relation::count`] and
    /// [`Relation::aggregate`] per row.
    pub fn join<F, T: Model, I>(self, relation: Relation<F, T>) -> Select<'s, (T, S), C>
    where
        S: Has<F, I>,
    {
        self.join_kind::<F, T, I, T>(relation, false)
    }

    /// Joins like [`Select::join`], keeping the rows with no related object (their joined
    /// columns read as `NULL`: select them as `Option`s, and count them with
    /// `Target::ID.count()`, which gives 0 there).
    pub fn left_join<F, T: Model, I>(self, relation: Relation<F, T>) -> Select<'s, (Outer<T>, S), C>
    where
        S: Has<F, I>,
    {
        self.join_kind::<F, T, I, Outer<T>>(relation, true)
    }

    /// Keeps the rows that match `filter`, on any model of the select (several calls combine
    /// with AND). It applies before grouping; see [`Select::having`] for after.
    pub fn filter<X, I>(mut self, filter: Filter<X>) -> Self
    where
        S: Has<X, I>,
    {
        self.spec.filter.push((S::INDEX, filter.expr));
        self
    }

    /// Groups the rows by a column, an expression, or a tuple of them: each group gives one row,
    /// and the selected aggregates apply per group.
    pub fn group_by<P: Projection<S, I>, I>(mut self, by: P) -> Self {
        let mut parts = Parts(std::mem::take(&mut self.spec.group));
        by.parts(&mut parts);
        self.spec.group = parts.0;
        self
    }

    /// Keeps the groups that match `filter`, typically on an aggregate:
    /// `.having(Course::ID.count().ge(2))` (several calls combine with AND).
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
    /// // The courses that at least two students take.
    /// let popular: Vec<String> = s
    ///     .query::<Course>()
    ///     .join(Course::students())
    ///     .group_by((Course::ID, Course::TITLE))
    ///     .having(Student::ID.count().ge(2))
    ///     .select(Course::TITLE)
    ///     .all()?;
    /// assert_eq!(popular, ["Math"]);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn having<X, I>(mut self, filter: Filter<X>) -> Self
    where
        S: Has<X, I>,
    {
        self.spec.having.push((S::INDEX, filter.expr));
        self
    }

    /// Orders the rows by a column or an expression of any model of the select (several calls
    /// add tie-breakers). Without an order, rows come in the order the database chooses.
    pub fn order_by<X, I>(mut self, order: Order<X>) -> Self
    where
        S: Has<X, I>,
    {
        self.spec.order.push((S::INDEX, order.by, order.descending));
        self
    }

    /// Leaves out duplicate rows (`SELECT DISTINCT`).
    pub fn distinct(mut self) -> Self {
        self.spec.distinct = true;
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.spec.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.spec.offset = Some(n);
        self
    }

    /// The statement the select runs, in the session's dialect (placeholders for its values):
    /// to read, log or explain it. A model joined but read only by its key is not joined, and
    /// the query's own model is not read when only its key is (the association holds both).
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
    /// let mut s = db.session();
    /// let report = s
    ///     .query::<Student>()
    ///     .join(Student::courses())
    ///     .group_by(Student::ID)
    ///     .select((Student::ID, Course::TITLE.length().avg()));
    /// assert_eq!(
    ///     report.sql(),
    ///     "SELECT \"aj1\".\"student_id\", AVG(length(\"j1\".\"title\")) \
    ///      FROM \"student_course\" AS \"aj1\" \
    ///      JOIN \"courses\" AS \"j1\" ON \"j1\".\"id\" = \"aj1\".\"course_id\" \
    ///      GROUP BY \"aj1\".\"student_id\""
    /// );
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn sql(&self) -> String {
        let mut s = Sql::new(self.session.db.dialect());
        sql::select_exprs(&mut s, &self.spec, &mut Vec::new());
        s.finish()
    }

    /// Says what each row reads: a column, an [`Expression`](crate::Expression), or a tuple of up to eight, in order.
    /// The rows come back as their Rust types (`(String, i64)` for
    /// `(Course::TITLE, Course::students().count())`).
    pub fn select<P: Projection<S, I>, I>(mut self, parts: P) -> Select<'s, S, Columns<P::Row>> {
        let mut columns = Parts(Vec::new());
        parts.parts(&mut columns);
        self.spec.columns = columns.0;
        self.with(Columns(P::read))
    }
}

impl<S, R> Select<'_, S, Columns<R>> {
    /// Runs the select, handing each row to `each` as it arrives.
    fn each(&mut self, mut each: impl FnMut(R) -> Result<()>) -> Result<()> {
        let session = &mut *self.session;
        session.autoflush()?;
        let mut params = Vec::new();
        let mut s = Sql::new(session.db.dialect());
        sql::select_exprs(&mut s, &self.spec, &mut params);
        let text = s.finish();
        let table = self.spec.sources[0].table.name;
        let read = self.columns.0;
        session.stream(&Doing("select from", table), &text, &params, |row| {
            let r = read(row, &mut 0).map_err(|(i, e)| Error::Decode {
                table,
                column: super::raw::column_name(i),
                reason: e.0,
            })?;
            each(r)
        })
    }

    fn run(&mut self) -> Result<Vec<R>> {
        let mut rows = Vec::new();
        self.each(|r| {
            rows.push(r);
            Ok(())
        })?;
        Ok(rows)
    }

    /// Hands each row to `f` as the database sends it, without collecting them: memory stays
    /// bounded however many rows there are (a million rows of the bench's report read in a few
    /// MiB). An error from `f` stops the select and is returned.
    ///
    /// ```
    /// # use relata::{Database, Model, schema};
    /// # #[derive(Model)] struct Course { #[relata(primary_key)] id: Option<i64>, title: String }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Course])?;
    /// let mut s = db.session();
    /// s.add_all((0..1000).map(|i| Course { id: None, title: format!("Course {i}") }));
    /// s.commit()?;
    /// let mut longest = 0;
    /// s.query::<Course>().select(Course::TITLE).for_each(|title| {
    ///     longest = longest.max(title.len());
    ///     Ok::<_, relata::Error>(())
    /// })?;
    /// assert_eq!(longest, 10);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn for_each<E: From<Error>>(
        mut self,
        mut f: impl FnMut(R) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut stopped = None;
        let ran = self.each(|r| {
            f(r).map_err(|e| {
                stopped = Some(e);
                super::stream::stopped()
            })
        });
        match (ran, stopped) {
            (_, Some(e)) => Err(e),
            (ran, None) => ran.map_err(E::from),
        }
    }

    /// Every row.
    pub fn all(mut self) -> Result<Vec<R>> {
        self.run()
    }

    /// The first row, if any.
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
    /// let first: Option<String> =
    ///     s.query::<Student>().order_by(Student::NAME.desc()).select(Student::NAME).first()?;
    /// assert_eq!(first.as_deref(), Some("Bob"));
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn first(mut self) -> Result<Option<R>> {
        self.spec.limit = Some(1);
        Ok(self.run()?.into_iter().next())
    }

    /// Every row, each converted into `T`: a struct with `#[derive(relata::Row)]` whose fields
    /// have the selected values' types, in order (or any `T: From` the row's tuple).
    ///
    /// ```
    /// # use relata::{Database, Model, schema};
    /// # #[derive(Model)] struct Course { #[relata(primary_key)] id: Option<i64>, title: String }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Course])?;
    /// #[derive(relata::Row, Debug, PartialEq)]
    /// struct Title {
    ///     title: String,
    ///     length: i64,
    /// }
    /// let mut s = db.session();
    /// s.add(Course { id: None, title: "Алгебра".into() });
    /// s.commit()?;
    /// let rows: Vec<Title> =
    ///     s.query::<Course>().select((Course::TITLE, Course::TITLE.length())).all_as()?;
    /// assert_eq!(rows, [Title { title: "Алгебра".into(), length: 7 }]);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn all_as<T: From<R>>(self) -> Result<Vec<T>> {
        Ok(self.all()?.into_iter().map(T::from).collect())
    }

    /// The only row: an error if there is none or several.
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
    /// let (n, longest): (i64, Option<String>) =
    ///     s.query::<Course>().select((Course::ID.count(), Course::TITLE.max())).one()?;
    /// assert_eq!((n, longest.as_deref()), (2, Some("Math")));
    /// let none = s.query::<Course>().filter(Course::TITLE.eq("Art history")).select(Course::ID).one();
    /// assert!(matches!(none, Err(relata::Error::NotFound { .. })));
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn one(mut self) -> Result<R> {
        let limit = self.spec.limit.replace(2);
        let mut rows = self.run()?;
        let table = self.spec.sources[0].table.name;
        match rows.len() {
            1 => Ok(rows.pop().expect("one row")),
            0 => Err(Error::NotFound {
                table,
                what: "the select".to_owned(),
            }),
            _ => {
                self.spec.limit = limit;
                Err(Error::MultipleRows {
                    table,
                    count: self.count_rows()?,
                })
            }
        }
    }

    /// How many rows the select reads: `SELECT COUNT(*) FROM (the select) AS c`.
    fn count_rows(&mut self) -> Result<u64> {
        let session = &mut *self.session;
        let mut params = Vec::new();
        let mut s = Sql::new(session.db.dialect());
        s.push("SELECT COUNT(*) FROM (");
        sql::select_exprs(&mut s, &self.spec, &mut params);
        s.push(") AS ").ident("c");
        let text = s.finish();
        let mut n = 0;
        let table = self.spec.sources[0].table.name;
        session.stream(&Doing("count", table), &text, &params, |row| {
            n = row.get_i64(0).ok().flatten().unwrap_or(0);
            Ok(())
        })?;
        Ok(n.max(0) as u64)
    }
}
