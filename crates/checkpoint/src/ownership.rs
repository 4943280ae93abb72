//! What is at a path, in a person's words, and whether mfcl may replace it.
//!
//! mfcl replaces or rebuilds only what it recognises as its own: a run file (root attribute
//! `format = "mfcl-run"`), a checkpoint (`"mfcl-checkpoint"`, the latest and the previous)
//! and the run's snapshot folder holding nothing but the run's snapshot files
//! (`"mfcl-snapshot"` with the run's `run_id`) and their temporaries. The run, checkpoint and
//! snapshot paths derive from the run path alone (`qs.png` has the checkpoint
//! `qs.checkpoint.h5`), so a checkpoint beside a figure once made mfcl "rebuild the run file"
//! over the figure; every write of a run now starts with [`claim_run`].

use std::fmt;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use hdf5::MinorErrorCode;

use crate::checkpoint::{
    CHECKPOINT_FORMAT, SNAPSHOT_FORMAT, SnapshotName, SnapshotOwner, checkpoint_path,
    previous_checkpoint_path, run_of_checkpoint, snapshot_index, snapshot_owner, snapshots_dir,
};
use crate::durable::{folder_of, sync_folder};
use crate::hdf::{Ctx, HDF5_SIGNATURE};
use crate::layout::Header;
use crate::run_file::RUN_FORMAT;
use crate::{FileError, Result};

/// The PNG signature: `mfcl plot` and `--plot` write PNG figures.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// How much of a file [`identify`] reads to tell text from binary.
const SNIFF_BYTES: u64 = 1024;

/// What is at a path, as far as mfcl can tell without reading the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// Nothing (or a path through a file, where nothing can be).
    Missing,
    /// A folder.
    Folder,
    /// An mfcl run file.
    RunFile,
    /// An mfcl checkpoint.
    Checkpoint,
    /// An mfcl snapshot file (of format 4 and up; older ones say nothing of themselves).
    Snapshot,
    /// HDF5's signature, but HDF5 cannot open it or read its root attributes: truncated or
    /// otherwise damaged.
    DamagedHdf5,
    /// An HDF5 file that another process holds locked for writing.
    InUse,
    /// An HDF5 file without mfcl's `format` attribute.
    OtherHdf5,
    /// A PNG image.
    Png,
    /// Text (UTF-8 without NUL bytes, as far as read).
    Text,
    /// A file of zero bytes.
    Empty,
    /// Something is there but cannot be read (no permission).
    Unreadable,
    /// Any other file, or something that is neither file nor folder (a FIFO, a device).
    Other,
}

impl FileKind {
    /// The kind in words, with an article: "a PNG image", "an mfcl run file".
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Missing => "nothing",
            FileKind::Folder => "a folder",
            FileKind::RunFile => "an mfcl run file",
            FileKind::Checkpoint => "an mfcl checkpoint",
            FileKind::Snapshot => "an mfcl snapshot file",
            FileKind::DamagedHdf5 => "a damaged or truncated HDF5 file",
            FileKind::InUse => "an HDF5 file that another program has open for writing",
            FileKind::OtherHdf5 => "an HDF5 file that mfcl did not write",
            FileKind::Png => "a PNG image",
            FileKind::Text => "a text file",
            FileKind::Empty => "an empty file",
            FileKind::Unreadable => "a file that mfcl cannot read",
            FileKind::Other => "a file that mfcl does not recognise",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// What is at `path`: from its signature (the first kilobyte at most), and for HDF5 from
/// its root `format` attribute. Follows symbolic links.
pub fn identify(path: &Path) -> FileKind {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) => {
            return match error.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => {
                    FileKind::Missing
                }
                _ => FileKind::Unreadable,
            };
        }
    };
    if metadata.is_dir() {
        return FileKind::Folder;
    }
    // Opening a FIFO to read it would block until someone writes.
    if !metadata.is_file() {
        return FileKind::Other;
    }
    let mut start = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|file| file.take(SNIFF_BYTES).read_to_end(&mut start));
    match read {
        Err(_) => FileKind::Unreadable,
        Ok(0) => FileKind::Empty,
        Ok(_) if start.starts_with(HDF5_SIGNATURE) => hdf5_kind(path),
        Ok(_) if start.starts_with(PNG_SIGNATURE) => FileKind::Png,
        Ok(_) if is_text(&start) => FileKind::Text,
        Ok(_) => FileKind::Other,
    }
}

/// Whether the file at `path` starts with HDF5's signature, read without HDF5: a snapshot
/// file is opened with HDF5 only then.
fn has_hdf5_signature(path: &Path) -> bool {
    let mut signature = [0; HDF5_SIGNATURE.len()];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut signature))
        .is_ok_and(|()| signature == HDF5_SIGNATURE)
}

/// The kind of a file that starts with HDF5's signature.
fn hdf5_kind(path: &Path) -> FileKind {
    let ctx = Ctx::new(path);
    let file = match ctx.open() {
        Ok(file) => file,
        Err(FileError::Damaged { .. }) => return FileKind::DamagedHdf5,
        // HDF5 locks the files it writes: an mfcl run in progress, most likely.
        Err(FileError::Hdf5 { error, .. })
            if error.contains_minor(MinorErrorCode::CantLockFile) =>
        {
            return FileKind::InUse;
        }
        Err(_) => return FileKind::DamagedHdf5,
    };
    match ctx.read_str(&file, "format").as_deref() {
        Ok(RUN_FORMAT) => FileKind::RunFile,
        Ok(CHECKPOINT_FORMAT) => FileKind::Checkpoint,
        Ok(SNAPSHOT_FORMAT) => FileKind::Snapshot,
        Ok(_) => FileKind::OtherHdf5,
        // Without the attribute it is another program's file; with it but unreadable, its
        // root metadata is damaged (a run file that a crash left so is rebuilt on resume).
        Err(_) => match file.attr_names() {
            Ok(names) if !names.iter().any(|name| name == "format") => FileKind::OtherHdf5,
            _ => FileKind::DamagedHdf5,
        },
    }
}

/// UTF-8 without NUL bytes.
fn is_text(start: &[u8]) -> bool {
    !start.contains(&0)
        && match std::str::from_utf8(start) {
            Ok(_) => true,
            // Cut inside a character, where the read stopped.
            Err(error) => error.error_len().is_none(),
        }
}

/// Checks, before anything is written, that every file a run at `run` would replace or
/// remove is mfcl's own; refuses with [`FileError::NotOurs`], [`FileError::ForeignSnapshot`]
/// or [`FileError::InUse`] otherwise, having changed nothing. Cheap: it reads the first
/// kilobyte of the run file and the checkpoint, their `format` attributes, and the names
/// (and HDF5 signatures) of the snapshot files.
///
/// What may be there:
/// - at `run`: nothing or an mfcl run file. When `resuming`, also a damaged or truncated
///   HDF5 file provided the checkpoint beside it is an mfcl checkpoint: a crash in the middle
///   of a write leaves exactly that, and the run file is rebuilt from the checkpoint.
/// - at `RUN.checkpoint.h5` and `RUN.checkpoint.previous.h5`: nothing or an mfcl
///   checkpoint. Also a damaged or truncated HDF5 file provided `run` is an mfcl run file:
///   checkpoints are renamed into place whole, so only a disk fault damages one, and beside
///   mfcl's run file it is mfcl's; beside nothing (or a damaged run file) nothing says whose
///   it is.
/// - at `RUN.snapshots`: nothing, or a folder holding only the run's snapshot files
///   `NNNNNN.h5` and their temporaries `NNNNNN.h5.*.tmp`. A snapshot file is the run's if
///   it is an mfcl snapshot file whose `run_id` the run file or a checkpoint records (any
///   run id if none records one: the folder outlived its run), or a snapshot file of
///   formats 1 to 3, which record no run (no `format` attribute, the group
///   `snapshots/NNNNNN` of its name). An HDF5 file whose root attributes cannot be read
///   (or do not match their checksum) is taken for a damaged snapshot file, to be rebuilt.
///
/// The run's folder and its snapshot folder must be writable: a folder that is not is
/// refused now rather than at the first snapshot.
///
/// [`RunFile::create`](crate::RunFile::create) calls it, so no run skips it; callers may
/// call it earlier to refuse before any computation.
pub fn claim_run(run: &Path, resuming: bool) -> Result<()> {
    let run_kind = identify(run);
    let run_is_ours = match run_kind {
        FileKind::Missing | FileKind::RunFile => true,
        FileKind::DamagedHdf5 => {
            resuming && identify(&checkpoint_path(run)) == FileKind::Checkpoint
        }
        _ => false,
    };
    if !run_is_ours {
        return Err(not_ours(run, run_kind, FileKind::RunFile.describe()));
    }
    claim_checkpoint(run, run_kind)?;
    claim_snapshots(run)?;
    writable(folder_of(run))?;
    writable(&snapshots_dir(run))
}

/// The checkpoints of `run`, whose run file is `run_kind`, the latest and the previous, are
/// absent or mfcl's (see [`claim_run`]).
pub(crate) fn claim_checkpoint(run: &Path, run_kind: FileKind) -> Result<()> {
    for checkpoint in [checkpoint_path(run), previous_checkpoint_path(run)] {
        let kind = identify(&checkpoint);
        match kind {
            FileKind::Missing | FileKind::Checkpoint => {}
            FileKind::DamagedHdf5 if run_kind == FileKind::RunFile => {}
            _ => return Err(not_ours(&checkpoint, kind, FileKind::Checkpoint.describe())),
        }
    }
    Ok(())
}

/// Whether this process may create files in `folder`, if it is one (a missing one is
/// created later, in a folder checked so; a file where a folder should be is refused when
/// it is used, in those words). access(2) knows read-only mounts, which permission bits do
/// not show.
fn writable(folder: &Path) -> Result<()> {
    let Ok(name) = std::ffi::CString::new(folder.as_os_str().as_bytes()) else {
        return Ok(());
    };
    if !folder.is_dir() {
        return Ok(());
    }
    // SAFETY: `name` is a NUL-terminated path that outlives the call.
    if unsafe { libc::access(name.as_ptr(), libc::W_OK | libc::X_OK) } == 0 {
        return Ok(());
    }
    let error = std::io::Error::last_os_error();
    Err(FileError::Io {
        path: folder.to_path_buf(),
        error: std::io::Error::new(
            error.kind(),
            format!("cannot write in this folder ({error})"),
        ),
    })
}

/// The run ids that the run file and checkpoints of the run at `run` record (files of
/// formats 1 to 3 record none, and files that cannot be read count for nothing).
fn recorded_runs(run: &Path) -> Vec<String> {
    let files = [
        (run.to_path_buf(), RUN_FORMAT),
        (checkpoint_path(run), CHECKPOINT_FORMAT),
        (previous_checkpoint_path(run), CHECKPOINT_FORMAT),
    ];
    files
        .into_iter()
        .filter(|(path, _)| matches!(identify(path), FileKind::RunFile | FileKind::Checkpoint))
        .filter_map(|(path, format)| {
            let file = hdf5::File::open(&path).ok()?;
            let (header, ..) = Header::read(&Ctx::new(&path), &file, format).ok()?;
            Some(header.run_id).filter(|id| !id.is_empty())
        })
        .collect()
}

/// The refusal for `what` at `path` where mfcl would write `expected`.
fn not_ours(path: &Path, what: FileKind, expected: &'static str) -> FileError {
    match what {
        FileKind::InUse => FileError::InUse {
            path: path.to_path_buf(),
        },
        _ => FileError::NotOurs {
            path: path.to_path_buf(),
            what,
            expected,
        },
    }
}

/// The snapshot folder is absent, or a folder of snapshot files and their temporaries.
fn claim_snapshots(run: &Path) -> Result<()> {
    let folder = snapshots_dir(run);
    match identify(&folder) {
        FileKind::Missing => return Ok(()),
        FileKind::Folder => {}
        other => return Err(not_ours(&folder, other, "an mfcl snapshot folder")),
    }
    let io = |error| FileError::Io {
        path: folder.clone(),
        error,
    };
    let ids = recorded_runs(run);
    let of_the_run = |path: &Path, index| match snapshot_owner(path, index) {
        SnapshotOwner::Run(id) => ids.is_empty() || ids.contains(&id),
        SnapshotOwner::Older | SnapshotOwner::Damaged => true,
        SnapshotOwner::Other => false,
    };
    for entry in std::fs::read_dir(&folder).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let ours = match file_name(&path).and_then(snapshot_index) {
            // A temporary may be cut anywhere by a crash: its name is all there is to check.
            Some((_, SnapshotName::Temporary)) => true,
            Some((index, SnapshotName::File)) => {
                path.is_file() && has_hdf5_signature(&path) && of_the_run(&path, index)
            }
            None => false,
        };
        if !ours {
            return Err(FileError::ForeignSnapshot {
                what: identify(&path),
                path,
                folder,
            });
        }
    }
    Ok(())
}

/// After [`claim_run`] and once the new run file is in place: removes what the previous
/// run at `run` left and the new one does not continue. A fresh run (not `resuming`)
/// loses the old checkpoints, latest and previous; any run loses the temporaries of its run
/// file and checkpoints that a crash left; the snapshot folder keeps the files of the first
/// `kept` snapshots (those the new run file holds) and loses the rest and every temporary,
/// so that no snapshot of a longer earlier run survives beside the new run's. Removes only
/// what carries mfcl's names, whatever appeared since the claim (a symbolic link so named
/// is removed, not followed).
pub(crate) fn clear_previous(run: &Path, resuming: bool, kept: usize) -> Result<()> {
    let checkpoints = [checkpoint_path(run), previous_checkpoint_path(run)];
    let names = [run, &checkpoints[0], &checkpoints[1]].map(file_name);
    remove_from(folder_of(run), |name| {
        let temporary = names.iter().flatten().any(|of| is_temporary_of(name, of));
        temporary || !resuming && names[1..].contains(&Some(name))
    })?;
    remove_from(&snapshots_dir(run), |name| match snapshot_index(name) {
        Some((index, SnapshotName::File)) => index >= kept,
        Some((_, SnapshotName::Temporary)) => true,
        None => false,
    })
}

/// Removes the entries of `folder` whose names are `stale`, durably: after a power cut, an
/// old checkpoint or snapshot must not reappear beside the new run. Nothing to do for a
/// missing folder.
fn remove_from(folder: &Path, stale: impl Fn(&str) -> bool) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| FileError::Io { path, error }
    };
    let entries = match std::fs::read_dir(folder) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        entries => entries.map_err(io(folder))?,
    };
    let mut removed = false;
    for entry in entries {
        let path = entry.map_err(io(folder))?.path();
        if file_name(&path).is_some_and(&stale) {
            removed |= remove(&path).map_err(io(&path))?;
        }
    }
    if removed {
        sync_folder(folder)?;
    }
    Ok(())
}

/// Whether `name` is a temporary of the file named `of`: `OF.TAG.tmp`, the tag without dots
/// (see [`temporary`](crate::durable::temporary)).
fn is_temporary_of(name: &str, of: &str) -> bool {
    name.strip_prefix(of)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .is_some_and(|tag| !tag.is_empty() && !tag.contains('.'))
}

/// Removes the file at `path`; whether there was one.
fn remove(path: &Path) -> std::io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// The last component of `path`, if it is Unicode (mfcl's names all are).
fn file_name(path: &Path) -> Option<&str> {
    path.file_name().and_then(|name| name.to_str())
}

/// Before reading `path` as `expected` (a run file or a checkpoint): refuses, in a person's
/// words, anything that is clearly something else. A missing file gives the system's
/// "not found"; an unreadable or locked one is left to HDF5 to report.
pub(crate) fn expect_kind(path: &Path, expected: FileKind) -> Result<()> {
    let found = identify(path);
    let path = path.to_path_buf();
    match found {
        _ if found == expected => Ok(()),
        FileKind::Unreadable | FileKind::InUse => Ok(()),
        FileKind::Missing => Err(FileError::Io {
            path,
            error: std::io::ErrorKind::NotFound.into(),
        }),
        // What is damaged, where opening says (a checksum, the global heap).
        FileKind::DamagedHdf5 => match Ctx::new(&path).open() {
            Err(error @ FileError::Damaged { .. }) => Err(error),
            _ => Err(FileError::Damaged {
                path,
                what: format!("HDF5 cannot read it ({found})"),
            }),
        },
        FileKind::Checkpoint if expected == FileKind::RunFile => match run_of_checkpoint(&path) {
            Some(run) => Err(FileError::CheckpointGiven { path, run }),
            None => Err(FileError::WrongKind {
                path,
                what: found,
                expected: expected.describe(),
            }),
        },
        _ => Err(FileError::WrongKind {
            path,
            what: found,
            expected: expected.describe(),
        }),
    }
}
