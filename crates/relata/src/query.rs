//! Typed filters and orderings built from column constants: data a query carries (the builder
//! that runs them is `session/query.rs`).

use std::marker::PhantomData;
use std::ops::{BitAnd, BitOr, Not};

use crate::expr::{Scalar, SubSpec};
use crate::model::Column;
use crate::relation::{AssocDef, Side};
use crate::value::{Bind, ColumnType, Value};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// The operator as SQL writes it (`<>` for not equal).
    pub(crate) fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => " = ",
            CmpOp::Ne => " <> ",
            CmpOp::Lt => " < ",
            CmpOp::Le => " <= ",
            CmpOp::Gt => " > ",
            CmpOp::Ge => " >= ",
        }
    }

    /// The operator for messages.
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Ne => "!=",
            op => op.sql().trim(),
        }
    }
}

/// The untyped filter tree; [`Filter`] wraps it with the model it applies to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Cmp {
        column: &'static str,
        op: CmpOp,
        value: Value,
    },
    Like {
        column: &'static str,
        pattern: String,
    },
    In {
        column: &'static str,
        values: Vec<Value>,
    },
    IsNull {
        column: &'static str,
        negated: bool,
    },
    /// `EXISTS` a row of a subquery.
    Exists(Box<SubSpec>),
    /// The column's value is one the subquery reads.
    InSubquery {
        column: &'static str,
        sub: Box<SubSpec>,
    },
    /// An expression compared with a value.
    Compare {
        left: Scalar,
        op: CmpOp,
        value: Value,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `EXISTS` a related row (through an association) that matches `inner`.
    Related {
        def: &'static AssocDef,
        side: Side,
        inner: Option<Box<Expr>>,
    },
}

/// A condition on rows of model `M`: build it from column constants (`Student::NAME.eq("Alice")`),
/// combine with `&`, `|`, `!` (or [`Filter::and`], [`Filter::or`], [`Filter::not`]), and cross
/// relationships with [`Relation::any`](crate::Relation::any).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter<M> {
    pub(crate) expr: Expr,
    _p: PhantomData<fn() -> M>,
}

impl<M> Filter<M> {
    pub(crate) fn new(expr: Expr) -> Self {
        Filter {
            expr,
            _p: PhantomData,
        }
    }

    pub(crate) fn related(
        def: &'static AssocDef,
        side: Side,
        inner: Option<Filter<impl Sized>>,
    ) -> Self {
        Filter::new(Expr::Related {
            def,
            side,
            inner: inner.map(|f| Box::new(f.expr)),
        })
    }

    /// Both conditions hold.
    pub fn and(self, other: Filter<M>) -> Filter<M> {
        match self.expr {
            Expr::And(mut v) => {
                v.push(other.expr);
                Filter::new(Expr::And(v))
            }
            e => Filter::new(Expr::And(vec![e, other.expr])),
        }
    }

    /// At least one condition holds.
    pub fn or(self, other: Filter<M>) -> Filter<M> {
        match self.expr {
            Expr::Or(mut v) => {
                v.push(other.expr);
                Filter::new(Expr::Or(v))
            }
            e => Filter::new(Expr::Or(vec![e, other.expr])),
        }
    }

    /// The condition does not hold.
    #[allow(clippy::should_implement_trait)] // `!filter` works too, through `Not`
    pub fn not(self) -> Filter<M> {
        Filter::new(Expr::Not(Box::new(self.expr)))
    }
}

impl<M> BitAnd for Filter<M> {
    type Output = Filter<M>;
    fn bitand(self, rhs: Self) -> Self {
        self.and(rhs)
    }
}
impl<M> BitOr for Filter<M> {
    type Output = Filter<M>;
    fn bitor(self, rhs: Self) -> Self {
        self.or(rhs)
    }
}
impl<M> Not for Filter<M> {
    type Output = Filter<M>;
    fn not(self) -> Self {
        Filter::not(self)
    }
}

/// Escapes `%`, `_` and `\` so that `text` matches itself in a `LIKE` pattern (relata's patterns use
/// `\` as the escape character).
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `eq`, `ne`, `lt`, `le`, `gt` and `ge` for a type with a `cmp(op, value)`: expressions.
macro_rules! comparisons {
    () => {
        /// Equal (comparing a nullable value with `None` means `IS NULL`).
        pub fn eq<V: Bind<T>>(self, value: V) -> Filter<M> {
            self.cmp(CmpOp::Eq, value)
        }
        /// Not equal (comparing a nullable value with `None` means `IS NOT NULL`).
        pub fn ne<V: Bind<T>>(self, value: V) -> Filter<M> {
            self.cmp(CmpOp::Ne, value)
        }
        /// Less than.
        pub fn lt<V: Bind<T>>(self, value: V) -> Filter<M> {
            self.cmp(CmpOp::Lt, value)
        }
        /// Less than or equal.
        pub fn le<V: Bind<T>>(self, value: V) -> Filter<M> {
            self.cmp(CmpOp::Le, value)
        }
        /// Greater than.
        pub fn gt<V: Bind<T>>(self, value: V) -> Filter<M> {
            self.cmp(CmpOp::Gt, value)
        }
        /// Greater than or equal.
        pub fn ge<V: Bind<T>>(self, value: V) -> Filter<M> {
            self.cmp(CmpOp::Ge, value)
        }
    };
}
pub(crate) use comparisons;

impl<M, T> Column<M, T> {
    fn cmp<V: Bind<T>>(self, op: CmpOp, value: V) -> Filter<M> {
        Filter::new(Expr::Cmp {
            column: self.name,
            op,
            value: value.into_value(),
        })
    }

    // Written out rather than by `comparisons!` (which expressions use): a value of the wrong
    // type is the commonest mistake, and its compile error then points at plain code, not at a
    // macro.
    /// Equal (comparing a nullable column with `None` means `IS NULL`).
    pub fn eq<V: Bind<T>>(self, value: V) -> Filter<M> {
        self.cmp(CmpOp::Eq, value)
    }
    /// Not equal (comparing a nullable column with `None` means `IS NOT NULL`).
    pub fn ne<V: Bind<T>>(self, value: V) -> Filter<M> {
        self.cmp(CmpOp::Ne, value)
    }
    /// Less than.
    pub fn lt<V: Bind<T>>(self, value: V) -> Filter<M> {
        self.cmp(CmpOp::Lt, value)
    }
    /// Less than or equal.
    pub fn le<V: Bind<T>>(self, value: V) -> Filter<M> {
        self.cmp(CmpOp::Le, value)
    }
    /// Greater than.
    pub fn gt<V: Bind<T>>(self, value: V) -> Filter<M> {
        self.cmp(CmpOp::Gt, value)
    }
    /// Greater than or equal.
    pub fn ge<V: Bind<T>>(self, value: V) -> Filter<M> {
        self.cmp(CmpOp::Ge, value)
    }
    /// One of `values` (an empty list matches nothing).
    pub fn is_in<V: Bind<T>>(self, values: impl IntoIterator<Item = V>) -> Filter<M> {
        Filter::new(Expr::In {
            column: self.name,
            values: values.into_iter().map(Bind::into_value).collect(),
        })
    }
    /// The column is `NULL`.
    pub fn is_null(self) -> Filter<M> {
        Filter::new(Expr::IsNull {
            column: self.name,
            negated: false,
        })
    }
    /// The column is not `NULL`.
    pub fn is_not_null(self) -> Filter<M> {
        Filter::new(Expr::IsNull {
            column: self.name,
            negated: true,
        })
    }
    /// Ascending order on this column.
    pub fn asc(self) -> Order<M> {
        Order::new(Scalar::Column(self.name), false)
    }
    /// Descending order on this column.
    pub fn desc(self) -> Order<M> {
        Order::new(Scalar::Column(self.name), true)
    }
}

impl<M, T: TextLike> Column<M, T> {
    /// `LIKE` with a pattern: `%` matches any run of characters, `_` one character, and `\`
    /// escapes the next character (see [`escape_like`]). Letters match only their own case, on
    /// every backend.
    pub fn like(self, pattern: impl Into<String>) -> Filter<M> {
        Filter::new(Expr::Like {
            column: self.name,
            pattern: pattern.into(),
        })
    }
    /// Contains `text` literally (`%` and `_` in it are not wildcards).
    pub fn contains(self, text: &str) -> Filter<M> {
        self.like(format!("%{}%", escape_like(text)))
    }
    /// Starts with `text` literally.
    pub fn starts_with(self, text: &str) -> Filter<M> {
        self.like(format!("{}%", escape_like(text)))
    }
    /// Ends with `text` literally.
    pub fn ends_with(self, text: &str) -> Filter<M> {
        self.like(format!("%{}", escape_like(text)))
    }
}

/// Column types that `LIKE` and `length` apply to (`String` and `Option<String>`), with the type
/// of their length: `i64`, or `Option<i64>` for a nullable column.
pub trait TextLike {
    /// The type of the length.
    type Length: ColumnType;
}
impl TextLike for String {
    type Length = i64;
}
impl TextLike for Option<String> {
    type Length = Option<i64>;
}

/// An ordering on a column or an expression of model `M`: `Student::NAME.asc()`,
/// `Course::students().count().desc()`.
#[derive(Debug, Clone)]
pub struct Order<M> {
    pub(crate) by: Scalar,
    pub(crate) descending: bool,
    _p: PhantomData<fn() -> M>,
}

impl<M> Order<M> {
    pub(crate) fn new(by: Scalar, descending: bool) -> Self {
        Order {
            by,
            descending,
            _p: PhantomData,
        }
    }
}

/// What the session needs to run a query (the typed parts erased).
#[derive(Debug, Clone, Default)]
pub(crate) struct QuerySpec {
    pub filter: Option<Expr>,
    pub order: Vec<(Scalar, bool)>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    /// The caller needs no order (`one()`): no `ORDER BY`, so a server's planner never trades
    /// an index lookup for a scan in key order under a small `LIMIT`.
    pub unordered: bool,
}

/// What a query looked for, for "no row matches ..." messages.
pub(crate) fn describe_filter(spec: &QuerySpec) -> String {
    match &spec.filter {
        None => "the query".to_owned(),
        Some(e) => describe_expr(e),
    }
}

/// A short human rendering of a filter for "no row matches ..." messages.
fn describe_expr(e: &Expr) -> String {
    fn join(v: &[Expr], sep: &str) -> String {
        v.iter().map(describe_expr).collect::<Vec<_>>().join(sep)
    }
    match e {
        Expr::Cmp { column, op, value } => format!("{column} {} {value}", op.symbol()),
        Expr::Compare { left, op, value } => format!("{left} {} {value}", op.symbol()),
        Expr::Like { column, pattern } => format!("{column} LIKE {pattern:?}"),
        Expr::In { column, values } => format!("{column} IN ({} values)", values.len()),
        Expr::IsNull { column, negated } => {
            format!("{column} IS {}NULL", if *negated { "NOT " } else { "" })
        }
        Expr::And(v) => format!("({})", join(v, " AND ")),
        Expr::Or(v) => format!("({})", join(v, " OR ")),
        Expr::Not(e) => format!("NOT {}", describe_expr(e)),
        Expr::Exists(sub) => format!("exists a row in {}", sub.table.name),
        Expr::InSubquery { column, sub } => {
            format!("{column} in {}.{}", sub.table.name, sub.select)
        }
        Expr::Related { def, side, inner } => {
            let rel = def.sides(*side).0.relation;
            match inner {
                Some(inner) => format!("{rel} has one with {}", describe_expr(inner)),
                None => format!("{rel} is not empty"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_like_escapes_wildcards_and_backslash() {
        assert_eq!(escape_like("100%_a\\b"), "100\\%\\_a\\\\b");
        assert_eq!(escape_like("Алиса"), "Алиса");
    }
}
