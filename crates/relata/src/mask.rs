//! Masking the passwords in database URLs, for messages and logs.

/// The URL with every password in it masked, for messages and logs: relata's own errors name
/// URLs this way, and so should an application's.
///
/// It masks the password of the user part (`user:secret@host`, also when the password holds
/// `/`, `@`, `?` or `#` that should have been percent-encoded), the value of every query
/// parameter whose name contains `pass` or is `pwd` (`?password=secret`, `&sslpassword=..`),
/// and the same keys in libpq's `key=value` connection strings (`host=db password='se cret'`).
/// Anything that is not clearly a password is left as it was.
///
/// ```
/// use relata::mask_url;
/// assert_eq!(mask_url("postgres://clerk:hunter2@db/school"), "postgres://clerk:***@db/school");
/// assert_eq!(mask_url("postgres://clerk@db/school?password=hunter2"), "postgres://clerk@db/school?password=***");
/// assert_eq!(mask_url("sqlite://school.db"), "sqlite://school.db");
/// ```
pub fn mask_url(url: &str) -> String {
    mask_parameters(&mask_user_password(url))
}

/// `scheme://user:secret@host...` with the secret masked. The user part ends at the last `@`
/// before the query string; a password that holds an unencoded `?` or `#` puts its `@` after
/// them, so when the part before the query has no `@` the last `@` of the whole URL is taken,
/// if the text before it has a `:` (masking too much is harmless; too little is not).
fn mask_user_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let query = rest.find(['?', '#']).unwrap_or(rest.len());
    let at = rest[..query].rfind('@').or_else(|| rest.rfind('@'));
    let Some(at) = at else {
        return url.to_owned();
    };
    let user_info = &rest[..at];
    match user_info.find(':') {
        Some(colon) => format!(
            "{}://{}:***{}",
            &url[..scheme_end],
            &user_info[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

/// Whether a parameter of this name holds a secret.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("pass") || key == "pwd"
}

/// Masks the values of secret parameters: `name=value` after `?`, `&`, `;`, whitespace or at the
/// start (a libpq connection string), the value running to the next `&`, `;`, `#` or
/// whitespace, or to the closing quote of a quoted value.
fn mask_parameters(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let key_start = rest[..eq]
            .rfind(|c: char| matches!(c, '?' | '&' | ';') || c.is_whitespace())
            .map_or(0, |i| i + 1);
        let (before_value, after_eq) = rest.split_at(eq + 1);
        let value_len = if after_eq.starts_with('\'') {
            quoted_len(after_eq)
        } else {
            after_eq
                .find(|c: char| matches!(c, '&' | ';' | '#') || c.is_whitespace())
                .unwrap_or(after_eq.len())
        };
        out.push_str(before_value);
        if is_secret_key(&rest[key_start..eq]) && value_len > 0 {
            out.push_str("***");
        } else {
            out.push_str(&after_eq[..value_len]);
        }
        rest = &after_eq[value_len..];
    }
    out.push_str(rest);
    out
}

/// The length of a libpq quoted value (`'it\'s'`), quotes included; to the end if unclosed.
fn quoted_len(value: &str) -> usize {
    let mut escaped = false;
    for (i, c) in value.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '\'' => return i + 1,
            _ => {}
        }
    }
    value.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords_only() {
        assert_eq!(
            mask_url("postgres://bob:s3cret@db:5432/app"),
            "postgres://bob:***@db:5432/app"
        );
        assert_eq!(mask_url("postgres://bob@db/app"), "postgres://bob@db/app");
        assert_eq!(mask_url("sqlite://a:b.db"), "sqlite://a:b.db");
        assert_eq!(mask_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(
            mask_url("postgres://bob@db/app?options=-c%20search_path%3Dx&application_name=a"),
            "postgres://bob@db/app?options=-c%20search_path%3Dx&application_name=a"
        );
        assert_eq!(
            mask_url("mysql://root@127.0.0.1:3306/test?relata_returning=false"),
            "mysql://root@127.0.0.1:3306/test?relata_returning=false"
        );
    }

    /// Every form a password can take in a URL or connection string (issue 12: `?password=`
    /// and a password holding `/` were printed whole).
    #[test]
    fn masks_passwords_in_every_form() {
        let secret_free = |url: &str| {
            let masked = mask_url(url);
            assert!(!masked.contains("s3cr"), "{url} -> {masked}");
            masked
        };
        assert_eq!(
            secret_free("postgres://u@h/db?password=s3cret"),
            "postgres://u@h/db?password=***"
        );
        assert_eq!(
            secret_free("mysql://u@h:3306/db?password=s3cret&relata_returning=false"),
            "mysql://u@h:3306/db?password=***&relata_returning=false"
        );
        assert_eq!(
            secret_free("postgres://u@h/db?sslmode=disable&PassWord=s3cret"),
            "postgres://u@h/db?sslmode=disable&PassWord=***"
        );
        assert_eq!(
            secret_free("postgres://u:s3/cr@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            secret_free("postgres://u:s3@cr@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            secret_free("postgres://u:s3?cr#x@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            secret_free("mysql://u:s3cr%2Fet@h/db"),
            "mysql://u:***@h/db"
        );
        assert_eq!(
            secret_free("host=db user=u password=s3cret dbname=app"),
            "host=db user=u password=*** dbname=app"
        );
        assert_eq!(
            secret_free("host=db password='s3cr et\\'s' dbname=app"),
            "host=db password=*** dbname=app"
        );
        assert_eq!(
            secret_free("postgres://u@h/db?pwd=s3cret"),
            "postgres://u@h/db?pwd=***"
        );
    }
}
