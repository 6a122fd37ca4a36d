//! One CUDA device as the runtime uses it: [`Gpu`] owns the device's primary context, its
//! streams, one cuBLAS handle and one cuSOLVER state per compute stream, the pinned
//! staging buffers of host↔device copies, and the NVRTC kernel modules loaded on it.
//!
//! # Streams
//! Streams are named by index (`stream: usize` in every method):
//! - `0..COMPUTE_STREAMS`: compute streams. Kernels run there; each has its own cuBLAS
//!   handle and cuSOLVER handle bound to it, so that kernels on different compute streams
//!   overlap.
//! - [`H2D_STREAM`] and [`D2H_STREAM`]: one copy stream per direction, so that transfers
//!   overlap kernels (and each other). [`Gpu::to_device`] and [`Gpu::to_host`] use them.
//! - a private memory stream on which allocations, zeroing and frees are ordered.
//!
//! Streams are not ordered with one another on the device. The runtime orders them from
//! the host: a copy returns once its copy stream has run it, and a task's executor waits
//! for its compute stream ([`Launch::finish`], [`Gpu::synchronize`]) before the task's data
//! is released to the next task or copy.
//!
//! # Device memory
//! Device memory is handled as raw pointers (`NonNull<u8>`), which the host never
//! dereferences. A tile's device replica follows these invariants, which the kernels in
//! `blas.rs` and `solver.rs` rely on:
//! 1. it is the byte image of the tile's host replica: column-major, element `(i, j)` at
//!    `ptr + (i + j·ld)·size_of::<T>()` with the host's (padded) leading dimension `ld`, so
//!    that a transfer is one contiguous copy ([`Gpu::upload`], [`Gpu::download`]) and a
//!    task's view geometry means the same in every memory space;
//! 2. the allocation is aligned to 256 bytes;
//! 3. an empty tile (0 rows or 0 columns) has no allocation: its pointer is dangling and
//!    no kernel or copy touches it.
//!
//! [`DeviceTile`] is the view kernels take; [`Launch`] says where a task's kernels go.
//!
//! # Copies: pinned staging
//! A copy from pageable host memory is slow and synchronous in the driver, so copies go
//! through pinned staging buffers, two per direction (4 MiB each, allocated at first
//! use), held under one lock per direction for the whole copy:
//! 1. the columns are cut into chunks that fit one staging buffer; chunk `k` uses buffer
//!    `k % 2`;
//! 2. host→device: wait for the event recorded after the DMA that last read buffer `k % 2`
//!    (chunk `k − 2`), `memcpy` chunk `k` into it (packed: pitch = width), enqueue a 2-D
//!    copy (`cuMemcpy2DAsync`) from it to the device replica (pitch = its `ld`) on
//!    [`H2D_STREAM`], record the buffer's event. The `memcpy` of chunk `k + 1` overlaps the
//!    DMA of chunk `k`. The call returns after synchronizing the stream;
//! 3. device→host: enqueue the DMA of chunk `k` into buffer `k % 2` on [`D2H_STREAM`] and
//!    record its event, then wait for chunk `k − 1`'s event and `memcpy` it out of the
//!    other buffer: the `memcpy` of chunk `k − 1` overlaps the DMA of chunk `k`. The call
//!    returns once the last chunk is out;
//! 4. a single column wider than a staging buffer falls back to one direct 2-D copy from or
//!    to pageable memory (correct, slower);
//! 5. on an error, the stream is synchronized before the lock is released, so no DMA still
//!    touches a staging buffer that the next copy fills.
//!
//! The host→device buffers are write-combined (the host only writes them); the
//! device→host ones are not (the host reads them back).

use std::fmt;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cudarc::cublas::CudaBlas;
use cudarc::driver::sys::{self, CUdeviceptr};
use cudarc::driver::{result, CudaContext, CudaModule, CudaStream, DriverError};

use super::blas::to_int;
use super::kernels::ModuleCache;
use super::solver::SolverState;

mod copy;

use copy::Staging;

/// The number of compute streams of each device (streams `0..COMPUTE_STREAMS`).
pub(crate) const COMPUTE_STREAMS: usize = 4;
/// The stream of host→device copies.
pub(crate) const H2D_STREAM: usize = COMPUTE_STREAMS;
/// The stream of device→host copies.
pub(crate) const D2H_STREAM: usize = COMPUTE_STREAMS + 1;
/// Every stream an index names: the compute streams, then the two copy streams.
const STREAMS: usize = COMPUTE_STREAMS + 2;

/// The size of one pinned staging buffer, hence of one chunk of a copy: small enough that
/// a tile of a few MiB is cut into several chunks (so the `memcpy` and the DMA overlap
/// within one tile), large enough for each DMA to run near the link's bandwidth.
const STAGING_BYTES: usize = 4 << 20;

/// A column-major tile in device memory, the view the cuBLAS and cuSOLVER kernels take:
/// element `(i, j)` is at `ptr + (i + j·ld)·size_of::<T>()`, `ld ≥ rows`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DeviceTile {
    /// The first element, in device memory (dangling for an empty tile).
    pub ptr: NonNull<u8>,
    /// The number of rows.
    pub rows: usize,
    /// The number of columns.
    pub cols: usize,
    /// The leading dimension, in elements.
    pub ld: usize,
}

// SAFETY: a `DeviceTile` is an address in device memory with a shape; the host never
// dereferences it, so moving or sharing one between threads touches no memory. Who may
// use the data it names is the runtime's business (its task dependencies), as for an index.
unsafe impl Send for DeviceTile {}
// SAFETY: as for `Send`: shared references give only the address and the shape.
unsafe impl Sync for DeviceTile {}

impl DeviceTile {
    /// The leading `rows × cols` block of this tile (the triangle a `trsm` uses).
    pub(crate) fn leading(self, rows: usize, cols: usize) -> Self {
        assert!(
            rows <= self.rows && cols <= self.cols,
            "a {rows}×{cols} block of a {}×{} tile",
            self.rows,
            self.cols
        );
        DeviceTile { rows, cols, ..self }
    }

    /// The first element as a typed pointer, for cuBLAS and cuSOLVER.
    pub(crate) fn as_ptr<T>(self) -> *mut T {
        self.ptr.as_ptr().cast()
    }

    /// The leading dimension as cuBLAS and cuSOLVER want it: at least 1, as they require
    /// even of an empty operand (whose `ld` may be 0 and which is never addressed).
    pub(crate) fn ld_int(self) -> i32 {
        assert!(
            self.ld >= self.rows,
            "a {}×{} tile with ld {}",
            self.rows,
            self.cols,
            self.ld
        );
        to_int(self.ld.max(1))
    }
}

/// Where a task's kernels go: a device and one of its compute streams, which the runtime's
/// executor thread for that stream hands to the task it runs (`sched/device.rs`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Launch {
    /// The device.
    pub gpu: &'static Gpu,
    /// A compute stream of it (`< COMPUTE_STREAMS`), used by this executor thread alone.
    pub stream: usize,
}

impl Launch {
    /// Waits until every kernel the task enqueued on the stream has run; `Err` with the
    /// first asynchronous error. The runtime releases a task's data only after this, so
    /// a copy of what it wrote (on a copy stream) starts after the kernels that wrote it.
    pub(crate) fn finish(&self) -> Result<(), String> {
        self.gpu.synchronize(self.stream)
    }
}

/// One CUDA device: context, streams, library handles, staging buffers, kernel modules.
pub(crate) struct Gpu {
    ctx: Arc<CudaContext>,
    /// The compute streams, then [`H2D_STREAM`] and [`D2H_STREAM`].
    streams: Vec<Arc<CudaStream>>,
    /// Where allocations are made and zeroed, and frees are ordered.
    mem: Arc<CudaStream>,
    /// One cuBLAS handle per compute stream, bound to it.
    blas: Vec<Mutex<CudaBlas>>,
    /// One cuSOLVER handle, workspace and info buffer per compute stream.
    solvers: Vec<Mutex<SolverState>>,
    h2d: Mutex<Staging>,
    d2h: Mutex<Staging>,
    kernels: ModuleCache,
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Gpu>();
};

impl fmt::Debug for Gpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gpu")
            .field("ordinal", &self.ctx.ordinal())
            .finish_non_exhaustive()
    }
}

/// A lock whose holder panicked leaves consistent state here (handles, buffers, events):
/// take it anyway.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Gpu {
    /// Opens device `ordinal`: its primary context, [`COMPUTE_STREAMS`] compute streams
    /// with a cuBLAS and a cuSOLVER handle each, the two copy streams. `Err` says why (no
    /// such device, libcublas or libcusolver not found, a driver error).
    pub(crate) fn open(ordinal: usize) -> Result<Gpu, String> {
        let count = super::device_count();
        if ordinal >= count {
            return Err(format!("no CUDA device {ordinal} ({count} found)"));
        }
        libraries_present()?;
        let fail = |what: &'static str| move |e: DriverError| format!("CUDA device {ordinal}: {what}: {e:?}");
        let ctx = CudaContext::new(ordinal).map_err(fail("creating its context"))?;
        // Threads that wait for the device sleep instead of spinning: the executors and
        // the transfer thread must leave the cores to the CPU workers.
        ctx.set_blocking_synchronize()
            .map_err(fail("asking for blocking synchronization"))?;
        let new_stream = || ctx.new_stream().map_err(fail("creating a stream"));
        let streams = (0..STREAMS)
            .map(|_| new_stream())
            .collect::<Result<Vec<_>, _>>()?;
        let mem = new_stream()?;
        let blas = streams[..COMPUTE_STREAMS]
            .iter()
            .map(|s| CudaBlas::new(Arc::clone(s)).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("CUDA device {ordinal}: creating a cuBLAS handle: {e:?}"))?;
        ctx.bind_to_thread().map_err(fail("binding its context"))?;
        let solvers = streams[..COMPUTE_STREAMS]
            .iter()
            .map(|s| SolverState::new(ordinal, Arc::clone(s)).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        let h2d =
            Staging::new(&ctx, sys::CU_MEMHOSTALLOC_WRITECOMBINED).map_err(fail("creating an event"))?;
        let d2h = Staging::new(&ctx, 0).map_err(fail("creating an event"))?;
        let kernels = ModuleCache::default();
        // The kernels the runtime launches, compiled and loaded now: a device whose driver
        // cannot load them is refused here rather than failing its first tasks.
        if !super::nvrtc_present() {
            return Err(format!("CUDA device {ordinal}: libnvrtc not found"));
        }
        for module in super::launch::MODULES_LAUNCHED {
            kernels.get(&ctx, module)?;
        }
        Ok(Gpu {
            ctx,
            streams,
            mem,
            blas,
            solvers,
            h2d: Mutex::new(h2d),
            d2h: Mutex::new(d2h),
            kernels,
        })
    }

    /// The device's ordinal.
    pub(crate) fn ordinal(&self) -> usize {
        self.ctx.ordinal()
    }

    /// Stream `stream`: a compute stream, [`H2D_STREAM`] or [`D2H_STREAM`].
    pub(crate) fn stream(&self, stream: usize) -> &Arc<CudaStream> {
        &self.streams[stream]
    }

    /// The kernel module `name` of `kernels/*.cu`, compiled and loaded at first use.
    pub(crate) fn module(&self, name: &'static str) -> Result<Arc<CudaModule>, String> {
        self.kernels.get(&self.ctx, name)
    }

    /// (free, total) device memory in bytes, as the driver reports it; (0, 0) if it fails.
    pub(crate) fn memory(&self) -> (usize, usize) {
        self.ctx.mem_get_info().unwrap_or((0, 0))
    }

    /// `err` with the device and the operation, as the runtime reports it.
    pub(crate) fn error(&self, what: &str, err: impl fmt::Debug) -> String {
        format!("CUDA device {}: {what}: {err:?}", self.ordinal())
    }

    /// Makes the device's context current on the calling thread (the driver, cuBLAS and
    /// cuSOLVER calls act on the current context; runtime threads come and go).
    pub(crate) fn bind(&self) -> Result<(), String> {
        self.ctx
            .bind_to_thread()
            .map_err(|e| self.error("binding its context", e))
    }

    /// The cuBLAS handle of compute stream `stream`, held for one call.
    pub(crate) fn blas(&self, stream: usize) -> MutexGuard<'_, CudaBlas> {
        lock(&self.blas[stream])
    }

    /// The cuSOLVER state of compute stream `stream`, held for one call.
    pub(crate) fn solver(&self, stream: usize) -> MutexGuard<'_, SolverState> {
        lock(&self.solvers[stream])
    }

    /// `bytes` of device memory, usable from every stream when this returns, zeroed if
    /// `zeroed`, aligned to 256 bytes. A 0-byte request gets a dangling pointer and no
    /// allocation. Freed with [`Gpu::free`] and the same `bytes`. See [`Gpu::try_alloc`]
    /// to tell a full device from other failures.
    pub(crate) fn alloc(&self, bytes: usize, zeroed: bool) -> Result<NonNull<u8>, String> {
        self.try_alloc(bytes, zeroed).map_err(|(_, message)| message)
    }

    /// [`Gpu::alloc`], whose error says (`true`) whether the device was out of memory.
    pub(crate) fn try_alloc(&self, bytes: usize, zeroed: bool) -> Result<NonNull<u8>, (bool, String)> {
        if bytes == 0 {
            return Ok(NonNull::dangling());
        }
        self.bind().map_err(|e| (false, e))?;
        let stream = self.mem.cu_stream();
        let async_alloc = self.ctx.has_async_alloc();
        // SAFETY: allocating has no precondition beyond a current context (bound above) and
        // a live stream (`mem`, owned by `self`); the memory is uninitialised, which is
        // fine for bytes nobody reads before writing (or zeroing, below).
        let dptr = unsafe {
            if async_alloc {
                result::malloc_async(stream, bytes)
            } else {
                result::malloc_sync(bytes)
            }
        }
        .map_err(|e| {
            let full = e.0 == sys::cudaError_enum::CUDA_ERROR_OUT_OF_MEMORY;
            (full, self.error(&format!("allocating {bytes} bytes"), e))
        })?;
        let ready = (|| {
            if zeroed {
                // SAFETY: `dptr` is a fresh allocation of `bytes` bytes, ordered on `mem`
                // after its allocation; nothing else knows it yet.
                unsafe { result::memset_d8_async(dptr, 0, bytes, stream) }?;
            }
            // Stream-ordered memory is usable by other streams once the allocation (and
            // the zeroing) have completed.
            self.mem.synchronize()
        })();
        let ptr = NonNull::new(dptr as usize as *mut u8);
        match (ready, ptr) {
            (Ok(()), Some(ptr)) => Ok(ptr),
            (ready, _) => {
                if let Some(ptr) = ptr {
                    // SAFETY: `ptr` was allocated just above with `bytes` and never handed out.
                    unsafe { self.free(ptr, bytes) };
                }
                Err((
                    false,
                    self.error(&format!("preparing {bytes} bytes"), ready.err()),
                ))
            }
        }
    }

    /// Frees memory from [`Gpu::alloc`]. A failure leaks the memory; the context keeps the
    /// error, and the next call on it that returns a `Result` reports it.
    ///
    /// # Safety
    /// `p` came from `self.alloc(bytes, _)` with this `bytes` and is not freed yet, and no
    /// device work that uses it is queued or running (the streams that used it have been
    /// synchronized, or the memory stream ordered after them).
    pub(crate) unsafe fn free(&self, p: NonNull<u8>, bytes: usize) {
        if bytes == 0 || self.bind().is_err() {
            return;
        }
        let dptr = p.as_ptr() as usize as CUdeviceptr;
        // SAFETY: the caller guarantees that `dptr` is a live allocation of this device's
        // context, made by `alloc` (async when the context has async allocation, as
        // `alloc` chose), and that no queued work uses it, so freeing it at the memory
        // stream's current position (or at once) cannot pull memory from under a kernel.
        let freed = unsafe {
            if self.ctx.has_async_alloc() {
                result::free_async(dptr, self.mem.cu_stream())
            } else {
                result::free_sync(dptr)
            }
        };
        // A failed free leaks the memory. It is not recorded on the context: that would
        // hand the error to whichever unrelated call binds the context next.
        let _ = freed;
    }

    /// Blocks the calling thread until the work enqueued on `stream` is done; reports the
    /// asynchronous errors of that work.
    pub(crate) fn synchronize(&self, stream: usize) -> Result<(), String> {
        let s = &self.streams[stream];
        s.synchronize().map_err(|first| {
            // cudarc reports an error recorded earlier on the context (by any call) when it
            // binds the context, before it waits: wait again, so that nothing enqueued on
            // the stream still runs when this returns, whatever the error was.
            let _ = s.synchronize();
            self.error("synchronizing a stream", first)
        })
    }
}

/// Device memory for the duration of one kernel task on one compute stream (a gathered
/// panel, a pivot array): freed when dropped, after waiting for that stream, so no kernel
/// enqueued on it still uses the memory.
pub(crate) struct Scratch<'g> {
    gpu: &'g Gpu,
    stream: usize,
    ptr: NonNull<u8>,
    bytes: usize,
}

impl<'g> Scratch<'g> {
    /// `bytes` of device memory for work on compute stream `stream`.
    pub(crate) fn new(gpu: &'g Gpu, stream: usize, bytes: usize) -> Result<Self, String> {
        let ptr = gpu.alloc(bytes, false)?;
        Ok(Scratch {
            gpu,
            stream,
            ptr,
            bytes,
        })
    }

    /// The memory's address.
    pub(crate) fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        // Whatever the stream's state, nothing may use the memory after the free: if the
        // wait fails, the memory is leaked rather than freed under a kernel.
        if self.gpu.synchronize(self.stream).is_ok() {
            // SAFETY: from `gpu.alloc(bytes, _)` in `new`, freed once (here), after the
            // only stream that used it has run everything enqueued on it.
            unsafe { self.gpu.free(self.ptr, self.bytes) };
        }
    }
}

impl Drop for Gpu {
    fn drop(&mut self) {
        // Nothing may still run on the device when its buffers and handles go.
        let _ = self.ctx.synchronize();
        for solver in &self.solvers {
            for (ptr, bytes) in lock(solver).take_buffers() {
                // SAFETY: the solver's buffers came from `self.alloc(bytes, _)`, are taken
                // out of it (so freed once), and the context is synchronized: nothing uses them.
                unsafe { self.free(ptr, bytes) };
            }
        }
        let _ = self.mem.synchronize();
    }
}

/// Whether cuBLAS and cuSOLVER can be loaded (cudarc panics on the first call into a
/// library it cannot find).
fn libraries_present() -> Result<(), String> {
    // SAFETY: `is_culib_present` only `dlopen`s the library under its usual names, running
    // the initialisers NVIDIA's libraries expect to run (as in `device_count`).
    let (blas, solver) = unsafe {
        (
            cudarc::cublas::sys::is_culib_present(),
            cudarc::cusolver::sys::is_culib_present(),
        )
    };
    match (blas, solver) {
        (true, true) => Ok(()),
        (false, _) => Err("cannot use CUDA devices: libcublas not found".to_owned()),
        (_, false) => Err("cannot use CUDA devices: libcusolver not found".to_owned()),
    }
}
