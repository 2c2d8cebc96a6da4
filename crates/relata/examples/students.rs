//! The seed program: students and courses, many-to-many through `student_course`.
//!
//! ```text
//! cargo run -p relata --example students                       # in-memory SQLite
//! cargo run -p relata --example students -- sqlite://school.db # a file you can inspect afterwards
//! RELATA_ECHO=1 cargo run -p relata --example students          # and print every statement
//! ```

use relata::{schema, Association, Database, Model};

#[derive(Model)]
#[relata(table = "students")]
pub struct Student {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub name: String,
}

#[derive(Model)]
#[relata(table = "courses")]
pub struct Course {
    #[relata(primary_key)]
    pub id: Option<i64>,
    pub title: String,
}

/// The association table, declared once for both sides (SQLAlchemy's `secondary=` plus
/// `back_populates=` on each model, in one place).
#[derive(Association)]
#[relata(table = "student_course")]
pub struct StudentCourse {
    #[relata(references = Student, relation = "courses")]
    pub student_id: i64,
    #[relata(references = Course, relation = "students")]
    pub course_id: i64,
}

fn main() -> relata::Result<()> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite::memory:".to_owned());
    let db = Database::open(&url)?;
    // SQLAlchemy's `create_engine(..., echo=True)`.
    db.set_echo(std::env::var_os("RELATA_ECHO").is_some());
    db.create_all(&schema![Student, Course, StudentCourse])?;

    let mut s = db.session();
    let student = |name: &str| Student {
        id: None,
        name: name.into(),
    };
    let course = |title: &str| Course {
        id: None,
        title: title.into(),
    };
    let (alice, bob) = (s.add(student("Alice")), s.add(student("Bob")));
    let (math, science) = (s.add(course("Math")), s.add(course("Science")));
    s.extend(Student::courses(), alice, [math, science]);
    s.link(Student::courses(), bob, math);
    s.commit()?;

    // Read back through queries, loading each side's collections eagerly (two more
    // statements each: the pairs, then the other side's rows).
    for st in s
        .query::<Student>()
        .order_by(Student::NAME.asc())
        .eager(Student::courses())
        .all()?
    {
        let titles: Vec<&str> = s
            .related(Student::courses(), st)?
            .iter()
            .map(|&c| s[c].title.as_str())
            .collect();
        println!("{}: {}", s[st].name, titles.join(", "));
    }
    for c in s
        .query::<Course>()
        .order_by(Course::TITLE.asc())
        .eager(Course::students())
        .all()?
    {
        let names: Vec<&str> = s
            .related(Course::students(), c)?
            .iter()
            .map(|&st| s[st].name.as_str())
            .collect();
        println!("{}: {}", s[c].title, names.join(", "));
    }
    Ok(())
}
