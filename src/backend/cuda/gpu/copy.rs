//! Host↔device copies through pinned staging buffers (see "Copies: pinned staging" in the
//! parent module's docs): [`Gpu::to_device`], [`Gpu::to_host`] and the buffers they use.

use std::ptr::NonNull;
use std::sync::Arc;

use cudarc::driver::sys::{self, CUdeviceptr, CUmemorytype};
use cudarc::driver::{CudaContext, CudaEvent, CudaStream, DriverError, PinnedHostSlice};

use super::{lock, Gpu, D2H_STREAM, H2D_STREAM, STAGING_BYTES};

impl Gpu {
    /// Copies `bytes` contiguous bytes from host memory at `src` to device memory at `dst`
    /// (a replica's byte image, see the parent module's "Device memory"), in chunks of one
    /// staging buffer. Returns when the data is on the device.
    ///
    /// # Safety
    /// As [`Gpu::to_device`]'s, for `bytes` bytes at each end.
    pub(crate) unsafe fn upload(&self, dst: NonNull<u8>, src: *const u8, bytes: usize) -> Result<(), String> {
        let (whole, rest) = (bytes / STAGING_BYTES, bytes % STAGING_BYTES);
        let done = whole * STAGING_BYTES;
        // SAFETY: the caller's contract covers all `bytes`; the two calls cover the first
        // `done` bytes as `whole` columns of one staging buffer each, then the rest.
        unsafe {
            self.to_device(dst, STAGING_BYTES, src, STAGING_BYTES, STAGING_BYTES, whole)?;
            self.to_device(offset(dst, done), rest, src.add(done), rest, rest, 1)
        }
    }

    /// Copies `bytes` contiguous bytes from device memory at `src` to host memory at `dst`,
    /// the converse of [`Gpu::upload`]. Returns when the data is on the host.
    ///
    /// # Safety
    /// As [`Gpu::to_host`]'s, for `bytes` bytes at each end.
    pub(crate) unsafe fn download(&self, dst: *mut u8, src: NonNull<u8>, bytes: usize) -> Result<(), String> {
        let (whole, rest) = (bytes / STAGING_BYTES, bytes % STAGING_BYTES);
        let done = whole * STAGING_BYTES;
        // SAFETY: as in `upload`.
        unsafe {
            self.to_host(dst, STAGING_BYTES, src, STAGING_BYTES, STAGING_BYTES, whole)?;
            self.to_host(dst.add(done), rest, offset(src, done), rest, rest, 1)
        }
    }

    /// Copies `cols` columns of `width_bytes` from host memory (`src`, columns
    /// `src_ld_bytes` apart) to device memory (`dst`, columns `dst_ld_bytes` apart), through
    /// the pinned staging buffers (see the module docs). Returns when the data is on the
    /// device.
    ///
    /// # Safety
    /// `src` is valid for reads of the `cols` columns and nobody writes them during the
    /// call; `dst` lies in an allocation of this device that holds the `cols` columns;
    /// `width_bytes ≤ src_ld_bytes, dst_ld_bytes`; no device work reads or writes those
    /// device bytes while the copy runs (the copy stream is not ordered with the others).
    pub(crate) unsafe fn to_device(
        &self,
        dst: NonNull<u8>,
        dst_ld_bytes: usize,
        src: *const u8,
        src_ld_bytes: usize,
        width_bytes: usize,
        cols: usize,
    ) -> Result<(), String> {
        if width_bytes == 0 || cols == 0 {
            return Ok(());
        }
        self.bind()?;
        let stream = &self.streams[H2D_STREAM];
        let dst = dst.as_ptr() as usize as CUdeviceptr;
        let mut staging = lock(&self.h2d);
        let copied = (|| {
            if width_bytes > STAGING_BYTES {
                let copy = Copy2d::h2d(src, src_ld_bytes, dst, dst_ld_bytes, width_bytes, cols);
                // SAFETY: the caller's contract covers both sides of the whole copy.
                unsafe { copy.enqueue(stream) }?;
                return stream.synchronize();
            }
            let chunk = STAGING_BYTES / width_bytes;
            for (k, c0) in (0..cols).step_by(chunk).enumerate() {
                let (n, b) = (chunk.min(cols - c0), k % 2);
                staging.done[b].synchronize()?; // the DMA of chunk k − 2 has read buffer b
                let buf = staging.buffer(&self.ctx, b)?;
                let from = src.wrapping_add(c0 * src_ld_bytes);
                // SAFETY: columns c0..c0 + n of `src` are readable (the caller's contract),
                // `buf` holds `STAGING_BYTES ≥ n·width_bytes` bytes that no DMA reads now
                // (waited above), and host and pinned memory do not overlap.
                unsafe { repack(from, src_ld_bytes, buf, width_bytes, width_bytes, n) };
                let dst = dst + (c0 * dst_ld_bytes) as CUdeviceptr;
                let copy = Copy2d::h2d(buf, width_bytes, dst, dst_ld_bytes, width_bytes, n);
                // SAFETY: `buf` stays allocated and unwritten until `done[b]` (recorded
                // next) completes; the device side is the caller's, columns c0..c0 + n.
                unsafe { copy.enqueue(stream) }?;
                staging.done[b].record(stream)?;
            }
            stream.synchronize()
        })();
        self.settle(stream, copied, "copying to the device")
    }

    /// Copies `cols` columns of `width_bytes` from device memory (`src`, columns
    /// `src_ld_bytes` apart) to host memory (`dst`, columns `dst_ld_bytes` apart), through
    /// the pinned staging buffers (see the module docs). Returns when the data is on the
    /// host.
    ///
    /// # Safety
    /// `dst` is valid for writes of the `cols` columns and nobody else accesses them during
    /// the call; `src` lies in an allocation of this device that holds the `cols` columns;
    /// `width_bytes ≤ src_ld_bytes, dst_ld_bytes`; every device write to those bytes has
    /// completed (its stream synchronized, or [`D2H_STREAM`] made to wait for it) and none
    /// starts while the copy runs.
    pub(crate) unsafe fn to_host(
        &self,
        dst: *mut u8,
        dst_ld_bytes: usize,
        src: NonNull<u8>,
        src_ld_bytes: usize,
        width_bytes: usize,
        cols: usize,
    ) -> Result<(), String> {
        if width_bytes == 0 || cols == 0 {
            return Ok(());
        }
        self.bind()?;
        let stream = &self.streams[D2H_STREAM];
        let src = src.as_ptr() as usize as CUdeviceptr;
        let mut staging = lock(&self.d2h);
        let copied = (|| {
            if width_bytes > STAGING_BYTES {
                let copy = Copy2d::d2h(src, src_ld_bytes, dst, dst_ld_bytes, width_bytes, cols);
                // SAFETY: the caller's contract covers both sides of the whole copy.
                unsafe { copy.enqueue(stream) }?;
                return stream.synchronize();
            }
            let chunk = STAGING_BYTES / width_bytes;
            let mut pending: Option<(usize, usize, usize)> = None; // (buffer, first column, columns)
            for (k, c0) in (0..cols).step_by(chunk).enumerate() {
                let (n, b) = (chunk.min(cols - c0), k % 2);
                // Buffer b held chunk k − 2, which the previous iteration copied out.
                let buf = staging.buffer(&self.ctx, b)?;
                let src = src + (c0 * src_ld_bytes) as CUdeviceptr;
                let copy = Copy2d::d2h(src, src_ld_bytes, buf, width_bytes, width_bytes, n);
                // SAFETY: the device side is the caller's (columns c0..c0 + n, complete);
                // `buf` holds `n·width_bytes` bytes that the host does not touch until
                // `done[b]`, recorded next, completes.
                unsafe { copy.enqueue(stream) }?;
                staging.done[b].record(stream)?;
                if let Some(chunk) = pending.replace((b, c0, n)) {
                    // SAFETY: see `unstage`.
                    unsafe { unstage(&mut staging, &self.ctx, chunk, dst, dst_ld_bytes, width_bytes) }?;
                }
            }
            match pending {
                // SAFETY: see `unstage`.
                Some(chunk) => unsafe {
                    unstage(&mut staging, &self.ctx, chunk, dst, dst_ld_bytes, width_bytes)
                },
                None => Ok(()),
            }
        })();
        self.settle(stream, copied, "copying to the host")
    }

    /// Enqueues on compute stream `stream` a copy of `cols` columns of `width_bytes` between
    /// two places of this device's memory (`src`, columns `src_ld_bytes` apart, to `dst`,
    /// `dst_ld_bytes` apart); returns at once.
    ///
    /// # Safety
    /// Both sides lie in allocations of this device that hold the columns, do not overlap,
    /// and no other device work touches them until `stream` has run the copy.
    #[allow(clippy::too_many_arguments)] // a 2-D copy's geometry
    pub(crate) unsafe fn copy_on_device(
        &self,
        stream: usize,
        dst: NonNull<u8>,
        dst_ld_bytes: usize,
        src: NonNull<u8>,
        src_ld_bytes: usize,
        width_bytes: usize,
        cols: usize,
    ) -> Result<(), String> {
        if width_bytes == 0 || cols == 0 {
            return Ok(());
        }
        self.bind()?;
        let (src, dst) = (
            src.as_ptr() as usize as CUdeviceptr,
            dst.as_ptr() as usize as CUdeviceptr,
        );
        let mut p = Copy2d::blank(width_bytes, cols);
        (p.srcMemoryType, p.srcDevice, p.srcPitch) = (CUmemorytype::CU_MEMORYTYPE_DEVICE, src, src_ld_bytes);
        (p.dstMemoryType, p.dstDevice, p.dstPitch) = (CUmemorytype::CU_MEMORYTYPE_DEVICE, dst, dst_ld_bytes);
        // SAFETY: the caller's contract covers both sides until the stream has run it.
        unsafe { Copy2d(p).enqueue(&self.streams[stream]) }
            .map_err(|e| self.error("copying on the device", e))
    }

    /// Copies `data` from the host to device memory at `dst` on compute stream `stream`,
    /// ordered after the work enqueued there, and waits for the stream (so `data` may go
    /// when this returns). For small arrays (pivots, tile addresses): no staging.
    ///
    /// # Safety
    /// `dst` lies in an allocation of this device that holds `size_of_val(data)` bytes,
    /// which no other device work touches until the stream has run the copy.
    pub(crate) unsafe fn write_small<T>(
        &self,
        stream: usize,
        dst: NonNull<u8>,
        data: &[T],
    ) -> Result<(), String> {
        if data.is_empty() {
            return Ok(());
        }
        self.bind()?;
        let s = &self.streams[stream];
        let dst = dst.as_ptr() as usize as CUdeviceptr;
        // SAFETY: `data` lives until the stream is synchronized below (also on an error
        // of the copy: the stream is waited for before returning); `dst` is the caller's.
        let copied = unsafe { cudarc::driver::result::memcpy_htod_async(dst, data, s.cu_stream()) };
        // `synchronize` waits even after a stale error (see it), so `data` is free to go.
        let synced = self.synchronize(stream);
        copied.map_err(|e| self.error("copying to the device", e))?;
        synced
    }

    /// Copies `out.len()` `T`s from device memory at `src` to `out` on compute stream
    /// `stream`, ordered after the work enqueued there, and waits for the stream. For small
    /// arrays (a kernel's results): no staging.
    ///
    /// # Safety
    /// `src` lies in an allocation of this device that holds `size_of_val(out)` bytes of
    /// `T`s, which no other device work writes until the stream has run the copy.
    pub(crate) unsafe fn read_small<T>(
        &self,
        stream: usize,
        src: NonNull<u8>,
        out: &mut [T],
    ) -> Result<(), String> {
        if out.is_empty() {
            return Ok(());
        }
        self.bind()?;
        let s = &self.streams[stream];
        let src = src.as_ptr() as usize as CUdeviceptr;
        // SAFETY: `out` is borrowed until the stream is synchronized below (also on an
        // error of the copy); `src` is the caller's.
        let copied = unsafe { cudarc::driver::result::memcpy_dtoh_async(out, src, s.cu_stream()) };
        // `synchronize` waits even after a stale error (see it), so `out` is no longer written.
        let synced = self.synchronize(stream);
        copied.map_err(|e| self.error("copying from the device", e))?;
        synced
    }

    /// The end of a copy: on an error, waits for the copy stream (so that no DMA still
    /// touches a staging buffer, step 5 of the module docs) and describes the error.
    fn settle(&self, stream: &CudaStream, copied: Result<(), DriverError>, what: &str) -> Result<(), String> {
        copied.map_err(|e| {
            let _ = stream.synchronize();
            self.error(what, e)
        })
    }
}

/// The two pinned staging buffers of one direction and the events that say when the DMA
/// last enqueued on each has finished.
pub(super) struct Staging {
    buffers: [Option<PinnedHostSlice<u8>>; 2],
    done: [CudaEvent; 2],
    flags: u32,
}

impl Staging {
    pub(super) fn new(ctx: &Arc<CudaContext>, flags: u32) -> Result<Self, DriverError> {
        let done = [ctx.new_event(None)?, ctx.new_event(None)?];
        Ok(Staging {
            buffers: [None, None],
            done,
            flags,
        })
    }

    /// Buffer `b` (`STAGING_BYTES` long), allocated at first use.
    fn buffer(&mut self, ctx: &Arc<CudaContext>, b: usize) -> Result<*mut u8, DriverError> {
        let buffer = match &mut self.buffers[b] {
            Some(buffer) => buffer,
            // SAFETY: the memory is uninitialised, and every use writes it before reading
            // it (a `memcpy` in, or a DMA in).
            slot => slot.insert(unsafe { ctx.alloc_pinned_with_flags::<u8>(STAGING_BYTES, self.flags) }?),
        };
        buffer.as_mut_ptr()
    }
}

/// Waits for a staged device→host chunk `(buffer, first column, columns)` and copies it
/// out to the host columns.
///
/// # Safety
/// As [`Gpu::to_host`]'s, for the chunk's columns of `dst`; the chunk's DMA was enqueued
/// into that buffer and its event recorded after it.
unsafe fn unstage(
    staging: &mut Staging,
    ctx: &Arc<CudaContext>,
    (b, c0, n): (usize, usize, usize),
    dst: *mut u8,
    dst_ld_bytes: usize,
    width_bytes: usize,
) -> Result<(), DriverError> {
    staging.done[b].synchronize()?;
    let buf = staging.buffer(ctx, b)?;
    let to = dst.wrapping_add(c0 * dst_ld_bytes);
    // SAFETY: the DMA into `buf` has completed (waited above) and nothing else writes it;
    // columns c0..c0 + n of `dst` are writable (the caller's contract); host and pinned
    // memory do not overlap.
    unsafe { repack(buf, width_bytes, to, dst_ld_bytes, width_bytes, n) };
    Ok(())
}

/// Copies `cols` columns of `width` bytes from `src` (columns `src_ld` apart) to `dst`
/// (columns `dst_ld` apart), in one `memcpy` when both are packed.
///
/// # Safety
/// `src` readable and `dst` writable for those columns, the two not overlapping.
unsafe fn repack(src: *const u8, src_ld: usize, dst: *mut u8, dst_ld: usize, width: usize, cols: usize) {
    if src_ld == width && dst_ld == width {
        // SAFETY: the caller's contract, for `cols` packed columns.
        unsafe { std::ptr::copy_nonoverlapping(src, dst, width * cols) };
        return;
    }
    for j in 0..cols {
        // SAFETY: the caller's contract, for column j.
        unsafe { std::ptr::copy_nonoverlapping(src.add(j * src_ld), dst.add(j * dst_ld), width) };
    }
}

/// One `cuMemcpy2DAsync` between host and device memory: `height` columns of `width`
/// bytes, each side with its pitch (leading dimension in bytes).
struct Copy2d(sys::CUDA_MEMCPY2D);

impl Copy2d {
    fn h2d(
        src: *const u8,
        src_pitch: usize,
        dst: CUdeviceptr,
        dst_pitch: usize,
        width: usize,
        height: usize,
    ) -> Self {
        let mut p = Self::blank(width, height);
        (p.srcMemoryType, p.srcHost, p.srcPitch) = (CUmemorytype::CU_MEMORYTYPE_HOST, src.cast(), src_pitch);
        (p.dstMemoryType, p.dstDevice, p.dstPitch) = (CUmemorytype::CU_MEMORYTYPE_DEVICE, dst, dst_pitch);
        Copy2d(p)
    }

    fn d2h(
        src: CUdeviceptr,
        src_pitch: usize,
        dst: *mut u8,
        dst_pitch: usize,
        width: usize,
        height: usize,
    ) -> Self {
        let mut p = Self::blank(width, height);
        (p.srcMemoryType, p.srcDevice, p.srcPitch) = (CUmemorytype::CU_MEMORYTYPE_DEVICE, src, src_pitch);
        (p.dstMemoryType, p.dstHost, p.dstPitch) = (CUmemorytype::CU_MEMORYTYPE_HOST, dst.cast(), dst_pitch);
        Copy2d(p)
    }

    /// The parameters of a copy of `height` rows of `width` bytes from offset 0 to offset
    /// 0, with no addresses yet (the two constructors set them, and each side's type).
    fn blank(width: usize, height: usize) -> sys::CUDA_MEMCPY2D {
        sys::CUDA_MEMCPY2D {
            srcXInBytes: 0,
            srcY: 0,
            srcMemoryType: CUmemorytype::CU_MEMORYTYPE_HOST,
            srcHost: std::ptr::null(),
            srcDevice: 0,
            srcArray: std::ptr::null_mut(),
            srcPitch: 0,
            dstXInBytes: 0,
            dstY: 0,
            dstMemoryType: CUmemorytype::CU_MEMORYTYPE_HOST,
            dstHost: std::ptr::null_mut(),
            dstDevice: 0,
            dstArray: std::ptr::null_mut(),
            dstPitch: 0,
            WidthInBytes: width,
            Height: height,
        }
    }

    /// Enqueues the copy on `stream`.
    ///
    /// # Safety
    /// Both sides are valid for the copy (`height` rows of `width` bytes, `pitch` apart)
    /// until the stream has executed it; the stream's context is current.
    unsafe fn enqueue(&self, stream: &CudaStream) -> Result<(), DriverError> {
        // SAFETY: the parameter block is fully initialised and lives across the call (the
        // driver reads it before returning); the memory it names is the caller's contract.
        unsafe { sys::cuMemcpy2DAsync_v2(&self.0, stream.cu_stream()) }.result()
    }
}

/// `p + bytes` for a device address (never dereferenced on the host, so plain address
/// arithmetic).
fn offset(p: NonNull<u8>, bytes: usize) -> NonNull<u8> {
    NonNull::new(p.as_ptr().wrapping_add(bytes)).expect("a device address does not wrap to 0")
}
