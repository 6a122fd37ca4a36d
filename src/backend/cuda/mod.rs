//! CUDA, behind the `cuda` feature: what the runtime needs to find GPUs and run mosaic's
//! own tile kernels on them.
//!
//! This module owns
//! 1. the probes [`device_count`] and [`nvrtc_present`], which answer "none" rather than
//!    panic on a machine without the CUDA driver or NVRTC (cudarc loads both at run time,
//!    `dynamic-loading`, and panics on the first call into a library it cannot find);
//! 2. [`kernels`]: the CUDA C sources of `kernels/*.cu` (what cuBLAS and cuSOLVER lack:
//!    elementwise, random, triangle, transpose, row-swap and reduction kernels), embedded
//!    in the crate, compiled with NVRTC at first use and cached per device;
//! 3. [`gpu`]: one device as the runtime uses it ([`gpu::Gpu`]): its primary context,
//!    compute and copy streams, device memory as raw pointers (a tile's replica is the byte image of its host one),
//!    host↔device copies through pinned staging buffers, events between streams;
//! 4. [`blas`]: the cuBLAS tile kernels `gemm`, `syrk`, `trsm`, `trmm` on device tiles, with the
//!    contracts of their [`Backend`](crate::backend::Backend) namesakes;
//! 5. [`solver`]: the cuSOLVER tile kernels `potrf`, `getrf` (and `getrf_tiles`, a panel
//!    of tiles), with per-stream workspaces that only grow;
//! 6. [`launch`]: the `kernels/*.cu` tile kernels the runtime runs (`laset`, `lacpy`,
//!    `copy_upper`, the elementwise operations, `laswp`, `transpose`, `rand_uniform`,
//!    `eye`, `sum`), launched on a compute stream;
//! 7. [`qr`]: QR's reflector applications `unmqr`, `tsmqr`, `ttmqr` as cuBLAS calls and
//!    `launch` copies (the panels, `geqrt`/`tsqrt`/`ttqrt`, run on the CPUs).
//!
//! The build needs no CUDA toolkit and no GPU. Compiling the kernels needs only libnvrtc
//! (the pip wheel `nvidia-cuda-nvrtc` is enough, see `kernels/README.md`); running them
//! needs a GPU and its driver.

pub(crate) mod blas;
pub(crate) mod gpu;
pub(crate) mod kernels;
pub(crate) mod launch;
pub(crate) mod qr;
pub(crate) mod solver;

pub(crate) use gpu::{DeviceTile, Gpu, Launch, Scratch, COMPUTE_STREAMS};

use std::panic;
use std::sync::OnceLock;

/// The number of CUDA devices: 0 when the CUDA driver library is absent or fails to
/// initialise (no GPU, no driver, a driver too old for CUDA 13). Probed once per process.
pub(crate) fn device_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        // SAFETY: `is_culib_present` only tries to `dlopen` the driver library under its
        // usual names (and closes it again); its one hazard is running that library's
        // initialisers, which NVIDIA's libcuda expects from every process that loads it.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return 0;
        }
        // A belt on top of the check: cudarc panics rather than returning an error when a
        // symbol is missing (a driver older than the API cudarc was built for).
        let count = panic::catch_unwind(cudarc::driver::CudaContext::device_count);
        match count {
            Ok(Ok(n)) => usize::try_from(n).unwrap_or(0),
            _ => 0,
        }
    })
}

/// Whether libnvrtc can be loaded (then [`kernels::compile`] can run, GPU or not). Probed
/// once per process.
pub(crate) fn nvrtc_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    *PRESENT.get_or_init(|| {
        // SAFETY: as in `device_count`: `is_culib_present` only `dlopen`s libnvrtc under
        // its usual names, running the initialisers NVIDIA's library expects to run.
        unsafe { cudarc::nvrtc::sys::is_culib_present() }
    })
}

/// For `tests/nvrtc_kernels.rs` only: every kernel module compiled with NVRTC for the
/// default architecture, as (module name, the PTX text or the compiler's message); `None`
/// when libnvrtc cannot be loaded. Not part of mosaic's API.
#[doc(hidden)]
pub fn compile_all_kernels_for_tests() -> Option<Vec<(&'static str, Result<String, String>)>> {
    if !nvrtc_present() {
        return None;
    }
    let compiled = kernels::MODULES
        .iter()
        .map(|&(name, _)| (name, kernels::compile(name, None).map(|ptx| ptx.to_src())))
        .collect();
    Some(compiled)
}

/// For `tests/nvrtc_kernels.rs` only: the parameters of every kernel the runtime launches,
/// as (module, kernel without its type suffix, one letter per parameter: `i` a
/// `long long`, `p` a device address, `v` a scalar of the element type). Not part of
/// mosaic's API.
#[doc(hidden)]
pub fn launched_kernels_for_tests() -> &'static [(&'static str, &'static str, &'static str)] {
    launch::SIGNATURES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probes_answer_without_panicking_on_any_machine() {
        // Without libcuda / libnvrtc (CI, laptops) these must say "none", not panic.
        let (devices, nvrtc) = (device_count(), nvrtc_present());
        println!("CUDA devices: {devices}, libnvrtc: {nvrtc}");
        assert_eq!(device_count(), devices, "the answer is cached");
    }

    #[test]
    fn compile_reports_an_unknown_module_or_a_missing_nvrtc_as_an_error() {
        let err = kernels::compile("no_such_module", None).unwrap_err();
        assert!(err.contains("no_such_module"), "{err}");
        if !nvrtc_present() {
            let err = kernels::compile("elementwise", None).unwrap_err();
            assert!(err.contains("libnvrtc not found"), "{err}");
        }
    }
}
