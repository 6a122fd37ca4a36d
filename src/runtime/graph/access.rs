//! A task's accesses as the runtime sees them: which object, how (the mode), which
//! elements (the footprint) and where those sit in the object's storage (the geometry):
//! offsets, lengths and strides in elements, and the element size. No pointer: the base
//! pointer is resolved in the memory space the task is placed in, when it starts.

use std::ptr::NonNull;
use std::sync::Arc;

use super::footprint::Footprint;
use super::mode::Mode;
use super::object::DataObject;
use crate::error::{Error, Result};
use crate::runtime::memory;
use crate::runtime::memory::replica::Contents;
use crate::runtime::memory::MemorySpace;

/// The base pointers of a task's accesses, in declaration order.
pub(crate) type Bases = smallvec::SmallVec<[NonNull<u8>; 4]>;

/// Where the elements of one access are, relative to the base of the object's storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Elements from the base to view index 0 (on every axis).
    pub offset: isize,
    /// Number of view axes (1 or 2).
    pub ndim: usize,
    /// Length of each view axis (unused axes: 1).
    pub len: [usize; 2],
    /// Distance in elements between neighbours along each view axis (may be negative).
    pub stride: [isize; 2],
    /// Size of one element in bytes.
    pub elem_size: usize,
}

/// How an access record holds its data object.
#[derive(Debug)]
pub enum ObjectRef {
    /// A runtime-owned object (a tile): the record keeps it alive until the task is done.
    Shared(Arc<DataObject>),
    /// An object that outlives the task by construction: a region's bound array, dropped
    /// with its region, which waits for every task of its own first.
    Scoped(NonNull<DataObject>),
}

// SAFETY: `DataObject` is `Send + Sync`; a `Scoped` pointer is only dereferenced while the
// object is alive (the variant's invariant: its region waits for the task, and the task's
// records are cleared before it is counted finished), so moving or sharing the reference
// across threads is as sound as moving or sharing an `&DataObject`.
unsafe impl Send for ObjectRef {}
// SAFETY: as above.
unsafe impl Sync for ObjectRef {}

impl std::ops::Deref for ObjectRef {
    type Target = DataObject;
    fn deref(&self) -> &DataObject {
        match self {
            ObjectRef::Shared(object) => object,
            // SAFETY: the object outlives the record (the variant's invariant above).
            ObjectRef::Scoped(object) => unsafe { object.as_ref() },
        }
    }
}

impl ObjectRef {
    /// Do two references name the same object?
    pub(crate) fn same(&self, other: &ObjectRef) -> bool {
        std::ptr::eq::<DataObject>(&**self, &**other)
    }
}

/// One declared access of a task.
#[derive(Debug)]
pub struct AccessRecord {
    pub(crate) object: ObjectRef,
    pub(crate) mode: Mode,
    pub(crate) footprint: Footprint,
    pub(crate) geometry: Geometry,
}

impl AccessRecord {
    /// Does the access need the object's current contents in its space? Every read does,
    /// and so does a write of part of the object (the rest must stay current).
    pub(crate) fn contents(&self) -> Contents {
        if self.mode.reads() || self.footprint != Footprint::Whole {
            Contents::Needed
        } else {
            Contents::Overwritten
        }
    }
}

/// What a task's closure is given when it starts: its accesses, in declaration order,
/// each with the base pointer of the object's replica in the task's memory space, and
/// what runs it.
#[derive(Debug)]
pub struct Granted<'a> {
    pub(crate) accesses: &'a [AccessRecord],
    pub(crate) bases: &'a [NonNull<u8>],
    pub(crate) exec: Exec,
}

/// What runs a task, as its body needs to know.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Exec {
    /// A thread of this process on host-addressable memory: a CPU worker, or a simulated
    /// device's executor (whose replicas are buffers of this process). The bases are
    /// addresses the task may dereference.
    Host,
    /// A CUDA device's executor thread: the bases are device addresses, which the host
    /// must never dereference; kernels go on the launch's stream.
    #[cfg(feature = "cuda")]
    Cuda(crate::backend::cuda::Launch),
}

impl Exec {
    /// Are the bases host addresses?
    pub(crate) fn is_host(self) -> bool {
        matches!(self, Exec::Host)
    }
}

#[cfg(feature = "cuda")]
impl Granted<'_> {
    /// The accesses as device tiles, for a task on a CUDA device: each a column-major
    /// block (unit row stride) at its base plus its offset, with its column stride as the
    /// leading dimension.
    pub(crate) fn device_tiles(&self) -> smallvec::SmallVec<[crate::backend::cuda::DeviceTile; 4]> {
        self.accesses
            .iter()
            .zip(self.bases)
            .map(|(a, &base)| {
                let g = &a.geometry;
                assert!(
                    g.ndim == 2 && (g.stride[0] == 1 || g.len[0] <= 1) && g.stride[1] >= g.len[0] as isize,
                    "a CUDA kernel needs column-major tiles, not {g:?}"
                );
                let at = base.as_ptr().wrapping_offset(g.offset * g.elem_size as isize);
                crate::backend::cuda::DeviceTile {
                    ptr: NonNull::new(at).expect("a device address is not 0"),
                    rows: g.len[0],
                    cols: g.len[1],
                    ld: g.stride[1].max(1) as usize,
                }
            })
            .collect()
    }
}

/// Acquires every access of a task in `space` (`memory/replica.rs`, steps 1 and 2). On a
/// failure, releases those already acquired (recording no write) and returns it.
///
/// Under a budget of that space, all or nothing: when a replica cannot be made resident because
/// the rest of memory is pinned by other running tasks, the task releases what it holds
/// and waits for a change before trying again, so no two tasks can each hold part of
/// what the other needs. A task whose runtime-owned data alone is over the limit fails
/// at once with `OutOfMemory`.
pub(crate) fn acquire_all(accesses: &[AccessRecord], space: MemorySpace) -> Result<Bases> {
    let budget = memory::budget::of(space.index());
    if let Some(limit) = budget.limit() {
        let needed = owned_bytes(accesses);
        if needed > limit {
            return Err(Error::OutOfMemory { space, needed, limit });
        }
    }
    match try_acquire_all(accesses, space) {
        Err(Error::OutOfMemory { .. }) if budget.limit().is_some() => {}
        r => return r,
    }
    // Short of memory: one task at a time retries (others queue here holding nothing), so
    // two tasks that each need most of the budget cannot keep taking half of it from one
    // another. Running tasks finish and unpin, so the one retrying gets its turn.
    let _turn = ADMISSION.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        match try_acquire_all(accesses, space) {
            Err(Error::OutOfMemory { .. }) if budget.limit().is_some_and(|l| owned_bytes(accesses) <= l) => {
                // A change between the failure and here is picked up at the timeout.
                budget.wait(budget.changes(), std::time::Duration::from_millis(5));
            }
            r => return r,
        }
    }
}

/// The turn of tasks that retry for memory (see [`acquire_all`]).
static ADMISSION: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The bytes of the distinct runtime-owned objects a task accesses.
fn owned_bytes(accesses: &[AccessRecord]) -> usize {
    let mut total = 0;
    for (i, a) in accesses.iter().enumerate() {
        if a.object.is_owned() && !accesses[..i].iter().any(|b| b.object.same(&a.object)) {
            total += a.object.bytes();
        }
    }
    total
}

fn try_acquire_all(accesses: &[AccessRecord], space: MemorySpace) -> Result<Bases> {
    let mut bases = Bases::new();
    for (i, a) in accesses.iter().enumerate() {
        match a.object.acquire(space, a.contents()) {
            Ok(base) => bases.push(base),
            Err(e) => {
                for earlier in &accesses[..i] {
                    earlier.object.release(space, Mode::Read);
                }
                return Err(e);
            }
        }
    }
    Ok(bases)
}

/// Releases every access of a task that ran in `space` (step 3): its writes make new
/// versions. Called whether the closure returned or panicked (it may have written).
pub(crate) fn release_all(accesses: &[AccessRecord], space: MemorySpace) {
    for a in accesses {
        a.object.release(space, a.mode);
    }
    memory::budget::of(space.index()).notify();
}

/// Counts a finished task's accesses off; returns the bytes of the objects it was the
/// last unfinished task to access.
pub(crate) fn dequeue_all(accesses: &[AccessRecord]) -> usize {
    accesses
        .iter()
        .filter(|a| a.object.dequeue())
        .map(|a| a.object.bytes())
        .sum()
}

#[cfg(all(test, feature = "cuda", not(loom)))]
mod tests {
    use super::*;
    use crate::runtime::footprint::Footprint;

    fn record(object: &Arc<DataObject>, geometry: Geometry) -> AccessRecord {
        AccessRecord {
            object: ObjectRef::Shared(object.clone()),
            mode: Mode::Read,
            footprint: Footprint::Whole,
            geometry,
        }
    }

    #[test]
    fn cuda_device_tiles_follow_each_access_geometry() {
        let object = Arc::new(DataObject::for_tests(16));
        // A whole 6×4 tile with leading dimension 8, and its 3×2 block at (2, 1).
        let whole = Geometry {
            offset: 0,
            ndim: 2,
            len: [6, 4],
            stride: [1, 8],
            elem_size: 8,
        };
        let block = Geometry {
            offset: 2 + 8,
            len: [3, 2],
            ..whole
        };
        let accesses = [record(&object, whole), record(&object, block)];
        let base = NonNull::new(0x1000 as *mut u8).unwrap();
        let granted = Granted {
            accesses: &accesses,
            bases: &[base, base],
            exec: Exec::Host,
        };
        let tiles = granted.device_tiles();
        assert_eq!(
            (tiles[0].ptr, tiles[0].rows, tiles[0].cols, tiles[0].ld),
            (base, 6, 4, 8)
        );
        let at = NonNull::new((0x1000 + 10 * 8) as *mut u8).unwrap();
        assert_eq!(
            (tiles[1].ptr, tiles[1].rows, tiles[1].cols, tiles[1].ld),
            (at, 3, 2, 8)
        );
    }

    #[test]
    #[should_panic(expected = "column-major")]
    fn cuda_device_tiles_refuse_a_transposed_view() {
        let object = Arc::new(DataObject::for_tests(16));
        let transposed = Geometry {
            offset: 0,
            ndim: 2,
            len: [4, 6],
            stride: [8, 1],
            elem_size: 8,
        };
        let accesses = [record(&object, transposed)];
        let base = NonNull::new(0x1000 as *mut u8).unwrap();
        let granted = Granted {
            accesses: &accesses,
            bases: &[base],
            exec: Exec::Host,
        };
        let _ = granted.device_tiles();
    }
}
