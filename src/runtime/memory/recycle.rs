//! Tile memory, recycled.
//!
//! Operations allocate tiles for their results and private copies and drop them soon after;
//! the next operation allocates the same sizes again. Fresh memory from the system costs a
//! page fault per 4 KiB page on first touch, a large part of a factorization's private
//! copy (docs/history.md, "Recycled tile memory"). So the buffers of dropped
//! `f32`/`f64` tiles are kept here by size, up to [`LIMIT`] bytes in all, and handed to
//! new tiles whose every element a task overwrites before anything reads it.
//!
//! Only `f32` and `f64` buffers are recycled: every bit pattern is a valid value of either,
//! so a recycled buffer holds valid (stale) values whatever it held before.

use std::alloc::{alloc, alloc_zeroed, dealloc, Layout};
use std::any::TypeId;
use std::collections::BTreeMap;
use std::ptr::NonNull;

use super::budget;
use super::evict;
use super::space::HOST;
use super::transfer;
use crate::error::{Error, Result};
use crate::runtime::memory::MemorySpace;
use crate::sync::{lock, Mutex};

/// At most this many bytes of free buffers are kept.
pub(crate) const LIMIT: usize = 256 << 20;

/// Tile buffers are aligned to a cache line.
const ALIGN: usize = 64;

/// Free buffers by size in bytes, and their total.
struct Free {
    by_size: BTreeMap<usize, Vec<Block>>,
    bytes: usize,
}

/// A free buffer: `size` bytes at `ALIGN`, owned by the pool.
pub(crate) struct Block(pub(crate) NonNull<u8>);

// SAFETY: a `Block` is an owned allocation nobody else references; moving it between
// threads moves the ownership.
unsafe impl Send for Block {}

/// Free buffers kept for reuse, by size, up to `limit` bytes in all. It only moves
/// ownership of blocks around (it never reads, writes or frees them), which is what its
/// loom model checks: every block given to it is handed out, evicted or refused exactly
/// once, and the total kept stays within the limit.
pub(crate) struct Pool {
    free: Mutex<Free>,
    limit: usize,
}

impl Pool {
    pub(crate) fn new(limit: usize) -> Self {
        Pool {
            free: Mutex::new(Free {
                by_size: BTreeMap::new(),
                bytes: 0,
            }),
            limit,
        }
    }

    /// A kept block of exactly `size` bytes, if there is one.
    pub(crate) fn take(&self, size: usize) -> Option<Block> {
        let mut free = lock(&self.free);
        let list = free.by_size.get_mut(&size)?;
        let block = list.pop()?;
        if list.is_empty() {
            free.by_size.remove(&size);
        }
        free.bytes -= size;
        Some(block)
    }

    /// Offers `block` of `size` bytes. Returns the blocks the caller now owns and must
    /// free, with their sizes: those evicted to make room (the newest sizes are the
    /// likeliest to be asked for next: an operation repeated, the next step of a
    /// computation), and `block` itself if it was not kept.
    pub(crate) fn keep(&self, block: Block, size: usize) -> Vec<(Block, usize)> {
        let mut out = Vec::new();
        if size > self.limit {
            out.push((block, size));
            return out;
        }
        let mut free = lock(&self.free);
        while free.bytes + size > self.limit {
            let Some((&other, _)) = free.by_size.iter().find(|(&s, _)| s != size) else {
                break;
            };
            let list = free.by_size.get_mut(&other).expect("found above");
            out.push((list.pop().expect("lists are never empty"), other));
            if list.is_empty() {
                free.by_size.remove(&other);
            }
            free.bytes -= other;
        }
        if free.bytes + size <= self.limit {
            free.bytes += size;
            free.by_size.entry(size).or_default().push(block);
        } else {
            out.push((block, size));
        }
        out
    }

    /// Bytes kept.
    pub(crate) fn bytes(&self) -> usize {
        lock(&self.free).bytes
    }

    /// Bytes kept in blocks of exactly `size` bytes.
    pub(crate) fn bytes_of(&self, size: usize) -> usize {
        lock(&self.free).by_size.get(&size).map_or(0, |l| l.len() * size)
    }

    /// Hands out kept blocks of sizes other than `except`, largest first, until they add
    /// up to `bytes` or none is left: the caller frees them.
    pub(crate) fn drain_except(&self, except: usize, bytes: usize) -> Vec<(Block, usize)> {
        let mut free = lock(&self.free);
        let mut out = Vec::new();
        let mut got = 0;
        while got < bytes {
            let Some(&size) = free.by_size.keys().rev().find(|&&s| s != except) else {
                break;
            };
            let list = free.by_size.get_mut(&size).expect("found above");
            let block = list.pop().expect("lists are never empty");
            if list.is_empty() {
                free.by_size.remove(&size);
            }
            free.bytes -= size;
            got += size;
            out.push((block, size));
        }
        out
    }
}

/// The process's pool. Built on first use (loom's primitives cannot be built in a `static`
/// initialiser, and no loom model allocates tiles).
fn pool() -> &'static Pool {
    static POOL: std::sync::OnceLock<Pool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| Pool::new(LIMIT))
}

/// Bytes of dropped tile buffers kept for reuse (at most [`LIMIT`]).
pub(crate) fn kept_bytes() -> usize {
    pool().bytes()
}

/// Is `T` a type whose buffers are recycled (`f32`, `f64`)?
pub(crate) fn recyclable<T: 'static>() -> bool {
    TypeId::of::<T>() == TypeId::of::<f64>() || TypeId::of::<T>() == TypeId::of::<f32>()
}

/// The layout of a buffer of `len` elements of `T`.
pub(crate) fn layout<T>(len: usize) -> Layout {
    Layout::array::<T>(len)
        .and_then(|l| l.align_to(ALIGN.max(std::mem::align_of::<T>())))
        .expect("tile too large for the address space")
}

/// How a new buffer's elements start out.
pub(crate) enum Fill<T> {
    /// Every element is this value.
    Value(T),
    /// Valid values of no particular kind: a recycled buffer's old contents, or zeros. Only
    /// for recyclable types (see [`recyclable`]).
    Stale,
}

impl<T: Copy> Fill<T> {
    /// Is every byte of the contents zero (or unspecified)?
    pub(crate) fn is_zero_bits(&self) -> bool {
        match self {
            Fill::Value(v) => is_zero_bits(v),
            Fill::Stale => true,
        }
    }
}

/// A buffer of `len` elements of `T` (non-zero size), filled as `fill` says.
///
/// # Panics
/// With `Fill::Stale` for a type that is not recyclable.
pub(crate) fn allocate<T: Copy + 'static>(len: usize, fill: Fill<T>) -> NonNull<T> {
    assert!(
        !matches!(fill, Fill::Stale) || recyclable::<T>(),
        "stale buffers only for f32 and f64"
    );
    let layout = layout::<T>(len);
    if layout.size() == 0 {
        return NonNull::dangling();
    }
    let recycled = if recyclable::<T>() {
        pool().take(layout.size()).map(|b| b.0)
    } else {
        None
    };
    let zero = matches!(fill, Fill::Value(v) if is_zero_bits(&v));
    let ptr = match recycled {
        Some(p) => p.cast::<T>(),
        None => {
            // An eager allocation (a tile filled at creation) cannot wait for room: it is
            // counted now, and the excess over a limit is evicted right after.
            budget::host().charge(layout.size());
            let _ = evict::trim_excess(HOST); // a spill failure here surfaces at the next allocation
            transfer::write_back_if_full();
            // SAFETY: `layout` has a non-zero size (checked above).
            let raw = unsafe {
                if zero || matches!(fill, Fill::Stale) {
                    alloc_zeroed(layout)
                } else {
                    alloc(layout)
                }
            };
            match NonNull::new(raw.cast::<T>()) {
                Some(p) => p,
                None => std::alloc::handle_alloc_error(layout),
            }
        }
    };
    match fill {
        Fill::Value(v) if recycled.is_some() || !zero => {
            for i in 0..len {
                // SAFETY: `ptr` is an allocation of `len` elements (the layout above),
                // owned here; writing needs no initialised contents.
                unsafe { ptr.as_ptr().add(i).write(v) };
            }
        }
        Fill::Value(_) | Fill::Stale => {} // zeroed, or valid old values
    }
    ptr
}

/// Host storage of `layout` for a replica made at a task's start (a reloaded or a first
/// materialized tile), counted against the host budget: a kept block of that size, or
/// fresh memory if it fits under the limit, or after evicting to make room. `zeroed`: every
/// byte zero (else valid old values of a recycled `f32`/`f64` buffer, or zeros).
/// `horizon`: for a prefetch ahead of that task, evict only objects needed after it.
pub(crate) fn allocate_host(layout: Layout, zeroed: bool, horizon: Option<u64>) -> Result<NonNull<u8>> {
    let size = layout.size();
    if size == 0 {
        return Ok(NonNull::<u8>::dangling());
    }
    let budget = budget::host();
    let mut made_room = false;
    loop {
        if let Some(p) = pool().take(size).map(|b| b.0) {
            if zeroed {
                // SAFETY: a kept block of `size` bytes, owned here.
                unsafe { p.as_ptr().write_bytes(0, size) };
            }
            transfer::write_back_if_full();
            return Ok(p);
        }
        if budget.try_charge(size) {
            transfer::write_back_if_full();
            // SAFETY: `layout` has a non-zero size (checked above).
            let raw = unsafe { alloc_zeroed(layout) };
            return match NonNull::new(raw) {
                Some(p) => Ok(p),
                None => std::alloc::handle_alloc_error(layout),
            };
        }
        if made_room || !evict::make_room_before(HOST, size, horizon)? {
            return Err(Error::OutOfMemory {
                space: MemorySpace::Host,
                needed: size,
                limit: budget.limit().unwrap_or(usize::MAX),
            });
        }
        made_room = true;
    }
}

/// Bytes kept for reuse in blocks of exactly `size` bytes.
pub(crate) fn kept_of(size: usize) -> usize {
    pool().bytes_of(size)
}

/// Frees kept blocks of sizes other than `except` worth at least `bytes` (all of them if
/// there are fewer); returns the bytes freed.
pub(crate) fn trim_except(except: usize, bytes: usize) -> usize {
    let mut freed = 0;
    for (block, size) in pool().drain_except(except, bytes) {
        // SAFETY: kept blocks were allocated with `size` bytes at `ALIGN`, and the pool
        // handed their ownership over.
        unsafe { dealloc(block.0.as_ptr(), Layout::from_size_align_unchecked(size, ALIGN)) };
        budget::host().uncharge(size);
        freed += size;
    }
    freed
}

/// Takes back a buffer from [`allocate`] of `len` elements of `T`, holding initialised
/// elements: kept for reuse (when `recycle`, below the limit) or freed.
///
/// # Safety
/// `ptr` came from `allocate::<T>(len, _)`, nobody uses it any more, and `recycle` is
/// `recyclable::<T>()`.
#[cfg(test)]
pub(crate) unsafe fn release<T>(ptr: NonNull<T>, len: usize, recycle: bool) {
    // SAFETY: forwarded: `layout::<T>(len)` is the layout `allocate` used.
    unsafe { release_raw(ptr.cast(), layout::<T>(len), recycle) }
}

/// [`release`] for a buffer known by its layout (the owner has forgotten its type).
///
/// # Safety
/// `ptr` came from `allocate::<T>(len, _)` for a `T` and `len` with
/// `layout::<T>(len) == layout`, nobody uses it any more, and `recycle` is
/// `recyclable::<T>()`.
pub(crate) unsafe fn release_raw(ptr: NonNull<u8>, layout: Layout, recycle: bool) {
    if layout.size() == 0 {
        return;
    }
    let budget = budget::host();
    if !recycle {
        // SAFETY: allocated with this layout (the caller's contract), and not used any more.
        unsafe { dealloc(ptr.as_ptr(), layout) };
        budget.uncharge(layout.size());
        return;
    }
    // Recyclable types (`f32`, `f64`) have alignment ≤ `ALIGN`, so their layouts' is `ALIGN`.
    debug_assert_eq!(layout.align(), ALIGN);
    for (block, size) in pool().keep(Block(ptr), layout.size()) {
        // SAFETY: every block the pool gives back was allocated with `size` bytes at `ALIGN`
        // (recyclable buffers' layouts, whose size is the one they were kept under), and
        // nobody uses it: `ptr` by the caller's contract, evicted blocks because the pool
        // owned them.
        unsafe { dealloc(block.0.as_ptr(), Layout::from_size_align_unchecked(size, ALIGN)) };
        budget.uncharge(size);
    }
}

/// Is every byte of `v` zero (so that zeroed memory already holds it)?
fn is_zero_bits<T: Copy>(v: &T) -> bool {
    // SAFETY: reads the `size_of::<T>()` bytes of a live value; `T: Copy` has no interior
    // mutability to race with, and the bytes are only compared.
    let bytes = unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) };
    bytes.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_of_a_size_are_reused_and_filled_as_asked() {
        let len = 1000 + 17; // a size no other test uses
        let a = allocate::<f64>(len, Fill::Value(2.5));
        // SAFETY: `a` holds `len` initialised elements.
        let first = unsafe { std::slice::from_raw_parts(a.as_ptr(), len) };
        assert!(first.iter().all(|&x| x == 2.5));
        // SAFETY: from `allocate::<f64>(len)`, no longer used.
        unsafe { release(a, len, true) };
        let b = allocate::<f64>(len, Fill::Value(0.0));
        assert_eq!(a, b, "the freed buffer is handed out again");
        // SAFETY: as above.
        assert!(unsafe { std::slice::from_raw_parts(b.as_ptr(), len) }
            .iter()
            .all(|&x| x == 0.0));
        // SAFETY: as above.
        unsafe { release(b, len, true) };
        // f32 of the same byte size shares the list.
        let c = allocate::<f32>(2 * len, Fill::Stale);
        assert_eq!(a.cast::<u8>(), c.cast::<u8>());
        // SAFETY: as above.
        unsafe { release(c, 2 * len, true) };
    }

    #[test]
    fn other_types_are_never_stale_and_not_kept() {
        assert!(!recyclable::<u8>() && recyclable::<f32>());
        let p = allocate::<u8>(64, Fill::Value(7));
        // SAFETY: 64 initialised bytes.
        assert!(unsafe { std::slice::from_raw_parts(p.as_ptr(), 64) }
            .iter()
            .all(|&x| x == 7));
        // SAFETY: from `allocate::<u8>(64)`.
        unsafe { release(p, 64, false) };
        let r = std::panic::catch_unwind(|| allocate::<u8>(8, Fill::Stale));
        assert!(r.is_err());
    }
}
