//! The data file (`../README.md`), shared by the SQLite (sync) and PostgreSQL (async) halves.

use serde::Deserialize;

#[derive(Deserialize)]
pub struct Data {
    pub names: Vec<String>,
    pub titles: Vec<String>,
    /// Course indices per student.
    pub links: Vec<Vec<usize>>,
    /// Student indices.
    pub lookups: Vec<usize>,
    /// `[student index, drop_pick, add_from]`.
    pub churn: Vec<(usize, u64, u64)>,
    pub churn_batch: usize,
}

impl Data {
    pub fn read(path: &str) -> Result<Data, Box<dyn std::error::Error>> {
        Ok(serde_json::from_slice(&std::fs::read(path)?)?)
    }
}

/// W6's checksum: over courses, students x title length; plus over students, the average title
/// length in thousandths (rounded).
pub fn report_sum(per_course: &[(i64, i64)], per_student: &[(i64, Option<f64>)]) -> u64 {
    let a: i64 = per_course.iter().map(|(len, n)| len * n).sum();
    let b: i64 = per_student
        .iter()
        .map(|(_, avg)| avg.map_or(0, |v| (v * 1000.0).round() as i64))
        .sum();
    (a + b) as u64
}

/// W6's two selects, built once for both halves: each course's title length and number of
/// students (a left join grouped by course), and each student's average title length (a join
/// grouped by student). Lengths are cast to BIGINT and averages to DOUBLE PRECISION so that
/// they decode as i64 and f64 on every backend (PostgreSQL's AVG of integers is NUMERIC).
pub mod report {
    use super::super::entity::{course, student_course};
    use sea_orm::sea_query::{Alias, Expr, Func, SimpleExpr};
    use sea_orm::{EntityTrait, JoinType, QuerySelect, RelationTrait, Select};

    fn title_length() -> SimpleExpr {
        Func::cast_as(
            Func::char_length(Expr::col((course::Entity, course::Column::Title))),
            Alias::new("BIGINT"),
        )
        .into()
    }

    pub fn per_course() -> Select<course::Entity> {
        course::Entity::find()
            .select_only()
            .column_as(title_length(), "len")
            .column_as(
                SimpleExpr::from(Func::count(Expr::col((
                    student_course::Entity,
                    student_course::Column::StudentId,
                )))),
                "n",
            )
            .join(JoinType::LeftJoin, course::Relation::StudentCourse.def())
            .group_by(course::Column::Id)
    }

    pub fn per_student() -> Select<student_course::Entity> {
        student_course::Entity::find()
            .select_only()
            .column(student_course::Column::StudentId)
            .column_as(
                SimpleExpr::from(Func::cast_as(
                    Func::avg(title_length()),
                    Alias::new("DOUBLE PRECISION"),
                )),
                "avg",
            )
            .join(JoinType::InnerJoin, student_course::Relation::Course.def())
            .group_by(student_course::Column::StudentId)
    }
}

/// W8's checksum, the harness's: over teachers in key order (i from 1), i times (the name's
/// length plus, over its lectures in key order, j from 1, j times the title's length).
pub fn w8_sum(
    loaded: &[(
        crate::entity::teacher::Model,
        Vec<crate::entity::lecture::Model>,
    )],
) -> u64 {
    let mut total = 0u64;
    for (i, (teacher, lectures)) in loaded.iter().enumerate() {
        let mut inner = teacher.name.len() as u64;
        for (j, l) in lectures.iter().enumerate() {
            inner += (j as u64 + 1) * l.title.len() as u64;
        }
        total = total.wrapping_add((i as u64 + 1).wrapping_mul(inner));
    }
    total
}
