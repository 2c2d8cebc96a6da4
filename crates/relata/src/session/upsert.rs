//! Upserts: insert objects, or update the rows already there with the same primary key or unique
//! column, in statements of many rows, and hold the results in the identity map.

use std::collections::hash_map::{Entry, HashMap};

use super::*;
use crate::io::{Params, Reader, Reads, Statements};
use crate::model::Column;
use crate::query::{Expr, QuerySpec};
use crate::sql::{self, Upsert};
use crate::value::{RowSource, Value};

/// The rows an upsert's statements return, as objects, until they are merged.
struct Returned<M>(Vec<M>);

impl<M: Model> Reader for Returned<M> {
    fn row(&mut self, _statement: usize, row: &dyn RowSource) -> Result<()> {
        self.0.push(super::store::model_from_row(row)?);
        Ok(())
    }
}

impl Session {
    /// Inserts `object`, or, if its `on` column (the primary key, or a `#[relata(unique)]`
    /// column) holds a value a row already has, updates that row's other columns to the
    /// object's (a version column counts up). Returns its key: the object as the database now
    /// holds it, in the identity map. See [`Session::upsert_all`].
    ///
    /// ```
    /// # use relata::{Database, Model, schema};
    /// #[derive(Model)]
    /// struct Course {
    ///     #[relata(primary_key)]
    ///     id: Option<i64>,
    ///     #[relata(unique)]
    ///     code: String,
    ///     title: String,
    /// }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Course])?;
    /// let mut s = db.session();
    /// let math = s.upsert(Course::CODE, Course { id: None, code: "M1".into(), title: "Math".into() })?;
    /// let again = s.upsert(Course::CODE, Course { id: None, code: "M1".into(), title: "Algebra".into() })?;
    /// assert_eq!(math, again); // one row, updated
    /// assert_eq!(s[math].title, "Algebra");
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn upsert<M: Model, T>(&mut self, on: Column<M, T>, object: M) -> Result<Key<M>> {
        Ok(self.upsert_all(on, [object])?[0])
    }

    /// Upserts many objects (see [`Session::upsert`]) in statements of many rows each:
    /// `INSERT ... ON CONFLICT (on) DO UPDATE` on SQLite and PostgreSQL, `INSERT ... ON
    /// DUPLICATE KEY UPDATE` on MySQL (which updates on a conflict with *any* unique key of
    /// the table, not only `on`). Returns their keys in order; two objects with one `on` value
    /// are one row, the later one's values winning, and one key.
    ///
    /// It writes at once, not at the next commit: inside a transaction block, as part of the
    /// block (a rollback undoes it, and the objects it returned are read again); outside one,
    /// in a transaction of its own, all of it or nothing. Pending changes of the session are
    /// neither written nor lost; an object the session holds with unsaved changes keeps them,
    /// to be written over the upserted row at the next commit (for a model with a version
    /// column, refused there with [`Error::Stale`]: the row changed after they were made).
    ///
    /// With `on` the primary key, every object needs its id; with a unique column, the database
    /// chooses the ids of new rows (an object must not carry one). Errors: [`Error::InvalidArgument`]
    /// when `on` is neither the primary key nor unique, or an object's id does not fit `on`;
    /// [`Error::Constraint`] when a row breaks another constraint (nothing written).
    ///
    /// ```
    /// # use relata::{Database, Model, schema};
    /// #[derive(Model)]
    /// struct Price {
    ///     #[relata(primary_key)]
    ///     id: Option<i64>,
    ///     #[relata(unique)]
    ///     sku: String,
    ///     cents: i64,
    /// }
    /// # let db = Database::open("sqlite::memory:")?;
    /// # db.create_all(&schema![Price])?;
    /// let mut s = db.session();
    /// let price = |sku: &str, cents| Price { id: None, sku: sku.into(), cents };
    /// s.upsert_all(Price::SKU, [price("A-1", 100), price("B-2", 250)])?;
    /// // A day later: B-2 changes, C-3 is new.
    /// let keys = s.upsert_all(Price::SKU, [price("B-2", 199), price("C-3", 40)])?;
    /// assert_eq!(s[keys[0]].cents, 199);
    /// assert_eq!(s.query::<Price>().count()?, 3);
    /// # Ok::<(), relata::Error>(())
    /// ```
    pub fn upsert_all<M: Model, T>(
        &mut self,
        on: Column<M, T>,
        objects: impl IntoIterator<Item = M>,
    ) -> Result<Vec<Key<M>>> {
        let table = M::TABLE;
        let by_key = on.name == table.primary_key;
        let unique = table.columns.iter().any(|c| c.name == on.name && c.unique);
        if !by_key && !unique {
            return Err(Error::InvalidArgument {
                message: format!(
                    "cannot upsert on {}.{}: it is neither the primary key nor unique; mark it \
                     #[relata(unique)] (and create the table with it)",
                    table.name, on.name
                ),
            });
        }
        let position = table.columns.iter().position(|c| c.name == on.name);
        // The rows, one per `on` value (the later object wins), and each object's row.
        let mut rows: Vec<M> = Vec::new();
        let mut row_of = Vec::new();
        let mut seen: Vec<Value> = Vec::new();
        // Each `on` value's row, by the value's rendering (`Value` holds floats, so is not
        // `Hash`; the rendering tells every variant and every string apart): a bulk upsert
        // finds duplicates in one pass, not by comparing every pair.
        let mut row_by_value: HashMap<String, usize> = HashMap::new();
        for mut obj in objects {
            obj.set_version(1);
            if let (Some(_), Some(id)) = (position, obj.id()) {
                return Err(Error::InvalidArgument {
                    message: format!(
                        "cannot upsert {} on {}: it has an id ({id}); upsert on the primary key, \
                         or leave the id None for the database to choose",
                        crate::model::describe_row(&obj),
                        on.name
                    ),
                });
            }
            let value = match position {
                Some(c) => obj.value(c).to_owned(),
                None => match obj.primary_key() {
                    Some(_) => obj.key_value().to_owned(),
                    None => {
                        return Err(Error::InvalidArgument {
                            message: format!(
                                "cannot upsert {} on its primary key: the object has no id; set \
                                 one, or upsert on a unique column",
                                crate::model::describe_row(&obj)
                            ),
                        })
                    }
                },
            };
            match row_by_value.entry(format!("{value:?}")) {
                Entry::Occupied(i) => {
                    rows[*i.get()] = obj;
                    row_of.push(*i.get());
                }
                Entry::Vacant(v) => {
                    v.insert(rows.len());
                    row_of.push(rows.len());
                    seen.push(value);
                    rows.push(obj);
                }
            }
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let returned = self.write_upsert(
            &Upsert {
                table,
                on: on.name,
                // A chosen key is always written: the database has none to give.
                with_id: by_key || table.chosen_key.is_some(),
            },
            &rows,
            &seen,
        )?;
        // Each row's key, by its `on` value.
        let mut slots = vec![None; rows.len()];
        let store = self.store_mut::<M>();
        for obj in returned {
            let value = match position {
                Some(c) => obj.value(c),
                None => obj.key_value(),
            }
            .to_owned();
            let id = store.id_of(&obj)?;
            let slot = store.merge_owned(id, obj);
            if let Some(&i) = row_by_value.get(&format!("{value:?}")) {
                slots[i] = Some(slot);
            }
        }
        self.upserted.push((table.slot)());
        row_of
            .into_iter()
            .map(|i| {
                slots[i]
                    .map(|slot| Key::new(self.id, slot))
                    .ok_or_else(|| Error::Database {
                        driver: None,
                        message: format!(
                            "the upsert into {} did not return the row of {} = {}",
                            table.name, on.name, seen[i]
                        ),
                        sql: None,
                    })
            })
            .collect()
    }

    /// Runs an upsert's statements, in the block if there is one, else in a transaction of
    /// its own; returns the rows as the database holds them after it.
    fn write_upsert<M: Model>(
        &mut self,
        upsert: &Upsert<'static>,
        rows: &[M],
        on_values: &[Value],
    ) -> Result<Vec<M>> {
        let d = self.db.dialect();
        let returning = d.capabilities().returning;
        let per = sql::rows_per_statement(d, upsert.width(), d.capabilities().max_batch_rows);
        let mut statements: Vec<(String, Vec<Value>)> = Vec::new();
        for (chunk, values) in rows.chunks(per).zip(on_values.chunks(per)) {
            let mut params = Vec::with_capacity(chunk.len() * upsert.width());
            for obj in chunk {
                if upsert.with_id {
                    params.push(obj.key_value().to_owned());
                }
                params.extend((0..upsert.table.columns.len()).map(|c| obj.value(c).to_owned()));
            }
            statements.push((upsert.sql(d, chunk.len(), returning), params));
            if !returning {
                // Read the rows back by their `on` values.
                let spec = QuerySpec {
                    filter: Some(Expr::In {
                        column: upsert.on,
                        values: values.to_vec(),
                    }),
                    unordered: true,
                    ..QuerySpec::default()
                };
                let mut params = Vec::new();
                let select = sql::select(d, upsert.table, &spec, &mut params);
                statements.push((select, params));
            }
        }
        let own = self.pinned.is_none() && statements.len() > 1;
        if own {
            self.begin(crate::transaction::TxOptions::new())?;
        }
        let why = format!("upsert into {}", upsert.table.name);
        let list = statements
            .iter()
            .map(|(sql, params)| (sql.as_str(), Params::Values(params)))
            .collect();
        let mut reads = Reads::new(&why, Statements::Many(list), Returned(Vec::new()));
        let ran = self
            .db
            .drive(self.pinned.as_mut(), &mut reads, &mut self.log)
            .and_then(|()| reads.finish());
        if own {
            let end = if ran.is_ok() { "COMMIT" } else { "ROLLBACK" };
            let ended = self.control(&end.to_lowercase(), vec![end.into()]);
            self.pinned = None;
            ended?;
        }
        Ok(ran?.0)
    }
}
