//! The type-level part of a select: its sources as a list of models (`Has<M, I>` finds a model
//! in it, so a column of a model the select does not read does not compile; `Outer<M>` marks a
//! left-joined one, whose values read as `Option`), and `Projection`, what a row reads (columns,
//! expressions, tuples) with how to read it.

use std::marker::PhantomData;

use crate::expr::{Aggregated, Expression, Nullable, PerRow, Scalar};
use crate::model::Column;
use crate::value::{ColumnType, DecodeError, RowSource};

/// The position of the newest source in a select's list (see [`Has`]).
#[doc(hidden)]
pub struct Here;
/// A position further down a select's list (see [`Has`]).
#[doc(hidden)]
pub struct There<I>(PhantomData<I>);

/// A list of models a select reads from: `(Newest, (..., (Base, ())))`.
#[doc(hidden)]
pub trait Sources {
    /// How many models.
    const LEN: u8;
}
impl Sources for () {
    const LEN: u8 = 0;
}
impl<H, R: Sources> Sources for (H, R) {
    const LEN: u8 = R::LEN + 1;
}

/// A model joined by [`Select::left_join`](super::Select::left_join) into a select's sources: its columns may read as
/// `NULL`, so they are selected as `Option`s.
pub struct Outer<M>(PhantomData<fn() -> M>);

/// A select's sources hold model `M` (at position `I`, which the compiler infers): what lets a
/// filter, an expression or a column of `M` into the select.
#[diagnostic::on_unimplemented(
    message = "`{M}` is not one of this select's models",
    label = "a column, filter or expression of a model the select does not read",
    note = "join it first: `.join(Relation)` or `.left_join(Relation)`"
)]
pub trait Has<M, I> {
    /// Its index in the select's sources (0 is the query's model).
    const INDEX: u8;
    /// What a value of type `T` of this model reads as: `T`, or `Option` of it when the model
    /// was left-joined.
    type Value<T: Nullable>: ColumnType;
}
impl<M, R: Sources> Has<M, Here> for (M, R) {
    const INDEX: u8 = R::LEN;
    type Value<T: Nullable> = T;
}
impl<M, R: Sources> Has<M, Here> for (Outer<M>, R) {
    const INDEX: u8 = R::LEN;
    type Value<T: Nullable> = Option<T::Base>;
}
impl<M, H, R: Has<M, I>, I> Has<M, There<I>> for (H, R) {
    const INDEX: u8 = R::INDEX;
    type Value<T: Nullable> = R::Value<T>;
}

/// The parts of a projection, each with its source (opaque: only relata's types make them).
#[doc(hidden)]
pub struct Parts(pub(super) Vec<(u8, Scalar)>);

/// What a select reads per row: a column, an [`Expression`], or a tuple of up to eight of them,
/// each read into its Rust type.
pub trait Projection<S, I> {
    /// The Rust value of one row.
    type Row;
    /// Appends the parts, each with its source.
    #[doc(hidden)]
    fn parts(self, out: &mut Parts);
    /// Reads a row from column `at` on, advancing `at` past its columns.
    #[doc(hidden)]
    fn read(row: &dyn RowSource, at: &mut usize) -> Result<Self::Row, (usize, DecodeError)>;
}

fn read_one<T: ColumnType>(row: &dyn RowSource, at: &mut usize) -> Result<T, (usize, DecodeError)> {
    let i = *at;
    *at += 1;
    T::read(row, i).map_err(|e| (i, e))
}

impl<S: Has<M, I>, M, T: Nullable, I> Projection<S, I> for Column<M, T> {
    type Row = S::Value<T>;
    fn parts(self, out: &mut Parts) {
        out.0.push((S::INDEX, Scalar::Column(self.name)));
    }
    fn read(row: &dyn RowSource, at: &mut usize) -> Result<Self::Row, (usize, DecodeError)> {
        read_one(row, at)
    }
}

impl<S: Has<M, I>, M, T: Nullable, I> Projection<S, I> for Expression<M, T, PerRow> {
    type Row = S::Value<T>;
    fn parts(self, out: &mut Parts) {
        out.0.push((S::INDEX, self.scalar));
    }
    fn read(row: &dyn RowSource, at: &mut usize) -> Result<Self::Row, (usize, DecodeError)> {
        read_one(row, at)
    }
}

/// An aggregate reads as its own type even over a left join: a count is 0 there, and the
/// others are already `Option`s.
impl<S: Has<M, I>, M, T: ColumnType, I> Projection<S, I> for Expression<M, T, Aggregated> {
    type Row = T;
    fn parts(self, out: &mut Parts) {
        out.0.push((S::INDEX, self.scalar));
    }
    fn read(row: &dyn RowSource, at: &mut usize) -> Result<T, (usize, DecodeError)> {
        read_one(row, at)
    }
}

macro_rules! tuple_projection {
    ($($t:ident $i:ident),+) => {
        impl<S, $($t: Projection<S, $i>, $i),+> Projection<S, ($($i,)+)> for ($($t,)+) {
            type Row = ($($t::Row,)+);
            #[allow(non_snake_case)]
            fn parts(self, out: &mut Parts) {
                let ($($t,)+) = self;
                $($t.parts(out);)+
            }
            fn read(row: &dyn RowSource, at: &mut usize) -> Result<Self::Row, (usize, DecodeError)> {
                Ok(($($t::read(row, at)?,)+))
            }
        }
    };
}

tuple_projection!(A IA);
tuple_projection!(A IA, B IB);
tuple_projection!(A IA, B IB, C IC);
tuple_projection!(A IA, B IB, C IC, D ID);
tuple_projection!(A IA, B IB, C IC, D ID, E IE);
tuple_projection!(A IA, B IB, C IC, D ID, E IE, F IF);
tuple_projection!(A IA, B IB, C IC, D ID, E IE, F IF, G IG);
tuple_projection!(A IA, B IB, C IC, D ID, E IE, F IF, G IG, H IH);
