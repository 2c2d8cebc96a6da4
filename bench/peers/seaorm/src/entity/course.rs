use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "courses")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub title: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::student_course::Entity")]
    StudentCourse,
}

impl Related<super::student_course::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::StudentCourse.def()
    }
}

/// Many-to-many: courses → student_course → students.
impl Related<super::student::Entity> for Entity {
    fn to() -> RelationDef {
        super::student_course::Relation::Student.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::student_course::Relation::Course.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
