//! Writing an output file whole or not at all, for the files that commands other than `run`
//! write (figures, exports): into a fresh temporary beside it, created exclusively, then
//! renamed over the path.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Temporaries made by this process so far: with the process id, a name that no other
/// writer uses at the same time.
static TEMPORARIES: AtomicU64 = AtomicU64::new(0);

/// How many taken names [`write_whole`] skips before it gives up.
const NAME_ATTEMPTS: usize = 100;

/// `NAME.new-PID-N.tmp` beside `path`, fresh on every call.
fn temporary(path: &Path) -> PathBuf {
    let number = TEMPORARIES.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".new-{}-{number}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Writes `bytes` to `path`: into a temporary beside it, created exclusively (a name that
/// something holds, a symbolic link someone placed there included, is skipped untouched),
/// made durable, then renamed over `path`. A symbolic link at `path` is replaced by the
/// file, and its target is left as it was. If anything fails, the temporary is removed and
/// `path` stays as it was: no empty or partial file is left behind.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    for _ in 0..NAME_ATTEMPTS {
        let temporary = temporary(path);
        let mut file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
        {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        };
        let written = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&temporary, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        written?;
        // The rename is durable once the folder is; a folder that cannot be opened for
        // that (some file systems) still holds the file.
        let folder = path.parent().filter(|f| !f.as_os_str().is_empty());
        if let Ok(folder) = std::fs::File::open(folder.unwrap_or(Path::new("."))) {
            let _ = folder.sync_all();
        }
        return Ok(());
    }
    Err(std::io::Error::new(
        ErrorKind::AlreadyExists,
        format!("{NAME_ATTEMPTS} names for its temporary were all taken"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let folder =
            std::env::temp_dir().join(format!("mfcl-replace-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).unwrap();
        folder
    }

    #[test]
    fn a_link_at_the_path_is_replaced_and_its_target_kept() {
        let folder = scratch("link");
        let target = folder.join("notes.txt");
        std::fs::write(&target, "notes").unwrap();
        let path = folder.join("figure.png");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        write_whole(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"notes");
        assert!(!path.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        // Nothing else is left in the folder.
        assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 2);
        std::fs::remove_dir_all(folder).unwrap();
    }

    #[test]
    fn a_link_at_a_temporary_name_is_skipped_untouched() {
        let folder = scratch("temporary");
        let target = folder.join("notes.txt");
        std::fs::write(&target, "notes").unwrap();
        let path = folder.join("out.csv");
        // The next names this process would take (other tests may take some first).
        let next = TEMPORARIES.load(Ordering::Relaxed);
        let traps: Vec<PathBuf> = (next..next + 10)
            .map(|n| folder.join(format!("out.csv.new-{}-{n}.tmp", std::process::id())))
            .collect();
        for trap in &traps {
            std::os::unix::fs::symlink(&target, trap).unwrap();
        }
        write_whole(&path, b"data").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"notes");
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
        for trap in &traps {
            assert!(trap.symlink_metadata().unwrap().file_type().is_symlink());
        }
        std::fs::remove_dir_all(folder).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let folder = scratch("failed");
        // A folder at the path: the rename fails.
        let path = folder.join("figure.png");
        std::fs::create_dir(&path).unwrap();
        assert!(write_whole(&path, b"data").is_err());
        assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 1);
        std::fs::remove_dir_all(folder).unwrap();
    }
}
