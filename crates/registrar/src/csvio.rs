//! The `student,course` CSV format of `import` and `export`.

use std::io::Write;

use crate::error::{Error, Result};
use crate::registry::{Enrolled, Pair};

/// The header both directions use.
pub const HEADER: [&str; 2] = ["student", "course"];

/// Reads `student,course` pairs. The first line must be the header (any case; a UTF-8 byte order mark
/// before it is allowed); every other line needs exactly two fields, neither empty; fields may be
/// quoted (`"Smith, Jo"`, `"say ""hi"""`); blank lines are ignored. Any problem is an error that
/// names the line, and then nothing is returned. `progress` is told how many bytes have been read
/// after each line.
pub fn read_pairs(input: &[u8], mut progress: impl FnMut(u64)) -> Result<Vec<Pair>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    let mut pairs = Vec::new();
    let mut header_seen = false;
    let mut lines = LineCounter::default();
    loop {
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(&e))?;
        if !more {
            break;
        }
        let start = record.position().map_or(0, |p| p.byte());
        let line = lines.line_at(input, start);
        let fields = utf8_fields(&record, line)?;
        if !header_seen {
            let found: Vec<String> = fields
                .iter()
                .map(|f| f.trim_start_matches('\u{feff}').trim().to_lowercase())
                .collect();
            if found != HEADER {
                return Err(Error::Input(format!(
                    "line {line}: expected the header `student,course`, found `{}`; put that header on the first line",
                    fields.join(",")
                )));
            }
            header_seen = true;
            continue;
        }
        let [student, course] = <[String; 2]>::try_from(fields).map_err(|fields| {
            Error::Input(format!(
                "line {line}: expected 2 fields (student,course), found {}; quote a name that contains a comma",
                fields.len()
            ))
        })?;
        for (what, value) in [("student", &student), ("course", &course)] {
            if value.trim().is_empty() {
                return Err(Error::Input(format!(
                    "line {line}: the {what} field is empty; every line needs a student and a course"
                )));
            }
        }
        pairs.push(Pair {
            line,
            student,
            course,
        });
        progress(start);
    }
    if !header_seen {
        return Err(Error::Input(
            "line 1: the file is empty; it needs the header `student,course` and one pair per line"
                .into(),
        ));
    }
    Ok(pairs)
}

/// Line numbers from byte offsets, counted forwards once. (The CSV reader's own line count is
/// one short after a `\r\n`: it reports a record as starting at the `\n` that ends the previous
/// line.)
#[derive(Default)]
struct LineCounter {
    offset: usize,
    line: u64,
}

impl LineCounter {
    /// The 1-based line of the first byte at or after `start` that is not a line end.
    fn line_at(&mut self, input: &[u8], start: u64) -> u64 {
        let mut start = usize::try_from(start)
            .unwrap_or(input.len())
            .min(input.len());
        while start < input.len() && matches!(input[start], b'\r' | b'\n') {
            start += 1;
        }
        if start >= self.offset {
            let newlines = input[self.offset..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.line += newlines as u64;
            self.offset = start;
        }
        self.line + 1
    }
}

/// The record's fields as UTF-8 text, or an error naming the line and the field.
fn utf8_fields(record: &csv::ByteRecord, line: u64) -> Result<Vec<String>> {
    record
        .iter()
        .enumerate()
        .map(|(i, field)| {
            String::from_utf8(field.to_vec()).map_err(|_| {
                Error::Input(format!(
                    "line {line}: field {} is not valid UTF-8; save the file as UTF-8 (CSV UTF-8 in a spreadsheet)",
                    i + 1
                ))
            })
        })
        .collect()
}

/// A CSV reader's error (a read failure; unbalanced quotes are read as text), naming the line.
fn csv_error(e: &csv::Error) -> Error {
    match e.position() {
        Some(p) => Error::Input(format!("line {}: {e}", p.line())),
        None => Error::Input(format!("cannot read the CSV: {e}")),
    }
}

/// Writes `student,course` and one line per enrollment, quoting fields where CSV needs it.
pub fn write_pairs(out: impl Write, rows: &[Enrolled]) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(HEADER)?;
    for row in rows {
        writer.write_record([row.student.name.as_str(), row.course.name.as_str()])?;
    }
    writer.flush()
}

#[cfg(test)]
mod tests {
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
}
