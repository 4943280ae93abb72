//! Making files durable off the main thread: fsync, atomic rename, directory fsync.
//!
//! HDF5 writes stay on the thread that drives the run (the library serialises every call
//! anyway); what moves to a worker is only the waiting for the disk. One worker handles the
//! requests in order, so a snapshot file is in place before the checkpoint that counts it.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;

use crate::{FileError, Result};

/// A worker that moves finished temporary files into place, durably and in order.
pub(crate) struct Durable {
    sender: Option<Sender<(PathBuf, PathBuf)>>,
    worker: Option<JoinHandle<Result<()>>>,
}

impl Durable {
    pub fn start() -> Durable {
        let (sender, receiver) = channel::<(PathBuf, PathBuf)>();
        let worker = std::thread::spawn(move || {
            for (temporary, path) in receiver {
                replace(&temporary, &path)?;
            }
            Ok(())
        });
        Durable {
            sender: Some(sender),
            worker: Some(worker),
        }
    }

    /// Queues `temporary` to replace `path` once it is on disk.
    pub fn replace(&mut self, temporary: PathBuf, path: PathBuf) -> Result<()> {
        let sender = self.sender.as_ref().expect("not finished");
        if sender.send((temporary, path.clone())).is_err() {
            // The worker stopped on an error: report it now.
            return self.finish().and(Err(FileError::Io {
                path,
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

/// `NAME.TAG.tmp` beside `path`: distinct tags keep queued files apart.
pub(crate) fn temporary(path: &Path, tag: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{tag}.tmp"));
    path.with_file_name(name)
}

/// Writes `temporary` with `write`. If that fails (a full disk, most often), removes what it
/// left: the space goes back, and the file it was to replace stays as it was.
pub(crate) fn write_temporary<T>(temporary: &Path, write: impl FnOnce() -> Result<T>) -> Result<T> {
    let written = write();
    if written.is_err() {
        let _ = std::fs::remove_file(temporary);
    }
    written
}

/// Makes `temporary` durable and moves it over `path` atomically. Errors name `path`, the
/// file a person knows; a temporary that cannot be made durable is removed.
pub(crate) fn replace(temporary: &Path, path: &Path) -> Result<()> {
    write_temporary(temporary, || {
        std::fs::File::open(temporary)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(temporary, path))
            .map_err(|error| FileError::Io {
                path: path.to_path_buf(),
                error,
            })
    })?;
    // The rename itself is durable once the directory is.
    sync_folder(folder_of(path))
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
