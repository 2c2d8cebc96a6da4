//! relata's own URL parameters for the server backends (`relata_*`), taken out of the query
//! string before the driver reads the rest.

use std::time::Duration;

use crate::error::{Error, Result};

/// How long a server connection waits, and relata's other per-URL settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UrlOptions {
    /// The longest opening a connection may take, from the TCP connect to the last setting:
    /// `relata_connect_timeout` (default 5 s). `None`: no limit.
    pub connect_timeout: Option<Duration>,
    /// The longest one statement may run: `relata_statement_timeout` (default 30 s). The server
    /// stops a statement that runs longer (PostgreSQL's `statement_timeout`, MariaDB's
    /// `max_statement_time`, MySQL's `max_execution_time` for reads); relata gives up on a
    /// server that sends nothing at all for this long plus [`ANSWER_GRACE`] (frozen, or cut
    /// off), drops the connection and says so. `None`: no limit on either side.
    pub statement_timeout: Option<Duration>,
    /// How long an unused pooled connection is kept: `relata_idle_timeout` (default 600 s).
    /// `None`: kept until the database handle is dropped.
    pub idle_timeout: Option<Duration>,
    /// `relata_returning` (MySQL/MariaDB): whether generated keys come from `RETURNING`;
    /// `None` decides by the server's version.
    pub returning: Option<bool>,
}

/// The defaults, documented in README's "Databases" section.
pub(crate) const DEFAULTS: UrlOptions = UrlOptions {
    connect_timeout: Some(Duration::from_secs(5)),
    statement_timeout: Some(Duration::from_secs(30)),
    idle_timeout: Some(Duration::from_secs(600)),
    returning: None,
};

/// How much longer than the statement timeout relata waits for a silent server, so that a
/// server that is alive reports its own timeout first (and the connection survives).
pub(crate) const ANSWER_GRACE: Duration = Duration::from_secs(5);

impl UrlOptions {
    /// How long to wait for any answer from the server before giving the connection up.
    pub(crate) fn answer_timeout(&self) -> Option<Duration> {
        self.statement_timeout.map(|t| t + ANSWER_GRACE)
    }
}

/// `2.5 s` or `30 s`, for messages.
pub(crate) fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
}

/// Splits `url` into the URL the driver reads (without relata's parameters) and relata's
/// options. An unknown `relata_` parameter or a bad value is an `Error::InvalidUrl` (named by
/// `masked`, the URL with any password hidden) that says what is expected.
pub(crate) fn split(url: &str, masked: &str) -> Result<(String, UrlOptions)> {
    let invalid = |reason: String| Error::InvalidUrl {
        url: masked.to_owned(),
        reason,
    };
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut options = DEFAULTS;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let seconds = |name: &str| -> Result<Option<Duration>> {
            let secs: f64 = value
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s <= 1e9)
                .ok_or_else(|| {
                    invalid(format!(
                        "{name}={value}: expected a number of seconds (0 for no limit)"
                    ))
                })?;
            Ok((secs > 0.0).then(|| Duration::from_secs_f64(secs)))
        };
        match key {
            "relata_connect_timeout" => options.connect_timeout = seconds(key)?,
            "relata_statement_timeout" => options.statement_timeout = seconds(key)?,
            "relata_idle_timeout" => options.idle_timeout = seconds(key)?,
            "relata_returning" => {
                options.returning = Some(match value {
                    "true" | "on" | "1" => true,
                    "false" | "off" | "0" => false,
                    _ => {
                        return Err(invalid(format!(
                            "relata_returning={value}: expected true or false"
                        )))
                    }
                })
            }
            _ if key.starts_with("relata_") => {
                return Err(invalid(format!(
                    "unknown parameter `{key}`; relata's are relata_connect_timeout, relata_statement_timeout, relata_idle_timeout (seconds, 0 for no limit) and relata_returning (MySQL)"
                )))
            }
            _ => kept.push(pair),
        }
    }
    let driver_url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((driver_url, options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_relata_parameters_out_and_keeps_the_rest() {
        let (url, o) = split(
            "postgres://u@h/db?options=-c%20search_path%3Dx&relata_statement_timeout=2.5&relata_connect_timeout=0&application_name=a",
            "masked",
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://u@h/db?options=-c%20search_path%3Dx&application_name=a"
        );
        assert_eq!(o.statement_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(o.connect_timeout, None);
        assert_eq!(o.idle_timeout, DEFAULTS.idle_timeout);
        assert_eq!(o.answer_timeout(), Some(Duration::from_millis(7500)));
        let (url, o) = split("mysql://u@h/db?relata_returning=false", "m").unwrap();
        assert_eq!((url.as_str(), o.returning), ("mysql://u@h/db", Some(false)));
        assert_eq!(split("mysql://u@h/db", "m").unwrap().1, DEFAULTS);
    }

    #[test]
    fn bad_parameters_are_clear_errors() {
        let reason = |url| match split(url, "the-url") {
            Err(Error::InvalidUrl { url, reason }) => {
                assert_eq!(url, "the-url");
                reason
            }
            other => panic!("{other:?}"),
        };
        assert!(reason("pg://h/d?relata_statement_timeout=soon").contains("seconds"));
        assert!(reason("pg://h/d?relata_idle_timeout=-1").contains("seconds"));
        assert!(reason("pg://h/d?relata_timeout=3").contains("relata_statement_timeout"));
        assert!(reason("mysql://h/d?relata_returning=maybe").contains("true or false"));
    }
}
