//! cuSOLVER dense tile kernels on [`DeviceTile`]s, for `f32` and `f64`: `potrf`, `getrf`,
//! and `getrf_tiles` on a panel gathered from a column of tiles (LAPACK's names and
//! contracts). The tiled QR's kernels are not here: they need the compact-WY `T` factors
//! (LAPACK `geqrt`), which cuSOLVER's `geqrf` does not produce; its reflector
//! applications are cuBLAS calls (`qr.rs`), its panels run on the CPUs.
//!
//! Every compute stream has a [`SolverState`]: a cuSOLVER dense handle bound to it, a
//! device workspace, a device `devInfo` and a device pivot buffer. Workspace sizes are
//! asked of cuSOLVER (`*_bufferSize`) once per routine, type and shape and remembered; the
//! buffers only grow, so repeated calls on tiles of one size allocate nothing. A call is
//! enqueued on its stream and returns at once, except where the result must be read back
//! (`potrf`'s and `getrf`'s `devInfo`, `getrf`'s pivots): those synchronize the stream.
//!
//! # Safety (every kernel here)
//! As for `blas.rs`: every tile names live device memory of `gpu` holding `T`s as
//! [`DeviceTile`] says, `stream < COMPUTE_STREAMS`, and while the stream runs the kernel no
//! other device work writes what it reads, nor reads or writes what it writes.

use std::collections::HashMap;
use std::ffi::c_int;
use std::mem::size_of;
use std::ptr::NonNull;
use std::sync::Arc;

use cudarc::cusolver::sys::{self, cublasFillMode_t, cusolverStatus_t};
use cudarc::cusolver::DnHandle;
use cudarc::driver::sys::CUdeviceptr;
use cudarc::driver::{result, CudaStream};

use super::blas::{to_int, Precision};
use super::gpu::{DeviceTile, Gpu, Scratch};
use crate::backend::Uplo;
use crate::Scalar;

/// A device buffer of a solver state: `bytes` at `ptr` (0 and 0 before the first use).
#[derive(Debug, Default)]
struct Buffer {
    ptr: CUdeviceptr,
    bytes: usize,
}

/// Which workspace query: routine, precision and every argument the size may depend on.
type Query = (&'static str, Precision, [usize; 6]);

/// The cuSOLVER state of one compute stream (see the module docs).
#[derive(Debug)]
pub(crate) struct SolverState {
    handle: DnHandle,
    /// The workspace, in bytes; grows to the largest request.
    work: Buffer,
    /// One `int`: the `devInfo` of every call.
    info: Buffer,
    /// `getrf`'s pivots, `int`s; grows to the largest request.
    ipiv: Buffer,
    /// Workspace sizes (elements) already asked of cuSOLVER.
    lwork: HashMap<Query, usize>,
}

impl SolverState {
    /// A cuSOLVER dense handle bound to `stream`, whose context is current. No buffers yet.
    pub(crate) fn new(ordinal: usize, stream: Arc<CudaStream>) -> Result<Self, String> {
        let handle = DnHandle::new(stream)
            .map_err(|e| format!("CUDA device {ordinal}: creating a cuSOLVER handle: {e:?}"))?;
        let (work, info, ipiv) = Default::default();
        Ok(SolverState {
            handle,
            work,
            info,
            ipiv,
            lwork: HashMap::new(),
        })
    }

    /// The device buffers, emptied out of the state, for the `Gpu` to free.
    pub(crate) fn take_buffers(&mut self) -> Vec<(NonNull<u8>, usize)> {
        [&mut self.work, &mut self.info, &mut self.ipiv]
            .into_iter()
            .filter_map(|b| {
                let b = std::mem::take(b);
                NonNull::new(b.ptr as usize as *mut u8).map(|p| (p, b.bytes))
            })
            .collect()
    }

    /// The workspace size (elements) of `query`, asked of cuSOLVER by `ask` the first time.
    fn lwork(
        &mut self,
        gpu: &Gpu,
        query: Query,
        ask: impl FnOnce(sys::cusolverDnHandle_t, &mut c_int) -> cusolverStatus_t,
    ) -> Result<usize, String> {
        if let Some(&n) = self.lwork.get(&query) {
            return Ok(n);
        }
        let mut n: c_int = 0;
        ask(self.handle.cu(), &mut n)
            .result()
            .map_err(|e| gpu.error(&format!("cuSOLVER {}_bufferSize", query.0), e))?;
        let n = usize::try_from(n).unwrap_or(0);
        self.lwork.insert(query, n);
        Ok(n)
    }
}

/// `buffer`, grown to at least `bytes` (and 256) if it is smaller. Growing first waits for
/// `stream`, the only user of the old buffer, and frees it.
fn grow(gpu: &Gpu, stream: usize, buffer: &mut Buffer, bytes: usize) -> Result<CUdeviceptr, String> {
    let bytes = bytes.max(256);
    if buffer.bytes < bytes {
        if let Some(old) = NonNull::new(buffer.ptr as usize as *mut u8) {
            gpu.synchronize(stream)?;
            // SAFETY: the buffer came from `gpu.alloc(buffer.bytes, _)`, is forgotten here
            // (replaced below), and its only user, `stream`, has been synchronized.
            unsafe { gpu.free(old, buffer.bytes) };
            *buffer = Buffer::default();
        }
        let ptr = gpu.alloc(bytes, false)?;
        *buffer = Buffer {
            ptr: ptr.as_ptr() as usize as CUdeviceptr,
            bytes,
        };
    }
    Ok(buffer.ptr)
}

/// Reads `devInfo` (and `ipiv`, when given) back: enqueues the copies on `stream` and
/// waits for it.
///
/// # Safety
/// `state` is `stream`'s; the `ipiv` buffer holds at least `ipiv.len()` `int`s.
unsafe fn read_back(
    gpu: &Gpu,
    stream: usize,
    state: &SolverState,
    ipiv: &mut [c_int],
) -> Result<c_int, String> {
    let s = gpu.stream(stream).cu_stream();
    let mut info: [c_int; 1] = [0];
    let copied = (|| {
        // SAFETY: `info` and (by the caller) `ipiv` are device buffers of this context
        // that hold the copied `int`s; the host arrays live until the stream is
        // synchronized below; the copies are ordered after the kernel on the same stream.
        unsafe {
            result::memcpy_dtoh_async(&mut info, state.info.ptr, s)?;
            if !ipiv.is_empty() {
                result::memcpy_dtoh_async(ipiv, state.ipiv.ptr, s)?;
            }
        }
        gpu.stream(stream).synchronize()
    })();
    if let Err(e) = copied {
        // The host arrays must outlive any copy still queued.
        let _ = gpu.synchronize(stream);
        return Err(gpu.error("reading cuSOLVER's devInfo back", e));
    }
    Ok(info[0])
}

/// `devInfo` as LAPACK's `info`: `Ok(Ok(()))` for 0, `Ok(Err(i − 1))` for `i > 0` (the
/// 1-based position cuSOLVER reports), an error naming the bad argument for `i < 0`.
fn info_result(gpu: &Gpu, routine: &str, info: c_int) -> Result<Result<(), usize>, String> {
    match usize::try_from(info) {
        Ok(0) => Ok(Ok(())),
        Ok(i) => Ok(Err(i - 1)),
        Err(_) => Err(gpu.error(routine, format!("argument {} is invalid", -info))),
    }
}

fn fill(uplo: Uplo) -> cublasFillMode_t {
    match uplo {
        Uplo::Lower => cublasFillMode_t::CUBLAS_FILL_MODE_LOWER,
        Uplo::Upper => cublasFillMode_t::CUBLAS_FILL_MODE_UPPER,
    }
}

/// The Cholesky factor in place: `A = L·Lᵀ` (`Lower`) or `Uᵀ·U` (`Upper`) of the square
/// `a`, read from and written over its `uplo` triangle only (cuSOLVER does not reference
/// the other one). `Ok(Err(i))`: the leading minor of order `i + 1` is not positive
/// definite (as `Backend::potrf`). Synchronizes `stream` to read `devInfo`.
///
/// # Safety
/// See the module docs.
pub(crate) unsafe fn potrf<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    uplo: Uplo,
    a: DeviceTile,
) -> Result<Result<(), usize>, String> {
    assert_eq!(
        a.rows, a.cols,
        "potrf: the tile is {}×{}, not square",
        a.rows, a.cols
    );
    if a.rows == 0 {
        return Ok(Ok(()));
    }
    gpu.bind()?;
    let mut st = gpu.solver(stream);
    let (h, p, uplo) = (st.handle.cu(), Precision::of::<T>(), fill(uplo));
    let (n, lda) = (to_int(a.rows), a.ld_int());
    let query = ("potrf", p, [uplo as usize, a.rows, a.ld, 0, 0, 0]);
    // SAFETY: a size query computes a size from the shape; the matrix it is shown is the
    // caller's live tile of `T` anyway (precision matching `T`), `lw` a live `int`, `h`
    // this stream's live handle (under its lock), and the context is current.
    let lwork = st.lwork(gpu, query, |h, lw| unsafe {
        match p {
            Precision::F64 => sys::cusolverDnDpotrf_bufferSize(h, uplo, n, a.as_ptr(), lda, lw),
            Precision::F32 => sys::cusolverDnSpotrf_bufferSize(h, uplo, n, a.as_ptr(), lda, lw),
        }
    })?;
    let work = grow(gpu, stream, &mut st.work, lwork * size_of::<T>())?;
    let info = grow(gpu, stream, &mut st.info, size_of::<c_int>())? as *mut c_int;
    let lw = to_int(lwork);
    // SAFETY: `h` is the live handle of `stream` under its lock; `a` is `n × n` with `ld`
    // `lda`, live device memory of `T` (the caller's contract, precision matching `T`);
    // the workspace holds `lwork` elements and `info` one `int`, both used only by this
    // stream, in order.
    let status = unsafe {
        match p {
            Precision::F64 => sys::cusolverDnDpotrf(h, uplo, n, a.as_ptr(), lda, work as *mut f64, lw, info),
            Precision::F32 => sys::cusolverDnSpotrf(h, uplo, n, a.as_ptr(), lda, work as *mut f32, lw, info),
        }
    };
    status.result().map_err(|e| gpu.error("cuSOLVER potrf", e))?;
    // SAFETY: `st` is this stream's state; no pivots are read.
    let info = unsafe { read_back(gpu, stream, &st, &mut []) }?;
    info_result(gpu, "cuSOLVER potrf", info)
}

/// LU with partial pivoting in place, `P·A = L·U` of the `m × n` `a` (all of it read and
/// written), as `Backend::getrf`: `ipiv_out[i]` (`i < min(m, n)`) is the row swapped with
/// row `i` at step `i`, from 0 (cuSOLVER's are 1-based `int`s, converted here).
/// `Ok(Err(i))`: `U[i, i]` is exactly zero, the first such `i` (cuSOLVER's `devInfo`).
/// Synchronizes `stream` to read the pivots and `devInfo`.
///
/// # Safety
/// See the module docs.
pub(crate) unsafe fn getrf<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    a: DeviceTile,
    ipiv_out: &mut [usize],
) -> Result<Result<(), usize>, String> {
    let k = a.rows.min(a.cols);
    assert!(
        ipiv_out.len() >= k,
        "getrf: {} pivots for a {}×{} tile",
        ipiv_out.len(),
        a.rows,
        a.cols
    );
    if k == 0 {
        return Ok(Ok(()));
    }
    gpu.bind()?;
    let mut st = gpu.solver(stream);
    let (h, p) = (st.handle.cu(), Precision::of::<T>());
    let (m, n, lda) = (to_int(a.rows), to_int(a.cols), a.ld_int());
    let query = ("getrf", p, [a.rows, a.cols, a.ld, 0, 0, 0]);
    // SAFETY: as in `potrf`: a size query on a live handle.
    let lwork = st.lwork(gpu, query, |h, lw| unsafe {
        match p {
            Precision::F64 => sys::cusolverDnDgetrf_bufferSize(h, m, n, a.as_ptr(), lda, lw),
            Precision::F32 => sys::cusolverDnSgetrf_bufferSize(h, m, n, a.as_ptr(), lda, lw),
        }
    })?;
    let work = grow(gpu, stream, &mut st.work, lwork * size_of::<T>())?;
    let info = grow(gpu, stream, &mut st.info, size_of::<c_int>())? as *mut c_int;
    let ipiv = grow(gpu, stream, &mut st.ipiv, k * size_of::<c_int>())? as *mut c_int;
    // SAFETY: as in `potrf`, with `a` `m × n`, and the pivot buffer holding `min(m, n)`
    // `int`s, used only by this stream.
    let status = unsafe {
        match p {
            Precision::F64 => sys::cusolverDnDgetrf(h, m, n, a.as_ptr(), lda, work as *mut f64, ipiv, info),
            Precision::F32 => sys::cusolverDnSgetrf(h, m, n, a.as_ptr(), lda, work as *mut f32, ipiv, info),
        }
    };
    status.result().map_err(|e| gpu.error("cuSOLVER getrf", e))?;
    let mut pivots = vec![0 as c_int; k];
    // SAFETY: `st` is this stream's state, its pivot buffer holds `k` `int`s (grown above).
    let info = unsafe { read_back(gpu, stream, &st, &mut pivots) }?;
    for (out, &p) in ipiv_out.iter_mut().zip(&pivots) {
        *out = usize::try_from(p - 1).map_err(|_| gpu.error("cuSOLVER getrf", format!("pivot {p}")))?;
    }
    info_result(gpu, "cuSOLVER getrf", info)
}

/// `getrf` of a panel stored as a column of device tiles, `tiles[0]` on top (as
/// `Backend::getrf_tiles`): the tiles are gathered into one block on the device, factored
/// by cuSOLVER, and scattered back; `ipiv_out` gets the pivots, rows from the top of the
/// stack, from 0. A single tile is factored where it is. Synchronizes `stream`.
///
/// # Safety
/// See the module docs, for every tile.
pub(crate) unsafe fn getrf_tiles<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    tiles: &[DeviceTile],
    ipiv_out: &mut [usize],
) -> Result<Result<(), usize>, String> {
    if let [tile] = tiles {
        // SAFETY: the caller's contract.
        return unsafe { getrf::<T>(gpu, stream, *tile, ipiv_out) };
    }
    let width = tiles.first().map_or(0, |t| t.cols);
    let height: usize = tiles.iter().map(|t| t.rows).sum();
    let elem = size_of::<T>();
    let panel = Scratch::new(gpu, stream, (height * width * elem).max(1))?;
    let block = DeviceTile {
        ptr: panel.ptr(),
        rows: height,
        cols: width,
        ld: height.max(1),
    };
    let at_row = |r: usize| {
        NonNull::new(panel.ptr().as_ptr().wrapping_add(r * elem)).expect("a device address is not 0")
    };
    let mut r = 0;
    for t in tiles {
        // SAFETY: the tile is the caller's, the block's rows r..r + t.rows are this
        // call's scratch; both hold `width` columns of `t.rows` elements.
        unsafe {
            gpu.copy_on_device(
                stream,
                at_row(r),
                height * elem,
                t.ptr,
                t.ld * elem,
                t.rows * elem,
                width,
            )
        }?;
        r += t.rows;
    }
    // SAFETY: the block is this call's own device memory, gathered above on this stream.
    let result = unsafe { getrf::<T>(gpu, stream, block, ipiv_out) }?;
    let mut r = 0;
    for t in tiles {
        // SAFETY: as the gather, the other way.
        unsafe {
            gpu.copy_on_device(
                stream,
                t.ptr,
                t.ld * elem,
                at_row(r),
                height * elem,
                t.rows * elem,
                width,
            )
        }?;
        r += t.rows;
    }
    gpu.synchronize(stream)?;
    Ok(result)
}
