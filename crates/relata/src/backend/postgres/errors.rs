//! PostgreSQL's errors as relata's: by SQLSTATE, with the table, the column and the rejected
//! row named where the server's message and detail tell them.

use std::error::Error as _;

use tokio_postgres::error::SqlState;

use crate::error::{ConstraintKind, DriverError, Error};

/// A driver error as one line: the server's message and detail, or the client's reason.
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => match e.source() {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

/// `Key (a, b)=(1, 2) already exists.` → the column names and the values text.
fn detail_key(detail: &str) -> Option<(Vec<&str>, &str)> {
    let rest = detail.strip_prefix("Key (")?;
    let (columns, rest) = rest.split_once(")=(")?;
    let values = rest.rsplit_once(')')?.0;
    Some((columns.split(", ").collect(), values))
}

/// The rejected row as far as PostgreSQL's detail shows it, in relata's `table(column = value)`
/// form: the key of a UNIQUE or FOREIGN KEY violation, or the whole row of a NOT NULL or CHECK
/// one (`Failing row contains (2, null).`, values in column order). PostgreSQL aborts the
/// transaction at the first error, so relata cannot retry rows one by one to find out more.
fn rejected_row(table: &str, detail: &str) -> Option<String> {
    let shown = |v: &str| {
        if v == "null" || v.parse::<f64>().is_ok() {
            v.to_owned()
        } else {
            format!("{v:?}")
        }
    };
    if let Some((columns, values)) = detail_key(detail) {
        let values: Vec<&str> = if columns.len() == 1 {
            vec![values]
        } else {
            values.split(", ").collect()
        };
        let pairs: Vec<String> = columns
            .iter()
            .zip(values)
            .map(|(c, v)| format!("{c} = {}", shown(v)))
            .collect();
        return Some(format!("{table}({})", pairs.join(", ")));
    }
    let values = detail
        .strip_prefix("Failing row contains (")?
        .strip_suffix(").")?;
    Some(format!("{table}({values})"))
}

/// Maps PostgreSQL's errors onto relata's, by SQLSTATE: constraint violations name the table and
/// the column(s) (`students.name`, or `student_course.course_id = 7` for a missing parent);
/// serialization failures and deadlocks are `Conflict` (retry the transaction); a statement
/// stopped by the statement timeout is `Timeout`; a lost connection is `ConnectionLost`.
pub(super) fn map_error(e: tokio_postgres::Error, sql: &str, url: &str) -> Error {
    let code = e.code().map(|c| c.code().to_owned());
    relata_error(&e, sql, url).with_driver(DriverError::new(code, e))
}

fn relata_error(e: &tokio_postgres::Error, sql: &str, url: &str) -> Error {
    let message = describe(e);
    let Some(db) = e.as_db_error() else {
        if e.is_closed() || e.source().is_some_and(|s| s.is::<std::io::Error>()) {
            // An open connection broke mid-command (opening one maps its own errors).
            return Error::ConnectionLost {
                driver: None,
                url: url.to_owned(),
                message,
                in_commit: false,
            };
        }
        return Error::Database {
            driver: None,
            message,
            sql: Some(sql.to_owned()),
        };
    };
    let table = db.table().unwrap_or_default().to_owned();
    let qualified = |columns: &[&str]| {
        columns
            .iter()
            .map(|c| format!("{table}.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let key = db.detail().and_then(detail_key);
    // A delete of a row another table still references: `Key (id)=(1) is still referenced from
    // table "notes".` The error's table is the referencing one; the row is the deleted one,
    // which the commit names.
    let still_referenced = db
        .detail()
        .is_some_and(|d| d.contains("is still referenced from table"));
    let constraint = |kind| Error::Constraint {
        driver: None,
        kind,
        table: table.clone(),
        constraint: match kind {
            ConstraintKind::NotNull => qualified(&[db.column().unwrap_or_default()]),
            ConstraintKind::Unique | ConstraintKind::PrimaryKey => match &key {
                Some((columns, _)) => qualified(columns),
                None => db.constraint().unwrap_or_default().to_owned(),
            },
            ConstraintKind::ForeignKey if still_referenced => {
                db.constraint().unwrap_or_default().to_owned()
            }
            ConstraintKind::ForeignKey => match &key {
                Some((columns, values)) if columns.len() == 1 => {
                    format!("{} = {values}", qualified(columns))
                }
                _ => db.constraint().unwrap_or_default().to_owned(),
            },
            _ => db.constraint().unwrap_or_default().to_owned(),
        },
        row: if still_referenced {
            None
        } else {
            rejected_row(&table, db.detail().unwrap_or_default())
        },
        message: message.clone(),
    };
    let code = db.code();
    if *code == SqlState::UNIQUE_VIOLATION {
        let primary = db.constraint().is_some_and(|c| c.ends_with("_pkey"));
        constraint(if primary {
            ConstraintKind::PrimaryKey
        } else {
            ConstraintKind::Unique
        })
    } else if *code == SqlState::FOREIGN_KEY_VIOLATION {
        constraint(ConstraintKind::ForeignKey)
    } else if *code == SqlState::NOT_NULL_VIOLATION {
        constraint(ConstraintKind::NotNull)
    } else if *code == SqlState::CHECK_VIOLATION {
        constraint(ConstraintKind::Check)
    } else if *code == SqlState::STRING_DATA_RIGHT_TRUNCATION {
        constraint(ConstraintKind::Length)
    } else if *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
    {
        Error::Conflict {
            driver: None,
            message,
        }
    } else if *code == SqlState::LOCK_NOT_AVAILABLE {
        Error::Busy {
            driver: None,
            message,
        }
    } else if *code == SqlState::QUERY_CANCELED && db.message().contains("statement timeout") {
        Error::Timeout {
            driver: None,
            message,
        }
    } else if code.code().starts_with("08")
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::CANNOT_CONNECT_NOW
    {
        Error::ConnectionLost {
            driver: None,
            url: url.to_owned(),
            message,
            in_commit: false,
        }
    } else {
        Error::Database {
            driver: None,
            message,
            sql: Some(sql.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_key_of_a_detail() {
        assert_eq!(
            detail_key("Key (label)=(x) already exists."),
            Some((vec!["label"], "x"))
        );
        assert_eq!(
            detail_key("Key (student_id, course_id)=(1, 2) already exists."),
            Some((vec!["student_id", "course_id"], "1, 2"))
        );
        assert_eq!(
            detail_key("Key (course_id)=(7) is not present in table \"courses\"."),
            Some((vec!["course_id"], "7"))
        );
        assert_eq!(detail_key("Failing row contains (1, null)."), None);
    }

    #[test]
    fn names_the_rejected_row_from_a_detail() {
        assert_eq!(
            rejected_row("tags", "Key (label)=(rust) already exists.").as_deref(),
            Some("tags(label = \"rust\")")
        );
        assert_eq!(
            rejected_row(
                "student_course",
                "Key (student_id, course_id)=(1, 2) already exists."
            )
            .as_deref(),
            Some("student_course(student_id = 1, course_id = 2)")
        );
        assert_eq!(
            rejected_row("notes", "Failing row contains (2, null).").as_deref(),
            Some("notes(2, null)")
        );
        assert_eq!(rejected_row("notes", ""), None);
    }
}
