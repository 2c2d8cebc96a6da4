//! Selects of expressions: value expressions (columns, aggregates, lengths, a relation's
//! aggregate per parent as a correlated subquery) and the statement of a
//! [`Select`](crate::Select): `SELECT [DISTINCT] exprs FROM t AS t0 [LEFT] JOIN ... WHERE ...
//! GROUP BY ... HAVING ... ORDER BY ... LIMIT ... OFFSET ...`.

use super::prune::prune;
use super::select::{expr, join_target, limit_offset, related_rows};
use super::Sql;
use crate::expr::Scalar;
use crate::model::TableDef;
use crate::query::Expr;
use crate::relation::{Processor, RelationKind, Side};
use crate::value::Value;

/// A relation joined into a select: the source it starts from (an index into the sources), and
/// whether rows with no related object stay (`LEFT JOIN`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Join {
    pub kind: RelationKind,
    pub side: Side,
    pub from: u8,
    pub left: bool,
}

/// One table of a select: the base (no join) or a joined relation's target.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source {
    pub table: &'static TableDef,
    pub join: Option<Join>,
}

/// A select of expressions, each part on the source at its index.
#[derive(Debug, Clone, Default)]
pub(crate) struct SelectSpec {
    pub sources: Vec<Source>,
    pub distinct: bool,
    pub columns: Vec<(u8, Scalar)>,
    pub filter: Vec<(u8, Expr)>,
    pub group: Vec<(u8, Scalar)>,
    pub having: Vec<(u8, Expr)>,
    pub order: Vec<(u8, Scalar, bool)>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// The alias of source `i`: `t0` for the base, `j1`, `j2`, ... for joins (the filters' own
/// subqueries use `a1`, `t1`, ...).
pub(crate) fn alias(i: u8) -> String {
    if i == 0 {
        "t0".to_owned()
    } else {
        format!("j{i}")
    }
}

/// Renders the statement, pushing its parameters in placeholder order. Joined models read only
/// by their keys are left out (see `prune.rs`).
pub(crate) fn select_exprs(s: &mut Sql<'_>, spec: &SelectSpec, params: &mut Vec<Value>) {
    let mut spec = spec.clone();
    let shape = prune(&mut spec);
    let spec = &spec;
    let mut depth = 0;
    let at = |i: u8| {
        (
            shape.aliases[i as usize].as_str(),
            spec.sources[i as usize].table,
        )
    };
    s.push(if spec.distinct {
        "SELECT DISTINCT "
    } else {
        "SELECT "
    });
    for (n, (i, e)) in spec.columns.iter().enumerate() {
        if n > 0 {
            s.push(", ");
        }
        scalar(s, e, at(*i), &mut depth, params);
    }
    if shape.base {
        let base = spec.sources[0].table;
        s.push(" FROM ").ident(base.name).push(" AS ").ident("t0");
    }
    for (i, src) in spec.sources.iter().enumerate().skip(1) {
        let j = src.join.expect("every source after the first is a join");
        let def = j.kind.def();
        // Without the base, the first join's association is the FROM.
        let association = shape.base || j.from != 0;
        if !association {
            let a = format!("a{}", alias(i as u8));
            s.push(" FROM ").ident(def.table).push(" AS ").ident(&a);
        }
        let parts = JoinParts {
            association,
            target: shape.target[i],
        };
        def.join(s, j.side, at(j.from), &alias(i as u8), j.left, parts);
    }
    conditions(s, " WHERE ", &spec.filter, &at, &mut depth, params);
    for (n, (i, e)) in spec.group.iter().enumerate() {
        s.push(if n == 0 { " GROUP BY " } else { ", " });
        scalar(s, e, at(*i), &mut depth, params);
    }
    conditions(s, " HAVING ", &spec.having, &at, &mut depth, params);
    for (n, (i, e, desc)) in spec.order.iter().enumerate() {
        s.push(if n == 0 { " ORDER BY " } else { ", " });
        scalar(s, e, at(*i), &mut depth, params);
        if *desc {
            s.push(" DESC");
        }
    }
    limit_offset(s, spec.limit, spec.offset, params);
}

/// Which parts of a join are written: the association, and the target table (left out when
/// only its key is read, which the association holds).
#[derive(Debug, Clone, Copy)]
pub(crate) struct JoinParts {
    pub association: bool,
    pub target: bool,
}

/// `keyword a AND b AND ...`, each filter on its own source.
fn conditions<'a>(
    s: &mut Sql<'_>,
    keyword: &str,
    filters: &[(u8, Expr)],
    at: &impl Fn(u8) -> (&'a str, &'static TableDef),
    depth: &mut usize,
    params: &mut Vec<Value>,
) {
    for (n, (i, e)) in filters.iter().enumerate() {
        s.push(if n == 0 { keyword } else { " AND " });
        let (alias, table) = at(*i);
        expr(s, e, alias, table, depth, params);
    }
}

/// Renders a value expression on the table aliased `alias`.
pub(crate) fn scalar(
    s: &mut Sql<'_>,
    e: &Scalar,
    (alias, table): (&str, &TableDef),
    depth: &mut usize,
    params: &mut Vec<Value>,
) {
    match e {
        Scalar::Column(c) => {
            s.col(alias, c);
        }
        Scalar::Count { distinct, arg } => {
            s.push("COUNT(");
            match arg {
                None => {
                    s.push("*");
                }
                Some(arg) => {
                    if *distinct {
                        s.push("DISTINCT ");
                    }
                    scalar(s, arg, (alias, table), depth, params);
                }
            }
            s.push(")");
        }
        Scalar::Agg { func, arg, result } => {
            let cast = s.d.aggregate_cast(*result);
            if cast.is_some() {
                s.push("CAST(");
            }
            let f = s.d.aggregate_function(func.sql(), *result);
            s.push(f).push("(");
            scalar(s, arg, (alias, table), depth, params);
            s.push(")");
            if let Some(cast) = cast {
                s.push(" AS ").push(cast).push(")");
            }
        }
        Scalar::Length(arg) => {
            let f = s.d.char_length();
            s.push(f).push("(");
            scalar(s, arg, (alias, table), depth, params);
            s.push(")");
        }
        Scalar::Related { def, side, agg } => {
            def.aggregate(s, *side, (alias, table), agg, depth, params);
        }
    }
}

/// `(SELECT agg FROM assoc AS aN [JOIN target AS tN ON ...] WHERE aN.from = outer.pk)`: the
/// many-to-many kind's aggregate per parent (a bare `COUNT(*)` reads the association alone).
pub(crate) fn aggregate_related(
    s: &mut Sql<'_>,
    def: &crate::relation::AssocDef,
    side: Side,
    (alias, table): (&str, &TableDef),
    agg: &Scalar,
    depth: &mut usize,
    params: &mut Vec<Value>,
) {
    *depth += 1;
    let to = def.sides(side).1;
    let (a, t) = (format!("a{depth}"), format!("t{depth}"));
    s.push("(SELECT ");
    let bare_count = matches!(agg, Scalar::Count { arg: None, .. });
    scalar(s, agg, (&t, to.table), depth, params);
    related_rows(s, def, side, (alias, table), (&a, &t), !bare_count);
    s.push(")");
}

/// ` [LEFT] JOIN assoc AS ajN ON ajN.from = outer.pk [LEFT] JOIN target AS jN ON jN.pk =
/// ajN.to`: the many-to-many kind's join, either part left out as `parts` says.
pub(crate) fn join_related(
    s: &mut Sql<'_>,
    def: &crate::relation::AssocDef,
    side: Side,
    (outer, table): (&str, &TableDef),
    target: &str,
    left: bool,
    parts: JoinParts,
) {
    let from = def.sides(side).0;
    let a = format!("a{target}");
    let join = if left { " LEFT JOIN " } else { " JOIN " };
    if parts.association {
        s.push(join)
            .ident(def.table)
            .push(" AS ")
            .ident(&a)
            .push(" ON ")
            .col(&a, from.column)
            .push(" = ")
            .col(outer, table.primary_key);
    }
    if parts.target {
        join_target(s, join, def, side, target, &a);
    }
}
