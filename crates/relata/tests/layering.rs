//! The architecture's rules, checked over the source (ARCHITECTURE.md, "Layers"): the core does
//! no IO and imports nothing from `backend/` or from the layer above it (`database.rs`), and no
//! source file grows past the size one reader can hold, except those listed with a reason.
//! `.ci/run` runs this first, so a change that breaks a rule fails CI with the file and line.

use std::fs;
use std::path::{Path, PathBuf};

/// The crate's `src/`.
fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The core: everything that must do no IO of its own.
const CORE: &[&str] = &[
    "session",
    "flush",
    "sql",
    "io.rs",
    "schema.rs",
    "table.rs",
    "query.rs",
    "relation",
    "model.rs",
    "value.rs",
    "expr.rs",
    "numeric.rs",
    "temporal.rs",
    "toposort.rs",
    "hash.rs",
    "error.rs",
    "mask.rs",
];

/// Lines of `text` that name a module the core must not use: `backend` (the drivers) or
/// `database` (the layer above).
fn upward_references(text: &str) -> Vec<(usize, String)> {
    let forbidden = [
        "crate::backend",
        "super::backend",
        "crate::database",
        "super::database",
    ];
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split("//").next().unwrap_or("");
            forbidden.iter().any(|f| code.contains(f))
        })
        .map(|(i, line)| (i + 1, line.trim().to_owned()))
        .collect()
}

#[test]
fn the_core_imports_nothing_from_backend_or_database() {
    let mut found = Vec::new();
    for part in CORE {
        let path = src().join(part);
        let files = if path.is_dir() {
            rust_files(&path)
        } else {
            vec![path]
        };
        for file in files {
            let text =
                fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            for (line, code) in upward_references(&text) {
                found.push(format!("{}:{line}: {code}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the core (session/, flush/, sql/, io.rs, ...) must not import backend/ or database.rs; \
         run IO through an io::Machine instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_an_import() {
    // The check above would pass on an empty tree: make sure it catches what it looks for.
    let text = "use crate::backend::Conn;\n// crate::backend in a comment\nlet x = 1;";
    assert_eq!(
        upward_references(text),
        vec![(1, "use crate::backend::Conn;".to_owned())]
    );
}

/// Files allowed past the limit, each with why.
const LONG_FILES: &[(&str, &str)] = &[];

/// The most lines one source file should hold.
const MAX_LINES: usize = 600;

#[test]
fn no_source_file_is_a_god_file() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut long = Vec::new();
    for krate in ["relata", "relata-derive", "registrar"] {
        let dir = workspace.join("crates").join(krate);
        for sub in ["src", "tests", "examples"] {
            let root = dir.join(sub);
            if !root.is_dir() {
                continue;
            }
            for file in rust_files(&root) {
                let lines = fs::read_to_string(&file).map_or(0, |t| t.lines().count());
                let name = file
                    .strip_prefix(&workspace)
                    .unwrap_or(&file)
                    .display()
                    .to_string();
                if lines > MAX_LINES && !LONG_FILES.iter().any(|(f, _)| name.ends_with(f)) {
                    long.push(format!("{name}: {lines} lines"));
                }
            }
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines: split them along their concepts (or list one in \
         LONG_FILES with the reason):\n{}",
        long.join("\n")
    );
}
