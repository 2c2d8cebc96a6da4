//! Reads: a model's select and count with their filter, the lazy load of one collection, the
//! eager load of every result's collection, and filter trees as SQL (`EXISTS` for relations).

use super::project::scalar;
use super::{Dialect, Sql};
use crate::expr::SubSpec;
use crate::model::TableDef;
use crate::query::{CmpOp, Expr, QuerySpec};
use crate::relation::{AssocDef, Processor, Side, Storage};
use crate::value::Value;

/// The select list of a model: primary key, then every column.
fn select_list(s: &mut Sql<'_>, alias: &str, table: &TableDef) {
    s.col(alias, table.primary_key);
    for c in table.columns {
        s.push(", ").col(alias, c.name);
    }
}

/// `FROM t AS t0 WHERE ... ORDER BY ... LIMIT ... OFFSET ...` shared by selects and counts.
fn from_where_order(
    s: &mut Sql<'_>,
    table: &TableDef,
    spec: &QuerySpec,
    params: &mut Vec<Value>,
    order: bool,
) {
    s.push(" FROM ").ident(table.name).push(" AS ").ident("t0");
    if let Some(f) = &spec.filter {
        s.push(" WHERE ");
        let mut depth = 0;
        expr(s, f, "t0", table, &mut depth, params);
    }
    if order {
        s.push(" ORDER BY ");
        let mut depth = 0;
        for (by, desc) in &spec.order {
            scalar(s, by, ("t0", table), &mut depth, params);
            s.push(if *desc { " DESC, " } else { ", " });
        }
        s.col("t0", table.primary_key);
    }
    limit_offset(s, spec.limit, spec.offset, params);
}

pub(super) fn limit_offset(
    s: &mut Sql<'_>,
    limit: Option<u64>,
    offset: Option<u64>,
    params: &mut Vec<Value>,
) {
    match (limit, offset) {
        (None, None) => {}
        (limit, offset) => {
            // An offset needs a limit in SQLite and MySQL; -1 / a huge value means "no limit".
            s.push(" LIMIT ").param();
            params.push(Value::Integer(
                limit.map_or(i64::MAX, |l| l.min(i64::MAX as u64) as i64),
            ));
            if let Some(o) = offset {
                s.push(" OFFSET ").param();
                params.push(Value::Integer(o.min(i64::MAX as u64) as i64));
            }
        }
    }
}

/// `SELECT <model columns> FROM t AS t0 WHERE ... ORDER BY ..., pk`.
pub(crate) fn select(
    d: &dyn Dialect,
    table: &TableDef,
    spec: &QuerySpec,
    params: &mut Vec<Value>,
) -> String {
    let mut s = Sql::new(d);
    s.params = params.len();
    s.push("SELECT ");
    select_list(&mut s, "t0", table);
    from_where_order(&mut s, table, spec, params, !spec.unordered);
    s.finish()
}

/// `SELECT COUNT(*) FROM (SELECT pk FROM t AS t0 WHERE ... LIMIT ...)`.
pub(crate) fn count(
    d: &dyn Dialect,
    table: &TableDef,
    spec: &QuerySpec,
    params: &mut Vec<Value>,
) -> String {
    let mut s = Sql::new(d);
    s.params = params.len();
    if spec.limit.is_none() && spec.offset.is_none() {
        s.push("SELECT COUNT(*)");
        from_where_order(&mut s, table, spec, params, false);
    } else {
        s.push("SELECT COUNT(*) FROM (SELECT ")
            .col("t0", table.primary_key);
        from_where_order(&mut s, table, spec, params, true);
        s.push(") AS ").ident("c");
    }
    s.finish()
}

/// A lazy load: one parent's related objects, by a join through the association:
/// `SELECT a.from, t.pk, t.cols FROM assoc a JOIN target t ON t.pk = a.to WHERE a.from = ?
/// ORDER BY a.to` (the collection comes in the target's key order, off the association's index).
pub(crate) fn select_related(d: &dyn Dialect, assoc: &AssocDef, side: Side) -> String {
    let (from, to) = assoc.sides(side);
    let target = to.table;
    let mut s = Sql::new(d);
    s.push("SELECT ").col("a", from.column).push(", ");
    select_list(&mut s, "t", target);
    s.push(" FROM ")
        .ident(assoc.table)
        .push(" AS ")
        .ident("a")
        .push(" JOIN ")
        .ident(target.name)
        .push(" AS ")
        .ident("t")
        .push(" ON ")
        .col("t", target.primary_key)
        .push(" = ")
        .col("a", to.column)
        .push(" WHERE ")
        .col("a", from.column)
        .push(" = ")
        .param()
        .push(" ORDER BY ")
        .col("a", from.column)
        .push(", ")
        .col("a", to.column);
    s.finish()
}

/// ` WHERE a.from IN (SELECT pk FROM parent ...)` when the parents are not every row. With a
/// limit, the parents' keys come from a derived table: MySQL and MariaDB reject `LIMIT` directly
/// inside `IN (...)`.
fn parents_filter(
    s: &mut Sql<'_>,
    from: &str,
    parent: &TableDef,
    spec: &QuerySpec,
    params: &mut Vec<Value>,
) -> bool {
    let limited = spec.limit.is_some() || spec.offset.is_some();
    let filtered = spec.filter.is_some() || limited;
    if filtered {
        s.push(" WHERE ").col("a", from).push(" IN (SELECT ");
        if limited {
            s.col("l", parent.primary_key).push(" FROM (SELECT ");
        }
        s.col("t0", parent.primary_key);
        from_where_order(s, parent, spec, params, limited);
        if limited {
            s.push(") AS ").ident("l");
        }
        s.push(")");
    }
    filtered
}

/// An eager load that reads each target row once: the pairs (from the association's index,
/// grouped by parent in the target's key order), then the targets, as two statements in that
/// order or, where [`Capabilities::eager_load_statements`](super::Capabilities::eager_load_statements) says 1, as one `UNION ALL`. Each comes
/// with its parameters.
///
/// Every row is `key, target columns..., to`: a pair is `a.from, NULL..., a.to` (its last column
/// is never NULL), a target is `t.pk, t.cols..., NULL` (so `Model::from_row` reads it from
/// column 0). With a parent filter, the targets arm keeps the targets of those parents; without
/// one it reads every target and the reader keeps those a pair named: a scan instead of an index
/// probe per target, and the database returns the pairs arm first in practice (the reader stays
/// correct otherwise). A join would look the target up once per pair: measured 2-4x slower for
/// a million pairs on SQLite, 5-7x on MariaDB.
pub(crate) fn select_eager(
    d: &dyn Dialect,
    assoc: &AssocDef,
    side: Side,
    parent: &TableDef,
    spec: &QuerySpec,
) -> Vec<(String, Vec<Value>)> {
    let mut s = Sql::new(d);
    let mut params = Vec::new();
    // One statement's first column holds parent keys (pairs) and target keys (targets): two
    // statements where their types differ (a generated key and a text key).
    let (from, to) = assoc.sides(side);
    if d.capabilities().eager_load_statements != 1 || from.table.key_type() != to.table.key_type() {
        eager_pairs(&mut s, assoc, side, parent, spec, false, &mut params);
        let pairs = (s.finish(), params);
        let (mut s, mut params) = (Sql::new(d), Vec::new());
        eager_targets(&mut s, assoc, side, parent, spec, &mut params);
        return vec![pairs, (s.finish(), params)];
    }
    // The pairs' ORDER BY sits in a derived table: a `UNION ALL` arm cannot have one of its own.
    s.push("SELECT * FROM (");
    eager_pairs(&mut s, assoc, side, parent, spec, true, &mut params);
    s.push(") AS ").ident("p").push(" UNION ALL ");
    eager_targets(&mut s, assoc, side, parent, spec, &mut params);
    vec![(s.finish(), params)]
}

/// The pairs of an eager load: `SELECT a.from, NULL..., a.to FROM assoc AS a [WHERE a.from IN
/// (parents)] ORDER BY a.from, a.to`, the NULLs `typed` to match the targets' columns in a
/// `UNION ALL`.
fn eager_pairs(
    s: &mut Sql<'_>,
    assoc: &AssocDef,
    side: Side,
    parent: &TableDef,
    spec: &QuerySpec,
    typed: bool,
    params: &mut Vec<Value>,
) {
    let (from, to) = assoc.sides(side);
    s.push("SELECT ").col("a", from.column);
    for c in to.table.columns {
        s.push(", ");
        if typed {
            s.d.typed_null(&mut s.text, c.sql_type);
        } else {
            s.push("NULL");
        }
    }
    s.push(", ")
        .col("a", to.column)
        .push(" FROM ")
        .ident(assoc.table)
        .push(" AS ")
        .ident("a");
    parents_filter(s, from.column, parent, spec, params);
    s.push(" ORDER BY ")
        .col("a", from.column)
        .push(", ")
        .col("a", to.column);
}

/// The targets of an eager load: `SELECT t.pk, t.cols..., NULL FROM target AS t`, with a parent
/// filter only those linked to the parents.
fn eager_targets(
    s: &mut Sql<'_>,
    assoc: &AssocDef,
    side: Side,
    parent: &TableDef,
    spec: &QuerySpec,
    params: &mut Vec<Value>,
) {
    let (from, to) = assoc.sides(side);
    let target = to.table;
    s.push("SELECT ");
    select_list(s, "t", target);
    // Typed: alone (not under a pairs arm), PostgreSQL would report an untyped NULL as text.
    s.push(", ");
    s.d.typed_null(&mut s.text, target.key_type());
    s.push(" FROM ").ident(target.name).push(" AS ").ident("t");
    if spec.filter.is_some() || spec.limit.is_some() || spec.offset.is_some() {
        s.push(" WHERE ")
            .col("t", target.primary_key)
            .push(" IN (SELECT ")
            .col("a", to.column)
            .push(" FROM ")
            .ident(assoc.table)
            .push(" AS ")
            .ident("a");
        parents_filter(s, from.column, parent, spec, params);
        s.push(")");
    }
}

/// The children of a query's results through a foreign key, in one statement: `SELECT a.pk,
/// a.cols... FROM child AS a WHERE a.fk IN (parents) ORDER BY a.fk, a.pk` (every child with a
/// parent when the query has no filter or window: `a.fk IS NOT NULL` if the key is nullable).
/// Each row is a child, and names its parent in its foreign key column.
pub(crate) fn select_children(
    d: &dyn Dialect,
    fk: &AssocDef,
    parent: &TableDef,
    spec: &QuerySpec,
) -> (String, Vec<Value>) {
    let (mut s, mut params) = (Sql::new(d), Vec::new());
    let child = fk.left.table;
    s.push("SELECT ");
    select_list(&mut s, "a", child);
    s.push(" FROM ").ident(child.name).push(" AS ").ident("a");
    let filtered = parents_filter(&mut s, fk.right.column, parent, spec, &mut params);
    if let Storage::ForeignKey { nullable: true, .. } = fk.storage {
        // Children without a parent are no one's (the test costs SQLite a quarter of the scan,
        // so a NOT NULL key goes without it).
        s.push(if filtered { " AND " } else { " WHERE " })
            .col("a", fk.right.column)
            .push(" IS NOT NULL");
    }
    s.push(" ORDER BY ")
        .col("a", fk.right.column)
        .push(", ")
        .col("a", child.primary_key);
    (s.finish(), params)
}

/// The parents a query's results reference through a foreign key, in one statement (the
/// targets of [`select_eager`] from the many-to-one side; the pairs are the children's own
/// keys, read already).
pub(crate) fn select_referenced(
    d: &dyn Dialect,
    fk: &AssocDef,
    child: &TableDef,
    spec: &QuerySpec,
) -> (String, Vec<Value>) {
    let (mut s, mut params) = (Sql::new(d), Vec::new());
    eager_targets(&mut s, fk, Side::Left, child, spec, &mut params);
    (s.finish(), params)
}

/// Renders a filter on the table aliased `alias`.
pub(super) fn expr(
    s: &mut Sql<'_>,
    e: &Expr,
    alias: &str,
    table: &TableDef,
    depth: &mut usize,
    params: &mut Vec<Value>,
) {
    match e {
        Expr::Cmp { column, op, value } => {
            s.col(alias, column);
            compare(s, *op, value, params);
        }
        Expr::Compare { left, op, value } => {
            scalar(s, left, (alias, table), depth, params);
            compare(s, *op, value, params);
        }
        Expr::Like { column, pattern } => {
            let escape = s.d.like_escape();
            s.col(alias, column).push(" LIKE ").param().push(escape);
            params.push(Value::Text(pattern.clone()));
        }
        Expr::In { column, values } => {
            if values.is_empty() {
                s.push("1 = 0");
            } else {
                s.col(alias, column).push(" IN ").tuple(values.len());
                params.extend(values.iter().cloned());
            }
        }
        Expr::IsNull { column, negated } => {
            s.col(alias, column)
                .push(if *negated { " IS NOT NULL" } else { " IS NULL" });
        }
        Expr::And(v) | Expr::Or(v) => {
            let sep = if matches!(e, Expr::And(_)) {
                " AND "
            } else {
                " OR "
            };
            s.push("(");
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    s.push(sep);
                }
                expr(s, x, alias, table, depth, params);
            }
            s.push(")");
        }
        Expr::Not(x) => {
            s.push("NOT (");
            expr(s, x, alias, table, depth, params);
            s.push(")");
        }
        Expr::Exists(sub) => {
            s.push("EXISTS ");
            subquery(s, sub, alias, depth, params);
        }
        Expr::InSubquery { column, sub } => {
            s.col(alias, column).push(" IN ");
            subquery(s, sub, alias, depth, params);
        }
        Expr::Related { def, side, inner } => {
            def.exists(s, *side, (alias, table), inner.as_deref(), depth, params);
        }
    }
}

/// `(SELECT sN.x FROM t AS sN WHERE [sN.inner = outer.column AND] filter)`.
fn subquery(
    s: &mut Sql<'_>,
    sub: &SubSpec,
    alias: &str,
    depth: &mut usize,
    params: &mut Vec<Value>,
) {
    *depth += 1;
    let a = format!("s{depth}");
    s.push("(SELECT ");
    scalar(s, &sub.select, (&a, sub.table), depth, params);
    s.push(" FROM ")
        .ident(sub.table.name)
        .push(" AS ")
        .ident(&a);
    if let Some((inner, outer)) = sub.correlate {
        s.push(" WHERE ")
            .col(&a, inner)
            .push(" = ")
            .col(alias, outer);
    }
    if let Some(f) = &sub.filter {
        s.push(if sub.correlate.is_some() {
            " AND "
        } else {
            " WHERE "
        });
        expr(s, f, &a, sub.table, depth, params);
    }
    s.push(")");
}

/// ` = ?` and the like, `IS [NOT] NULL` for a comparison with `NULL`.
fn compare(s: &mut Sql<'_>, op: CmpOp, value: &Value, params: &mut Vec<Value>) {
    match (op, value) {
        (CmpOp::Eq, Value::Null) => {
            s.push(" IS NULL");
        }
        (CmpOp::Ne, Value::Null) => {
            s.push(" IS NOT NULL");
        }
        _ => {
            s.push(op.sql()).param();
            params.push(value.clone());
        }
    }
}

/// ` FROM assoc AS a [JOIN target AS t ON t.pk = a.to] WHERE a.from = outer.pk`: the rows
/// related to the outer row, for a correlated subquery; the target joined if `with_target`.
pub(super) fn related_rows(
    s: &mut Sql<'_>,
    def: &AssocDef,
    side: Side,
    (alias, table): (&str, &TableDef),
    (a, t): (&str, &str),
    with_target: bool,
) {
    let from = def.sides(side).0;
    s.push(" FROM ").ident(def.table).push(" AS ").ident(a);
    if with_target {
        join_target(s, " JOIN ", def, side, t, a);
    }
    s.push(" WHERE ")
        .col(a, from.column)
        .push(" = ")
        .col(alias, table.primary_key);
}

/// `join target AS t ON t.pk = a.to`: a relation's target joined to its association rows.
pub(super) fn join_target(
    s: &mut Sql<'_>,
    join: &str,
    def: &AssocDef,
    side: Side,
    t: &str,
    a: &str,
) {
    let to = def.sides(side).1;
    s.push(join)
        .ident(to.table.name)
        .push(" AS ")
        .ident(t)
        .push(" ON ")
        .col(t, to.table.primary_key)
        .push(" = ")
        .col(a, to.column);
}

/// `EXISTS (SELECT 1 FROM assoc AS aN [JOIN target AS tN ON ...] WHERE aN.from = outer.id [AND
/// inner])`: the many-to-many kind's filter (see `relation::Processor::exists`).
pub(crate) fn exists_related(
    s: &mut Sql<'_>,
    def: &AssocDef,
    side: Side,
    (alias, table): (&str, &TableDef),
    inner: Option<&Expr>,
    depth: &mut usize,
    params: &mut Vec<Value>,
) {
    *depth += 1;
    let to = def.sides(side).1;
    let a = format!("a{depth}");
    let t = format!("t{depth}");
    s.push("EXISTS (SELECT 1");
    related_rows(s, def, side, (alias, table), (&a, &t), inner.is_some());
    if let Some(inner) = inner {
        s.push(" AND ");
        expr(s, inner, &t, to.table, depth, params);
    }
    s.push(")");
}
