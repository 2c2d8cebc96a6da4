use sea_orm::entity::prelude::*;

/// W8's parent (`BENCH=relations`): a teacher with many lectures.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "teachers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::lecture::Entity")]
    Lecture,
}

impl Related<super::lecture::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Lecture.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
