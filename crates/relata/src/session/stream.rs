//! Reads without collecting: the rows of a statement handed one by one to a callback as the
//! database sends them, for selects and queries of any size in bounded memory.

use std::fmt;

use super::Session;
use crate::error::{Error, Result};
use crate::io::{Params, Reader, Reads, Statements};
use crate::value::{RowSource, Value};

/// A reader that hands each row to a callback.
struct Each<F>(F);

impl<F: FnMut(&dyn RowSource) -> Result<()>> Reader for Each<F> {
    fn row(&mut self, _statement: usize, row: &dyn RowSource) -> Result<()> {
        (self.0)(row)
    }
}

/// The error a callback's own error is stopped with (the caller returns the callback's error
/// instead: it never reaches the user).
pub(super) fn stopped() -> Error {
    Error::Statement {
        sql: String::new(),
        message: "stopped by the caller".into(),
    }
}

impl Session {
    /// Runs one statement, handing each row to `each` as it arrives.
    pub(super) fn stream(
        &mut self,
        why: &dyn fmt::Display,
        sql: &str,
        params: &[Value],
        each: impl FnMut(&dyn RowSource) -> Result<()>,
    ) -> Result<()> {
        let mut reads = Reads::new(
            why,
            Statements::One(sql, Params::Values(params)),
            Each(each),
        );
        self.db
            .drive(self.pinned.as_mut(), &mut reads, &mut self.log)?;
        reads.finish().map(|_| ())
    }
}
