//! cuBLAS tile kernels on [`DeviceTile`]s, for `f32` and `f64`: `gemm`, `syrk`, `trsm`,
//! `trmm`.
//!
//! Each follows its namesake in [`Backend`](crate::backend::Backend) (and BLAS): the same
//! arguments, the same parts of each operand read and written, the same result. Each
//! call is enqueued on compute stream `stream` with that stream's cuBLAS handle and
//! returns at once: the result is there once the stream has run it ([`Gpu::synchronize`],
//! or an event). cuBLAS is column-major like the tiles, so the arguments go through as
//! they are: `op(X)` is `X` for `Trans::No` and `Xᵀ` for `Trans::Yes` (`CUBLAS_OP_N`/`_T`).
//! Scalars are passed by host pointer (cuBLAS's default pointer mode).
//!
//! # Safety (every kernel here)
//! - every tile names live device memory of `gpu` holding `T`s as [`DeviceTile`] says
//!   (`ld ≥ rows`), and `stream < COMPUTE_STREAMS`;
//! - while the stream runs the kernel, no other device work writes the parts it reads, nor
//!   reads or writes the parts it writes (the runtime orders streams with events), and the
//!   written operand does not overlap the read ones.

use cudarc::cublas::sys::{self, cublasDiagType_t, cublasFillMode_t, cublasOperation_t, cublasSideMode_t};

use super::gpu::{DeviceTile, Gpu};
use crate::backend::{Diag, Side, Trans, Uplo};
use crate::Scalar;

/// `x` as a C `int`; a dimension past `i32::MAX` is a broken precondition of the tile kernels.
pub(crate) fn to_int(x: usize) -> i32 {
    i32::try_from(x).unwrap_or_else(|_| panic!("dimension {x} does not fit the 32-bit API"))
}

/// The element type of a kernel call, for the `S`/`D` routine of cuBLAS and cuSOLVER.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Precision {
    /// `f32`: the `S` routines.
    F32,
    /// `f64`: the `D` routines.
    F64,
}

impl Precision {
    /// The precision of `T`; panics for a `Scalar` with no cuBLAS routine (none today).
    pub(crate) fn of<T: Scalar>() -> Self {
        use std::any::TypeId;
        if TypeId::of::<T>() == TypeId::of::<f64>() {
            Precision::F64
        } else if TypeId::of::<T>() == TypeId::of::<f32>() {
            Precision::F32
        } else {
            panic!("no CUDA kernels for {}", std::any::type_name::<T>())
        }
    }
}

fn op(t: Trans) -> cublasOperation_t {
    match t {
        Trans::No => cublasOperation_t::CUBLAS_OP_N,
        Trans::Yes => cublasOperation_t::CUBLAS_OP_T,
    }
}

fn fill(uplo: Uplo) -> cublasFillMode_t {
    match uplo {
        Uplo::Lower => cublasFillMode_t::CUBLAS_FILL_MODE_LOWER,
        Uplo::Upper => cublasFillMode_t::CUBLAS_FILL_MODE_UPPER,
    }
}

fn side_mode(side: Side) -> cublasSideMode_t {
    match side {
        Side::Left => cublasSideMode_t::CUBLAS_SIDE_LEFT,
        Side::Right => cublasSideMode_t::CUBLAS_SIDE_RIGHT,
    }
}

fn diag_type(diag: Diag) -> cublasDiagType_t {
    match diag {
        Diag::NonUnit => cublasDiagType_t::CUBLAS_DIAG_NON_UNIT,
        Diag::Unit => cublasDiagType_t::CUBLAS_DIAG_UNIT,
    }
}

/// The shape of `op(x)`.
fn dims(x: DeviceTile, t: Trans) -> (usize, usize) {
    match t {
        Trans::No => (x.rows, x.cols),
        Trans::Yes => (x.cols, x.rows),
    }
}

/// `C ← α·op(A)·op(B) + β·C` (`C` is `m × n`, `op(A)` `m × k`, `op(B)` `k × n`). Reads
/// all of `a` and `b`, writes all of `c`; with `β = 0`, `c`'s old values are not read
/// (cuBLAS: "C does not have to be a valid input").
///
/// # Safety
/// See the module docs.
#[allow(clippy::too_many_arguments)] // the BLAS signature
pub(crate) unsafe fn gemm<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    alpha: T,
    a: DeviceTile,
    ta: Trans,
    b: DeviceTile,
    tb: Trans,
    beta: T,
    c: DeviceTile,
) -> Result<(), String> {
    let ((m, n), (am, k), (bk, bn)) = ((c.rows, c.cols), dims(a, ta), dims(b, tb));
    assert!(
        am == m && bn == n && bk == k,
        "gemm: op(A) is {am}×{k}, op(B) {bk}×{bn}, C {m}×{n}"
    );
    if m == 0 || n == 0 {
        return Ok(());
    }
    gpu.bind()?;
    let blas = gpu.blas(stream);
    let h = *blas.handle();
    let (mi, ni, ki) = (to_int(m), to_int(n), to_int(k));
    let (lda, ldb, ldc) = (a.ld_int(), b.ld_int(), c.ld_int());
    let (ta, tb) = (op(ta), op(tb));
    let (alpha, beta) = (alpha.to_f64(), beta.to_f64());
    // SAFETY: `h` is the live handle of `stream` (held under its lock), bound to a stream
    // of this context, which is current; the shapes were checked against the tiles above,
    // so cuBLAS addresses only elements inside them, which the caller guarantees are live
    // device memory of `T` (the `F32`/`F64` arm matches `T`) with no conflicting access;
    // `alpha` and `beta` are host values read before the call returns.
    let status = unsafe {
        match Precision::of::<T>() {
            Precision::F64 => sys::cublasDgemm_v2(
                h,
                ta,
                tb,
                mi,
                ni,
                ki,
                &alpha,
                a.as_ptr(),
                lda,
                b.as_ptr(),
                ldb,
                &beta,
                c.as_ptr(),
                ldc,
            ),
            Precision::F32 => sys::cublasSgemm_v2(
                h,
                ta,
                tb,
                mi,
                ni,
                ki,
                &(alpha as f32),
                a.as_ptr(),
                lda,
                b.as_ptr(),
                ldb,
                &(beta as f32),
                c.as_ptr(),
                ldc,
            ),
        }
    };
    status.result().map_err(|e| gpu.error("cuBLAS gemm", e))
}

/// `C ← α·op(A)·op(A)ᵀ + β·C` on the `uplo` triangle of the square `C` (`n × n`, `op(A)`
/// `n × k`). Reads all of `a` and the `uplo` triangle of `c` (not even that when `β = 0`),
/// writes only the `uplo` triangle of `c`, diagonal included.
///
/// # Safety
/// See the module docs.
#[allow(clippy::too_many_arguments)] // the BLAS signature
pub(crate) unsafe fn syrk<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    uplo: Uplo,
    trans: Trans,
    alpha: T,
    a: DeviceTile,
    beta: T,
    c: DeviceTile,
) -> Result<(), String> {
    let (n, (an, k)) = (c.rows, dims(a, trans));
    assert!(
        c.cols == n && an == n,
        "syrk: op(A) is {an}×{k}, C {}×{}",
        c.rows,
        c.cols
    );
    if n == 0 {
        return Ok(());
    }
    gpu.bind()?;
    let blas = gpu.blas(stream);
    let h = *blas.handle();
    let (ni, ki, lda, ldc) = (to_int(n), to_int(k), a.ld_int(), c.ld_int());
    let (fill, trans) = (fill(uplo), op(trans));
    let (alpha, beta) = (alpha.to_f64(), beta.to_f64());
    // SAFETY: as in `gemm`: live handle of `stream` under its lock, current context,
    // shapes checked against the tiles, precision matching `T`, host scalars.
    let status = unsafe {
        match Precision::of::<T>() {
            Precision::F64 => sys::cublasDsyrk_v2(
                h,
                fill,
                trans,
                ni,
                ki,
                &alpha,
                a.as_ptr(),
                lda,
                &beta,
                c.as_ptr(),
                ldc,
            ),
            Precision::F32 => sys::cublasSsyrk_v2(
                h,
                fill,
                trans,
                ni,
                ki,
                &(alpha as f32),
                a.as_ptr(),
                lda,
                &(beta as f32),
                c.as_ptr(),
                ldc,
            ),
        }
    };
    status.result().map_err(|e| gpu.error("cuBLAS syrk", e))
}

/// `B ← α·op(A)⁻¹·B` (`Left`) or `B ← α·B·op(A)⁻¹` (`Right`), `B` `m × n`, with `A` the
/// leading `k × k` of `a` (`k = m` on the left, `n` on the right), triangular (`uplo`),
/// unit or not (`diag`). Reads only the `uplo` triangle of that `k × k` block (not its
/// diagonal when `Unit`), reads and writes all of `b`.
///
/// # Safety
/// See the module docs.
#[allow(clippy::too_many_arguments)] // the BLAS signature
pub(crate) unsafe fn trsm<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    side: Side,
    uplo: Uplo,
    trans: Trans,
    diag: Diag,
    alpha: T,
    a: DeviceTile,
    b: DeviceTile,
) -> Result<(), String> {
    let (m, n) = (b.rows, b.cols);
    let k = match side {
        Side::Left => m,
        Side::Right => n,
    };
    assert!(
        a.rows >= k && a.cols >= k,
        "trsm: A is {}×{}, B {m}×{n} ({side:?})",
        a.rows,
        a.cols
    );
    if m == 0 || n == 0 {
        return Ok(());
    }
    gpu.bind()?;
    let blas = gpu.blas(stream);
    let h = *blas.handle();
    let (mi, ni, lda, ldb) = (to_int(m), to_int(n), a.ld_int(), b.ld_int());
    let (side, fill, trans, diag) = (side_mode(side), fill(uplo), op(trans), diag_type(diag));
    let alpha = alpha.to_f64();
    // SAFETY: as in `gemm`: live handle of `stream` under its lock, current context,
    // shapes checked against the tiles (cuBLAS reads `A` as `k × k` with `a`'s `ld`),
    // precision matching `T`, host scalar.
    let status = unsafe {
        match Precision::of::<T>() {
            Precision::F64 => sys::cublasDtrsm_v2(
                h,
                side,
                fill,
                trans,
                diag,
                mi,
                ni,
                &alpha,
                a.as_ptr(),
                lda,
                b.as_ptr(),
                ldb,
            ),
            Precision::F32 => sys::cublasStrsm_v2(
                h,
                side,
                fill,
                trans,
                diag,
                mi,
                ni,
                &(alpha as f32),
                a.as_ptr(),
                lda,
                b.as_ptr(),
                ldb,
            ),
        }
    };
    status.result().map_err(|e| gpu.error("cuBLAS trsm", e))
}

/// `B ← op(A)·B`, `B` `m × n`, with `A` the leading `m × m` of `a`, triangular (`uplo`),
/// unit or not (`diag`). Reads only the `uplo` triangle of that block (not its diagonal
/// when `Unit`), reads and writes all of `b` (cuBLAS's out-of-place `trmm` with its
/// output on its input, which cuBLAS allows).
///
/// # Safety
/// See the module docs.
pub(crate) unsafe fn trmm<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    (uplo, trans, diag): (Uplo, Trans, Diag),
    a: DeviceTile,
    b: DeviceTile,
) -> Result<(), String> {
    let (m, n) = (b.rows, b.cols);
    assert!(
        a.rows >= m && a.cols >= m,
        "trmm: A is {}×{}, B {m}×{n}",
        a.rows,
        a.cols
    );
    if m == 0 || n == 0 {
        return Ok(());
    }
    gpu.bind()?;
    let blas = gpu.blas(stream);
    let h = *blas.handle();
    let (mi, ni, lda, ldb) = (to_int(m), to_int(n), a.ld_int(), b.ld_int());
    let (side, fill, trans, diag) = (side_mode(Side::Left), fill(uplo), op(trans), diag_type(diag));
    // SAFETY: as in `gemm`: live handle of `stream` under its lock, current context,
    // shapes checked against the tiles (cuBLAS reads `A` as `m × m` with `a`'s `ld`, and
    // reads and writes `B` through the same address and `ld`, its documented in-place use),
    // precision matching `T`, host scalar.
    let status = unsafe {
        match Precision::of::<T>() {
            Precision::F64 => sys::cublasDtrmm_v2(
                h,
                side,
                fill,
                trans,
                diag,
                mi,
                ni,
                &1.0,
                a.as_ptr(),
                lda,
                b.as_ptr(),
                ldb,
                b.as_ptr(),
                ldb,
            ),
            Precision::F32 => sys::cublasStrmm_v2(
                h,
                side,
                fill,
                trans,
                diag,
                mi,
                ni,
                &1.0f32,
                a.as_ptr(),
                lda,
                b.as_ptr(),
                ldb,
                b.as_ptr(),
                ldb,
            ),
        }
    };
    status.result().map_err(|e| gpu.error("cuBLAS trmm", e))
}
