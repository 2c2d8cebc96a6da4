//! The three entities, in SeaORM's compact format (`DeriveEntityModel` + a `Relation` enum), as
//! `sea-orm-cli generate entity` would write them for relata's schema.

pub mod course;
pub mod student;
pub mod student_course;
