//! Runtime-owned data: tiles, and the replica bookkeeping of DESIGN §2.3.
//!
//! A [`Tile`] is a column-major block of elements owned by the runtime. Its handle is a
//! cheap `Arc` clone; tasks reach its elements only through the views they are given.
//!
//! # Invariants
//! 1. Element `(i, j)` lives at `host[i + j * ld]`, `ld >= rows` (the leading dimension
//!    may be padded: faer is slow on power-of-two strides).
//! 2. Every read or write of the elements happens inside a task that declared it, so the
//!    tracker orders all of them: no two tasks use the same element unless both read.
//! 3. `replicas` records which memory spaces hold the current contents. The host replica
//!    is the only one today; a write by a processor in space `S` leaves only `S` valid,
//!    and a task placed in space `S` must find its inputs valid there (a device backend
//!    copies them in first).

use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ndarray::{Array2, ArrayView2};

use super::buffers::{self, Fill};
use super::deps::{DataObject, Mode};
use super::processor::MemorySpace;
use crate::datadeps::access::{sealed::Sealed, KeepAlive, ReadTarget, Target, WriteTarget};
use crate::datadeps::raw::RawParts;
use crate::error::Result;
use crate::sync::AtomicU8;

/// Which memory spaces hold a valid replica (a bit per space).
#[derive(Debug)]
pub(crate) struct Replicas {
    valid: AtomicU8,
}

impl Replicas {
    fn bit(space: MemorySpace) -> u8 {
        match space {
            MemorySpace::Host => 1,
        }
    }

    pub(crate) fn host_only() -> Self {
        Replicas {
            valid: AtomicU8::new(Self::bit(MemorySpace::Host)),
        }
    }

    /// Is the replica in `space` current?
    pub(crate) fn is_valid(&self, space: MemorySpace) -> bool {
        self.valid.load(Ordering::Acquire) & Self::bit(space) != 0
    }

    /// Records an access from `space`: a write leaves only `space` valid.
    pub(crate) fn on_access(&self, space: MemorySpace, mode: Mode) {
        debug_assert!(
            !mode.reads() || self.is_valid(space),
            "reading a stale replica in {space:?}"
        );
        if mode.writes() {
            self.valid.store(Self::bit(space), Ordering::Release);
        }
    }
}

struct TileData<T> {
    object: DataObject,
    rows: usize,
    cols: usize,
    ld: usize,
    /// `ld * cols` initialised elements from [`buffers::allocate`], released in `Drop`.
    /// Kept as a raw pointer so that no reference to the whole buffer ever coexists with
    /// the tasks' views.
    host: *mut T,
    /// `buffers::recyclable::<T>()`, for `Drop` (which cannot ask: `T` need not be `'static`).
    recycle: bool,
    replicas: Replicas,
}

// SAFETY: the elements are only reached through views handed to tasks, and the dependency
// tracker never lets two tasks use the same element unless both only read (invariant 2).
// `T: Send + Sync` because views move to and are shared between worker threads.
unsafe impl<T: Send + Sync> Sync for TileData<T> {}
// SAFETY: as above; the buffer is owned (freed by whoever drops the last handle).
unsafe impl<T: Send + Sync> Send for TileData<T> {}

impl<T> Drop for TileData<T> {
    fn drop(&mut self) {
        let len = self.ld * self.cols;
        // SAFETY: `host` came from `buffers::allocate::<T>(len)` (the only constructor,
        // `Tile::allocate`), and this is the last owner: no task holds a view any more
        // (each holds a handle).
        unsafe { buffers::release(NonNull::new_unchecked(self.host), len, self.recycle) };
    }
}

/// A runtime-owned, column-major block of elements, usable as a task access
/// (`In(tile)`, `InOut(LowerTriangular(tile))`, …). Cloning the handle does not copy data.
pub struct Tile<T> {
    inner: Arc<TileData<T>>,
}

impl<T> Clone for Tile<T> {
    fn clone(&self) -> Self {
        Tile {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Tile<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tile")
            .field("rows", &self.inner.rows)
            .field("cols", &self.inner.cols)
            .finish()
    }
}

impl<T: Copy + Send + Sync + 'static> Tile<T> {
    /// A `rows × cols` tile with leading dimension `ld >= rows`, every element `value`.
    pub fn filled(rows: usize, cols: usize, ld: usize, value: T) -> Self {
        Self::allocate(rows, cols, ld, Fill::Value(value))
    }

    /// A tile whose elements are valid but unspecified (recycled memory): for results that
    /// tasks overwrite entirely before anything reads them.
    pub(crate) fn for_overwrite(rows: usize, cols: usize, ld: usize) -> Self
    where
        T: crate::Scalar,
    {
        if buffers::recyclable::<T>() {
            Self::allocate(rows, cols, ld, Fill::Stale)
        } else {
            Self::filled(rows, cols, ld, T::zero())
        }
    }

    fn allocate(rows: usize, cols: usize, ld: usize, fill: Fill<T>) -> Self {
        assert!(
            ld >= rows.max(1),
            "leading dimension {ld} is smaller than the {rows} rows"
        );
        let len = ld.checked_mul(cols).expect("tile too large");
        let host = buffers::allocate(len, fill).as_ptr();
        Tile {
            inner: Arc::new(TileData {
                object: DataObject::new(rows),
                rows,
                cols,
                ld,
                host,
                recycle: buffers::recyclable::<T>(),
                replicas: Replicas::host_only(),
            }),
        }
    }

    /// A `rows × cols` tile of zeros (leading dimension `rows`).
    pub fn zeros(rows: usize, cols: usize) -> Self
    where
        T: num_traits::Zero,
    {
        Self::filled(rows, cols, rows.max(1), T::zero())
    }

    /// A tile holding a copy of `a`, with leading dimension `ld >= a.nrows()`.
    pub fn from_ndarray(a: &ArrayView2<'_, T>, ld: usize) -> Self
    where
        T: num_traits::Zero,
    {
        let (rows, cols) = a.dim();
        let tile = Self::filled(rows, cols, ld, T::zero());
        for ((i, j), x) in a.indexed_iter() {
            // SAFETY: the tile was just created and no task has been given it, so this
            // thread is the only one that can reach its elements; `i + j * ld` is in
            // bounds of the `ld * cols` buffer because `i < rows <= ld` and `j < cols`.
            unsafe { *tile.inner.host.add(i + j * ld) = *x };
        }
        tile
    }

    /// Shape `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.inner.rows, self.inner.cols)
    }

    /// The leading dimension (distance between columns).
    pub fn leading_dim(&self) -> usize {
        self.inner.ld
    }

    /// Does `space` hold the current contents?
    pub fn is_valid_in(&self, space: MemorySpace) -> bool {
        self.inner.replicas.is_valid(space)
    }

    /// A copy of the contents, once every task submitted before that writes the tile has
    /// finished. Fails if such a task failed.
    pub fn to_ndarray(&self) -> Result<Array2<T>> {
        crate::datadeps::spawn_here(
            crate::TaskOptions::named("to_ndarray"),
            (crate::datadeps::In(self.clone()),),
            |(v,)| v.to_owned(),
        )
        .wait()
    }

    /// Do two handles name the same tile?
    pub fn same_tile(&self, other: &Tile<T>) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl<T> Sealed for Tile<T> {}

impl<T: Send + Sync + 'static> KeepAlive for Tile<T> {
    fn on_access(&self, mode: Mode) {
        self.inner.replicas.on_access(MemorySpace::Host, mode);
    }
}

impl<T: Send + Sync + 'static> Target for Tile<T> {
    type Elem = T;
    type Dim = ndarray::Ix2;
    type Keep = Tile<T>;
    fn object(&self) -> &DataObject {
        &self.inner.object
    }
    fn parts(&self) -> RawParts<T> {
        let d = &*self.inner;
        RawParts::whole(d.host, &[d.rows, d.cols], &[1, d.ld as isize])
    }
    fn keep(self) -> Self::Keep {
        self
    }
}

impl<T: Send + Sync + 'static> ReadTarget for Tile<T> {}
impl<T: Send + Sync + 'static> WriteTarget for Tile<T> {}
