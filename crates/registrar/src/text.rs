//! Making untrusted text safe to print in a message.
//!
//! Error messages quote what a file said. A file can hold anything, and a terminal acts on what it
//! prints: an escape character (`\u{1b}`) starts a control sequence that can recolour, move the
//! cursor or retitle the window, a carriage return lets later text overwrite the message, and the
//! bidirectional overrides reorder what the reader sees. So file text goes through
//! [`escape_control`] before it goes into a message.

use std::borrow::Cow;
use std::fmt::Write;

/// `s` with every control character (Unicode general category Cc: U+0000–U+001F and
/// U+007F–U+009F) and every bidirectional override or isolate (U+202A–U+202E, U+2066–U+2069)
/// replaced by a visible escape: `\n`, `\r` and `\t` for those three, `\u{1b}` (lowercase hex, no
/// leading zeros, as Rust writes it) for the rest. Everything else, in any script, is left as it
/// is, and text with nothing to escape is returned without copying.
///
/// A backslash is not escaped, so `a\nb` typed literally and `a`, newline, `b` print the same;
/// the point is that the terminal shows the text instead of obeying it, not that the escape can
/// be reversed.
pub fn escape_control(s: &str) -> Cow<'_, str> {
    let Some(first) = s.find(needs_escape) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether [`escape_control`] replaces `c`: `char::is_control` is exactly category Cc; the bidi
/// controls are format characters (Cf) that the rest of Cf does not resemble in effect, so they
/// are listed by hand.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for s in [
            "",
            "Alice",
            "Smith, \"Jo\" \\n",
            "Алиса",
            "张伟",
            "𠮷野家",
            "😀👍🏽",
            "عربي",
            "e\u{301}",
            "\u{feff}\u{200b}\u{a0}",
        ] {
            assert!(
                matches!(escape_control(s), Cow::Borrowed(b) if b == s),
                "{s:?} should be left alone"
            );
        }
    }

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(escape_control("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(escape_control("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(escape_control("\0"), "\\u{0}");
        assert_eq!(
            escape_control("\u{7}\u{8}\u{b}\u{c}"),
            "\\u{7}\\u{8}\\u{b}\\u{c}"
        );
        assert_eq!(
            escape_control("x\u{7f}\u{80}\u{9b}\u{9f}"),
            "x\\u{7f}\\u{80}\\u{9b}\\u{9f}"
        );
        // The characters just outside the Cc ranges stay.
        assert_eq!(escape_control(" \u{a0}~"), " \u{a0}~");
    }

    #[test]
    fn bidi_overrides_become_visible_escapes() {
        assert_eq!(
            escape_control("Алиса\u{202e}gnp.exe"),
            "Алиса\\u{202e}gnp.exe"
        );
        for c in ('\u{202a}'..='\u{202e}').chain('\u{2066}'..='\u{2069}') {
            assert_eq!(
                escape_control(&format!("张{c}伟")),
                format!("张\\u{{{:x}}}伟", u32::from(c))
            );
        }
        // Neighbours of the ranges are ordinary format characters and stay.
        assert_eq!(
            escape_control("\u{2029}\u{202f}\u{2065}\u{206a}"),
            "\u{2029}\u{202f}\u{2065}\u{206a}"
        );
    }

    #[test]
    fn every_control_character_is_escaped() {
        for c in ('\0'..='\u{1f}').chain('\u{7f}'..='\u{9f}') {
            let escaped = escape_control(&c.to_string()).into_owned();
            assert!(escaped.starts_with('\\'), "{c:?} gave {escaped:?}");
            assert!(
                !escaped.chars().any(char::is_control),
                "{c:?} gave {escaped:?}"
            );
        }
    }
}
