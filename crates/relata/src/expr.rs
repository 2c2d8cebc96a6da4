//! Typed value expressions: a column, an aggregate of one (`count`, `sum`, `avg`, `min`, `max`),
//! a text's length, or an aggregate over a relation per parent (`Course::students().count()`).
//! They are selected by [`Select`](crate::Select), compared in filters and `having`, and ordered
//! by; like columns, each knows its model and its Rust type, so a wrong column or type is a
//! compile error.

use std::fmt;
use std::marker::PhantomData;

use crate::model::{Column, Model};
use crate::query::{comparisons, CmpOp, Expr, Filter, Order, TextLike};
use crate::relation::{AssocDef, Relation, Side};
use crate::value::{Bind, ColumnType, SqlType};

/// The kind of an [`Expression`] that has one value per row: a column, a length, a relation's
/// aggregate per parent. It can be aggregated.
#[derive(Debug, Clone, Copy)]
pub struct PerRow;

/// The kind of an [`Expression`] that aggregates rows (`count`, `sum`, ...): one value per group,
/// or per parent inside [`Relation::aggregate`]. It cannot be aggregated again, which SQL forbids.
#[derive(Debug, Clone, Copy)]
pub struct Aggregated;

/// An aggregate function other than `COUNT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggFn {
    Sum,
    Avg,
    Min,
    Max,
}

impl AggFn {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            AggFn::Sum => "SUM",
            AggFn::Avg => "AVG",
            AggFn::Min => "MIN",
            AggFn::Max => "MAX",
        }
    }
}

/// The untyped expression tree, rendered on one table's alias (`sql/project.rs`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    /// A column of the expression's model.
    Column(&'static str),
    /// `COUNT(*)` (no argument) or `COUNT([DISTINCT] arg)`.
    Count {
        distinct: bool,
        arg: Option<Box<Scalar>>,
    },
    /// `SUM`, `AVG`, `MIN` or `MAX`, cast to `result` where the database would answer with
    /// another type (PostgreSQL sums integers as `NUMERIC`, MySQL as `DECIMAL`).
    Agg {
        func: AggFn,
        arg: Box<Scalar>,
        result: SqlType,
    },
    /// A text's length in characters.
    Length(Box<Scalar>),
    /// An aggregate over the objects related to each row, as a correlated subquery.
    Related {
        def: &'static AssocDef,
        side: Side,
        agg: Box<Scalar>,
    },
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Column(c) => f.write_str(c),
            Scalar::Count { distinct, arg } => match arg {
                None => f.write_str("count(*)"),
                Some(a) => write!(f, "count({}{a})", if *distinct { "distinct " } else { "" }),
            },
            Scalar::Agg { func, arg, .. } => write!(f, "{}({arg})", func.sql().to_lowercase()),
            Scalar::Length(a) => write!(f, "length({a})"),
            Scalar::Related { def, side, agg } => {
                write!(f, "{} {agg}", def.sides(*side).0.relation)
            }
        }
    }
}

/// A typed expression on rows of model `M` with Rust values of type `T`: made from a column
/// (`Course::TITLE.length()`, `Student::ID.count()`) or a relation
/// (`Course::students().count()`). `K` is [`PerRow`] or [`Aggregated`].
pub struct Expression<M, T, K = PerRow> {
    pub(crate) scalar: Scalar,
    _p: PhantomData<Marker<M, T, K>>,
}

/// The types an expression is of, as a marker that is `Send`, `Sync` and `Copy` whatever they
/// are.
type Marker<M, T, K> = fn() -> (M, T, K);

impl<M, T, K> Expression<M, T, K> {
    pub(crate) fn new(scalar: Scalar) -> Self {
        Expression {
            scalar,
            _p: PhantomData,
        }
    }

    fn cmp<V: Bind<T>>(self, op: CmpOp, value: V) -> Filter<M> {
        Filter::new(Expr::Compare {
            left: self.scalar,
            op,
            value: value.into_value(),
        })
    }

    comparisons!();
    /// Ascending order on this expression.
    pub fn asc(self) -> Order<M> {
        Order::new(self.scalar, false)
    }
    /// Descending order on this expression.
    pub fn desc(self) -> Order<M> {
        Order::new(self.scalar, true)
    }
}

impl<M, T, K> Clone for Expression<M, T, K> {
    fn clone(&self) -> Self {
        Expression::new(self.scalar.clone())
    }
}

impl<M: Model, T, K> fmt::Debug for Expression<M, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", M::TABLE.model, self.scalar)
    }
}

impl<M, T> From<Column<M, T>> for Expression<M, T> {
    fn from(c: Column<M, T>) -> Self {
        Expression::new(Scalar::Column(c.name))
    }
}

/// Column types that `sum` and `avg` apply to, with the types of their results: integers sum
/// to `i64` and average to `f64`, `f64` to `f64`, decimals to decimals. Both are `NULL` (`None`)
/// over no rows.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a number: `sum` and `avg` apply to numeric columns",
    label = "not numeric",
    note = "count it with `count()`, or take `min()` / `max()`"
)]
pub trait Summable: ColumnType {
    /// The type of a sum.
    type Sum: ColumnType;
    /// The type of an average.
    type Avg: ColumnType;
}

impl Summable for i64 {
    type Sum = i64;
    type Avg = f64;
}
impl Summable for i32 {
    type Sum = i64;
    type Avg = f64;
}
impl Summable for f64 {
    type Sum = f64;
    type Avg = f64;
}
impl<T: Summable> Summable for Option<T> {
    type Sum = T::Sum;
    type Avg = T::Avg;
}

/// A column type with its non-`NULL` form: `T` for both `T` and `Option<T>`. `min` and `max`
/// give `Option<Base>` (`None` over no rows).
pub trait Nullable: ColumnType {
    /// The type without `Option`.
    type Base: ColumnType;
}

impl<T: Nullable> Nullable for Option<T> {
    type Base = T::Base;
}

/// The aggregates and functions of a column or a per-row expression: one set of methods for
/// both (`Student::ID.count()`, `Course::TITLE.length().avg()`).
macro_rules! per_row_methods {
    () => {
        /// The number of rows where it is not `NULL` (`COUNT(x)`; of the primary key, the number
        /// of rows). Over a `left_join`, a parent with no related rows counts 0.
        pub fn count(self) -> Expression<M, i64, Aggregated> {
            self.aggregate_count(false)
        }
        /// The number of distinct values, `NULL` left out (`COUNT(DISTINCT x)`).
        pub fn count_distinct(self) -> Expression<M, i64, Aggregated> {
            self.aggregate_count(true)
        }
        /// The sum (`None` over no rows, or only `NULL`s).
        ///
        /// ```
        /// # use relata::{Database, Model, schema};
        /// #[derive(Model)]
        /// struct Course {
        ///     #[relata(primary_key)]
        ///     id: Option<i64>,
        ///     credits: i32,
        ///     fee: rust_decimal::Decimal,
        /// }
        /// # let db = Database::open("sqlite::memory:")?;
        /// # db.create_all(&schema![Course])?;
        /// let mut s = db.session();
        /// for (credits, fee) in [(5, "0.10"), (3, "0.20")] {
        ///     s.add(Course { id: None, credits, fee: fee.parse().unwrap() });
        /// }
        /// s.commit()?;
        /// let (credits, avg, fees): (Option<i64>, Option<f64>, Option<rust_decimal::Decimal>) = s
        ///     .query::<Course>()
        ///     .select((Course::CREDITS.sum(), Course::CREDITS.avg(), Course::FEE.sum()))
        ///     .one()?;
        /// assert_eq!((credits, avg), (Some(8), Some(4.0)));
        /// assert_eq!(fees, Some("0.30".parse().unwrap())); // exact, on SQLite too
        /// # Ok::<(), relata::Error>(())
        /// ```
        pub fn sum(self) -> Expression<M, Option<T::Sum>, Aggregated>
        where
            T: Summable,
        {
            self.aggregate(AggFn::Sum, <T::Sum as ColumnType>::SQL_TYPE)
        }
        /// The average (`None` over no rows, or only `NULL`s).
        pub fn avg(self) -> Expression<M, Option<T::Avg>, Aggregated>
        where
            T: Summable,
        {
            self.aggregate(AggFn::Avg, <T::Avg as ColumnType>::SQL_TYPE)
        }
        /// The smallest value (`None` over no rows).
        pub fn min(self) -> Expression<M, Option<T::Base>, Aggregated>
        where
            T: Nullable,
        {
            self.aggregate(AggFn::Min, <T::Base as ColumnType>::SQL_TYPE)
        }
        /// The largest value (`None` over no rows).
        pub fn max(self) -> Expression<M, Option<T::Base>, Aggregated>
        where
            T: Nullable,
        {
            self.aggregate(AggFn::Max, <T::Base as ColumnType>::SQL_TYPE)
        }
        /// The length of a text in characters (not bytes), on every backend.
        pub fn length(self) -> Expression<M, T::Length>
        where
            T: TextLike,
        {
            Expression::new(Scalar::Length(Box::new(self.into_scalar())))
        }

        fn aggregate_count(self, distinct: bool) -> Expression<M, i64, Aggregated> {
            Expression::new(Scalar::Count {
                distinct,
                arg: Some(Box::new(self.into_scalar())),
            })
        }

        fn aggregate<R>(self, func: AggFn, result: SqlType) -> Expression<M, R, Aggregated> {
            Expression::new(Scalar::Agg {
                func,
                arg: Box::new(self.into_scalar()),
                result,
            })
        }
    };
}

impl<M, T> Column<M, T> {
    per_row_methods!();

    fn into_scalar(self) -> Scalar {
        Scalar::Column(self.name)
    }
}

impl<M, T> Expression<M, T, PerRow> {
    per_row_methods!();

    fn into_scalar(self) -> Scalar {
        self.scalar
    }
}

impl<From: Model, To: Model> Relation<From, To> {
    /// The number of related objects of each row, in the same statement (a correlated
    /// subquery; nothing is loaded): "each course with its number of students" is
    /// `s.query::<Course>().select((Course::TITLE, Course::students().count()))`.
    ///
    /// The database runs the subquery once per row, by the association's index: fast for a
    /// filtered query and on SQLite. For a report over a whole large table on PostgreSQL or
    /// MySQL, a left join grouped per row reads faster (measured on a million pairs: 0.14 s
    /// against 0.66 s on PostgreSQL): `.left_join(Course::students()).group_by(Course::ID)
    /// .select((Course::TITLE, Student::ID.count()))`.
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
    /// let alice = s.add(Student { id: None, name: "Alice".into() });
    /// let math = s.add(Course { id: None, title: "Math".into() });
    /// s.add(Course { id: None, title: "Art".into() });
    /// s.link(Student::courses(), alice, math);
    /// s.commit()?;
    /// let counts: Vec<(String, i64)> = s
    ///     .query::<Course>()
    ///     .order_by(Course::TITLE.asc())
    ///     .select((Course::TITLE, Course::students().count()))
    ///     .all()?;
    /// assert_eq!(counts, [("Art".to_owned(), 0), ("Math".to_owned(), 1)]);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn count(self) -> Expression<From, i64> {
        self.aggregate(Expression::new(Scalar::Count {
            distinct: false,
            arg: None,
        }))
    }

    /// An aggregate over the related objects of each row, in the same statement: the average
    /// title length of each student's courses is
    /// `Student::courses().aggregate(Course::TITLE.length().avg())`. Over no related objects,
    /// `count` gives 0 and the others `None`.
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
    /// let alice = s.add(Student { id: None, name: "Alice".into() });
    /// for title in ["Math", "Art"] {
    ///     let c = s.add(Course { id: None, title: title.into() });
    ///     s.link(Student::courses(), alice, c);
    /// }
    /// s.commit()?;
    /// let longest: Option<String> = s
    ///     .query::<Student>()
    ///     .select(Student::courses().aggregate(Course::TITLE.max()))
    ///     .one()?;
    /// assert_eq!(longest.as_deref(), Some("Math"));
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn aggregate<R>(self, agg: Expression<To, R, Aggregated>) -> Expression<From, R> {
        Expression::new(Scalar::Related {
            def: self.def(),
            side: self.side,
            agg: Box::new(agg.scalar),
        })
    }
}

/// A subquery on model `N` reading one value of type `T` per row, for
/// [`Column::in_subquery`] and [`Subquery::exists`]: made by [`subquery`], narrowed by
/// [`Subquery::filter`], tied to the outer query's rows by [`Subquery::correlate`] (then `O` is
/// the outer model).
pub struct Subquery<N, T, O = ()> {
    pub(crate) spec: SubSpec,
    _p: PhantomData<Marker<N, T, O>>,
}

impl<N, T, O> Clone for Subquery<N, T, O> {
    fn clone(&self) -> Self {
        Subquery {
            spec: self.spec.clone(),
            _p: PhantomData,
        }
    }
}

impl<N, T, O> fmt::Debug for Subquery<N, T, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "subquery of {} from {}",
            self.spec.select, self.spec.table.name
        )
    }
}

/// The untyped subquery: `SELECT select FROM table WHERE [inner = outer.column AND] filter`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SubSpec {
    pub table: &'static crate::model::TableDef,
    pub select: Scalar,
    pub filter: Option<Expr>,
    pub correlate: Option<(&'static str, &'static str)>,
}

/// A subquery reading `column` from every row of its model (narrow it with
/// [`Subquery::filter`]): the students who paid more than 100 are
/// `Student::ID.in_subquery(relata::subquery(Payment::STUDENT_ID).filter(Payment::AMOUNT.gt(100)))`.
///
/// ```
/// # use relata::{Database, Model, schema, subquery};
/// # #[derive(Model)] struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
/// #[derive(Model)]
/// struct Payment {
///     #[relata(primary_key)]
///     id: Option<i64>,
///     student_id: i64, // a plain column: no relation declared
///     amount: i64,
/// }
/// # let db = Database::open("sqlite::memory:")?;
/// # db.create_all(&schema![Student, Payment])?;
/// let mut s = db.session();
/// let alice = s.add(Student { id: None, name: "Alice".into() });
/// s.add(Student { id: None, name: "Bob".into() });
/// s.commit()?;
/// let alice_id = s.id(alice).unwrap();
/// s.add(Payment { id: None, student_id: alice_id, amount: 150 });
/// s.commit()?;
/// let big = subquery(Payment::STUDENT_ID).filter(Payment::AMOUNT.gt(100));
/// let payers = s.query::<Student>().filter(Student::ID.in_subquery(big)).all()?;
/// assert_eq!(payers, [alice]);
/// // Correlated: students with no payment at all.
/// let unpaid = !subquery(Payment::ID).correlate(Payment::STUDENT_ID, Student::ID).exists();
/// let names: Vec<String> = s.query::<Student>().filter(unpaid).select(Student::NAME).all()?;
/// assert_eq!(names, ["Bob"]);
/// # Ok::<(), relata::Error>(())
/// ```
pub fn subquery<N: Model, T>(column: Column<N, T>) -> Subquery<N, T> {
    Subquery {
        spec: SubSpec {
            table: N::TABLE,
            select: Scalar::Column(column.name),
            filter: None,
            correlate: None,
        },
        _p: PhantomData,
    }
}

impl<N, T, O> Subquery<N, T, O> {
    /// Keeps the rows that match `filter` (several calls combine with AND).
    pub fn filter(mut self, filter: Filter<N>) -> Self {
        self.spec.filter = Some(match self.spec.filter.take() {
            None => filter.expr,
            Some(prev) => Filter::<N>::new(prev).and(filter).expr,
        });
        self
    }
}

impl<N, T> Subquery<N, T> {
    /// Ties the subquery to each row of the outer query: only its rows whose `inner` column
    /// equals the outer row's `outer` column count (of the same type, nullable or not).
    pub fn correlate<M, U, V>(self, inner: Column<N, U>, outer: Column<M, V>) -> Subquery<N, T, M>
    where
        U: Nullable,
        V: Nullable<Base = U::Base>,
    {
        Subquery {
            spec: SubSpec {
                correlate: Some((inner.name, outer.name)),
                ..self.spec
            },
            _p: PhantomData,
        }
    }
}

/// What a subquery's outer-model parameter allows it in: `()` (not correlated) any query,
/// `M` (correlated with [`Subquery::correlate`]) a query of `M`.
pub trait Correlates<M> {}
impl<M> Correlates<M> for () {}
impl<M: Model> Correlates<M> for M {}

impl<N, T, O> Subquery<N, T, O> {
    /// A filter that holds when the subquery has at least one row (`EXISTS`); `!` makes it
    /// `NOT EXISTS`.
    pub fn exists<M>(self) -> Filter<M>
    where
        O: Correlates<M>,
    {
        Filter::new(Expr::Exists(Box::new(self.spec)))
    }
}

impl<M, T: Nullable> Column<M, T> {
    /// The column's value is one of the values the subquery reads (`IN (SELECT ...)`). The
    /// subquery reads a column of the same type, nullable or not.
    pub fn in_subquery<N, U, O>(self, sub: Subquery<N, U, O>) -> Filter<M>
    where
        U: Nullable<Base = T::Base>,
        O: Correlates<M>,
    {
        Filter::new(Expr::InSubquery {
            column: self.name,
            sub: Box::new(sub.spec),
        })
    }
}
