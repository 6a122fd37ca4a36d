//! mosaic's CUDA C tile kernels (`kernels/*.cu`, see `kernels/README.md`): the sources,
//! embedded in the crate; [`compile`], NVRTC to PTX; and [`ModuleCache`], which compiles
//! and loads each module once per device, at first use.
//!
//! Every module gets [`PRELUDE`] (`kernels/common.cuh`: the tile-indexing macros) in front
//! of it, then a `#line` directive, so that NVRTC's messages name the `.cu` file and line.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use cudarc::driver::{CudaContext, CudaModule};
use cudarc::nvrtc::{self, CompileError, CompileOptions, Ptx};

/// The text put in front of every module: conventions and indexing macros.
pub(crate) const PRELUDE: &str = include_str!("../../../kernels/common.cuh");

/// Every kernel module: (name, CUDA C source) for each `kernels/<name>.cu`. Each exports
/// `extern "C"` kernels suffixed by the element type (`add_f64`, `add_f32`).
pub(crate) const MODULES: &[(&str, &str)] = &[
    ("elementwise", include_str!("../../../kernels/elementwise.cu")),
    ("laswp", include_str!("../../../kernels/laswp.cu")),
    ("random", include_str!("../../../kernels/random.cu")),
    ("reduce", include_str!("../../../kernels/reduce.cu")),
    ("transpose", include_str!("../../../kernels/transpose.cu")),
    ("triangle", include_str!("../../../kernels/triangle.cu")),
];

/// The virtual architecture compiled for when none is given (Hopper). PTX is compiled
/// further by the driver for the device it is loaded on, of this generation or a later one.
pub(crate) const DEFAULT_ARCH: &str = "compute_90";

/// Compiles module `name` of [`MODULES`] to PTX for the virtual architecture `arch`
/// (`"compute_90"`; [`DEFAULT_ARCH`] when `None`), in C++17, without `--use_fast_math`
/// and with `--fmad=false`: no multiply-add contraction, so that elementwise results equal
/// the CPU's bitwise. `Err` carries NVRTC's log, or says that libnvrtc is missing.
pub(crate) fn compile(name: &str, arch: Option<&str>) -> Result<Ptx, String> {
    let Some(&(name, source)) = MODULES.iter().find(|(n, _)| *n == name) else {
        return Err(format!("no CUDA kernel module named {name:?}"));
    };
    if !super::nvrtc_present() {
        return Err(format!(
            "cannot compile the CUDA kernels of {name}.cu: libnvrtc not found (see kernels/README.md)"
        ));
    }
    let arch = arch.unwrap_or(DEFAULT_ARCH);
    let options = CompileOptions {
        fmad: Some(false),
        options: vec!["-std=c++17".to_owned(), format!("-arch={arch}")],
        name: Some(format!("{name}.cu")),
        ..CompileOptions::default()
    };
    let full = format!("{PRELUDE}\n#line 1 \"{name}.cu\"\n{source}");
    nvrtc::compile_ptx_with_opts(full, options).map_err(|e| describe(name, arch, e))
}

/// NVRTC's error as a readable message: the compiler's log when there is one.
fn describe(name: &str, arch: &str, error: CompileError) -> String {
    match error {
        CompileError::CompileError { nvrtc, options, log } => format!(
            "NVRTC failed on {name}.cu ({nvrtc:?}, options {options:?}):\n{}",
            log.to_string_lossy()
        ),
        other => format!("NVRTC failed on {name}.cu for {arch}: {other:?}"),
    }
}

/// The kernel modules loaded on each device, compiled and loaded at first use.
///
/// Keyed by device ordinal: the runtime uses one context per device (the primary one).
/// The lock is held while a module compiles, so that each is compiled once.
#[derive(Debug, Default)]
pub(crate) struct ModuleCache {
    loaded: Mutex<HashMap<(usize, &'static str), Arc<CudaModule>>>,
}

impl ModuleCache {
    /// Module `name` of [`MODULES`] loaded in `ctx`, compiled for the device's compute
    /// capability on the first call for this device.
    pub(crate) fn get(&self, ctx: &Arc<CudaContext>, name: &'static str) -> Result<Arc<CudaModule>, String> {
        let device = ctx.ordinal();
        // A panic while the lock was held left the map as it was: still consistent.
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(module) = loaded.get(&(device, name)) {
            return Ok(Arc::clone(module));
        }
        let (major, minor) = ctx
            .compute_capability()
            .map_err(|e| format!("CUDA device {device}: compute capability: {e:?}"))?;
        let ptx = compile(name, Some(&format!("compute_{major}{minor}")))?;
        let module = ctx
            .load_module(ptx)
            .map_err(|e| format!("CUDA device {device}: loading kernel module {name}: {e:?}"))?;
        loaded.insert((device, name), Arc::clone(&module));
        Ok(module)
    }
}
