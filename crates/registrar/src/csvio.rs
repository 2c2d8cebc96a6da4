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
mod tests;
