//! One writer per run: `RUN.lock` beside `RUN.h5`, whose exclusive OS lock (`flock`) the
//! one process that writes the run (`mfcl run`, `mfcl resume`) holds for its whole life.
//!
//! The system releases the lock when the process ends, however it ends, so `kill -9` or a
//! power cut leaves nothing stale to clean up. The file itself stays beside the run: removing
//! it would let a second writer lock a new file of the same name while the first still holds
//! the removed one. It holds, as text, who locked it last, so that a refused writer and a
//! reader can say who is writing.
//!
//! Readers ([`writer_of`]) take the shared lock for an instant: it fails only while a writer
//! holds the run. A writer that finds only readers waits for them (they hold it for
//! microseconds) instead of taking them for a writer.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::checkpoint::lock_path;
use crate::ownership::identify;
use crate::{FileError, Result};

/// The first line of every lock file mfcl writes: how it tells its lock file from anything
/// else at that path.
const MAGIC: &str = "mfcl run lock";
/// How much of a lock file is read: what mfcl writes there takes a hundred bytes.
const READ_LIMIT: u64 = 4096;
/// How long a writer waits for readers, who hold the shared lock only while they look.
const READERS_WAIT: Duration = Duration::from_secs(2);

/// The exclusive lock on a run, held until dropped (or the process ends).
#[derive(Debug)]
pub struct RunLock {
    /// The open lock file: closing it releases the lock.
    _file: File,
}

/// Who holds a run's lock, as far as its lock file says: a process that has just locked it
/// may not have written itself there yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockHolder {
    /// The process id.
    pub pid: Option<u32>,
    /// The command, `mfcl run` or `mfcl resume`.
    pub command: Option<String>,
    /// When it took the lock.
    pub since: Option<SystemTime>,
}

impl RunLock {
    /// Takes the exclusive lock of the run at `run` for `command` (`"mfcl run"`, `"mfcl
    /// resume"`), creating `RUN.lock` if needed, and writes the holder into it. Refuses with
    /// [`FileError::Busy`] when another process holds it, and with
    /// [`FileError::ForeignLock`] when the lock path holds anything but mfcl's lock file (a
    /// symbolic link, which is not followed, a folder, a file of other content), which is
    /// left as it was, every byte. The run's folder must exist.
    pub fn acquire(run: &Path, command: &str) -> Result<RunLock> {
        let path = lock_path(run);
        if path == run {
            return Err(FileError::ForeignLock {
                path,
                what: "the run file itself (a run named *.lock would be its own lock file)".into(),
            });
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            // A FIFO must not block the open.
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .mode(0o644)
            .open(&path)
            .map_err(|error| unusable(&path, error))?;
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            return Err(foreign(&path));
        }
        lock_exclusive(&file, run, &path)?;
        // Only now is it certain that nobody writes the file while it is read.
        let content = read_start(&mut file).map_err(|error| io(&path, error))?;
        if !content.is_empty() && !content.starts_with(MAGIC.as_bytes()) {
            return Err(foreign(&path));
        }
        let holder = format!(
            "{MAGIC}: held by the process below while it writes the run; the system releases \
             it when the process ends\npid = {}\ncommand = {command}\nsince = {}\n",
            std::process::id(),
            humantime::format_rfc3339_seconds(SystemTime::now())
        );
        // Written over the old holder, then cut: the file never holds less than the magic.
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(holder.as_bytes()))
            .and_then(|()| file.set_len(holder.len() as u64))
            .map_err(|error| io(&path, error))?;
        Ok(RunLock { _file: file })
    }
}

/// Takes the exclusive lock on `file`, the lock file `path` of `run`, waiting up to
/// [`READERS_WAIT`] while only readers hold it; [`FileError::Busy`] when a writer does.
fn lock_exclusive(file: &File, run: &Path, path: &Path) -> Result<()> {
    let busy = || FileError::Busy {
        run: run.to_path_buf(),
        writer: current_holder(file),
    };
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::Error(error)) => return Err(io(path, error)),
            Err(TryLockError::WouldBlock) => {}
        }
        // Shared while others hold it: readers only. Held exclusively: a writer.
        match file.try_lock_shared() {
            Ok(()) => file.unlock().map_err(|error| io(path, error))?,
            Err(TryLockError::WouldBlock) => return Err(busy()),
            Err(TryLockError::Error(error)) => return Err(io(path, error)),
        }
        if started.elapsed() > READERS_WAIT {
            return Err(busy());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The writer of the run at `run` when another process holds its lock; `None` when nobody
/// does (or only this process, or there is no usable lock file: no writer of mfcl's since).
/// Creates nothing and needs only read access.
pub fn writer_of(run: &Path) -> Option<LockHolder> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(lock_path(run))
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    match file.try_lock_shared() {
        Err(TryLockError::WouldBlock) => {}
        // Dropping the file releases the shared lock.
        _ => return None,
    }
    let holder = current_holder(&file);
    (holder.pid != Some(std::process::id())).then_some(holder)
}

/// Who holds the lock of `file`, which another process holds. A writer that has just taken
/// the lock may not have replaced its predecessor's lines yet: lines naming a process that
/// no longer exists are read again for a moment, then taken for unknown.
fn current_holder(file: &File) -> LockHolder {
    for _ in 0..50 {
        let holder = holder_in(file);
        if holder.pid.is_some_and(is_alive) {
            return holder;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    LockHolder::default()
}

/// Whether process `pid` exists (signal 0 checks, sends nothing).
fn is_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 is no signal; kill only looks the process up.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Who the lock file says holds it; what it does not say stays unknown.
fn holder_in(mut file: &File) -> LockHolder {
    let content = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| read_start(&mut file))
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&content);
    let mut holder = LockHolder::default();
    if !text.starts_with(MAGIC) {
        return holder;
    }
    for (key, value) in text.lines().filter_map(|line| line.split_once(" = ")) {
        match key {
            "pid" => holder.pid = value.parse().ok(),
            "command" => holder.command = Some(value.to_string()),
            "since" => holder.since = humantime::parse_rfc3339(value).ok(),
            _ => {}
        }
    }
    holder
}

/// The first [`READ_LIMIT`] bytes of the file, from where it is positioned.
fn read_start(file: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut content = Vec::new();
    file.take(READ_LIMIT).read_to_end(&mut content)?;
    Ok(content)
}

impl fmt::Display for LockHolder {
    /// `process 4242 (mfcl resume, since 12:01:07)`, or as much of it as is known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "process {pid}")?,
            None => f.write_str("another process")?,
        }
        let since = self
            .since
            .map(|since| format!("since {}", local_time(since)));
        let details: Vec<&str> = self
            .command
            .iter()
            .map(String::as_str)
            .chain(since.as_deref())
            .collect();
        if !details.is_empty() {
            write!(f, " ({})", details.join(", "))?;
        }
        Ok(())
    }
}

/// `12:01:07` in local time, with the date before it when that is not today.
fn local_time(time: SystemTime) -> String {
    let (Some(then), Some(now)) = (local(time), local(SystemTime::now())) else {
        return humantime::format_rfc3339_seconds(time).to_string();
    };
    let clock = format!("{:02}:{:02}:{:02}", then.tm_hour, then.tm_min, then.tm_sec);
    if (then.tm_year, then.tm_yday) == (now.tm_year, now.tm_yday) {
        clock
    } else {
        format!(
            "{}-{:02}-{:02} {clock}",
            then.tm_year + 1900,
            then.tm_mon + 1,
            then.tm_mday
        )
    }
}

/// The calendar fields of `time` in the local time zone.
fn local(time: SystemTime) -> Option<libc::tm> {
    let seconds = libc::time_t::try_from(time.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()?;
    // SAFETY: `tm` is plain data; localtime_r writes only into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let converted = unsafe { libc::localtime_r(&seconds, &mut tm) };
    (!converted.is_null()).then_some(tm)
}

/// The refusal of a lock path that is not mfcl's lock file.
fn foreign(path: &Path) -> FileError {
    FileError::ForeignLock {
        path: path.to_path_buf(),
        what: identify(path).describe().into(),
    }
}

/// The error of opening the lock file: a symbolic link or a folder there is not ours.
fn unusable(path: &Path, error: std::io::Error) -> FileError {
    let symlink = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if symlink {
        FileError::ForeignLock {
            path: path.to_path_buf(),
            what: "a symbolic link".into(),
        }
    } else if error.kind() == ErrorKind::IsADirectory {
        foreign(path)
    } else {
        io(path, error)
    }
}

fn io(path: &Path, error: std::io::Error) -> FileError {
    FileError::Io {
        path: path.to_path_buf(),
        error,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mfcl-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("run.h5")
    }

    /// Within one process, two opens of the lock file conflict as two processes' would
    /// (flock locks belong to the open file); `writer_of` ignores this process's own lock.
    #[test]
    fn one_writer_at_a_time_and_readers_see_it() {
        let run = scratch("one");
        assert_eq!(writer_of(&run), None, "no lock file yet");
        let lock = RunLock::acquire(&run, "mfcl run").unwrap();
        assert_eq!(writer_of(&run), None, "this process's own lock");
        match RunLock::acquire(&run, "mfcl resume") {
            Err(FileError::Busy { writer, .. }) => {
                assert_eq!(writer.pid, Some(std::process::id()));
                assert_eq!(writer.command.as_deref(), Some("mfcl run"));
                assert!(writer.since.is_some());
                let shown = writer.to_string();
                assert!(
                    shown.starts_with(&format!("process {} (mfcl run, since ", std::process::id())),
                    "{shown}"
                );
            }
            other => panic!("{other:?}"),
        }
        drop(lock);
        let again = RunLock::acquire(&run, "mfcl resume").unwrap();
        drop(again);
        let text = std::fs::read_to_string(lock_path(&run)).unwrap();
        assert!(text.contains("command = mfcl resume\n"), "{text}");
    }

    /// A writer waits for a reader's shared lock instead of taking it for a writer.
    #[test]
    fn a_reader_does_not_refuse_a_writer() {
        let run = scratch("reader");
        drop(RunLock::acquire(&run, "mfcl run").unwrap());
        let reader = File::open(lock_path(&run)).unwrap();
        reader.lock_shared().unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            drop(reader);
        });
        RunLock::acquire(&run, "mfcl resume").expect("the reader lets go");
        release.join().unwrap();
    }

    /// Anything but mfcl's lock file at the lock path is refused and kept as it was.
    #[test]
    fn foreign_files_at_the_lock_path_are_kept() {
        let run = scratch("foreign");
        let path = lock_path(&run);
        let notes = run.with_file_name("notes.txt");
        std::fs::write(&notes, "my notes").unwrap();
        std::os::unix::fs::symlink(&notes, &path).unwrap();
        let error = RunLock::acquire(&run, "mfcl run").unwrap_err();
        assert!(error.to_string().contains("a symbolic link"), "{error}");
        assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes");
        assert!(
            std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );

        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "a lock of some other program\n").unwrap();
        let error = RunLock::acquire(&run, "mfcl run").unwrap_err();
        assert!(matches!(error, FileError::ForeignLock { .. }), "{error}");
        assert!(error.to_string().contains("a text file"), "{error}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a lock of some other program\n"
        );

        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let error = RunLock::acquire(&run, "mfcl run").unwrap_err();
        assert!(error.to_string().contains("a folder"), "{error}");

        let error = RunLock::acquire(&path.with_file_name("x.lock"), "mfcl run").unwrap_err();
        assert!(matches!(error, FileError::ForeignLock { .. }), "{error}");
    }

    /// An empty lock file is what a writer killed between creating and filling it leaves.
    #[test]
    fn an_empty_lock_file_is_ours() {
        let run = scratch("empty");
        std::fs::write(lock_path(&run), "").unwrap();
        drop(RunLock::acquire(&run, "mfcl run").unwrap());
    }
}
