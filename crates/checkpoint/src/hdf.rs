//! Thin helpers over hdf5-metno that attach the file's path to every error.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use hdf5::plist::file_access::LibraryVersion;
use hdf5::types::VarLenUnicode;
use hdf5::{Dataset, Extent, Group, H5Type, Location, MinorErrorCode};

use crate::{FileError, Result};

/// Maps HDF5 errors to [`FileError::Hdf5`] for one file.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub path: PathBuf,
}

impl Ctx {
    pub fn new(path: &Path) -> Ctx {
        Ctx {
            path: path.to_path_buf(),
        }
    }

    /// HDF5's error, with the file's path; a failed checksum, which HDF5 verifies on every
    /// read of a file written with them, says that the file is damaged.
    pub fn h5<T>(&self, result: hdf5::Result<T>) -> Result<T> {
        self.reading("the file's metadata", result)
    }

    /// As [`Ctx::h5`], for a read of `what` ("state/x", "attribute config"): a failed
    /// checksum names it.
    fn reading<T>(&self, what: &str, result: hdf5::Result<T>) -> Result<T> {
        result.map_err(|error| {
            let path = self.path.clone();
            if failed_checksum(&error) {
                return self.damaged(format!("checksum mismatch in {what}"));
            }
            match system_error(&error) {
                Some(error) => FileError::Io { path, error },
                None => FileError::Hdf5 { path, error },
            }
        })
    }

    /// Opens the file for reading, once its global heaps are checked (see
    /// [`Ctx::check_global_heaps`]): every read of mfcl's files starts here.
    pub fn open(&self) -> Result<hdf5::File> {
        self.check_global_heaps()?;
        self.h5(hdf5::File::open(&self.path))
    }

    /// Checks the structure of the global heap collections near the start of the file,
    /// where HDF5 keeps the text of string attributes: unlike the rest of the metadata they
    /// carry no checksum, and HDF5 trusts the sizes in them, so that one damaged byte there
    /// makes it copy past its buffers (a segfault) or loop for ever. Each collection
    /// (signature `GCOL`, version 1) must lie within the file, and its objects, walked as
    /// HDF5 walks them, within the collection. mfcl writes its text attributes when it
    /// creates a file, before any data: their collection is within [`HEAP_SCAN_BYTES`].
    pub fn check_global_heaps(&self) -> Result<()> {
        let io = |error| FileError::Io {
            path: self.path.clone(),
            error,
        };
        let mut file = std::fs::File::open(&self.path).map_err(io)?;
        let length = file.metadata().map_err(io)?.len();
        let mut start = Vec::new();
        (&mut file)
            .take(HEAP_SCAN_BYTES)
            .read_to_end(&mut start)
            .map_err(io)?;
        // Sizes in a collection are "lengths", 8 bytes in every file mfcl writes; a file
        // with others is not mfcl's, and left to HDF5.
        let lengths = match start.get(8) {
            Some(0 | 1) => start.get(14),
            Some(2 | 3) => start.get(10),
            _ => None,
        };
        if !start.starts_with(HDF5_SIGNATURE) || lengths != Some(&8) {
            return Ok(());
        }
        let inconsistent = |at| {
            self.damaged(format!(
                "the global heap (the text of its attributes) at byte {at} is inconsistent"
            ))
        };
        let collections = start
            .windows(GLOBAL_HEAP_SIGNATURE.len())
            .enumerate()
            .filter(|(_, window)| *window == GLOBAL_HEAP_SIGNATURE);
        for (at, _) in collections {
            let at = at as u64;
            let size = read_u64(&start, at + 8)
                .filter(|&size| size >= 16 && at.checked_add(size).is_some_and(|e| e <= length))
                .ok_or_else(|| inconsistent(at))?;
            let mut collection = vec![0; size as usize];
            file.seek(SeekFrom::Start(at)).map_err(io)?;
            file.read_exact(&mut collection).map_err(io)?;
            if !heap_objects_fit(&collection) {
                return Err(inconsistent(at));
            }
        }
        Ok(())
    }

    pub fn damaged(&self, what: impl Into<String>) -> FileError {
        FileError::Damaged {
            path: self.path.clone(),
            what: what.into(),
        }
    }

    pub fn write_str(&self, loc: &Location, name: &str, value: &str) -> Result<()> {
        let value = VarLenUnicode::from_str(value)
            .map_err(|e| self.damaged(format!("attribute {name}: {e}")))?;
        self.h5(loc
            .new_attr::<VarLenUnicode>()
            .create(name)
            .and_then(|a| a.write_scalar(&value)))
    }

    /// The string attribute `name` of `loc`. Its bytes are text only once checked to be
    /// UTF-8: a damaged file may hold anything.
    pub fn read_str(&self, loc: &Location, name: &str) -> Result<String> {
        let value: VarLenUnicode = self.read_scalar(loc, name)?;
        std::str::from_utf8(value.as_bytes())
            .map(str::to_owned)
            .map_err(|_| self.damaged(format!("attribute {name} is not UTF-8 text")))
    }

    pub fn write_scalar<T: H5Type>(&self, loc: &Location, name: &str, value: T) -> Result<()> {
        self.h5(loc
            .new_attr::<T>()
            .create(name)
            .and_then(|a| a.write_scalar(&value)))
    }

    /// The attribute `name` of `loc`, one value of type `T` exactly. The type and the
    /// shape are checked before HDF5 reads: it reads what a damaged file's metadata claims
    /// (an empty dataspace leaves the value unwritten, a string of another kind is no
    /// pointer to a string), so that only the conversion of a type to itself is left.
    pub fn read_scalar<T: H5Type>(&self, loc: &Location, name: &str) -> Result<T> {
        let what = format!("attribute {name}");
        let attribute = self.reading(&what, loc.attr(name))?;
        let space = self.reading(&what, attribute.space())?;
        let found = self.reading(&what, attribute.dtype().and_then(|t| t.to_descriptor()))?;
        if !space.is_scalar() || found != T::type_descriptor() {
            return Err(self.damaged(format!(
                "{what} is not one value of type {}",
                T::type_descriptor()
            )));
        }
        self.reading(&what, attribute.read_scalar())
    }

    /// A fixed-size dataset of `shape` holding `data` in row-major order, checksummed
    /// ([`CHUNK_BYTES`]-sized chunks under HDF5's Fletcher32 filter). An empty one holds no
    /// data to checksum, and HDF5 cannot chunk a dimension of length 0: it is contiguous.
    pub fn write_array<T: H5Type>(
        &self,
        group: &Group,
        name: &str,
        data: &[T],
        shape: &[usize],
    ) -> Result<()> {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        let builder = group.new_dataset::<T>();
        let builder = if data.is_empty() {
            builder
        } else {
            builder
                .chunk(chunk_shape(shape, size_of::<T>()))
                .fletcher32()
        };
        self.h5(builder
            .shape(shape.to_vec())
            .create(name)
            .and_then(|d| d.write_raw(data)))
    }

    /// The dataset's elements in row-major order, and its shape.
    pub fn read_array<T: H5Type>(&self, group: &Group, name: &str) -> Result<(Vec<T>, Vec<usize>)> {
        let dataset = self.reading(name, group.dataset(name))?;
        self.read_dataset(&dataset)
    }

    /// The elements of `dataset` (of type `T` exactly) in row-major order, and its shape.
    /// Every size is checked against the file's length before HDF5 allocates for it: a
    /// dataset cannot hold more bytes than its file, and a damaged shape or chunk claims
    /// any number.
    pub fn read_dataset<T: H5Type>(&self, dataset: &Dataset) -> Result<(Vec<T>, Vec<usize>)> {
        let what = dataset.name().trim_start_matches('/').to_owned();
        let space = self.reading(&what, dataset.space())?;
        let found = self.reading(&what, dataset.dtype().and_then(|t| t.to_descriptor()))?;
        if !space.is_simple() || found != T::type_descriptor() {
            return Err(self.damaged(format!(
                "{what} is not an array of type {}",
                T::type_descriptor()
            )));
        }
        let shape = space.shape();
        let bytes = |lengths: &[usize]| {
            lengths
                .iter()
                .try_fold(size_of::<T>(), |bytes, &length| bytes.checked_mul(length))
                .and_then(|bytes| u64::try_from(bytes).ok())
        };
        let file_length = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        let fits = |lengths: &[usize]| bytes(lengths).is_some_and(|b| b <= file_length);
        // A chunk is read whole, and each chunk that holds data is stored whole.
        let chunk = dataset.chunk().filter(|_| bytes(&shape) != Some(0));
        if !fits(&shape) || !chunk.as_deref().is_none_or(fits) {
            return Err(self.damaged(format!(
                "{what} claims the shape {shape:?}{}, more than the file's {file_length} bytes",
                chunk
                    .map(|c| format!(" in chunks of {c:?}"))
                    .unwrap_or_default()
            )));
        }
        let data = self.reading(&what, dataset.read_raw())?;
        Ok((data, shape))
    }

    /// A dataset that grows along its first axis, starting empty, checksummed like
    /// [`Ctx::write_array`]'s; each row has the shape `row` (empty for a scalar per row).
    pub fn extendable<T: H5Type>(
        &self,
        group: &Group,
        name: &str,
        row: &[usize],
    ) -> Result<hdf5::Dataset> {
        const ROWS_PER_CHUNK: usize = 1024;
        let chunk: Vec<usize> = std::iter::once(ROWS_PER_CHUNK)
            .chain(row.iter().map(|&w| w.max(1)))
            .collect();
        let shape: Vec<Extent> = std::iter::once(Extent::resizable(0))
            .chain(row.iter().map(|&w| Extent::fixed(w)))
            .collect();
        self.h5(group
            .new_dataset::<T>()
            .chunk(chunk)
            .fletcher32()
            .shape(shape)
            .create(name))
    }

    /// The attribute `name` of `loc`, if it has one.
    pub fn read_optional_scalar<T: H5Type>(&self, loc: &Location, name: &str) -> Result<Option<T>> {
        if self.has_attr(loc, name)? {
            self.read_scalar(loc, name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The string attribute `name` of `loc`, if it has one.
    pub fn read_optional_str(&self, loc: &Location, name: &str) -> Result<Option<String>> {
        if self.has_attr(loc, name)? {
            self.read_str(loc, name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Whether `loc` has the attribute `name`.
    fn has_attr(&self, loc: &Location, name: &str) -> Result<bool> {
        let names = self.h5(loc.attr_names())?;
        Ok(names.iter().any(|n| n == name))
    }
}

/// The most bytes in one chunk of a fixed-size dataset. Fletcher32 checksums each chunk
/// whole, so a chunk is read whole to check one element; HDF5 allows at most 4 GiB.
const CHUNK_BYTES: usize = 4 << 20;

/// The chunk of a dataset of `shape` with elements of `element` bytes: whole trailing axes
/// as far as [`CHUNK_BYTES`] allows, then as much of the next axis as fits (every length
/// in `shape` at least 1).
fn chunk_shape(shape: &[usize], element: usize) -> Vec<usize> {
    let mut room = (CHUNK_BYTES / element.max(1)).max(1);
    let mut chunk = vec![1; shape.len()];
    for (length, &full) in chunk.iter_mut().zip(shape).rev() {
        *length = full.clamp(1, room);
        room = (room / *length).max(1);
    }
    chunk
}

/// Creates the HDF5 file `path` for writing; every file mfcl writes is created here. It
/// must not exist, not even as a symbolic link (`O_CREAT | O_EXCL`): a temporary name
/// that someone else prepared is refused with `EEXIST`, not written through. The file is
/// in the format of HDF5 1.8, whose superblock (version 2), object headers and B-trees
/// carry checksums that HDF5 verifies on every read. Not 1.10's: its superblock (version
/// 3) marks a file open for writing and HDF5 then refuses every other opener, so readers
/// could not follow a run in progress, and a writer killed with `kill -9` would leave the
/// mark, making its run file unreadable.
pub(crate) fn create_file(path: &Path) -> hdf5::Result<hdf5::File> {
    hdf5::File::with_options()
        .with_fapl(|fapl| fapl.libver_bounds(LibraryVersion::V18, LibraryVersion::V18))
        .create_excl(path)
}

/// Whether `error` is the system's "file exists", as [`create_file`] fails on a taken name.
pub(crate) fn already_exists(error: &hdf5::Error) -> bool {
    system_error(error).is_some_and(|e| e.kind() == std::io::ErrorKind::AlreadyExists)
}

/// The HDF5 superblock signature, at offset 0 in every file mfcl writes.
pub(crate) const HDF5_SIGNATURE: &[u8] = b"\x89HDF\r\n\x1a\n";
/// How far into a file [`Ctx::check_global_heaps`] looks for global heap collections.
const HEAP_SCAN_BYTES: u64 = 1 << 20;
/// The start of a global heap collection: `GCOL`, version 1, three reserved zero bytes.
const GLOBAL_HEAP_SIGNATURE: &[u8] = b"GCOL\x01\x00\x00\x00";

/// The little-endian `u64` at `at` in `bytes`, if they hold one there.
fn read_u64(bytes: &[u8], at: u64) -> Option<u64> {
    let at = usize::try_from(at).ok()?;
    let bytes = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// Whether the objects of the global heap `collection` (its header included) each lie
/// within it, walked as HDF5 walks them: a 16-byte header (index, reference count,
/// reserved, size) and the data padded to 8 bytes; index 0 is the free space, whose size
/// counts its header. A last gap shorter than a header is free space too.
fn heap_objects_fit(collection: &[u8]) -> bool {
    const HEADER: u64 = 16;
    let end = collection.len() as u64;
    let mut at = HEADER;
    while at + HEADER <= end {
        let (Some(index), Some(size)) = (
            collection.get(at as usize..at as usize + 2),
            read_u64(collection, at + 8),
        ) else {
            return false;
        };
        let need = match index {
            [0, 0] => Some(size),
            _ => size
                .checked_add(7)
                .map(|size| size & !7)
                .and_then(|data| data.checked_add(HEADER)),
        };
        match need {
            Some(need) if need > 0 && need <= end - at => at += need,
            _ => return false,
        }
    }
    true
}

/// Whether HDF5 failed because a checksum did not match: Fletcher32 on a dataset's chunk
/// ("data error detected by Fletcher32 checksum"), or a checksum of the file's metadata
/// ("incorrect metadata checksum after all read attempts").
fn failed_checksum(error: &hdf5::Error) -> bool {
    error
        .stack()
        .is_some_and(|stack| stack.iter().any(|frame| frame.desc().contains("checksum")))
}

/// The system's error under an HDF5 failure to create, open, read or write a file ("No
/// space left on device (os error 28)"). HDF5's file driver gives it only inside its message
/// (`errno = 28, error message = ...`, among descriptors, offsets and a timestamp that ends
/// in a line break), which is no message for a person. A failed lock keeps HDF5's words:
/// "unable to lock file" says more than the system's "Resource temporarily unavailable".
fn system_error(error: &hdf5::Error) -> Option<std::io::Error> {
    if error.contains_minor(MinorErrorCode::CantLockFile) {
        return None;
    }
    let message = error.to_string();
    let (_, rest) = message.split_once("errno = ")?;
    let digits = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    match digits.parse() {
        Ok(0) | Err(_) => None,
        Ok(code) => Some(std::io::Error::from_raw_os_error(code)),
    }
}
