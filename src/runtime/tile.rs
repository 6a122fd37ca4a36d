//! Runtime-owned tiles: column-major blocks of elements whose data object the runtime
//! owns (DArray tiles, and tiles users create for their own task graphs).
//!
//! # Invariants
//! 1. Element `(i, j)` lives at `base[i + j * ld]` of every valid replica, `ld >= rows`
//!    (the leading dimension may be padded: faer is slow on power-of-two strides).
//! 2. Every read or write of the elements happens inside a task that declared it (or, for
//!    a tile nobody else has seen yet, its constructor), between the acquire and the
//!    release of that access: the tracker orders all of them.
//! 3. Storage holds `ld * cols` initialised elements. A tile of zeros (or of contents its
//!    first task overwrites) gets its host storage at its first access; other tiles with
//!    the tile. Under a host budget the host replica may be evicted to a spill file and
//!    read back when a task needs it. Storage is freed (or kept for reuse) when the last
//!    handle and the last task holding the tile are gone.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use ndarray::ArrayView2;

use super::graph::{DataObject, Mode};
use super::memory::recycle::{self, Fill};
use super::memory::replica::Contents;
use super::memory::MemorySpace;

/// A runtime-owned, column-major block of elements, usable as a task access
/// (`In(tile)`, `InOut(LowerTriangular(tile))`, …). Cloning the handle does not copy data.
pub struct Tile<T> {
    object: Arc<DataObject>,
    rows: usize,
    cols: usize,
    ld: usize,
    _elem: PhantomData<T>,
}

impl<T> Clone for Tile<T> {
    fn clone(&self) -> Self {
        Tile {
            object: self.object.clone(),
            rows: self.rows,
            cols: self.cols,
            ld: self.ld,
            _elem: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Tile<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tile")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("object", &self.object.id())
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
        if recycle::recyclable::<T>() {
            Self::allocate(rows, cols, ld, Fill::Stale)
        } else {
            Self::filled(rows, cols, ld, T::zero())
        }
    }

    /// Elements of a `rows × cols` tile with leading dimension `ld` (checked).
    fn elements(rows: usize, cols: usize, ld: usize) -> usize {
        assert!(
            ld >= rows.max(1),
            "leading dimension {ld} is smaller than the {rows} rows"
        );
        ld.checked_mul(cols).expect("tile too large")
    }

    fn allocate(rows: usize, cols: usize, ld: usize, fill: Fill<T>) -> Self {
        if !fill.is_zero_bits() {
            return Self::allocate_now(rows, cols, ld, fill);
        }
        // Zeros (or contents a task overwrites first) need no memory until a task touches
        // the tile: a matrix larger than the host budget can be created.
        Self::placeholder(rows, cols, ld)
    }

    /// A tile with no storage until a task touches it (all zero bits then, unless that
    /// task overwrites it): zeros, contents a task overwrites first, and under MPI a tile
    /// whose contents live on another rank (tracked here like any tile, storage allocated
    /// only if a task here receives or writes it).
    pub(crate) fn placeholder(rows: usize, cols: usize, ld: usize) -> Self {
        let layout = recycle::layout::<T>(Self::elements(rows, cols, ld));
        Tile {
            object: DataObject::unmaterialized(rows, layout, recycle::recyclable::<T>()),
            rows,
            cols,
            ld,
            _elem: PhantomData,
        }
    }

    /// A tile with host storage from the start (counted against the budget even over the
    /// limit: the excess is evicted right after).
    fn allocate_now(rows: usize, cols: usize, ld: usize, fill: Fill<T>) -> Self {
        let len = Self::elements(rows, cols, ld);
        let layout = recycle::layout::<T>(len);
        let host = recycle::allocate(len, fill).as_ptr();
        let object = DataObject::owned(rows, host.cast(), layout, recycle::recyclable::<T>());
        Tile {
            object,
            rows,
            cols,
            ld,
            _elem: PhantomData,
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
        // Allocated now (not at a first access): the copy below cannot wait for room.
        let tile = Self::allocate_now(rows, cols, ld, Fill::Value(T::zero()));
        let base = tile
            .object
            .acquire(MemorySpace::Host, Contents::Overwritten)
            .expect("host memory for a new tile (allocated just now)")
            .cast::<T>();
        for ((i, j), x) in a.indexed_iter() {
            // SAFETY: the tile was just created and no task has been given it, so this
            // thread is the only one that can reach its elements (acquired above, released
            // below); `i + j * ld` is in bounds of the `ld * cols` buffer because
            // `i < rows <= ld` and `j < cols`.
            unsafe { *base.as_ptr().add(i + j * ld) = *x };
        }
        tile.object.release(MemorySpace::Host, Mode::Write);
        tile
    }
}

impl<T> Tile<T> {
    /// Shape `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The leading dimension (distance between columns).
    pub fn leading_dim(&self) -> usize {
        self.ld
    }

    /// Does `space` hold the current contents?
    pub fn is_valid_in(&self, space: MemorySpace) -> bool {
        self.object.is_valid_in(space)
    }

    /// Under MPI, makes `rank` the tile's home: where its contents are and its writers run.
    pub(crate) fn set_home(&self, rank: usize) {
        self.object.set_home(rank);
    }

    /// Do two handles name the same tile?
    pub fn same_tile(&self, other: &Tile<T>) -> bool {
        Arc::ptr_eq(&self.object, &other.object)
    }

    /// A tile on an existing data object, for tests of the protocol.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn on_object(object: Arc<DataObject>, rows: usize, cols: usize, ld: usize) -> Self {
        Tile {
            object,
            rows,
            cols,
            ld,
            _elem: PhantomData,
        }
    }

    /// The tile's data object (for tests of the protocol).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn object(&self) -> &Arc<DataObject> {
        &self.object
    }

    /// The tile's data object, taking the handle's reference.
    pub(crate) fn into_object(self) -> Arc<DataObject> {
        self.object
    }

    /// The tile's id: unique in the process (for traces and messages).
    pub fn id(&self) -> u64 {
        self.object.id()
    }

    /// How many times tasks have written the tile so far (each write that finished).
    pub fn version(&self) -> u64 {
        self.object.version()
    }
}
