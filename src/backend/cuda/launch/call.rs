//! How a kernel of `kernels/*.cu` is launched: its arguments ([`Arg`]), the table of every
//! launched kernel's parameters ([`SIGNATURES`]) each launch is checked against, and one
//! launch ([`Call`]), built on the host and enqueued on a compute stream.

use cudarc::driver::{LaunchArgs, LaunchConfig, PushKernelArg};

use super::super::blas::Precision;
use super::super::gpu::{DeviceTile, Gpu};
use crate::Scalar;

/// A scalar argument in the kernel's element type.
#[derive(Clone, Copy)]
pub(super) enum Value {
    F64(f64),
    F32(f32),
}

impl Value {
    pub(super) fn of<T: Scalar>(x: T) -> Self {
        match Precision::of::<T>() {
            Precision::F64 => Value::F64(x.to_f64()),
            // Exact: `T` is `f32`.
            Precision::F32 => Value::F32(x.to_f64() as f32),
        }
    }
}

/// One argument of a kernel: a size, a device address, or a scalar.
#[derive(Clone, Copy)]
pub(super) enum Arg {
    Int(i64),
    Ptr(u64),
    Value(Value),
}

/// The parameters of every kernel this module launches, as (module, kernel without its
/// `_f64`/`_f32` suffix, one letter per parameter: `i` a `long long`, `p` a device
/// address, `v` a scalar of the element type). Each launch is checked against it, and
/// `tests/nvrtc_kernels.rs` checks it against the compiled kernels' parameter lists.
pub(crate) const SIGNATURES: &[(&str, &str, &str)] = &[
    ("elementwise", "fill", "iivpi"),
    ("triangle", "laset_upper", "iivpi"),
    ("triangle", "laset_lower", "iivpi"),
    ("triangle", "copy_upper", "iipipi"),
    ("elementwise", "copy", "iipipi"),
    ("elementwise", "add", "iipipipi"),
    ("elementwise", "sub", "iipipipi"),
    ("elementwise", "hadamard", "iipipipi"),
    ("elementwise", "div", "iipipipi"),
    ("elementwise", "add_scalar", "iipivpi"),
    ("elementwise", "sub_scalar", "iipivpi"),
    ("elementwise", "mul_scalar", "iipivpi"),
    ("elementwise", "div_scalar", "iipivpi"),
    ("laswp", "laswp_tiles", "ippiiipi"),
    ("transpose", "transpose", "iipipi"),
    ("random", "rand_uniform", "iiiiipi"),
    ("random", "eye", "iiiipi"),
    ("reduce", "row_sums", "iipip"),
    ("reduce", "row_sums_squares", "iipip"),
];

/// The modules of [`SIGNATURES`] (a device loads them when it opens).
pub(crate) const MODULES_LAUNCHED: [&str; 6] = [
    "elementwise",
    "triangle",
    "laswp",
    "transpose",
    "random",
    "reduce",
];

impl Arg {
    /// The letter of [`SIGNATURES`] for this argument.
    fn letter(self) -> char {
        match self {
            Arg::Int(_) => 'i',
            Arg::Ptr(_) => 'p',
            Arg::Value(_) => 'v',
        }
    }
}

/// The arguments every tile operand contributes: its address and its leading dimension.
pub(super) fn tile(t: DeviceTile) -> [Arg; 2] {
    [
        Arg::Ptr(t.ptr.as_ptr() as usize as u64),
        Arg::Int(t.ld.max(1) as i64),
    ]
}

/// One kernel launch, built on the host (and checked against [`SIGNATURES`] by the unit
/// tests, GPU or not) before it is enqueued.
pub(super) struct Call {
    pub(super) module: &'static str,
    pub(super) name: &'static str,
    pub(super) config: LaunchConfig,
    pub(super) args: Vec<Arg>,
}

impl Call {
    /// `name` of `module` over an `m × n` tile (`kernels/common.cuh`'s shape: (32, 8)
    /// threads a block, ⌈m/32⌉ × min(⌈n/8⌉, 65535) blocks, the kernels striding over the
    /// rest), with `args` after `(m, n)`; `None` for an empty tile (nothing to launch).
    pub(super) fn over_tile(
        module: &'static str,
        name: &'static str,
        (m, n): (usize, usize),
        args: &[Arg],
    ) -> Option<Call> {
        if m == 0 || n == 0 {
            return None;
        }
        let config = LaunchConfig {
            grid_dim: (m.div_ceil(32) as u32, n.div_ceil(8).min(65535) as u32, 1),
            block_dim: (32, 8, 1),
            shared_mem_bytes: 0,
        };
        let mut all = vec![Arg::Int(m as i64), Arg::Int(n as i64)];
        all.extend_from_slice(args);
        Some(Call {
            module,
            name,
            config,
            args: all,
        })
    }

    /// The parameter letters of its arguments (see [`SIGNATURES`]).
    pub(super) fn letters(&self) -> String {
        self.args.iter().map(|a| a.letter()).collect()
    }

    /// Enqueues `<name>_<f32|f64>` on compute stream `stream`.
    ///
    /// # Safety
    /// The launch module's conditions (`launch/mod.rs`) hold for the tiles its arguments name.
    unsafe fn run<T: Scalar>(self, gpu: &Gpu, stream: usize) -> Result<(), String> {
        let (module, name, letters) = (self.module, self.name, self.letters());
        assert!(
            SIGNATURES.contains(&(module, name, letters.as_str())),
            "{module}.cu: no kernel {name}({letters}) in SIGNATURES"
        );
        gpu.bind()?;
        let suffix = match Precision::of::<T>() {
            Precision::F64 => "f64",
            Precision::F32 => "f32",
        };
        let function = gpu
            .module(module)?
            .load_function(&format!("{name}_{suffix}"))
            .map_err(|e| gpu.error(&format!("kernel {name}_{suffix}"), e))?;
        let s = gpu.stream(stream);
        let mut builder: LaunchArgs<'_> = s.launch_builder(&function);
        for a in &self.args {
            match a {
                Arg::Int(x) => builder.arg(x),
                Arg::Ptr(p) => builder.arg(p),
                Arg::Value(Value::F64(x)) => builder.arg(x),
                Arg::Value(Value::F32(x)) => builder.arg(x),
            };
        }
        // SAFETY: the arguments match the kernel's parameters (checked against
        // `SIGNATURES` above, which the NVRTC test checks against the kernels), each pushed
        // by reference to a value that lives until `launch` returns (the driver copies them
        // at the launch); the tiles' conditions are the caller's.
        unsafe { builder.launch(self.config) }
            .map(drop)
            .map_err(|e| gpu.error(&format!("launching {name}_{suffix}"), e))
    }
}

/// Runs `call`, if there is one.
///
/// # Safety
/// As [`Call::run`]'s.
pub(super) unsafe fn run<T: Scalar>(gpu: &Gpu, stream: usize, call: Option<Call>) -> Result<(), String> {
    match call {
        // SAFETY: the caller's contract.
        Some(call) => unsafe { call.run::<T>(gpu, stream) },
        None => Ok(()),
    }
}
