//! A full disk under a SQLite database: the import that does not fit fails with a message that
//! says the disk is full, the file stays intact with everything it held before, and once there
//! is room the same import goes through. Needs a small file system of its own: a tmpfs, which
//! root can mount; elsewhere the scenario says why it cannot run (and fails under `CI=true`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// A tmpfs mounted for the test, unmounted (and its directory removed) on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = std::env::temp_dir().join(format!("registrar-full-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir(&dir);
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Tmpfs { dir })
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }

    fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).output();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[test]
fn an_import_onto_a_full_disk_fails_cleanly_and_goes_through_once_there_is_room() {
    let disk = match Tmpfs::mount("256k") {
        Ok(disk) => disk,
        Err(why) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but no small file system can be mounted for the full-disk test: {why}"
            );
            eprintln!("full-disk scenario not run: mounting a tmpfs needs root ({why})");
            return;
        }
    };
    let url = format!("sqlite://{}", disk.path().join("school.db").display());
    assert_eq!(
        registrar(&url, &["student", "add", "Alice", "Алиса", "张伟"]).code,
        0
    );
    assert_eq!(registrar(&url, &["course", "add", "Math"]).code, 0);
    assert_eq!(registrar(&url, &["enroll", "Alice", "Math"]).code, 0);
    let before = state(&url);
    let dir = tempfile::tempdir().unwrap();
    let (text, pairs) = csv("disk", 5000, 100, 8);
    let path = file(dir.path(), "big.csv", text.as_bytes());
    let out = registrar(&url, &["import", &path]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.starts_with("error: "), "{out:?}");
    assert!(
        out.stderr
            .contains("the disk that holds the database is full"),
        "{out:?}"
    );
    assert!(out.stderr.contains("nothing was written"), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert_eq!(state(&url), before, "the full disk changed the database");
    let conn = rusqlite::Connection::open(disk.path().join("school.db")).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    drop(conn);
    disk.resize("64m");
    let out = registrar(&url, &["import", &path]);
    assert_eq!(out.code, 0, "{out:?}");
    let after = state(&url);
    assert_eq!(after.pairs.len(), before.pairs.len() + pairs.len());
    eprintln!(
        "full disk: an import of {} pairs onto 256 KiB failed cleanly, the file stayed intact, and went through at 64 MiB",
        pairs.len()
    );
}
