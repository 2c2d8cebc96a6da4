//! # registrar: the enrollment tool built on relata
//!
//! The seeds' system as a program: students and courses, enrollments between them, shown both
//! ways, imported from and exported to CSV, on a SQLite file by default or on PostgreSQL or
//! MySQL/MariaDB by URL. Every data access goes through relata's public API; there is no SQL in
//! this crate.
//!
//! The binary is `registrar [--db URL] [--json] [--echo] <command>` (see `registrar --help`);
//! the same operations are a library, each one transaction. The command line (clap, the
//! progress bar, JSON output) lives in the binary only: a program that uses the library with
//! `default-features = false` builds none of it.
//!
//! ```
//! use registrar::{Course, Registrar, Student, Target};
//!
//! # fn main() -> registrar::Result<()> {
//! let r = Registrar::open("sqlite::memory:")?;
//! r.add::<Student>(&["Alice".into(), "Алиса".into()])?;
//! r.add::<Course>(&["Math".into(), "Science".into()])?;
//! r.enroll(&Target::parse("Alice"), &[Target::parse("Math"), Target::parse("#2")])?;
//!
//! let alice = r.show::<Student>(&Target::parse("Alice"))?;
//! let titles: Vec<&str> = alice.related.iter().map(|c| c.name.as_str()).collect();
//! assert_eq!(titles, ["Math", "Science"]);
//!
//! // Enrolling again is an error that names both sides, and nothing changes.
//! let err = r.enroll(&Target::parse("#1"), &[Target::parse("Math")]).unwrap_err();
//! assert_eq!(err.to_string(), "Alice (#1) is already enrolled in Math (#1)");
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod csvio;
mod error;
mod model;
mod registry;
mod text;

pub use csvio::{read_pairs, write_pairs, HEADER};
pub use error::{Error, Result};
pub use model::{registrar_schema, Course, Party, Student, StudentCourse};
pub use registry::{
    check_name, Added, Enrolled, Entry, ImportStage, ImportSummary, Listed, Pair, Registrar, Shown,
    Target, MAX_NAME_CHARS,
};
pub use text::escape_control;
