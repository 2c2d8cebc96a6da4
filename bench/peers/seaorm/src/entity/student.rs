use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "students")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
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

/// Many-to-many: students → student_course → courses.
impl Related<super::course::Entity> for Entity {
    fn to() -> RelationDef {
        super::student_course::Relation::Course.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::student_course::Relation::Student.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
