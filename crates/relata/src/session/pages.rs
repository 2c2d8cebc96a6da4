//! Large results: a query's objects streamed without the identity map, numbered pages (a window
//! and the total), and keyset pages (each page starts after the last row of the one before, by
//! the query's order: as fast for the last page as for the first).

use super::query::Query;
use super::Session;
use crate::error::{Error, Result};
use crate::expr::Scalar;
use crate::model::{Key, Model};
use crate::query::{CmpOp, Expr};
use crate::sql;
use crate::value::Value;

/// One page of a query's results: [`Query::page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<M: Model> {
    /// The page's objects, in the query's order.
    pub items: Vec<Key<M>>,
    /// Its number, from 1.
    pub number: u64,
    /// How many objects a page holds.
    pub size: u64,
    /// How many objects match the query in all.
    pub total: u64,
}

impl<M: Model> Page<M> {
    /// How many pages there are (at least 1: an empty result is one empty page).
    pub fn pages(&self) -> u64 {
        self.total.div_ceil(self.size).max(1)
    }
    /// Whether a page comes after this one.
    pub fn has_next(&self) -> bool {
        self.number < self.pages()
    }
    /// Whether a page comes before this one.
    pub fn has_previous(&self) -> bool {
        self.number > 1
    }
}

/// Where the next keyset page starts: the values of the query's order columns in the last row
/// of a page, and its primary key. Made by [`Query::keyset`]; valid for the same query.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// The table and the order (column, descending) it continues.
    table: &'static str,
    order: Vec<(&'static str, bool)>,
    values: Vec<Value>,
}

/// One keyset page: [`Query::keyset`].
#[derive(Debug, Clone, PartialEq)]
pub struct KeysetPage<M: Model> {
    /// The page's objects, in the query's order.
    pub items: Vec<Key<M>>,
    /// Where the next page starts; `None` after the last page.
    pub next: Option<Cursor>,
}

/// A query's pages of a fixed size, detached from the session so that it can be used between
/// pages: made by [`Query::paginate`], each page read by [`Pages::page`] (numbered) or
/// [`Pages::after`] (keyset).
///
/// ```
/// # use relata::{Database, Model, schema};
/// # #[derive(Model)] struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
/// # let db = Database::open("sqlite::memory:")?;
/// # db.create_all(&schema![Student])?;
/// let mut s = db.session();
/// s.add_all((1..=25).map(|i| Student { id: None, name: format!("Student {i:02}") }));
/// s.commit()?;
/// let pages = s.query::<Student>().order_by(Student::NAME.asc()).paginate(10);
/// let mut names = Vec::new();
/// let mut next = pages.after(&mut s, None)?;
/// loop {
///     names.extend(next.items.iter().map(|&k| s[k].name.clone())); // the session is free here
///     match next.next {
///         Some(cursor) => next = pages.after(&mut s, Some(&cursor))?,
///         None => break,
///     }
/// }
/// assert_eq!(names.len(), 25);
/// assert_eq!(pages.page(&mut s, 3)?.items.len(), 5);
/// # Ok::<(), relata::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pages<M: Model> {
    spec: crate::query::QuerySpec,
    size: u64,
    _p: std::marker::PhantomData<fn() -> M>,
}

impl<M: Model> Pages<M> {
    /// How many objects a page holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Page `number` (from 1), with the total: see [`Query::page`].
    pub fn page(&self, s: &mut Session, number: u64) -> Result<Page<M>> {
        Query::with_spec(s, self.spec.clone()).page(number, self.size)
    }

    /// The page after `cursor` (the first with `None`): see [`Query::keyset`].
    pub fn after(&self, s: &mut Session, cursor: Option<&Cursor>) -> Result<KeysetPage<M>> {
        Query::with_spec(s, self.spec.clone()).keyset(cursor, self.size)
    }
}

impl<M: Model> Query<'_, M> {
    /// The query's pages of `page_size` objects, to read one at a time with the session free
    /// in between (see [`Pages`]); its limit and offset are replaced by each page's.
    pub fn paginate(self, page_size: u64) -> Pages<M> {
        Pages {
            spec: self.spec,
            size: page_size,
            _p: std::marker::PhantomData,
        }
    }

    /// Hands each matching object to `f` as the database sends it, without holding it in the
    /// identity map: memory stays bounded however many rows match. The objects are copies as
    /// the database holds them (pending changes of the session are not in them). An error from
    /// `f` stops the query and is returned.
    ///
    /// ```
    /// # use relata::{Database, Model, schema};
    /// # #[derive(Model)] struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student])?;
    /// let mut s = db.session();
    /// s.add_all(["Alice", "Алиса", "张伟"].map(|n| Student { id: None, name: n.into() }));
    /// s.commit()?;
    /// let mut csv = String::new();
    /// s.query::<Student>().order_by(Student::ID.asc()).for_each(|st| {
    ///     csv.push_str(&format!("{},{}\n", st.id.unwrap(), st.name));
    ///     Ok::<_, relata::Error>(())
    /// })?;
    /// assert_eq!(csv, "1,Alice\n2,Алиса\n3,张伟\n");
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn for_each<E: From<Error>>(
        self,
        mut f: impl FnMut(M) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let session: &mut Session = self.session;
        session.autoflush()?;
        let mut params = Vec::new();
        let text = sql::select(session.db.dialect(), M::TABLE, &self.spec, &mut params);
        let mut stopped = None;
        let why = super::load::Doing("query", M::TABLE.name);
        let ran = session.stream(&why, &text, &params, |row| {
            f(super::store::model_from_row(row)?).map_err(|e| {
                stopped = Some(e);
                super::stream::stopped()
            })
        });
        match (ran, stopped) {
            (_, Some(e)) => Err(e),
            (ran, None) => ran.map_err(E::from),
        }
    }

    /// Page `number` (from 1) of `size` objects, in the query's order, with the total count:
    /// two statements (the window, and the count). For deep pages of large tables, prefer
    /// [`Query::keyset`], whose cost does not grow with the page number.
    ///
    /// ```
    /// # use relata::{Database, Model, schema};
    /// # #[derive(Model)] struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student])?;
    /// let mut s = db.session();
    /// s.add_all((1..=25).map(|i| Student { id: None, name: format!("Student {i:02}") }));
    /// s.commit()?;
    /// let page = s.query::<Student>().order_by(Student::NAME.asc()).page(3, 10)?;
    /// assert_eq!((page.items.len(), page.total, page.pages()), (5, 25, 3));
    /// assert_eq!(s[page.items[0]].name, "Student 21");
    /// assert!(!page.has_next() && page.has_previous());
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn page(mut self, number: u64, size: u64) -> Result<Page<M>> {
        if number == 0 || size == 0 {
            return Err(Error::InvalidArgument {
                message: format!(
                    "cannot read page {number} of {size}: pages are numbered from 1 and hold at \
                     least one object"
                ),
            });
        }
        let total = self.session.run_count::<M>(&self.spec)?;
        self.spec.limit = Some(size);
        self.spec.offset = Some((number - 1).saturating_mul(size));
        let items = self.session.run_query::<M>(&self.spec, &[])?;
        Ok(Page {
            items,
            number,
            size,
            total,
        })
    }

    /// A page of `size` objects starting after `after` (the first page with `None`), in the
    /// query's order, which must be by columns (the primary key breaks ties): each page is one
    /// statement that seeks its first row by an index, however deep it is. Rows added or
    /// removed between pages neither repeat nor skip others. The order's columns must not be
    /// `NULL` in the rows paged.
    ///
    /// ```
    /// # use relata::{Database, Model, schema};
    /// # #[derive(Model)] struct Student { #[relata(primary_key)] id: Option<i64>, name: String }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Student])?;
    /// let mut s = db.session();
    /// s.add_all((1..=25).map(|i| Student { id: None, name: format!("Student {}", i % 5) }));
    /// s.commit()?;
    /// let (mut after, mut seen) = (None, 0);
    /// loop {
    ///     let page = s.query::<Student>().order_by(Student::NAME.desc()).keyset(after.as_ref(), 10)?;
    ///     seen += page.items.len();
    ///     match page.next {
    ///         Some(next) => after = Some(next),
    ///         None => break,
    ///     }
    /// }
    /// assert_eq!(seen, 25);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn keyset(mut self, after: Option<&Cursor>, size: u64) -> Result<KeysetPage<M>> {
        let table = M::TABLE;
        if size == 0 {
            return Err(Error::InvalidArgument {
                message: "a keyset page holds at least one object".into(),
            });
        }
        // The order's columns, then the primary key; each with its direction.
        let mut order: Vec<(&'static str, bool)> = Vec::new();
        for (by, desc) in &self.spec.order {
            match by {
                Scalar::Column(c) => order.push((c, *desc)),
                other => {
                    return Err(Error::InvalidArgument {
                        message: format!(
                            "keyset pages of {} need an order by columns, not by {other}: \
                             order by columns, or use page()",
                            table.name
                        ),
                    })
                }
            }
        }
        order.push((table.primary_key, false));
        if let Some(after) = after {
            if after.table != table.name || after.order != order {
                return Err(Error::InvalidArgument {
                    message: format!(
                        "this cursor continues a keyset query of {} ordered by {:?}, not this \
                         one of {} ordered by {:?}: page with the query that made it",
                        after.table, after.order, table.name, order
                    ),
                });
            }
            let past = keyset_past(&order, &after.values);
            self.spec.filter = Some(match self.spec.filter.take() {
                None => past,
                Some(f) => Expr::And(vec![f, past]),
            });
        }
        self.spec.limit = Some(size);
        self.spec.offset = None;
        let items = self.session.run_query::<M>(&self.spec, &[])?;
        let next = match items.last() {
            Some(&last) if items.len() as u64 == size => {
                // The row's values as stored: unsaved changes to the last object must not move
                // the cursor.
                let obj = self
                    .session
                    .store::<M>()
                    .expect("a key implies a store")
                    .stored(last.slot);
                let values = order
                    .iter()
                    .map(
                        |(c, _)| match table.columns.iter().position(|d| d.name == *c) {
                            Some(i) => obj.value(i).to_owned(),
                            None => obj.key_value().to_owned(),
                        },
                    )
                    .collect::<Vec<_>>();
                if let Some(i) = values.iter().position(|v| *v == Value::Null) {
                    return Err(Error::InvalidArgument {
                        message: format!(
                            "keyset pages of {} cannot continue past a NULL in {}: order by \
                             columns that are never NULL",
                            table.name, order[i].0
                        ),
                    });
                }
                Some(Cursor {
                    table: table.name,
                    order,
                    values,
                })
            }
            _ => None,
        };
        Ok(KeysetPage { items, next })
    }
}

/// The filter of a keyset page, the rows after `values` in `order`: `(a > va) OR (a = va AND
/// b > vb) OR ...`, with `<` for descending columns.
fn keyset_past(order: &[(&'static str, bool)], values: &[Value]) -> Expr {
    let mut any = Vec::new();
    for i in 0..order.len() {
        let mut all: Vec<Expr> = (0..i)
            .map(|j| Expr::Cmp {
                column: order[j].0,
                op: CmpOp::Eq,
                value: values[j].clone(),
            })
            .collect();
        all.push(Expr::Cmp {
            column: order[i].0,
            op: if order[i].1 { CmpOp::Lt } else { CmpOp::Gt },
            value: values[i].clone(),
        });
        any.push(Expr::And(all));
    }
    Expr::Or(any)
}
