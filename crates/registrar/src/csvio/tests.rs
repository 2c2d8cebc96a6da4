//! Unit tests of the `student,course` CSV reader and writer: exact error messages with their
//! lines, quoting both ways, progress, buffering, and properties over arbitrary bytes and names.

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
    assert!(message(b"student,course\nAlice, \n").starts_with("line 2: the course field is empty"));
    assert!(message(b"student,course\n,Math\n").starts_with("line 2: the student field is empty"));
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
    assert!(
        message(b"student,course\n\rAlice,Math\n\rBob\n").starts_with("line 5: expected 2 fields")
    );
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
    assert!(message(b"student,course\n\"a\nb\",c\nBob\n").starts_with("line 4: expected 2 fields"));
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
        !message
            .chars()
            .any(|c| c.is_control()
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
