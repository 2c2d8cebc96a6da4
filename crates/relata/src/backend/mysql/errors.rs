//! MySQL's and MariaDB's errors as relata's: by error code, with the table, the column or key
//! and the constraint named where the server's message tells them.

use crate::error::{ConstraintKind, DriverError, Error};

/// The text between the first pair of `quote` after `after` in `message`.
pub(super) fn quoted_after<'m>(message: &'m str, after: &str, quote: char) -> Option<&'m str> {
    let rest = &message[message.find(after)? + after.len()..];
    let rest = rest.strip_prefix(quote)?;
    Some(&rest[..rest.find(quote)?])
}

/// Whether a socket read or write gave up at its timeout (`read_timeout`), whether the driver
/// reports the I/O error bare or inside its packet codec's.
pub(super) fn timed_out(e: &mysql::Error) -> bool {
    let io = match e {
        mysql::Error::IoError(io) => Some(io),
        mysql::Error::CodecError(codec) => {
            std::error::Error::source(codec).and_then(|s| s.downcast_ref::<std::io::Error>())
        }
        _ => None,
    };
    io.is_some_and(|io| {
        matches!(
            io.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )
    })
}

/// Maps MySQL's and MariaDB's errors onto relata's, by error code. A socket that failed, or
/// timed out waiting for the server (the read timeout), is a lost connection.
pub(super) fn map_error(e: mysql::Error, sql: &str, url: &str) -> Error {
    let code = match &e {
        mysql::Error::MySqlError(err) => Some(err.code.to_string()),
        _ => None,
    };
    relata_error(&e, sql, url).with_driver(DriverError::new(code, e))
}

fn relata_error(e: &mysql::Error, sql: &str, url: &str) -> Error {
    let err = match e {
        mysql::Error::MySqlError(err) => err,
        _ if timed_out(e) => {
            return Error::ConnectionLost {
                driver: None,
                url: url.to_owned(),
                message: "the server sent nothing for longer than relata_statement_timeout (in the URL) plus 5 s, so relata gave the connection up".into(),
                in_commit: false,
            }
        }
        mysql::Error::IoError(_) | mysql::Error::CodecError(_) | mysql::Error::DriverError(_) => {
            return Error::ConnectionLost {
                driver: None,
                url: url.to_owned(),
                message: e.to_string(),
                in_commit: false,
            }
        }
        other => {
            return Error::Database {
                driver: None,
                message: other.to_string(),
                sql: Some(sql.to_owned()),
            }
        }
    };
    let message = err.message.clone();
    let constraint = |kind, table: &str, constraint: &str| Error::Constraint {
        driver: None,
        kind,
        table: table.to_owned(),
        constraint: constraint.to_owned(),
        row: None,
        message: message.clone(),
    };
    match err.code {
        // ER_DUP_ENTRY: "Duplicate entry 'x' for key 'label'" (MySQL 8: 'tags.label').
        1062 | 1586 => {
            let key = quoted_after(&message, "for key ", '\'').unwrap_or_default();
            let key = key.rsplit('.').next().unwrap_or(key);
            if key == "PRIMARY" {
                constraint(ConstraintKind::PrimaryKey, "", "PRIMARY KEY")
            } else {
                constraint(ConstraintKind::Unique, "", key)
            }
        }
        // A child row without its parent: "... fails (`db`.`student_course`, CONSTRAINT ...)".
        1452 | 1216 | 1451 | 1217 => {
            let table = message
                .split_once("fails (")
                .and_then(|(_, rest)| rest.split('`').nth(3))
                .unwrap_or_default();
            // A parent row still referenced (1451, 1217) names its constraint; for a child
            // without its parent, relata looks up which parent is missing instead.
            let name = match err.code {
                1451 | 1217 => quoted_after(&message, "CONSTRAINT ", '`').unwrap_or_default(),
                _ => "",
            };
            constraint(ConstraintKind::ForeignKey, table, name)
        }
        // "Column 'name' cannot be null" / "Field 'name' doesn't have a default value".
        1048 | 1364 => {
            let column = quoted_after(&message, "Column ", '\'')
                .or_else(|| quoted_after(&message, "Field ", '\''))
                .unwrap_or_default();
            constraint(ConstraintKind::NotNull, "", column)
        }
        // "Data too long for column 'name' at row 1".
        1406 => {
            let column = quoted_after(&message, "column ", '\'').unwrap_or_default();
            constraint(ConstraintKind::Length, "", column)
        }
        // "CONSTRAINT `x` failed for `db`.`t`" (MySQL 3819, MariaDB 4025).
        3819 | 4025 => {
            let name = quoted_after(&message, "CONSTRAINT ", '`').unwrap_or_default();
            constraint(ConstraintKind::Check, "", name)
        }
        // Deadlock: InnoDB rolled the transaction back.
        1213 => Error::Conflict {
            driver: None,
            message,
        },
        // Lock wait timeout.
        1205 => Error::Busy {
            driver: None,
            message,
        },
        // The statement ran longer than the statement timeout (MariaDB 1969, MySQL 3024).
        1969 | 3024 => Error::Timeout {
            driver: None,
            message,
        },
        // The server went away, or shuts down.
        2006 | 2013 | 1053 | 1927 => Error::ConnectionLost {
            driver: None,
            url: url.to_owned(),
            message,
            in_commit: false,
        },
        _ => Error::Database {
            driver: None,
            message: format!("{message} (MySQL error {})", err.code),
            sql: Some(sql.to_owned()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_out_of_messages() {
        let m = "Duplicate entry 'x' for key 'tags.label'";
        assert_eq!(quoted_after(m, "for key ", '\''), Some("tags.label"));
        assert_eq!(
            quoted_after("Column 'name' cannot be null", "Column ", '\''),
            Some("name")
        );
        assert_eq!(quoted_after("no quotes here", "Column ", '\''), None);
    }
}
