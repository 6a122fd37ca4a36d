//! `.npy` files, read and written tile by tile: a file larger than the host memory budget
//! can be read, factored and written back under it.
//!
//! The header is parsed and formatted by `ndarray-npy`. The data is moved by one task per
//! tile, with positioned reads and writes (`pread`/`pwrite`) of the file: no shared
//! cursor, so tiles move in parallel, and each tile task holds only its own tile (under a
//! budget, the runtime spills the tiles read so far while later ones are read).
//!
//! - Fortran order (column-major, as tiles are): each column of a tile is one contiguous
//!   run of the file, read or written in place.
//! - C order (row-major): each row of a tile is one contiguous run, staged through a
//!   buffer of one tile row.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use ndarray_npy::npy::header::{Header, Layout};
use py_literal::Value as PyValue;

use super::partition::Partition;
use super::DArray;
use crate::datadeps::{spawn_with, In, Out};
use crate::error::{Error, Result};
use crate::runtime::TaskOptions;
use crate::Scalar;

/// Where the elements are: the data's offset in the file and the element order.
#[derive(Clone, Copy)]
struct Data {
    offset: u64,
    rows: usize,
    cols: usize,
    fortran: bool,
}

impl Data {
    /// Byte offset of element `(i, j)`.
    fn at<T>(&self, i: usize, j: usize) -> u64 {
        let index = if self.fortran {
            i + j * self.rows
        } else {
            i * self.cols + j
        };
        self.offset + (index * std::mem::size_of::<T>()) as u64
    }
}

/// The bytes of `v`'s elements.
fn bytes_of<T: Scalar>(v: &[T]) -> &[u8] {
    // SAFETY: `T` is `f32` or `f64` (the `Scalar` implementors), plain old data with no
    // padding: every element is `size_of::<T>()` initialised bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

/// `v`'s elements as bytes to overwrite.
fn bytes_of_mut<T: Scalar>(v: &mut [T]) -> &mut [u8] {
    // SAFETY: as in `bytes_of`; moreover every bit pattern is a valid `f32`/`f64`, so any
    // bytes written leave valid elements.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

/// Waits for the tile tasks and returns the first error; `distributed`: the tiles are
/// dealt over the ranks, each read or written by its own rank, and every rank returns the
/// same error (collective).
fn wait_all(
    path: &Path,
    distributed: bool,
    futures: Vec<crate::datadeps::TaskFuture<Result<()>>>,
) -> Result<()> {
    let encode = |r: &Result<()>| match r {
        Ok(()) => Vec::new(),
        Err(e) => reason(e).into_bytes(),
    };
    let decode = |b: &[u8]| {
        Some(match b.is_empty() {
            true => Ok(()),
            false => Err(Error::file(path, String::from_utf8_lossy(b))),
        })
    };
    let results = super::settle::settle("npy", distributed, futures, encode, decode);
    results.into_iter().try_for_each(|r| r.and_then(|r| r))
}

/// What an error says beyond the file's name (`Error::File`'s reason), to be named again.
fn reason(e: &Error) -> String {
    match e {
        Error::File { reason, .. } => reason.clone(),
        e => e.to_string(),
    }
}

/// Under MPI, for a distributed array's file (collective): every rank's outcome `mine`
/// gathered, and the first error of any rank returned on every rank; otherwise `mine`.
fn agree(path: &Path, distributed: bool, mine: Result<()>) -> Result<()> {
    #[cfg(feature = "mpi")]
    if distributed {
        use crate::runtime::distributed;
        let world = distributed::world().expect("a distributed array exists only after init");
        let mut parts = vec![None; world.size()];
        parts[world.rank()] = Some(mine.map(|()| Vec::new()).map_err(|e| reason(&e)));
        return distributed::gather_parts(parts)?
            .into_iter()
            .try_for_each(|p| p.map(|_| ()).map_err(|reason| Error::file(path, reason)));
    }
    let _ = (path, distributed);
    mine
}

/// `first` on rank 0 only under MPI (for a distributed array's file), its outcome given to
/// every rank (collective); otherwise `first` here.
fn on_rank_zero(path: &Path, distributed: bool, first: impl FnOnce() -> Result<()>) -> Result<()> {
    let zero = !distributed || crate::runtime::distributed::world().is_none_or(|w| w.rank() == 0);
    let mine = if zero { first() } else { Ok(()) };
    agree(path, distributed, mine)
}

impl<T: Scalar> DArray<T> {
    /// Reads a 2-D `.npy` file of `T` (`<f8` for `f64`, `<f4` for `f32`; C or Fortran
    /// order), cut by `partition`, one task per tile. Under a host memory budget the file
    /// may be larger than the budget: tiles read first are spilled while later ones are
    /// read. Under MPI every rank names the same file (on a file system they all see) and
    /// reads only its own tiles. A missing, truncated or non-npy file, another element type or a number of
    /// dimensions other than 2 is `Err(Error::File)` naming the file.
    ///
    /// ```
    /// use mosaic::prelude::*;
    /// let path = std::env::temp_dir().join("mosaic-doc-read.npy");
    /// let a = DArray::<f64>::rand_seeded(Blocks(64, 64), 100, 80, 1);
    /// a.write_npy(&path)?;
    /// let b = DArray::<f64>::read_npy(&path, AutoBlocks)?;
    /// assert_eq!(a.to_ndarray(), b.to_ndarray());
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), mosaic::Error>(())
    /// ```
    pub fn read_npy(path: impl AsRef<Path>, partition: impl Partition) -> Result<Self> {
        let path = path.as_ref();
        let mut file = File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
        let header = Header::from_reader(&mut file)
            .map_err(|e| Error::file(path, format!("not a valid .npy file: {e}")))?;
        let descr = match &header.type_descriptor {
            PyValue::String(s) => s.clone(),
            other => other.to_string(),
        };
        let want = T::NPY_DESCR;
        if descr.as_str() != want && !(descr.ends_with(&want[1..]) && descr.starts_with('|')) {
            return Err(Error::file(
                path,
                format!(
                    "element type {descr}, expected {want} for {}",
                    std::any::type_name::<T>()
                ),
            ));
        }
        let [rows, cols] = header.shape[..] else {
            return Err(Error::file(
                path,
                format!(
                    "{} dimensions (shape {:?}), expected 2",
                    header.shape.len(),
                    header.shape
                ),
            ));
        };
        let offset = file
            .stream_position()
            .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        let need = offset + (rows * cols * std::mem::size_of::<T>()) as u64;
        let len = file
            .seek(SeekFrom::End(0))
            .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        if len < need {
            return Err(Error::file(
                path,
                format!("truncated: {len} bytes, a {rows}×{cols} {descr} array needs {need}"),
            ));
        }
        let data = Data {
            offset,
            rows,
            cols,
            fortran: header.layout == Layout::Fortran,
        };
        let out = Self::for_overwrite(partition, rows, cols);
        let file = Arc::new(file);
        let mut futures = Vec::with_capacity(out.tiles.len());
        for (i, j) in out.tile_indices() {
            let (r, c) = out.tile_range(i, j);
            let (file, path) = (file.clone(), path.to_path_buf());
            let read = move |(mut t,): (ndarray::ArrayViewMut2<'_, T>,)| -> Result<()> {
                let io = |e: std::io::Error| Error::file(&path, format!("cannot read: {e}"));
                if data.fortran {
                    for (jj, mut col) in t.columns_mut().into_iter().enumerate() {
                        let col = col.as_slice_mut().expect("tile columns are contiguous");
                        file.read_exact_at(bytes_of_mut(col), data.at::<T>(r.start, c.start + jj))
                            .map_err(io)?;
                    }
                } else {
                    let mut row = vec![T::zero(); c.len()];
                    for ii in 0..r.len() {
                        file.read_exact_at(bytes_of_mut(&mut row), data.at::<T>(r.start + ii, c.start))
                            .map_err(io)?;
                        t.row_mut(ii).assign(&ndarray::ArrayView1::from(&row[..]));
                    }
                }
                Ok(())
            };
            futures.push(spawn_with(
                TaskOptions::named("read_npy"),
                (Out(out.tile(i, j)),),
                read,
            ));
        }
        wait_all(path, out.is_distributed(), futures)?;
        Ok(out)
    }

    /// Writes the matrix to a 2-D `.npy` file (Fortran order, `<f8`/`<f4`), one task per
    /// tile, replacing the file. Waits for the tiles' writers first; returns their error
    /// if one failed, or `Err(Error::File)` naming the file if it cannot be written. Under
    /// MPI (collective) every rank names the same file, on a file system they all see:
    /// rank 0 creates it, each rank writes its own tiles, and every rank returns once the
    /// whole file is written.
    pub fn write_npy(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let (rows, cols) = self.shape();
        let header = Header {
            type_descriptor: PyValue::String(T::NPY_DESCR.to_owned()),
            layout: Layout::Fortran,
            shape: vec![rows, cols],
        };
        let head = header
            .to_bytes()
            .map_err(|e| Error::file(path, format!("cannot format the header: {e}")))?;
        let total = head.len() as u64 + (rows * cols * std::mem::size_of::<T>()) as u64;
        // Under MPI one shared file: rank 0 makes it (header, length), then every rank
        // writes its own tiles into it.
        let distributed = self.is_distributed();
        on_rank_zero(path, distributed, || {
            let file = File::create(path).map_err(|e| Error::file(path, format!("cannot create: {e}")))?;
            file.write_all_at(&head, 0)
                .and_then(|()| file.set_len(total))
                .map_err(|e| Error::file(path, format!("cannot write: {e}")))
        })?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::file(path, format!("cannot open for writing: {e}")))?;
        let data = Data {
            offset: head.len() as u64,
            rows,
            cols,
            fortran: true,
        };
        let file = Arc::new(file);
        let mut futures = Vec::with_capacity(self.tiles.len());
        for (i, j) in self.tile_indices() {
            let (r, c) = self.tile_range(i, j);
            let (file, path) = (file.clone(), path.to_path_buf());
            let write = move |(t,): (ndarray::ArrayView2<'_, T>,)| -> Result<()> {
                for (jj, col) in t.columns().into_iter().enumerate() {
                    let col = col.as_slice().expect("tile columns are contiguous");
                    file.write_all_at(bytes_of(col), data.at::<T>(r.start, c.start + jj))
                        .map_err(|e| Error::file(&path, format!("cannot write: {e}")))?;
                }
                Ok(())
            };
            futures.push(spawn_with(
                // Under MPI, on the rank holding the tile.
                TaskOptions::named("write_npy").in_place(),
                (In(self.tile(i, j)),),
                write,
            ));
        }
        wait_all(path, distributed, futures)?;
        let synced = file
            .sync_data()
            .map_err(|e| Error::file(path, format!("cannot write: {e}")));
        // Every rank's tiles are in the file before any rank returns, and every rank
        // returns the same outcome.
        agree(path, distributed, synced)
    }
}
