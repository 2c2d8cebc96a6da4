//! Relationships. A many-to-many is declared once, by `#[derive(Association)]` on the association
//! table's struct, and yields one [`Relation`] handle per direction (`Student::courses()`,
//! `Course::students()`), both views of the same set of pairs.

mod many_to_many;

use std::fmt;
use std::marker::PhantomData;

use crate::error::Result;
use crate::expr::Scalar;
use crate::flush::{Step, View};
use crate::model::{Model, TableDef};
use crate::query::{Expr, Filter, QuerySpec};
use crate::sql::{Dialect, JoinParts, Sql};
use crate::value::Value;

/// Which end of a two-sided relation a handle starts from: `Left` is the side an association
/// declares first (`Student::courses()` starts from the left of `student_course`), `Right` the
/// other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The first declared side.
    Left,
    /// The second declared side.
    Right,
}

impl Side {
    /// The other end.
    pub const fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }
}

/// One side of an association table: the key column and the model it references.
#[derive(Debug, PartialEq)]
pub struct AssocSide {
    /// The key column in the association table (`student_id`).
    pub column: &'static str,
    /// The referenced model's table.
    pub table: &'static TableDef,
    /// The name of the relationship on the referenced model that points at the *other* side
    /// (`courses` on `Student`).
    pub relation: &'static str,
    /// The column of the *other* side's table that this side's collection is ordered by
    /// (`order_by = "title"`); `None` orders by the other side's primary key.
    pub order_by: Option<&'static str>,
}

/// An association table declared by `#[derive(Association)]`.
#[derive(Debug)]
pub struct AssocDef {
    /// The association table's name (`student_course`).
    pub table: &'static str,
    /// The Rust type's name, for messages.
    pub name: &'static str,
    /// The first declared side.
    pub left: AssocSide,
    /// The second declared side.
    pub right: AssocSide,
    /// The process-wide slot of this association, used to index per-association storage.
    #[doc(hidden)]
    pub slot: fn() -> usize,
    /// Where the pairs live: rows of an association table, or a foreign key column.
    pub storage: Storage,
}

/// Where a relation's pairs are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// Rows of an association table (`student_course`): a many-to-many.
    Table,
    /// A foreign key column of the left side's table: `Course.teacher_id` holds the pair
    /// (course, teacher). Seen from the left it is a many-to-one (`Course::teacher()`), from the
    /// right a one-to-many (`Teacher::courses()`). The pairs' "table" is the left side's table,
    /// their left column its primary key and their right column the foreign key.
    ForeignKey {
        /// The foreign key column, an index into the left model's `TableDef::columns`.
        column: usize,
        /// Whether the column takes `NULL` (a child may have no parent).
        nullable: bool,
        /// Whether a child unlinked from its parent is deleted (`delete_orphans`), and deleting
        /// a parent deletes the children the session holds, whatever the database does.
        delete_orphans: bool,
    },
}

/// What deleting a parent row does to the rows whose foreign key references it
/// (`#[relata(on_delete = "...")]` on the foreign key field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnDelete {
    /// The database's default (`NO ACTION`): the delete fails while children reference the
    /// row, checked at the end of the statement (PostgreSQL: of the transaction, when the
    /// constraint is deferred).
    #[default]
    NoAction,
    /// The delete fails while children reference the row, checked at once.
    Restrict,
    /// The children are deleted with their parent.
    Cascade,
    /// The children's foreign key becomes `NULL` (the column must be nullable).
    SetNull,
}

impl OnDelete {
    /// The `ON DELETE` clause, or nothing for the default.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Self::NoAction => "",
            Self::Restrict => " ON DELETE RESTRICT",
            Self::Cascade => " ON DELETE CASCADE",
            Self::SetNull => " ON DELETE SET NULL",
        }
    }
}

/// An association compiled into the program, registered by `#[derive(Association)]`: how a
/// delete of an object finds the association rows that reference it, in every association,
/// whether or not a session used it.
#[doc(hidden)]
pub struct Registered(pub &'static AssocDef);

inventory::collect!(Registered);

/// A foreign key compiled into the program, registered by `#[derive(Model)]`: how deleting a
/// parent finds the children the session holds, whatever relations the session used.
#[doc(hidden)]
pub struct RegisteredForeignKey(pub &'static AssocDef);

inventory::collect!(RegisteredForeignKey);

/// Every registered foreign key that references `table`, with what a delete of a parent does.
pub(crate) fn foreign_keys_to(table: &TableDef) -> Vec<(&'static AssocDef, OnDelete)> {
    inventory::iter::<RegisteredForeignKey>
        .into_iter()
        .filter(|r| r.0.right.table == table)
        .filter_map(|r| {
            let Storage::ForeignKey { column, .. } = r.0.storage else {
                return None;
            };
            let on_delete = r.0.left.table.columns[column].references?.on_delete;
            Some((r.0, on_delete))
        })
        .map(|(def, on_delete)| match def.storage {
            // A parent's orphans go with it, in the session, whatever the database does.
            Storage::ForeignKey {
                delete_orphans: true,
                ..
            } => (def, OnDelete::Cascade),
            _ => (def, on_delete),
        })
        .collect()
}

/// Every registered association with a side that references `table` (a self-referential one
/// once for each side), in a fixed order, leaving out those whose table `exists` says is not in
/// the database.
pub(crate) fn referencing(
    table: &TableDef,
    exists: impl Fn(&str) -> bool,
) -> Vec<(&'static AssocDef, Side)> {
    let mut out: Vec<(&'static AssocDef, Side)> = Vec::new();
    for r in inventory::iter::<Registered> {
        let def = r.0;
        if !exists(def.table) {
            continue;
        }
        for side in [Side::Left, Side::Right] {
            let s = def.sides(side).0;
            // Two declarations of one table (in different modules) are one association.
            let seen = out
                .iter()
                .any(|(d, o)| d.table == def.table && d.sides(*o).0.column == s.column);
            if s.table == table && !seen {
                out.push((def, side));
            }
        }
    }
    out.sort_by(|a, b| (a.0.table, a.1 as u8).cmp(&(b.0.table, b.1 as u8)));
    out
}

impl PartialEq for AssocDef {
    /// Associations are equal when they have the same table (a schema never holds two of one name).
    fn eq(&self, other: &Self) -> bool {
        self.table == other.table
    }
}

impl Eq for AssocDef {}

impl AssocDef {
    /// The side a relation starts from, and the side it reaches.
    pub(crate) fn sides(&self, side: Side) -> (&AssocSide, &AssocSide) {
        if side == Side::Left {
            (&self.left, &self.right)
        } else {
            (&self.right, &self.left)
        }
    }

    /// The name of the reverse index (`student_course_course_id_student_id`).
    pub fn reverse_index_name(&self) -> String {
        format!("{}_{}_{}", self.table, self.right.column, self.left.column)
    }
}

/// The kinds of relationship relata maps, each with its definition: what a [`Relation`] handle
/// crosses. To the core each kind is a processor (its part of a commit, its loads, its filter).
/// The many-to-many through an association table is the first; a foreign key between two models
/// (one-to-many and many-to-one) is next.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum RelationKind {
    /// Many-to-many, through an association table.
    ManyToMany(&'static AssocDef),
    /// Many-to-one, by a foreign key of the `From` model (`Course::teacher()`).
    ManyToOne(&'static AssocDef),
    /// One-to-many, by a foreign key of the `To` model (`Teacher::courses()`).
    OneToMany(&'static AssocDef),
}

impl RelationKind {
    /// The relation's pairs (an association table, or a foreign key seen as pairs).
    pub fn def(self) -> &'static AssocDef {
        match self {
            Self::ManyToMany(def) | Self::ManyToOne(def) | Self::OneToMany(def) => def,
        }
    }
}

/// What a kind of relationship supplies to the core: the hooks SQLAlchemy's `orm/dependency.py`
/// gives each dependency processor. Its part of a commit (what it waits for, and the writes of
/// its pending changes), the SQL that loads its collections, lazily for one object and eagerly
/// for a query's results, and the `EXISTS` filter that crosses it. The many-to-many through an
/// association table (`many_to_many.rs`) is the first kind; a foreign key between two models
/// (issue 16) is the next, with its own edges in the commit's graph (`flush/plan.rs`).
pub(crate) trait Processor: Sync {
    /// The models (store slots) whose new objects must be inserted before this relation's
    /// changes are written: their keys go into its rows.
    fn depends_on(&self) -> Vec<usize>;
    /// Appends the steps that write the pending changes of the session's link set `links`.
    fn process_saves(&self, view: View<'_>, links: usize, steps: &mut Vec<Step>) -> Result<()>;
    /// The statement that loads one object's collection from `side` (its parameter: the key).
    fn lazy_load(&self, d: &dyn Dialect, side: Side) -> String;
    /// The statements that load the collections from `side` of every result of a query on
    /// `parent` (with their parameters).
    fn eager_load(
        &self,
        d: &dyn Dialect,
        side: Side,
        parent: &TableDef,
        spec: &QuerySpec,
    ) -> Vec<(String, Vec<Value>)>;
    /// Appends a filter on the rows of `outer` (alias and table, the `side` end) that holds
    /// when at least one related row matches `inner`.
    #[allow(clippy::too_many_arguments)] // the filter renderer's own state, passed through
    fn exists(
        &self,
        s: &mut Sql<'_>,
        side: Side,
        outer: (&str, &TableDef),
        inner: Option<&Expr>,
        depth: &mut usize,
        params: &mut Vec<Value>,
    );
    /// Appends an aggregate `agg` (on the related rows) over the objects related to each row
    /// of `outer`, as a value (a correlated subquery).
    #[allow(clippy::too_many_arguments)] // the renderer's own state, passed through
    fn aggregate(
        &self,
        s: &mut Sql<'_>,
        side: Side,
        outer: (&str, &TableDef),
        agg: &Scalar,
        depth: &mut usize,
        params: &mut Vec<Value>,
    );
    /// Appends the join from `outer` to the related rows, aliased `target` (`LEFT JOIN` with
    /// `left`: rows of `outer` with no related row stay, with `NULL`s), the parts `parts` says.
    fn join(
        &self,
        s: &mut Sql<'_>,
        side: Side,
        outer: (&str, &TableDef),
        target: &str,
        left: bool,
        parts: JoinParts,
    );
}

/// A type declaring an association table: implemented by `#[derive(Association)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a relata association",
    note = "add #[derive(relata::Association)] to `{Self}`"
)]
pub trait Association: 'static {
    /// The association's metadata.
    const ASSOC: &'static AssocDef;
}

/// A many-to-many relationship seen from `From` to `To`: `Student::courses()` is a
/// `Relation<Student, Course>`. Pass it to the session's `link`, `related`, ... and to
/// `Query::eager`.
pub struct Relation<From, To> {
    pub(crate) kind: RelationKind,
    pub(crate) side: Side,
    _p: PhantomData<fn() -> (From, To)>,
}

impl<From: Model, To: Model> Relation<From, To> {
    /// The relation on one side of an association (used by the derive).
    #[doc(hidden)]
    pub const fn new(def: &'static AssocDef, side: Side) -> Self {
        let kind = match (def.storage, side) {
            (Storage::Table, _) => RelationKind::ManyToMany(def),
            (Storage::ForeignKey { .. }, Side::Left) => RelationKind::ManyToOne(def),
            (Storage::ForeignKey { .. }, Side::Right) => RelationKind::OneToMany(def),
        };
        Relation {
            kind,
            side,
            _p: PhantomData,
        }
    }

    /// What kind of relationship it is, with its definition.
    pub fn kind(&self) -> RelationKind {
        self.kind
    }

    /// The pairs it relates: an association table, or a foreign key seen as pairs (see
    /// [`Storage`]).
    pub fn association(&self) -> &'static AssocDef {
        self.def()
    }

    /// The relation's pairs: where the session keeps its pending changes.
    pub(crate) fn def(&self) -> &'static AssocDef {
        self.kind.def()
    }

    /// The relationship's name (`courses`).
    pub fn name(&self) -> &'static str {
        self.def().sides(self.side).0.relation
    }

    /// The same set of pairs seen from the other side (`Student::courses().inverse()` is
    /// `Course::students()`).
    pub fn inverse(self) -> Relation<To, From> {
        Relation {
            kind: self.kind,
            side: self.side.other(),
            _p: PhantomData,
        }
    }

    /// A filter on `From` that holds when at least one related `To` matches `filter`: the students
    /// who take a course titled Math are
    /// `Student::courses().any(Course::TITLE.eq("Math"))`.
    pub fn any(self, filter: Filter<To>) -> Filter<From> {
        Filter::related(self.def(), self.side, Some(filter))
    }

    /// A filter on `From` that holds when it has at least one related `To`.
    pub fn exists(self) -> Filter<From> {
        Filter::related(self.def(), self.side, None::<Filter<To>>)
    }
}

impl<F, T> Clone for Relation<F, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<F, T> Copy for Relation<F, T> {}

impl<F: Model, T: Model> fmt::Debug for Relation<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", F::TABLE.model, self.name())
    }
}

impl<F: Model, T: Model> fmt::Display for Relation<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
