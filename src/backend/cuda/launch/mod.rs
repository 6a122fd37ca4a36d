//! mosaic's own CUDA kernels (`kernels/*.cu`) on [`DeviceTile`]s, for what cuBLAS and
//! cuSOLVER lack: `laset`, `lacpy`, `copy_upper`, `laswp`, the elementwise operations,
//! `transpose`, the generators and `sum`, with the contracts of their [`Backend`](crate::backend::Backend)
//! namesakes and results equal to the CPU's bitwise (IEEE operations, no contraction:
//! `kernels/elementwise.cu`).
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

mod call;

use std::ptr::NonNull;

use cudarc::driver::LaunchConfig;

use self::call::{run, tile, Arg, Call, Value};
pub(crate) use self::call::{MODULES_LAUNCHED, SIGNATURES};
use super::gpu::{DeviceTile, Gpu, Scratch};
use crate::backend::{Elementwise, SumOf, Uplo};
use crate::Scalar;

fn laset_call<T: Scalar>(uplo: Option<Uplo>, alpha: T, a: DeviceTile) -> Option<Call> {
    let (module, name) = match uplo {
        None => ("elementwise", "fill"),
        Some(Uplo::Upper) => ("triangle", "laset_upper"),
        Some(Uplo::Lower) => ("triangle", "laset_lower"),
    };
    let [p, ld] = tile(a);
    Call::over_tile(
        module,
        name,
        (a.rows, a.cols),
        &[Arg::Value(Value::of(alpha)), p, ld],
    )
}

fn lacpy_call(a: DeviceTile, b: DeviceTile) -> Option<Call> {
    assert_eq!((a.rows, a.cols), (b.rows, b.cols), "lacpy: tiles of two shapes");
    let ([pa, lda], [pb, ldb]) = (tile(a), tile(b));
    Call::over_tile("elementwise", "copy", (b.rows, b.cols), &[pa, lda, pb, ldb])
}

fn copy_upper_call(a: DeviceTile, b: DeviceTile) -> Option<Call> {
    assert_eq!(
        (a.rows, a.cols),
        (b.rows, b.cols),
        "copy_upper: tiles of two shapes"
    );
    let ([pa, lda], [pb, ldb]) = (tile(a), tile(b));
    Call::over_tile("triangle", "copy_upper", (b.rows, b.cols), &[pa, lda, pb, ldb])
}

fn elementwise_call(op: Elementwise, a: DeviceTile, b: DeviceTile, c: DeviceTile) -> Option<Call> {
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
    Call::over_tile("elementwise", name, shape, &[pa, lda, pb, ldb, pc, ldc])
}

fn elementwise_scalar_call<T: Scalar>(
    op: Elementwise,
    a: DeviceTile,
    alpha: T,
    c: DeviceTile,
) -> Option<Call> {
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
    Call::over_tile("elementwise", name, (c.rows, c.cols), &args)
}

/// `rand_uniform` (`seed`) or `eye` (`None`) of tile `a` at global offset `(row0, col0)`.
fn generate_call(seed: Option<u64>, (row0, col0): (usize, usize), a: DeviceTile) -> Option<Call> {
    let [p, ld] = tile(a);
    let at = [Arg::Int(row0 as i64), Arg::Int(col0 as i64), p, ld];
    match seed {
        Some(seed) => {
            let args: Vec<Arg> = [Arg::Int(seed as i64)].into_iter().chain(at).collect();
            Call::over_tile("random", "rand_uniform", (a.rows, a.cols), &args)
        }
        None => Call::over_tile("random", "eye", (a.rows, a.cols), &at),
    }
}

/// `transpose` of the `m × n` `a` into the `n × m` `b`: blocks of 32 × 8 threads, one per
/// 32 × 32 sub-tile (`kernels/transpose.cu`'s contract).
fn transpose_call(a: DeviceTile, b: DeviceTile) -> Option<Call> {
    assert_eq!(
        (a.rows, a.cols),
        (b.cols, b.rows),
        "transpose: shapes do not match"
    );
    let (m, n) = (a.rows, a.cols);
    let mut call = Call::over_tile(
        "transpose",
        "transpose",
        (m, n),
        &[tile(a)[0], tile(a)[1], tile(b)[0], tile(b)[1]],
    )?;
    call.config.grid_dim = (
        m.div_ceil(32).min(65535) as u32,
        n.div_ceil(32).min(65535) as u32,
        1,
    );
    Some(call)
}

/// `laswp_tiles` over `n` columns of a stack of tiles `tb` rows tall (but the last), their
/// addresses at `table` and leading dimensions at `lds` in device memory, `count` pivots
/// at `ipiv` counted from `base`: one thread per column, along x (`kernels/laswp.cu`).
fn laswp_call(
    n: usize,
    (table, lds): (u64, u64),
    tb: usize,
    (ipiv, count, base): (u64, usize, usize),
) -> Option<Call> {
    if n == 0 || count == 0 {
        return None;
    }
    let args = vec![
        Arg::Int(n as i64),
        Arg::Ptr(table),
        Arg::Ptr(lds),
        Arg::Int(tb as i64),
        Arg::Int(0),
        Arg::Int(count as i64),
        Arg::Ptr(ipiv),
        Arg::Int(base as i64),
    ];
    let config = LaunchConfig {
        grid_dim: (n.div_ceil(128).min(65535) as u32, 1, 1),
        block_dim: (128, 1, 1),
        shared_mem_bytes: 0,
    };
    Some(Call {
        module: "laswp",
        name: "laswp_tiles",
        config,
        args,
    })
}

/// The kernel writing each row's sum of `a` (or sum of squares) to the `f64`s at `sums`:
/// one thread a row, 128 a block.
fn row_sums_call(of: SumOf, a: DeviceTile, sums: u64) -> Option<Call> {
    if a.rows == 0 || a.cols == 0 {
        return None;
    }
    let name = match of {
        SumOf::Values => "row_sums",
        SumOf::Squares => "row_sums_squares",
    };
    let [p, ld] = tile(a);
    let args = vec![
        Arg::Int(a.rows as i64),
        Arg::Int(a.cols as i64),
        p,
        ld,
        Arg::Ptr(sums),
    ];
    let config = LaunchConfig {
        grid_dim: (a.rows.div_ceil(128).min(65535) as u32, 1, 1),
        block_dim: (128, 1, 1),
        shared_mem_bytes: 0,
    };
    Some(Call {
        module: "reduce",
        name,
        config,
        args,
    })
}

/// `Backend::sum`: the sum of `a`'s elements or of their squares, in the CPU's order
/// (each row's on the device, then the row sums on the host). Synchronizes `stream`.
///
/// # Safety
/// See the module docs.
pub(crate) unsafe fn sum<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    of: SumOf,
    a: DeviceTile,
) -> Result<f64, String> {
    if a.rows == 0 || a.cols == 0 {
        return Ok(0.0);
    }
    let scratch = Scratch::new(gpu, stream, a.rows * size_of::<f64>())?;
    let call = row_sums_call(of, a, scratch.ptr().as_ptr() as usize as u64);
    let mut rows = vec![0.0f64; a.rows];
    // SAFETY: the tile is the caller's; the row sums go to `scratch` (`a.rows` `f64`s, this
    // call's own), read back on the same stream after the kernel.
    unsafe {
        run::<T>(gpu, stream, call)?;
        gpu.read_small(stream, scratch.ptr(), &mut rows)?;
    }
    Ok(rows.into_iter().fold(0.0, |total, row| total + row))
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
    // SAFETY: the tile is the caller's.
    unsafe { run::<T>(gpu, stream, laset_call(uplo, alpha, a)) }
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
    // SAFETY: the tiles are the caller's.
    unsafe { run::<T>(gpu, stream, lacpy_call(a, b)) }
}

/// `b ←` the upper part of `a` (on and above the diagonal), zeros below it; `a`'s strictly
/// lower part is not read. Two tiles of one shape that do not overlap.
///
/// # Safety
/// See the module docs.
pub(crate) unsafe fn copy_upper<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    a: DeviceTile,
    b: DeviceTile,
) -> Result<(), String> {
    // SAFETY: the tiles are the caller's.
    unsafe { run::<T>(gpu, stream, copy_upper_call(a, b)) }
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
    // SAFETY: the tiles are the caller's.
    unsafe { run::<T>(gpu, stream, elementwise_call(op, a, b, c)) }
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
    // SAFETY: the tiles are the caller's.
    unsafe { run::<T>(gpu, stream, elementwise_scalar_call(op, a, alpha, c)) }
}

/// Tile `a` filled with the uniform values of the matrix seeded `seed` at global offset
/// `(row0, col0)`: `src/darray/random.rs`'s `uniform`, bitwise.
///
/// # Safety
/// See the module docs.
pub(crate) unsafe fn rand_uniform<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    seed: u64,
    at: (usize, usize),
    a: DeviceTile,
) -> Result<(), String> {
    // SAFETY: the tile is the caller's.
    unsafe { run::<T>(gpu, stream, generate_call(Some(seed), at, a)) }
}

/// Tile `a` filled as the tile at global offset `(row0, col0)` of the identity.
///
/// # Safety
/// See the module docs.
pub(crate) unsafe fn eye<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    at: (usize, usize),
    a: DeviceTile,
) -> Result<(), String> {
    // SAFETY: the tile is the caller's.
    unsafe { run::<T>(gpu, stream, generate_call(None, at, a)) }
}

/// `b ← aᵀ` (`a` is `m × n`, `b` `n × m`), two tiles that do not overlap.
///
/// # Safety
/// See the module docs.
pub(crate) unsafe fn transpose<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    a: DeviceTile,
    b: DeviceTile,
) -> Result<(), String> {
    // SAFETY: the tiles are the caller's.
    unsafe { run::<T>(gpu, stream, transpose_call(a, b)) }
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
    // The kernel finds row k in tile k / tb.
    let tb = tiles[0].rows;
    assert!(
        tiles.iter().all(|t| t.cols == n) && tiles[..tiles.len() - 1].iter().all(|t| t.rows == tb),
        "laswp: the tiles of a stack are one width and, but the last, one height"
    );
    // The tiles' addresses, then their leading dimensions, in device memory for the kernel.
    let table: Vec<u64> = tiles
        .iter()
        .map(|t| t.ptr.as_ptr() as usize as u64)
        .chain(tiles.iter().map(|t| t.ld.max(1) as u64))
        .collect();
    let scratch = Scratch::new(gpu, stream, table.len() * 8)?;
    // SAFETY: the scratch holds the table, and only this stream uses it.
    unsafe { gpu.write_small(stream, scratch.ptr(), &table) }?;
    let at = scratch.ptr().as_ptr() as usize as u64;
    let pivots = (ipiv.as_ptr() as usize as u64, count, base);
    let call = laswp_call(n, (at, at + (tiles.len() * 8) as u64), tb, pivots);
    // SAFETY: the tiles and pivots are the caller's; the table lives in `scratch`, freed
    // after the stream has run the kernel (its drop waits for the stream).
    unsafe { run::<T>(gpu, stream, call) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(rows: usize, cols: usize) -> DeviceTile {
        DeviceTile {
            ptr: NonNull::dangling(),
            rows,
            cols,
            ld: rows + 3,
        }
    }

    /// Every launch the kernels of this module build matches its kernel's signature (the
    /// NVRTC test checks the signatures against the compiled kernels).
    #[test]
    fn every_call_matches_a_signature() {
        let (a, b, c) = (tile(5, 4), tile(5, 4), tile(5, 4));
        let mut calls = vec![
            lacpy_call(a, b),
            copy_upper_call(a, b),
            laswp_call(4, (16, 64), 2, (128, 3, 0)),
            transpose_call(a, tile(4, 5)),
            generate_call(Some(7), (3, 4), a),
            generate_call(None, (3, 4), a),
            row_sums_call(SumOf::Values, a, 256),
            row_sums_call(SumOf::Squares, a, 256),
        ];
        for uplo in [None, Some(Uplo::Upper), Some(Uplo::Lower)] {
            calls.push(laset_call(uplo, 1.5f64, a));
        }
        for op in [
            Elementwise::Add,
            Elementwise::Sub,
            Elementwise::Mul,
            Elementwise::Div,
        ] {
            calls.push(elementwise_call(op, a, b, c));
            calls.push(elementwise_scalar_call(op, a, 2.0f32, c));
        }
        let mut named = std::collections::BTreeSet::new();
        for call in calls {
            let call = call.expect("a non-empty tile launches");
            assert!(
                SIGNATURES.contains(&(call.module, call.name, call.letters().as_str())),
                "{}.{}({})",
                call.module,
                call.name,
                call.letters()
            );
            named.insert(call.name);
        }
        assert_eq!(named.len(), SIGNATURES.len(), "a signature no call uses");
        let modules: std::collections::BTreeSet<&str> = SIGNATURES.iter().map(|s| s.0).collect();
        assert_eq!(
            modules,
            MODULES_LAUNCHED.into_iter().collect(),
            "modules loaded at open"
        );
        // An empty tile launches nothing.
        assert!(laset_call(None, 0.0f64, tile(0, 4)).is_none());
        assert!(laswp_call(0, (16, 64), 2, (128, 3, 0)).is_none());
        assert!(row_sums_call(SumOf::Values, tile(4, 0), 256).is_none());
    }
}
