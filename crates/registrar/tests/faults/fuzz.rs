//! Malformed CSV from a fuzzer, through the binary: whatever the bytes, an import either reads
//! them exactly as the reader does and enrolls those pairs, or fails with one `error:` line
//! naming the file and a line, and writes nothing.

use proptest::prelude::*;

use super::*;

/// Bytes that make CSV go wrong: quotes, separators, every kind of line end, spaces, a name
/// that looks like an id, non-UTF-8, and ordinary names in several scripts.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"\"".to_vec()),
        Just(b",".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\"\"".to_vec()),
        Just(b"\xff".to_vec()),
        Just(b"\x1b[2J".to_vec()),
        Just("Алиса".as_bytes().to_vec()),
        Just("数学".as_bytes().to_vec()),
        Just(b"Bob".to_vec()),
        Just(b"Math".to_vec()),
        Just(b"Art".to_vec()),
    ]
}

fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(fragment(), 0..30).prop_map(|parts| {
        let mut bytes = b"student,course\n".to_vec();
        for p in parts {
            bytes.extend(p);
        }
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn fuzzed_csv_imports_exactly_or_not_at_all(bytes in csv_bytes()) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
        let path = file(dir.path(), "fuzz.csv", &bytes);
        let out = registrar(&url, &["import", &path]);
        match registrar::read_pairs(&bytes, |_| {}) {
            Ok(pairs) => {
                prop_assert_eq!(out.code, 0, "{:?}", out);
                let expected: BTreeSet<(String, String)> =
                    pairs.into_iter().map(|p| (p.student, p.course)).collect();
                prop_assert_eq!(state(&url).pairs, expected);
            }
            Err(e) => {
                prop_assert_eq!(out.code, 1, "{:?}", out);
                prop_assert_eq!(out.stderr.lines().count(), 1, "{:?}", out);
                prop_assert!(out.stderr.starts_with(&format!("error: {path}: line ")), "{:?}", out);
                prop_assert!(out.stderr.contains(&e.to_string()[..e.to_string().len().min(20)]), "{:?} vs {}", out, e);
                prop_assert!(!out.stderr.trim_end().chars().any(|c| c.is_control()), "{:?}", out);
                prop_assert_eq!(state(&url), State::default());
            }
        }
    }
}
