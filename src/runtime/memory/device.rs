//! Accelerator memory: storage in the device spaces, counted against each device's
//! budget, and copies between a device and the host (or another device).
//!
//! The devices are installed once, when the runtime starts (`sched/device.rs` decides
//! which exist). A **simulated** device (`MOSAIC_SIM_DEVICES`) keeps its replicas in
//! buffers of its own in the process's memory, apart from the host's replicas; a copy
//! is a real `memcpy` that lasts at least the modelled time of the link,
//! `latency + bytes / bandwidth` (the copying thread sleeps for the rest), so that
//! coherence, budgets, eviction and the cost of transfers are all exercised without a
//! GPU. Its default memory budget is [`SimulatedDevices::memory`].
//!
//! A **CUDA** device (feature `cuda`, found at start-up) keeps its replicas in device
//! memory, each the byte image of the host replica (`backend/cuda/gpu.rs`), and copies
//! through pinned staging buffers on its copy streams. Its default budget is its free
//! memory at start-up minus a margin for the libraries' workspaces ([`cuda_budget`]).

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::budget;
use super::evict;
use super::space::{device_of, MemorySpace, FIRST_DEVICE, HOST, MAX_DEVICES};
use crate::error::{Error, Result};

/// Simulated accelerators: how many, and how their memory and link behave. Read from the
/// environment at start-up (`MOSAIC_SIM_DEVICES=N`, `MOSAIC_SIM_DEVICE_MEMORY=2G`,
/// `MOSAIC_SIM_BANDWIDTH` in GB/s, `MOSAIC_SIM_LATENCY` in µs, `MOSAIC_SIM_SLOWDOWN`,
/// `MOSAIC_SIM_CPU_SLOWDOWN`), or set with
/// [`crate::runtime::set_simulated_devices`] before the runtime starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimulatedDevices {
    /// How many (at most 2).
    pub count: usize,
    /// Each device's memory in bytes: its budget's limit at start.
    pub memory: usize,
    /// Bytes per second of a copy between the host and a device.
    pub bandwidth: f64,
    /// Fixed cost of one copy.
    pub latency: Duration,
    /// How much longer a tile kernel takes on a device than the same kernel on one CPU
    /// worker (1: as long; the device runs the CPU's kernels on a thread of its own, and
    /// a kernel that took `t` is then made to last `slowdown · t`). Values below 1 are
    /// taken as 1.
    pub slowdown: f64,
    /// How much longer every task on a CPU worker takes than it does (held the same way;
    /// 1: as long). A device faster than a CPU worker by a factor `r` is modelled with
    /// `cpu_slowdown = r`: every time is then `r` times the modelled machine's, and the
    /// device computes at the CPU's own speed. Values below 1 are taken as 1.
    pub cpu_slowdown: f64,
}

impl Default for SimulatedDevices {
    /// None; when asked for, 1 GiB each, 16 GB/s and 10 µs per copy (a PCIe 4 link), as
    /// fast as a CPU worker.
    fn default() -> Self {
        SimulatedDevices {
            count: 0,
            memory: 1 << 30,
            bandwidth: 16e9,
            latency: Duration::from_micros(10),
            slowdown: 1.0,
            cpu_slowdown: 1.0,
        }
    }
}

impl SimulatedDevices {
    /// The configuration the environment asks for (see the type's docs).
    pub(crate) fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok();
        let mut sim = SimulatedDevices::default();
        if let Some(n) = var("MOSAIC_SIM_DEVICES").and_then(|s| s.trim().parse().ok()) {
            sim.count = n;
        }
        if let Some(m) = var("MOSAIC_SIM_DEVICE_MEMORY").and_then(|s| budget::parse_size(&s)) {
            sim.memory = m;
        }
        if let Some(b) = var("MOSAIC_SIM_BANDWIDTH").and_then(|s| s.trim().parse::<f64>().ok()) {
            sim.bandwidth = b * 1e9;
        }
        if let Some(l) = var("MOSAIC_SIM_LATENCY").and_then(|s| s.trim().parse::<f64>().ok()) {
            sim.latency = Duration::from_secs_f64(l.max(0.0) * 1e-6);
        }
        if let Some(s) = var("MOSAIC_SIM_SLOWDOWN").and_then(|s| s.trim().parse::<f64>().ok()) {
            sim.slowdown = s;
        }
        if let Some(s) = var("MOSAIC_SIM_CPU_SLOWDOWN").and_then(|s| s.trim().parse::<f64>().ok()) {
            sim.cpu_slowdown = s;
        }
        sim
    }

    /// The modelled time of a copy of `bytes` over the link.
    pub(crate) fn copy_time(&self, bytes: usize) -> Duration {
        self.latency + Duration::from_secs_f64(bytes as f64 / self.bandwidth.max(1.0))
    }
}

/// One accelerator's memory.
#[derive(Debug)]
enum Device {
    Simulated(SimulatedDevices),
    /// Opened once, kept for the life of the process (as the runtime is).
    #[cfg(feature = "cuda")]
    Cuda(&'static Gpu),
}

#[cfg(feature = "cuda")]
use crate::backend::cuda::{self, Gpu};

static DEVICES: OnceLock<Vec<Device>> = OnceLock::new();

fn devices() -> &'static [Device] {
    DEVICES.get().map_or(&[], |d| d.as_slice())
}

/// How many devices are installed.
pub(crate) fn count() -> usize {
    devices().len()
}

/// Installs the devices (once, at the runtime's start): the CUDA devices found (feature
/// `cuda`; none when `MOSAIC_CUDA=0`), then `sim.count` simulated ones, [`MAX_DEVICES`] at
/// most in all; returns how many there are.
pub(crate) fn install(sim: SimulatedDevices) -> usize {
    let installed = DEVICES.get_or_init(|| {
        #[allow(unused_mut)] // without `cuda`
        let mut found: Vec<Device> = Vec::new();
        #[cfg(feature = "cuda")]
        found.extend(open_cuda());
        let room = MAX_DEVICES - found.len().min(MAX_DEVICES);
        if sim.count > room {
            eprintln!("mosaic: {} simulated devices asked for, using {room}", sim.count);
        }
        found.extend((0..sim.count.min(room)).map(|_| Device::Simulated(sim)));
        found
    });
    for (d, device) in installed.iter().enumerate() {
        let limit = match device {
            Device::Simulated(sim) => sim.memory,
            #[cfg(feature = "cuda")]
            Device::Cuda(gpu) => cuda_budget(gpu.memory()),
        };
        budget::of(FIRST_DEVICE + d).set_limit(Some(limit));
    }
    installed.len()
}

/// The CUDA devices of this machine, opened (up to [`MAX_DEVICES`]); a device that cannot
/// be opened is left out with a message.
#[cfg(feature = "cuda")]
fn open_cuda() -> Vec<Device> {
    if std::env::var("MOSAIC_CUDA").is_ok_and(|v| v.trim() == "0") {
        return Vec::new();
    }
    let count = cuda::device_count();
    if count > MAX_DEVICES {
        eprintln!("mosaic: {count} CUDA devices found, using {MAX_DEVICES}");
    }
    (0..count.min(MAX_DEVICES))
        .filter_map(|i| match Gpu::open(i) {
            Ok(gpu) => Some(Device::Cuda(Box::leak(Box::new(gpu)))),
            Err(e) => {
                eprintln!("mosaic: not using CUDA device {i}: {e}");
                None
            }
        })
        .collect()
}

/// The default budget of a CUDA device with `(free, total)` bytes: the free memory less a
/// margin for cuBLAS/cuSOLVER workspaces and the context's own allocations (1/16 of the
/// device, at least 512 MiB).
#[cfg(any(feature = "cuda", test))]
pub(crate) fn cuda_budget((free, total): (usize, usize)) -> usize {
    free.saturating_sub((total / 16).max(512 << 20))
}

/// Whether device `d` is a CUDA device.
pub(crate) fn is_cuda(d: usize) -> bool {
    #[cfg(feature = "cuda")]
    if let Some(Device::Cuda(_)) = devices().get(d) {
        return true;
    }
    let _ = d;
    false
}

/// Device `d`, if it is a CUDA device.
#[cfg(feature = "cuda")]
pub(crate) fn gpu(d: usize) -> Option<&'static Gpu> {
    match devices().get(d)? {
        Device::Cuda(gpu) => Some(gpu),
        Device::Simulated(_) => None,
    }
}

/// The link model of device `d` (a simulated one's).
pub(crate) fn link(d: usize) -> Option<SimulatedDevices> {
    match devices().get(d)? {
        Device::Simulated(sim) => Some(*sim),
        #[cfg(feature = "cuda")]
        Device::Cuda(_) => None,
    }
}

fn layout(bytes: usize) -> Layout {
    Layout::from_size_align(bytes, 64).expect("a tile's size fits a layout")
}

/// `bytes` of storage on device `d`, counted against its budget; when it is full, other
/// replicas are evicted to the host first (`evict.rs`).
pub(crate) fn allocate(d: usize, bytes: usize, zeroed: bool) -> Result<NonNull<u8>> {
    let Some(device) = devices().get(d) else {
        return Err(Error::MemorySpaceUnavailable {
            space: format!("device {d} (this runtime has {} devices)", devices().len()),
        });
    };
    if bytes == 0 {
        return Ok(NonNull::dangling());
    }
    let slot = FIRST_DEVICE + d;
    let b = budget::of(slot);
    let mut made_room = false;
    while !b.try_charge(bytes) {
        if made_room || !evict::make_room_before(slot, bytes, None)? {
            return Err(Error::OutOfMemory {
                space: MemorySpace::Device(d),
                needed: bytes,
                limit: b.limit().unwrap_or(usize::MAX),
            });
        }
        made_room = true;
    }
    match device {
        Device::Simulated(_) => {
            // SAFETY: `bytes > 0` (checked above), so the layout has a non-zero size.
            let raw = unsafe {
                if zeroed {
                    std::alloc::alloc_zeroed(layout(bytes))
                } else {
                    std::alloc::alloc(layout(bytes))
                }
            };
            Ok(NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout(bytes))))
        }
        #[cfg(feature = "cuda")]
        Device::Cuda(gpu) => {
            // The budget leaves a margin, but the libraries' workspaces and the kernels'
            // scratch are not counted in it: a full device, under budget, first evicts as
            // much again, then reports OutOfMemory, which a task's acquire waits out.
            let mut retried = false;
            loop {
                match gpu.try_alloc(bytes, zeroed) {
                    Ok(p) => return Ok(p),
                    Err((true, _)) if !retried && evict::make_room_before(slot, 2 * bytes, None)? => {
                        retried = true
                    }
                    Err((full, message)) => {
                        b.uncharge(bytes);
                        return Err(match full {
                            true => Error::OutOfMemory {
                                space: MemorySpace::Device(d),
                                needed: bytes,
                                limit: b.limit().unwrap_or(usize::MAX),
                            },
                            false => Error::Device { device: d, message },
                        });
                    }
                }
            }
        }
    }
}

/// Frees storage of device `d`.
///
/// # Safety
/// `p` came from [`allocate`] on `d` with `bytes`, and nobody uses it any more (no task
/// holds it; a CUDA task's stream has finished with it before its release).
pub(crate) unsafe fn free(d: usize, p: NonNull<u8>, bytes: usize) {
    if bytes == 0 {
        return;
    }
    match devices().get(d) {
        // SAFETY: allocated by `allocate` with this layout (the caller's contract).
        Some(Device::Simulated(_)) => unsafe { std::alloc::dealloc(p.as_ptr(), layout(bytes)) },
        // SAFETY: from `gpu.alloc(bytes, _)` in `allocate`, unused (the caller's contract).
        #[cfg(feature = "cuda")]
        Some(Device::Cuda(gpu)) => unsafe { gpu.free(p, bytes) },
        None => unreachable!("storage of device {d}, which does not exist"),
    }
    budget::of(FIRST_DEVICE + d).uncharge(bytes);
}

/// Copies `bytes` between two of the host and the devices (slots `from`, `to`), taking
/// the modelled time of the links it crosses.
///
/// # Safety
/// Both point to `bytes` bytes of storage of their spaces; nobody writes `src` or touches
/// `dst` during the call.
pub(crate) unsafe fn copy(
    from: usize,
    src: NonNull<u8>,
    to: usize,
    dst: NonNull<u8>,
    bytes: usize,
) -> Result<()> {
    let start = Instant::now();
    let trace = TRACE.get();
    let trace_start = trace.and_then(|t| (t.now)());
    // SAFETY: the caller's contract.
    unsafe { move_bytes(from, src, to, dst, bytes) }?;
    let modelled: Duration = [from, to]
        .into_iter()
        .filter_map(device_of)
        .filter_map(link)
        .map(|l| l.copy_time(bytes))
        .sum();
    if let Some(rest) = modelled.checked_sub(start.elapsed()) {
        std::thread::sleep(rest);
    }
    budget::of(from).count_copy(bytes, false);
    budget::of(to).count_copy(bytes, true);
    COPIED_HERE.with(|c| c.set(c.get() + bytes as u64));
    if let Some(trace_start) = trace_start {
        let name = match (device_of(from), device_of(to)) {
            (None, Some(_)) => "copy to device",
            (Some(_), None) => "copy to host",
            _ => "copy between devices",
        };
        if let Some(t) = trace {
            (t.record)(name, trace_start, bytes as u64);
        }
    }
    debug_assert!(from == HOST || device_of(from).is_some());
    Ok(())
}

/// The copy itself: a `memcpy` between host-addressable storage (the host's, a simulated
/// device's), a DMA through pinned staging buffers with a CUDA device at one end, through a
/// host buffer between two CUDA devices.
///
/// # Safety
/// As [`copy`]'s.
unsafe fn move_bytes(from: usize, src: NonNull<u8>, to: usize, dst: NonNull<u8>, bytes: usize) -> Result<()> {
    #[cfg(feature = "cuda")]
    {
        let (df, dt) = (device_of(from), device_of(to));
        let failed = |d: Option<usize>| {
            move |message| Error::Device {
                device: d.unwrap_or(0),
                message,
            }
        };
        // The caller's contract gives `bytes` bytes at each end, the source unwritten and
        // the destination untouched by anyone else during the call; a CUDA replica's last
        // writer waited for its stream before releasing it.
        match (df.and_then(gpu), dt.and_then(gpu)) {
            // SAFETY: see above.
            (None, Some(g)) => return unsafe { g.upload(dst, src.as_ptr(), bytes) }.map_err(failed(dt)),
            // SAFETY: see above.
            (Some(g), None) => return unsafe { g.download(dst.as_ptr(), src, bytes) }.map_err(failed(df)),
            (Some(a), Some(b)) => {
                let mut staged = vec![0u8; bytes];
                // SAFETY: see above; `staged` is `bytes` bytes of this thread's own.
                unsafe { a.download(staged.as_mut_ptr(), src, bytes) }.map_err(failed(df))?;
                // SAFETY: as the line above.
                return unsafe { b.upload(dst, staged.as_ptr(), bytes) }.map_err(failed(dt));
            }
            (None, None) => {}
        }
    }
    #[cfg(not(feature = "cuda"))]
    let _ = (from, to);
    // SAFETY: host-addressable storage at both ends (the caller's contract); two replicas
    // of one object never share storage.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_ptr(), bytes) };
    Ok(())
}

/// How copies reach the trace, which sits above the memory layer: the runtime installs
/// its tracer's two entry points when it starts.
#[derive(Debug)]
pub(crate) struct CopyTrace {
    /// The time now, if tracing is on.
    pub(crate) now: fn() -> Option<u64>,
    /// Records a copy named so, from that time to now, of so many bytes.
    pub(crate) record: fn(&'static str, u64, u64),
}

static TRACE: OnceLock<CopyTrace> = OnceLock::new();

/// Installs the trace's entry points (once, at the runtime's start).
pub(crate) fn install_trace(trace: CopyTrace) {
    let _ = TRACE.set(trace);
}

thread_local! {
    /// Bytes this thread has copied between the host and devices so far.
    static COPIED_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Bytes the calling thread has copied between the host and devices so far (a task's
/// trace event reports the difference across its start).
pub(crate) fn copied_here() -> u64 {
    COPIED_HERE.with(|c| c.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cuda_budget_is_the_free_memory_less_a_margin() {
        const GIB: usize = 1 << 30;
        // An 80 GiB device with 79 GiB free keeps 5 GiB (1/16) for the libraries.
        assert_eq!(cuda_budget((79 * GIB, 80 * GIB)), 74 * GIB);
        // A small device keeps at least 512 MiB; less free than that leaves nothing.
        assert_eq!(cuda_budget((4 * GIB, 4 * GIB)), 4 * GIB - (512 << 20));
        assert_eq!(cuda_budget((256 << 20, 4 * GIB)), 0);
    }
}
