//! Thin helpers over hdf5-metno that attach the file's path to every error.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use hdf5::types::VarLenUnicode;
use hdf5::{Extent, Group, H5Type, Location, MinorErrorCode};

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

    pub fn h5<T>(&self, result: hdf5::Result<T>) -> Result<T> {
        result.map_err(|error| {
            let path = self.path.clone();
            match system_error(&error) {
                Some(error) => FileError::Io { path, error },
                None => FileError::Hdf5 { path, error },
            }
        })
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

    pub fn read_str(&self, loc: &Location, name: &str) -> Result<String> {
        let value: VarLenUnicode = self.h5(loc.attr(name).and_then(|a| a.read_scalar()))?;
        Ok(value.as_str().to_owned())
    }

    pub fn write_scalar<T: H5Type>(&self, loc: &Location, name: &str, value: T) -> Result<()> {
        self.h5(loc
            .new_attr::<T>()
            .create(name)
            .and_then(|a| a.write_scalar(&value)))
    }

    pub fn read_scalar<T: H5Type>(&self, loc: &Location, name: &str) -> Result<T> {
        self.h5(loc.attr(name).and_then(|a| a.read_scalar()))
    }

    /// A fixed-size dataset of `shape` holding `data` in row-major order.
    pub fn write_array<T: H5Type>(
        &self,
        group: &Group,
        name: &str,
        data: &[T],
        shape: &[usize],
    ) -> Result<()> {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        self.h5(group
            .new_dataset::<T>()
            .shape(shape.to_vec())
            .create(name)
            .and_then(|d| d.write_raw(data)))
    }

    /// The dataset's elements in row-major order, and its shape.
    pub fn read_array<T: H5Type>(&self, group: &Group, name: &str) -> Result<(Vec<T>, Vec<usize>)> {
        let dataset = self.h5(group.dataset(name))?;
        let data = self.h5(dataset.read_raw())?;
        Ok((data, dataset.shape()))
    }

    /// A dataset that grows along its first axis, starting empty; each row has the shape
    /// `row` (empty for a scalar per row).
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
