//! Naming a student or course: `#ID` or a name on the command line ([`Target`]), finding the
//! one row it names (or saying there is none, or which ids share the name), and the checks a
//! name must pass before it is stored ([`check_name`]).

use relata::{Key, Session};

use crate::error::{Error, Result};
use crate::model::Party;

/// The longest name or title registrar accepts, in characters.
pub const MAX_NAME_CHARS: usize = 1000;

/// A student or course named on the command line: `#ID` or a name (a course's title).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `#3`: the row with this id.
    Id(i64),
    /// `#` and digits beyond the largest id there can be (`#99999999999999999999`), as given:
    /// no row has it.
    IdOutOfRange(String),
    /// Anything else: the rows with exactly this name.
    Name(String),
}

impl Target {
    /// `#` followed by digits is an id; anything else (including `#` followed by other text) is a
    /// name. (Names of the form `#` and digits are refused when stored, see [`check_name`], so
    /// every name can be given as itself.)
    pub fn parse(arg: &str) -> Target {
        if !looks_like_an_id(arg) {
            return Target::Name(arg.to_owned());
        }
        match arg[1..].parse() {
            Ok(id) => Target::Id(id),
            Err(_) => Target::IdOutOfRange(arg.to_owned()),
        }
    }
}

/// Whether `name` reads as an id (`#` and digits), which the command line would take as one.
fn looks_like_an_id(name: &str) -> bool {
    name.strip_prefix('#')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks a name (or title) before it is stored: not empty or blank, at most
/// [`MAX_NAME_CHARS`] characters, no NUL (which PostgreSQL cannot store), and not `#` followed
/// by digits (that is how ids are written on the command line, so such a name could never be
/// given by name). It is stored exactly as given otherwise.
pub fn check_name<M: Party>(name: &str) -> Result<()> {
    let (noun, field) = (M::NOUN, M::FIELD);
    if looks_like_an_id(name) {
        return Err(Error::Input(format!(
            "a {noun} {field} cannot be {name:?}: `#` and digits is how ids are written ({name} means the {noun} with id {}); write it another way, for example \"No. {}\"",
            &name[1..],
            &name[1..]
        )));
    }
    if name.trim().is_empty() {
        return Err(Error::Input(format!(
            "a {noun} {field} cannot be empty or only spaces; give at least one visible character"
        )));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        let start: String = name.chars().take(20).collect();
        return Err(Error::Input(format!(
            "the {noun} {field} starting {start:?}... has {chars} characters; the limit is {MAX_NAME_CHARS}"
        )));
    }
    if name.contains('\0') {
        return Err(Error::Input(format!(
            "the {noun} {field} {name:?} contains a NUL character, which databases cannot store; remove it"
        )));
    }
    Ok(())
}

/// The one row `target` names, or an error saying there is none or which ids share the name.
pub(super) fn resolve<M: Party>(s: &mut Session, target: &Target) -> Result<Key<M>> {
    let noun = M::NOUN;
    match target {
        Target::Id(id) => s.find::<M>(*id)?.ok_or_else(|| {
            Error::Input(format!(
                "no {noun} has id #{id}; `registrar {noun} list` shows every {noun}"
            ))
        }),
        Target::IdOutOfRange(given) => Err(Error::Input(format!(
            "no {noun} has id {given}: ids are whole numbers up to {}; `registrar {noun} list` shows every {noun}",
            i64::MAX
        ))),
        Target::Name(name) => {
            let keys = s
                .query::<M>()
                .filter(M::NAME_COLUMN.eq(name.as_str()))
                .order_by(M::ID_COLUMN.asc())
                .all()?;
            match keys[..] {
                [key] => Ok(key),
                [] => Err(Error::Input(format!(
                    "no {noun} is named {name:?}; `registrar {noun} list` shows every {noun}"
                ))),
                _ => Err(Error::Input(format!(
                    "{}; give one by id, for example #{}",
                    ambiguous(s, name, &keys),
                    s.id(keys[0]).unwrap_or_default()
                ))),
            }
        }
    }
}

/// Says that several rows share a name, listing their ids: `2 students are named "Alice" (#1,
/// #4)`.
pub(super) fn ambiguous<M: Party>(s: &Session, name: &str, keys: &[Key<M>]) -> String {
    let ids: Vec<String> = keys
        .iter()
        .map(|&k| format!("#{}", s.id(k).unwrap_or_default()))
        .collect();
    format!(
        "{} {}s are named {name:?} ({})",
        keys.len(),
        M::NOUN,
        ids.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Course, Student};

    #[test]
    fn ids_parse_and_names_that_look_like_ids_are_refused() {
        assert_eq!(Target::parse("#12"), Target::Id(12));
        assert_eq!(
            Target::parse("#99999999999999999999"),
            Target::IdOutOfRange("#99999999999999999999".into())
        );
        for name in ["#", "#x", "# 1", "12", "Alice"] {
            assert_eq!(Target::parse(name), Target::Name(name.into()));
            assert!(check_name::<Student>(name).is_ok(), "{name}");
        }
        assert!(check_name::<Course>("#0").is_err());
    }
}
