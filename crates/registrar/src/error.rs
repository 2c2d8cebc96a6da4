//! registrar's one error type: what went wrong, said so that the reader knows what to fix.

use std::fmt;
use std::path::Path;

/// Everything a registrar command can fail with. Whatever the variant, the database is as it was
/// before the command: every command is one transaction.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The input was wrong (an unknown or ambiguous name, a pair that is or is not enrolled, an
    /// empty or over-long name, a malformed CSV line); the message names the thing and the fix.
    Input(String),
    /// The database could not be opened, read or written.
    Database {
        /// The database URL, any password masked.
        url: String,
        /// What relata reported.
        source: Box<relata::Error>,
    },
    /// A file could not be read or written.
    File {
        /// The file.
        path: String,
        /// What the operating system reported.
        source: std::io::Error,
    },
}

impl Error {
    /// A file error naming `path` (what the operating system reported as its source).
    pub fn file(path: &Path, source: std::io::Error) -> Error {
        Error::File {
            path: path.display().to_string(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(message) => f.write_str(message),
            // relata's own messages already name the URL when opening fails or a connection is
            // lost.
            Error::Database { url, source } => match **source {
                relata::Error::Connect { .. }
                | relata::Error::InvalidUrl { .. }
                | relata::Error::ConnectionLost { .. } => write!(f, "{source}"),
                _ => write!(f, "database `{url}`: {source}"),
            },
            Error::File { path, source } => write!(f, "{path}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Input(_) => None,
            Error::Database { source, .. } => Some(&**source),
            Error::File { source, .. } => Some(source),
        }
    }
}

/// A relata error from inside a transaction; the transaction fills in the database's URL.
impl From<relata::Error> for Error {
    fn from(source: relata::Error) -> Self {
        Error::Database {
            url: String::new(),
            source: Box::new(source),
        }
    }
}

/// `Result` with registrar's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
