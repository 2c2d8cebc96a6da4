//! The entities (W1-W6's three, and W8's teacher and lecture), in SeaORM's compact format (`DeriveEntityModel` + a `Relation` enum), as
//! `sea-orm-cli generate entity` would write them for relata's schema.

pub mod course;
pub mod lecture;
pub mod student;
pub mod student_course;
pub mod teacher;
