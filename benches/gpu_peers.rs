//! The vendor peers on one GPU, for the comparison with mosaic on the same device: cuBLAS
//! `dgemm` (n×n×n) and cuSOLVER `dpotrf`, `dgetrf` (with pivoting) and `dgeqrf` of n×n
//! f64 matrices on GPU 0, called directly through cudarc (self-contained: mosaic's CUDA
//! backend is crate-private). Each is timed with CUDA events around the one call (the
//! input is restored from a pristine device copy before each run, outside the timing),
//! the median of 3 runs after a warm-up, and printed as one line per (routine, n):
//!
//! `gpu_peers routine=dpotrf n=16384 seconds=… gflops=…`
//!
//! `cargo bench --features cuda --bench gpu_peers -- [n …]` (default `8192 16384 32768`).
//! Sizes that do not fit in free device memory are skipped with the reason; without a
//! CUDA device, or without libcublas/libcusolver, the bench says so and exits 0.
//!
//! The matrices are generated on the host, in column chunks on every core, and uploaded:
//! uniform values in [-1, 1) for dgemm, dgetrf and dgeqrf; for dpotrf a symmetric one
//! with `n` added to the diagonal (diagonally dominant, hence positive definite).

use std::ffi::c_int;
use std::panic;
use std::sync::Arc;
use std::thread;

use cudarc::cublas::{sys as cublas, CudaBlas};
use cudarc::cusolver::{sys as cusolver, DnHandle};
use cudarc::driver::{sys as driver, CudaContext, CudaSlice, CudaStream, DevicePtr};

/// The sizes run when none are given.
const SIZES: [usize; 3] = [8192, 16384, 32768];
/// Timed runs per (routine, n), after one warm-up; the median is reported.
const RUNS: usize = 3;
/// Device memory kept free beyond the matrices (library workspaces, context).
const MARGIN: usize = 2 << 30;
/// Columns generated and uploaded at a time.
const CHUNK_COLS: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Routine {
    Dgemm,
    Dpotrf,
    Dgetrf,
    Dgeqrf,
}

impl Routine {
    fn name(self) -> &'static str {
        match self {
            Routine::Dgemm => "dgemm",
            Routine::Dpotrf => "dpotrf",
            Routine::Dgetrf => "dgetrf",
            Routine::Dgeqrf => "dgeqrf",
        }
    }

    /// The conventional flop count of the routine on n×n matrices.
    fn flops(self, n: usize) -> f64 {
        let n = n as f64;
        match self {
            Routine::Dgemm => 2.0 * n * n * n,
            Routine::Dpotrf => n * n * n / 3.0,
            Routine::Dgetrf => 2.0 * n * n * n / 3.0,
            Routine::Dgeqrf => 4.0 * n * n * n / 3.0,
        }
    }
}

/// The device, one stream, and the library handles bound to it.
struct Peers {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    solver: DnHandle,
}

fn main() {
    let mut sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = SIZES.to_vec();
    }
    if let Err(why) = available() {
        println!("gpu_peers: skipped: {why}");
        return;
    }
    let peers = match Peers::open() {
        Ok(peers) => peers,
        Err(e) => {
            println!("gpu_peers: skipped: cannot open GPU 0: {e}");
            return;
        }
    };
    let (free, total) = peers.ctx.mem_get_info().unwrap_or((0, 0));
    let name = peers.ctx.name().unwrap_or_default();
    println!(
        "gpu_peers device=\"{name}\" free_gib={:.1} total_gib={:.1}",
        gib(free),
        gib(total)
    );
    for &n in &sizes {
        // dgemm, dgetrf and dgeqrf share one random matrix; dpotrf gets an SPD one.
        peers.run_all(n, false, &[Routine::Dgemm, Routine::Dgetrf, Routine::Dgeqrf]);
        peers.run_all(n, true, &[Routine::Dpotrf]);
    }
}

/// A cudarc error as text.
fn describe(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

fn gib(bytes: usize) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// Whether a CUDA device and the libraries are there (cudarc panics on the first call into
/// a library it cannot load, so ask first).
fn available() -> Result<(), String> {
    // SAFETY: `is_culib_present` only `dlopen`s the library under its usual names (and
    // closes it), running the initialisers NVIDIA's libraries expect to run.
    if !unsafe { driver::is_culib_present() } {
        return Err("no CUDA device (no CUDA driver library)".to_owned());
    }
    match panic::catch_unwind(CudaContext::device_count) {
        Ok(Ok(n)) if n > 0 => {}
        _ => return Err("no CUDA device".to_owned()),
    }
    // SAFETY: as above.
    let (blas, solver) = unsafe { (cublas::is_culib_present(), cusolver::is_culib_present()) };
    match (blas, solver) {
        (true, true) => Ok(()),
        (false, _) => Err("libcublas not found".to_owned()),
        (_, false) => Err("libcusolver not found".to_owned()),
    }
}

/// A device pointer for the libraries. One stream does all the work, in order, so the
/// recorded-use event cudarc hands back may be dropped at once.
fn ptr<T>(slice: &CudaSlice<T>, stream: &CudaStream) -> *mut T {
    let (p, _record) = slice.device_ptr(stream);
    p as usize as *mut T
}

/// `splitmix64` of `x`: a counter-based generator, so any column chunk can be made alone.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Element (i, j) of the n×n test matrix: uniform in [-1, 1); symmetric with `n` added to
/// the diagonal when `spd`.
fn element(i: usize, j: usize, n: usize, spd: bool) -> f64 {
    let (r, c) = if spd { (i.min(j), i.max(j)) } else { (i, j) };
    let u = (mix((r + c * n) as u64) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    let shift = if spd && i == j { n as f64 } else { 0.0 };
    2.0 * u - 1.0 + shift
}

impl Peers {
    fn open() -> Result<Peers, String> {
        let ctx = CudaContext::new(0).map_err(describe)?;
        let stream = ctx.new_stream().map_err(describe)?;
        let blas = CudaBlas::new(Arc::clone(&stream)).map_err(|e| format!("cuBLAS: {e:?}"))?;
        ctx.bind_to_thread().map_err(describe)?;
        let solver = DnHandle::new(Arc::clone(&stream)).map_err(|e| format!("cuSOLVER: {e:?}"))?;
        Ok(Peers {
            ctx,
            stream,
            blas,
            solver,
        })
    }

    /// Runs `routines` at size `n` on one generated matrix, printing a line for each.
    fn run_all(&self, n: usize, spd: bool, routines: &[Routine]) {
        let matrix_bytes = n * n * std::mem::size_of::<f64>();
        let free = self.ctx.mem_get_info().map(|(free, _)| free).unwrap_or(0);
        let need = 2 * matrix_bytes + MARGIN;
        if need > free {
            for r in routines {
                println!(
                    "gpu_peers routine={} n={n} skipped: needs {:.1} GiB of device memory, {:.1} GiB free",
                    r.name(),
                    gib(need),
                    gib(free)
                );
            }
            return;
        }
        let result = self.upload(n, spd).and_then(|pristine| {
            // SAFETY: contents are written (copied from `pristine`, or by the routine)
            // before they are read.
            let mut work = unsafe { self.stream.alloc::<f64>(n * n) }.map_err(describe)?;
            for &routine in routines {
                match self.time(routine, n, &pristine, &mut work) {
                    Ok(seconds) => println!(
                        "gpu_peers routine={} n={n} seconds={seconds:.4} gflops={:.1}",
                        routine.name(),
                        routine.flops(n) / seconds / 1e9
                    ),
                    Err(e) => println!("gpu_peers routine={} n={n} error: {e}", routine.name()),
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            println!("gpu_peers n={n} error: {e}");
        }
    }

    /// The n×n test matrix on the device, generated in column chunks on every core.
    fn upload(&self, n: usize, spd: bool) -> Result<CudaSlice<f64>, String> {
        // SAFETY: every column is written by the uploads below before any use.
        let mut matrix = unsafe { self.stream.alloc::<f64>(n * n) }.map_err(describe)?;
        let threads = thread::available_parallelism().map_or(1, |t| t.get());
        let mut host = vec![0.0f64; n * CHUNK_COLS.min(n)];
        for c0 in (0..n).step_by(CHUNK_COLS) {
            let cols = CHUNK_COLS.min(n - c0);
            let chunk = &mut host[..n * cols];
            let per_thread = cols.div_ceil(threads) * n;
            thread::scope(|s| {
                for (t, part) in chunk.chunks_mut(per_thread).enumerate() {
                    s.spawn(move || {
                        for (k, x) in part.iter_mut().enumerate() {
                            let e = t * per_thread + k;
                            *x = element(e % n, c0 + e / n, n, spd);
                        }
                    });
                }
            });
            let mut dst = matrix.slice_mut(c0 * n..(c0 + cols) * n);
            self.stream
                .memcpy_htod(&*chunk, &mut dst)
                .map_err(|e| format!("upload: {e:?}"))?;
        }
        self.stream.synchronize().map_err(|e| format!("upload: {e:?}"))?;
        Ok(matrix)
    }

    /// The median seconds of `RUNS` runs of `routine` after a warm-up, each on a fresh copy
    /// of `pristine` in `work` (dgemm reads `pristine` as both operands, writes `work`).
    fn time(
        &self,
        routine: Routine,
        n: usize,
        pristine: &CudaSlice<f64>,
        work: &mut CudaSlice<f64>,
    ) -> Result<f64, String> {
        let s = &self.stream;
        let ni = c_int::try_from(n).map_err(|_| format!("n = {n} does not fit a C int"))?;
        let (a, w) = (ptr(pristine, s), ptr(&*work, s));
        let info = s.alloc_zeros::<c_int>(1).map_err(describe)?;
        let ipiv = s.alloc_zeros::<c_int>(n).map_err(describe)?;
        let tau = s.alloc_zeros::<f64>(n).map_err(describe)?;
        let (info_p, ipiv_p, tau_p) = (ptr(&info, s), ptr(&ipiv, s), ptr(&tau, s));
        let h = self.solver.cu();
        let lower = cusolver::cublasFillMode_t::CUBLAS_FILL_MODE_LOWER;
        let mut lwork: c_int = 0;
        // SAFETY: size queries on live handles with the matrix's shape; the pointer is a
        // live n×n device matrix.
        let status = unsafe {
            match routine {
                Routine::Dgemm => cusolver::cusolverStatus_t::CUSOLVER_STATUS_SUCCESS,
                Routine::Dpotrf => cusolver::cusolverDnDpotrf_bufferSize(h, lower, ni, w, ni, &mut lwork),
                Routine::Dgetrf => cusolver::cusolverDnDgetrf_bufferSize(h, ni, ni, w, ni, &mut lwork),
                Routine::Dgeqrf => cusolver::cusolverDnDgeqrf_bufferSize(h, ni, ni, w, ni, &mut lwork),
            }
        };
        status.result().map_err(|e| format!("bufferSize: {e:?}"))?;
        let workspace = s.alloc_zeros::<f64>(lwork.max(1) as usize).map_err(describe)?;
        let ws = ptr(&workspace, s);
        let timing = Some(driver::CUevent_flags::CU_EVENT_DEFAULT);
        let (start, end) = (
            self.ctx.new_event(timing).map_err(describe)?,
            self.ctx.new_event(timing).map_err(describe)?,
        );
        let mut seconds = Vec::with_capacity(RUNS);
        for run in 0..=RUNS {
            if routine != Routine::Dgemm {
                s.memcpy_dtod(pristine, work).map_err(describe)?;
            }
            start.record(s).map_err(describe)?;
            // SAFETY: every pointer is a live device allocation of the size the call reads
            // or writes (n×n matrices with ld n, n pivots and scalars, one info, `lwork`
            // workspace elements), all used on the one stream the handles are bound to;
            // `alpha` and `beta` are host values read during the call.
            let status = unsafe {
                match routine {
                    Routine::Dgemm => {
                        let op = cublas::cublasOperation_t::CUBLAS_OP_N;
                        let (alpha, beta) = (1.0f64, 0.0f64);
                        let h = *self.blas.handle();
                        let st =
                            cublas::cublasDgemm_v2(h, op, op, ni, ni, ni, &alpha, a, ni, a, ni, &beta, w, ni);
                        st.result().map_err(|e| format!("cublasDgemm: {e:?}"))
                    }
                    Routine::Dpotrf => cusolver::cusolverDnDpotrf(h, lower, ni, w, ni, ws, lwork, info_p)
                        .result()
                        .map_err(|e| format!("cusolverDnDpotrf: {e:?}")),
                    Routine::Dgetrf => cusolver::cusolverDnDgetrf(h, ni, ni, w, ni, ws, ipiv_p, info_p)
                        .result()
                        .map_err(|e| format!("cusolverDnDgetrf: {e:?}")),
                    Routine::Dgeqrf => cusolver::cusolverDnDgeqrf(h, ni, ni, w, ni, tau_p, ws, lwork, info_p)
                        .result()
                        .map_err(|e| format!("cusolverDnDgeqrf: {e:?}")),
                }
            };
            status?;
            end.record(s).map_err(describe)?;
            let ms = start.elapsed_ms(&end).map_err(describe)?;
            let devinfo = s.clone_dtoh(&info).map_err(describe)?;
            if devinfo[0] != 0 {
                return Err(format!("devInfo = {}", devinfo[0]));
            }
            if run > 0 {
                seconds.push(f64::from(ms) / 1e3);
            }
        }
        seconds.sort_by(f64::total_cmp);
        Ok(seconds[seconds.len() / 2])
    }
}
