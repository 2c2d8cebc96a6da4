//! A reader that stops reading (`registrar export | head -c 50`): registrar ends quietly with
//! exit code 0, as Unix tools do, however much it still had to write (it panicked, exit 101, or
//! printed `error: stdout: Broken pipe`).

use super::*;

#[test]
fn export_into_head_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("pipes.db").display());
    let (text, pairs) = csv("p", 2000, 50, 5);
    let path = file(dir.path(), "many.csv", text.as_bytes());
    assert_eq!(registrar(&url, &["import", &path]).code, 0);
    let bin = binary();
    for (args, head) in [
        ("export", "head -c 50"),
        ("--json export", "head -c 50"),
        ("export", "head -3"),
        ("student list", "head -1"),
    ] {
        let script =
            format!("set -o pipefail; \"{bin}\" --db \"{url}\" {args} | {head} > /dev/null");
        let out = Command::new("bash")
            .args(["-c", &script])
            .env_remove("REGISTRAR_DB")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args} | {head}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args} | {head}");
    }
    eprintln!(
        "closed stdout: export of {} pairs into head ended quietly, exit 0",
        pairs.len()
    );
}
