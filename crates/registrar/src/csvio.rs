//! The `student,course` CSV format of `import` and `export`.
//!
//! Both directions are written here rather than taken from a CSV library, because a general
//! reader is lenient in ways an import must not be: it reads `"Alice"x` as `Alicex` and counts a
//! lone `\r` as no line end, so a mistyped file would import different names than the ones written,
//! and an error would point at the wrong line. This reader takes RFC 4180 strictly and refuses
//! anything else with the line to fix.

use std::borrow::Cow;
use std::io::{BufWriter, Write};

use crate::error::{Error, Result};
use crate::registry::{Enrolled, Pair};
use crate::text::escape_control;

/// The header both directions use.
pub const HEADER: [&str; 2] = ["student", "course"];

/// What to show when a field's quotes are wrong: the same value written correctly.
const QUOTING_EXAMPLE: &str = "e.g. \"Ma\"\"th\"";

/// Reads `student,course` pairs. The first line must be the header (any case; a UTF-8 byte order mark
/// before it is allowed); every other line needs exactly two fields, neither empty; fields may be
/// quoted (`"Smith, Jo"`, `"say ""hi"""`); blank lines are ignored. Any problem is an error that
/// names the line, and then nothing is returned. `progress` is told how many bytes have been read
/// after each record (each line, unless a quoted field spans several).
///
/// The format is RFC 4180 taken strictly: a line ends at `\n`, `\r\n` or a lone `\r`; a field
/// is either unquoted and free of `"`, or quoted from its first to its last character with any
/// `"` inside doubled, and may then span lines. Fields are kept exactly as written (no trimming).
/// Line numbers count every line end, those inside quoted fields too, so they match an editor's.
/// An error about one field names the line that field starts on; an error about the whole record
/// names the line the record starts on, which is also [`Pair::line`].
pub fn read_pairs(input: &[u8], mut progress: impl FnMut(u64)) -> Result<Vec<Pair>> {
    let mut records = Records::new(input);
    let mut fields = Vec::new();
    let mut pairs = Vec::new();
    let mut header_seen = false;
    while let Some(line) = records.next(&mut fields)? {
        progress(records.pos as u64);
        if fields.is_empty() {
            continue;
        }
        let texts = utf8_fields(&fields)?;
        if !header_seen {
            let found: Vec<String> = texts
                .iter()
                .map(|f| f.trim_start_matches('\u{feff}').trim().to_lowercase())
                .collect();
            if found != HEADER {
                return Err(Error::Input(format!(
                    "line {line}: expected the header `student,course`, found `{}`; put that header on the first line",
                    escape_control(&texts.join(","))
                )));
            }
            header_seen = true;
            continue;
        }
        let [student, course] = <[&str; 2]>::try_from(texts.as_slice()).map_err(|_| {
            Error::Input(format!(
                "line {line}: expected 2 fields (student,course), found {}; quote a name that contains a comma",
                texts.len()
            ))
        })?;
        for ((what, value), field) in [("student", student), ("course", course)]
            .into_iter()
            .zip(&fields)
        {
            if value.trim().is_empty() {
                return Err(Error::Input(format!(
                    "line {}: the {what} field is empty; every line needs a student and a course",
                    field.line
                )));
            }
        }
        pairs.push(Pair {
            line,
            student: student.to_owned(),
            course: course.to_owned(),
        });
    }
    if !header_seen {
        return Err(Error::Input(
            "line 1: the file is empty; it needs the header `student,course` and one pair per line"
                .into(),
        ));
    }
    Ok(pairs)
}

/// One field as read: its value with the quoting undone, and the line it starts on.
struct Field<'a> {
    /// The line of the field's first byte (its opening quote, if quoted).
    line: u64,
    /// The value; borrowed from the input unless a doubled quote had to be undone.
    value: Cow<'a, [u8]>,
}

/// The fields as UTF-8 text, or an error naming the first field that is not, and its line.
fn utf8_fields<'f>(fields: &'f [Field<'_>]) -> Result<Vec<&'f str>> {
    fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            std::str::from_utf8(&field.value).map_err(|_| {
                Error::Input(format!(
                    "line {}: field {} is not valid UTF-8; save the file as UTF-8 (CSV UTF-8 in a spreadsheet)",
                    field.line,
                    i + 1
                ))
            })
        })
        .collect()
}

/// A strict RFC 4180 record reader over the whole input, counting lines as it goes.
struct Records<'a> {
    /// The file.
    input: &'a [u8],
    /// The next byte to read.
    pos: usize,
    /// The 1-based line that `pos` is on.
    line: u64,
}

impl<'a> Records<'a> {
    /// A reader at the start of `input`, past a UTF-8 byte order mark if there is one (a
    /// spreadsheet's "CSV UTF-8" starts with one; it is not part of the first field).
    fn new(input: &'a [u8]) -> Self {
        let pos = if input.starts_with("\u{feff}".as_bytes()) {
            3
        } else {
            0
        };
        Records {
            input,
            pos,
            line: 1,
        }
    }

    /// Reads the next record into `fields` (emptied first) and returns the line it starts on, or
    /// `None` at the end of the input. A blank line is a record with no fields; a line end right
    /// before the end of the input ends the last record rather than starting an empty one.
    fn next(&mut self, fields: &mut Vec<Field<'a>>) -> Result<Option<u64>> {
        fields.clear();
        if self.pos >= self.input.len() {
            return Ok(None);
        }
        let record_line = self.line;
        if self.line_end() {
            return Ok(Some(record_line));
        }
        loop {
            let line = self.line;
            let number = fields.len() + 1;
            let value = if self.input[self.pos..].starts_with(b"\"") {
                self.quoted(number, record_line)?
            } else {
                self.unquoted(number)?
            };
            fields.push(Field { line, value });
            // Both field readers stop only at the end, a comma or a line end.
            if self.pos < self.input.len() && self.input[self.pos] == b',' {
                self.pos += 1;
            } else {
                self.line_end();
                return Ok(Some(record_line));
            }
        }
    }

    /// Steps over a line end (`\n`, `\r\n` or a lone `\r`, each one line) at `pos`, if there is
    /// one.
    fn line_end(&mut self) -> bool {
        match self.input.get(self.pos) {
            Some(b'\n') => self.pos += 1,
            Some(b'\r') if self.input.get(self.pos + 1) == Some(&b'\n') => self.pos += 2,
            Some(b'\r') => self.pos += 1,
            _ => return false,
        }
        self.line += 1;
        true
    }

    /// An unquoted field from `pos` up to a comma, a line end or the end. A quote in it is an
    /// error rather than text: it is nearly always a quoted value gone wrong, and reading it as
    /// text would import a name nobody wrote.
    fn unquoted(&mut self, number: usize) -> Result<Cow<'a, [u8]>> {
        let start = self.pos;
        let len = self.input[start..]
            .iter()
            .position(|b| matches!(b, b',' | b'\r' | b'\n' | b'"'))
            .unwrap_or(self.input.len() - start);
        self.pos = start + len;
        if self.input.get(self.pos) == Some(&b'"') {
            let line = self.line;
            // `Alice, "Smith, Jo"` is a common slip with its own fix.
            if is_blank(&self.input[start..self.pos]) {
                return Err(Error::Input(format!(
                    "line {line}: field {number} has spaces before its opening quote; remove them, since a quoted field must start with its quote"
                )));
            }
            return Err(Error::Input(format!(
                "line {line}: field {number} has a quote (\") in the middle of an unquoted value; quote the whole field and double any quote inside it, {QUOTING_EXAMPLE}"
            )));
        }
        Ok(Cow::Borrowed(&self.input[start..self.pos]))
    }

    /// A quoted field from its opening quote at `pos` through its closing quote, which must be
    /// followed by a comma, a line end or the end. `number` and `record_line` are for messages.
    fn quoted(&mut self, number: usize, record_line: u64) -> Result<Cow<'a, [u8]>> {
        let open_line = self.line;
        self.pos += 1;
        // The value is borrowed until a doubled quote makes it differ from the input.
        let mut owned: Option<Vec<u8>> = None;
        let mut run = self.pos;
        loop {
            let Some(offset) = self.input[self.pos..]
                .iter()
                .position(|b| matches!(b, b'"' | b'\r' | b'\n'))
            else {
                let record = if record_line == open_line {
                    String::new()
                } else {
                    format!(" of the record on line {record_line}")
                };
                return Err(Error::Input(format!(
                    "line {open_line}: the quoted field that starts here (field {number}{record}) is never closed, so the rest of the file would be its value; end the value with a quote (\") and double any quote inside it, {QUOTING_EXAMPLE}"
                )));
            };
            self.pos += offset;
            if self.input[self.pos] != b'"' {
                // A line end inside quotes is data, but still a line for the count.
                self.line_end();
                continue;
            }
            if self.input.get(self.pos + 1) == Some(&b'"') {
                owned
                    .get_or_insert_with(Vec::new)
                    .extend_from_slice(&self.input[run..=self.pos]);
                self.pos += 2;
                run = self.pos;
                continue;
            }
            let value = match owned {
                Some(mut value) => {
                    value.extend_from_slice(&self.input[run..self.pos]);
                    Cow::Owned(value)
                }
                None => Cow::Borrowed(&self.input[run..self.pos]),
            };
            self.pos += 1;
            return match self.input.get(self.pos) {
                None | Some(b',' | b'\r' | b'\n') => Ok(value),
                Some(_) => {
                    let rest = &self.input[self.pos..];
                    let spaces = rest.iter().take_while(|&&b| is_blank(&[b])).count();
                    if matches!(rest.get(spaces), None | Some(b',' | b'\r' | b'\n')) {
                        return Err(Error::Input(format!(
                            "line {}: field {number} has spaces after its closing quote; remove them, since a quoted field must end with its quote",
                            self.line
                        )));
                    }
                    let closing = if self.line == open_line {
                        String::new()
                    } else {
                        format!(" (on line {})", self.line)
                    };
                    Err(Error::Input(format!(
                        "line {open_line}: field {number} has text after its closing quote{closing}; a quoted field must end with a quote followed by a comma or the end of the line, so double any quote that is part of the value, {QUOTING_EXAMPLE}"
                    )))
                }
            };
        }
    }
}

/// Whether `bytes` is nothing but spaces and tabs, which people put around a quoted field to
/// line it up and which RFC 4180 does not allow there.
fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| matches!(b, b' ' | b'\t'))
}

/// Writes `student,course` and one line per enrollment, quoting fields where CSV needs it.
///
/// Lines end with `\n`. A field is quoted, with any `"` doubled, when it holds a comma, a quote or
/// a line end, and also when it starts or ends with a space or is empty: [`read_pairs`] keeps such
/// values exactly, but a spreadsheet or another reader may trim or drop them unless quoted. The
/// output is buffered here (a caller may pass an unbuffered file or stdout) and flushed once at
/// the end.
pub fn write_pairs(out: impl Write, rows: &[Enrolled]) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    write_record(&mut out, HEADER[0], HEADER[1])?;
    for row in rows {
        write_record(&mut out, &row.student.name, &row.course.name)?;
    }
    out.flush()
}

/// One `student,course` line.
fn write_record(out: &mut impl Write, student: &str, course: &str) -> std::io::Result<()> {
    write_field(out, student)?;
    out.write_all(b",")?;
    write_field(out, course)?;
    out.write_all(b"\n")
}

/// One field, quoted if it needs to be (see [`write_pairs`]).
fn write_field(out: &mut impl Write, value: &str) -> std::io::Result<()> {
    let needs_quotes = value.is_empty()
        || value.starts_with(' ')
        || value.ends_with(' ')
        || value
            .bytes()
            .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
    if !needs_quotes {
        return out.write_all(value.as_bytes());
    }
    out.write_all(b"\"")?;
    let mut parts = value.split('"');
    if let Some(first) = parts.next() {
        out.write_all(first.as_bytes())?;
    }
    for part in parts {
        out.write_all(b"\"\"")?;
        out.write_all(part.as_bytes())?;
    }
    out.write_all(b"\"")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    use super::*;

    fn read(text: &[u8]) -> Result<Vec<(u64, String, String)>> {
        Ok(read_pairs(text, |_| {})?
            .into_iter()
            .map(|p| (p.line, p.student, p.course))
            .collect())
    }

    fn message(text: &[u8]) -> String {
        read(text).unwrap_err().to_string()
    }

    #[test]
    fn reads_quoted_fields_and_names_lines() {
        let got = read(
            "\u{feff}student,course\r\nAlice,Math\n\n\"Smith, Jo\",\"say \"\"hi\"\"\"\nАлиса,数学\n"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            got,
            [
                (2, "Alice".into(), "Math".into()),
                (4, "Smith, Jo".into(), "say \"hi\"".into()),
                (5, "Алиса".into(), "数学".into()),
            ]
        );
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        assert_eq!(
            message(b"name,title\nAlice,Math\n"),
            "line 1: expected the header `student,course`, found `name,title`; put that header on the first line"
        );
        assert!(message(b"").starts_with("line 1: the file is empty"));
        assert_eq!(
            message(b"student,course\nAlice,Math\nBob,Math,Art\n"),
            "line 3: expected 2 fields (student,course), found 3; quote a name that contains a comma"
        );
        assert!(message(b"student,course\nAlice\n").starts_with("line 2: expected 2 fields"));
        assert!(
            message(b"student,course\nAlice, \n").starts_with("line 2: the course field is empty")
        );
        assert!(
            message(b"student,course\n,Math\n").starts_with("line 2: the student field is empty")
        );
        assert!(message(b"student,course\nAlice,Math\n\xff\xfe,Math\n")
            .starts_with("line 3: field 1 is not valid UTF-8"));
    }

    #[test]
    fn writes_what_it_reads() {
        let e = |id, name: &str| crate::Entry {
            id,
            name: name.into(),
        };
        let rows = [
            Enrolled {
                student: e(1, "Smith, \"Jo\""),
                course: e(2, "张伟's; 100%_x"),
            },
            Enrolled {
                student: e(3, "Алиса"),
                course: e(2, "Math\nII"),
            },
        ];
        let mut out = Vec::new();
        write_pairs(&mut out, &rows).unwrap();
        let back = read(&out).unwrap();
        let names: Vec<(&str, &str)> = back
            .iter()
            .map(|(_, s, c)| (s.as_str(), c.as_str()))
            .collect();
        assert_eq!(
            names,
            [("Smith, \"Jo\"", "张伟's; 100%_x"), ("Алиса", "Math\nII")]
        );
    }

    /// The exact messages of the quoting errors, with the line each names.
    const QUOTE_IN_VALUE: &str = "has a quote (\") in the middle of an unquoted value; quote the whole field and double any quote inside it, e.g. \"Ma\"\"th\"";
    const AFTER_CLOSE: &str = "a quoted field must end with a quote followed by a comma or the end of the line, so double any quote that is part of the value, e.g. \"Ma\"\"th\"";
    const NEVER_CLOSED: &str = "is never closed, so the rest of the file would be its value; end the value with a quote (\") and double any quote inside it, e.g. \"Ma\"\"th\"";

    #[test]
    fn a_quote_inside_an_unquoted_field_is_an_error() {
        assert_eq!(
            message(b"student,course\nAlice,Math\nBob,Ma\"th\n"),
            format!("line 3: field 2 {QUOTE_IN_VALUE}")
        );
        assert_eq!(
            message(b"student,course\nAl\"ice,Math\n"),
            format!("line 2: field 1 {QUOTE_IN_VALUE}")
        );
        // At the very end, with no line end after it.
        assert_eq!(
            message(b"student,course\nAlice,Math\""),
            format!("line 2: field 2 {QUOTE_IN_VALUE}")
        );
    }

    #[test]
    fn text_after_a_closing_quote_is_an_error() {
        // Once stored as `Alicex` and `Math"`.
        assert_eq!(
            message(b"student,course\n\"Alice\"x,Math\n"),
            format!("line 2: field 1 has text after its closing quote; {AFTER_CLOSE}")
        );
        assert_eq!(
            message(b"student,course\nAlice,\"Ma\"th\"\n"),
            format!("line 2: field 2 has text after its closing quote; {AFTER_CLOSE}")
        );
        assert_eq!(
            message(b"student,course\nAlice,\"Math\" x\n"),
            format!("line 2: field 2 has text after its closing quote; {AFTER_CLOSE}")
        );
        // The field is named by the line it starts on, and the closing quote's line is added.
        assert_eq!(
            message(b"student,course\nAlice,\"Math\nII\"x\n"),
            format!("line 2: field 2 has text after its closing quote (on line 3); {AFTER_CLOSE}")
        );
    }

    #[test]
    fn spaces_around_quotes_are_errors_saying_so() {
        assert_eq!(
            message(b"student,course\nAlice, \"Smith, Jo\"\n"),
            "line 2: field 2 has spaces before its opening quote; remove them, since a quoted field must start with its quote"
        );
        assert_eq!(
            message(b"student,course\r\n\r\n\"Alice\" \t,Math\r\n"),
            "line 3: field 1 has spaces after its closing quote; remove them, since a quoted field must end with its quote"
        );
        assert_eq!(
            message(b"student,course\nAlice,\"Math\nII\"  "),
            "line 3: field 2 has spaces after its closing quote; remove them, since a quoted field must end with its quote"
        );
    }

    #[test]
    fn a_quoted_field_never_closed_is_an_error_naming_where_it_opened() {
        assert_eq!(
            message(b"student,course\nAlice,\"Math\nBob,Art\nCarol,Art\n"),
            format!("line 2: the quoted field that starts here (field 2) {NEVER_CLOSED}")
        );
        assert_eq!(
            message(b"student,course\n\""),
            format!("line 2: the quoted field that starts here (field 1) {NEVER_CLOSED}")
        );
        // A field that opens on a later line than its record names both.
        assert_eq!(
            message(b"student,course\n\"Alice\nSmith\",\"Math\n"),
            format!(
                "line 3: the quoted field that starts here (field 2 of the record on line 2) {NEVER_CLOSED}"
            )
        );
    }

    #[test]
    fn cr_only_line_ends_count_lines() {
        // The fourth line is bad; old Mac files end lines with a lone `\r`.
        let text = b"student,course\rAlice,Math\rBob,Art\rCarol,Ma\"th\rDan,Art\r";
        assert_eq!(message(text), format!("line 4: field 2 {QUOTE_IN_VALUE}"));
        assert!(message(b"student,course\rAlice,Math\rBob,Art\rCarol\r")
            .starts_with("line 4: expected 2 fields (student,course), found 1"));
        assert_eq!(
            read(b"student,course\rAlice,Math\r\rBob,Art").unwrap(),
            [
                (2, "Alice".into(), "Math".into()),
                (4, "Bob".into(), "Art".into()),
            ]
        );
    }

    #[test]
    fn crlf_line_ends_count_once() {
        let text = b"student,course\r\nAlice,Math\r\n\r\nBob,Art\r\n";
        assert_eq!(
            read(text).unwrap(),
            [
                (2, "Alice".into(), "Math".into()),
                (4, "Bob".into(), "Art".into()),
            ]
        );
        assert_eq!(
            message(b"student,course\r\nAlice,Math\r\n\r\n\"Bob\"x,Art\r\n"),
            format!("line 4: field 1 has text after its closing quote; {AFTER_CLOSE}")
        );
        // `\n\r` is two line ends (a `\n`, then a lone `\r`), not one.
        assert!(message(b"student,course\n\rAlice,Math\n\rBob\n")
            .starts_with("line 5: expected 2 fields"));
    }

    #[test]
    fn line_ends_inside_quotes_count_for_later_lines() {
        // Lines 2-4 are one record; `\r\n` inside the quotes is one line end, `\r` another.
        let text = b"student,course\n\"Alice\r\nSmith\rJr\",Math\nBob,Art\nCarol,Ma\"th\n";
        assert_eq!(message(text), format!("line 6: field 2 {QUOTE_IN_VALUE}"));
        let good = b"student,course\n\"Alice\r\nSmith\rJr\",Math\nBob,\"Art\n\"\nCarol,Art\n";
        assert_eq!(
            read(good).unwrap(),
            [
                (2, "Alice\r\nSmith\rJr".into(), "Math".into()),
                (5, "Bob".into(), "Art\n".into()),
                (7, "Carol".into(), "Art".into()),
            ]
        );
        assert!(
            message(b"student,course\n\"a\nb\",c\nBob\n").starts_with("line 4: expected 2 fields")
        );
        // A field-level error names the line the field starts on.
        assert!(message(b"student,course\n\"Alice\nSmith\",\"\"\n")
            .starts_with("line 3: the course field is empty"));
        assert!(message(b"student,course\n\"Alice\nSmith\",\xff\n")
            .starts_with("line 3: field 2 is not valid UTF-8"));
    }

    #[test]
    fn fields_are_kept_exactly() {
        assert_eq!(
            read(b"student,course\n  Alice ,\" \"\"Math\"\"\t\"\nBob,\",\"\n").unwrap(),
            [
                (2, "  Alice ".into(), " \"Math\"\t".into()),
                (3, "Bob".into(), ",".into()),
            ]
        );
        // A header may be quoted, spaced, in any case, behind a byte order mark and blank lines.
        assert_eq!(
            read("\u{feff}\n\" Student \",COURSE\nAlice,Math".as_bytes()).unwrap(),
            [(3, "Alice".into(), "Math".into())]
        );
        assert!(message("\u{feff}".as_bytes()).starts_with("line 1: the file is empty"));
        assert!(message(b"\n\r\n\r").starts_with("line 1: the file is empty"));
        assert_eq!(read(b"student,course").unwrap(), []);
    }

    #[test]
    fn the_header_error_escapes_control_characters() {
        assert_eq!(
            message(b"\"stu\x1b[2Jdent\",\"course\r\n\xe2\x80\xae\t\"\n"),
            "line 1: expected the header `student,course`, found `stu\\u{1b}[2Jdent,course\\r\\n\\u{202e}\\t`; put that header on the first line"
        );
    }

    #[test]
    fn progress_follows_each_record() {
        let text = b"student,course\r\nAlice,Math\n\n\"Bob\nB\",Art";
        let mut seen = Vec::new();
        read_pairs(text, |at| seen.push(at)).unwrap();
        assert_eq!(seen, [16, 27, 28, text.len() as u64]);
    }

    #[test]
    fn writes_quotes_only_where_needed() {
        let e = |name: &str| crate::Entry {
            id: 1,
            name: name.into(),
        };
        let row = |student, course| Enrolled {
            student: e(student),
            course: e(course),
        };
        let rows = [
            row("Alice", "Math"),
            row("Smith, Jo", "say \"hi\""),
            row(" Bob", "Art "),
            row("Carol\r", "\nDan"),
            row("", "Алиса 张伟 𠮷"),
            row("a\"", "\""),
        ];
        let mut out = Vec::new();
        write_pairs(&mut out, &rows).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "student,course\nAlice,Math\n\"Smith, Jo\",\"say \"\"hi\"\"\"\n\" Bob\",\"Art \"\n\"Carol\r\",\"\nDan\"\n\"\",Алиса 张伟 𠮷\n\"a\"\"\",\"\"\"\"\n"
        );
    }

    /// A writer that counts the calls it gets, as an unbuffered file would see them.
    #[derive(Default)]
    struct Calls {
        writes: usize,
        flushes: usize,
        bytes: Vec<u8>,
    }

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.writes += 1;
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            self.flushes += 1;
            Ok(())
        }
    }

    #[test]
    fn writing_is_buffered_and_flushed_once() {
        let rows: Vec<Enrolled> = (0..1000)
            .map(|i| Enrolled {
                student: crate::Entry {
                    id: i,
                    name: format!("Student {i}"),
                },
                course: crate::Entry {
                    id: i,
                    name: "Math, \"advanced\"".into(),
                },
            })
            .collect();
        let mut calls = Calls::default();
        write_pairs(&mut calls, &rows).unwrap();
        assert_eq!(calls.flushes, 1);
        assert!(calls.writes <= 2, "{} writes", calls.writes);
        assert_eq!(read(&calls.bytes).unwrap().len(), 1000);
    }

    /// Line ends as the reader counts them: `\n`, `\r\n` and a lone `\r` are one each.
    fn line_ends(text: &[u8]) -> u64 {
        let mut count = 0;
        for (i, &b) in text.iter().enumerate() {
            if b == b'\n' || (b == b'\r' && text.get(i + 1) != Some(&b'\n')) {
                count += 1;
            }
        }
        count
    }

    /// Checks what every error message must be: `line N: ...` with N on a line of the input, and
    /// free of anything a terminal would act on.
    fn check_message(text: &[u8], message: &str) -> std::result::Result<(), TestCaseError> {
        let rest = message.strip_prefix("line ");
        prop_assert!(rest.is_some(), "{message:?}");
        let (number, _) = rest.unwrap().split_once(": ").unwrap_or(("", ""));
        let number: u64 = number
            .parse()
            .map_err(|_| TestCaseError::fail(format!("no line number in {message:?}")))?;
        prop_assert!(
            (1..=line_ends(text) + 1).contains(&number),
            "{message:?} for {} line ends",
            line_ends(text)
        );
        prop_assert!(
            !message.chars().any(|c| c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
            "{message:?}"
        );
        Ok(())
    }

    /// Bytes that are mostly the ones CSV cares about, with the header and any byte mixed in.
    fn csv_like_bytes() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            6 => prop::sample::select(vec![&b"\""[..], b",", b"\r", b"\n", b"a", b"\r\n", b"\"\""])
                .prop_map(<[u8]>::to_vec),
            2 => prop::sample::select(vec![
                &b"student,course"[..],
                b"student,course\n",
                b"STUDENT , Course\r",
                "\u{feff}".as_bytes(),
                " ".as_bytes(),
                "Алиса".as_bytes(),
                "\u{1b}[31m".as_bytes(),
                "\u{202e}".as_bytes(),
            ])
            .prop_map(<[u8]>::to_vec),
            1 => any::<u8>().prop_map(|b| vec![b]),
        ];
        prop::collection::vec(piece, 0..80).prop_map(|pieces| {
            let mut bytes = pieces.concat();
            bytes.truncate(300);
            bytes
        })
    }

    /// A name as the registry might hold one: not empty, not only whitespace, no NUL, and drawn
    /// towards everything CSV must quote and every width of UTF-8.
    fn name() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            4 => prop::sample::select(vec![
                "Alice", "Bob", "x", " ", "\"", "\"\"", ",", "\r", "\n", "\r\n", "\t",
                "Алиса", "张伟", "𠮷", "😀", "O'Brien", "a b",
            ])
            .prop_map(str::to_owned),
            1 => "[^\u{0}]{1,4}",
        ];
        prop::collection::vec(piece, 1..6)
            .prop_map(|pieces| pieces.concat())
            .prop_filter("a name has more than whitespace", |s| !s.trim().is_empty())
    }

    /// Rows for `write_pairs`.
    fn rows(names: Vec<(String, String)>) -> Vec<Enrolled> {
        names
            .into_iter()
            .zip(1..)
            .map(|((student, course), id)| Enrolled {
                student: crate::Entry { id, name: student },
                course: crate::Entry { id, name: course },
            })
            .collect()
    }

    /// What `write_pairs` writes for `rows`.
    fn written(rows: &[Enrolled]) -> Vec<u8> {
        let mut out = Vec::new();
        write_pairs(&mut out, rows).unwrap();
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_bytes_read_or_fail_with_a_line(text in csv_like_bytes()) {
            match read(&text) {
                Ok(pairs) => {
                    let last = line_ends(&text) + 1;
                    let mut previous = 1;
                    for (line, student, course) in pairs {
                        prop_assert!(previous < line && line <= last, "line {line} of {last}");
                        prop_assert!(!student.trim().is_empty() && !course.trim().is_empty());
                        previous = line;
                    }
                }
                Err(e) => check_message(&text, &e.to_string())?,
            }
        }

        #[test]
        fn what_is_written_reads_back(names in prop::collection::vec((name(), name()), 0..8)) {
            let rows = rows(names);
            let text = written(&rows);
            let back = read(&text).unwrap();
            prop_assert_eq!(back.len(), rows.len());
            for (i, ((line, student, course), row)) in back.iter().zip(&rows).enumerate() {
                prop_assert_eq!(student, &row.student.name);
                prop_assert_eq!(course, &row.course.name);
                // Where record i starts: after everything written for the rows before it.
                let before = written(&rows[..i]);
                prop_assert!(text.starts_with(&before));
                prop_assert_eq!(*line, line_ends(&before) + 1);
            }
        }

        #[test]
        fn one_stray_quote_in_an_unquoted_field_is_an_error(
            names in prop::collection::vec((name(), name()), 0..6),
            plain in ("[A-Za-zА-я张伟𠮷]{1,6}", "[A-Za-z0-9 ]{0,6}[A-Za-z]"),
            at in any::<prop::sample::Index>(),
            field in any::<prop::sample::Index>(),
            offset in any::<prop::sample::Index>(),
        ) {
            // At least one row that is written without quotes.
            let mut names = names;
            names.insert(at.index(names.len() + 1), plain);
            let rows = rows(names);
            let text = written(&rows);
            // The unquoted fields' byte ranges, found by walking the output field by field.
            let mut unquoted = Vec::new();
            let mut pos = "student,course\n".len();
            for row in &rows {
                for value in [&row.student.name, &row.course.name] {
                    let len = if text[pos] == b'"' {
                        value.len() + 2 + value.matches('"').count()
                    } else {
                        prop_assert_eq!(&text[pos..pos + value.len()], value.as_bytes());
                        unquoted.push((pos, value.as_str()));
                        value.len()
                    };
                    pos += len;
                    prop_assert!(matches!(text[pos], b',' | b'\n'));
                    pos += 1;
                }
            }
            prop_assert_eq!(pos, text.len());
            prop_assert!(!unquoted.is_empty());
            let (start, value) = unquoted[field.index(unquoted.len())];
            let boundaries: Vec<usize> = (0..=value.len()).filter(|&i| value.is_char_boundary(i)).collect();
            let at = start + boundaries[offset.index(boundaries.len())];
            let mut corrupt = text.clone();
            corrupt.insert(at, b'"');
            match read(&corrupt) {
                Ok(pairs) => prop_assert!(false, "read {pairs:?} from {:?}", String::from_utf8_lossy(&corrupt)),
                Err(e) => check_message(&corrupt, &e.to_string())?,
            }
        }
    }
}
