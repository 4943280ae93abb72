//! Making files durable off the main thread: fsync, atomic rename, directory fsync; and the
//! temporaries they are written to first.
//!
//! HDF5 writes stay on the thread that drives the run (the library serialises every call
//! anyway); what moves to a worker is only the waiting for the disk. One worker handles the
//! requests in order, so a snapshot file is in place before the checkpoint that counts it.
//! It takes one request at a time and the run waits to hand it the next: a disk slower than
//! the run costs the run time, not a pile of temporaries (two at most, the one the worker
//! makes durable and the one the run has just written).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::hdf::{Ctx, already_exists, create_file};
use crate::{FileError, Result};

/// A finished temporary to move into place.
struct Move {
    temporary: PathBuf,
    path: PathBuf,
    /// Where the file at `path` goes first, if it is to be kept (see [`replace_keeping`]).
    previous: Option<PathBuf>,
}

impl Move {
    fn run(&self) -> Result<()> {
        match &self.previous {
            Some(previous) => replace_keeping(&self.temporary, &self.path, previous),
            None => replace(&self.temporary, &self.path),
        }
    }
}

/// A worker that moves finished temporary files into place, durably and in order.
pub(crate) struct Durable {
    sender: Option<SyncSender<Move>>,
    worker: Option<JoinHandle<Result<()>>>,
}

impl Durable {
    pub fn start() -> Durable {
        // No buffer: a request is handed over only when the worker is free to take it.
        let (sender, receiver) = sync_channel::<Move>(0);
        let worker = std::thread::spawn(move || {
            for request in receiver {
                request.run()?;
            }
            Ok(())
        });
        Durable {
            sender: Some(sender),
            worker: Some(worker),
        }
    }

    /// Hands `temporary` to the worker to replace `path` once it is on disk; waits while
    /// the worker is busy with the previous request.
    pub fn replace(&mut self, temporary: PathBuf, path: PathBuf) -> Result<()> {
        self.send(Move {
            temporary,
            path,
            previous: None,
        })
    }

    /// As [`Durable::replace`], keeping the file at `path` as `previous` (see
    /// [`replace_keeping`]).
    pub fn replace_keeping(
        &mut self,
        temporary: PathBuf,
        path: PathBuf,
        previous: PathBuf,
    ) -> Result<()> {
        self.send(Move {
            temporary,
            path,
            previous: Some(previous),
        })
    }

    fn send(&mut self, request: Move) -> Result<()> {
        let sender = self.sender.as_ref().expect("not finished");
        if let Err(unsent) = sender.send(request) {
            // The worker stopped on an error: report it now.
            return self.finish().and(Err(FileError::Io {
                path: unsent.0.path,
                error: std::io::Error::other("the durability worker stopped"),
            }));
        }
        Ok(())
    }

    /// Waits until every queued file is in place; the first failure, if any.
    pub fn finish(&mut self) -> Result<()> {
        self.sender.take();
        match self.worker.take() {
            Some(worker) => worker.join().unwrap_or_else(|_| {
                Err(FileError::Io {
                    path: PathBuf::new(),
                    error: std::io::Error::other("the durability worker panicked"),
                })
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Durable {
    fn drop(&mut self) {
        // Whoever drops without finishing still gets every queued file in place.
        let _ = self.finish();
    }
}

/// Temporaries made by this process so far: with the process id, a name no other writer
/// uses at the same time.
static TEMPORARIES: AtomicU64 = AtomicU64::new(0);

/// How many taken names [`fresh_temporary`] skips before it gives up.
const NAME_ATTEMPTS: usize = 100;

/// `NAME.TAG-PID-N.tmp` beside `path`, fresh on every call. The tag says what the file is
/// (`new`, a checkpoint's step) and holds no dot, so that the name ends in `.TAG.tmp`.
pub(crate) fn temporary(path: &Path, tag: &str) -> PathBuf {
    let number = TEMPORARIES.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{tag}-{}-{number}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Calls `create` on fresh temporary names for `path` (see [`temporary`]) until it takes
/// one, `Ok(None)` saying that a name is taken; the name and what `create` made. `Ok(None)`
/// when [`NAME_ATTEMPTS`] names were all taken (see [`all_names_taken`]).
fn fresh_temporary<T, E>(
    path: &Path,
    tag: &str,
    mut create: impl FnMut(&Path) -> std::result::Result<Option<T>, E>,
) -> std::result::Result<Option<(PathBuf, T)>, E> {
    for _ in 0..NAME_ATTEMPTS {
        let temporary = temporary(path, tag);
        if let Some(made) = create(&temporary)? {
            return Ok(Some((temporary, made)));
        }
    }
    Ok(None)
}

/// Why no temporary could be made: every name tried was taken.
fn all_names_taken() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("{NAME_ATTEMPTS} names for its temporary were all taken"),
    )
}

/// Creates a fresh temporary for `path` with [`create_file`] (exclusively: a name that
/// something holds, a symbolic link someone placed there included, is skipped untouched)
/// and writes it with `write`, which closes the file. Returns the temporary. If the write
/// fails (a full disk, most often), removes it: the space goes back, and the file it was
/// to replace stays as it was. Errors name `path` through `ctx`.
pub(crate) fn write_new(
    ctx: &Ctx,
    path: &Path,
    tag: &str,
    write: impl FnOnce(hdf5::File) -> Result<()>,
) -> Result<PathBuf> {
    let created = fresh_temporary(path, tag, |temporary| {
        // What HDF5 says of a name that is taken varies (a link to a file it has open is
        // "already open", not EEXIST): skip what is there before asking it.
        if std::fs::symlink_metadata(temporary).is_ok() {
            return Ok(None);
        }
        match create_file(temporary) {
            Ok(file) => Ok(Some(file)),
            Err(error) if already_exists(&error) => Ok(None),
            // HDF5 may have created the file before it failed (and a name taken since the
            // look above is a link at most, which removing does not follow).
            Err(error) => remove_on_failure(temporary, || ctx.h5(Err(error))),
        }
    })?;
    let (temporary, file) = created.ok_or_else(|| io_error(path)(all_names_taken()))?;
    remove_on_failure(&temporary, || write(file)).map(|()| temporary)
}

/// Writes `bytes` to `path` whole or not at all, for the files that are not HDF5 (figures,
/// exports): into a fresh temporary beside it, created exclusively (a name that something
/// holds, a symbolic link someone placed there included, is skipped untouched), made
/// durable, then renamed over `path`. A symbolic link at `path` is replaced by the file,
/// and its target is left as it was. If anything fails, the temporary is removed and
/// `path` stays as it was: no empty or partial file is left behind.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let created = fresh_temporary(path, "new", |temporary| {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(temporary)
        {
            Ok(file) => Ok(Some(file)),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
            Err(error) => Err(error),
        }
    })?;
    let (temporary, mut file) = created.ok_or_else(all_names_taken)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written?;
    // The rename is durable once the folder is; a folder that cannot be opened for that
    // (some file systems) still holds the file.
    let _ = sync_folder(folder_of(path));
    Ok(())
}

/// Runs `step` on the temporary `temporary`; if it fails, removes the temporary.
fn remove_on_failure<T>(temporary: &Path, step: impl FnOnce() -> Result<T>) -> Result<T> {
    let outcome = step();
    if outcome.is_err() {
        let _ = std::fs::remove_file(temporary);
    }
    outcome
}

/// Makes `temporary` durable and moves it over `path` atomically (a symbolic link at
/// `path` is replaced, not followed). Errors name `path`, the file a person knows; a
/// temporary that cannot be made durable is removed.
pub(crate) fn replace(temporary: &Path, path: &Path) -> Result<()> {
    remove_on_failure(temporary, || {
        sync_file(temporary)
            .and_then(|()| std::fs::rename(temporary, path))
            .map_err(io_error(path))
    })?;
    // The rename itself is durable once the directory is.
    sync_folder(folder_of(path))
}

/// As [`replace`], and the file that was at `path`, if any, is kept as `previous` (which
/// it replaces). At every instant `path` holds a whole file, the old or the new: the old
/// one is hard-linked to `previous` (through a temporary name) before the new one is
/// renamed over `path`.
pub(crate) fn replace_keeping(temporary: &Path, path: &Path, previous: &Path) -> Result<()> {
    remove_on_failure(temporary, || {
        sync_file(temporary).map_err(io_error(path))?;
        keep(path, previous)?;
        std::fs::rename(temporary, path).map_err(io_error(path))
    })?;
    sync_folder(folder_of(path))
}

/// Makes the file at `path`, if there is one, `previous` too. Where the file system has
/// no hard links (some network and FUSE ones), moves it there: `previous` then holds a
/// whole file in the moment until the new one is at `path`.
fn keep(path: &Path, previous: &Path) -> Result<()> {
    let link = temporary(previous, "link");
    match std::fs::hard_link(path, &link) {
        Ok(()) => remove_on_failure(&link, || {
            std::fs::rename(&link, previous).map_err(io_error(previous))
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => match std::fs::rename(path, previous) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(io_error(previous)(error))
            }
            _ => Ok(()),
        },
    }
}

/// Maps a system error to [`FileError::Io`] for `path`.
fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> FileError {
    let path = path.to_path_buf();
    move |error| FileError::Io { path, error }
}

/// Waits until the file at `path` is on disk.
fn sync_file(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path).and_then(|f| f.sync_all())
}

/// The folder that holds `path` (`.` for a bare file name).
pub(crate) fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Makes the creations, renames and removals of entries in `folder` durable.
pub(crate) fn sync_folder(folder: &Path) -> Result<()> {
    std::fs::File::open(folder)
        .and_then(|d| d.sync_all())
        .map_err(|error| FileError::Io {
            path: folder.to_path_buf(),
            error,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{RecvTimeoutError, channel};
    use std::time::Duration;

    /// A FIFO at `path`: opening it to read, as the worker does to fsync a temporary, waits
    /// until someone opens it to write. Made with mkfifo(3), not mkfifo(1): a child
    /// process would inherit the HDF5 files other tests hold open (see tests/ownership.rs).
    fn fifo(path: &Path) {
        let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `name` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    }

    /// While the worker makes one file durable, the next request waits for it: a slow disk
    /// holds the run back instead of letting temporaries pile up.
    #[test]
    fn a_busy_worker_makes_the_next_request_wait() {
        let dir = std::env::temp_dir().join(format!("mfcl-durable-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let stuck = dir.join("stuck.tmp");
        fifo(&stuck);
        let mut durable = Durable::start();
        durable.replace(stuck.clone(), dir.join("stuck")).unwrap();
        let (done, waited) = channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let next = dir.join("next.tmp");
                std::fs::write(&next, "next").unwrap();
                done.send(durable.replace(next, dir.join("next"))).unwrap();
            });
            assert!(
                matches!(
                    waited.recv_timeout(Duration::from_millis(500)),
                    Err(RecvTimeoutError::Timeout)
                ),
                "a second request was taken while the worker was busy"
            );
            // Releases the worker, which waits to open the FIFO (and then cannot sync it).
            drop(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&stuck)
                    .unwrap(),
            );
            let outcome = waited.recv_timeout(Duration::from_secs(10)).unwrap();
            assert!(
                outcome.is_err(),
                "the worker's failure reaches the waiting request"
            );
        });
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn scratch(name: &str) -> PathBuf {
        let folder =
            std::env::temp_dir().join(format!("mfcl-write-whole-{name}-{}", std::process::id()));
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
