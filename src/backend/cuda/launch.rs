//! mosaic's own CUDA kernels (`kernels/*.cu`) on [`DeviceTile`]s, for what cuBLAS and
//! cuSOLVER lack: `laset`, `lacpy`, `laswp` and the elementwise operations, with the contracts of
//! their [`Backend`](crate::backend::Backend) namesakes and results equal to the CPU's
//! bitwise (IEEE operations, no contraction: `kernels/elementwise.cu`).
//!
//! Each call looks its kernel up in the device's module cache (compiled with NVRTC at the
//! device's first use of the module), enqueues it on compute stream `stream` and returns:
//! the result is there once the stream has run it.
//!
//! # Safety (every kernel here)
//! As for `blas.rs`: every tile names live device memory of `gpu` holding `T`s as
//! [`DeviceTile`] says, `stream < COMPUTE_STREAMS`, and while the stream runs the kernel no
//! other device work writes what it reads or touches what it writes. An output may be the
//! same tile as an input (`a ← a op b`): each element is read, then written, by one thread.

use std::ptr::NonNull;

use cudarc::driver::{LaunchArgs, LaunchConfig, PushKernelArg};

use super::blas::Precision;
use super::gpu::{DeviceTile, Gpu, Scratch};
use crate::backend::{Elementwise, Uplo};
use crate::Scalar;

/// A scalar argument in the kernel's element type.
#[derive(Clone, Copy)]
enum Value {
    F64(f64),
    F32(f32),
}

impl Value {
    fn of<T: Scalar>(x: T) -> Self {
        match Precision::of::<T>() {
            Precision::F64 => Value::F64(x.to_f64()),
            // Exact: `T` is `f32`.
            Precision::F32 => Value::F32(x.to_f64() as f32),
        }
    }
}

/// One argument of a kernel: a size, a device address, or a scalar.
#[derive(Clone, Copy)]
enum Arg {
    Int(i64),
    Ptr(u64),
    Value(Value),
}

/// The arguments `(m, n, tile)` every tile operand contributes: its address and its leading
/// dimension.
fn tile(t: DeviceTile) -> [Arg; 2] {
    [
        Arg::Ptr(t.ptr.as_ptr() as usize as u64),
        Arg::Int(t.ld.max(1) as i64),
    ]
}

/// The launch shape of a kernel over an `m × n` tile (`kernels/common.cuh`): (32, 8)
/// threads a block, ⌈m/32⌉ × min(⌈n/8⌉, 65535) blocks (the kernels stride over the rest).
fn over_tile(m: usize, n: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (m.div_ceil(32) as u32, n.div_ceil(8).min(65535) as u32, 1),
        block_dim: (32, 8, 1),
        shared_mem_bytes: 0,
    }
}

/// Launches `<name>_<f32|f64>` of module `module` over an `m × n` tile, with `args`
/// after `(m, n)`, shaped by [`over_tile`].
///
/// # Safety
/// The arguments match the kernel's parameters after `(m, n)` in number and type, and
/// the module docs' conditions hold for the tiles they name.
unsafe fn launch<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    (module, name): (&'static str, &str),
    (m, n): (usize, usize),
    args: &[Arg],
) -> Result<(), String> {
    if m == 0 || n == 0 {
        return Ok(());
    }
    let all: Vec<Arg> = [Arg::Int(m as i64), Arg::Int(n as i64)]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    // SAFETY: the caller's contract, with `(m, n)` in front.
    unsafe { launch_with::<T>(gpu, stream, (module, name), over_tile(m, n), &all) }
}

/// Launches `<name>_<f32|f64>` of module `module` with `config` and all its `args`.
///
/// # Safety
/// As [`launch`]'s, for all the arguments.
unsafe fn launch_with<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    (module, name): (&'static str, &str),
    config: LaunchConfig,
    args: &[Arg],
) -> Result<(), String> {
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
    for a in args {
        match a {
            Arg::Int(x) => builder.arg(x),
            Arg::Ptr(p) => builder.arg(p),
            Arg::Value(Value::F64(x)) => builder.arg(x),
            Arg::Value(Value::F32(x)) => builder.arg(x),
        };
    }
    // SAFETY: the arguments match the kernel's parameters (the caller's contract), each
    // pushed by reference to a value that lives until `launch` returns (the driver copies
    // them at the launch); the tiles' conditions are the caller's.
    unsafe { builder.launch(config) }
        .map(drop)
        .map_err(|e| gpu.error(&format!("launching {name}_{suffix}"), e))
}

/// `Backend::laswp` on a column of device tiles stacked into one block (`tiles[0]` on top,
/// one width, all but the last as tall as the first): for `k` in `0..count`, rows `k` and
/// `ipiv[k] − base` of the stack swapped, in order. `ipiv` is device memory holding
/// `count` `long long`s (mosaic's pivots, `usize` on a 64-bit host).
///
/// # Safety
/// See the module docs; `ipiv` as said, unwritten while the stream runs the kernel.
pub(crate) unsafe fn laswp<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    tiles: &[DeviceTile],
    (ipiv, count, base): (NonNull<u8>, usize, usize),
) -> Result<(), String> {
    let n = tiles.first().map_or(0, |t| t.cols);
    if n == 0 || count == 0 {
        return Ok(());
    }
    // The tiles' addresses, then their leading dimensions, in device memory for the kernel.
    let table: Vec<u64> = tiles
        .iter()
        .map(|t| t.ptr.as_ptr() as usize as u64)
        .chain(tiles.iter().map(|t| t.ld.max(1) as u64))
        .collect();
    let scratch = Scratch::new(gpu, stream, table.len() * 8)?;
    // SAFETY: the scratch holds the table, and only this stream uses it.
    unsafe { gpu.write_small(stream, scratch.ptr(), &table) }?;
    let lds = scratch.ptr().as_ptr() as usize as u64 + (tiles.len() * 8) as u64;
    let args = [
        Arg::Int(n as i64),
        Arg::Ptr(scratch.ptr().as_ptr() as usize as u64),
        Arg::Ptr(lds),
        Arg::Int(tiles[0].rows as i64),
        Arg::Int(0),
        Arg::Int(count as i64),
        Arg::Ptr(ipiv.as_ptr() as usize as u64),
        Arg::Int(base as i64),
    ];
    // One thread per column, along x (kernels/laswp.cu).
    let config = LaunchConfig {
        grid_dim: (n.div_ceil(128).min(65535) as u32, 1, 1),
        block_dim: (128, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: (n, tiles, lds, tb, k1, k2, ipiv, base), as `laswp_tiles` declares; the
    // table lives in `scratch`, freed after the stream has run the kernel (its drop).
    unsafe { launch_with::<T>(gpu, stream, ("laswp", "laswp_tiles"), config, &args) }
}

/// `Backend::laset`: `a`'s elements (all, or the strictly upper or lower part) set to
/// `alpha`.
///
/// # Safety
/// See the module docs.
pub(crate) unsafe fn laset<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    uplo: Option<Uplo>,
    alpha: T,
    a: DeviceTile,
) -> Result<(), String> {
    let (module, name) = match uplo {
        None => ("elementwise", "fill"),
        Some(Uplo::Upper) => ("triangle", "laset_upper"),
        Some(Uplo::Lower) => ("triangle", "laset_lower"),
    };
    let [p, ld] = tile(a);
    let args = [Arg::Value(Value::of(alpha)), p, ld];
    // SAFETY: (m, n, value, a, lda), as the three kernels declare; the tile is the caller's.
    unsafe { launch::<T>(gpu, stream, (module, name), (a.rows, a.cols), &args) }
}

/// `Backend::lacpy`: `b ← a`, two tiles of one shape that do not overlap.
///
/// # Safety
/// See the module docs.
pub(crate) unsafe fn lacpy<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    a: DeviceTile,
    b: DeviceTile,
) -> Result<(), String> {
    assert_eq!((a.rows, a.cols), (b.rows, b.cols), "lacpy: tiles of two shapes");
    let ([pa, lda], [pb, ldb]) = (tile(a), tile(b));
    // SAFETY: (m, n, src, lds, dst, ldd), as `copy` declares; the tiles are the caller's.
    unsafe {
        launch::<T>(
            gpu,
            stream,
            ("elementwise", "copy"),
            (b.rows, b.cols),
            &[pa, lda, pb, ldb],
        )
    }
}

/// `Backend::elementwise` (`c ← a op b`) and, with `c` = `a`, `elementwise_assign`.
///
/// # Safety
/// See the module docs.
pub(crate) unsafe fn elementwise<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    op: Elementwise,
    a: DeviceTile,
    b: DeviceTile,
    c: DeviceTile,
) -> Result<(), String> {
    let shape = (c.rows, c.cols);
    assert!(
        (a.rows, a.cols) == shape && (b.rows, b.cols) == shape,
        "elementwise: tiles of different shapes"
    );
    let name = match op {
        Elementwise::Add => "add",
        Elementwise::Sub => "sub",
        Elementwise::Mul => "hadamard",
        Elementwise::Div => "div",
    };
    let ([pa, lda], [pb, ldb], [pc, ldc]) = (tile(a), tile(b), tile(c));
    // SAFETY: (m, n, a, lda, b, ldb, c, ldc), as the four kernels declare.
    unsafe {
        launch::<T>(
            gpu,
            stream,
            ("elementwise", name),
            shape,
            &[pa, lda, pb, ldb, pc, ldc],
        )
    }
}

/// `Backend::elementwise_scalar` (`c ← a op α`) and, with `c` = `a`,
/// `elementwise_scalar_assign`.
///
/// # Safety
/// See the module docs.
pub(crate) unsafe fn elementwise_scalar<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    op: Elementwise,
    a: DeviceTile,
    alpha: T,
    c: DeviceTile,
) -> Result<(), String> {
    assert_eq!(
        (a.rows, a.cols),
        (c.rows, c.cols),
        "elementwise: tiles of two shapes"
    );
    let name = match op {
        Elementwise::Add => "add_scalar",
        Elementwise::Sub => "sub_scalar",
        Elementwise::Mul => "mul_scalar",
        Elementwise::Div => "div_scalar",
    };
    let ([pa, lda], [pc, ldc]) = (tile(a), tile(c));
    let args = [pa, lda, Arg::Value(Value::of(alpha)), pc, ldc];
    // SAFETY: (m, n, a, lda, alpha, c, ldc), as the four kernels declare.
    unsafe { launch::<T>(gpu, stream, ("elementwise", name), (c.rows, c.cols), &args) }
}
