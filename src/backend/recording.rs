//! A backend that counts the kernels it runs, then runs them on another backend: tests
//! use it to check the shape of the graphs the tiled algorithms emit.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ndarray::{ArrayView2, ArrayViewMut2};

use super::{Backend, Cpu, Diag, Elementwise, Side, Trans, Uplo};
use crate::Scalar;

/// Counts kernel calls by name (`"gemm"`, `"potrf"`, …) and forwards them to `B`.
/// Clones share the counts.
///
/// ```
/// use mosaic::backend::{Cpu, Recording};
/// use mosaic::linalg::Linalg;
/// use mosaic::prelude::*;
///
/// let a = DArray::<f64>::rand_seeded(Blocks(4, 4), 12, 12, 1);
/// let spd = &(&a * &a.t()) + &(&DArray::eye(Blocks(4, 4), 12) * 12.0);
/// let rec = Recording::new(Cpu);
/// Linalg::new(rec.clone()).cholesky(&spd)?;
/// assert_eq!(rec.count("potrf"), 3);
/// # Ok::<(), mosaic::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Recording<B = Cpu> {
    inner: B,
    counts: Arc<Mutex<BTreeMap<&'static str, usize>>>,
}

impl<B: Backend> Recording<B> {
    /// A recorder in front of `inner`, with every count at zero.
    pub fn new(inner: B) -> Self {
        Recording {
            inner,
            counts: Arc::default(),
        }
    }

    /// How many times kernel `name` has run.
    pub fn count(&self, name: &str) -> usize {
        self.counts().get(name).copied().unwrap_or(0)
    }

    /// Every kernel that has run, with its count.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn record(&self, name: &'static str) -> &B {
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name)
            .or_default() += 1;
        &self.inner
    }
}

// SAFETY: every kernel forwards to `B`'s, which keeps to the documented parts (`B:
// Backend`); recording touches only the counts.
unsafe impl<B: Backend> Backend for Recording<B> {
    fn gemm<T: Scalar>(
        &self,
        alpha: T,
        a: ArrayView2<'_, T>,
        ta: Trans,
        b: ArrayView2<'_, T>,
        tb: Trans,
        beta: T,
        c: ArrayViewMut2<'_, T>,
    ) {
        self.record("gemm").gemm(alpha, a, ta, b, tb, beta, c)
    }

    fn packed_len<T: Scalar>(&self, side: Side, shape: (usize, usize)) -> Option<usize> {
        self.inner.packed_len::<T>(side, shape)
    }

    fn pack<T: Scalar>(&self, side: Side, a: ArrayView2<'_, T>, trans: Trans, out: &mut [T]) {
        self.record("pack").pack(side, a, trans, out)
    }

    /// Counted as `gemm` (or `syrk` on a triangle): the same kernel.
    fn gemm_packed<T: Scalar>(
        &self,
        alpha: T,
        packed: (&[T], &[T], usize),
        beta: T,
        c: (ArrayViewMut2<'_, T>, Option<Uplo>),
    ) {
        let name = if c.1.is_some() { "syrk" } else { "gemm" };
        self.record(name).gemm_packed(alpha, packed, beta, c)
    }

    fn syrk<T: Scalar>(
        &self,
        uplo: Uplo,
        trans: Trans,
        alpha: T,
        a: ArrayView2<'_, T>,
        beta: T,
        c: ArrayViewMut2<'_, T>,
    ) {
        self.record("syrk").syrk(uplo, trans, alpha, a, beta, c)
    }

    fn potrf<T: Scalar>(&self, uplo: Uplo, a: ArrayViewMut2<'_, T>) -> Result<(), usize> {
        self.record("potrf").potrf(uplo, a)
    }

    fn getrf<T: Scalar>(&self, a: ArrayViewMut2<'_, T>, ipiv: &mut [usize]) -> Result<(), usize> {
        self.record("getrf").getrf(a, ipiv)
    }

    fn getrf_tiles<T: Scalar>(
        &self,
        tiles: &mut [ArrayViewMut2<'_, T>],
        ipiv: &mut [usize],
    ) -> Result<(), usize> {
        self.record("getrf").getrf_tiles(tiles, ipiv)
    }

    fn getrf_nopiv<T: Scalar>(&self, a: ArrayViewMut2<'_, T>) -> Result<(), usize> {
        self.record("getrf_nopiv").getrf_nopiv(a)
    }

    fn geqrt<T: Scalar>(&self, a: ArrayViewMut2<'_, T>, t: ArrayViewMut2<'_, T>) {
        self.record("geqrt").geqrt(a, t)
    }

    fn unmqr<T: Scalar>(
        &self,
        trans: Trans,
        v: ArrayView2<'_, T>,
        t: ArrayView2<'_, T>,
        c: ArrayViewMut2<'_, T>,
    ) {
        self.record("unmqr").unmqr(trans, v, t, c)
    }

    fn tsqrt<T: Scalar>(&self, r: ArrayViewMut2<'_, T>, a: ArrayViewMut2<'_, T>, t: ArrayViewMut2<'_, T>) {
        self.record("tsqrt").tsqrt(r, a, t)
    }

    fn tsmqr<T: Scalar>(
        &self,
        trans: Trans,
        c1: ArrayViewMut2<'_, T>,
        c2: ArrayViewMut2<'_, T>,
        v2: ArrayView2<'_, T>,
        t: ArrayView2<'_, T>,
    ) {
        self.record("tsmqr").tsmqr(trans, c1, c2, v2, t)
    }

    fn ttqrt<T: Scalar>(&self, r1: ArrayViewMut2<'_, T>, r2: ArrayViewMut2<'_, T>, t: ArrayViewMut2<'_, T>) {
        self.record("ttqrt").ttqrt(r1, r2, t)
    }

    fn ttmqr<T: Scalar>(
        &self,
        trans: Trans,
        c1: ArrayViewMut2<'_, T>,
        c2: ArrayViewMut2<'_, T>,
        v2: ArrayView2<'_, T>,
        t: ArrayView2<'_, T>,
    ) {
        self.record("ttmqr").ttmqr(trans, c1, c2, v2, t)
    }

    fn elementwise<T: Scalar>(
        &self,
        op: Elementwise,
        a: ArrayView2<'_, T>,
        b: ArrayView2<'_, T>,
        c: ArrayViewMut2<'_, T>,
    ) {
        self.record("elementwise").elementwise(op, a, b, c)
    }

    fn elementwise_assign<T: Scalar>(&self, op: Elementwise, a: ArrayViewMut2<'_, T>, b: ArrayView2<'_, T>) {
        self.record("elementwise").elementwise_assign(op, a, b)
    }

    fn elementwise_scalar<T: Scalar>(
        &self,
        op: Elementwise,
        a: ArrayView2<'_, T>,
        alpha: T,
        c: ArrayViewMut2<'_, T>,
    ) {
        self.record("elementwise").elementwise_scalar(op, a, alpha, c)
    }

    fn elementwise_scalar_assign<T: Scalar>(&self, op: Elementwise, a: ArrayViewMut2<'_, T>, alpha: T) {
        self.record("elementwise").elementwise_scalar_assign(op, a, alpha)
    }

    fn laset<T: Scalar>(&self, uplo: Option<Uplo>, alpha: T, a: ArrayViewMut2<'_, T>) {
        self.record("laset").laset(uplo, alpha, a)
    }

    fn lacpy<T: Scalar>(&self, a: ArrayView2<'_, T>, b: ArrayViewMut2<'_, T>) {
        self.record("lacpy").lacpy(a, b)
    }

    fn laswp<T: Scalar>(&self, tiles: &mut [ArrayViewMut2<'_, T>], ipiv: &[usize]) {
        self.record("laswp").laswp(tiles, ipiv)
    }

    fn trsm<T: Scalar>(
        &self,
        side: Side,
        uplo: Uplo,
        trans: Trans,
        diag: Diag,
        alpha: T,
        a: ArrayView2<'_, T>,
        b: ArrayViewMut2<'_, T>,
    ) {
        self.record("trsm").trsm(side, uplo, trans, diag, alpha, a, b)
    }
}
