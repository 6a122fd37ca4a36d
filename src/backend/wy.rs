//! QR's reflector applications (`unmqr`, `tsmqr`, `ttmqr`) made of BLAS 3 calls alone, for
//! processors whose libraries have matrix products but not PLASMA's tile kernels (cuBLAS).
//!
//! Each block of `ib` reflectors is in compact-WY form and is applied as LAPACK's `larfb`
//! does: `W = V_Jᵀ·C`, `W ← op(T_J)·W`, `C ← C − V_J·W`, with `T_J` at `t[..w, J]` (`op` is
//! the transpose for `Qᵀ`). `tsqrt` and `ttqrt` write LAPACK's `T`
//! (`Q_J = I − V_J·T_J·V_Jᵀ`); `geqrt` writes faer's, its inverse
//! (`Q_J = I − V_J·T_J⁻¹·V_Jᵀ`), so `unmqr` solves with it where the others multiply.
//!
//! The algorithm is written once over [`Blas3`], six operations on column-major blocks of
//! some memory: cuBLAS and mosaic's `kernels/*.cu` on device memory, and, in the tests
//! below, plain loops on host memory checked against the CPU backend's kernels.

use super::{Diag, Trans, Uplo};
use crate::Scalar;

/// What the reflector applications need of a processor: column-major blocks (`Block`, an
/// address, a shape and a leading dimension) and five operations on them. Each returns
/// `Err` with the library's message when the processor fails the call.
///
/// # Safety (every operation)
/// Every block names live memory of the implementation's kind holding `T`s, and no other
/// work reads what an operation writes or writes what it reads while it runs; a written
/// block overlaps no block the same call reads, unless the operation says it may.
pub(crate) trait Blas3<T: Scalar> {
    /// A column-major block of memory.
    type Block: Copy;

    /// `(rows, columns)` of a block.
    fn shape(b: Self::Block) -> (usize, usize);

    /// The block of `b` of `shape` (rows, columns) whose first element is `b[at]`.
    fn block(b: Self::Block, at: (usize, usize), shape: (usize, usize)) -> Self::Block;

    /// `C ← α·op(A)·op(B) + β·C`.
    #[allow(clippy::too_many_arguments)] // the BLAS signature
    unsafe fn gemm(
        &mut self,
        alpha: T,
        a: (Self::Block, Trans),
        b: (Self::Block, Trans),
        beta: T,
        c: Self::Block,
    ) -> Result<(), String>;

    /// `B ← op(A)·B`, `A` square, its `uplo` triangle read (not its diagonal when `Unit`).
    unsafe fn trmm(
        &mut self,
        uplo: Uplo,
        trans: Trans,
        diag: Diag,
        a: Self::Block,
        b: Self::Block,
    ) -> Result<(), String>;

    /// `B ← op(A)⁻¹·B`, `A` square, its `uplo` triangle read (not its diagonal when `Unit`).
    unsafe fn trsm(
        &mut self,
        uplo: Uplo,
        trans: Trans,
        diag: Diag,
        a: Self::Block,
        b: Self::Block,
    ) -> Result<(), String>;

    /// `B ← A`, two blocks of one shape.
    unsafe fn lacpy(&mut self, a: Self::Block, b: Self::Block) -> Result<(), String>;

    /// `C ← C − W`, two blocks of one shape.
    unsafe fn sub_assign(&mut self, c: Self::Block, w: Self::Block) -> Result<(), String>;

    /// `B ←` the upper part of `A` (`i ≤ j`), zeros below it; `A`'s strictly lower part is
    /// not read. Two blocks of one shape.
    unsafe fn copy_upper(&mut self, a: Self::Block, b: Self::Block) -> Result<(), String>;
}

/// The starts of the blocks of `ib` among `n` reflectors, in the order `op(Q)` applies
/// them: `Qᵀ = Q_Lᵀ⋯Q_1ᵀ` first to last, `Q = Q_1⋯Q_L` last to first.
fn blocks(n: usize, ib: usize, trans: Trans) -> Vec<usize> {
    let mut starts: Vec<usize> = (0..n).step_by(ib.max(1)).collect();
    if trans == Trans::No {
        starts.reverse();
    }
    starts
}

/// The `(rows, columns)` of the workspace [`unmqr`] (`upper: None`) and [`tpmqrt`] need,
/// for `t` with `ib` rows applied to `k` columns, with `m` rows of `V₂` for `tpmqrt`.
pub(crate) fn workspace(ib: usize, k: usize, upper: Option<(bool, usize)>) -> (usize, usize) {
    match upper {
        // W, and a masked copy of a triangular V₂'s block beside it.
        Some((true, m)) => (ib.max(m), k + ib),
        _ => (ib, k),
    }
}

/// `C ← op(Q)·C` with `Q` from `geqrt`: the reflectors in the strictly lower part of `v`
/// (`m × k'`, `k'` ≥ the `k` columns of `t`), `t` (`ib × k`); `c` is `m × nc`; `work` at
/// least [`workspace`]`(ib, nc, None)`. Reads `v`'s strictly lower part only.
///
/// # Safety
/// As for every [`Blas3`] operation, for all four blocks; `work` overlaps none of the others.
pub(crate) unsafe fn unmqr<T: Scalar, B: Blas3<T>>(
    be: &mut B,
    trans: Trans,
    v: B::Block,
    t: B::Block,
    c: B::Block,
    work: B::Block,
) -> Result<(), String> {
    let ((ib, k), (m, nc)) = (B::shape(t), B::shape(c));
    if k == 0 || nc == 0 {
        return Ok(());
    }
    let (one, minus_one) = (T::one(), T::zero() - T::one());
    for j0 in blocks(k, ib, trans) {
        let j1 = (j0 + ib).min(k);
        let w = j1 - j0;
        // V_J = [V₁; V₂]: V₁ unit lower triangular (rows j0..j1), V₂ below it.
        let v1 = B::block(v, (j0, j0), (w, w));
        let v2 = B::block(v, (j1, j0), (m - j1, w));
        let (c1, c2) = (B::block(c, (j0, 0), (w, nc)), B::block(c, (j1, 0), (m - j1, nc)));
        let tj = B::block(t, (0, j0), (w, w));
        let wk = B::block(work, (0, 0), (w, nc));
        // SAFETY: the blocks lie inside the caller's (the shapes above), `wk` in `work`,
        // which overlaps none of them; the caller's contract covers the rest.
        unsafe {
            // W = V₁ᵀ·C₁ + V₂ᵀ·C₂.
            be.lacpy(c1, wk)?;
            be.trmm(Uplo::Lower, Trans::Yes, Diag::Unit, v1, wk)?;
            if m > j1 {
                be.gemm(one, (v2, Trans::Yes), (c2, Trans::No), one, wk)?;
            }
            // W ← op(T)⁻¹·W, `t` holding faer's factors: Qᵀ = I − V·T⁻ᵀ·Vᵀ, Q = I − V·T⁻¹·Vᵀ.
            be.trsm(Uplo::Upper, trans, Diag::NonUnit, tj, wk)?;
            // C₂ −= V₂·W, C₁ −= V₁·W.
            if m > j1 {
                be.gemm(minus_one, (v2, Trans::No), (wk, Trans::No), one, c2)?;
            }
            be.trmm(Uplo::Lower, Trans::No, Diag::Unit, v1, wk)?;
            be.sub_assign(c1, wk)?;
        }
    }
    Ok(())
}

/// `[C₁; C₂] ← op(Q)·[C₁; C₂]` with `Q` from `tsqrt` (`upper` false: `tsmqr`) or `ttqrt`
/// (`upper`: `ttmqr`, only the upper part of `v2` read): `v2` is `m × n`, `t` `ib × n`,
/// `c1` `n × k`, `c2` `m × k`, `work` at least [`workspace`]`(ib, k, Some((upper, m)))`.
///
/// # Safety
/// As for every [`Blas3`] operation, for all five blocks; `work` overlaps none of the others.
#[allow(clippy::too_many_arguments)] // LAPACK's tpmqrt
pub(crate) unsafe fn tpmqrt<T: Scalar, B: Blas3<T>>(
    be: &mut B,
    trans: Trans,
    (c1, c2): (B::Block, B::Block),
    v2: B::Block,
    upper: bool,
    t: B::Block,
    work: B::Block,
) -> Result<(), String> {
    let ((m, n), (ib, _), k) = (B::shape(v2), B::shape(t), B::shape(c1).1);
    if n == 0 || k == 0 {
        return Ok(());
    }
    let (one, minus_one) = (T::one(), T::zero() - T::one());
    for j0 in blocks(n, ib, trans) {
        let j1 = (j0 + ib).min(n);
        let w = j1 - j0;
        // Rows of V₂ in the block: a triangular V₂'s column j has only its j + 1 top rows.
        let h = if upper { m.min(j1) } else { m };
        let (c1b, c2b) = (B::block(c1, (j0, 0), (w, k)), B::block(c2, (0, 0), (h, k)));
        let tj = B::block(t, (0, j0), (w, w));
        let wk = B::block(work, (0, 0), (w, k));
        let mut vb = B::block(v2, (0, j0), (h, w));
        // SAFETY: the blocks lie inside the caller's (the shapes above), `wk` and the masked
        // copy in disjoint parts of `work`, which overlaps none of them; the caller's
        // contract covers the rest.
        unsafe {
            if upper {
                // A copy of the block with zeros where V₂ has none, read only where V₂ is:
                // rows ..j0 whole, rows j0..h a triangle (row j0 + r in columns r.. of the
                // block).
                let copy = B::block(work, (0, k), (h, w));
                let top = j0.min(h);
                be.lacpy(B::block(vb, (0, 0), (top, w)), B::block(copy, (0, 0), (top, w)))?;
                if h > j0 {
                    let (triangle, shape) = ((j0, 0), (h - j0, w));
                    be.copy_upper(B::block(vb, triangle, shape), B::block(copy, triangle, shape))?;
                }
                vb = copy;
            }
            // W = C₁ + V₂ᵀ·C₂ (V's top part is the identity's columns j0..j1).
            be.lacpy(c1b, wk)?;
            if h > 0 {
                be.gemm(one, (vb, Trans::Yes), (c2b, Trans::No), one, wk)?;
            }
            be.trmm(Uplo::Upper, trans, Diag::NonUnit, tj, wk)?;
            // C₁ −= W, C₂ −= V₂·W.
            be.sub_assign(c1b, wk)?;
            if h > 0 {
                be.gemm(minus_one, (vb, Trans::No), (wk, Trans::No), one, c2b)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, ShapeBuilder};

    use super::*;
    use crate::backend::{Backend, Cpu};

    /// What an element that must not be read holds: [`Loops`] panics on reading it.
    const POISON: f64 = f64::from_bits(0x7ff8_dead_beef_0001);

    /// A block of one of [`Loops`]'s arrays: (array, first row, first column, rows, columns).
    #[derive(Clone, Copy, Debug)]
    struct Block {
        array: usize,
        at: (usize, usize),
        shape: (usize, usize),
    }

    /// The operations as plain loops on arrays it owns (so the test needs no pointers),
    /// with nothing shared with the CPU backend's kernels.
    struct Loops(Vec<Array2<f64>>);

    impl Loops {
        fn add(&mut self, a: Array2<f64>) -> Block {
            self.0.push(a);
            let array = self.0.len() - 1;
            Block {
                array,
                at: (0, 0),
                shape: self.0[array].dim(),
            }
        }

        fn get(&self, b: Block, i: usize, j: usize) -> f64 {
            assert!(i < b.shape.0 && j < b.shape.1, "outside the block");
            let x = self.0[b.array][(b.at.0 + i, b.at.1 + j)];
            assert!(
                x.to_bits() != POISON.to_bits(),
                "read ({}, {}) of array {}: not the operation's to read, or not yet written",
                b.at.0 + i,
                b.at.1 + j,
                b.array
            );
            x
        }

        fn set(&mut self, b: Block, i: usize, j: usize, x: f64) {
            assert!(i < b.shape.0 && j < b.shape.1, "outside the block");
            self.0[b.array][(b.at.0 + i, b.at.1 + j)] = x;
        }

        /// The block as an array of its own, `op` applied.
        fn read(&self, b: Block, t: Trans) -> Array2<f64> {
            let a = Array2::from_shape_fn(b.shape, |(i, j)| self.get(b, i, j));
            match t {
                Trans::No => a,
                Trans::Yes => a.t().to_owned(),
            }
        }

        fn write(&mut self, b: Block, a: &Array2<f64>) {
            assert_eq!(a.dim(), b.shape);
            for ((i, j), &x) in a.indexed_iter() {
                self.set(b, i, j, x);
            }
        }

        /// op(A) of a square block with its other triangle zero and a unit diagonal explicit.
        fn triangle(&self, uplo: Uplo, trans: Trans, diag: Diag, a: Block) -> Array2<f64> {
            assert_eq!(a.shape.0, a.shape.1, "a triangular operand is square");
            let tri = Array2::from_shape_fn(a.shape, |(i, j)| match uplo {
                _ if i == j && diag == Diag::Unit => 1.0,
                Uplo::Upper if i <= j => self.get(a, i, j),
                Uplo::Lower if i >= j => self.get(a, i, j),
                _ => 0.0,
            });
            match trans {
                Trans::No => tri,
                Trans::Yes => tri.t().to_owned(),
            }
        }
    }

    impl Blas3<f64> for Loops {
        type Block = Block;

        fn shape(b: Block) -> (usize, usize) {
            b.shape
        }

        fn block(b: Block, (r0, c0): (usize, usize), (rows, cols): (usize, usize)) -> Block {
            assert!(
                r0 + rows <= b.shape.0 && c0 + cols <= b.shape.1,
                "a block outside its parent"
            );
            Block {
                at: (b.at.0 + r0, b.at.1 + c0),
                shape: (rows, cols),
                ..b
            }
        }

        unsafe fn gemm(
            &mut self,
            alpha: f64,
            (a, ta): (Block, Trans),
            (b, tb): (Block, Trans),
            beta: f64,
            c: Block,
        ) -> Result<(), String> {
            let (a, b) = (self.read(a, ta), self.read(b, tb));
            assert_eq!(
                (a.nrows(), b.ncols(), a.ncols()),
                (c.shape.0, c.shape.1, b.nrows())
            );
            for i in 0..c.shape.0 {
                for j in 0..c.shape.1 {
                    let sum: f64 = (0..a.ncols()).map(|p| a[(i, p)] * b[(p, j)]).sum();
                    // BLAS: with β = 0, C is not read (it may hold NaN).
                    let old = if beta == 0.0 {
                        0.0
                    } else {
                        beta * self.get(c, i, j)
                    };
                    self.set(c, i, j, alpha * sum + old);
                }
            }
            Ok(())
        }

        unsafe fn trmm(
            &mut self,
            uplo: Uplo,
            trans: Trans,
            diag: Diag,
            a: Block,
            b: Block,
        ) -> Result<(), String> {
            let tri = self.triangle(uplo, trans, diag, a);
            let product = tri.dot(&self.read(b, Trans::No));
            self.write(b, &product);
            Ok(())
        }

        unsafe fn trsm(
            &mut self,
            uplo: Uplo,
            trans: Trans,
            diag: Diag,
            a: Block,
            b: Block,
        ) -> Result<(), String> {
            let tri = self.triangle(uplo, trans, diag, a);
            let mut x = self.read(b, Trans::No);
            let n = tri.nrows();
            // Substitution from the top for a lower op(A), from the bottom for an upper one.
            let lower = (0..n).all(|i| (i + 1..n).all(|j| tri[(i, j)] == 0.0));
            let order: Vec<usize> = if lower {
                (0..n).collect()
            } else {
                (0..n).rev().collect()
            };
            for c in 0..x.ncols() {
                for (pos, &i) in order.iter().enumerate() {
                    let known: f64 = order[..pos].iter().map(|&j| tri[(i, j)] * x[(j, c)]).sum();
                    x[(i, c)] = (x[(i, c)] - known) / tri[(i, i)];
                }
            }
            self.write(b, &x);
            Ok(())
        }

        unsafe fn lacpy(&mut self, a: Block, b: Block) -> Result<(), String> {
            let a = self.read(a, Trans::No);
            self.write(b, &a);
            Ok(())
        }

        unsafe fn sub_assign(&mut self, c: Block, w: Block) -> Result<(), String> {
            let d = self.read(c, Trans::No) - self.read(w, Trans::No);
            self.write(c, &d);
            Ok(())
        }

        unsafe fn copy_upper(&mut self, a: Block, b: Block) -> Result<(), String> {
            assert_eq!(a.shape, b.shape);
            for j in 0..a.shape.1 {
                for i in 0..a.shape.0 {
                    let x = if i <= j { self.get(a, i, j) } else { 0.0 };
                    self.set(b, i, j, x);
                }
            }
            Ok(())
        }
    }

    /// A column-major `rows × cols` array of values in [-1, 1) from a fixed seed.
    fn random(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        Array2::from_shape_fn((rows, cols).f(), |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
    }

    fn assert_close(got: &Array2<f64>, want: &Array2<f64>, what: &str) {
        let scale = want.iter().fold(1.0f64, |m, x| m.max(x.abs()));
        // A NaN anywhere counts as an infinite difference (`f64::max` would drop it).
        let err = (got - want).iter().fold(
            0.0f64,
            |m, x| if x.is_nan() { f64::INFINITY } else { m.max(x.abs()) },
        );
        assert!(err <= 1e-13 * scale, "{what}: max |difference| {err:e}");
    }

    /// A workspace the algorithm must not read before writing.
    fn work(shape: (usize, usize)) -> Array2<f64> {
        Array2::from_elem(shape.f(), POISON)
    }

    /// `wy::unmqr` on copies of `v`, `t`, `c`: the new `c`.
    fn unmqr_loops(trans: Trans, v: &Array2<f64>, t: &Array2<f64>, c: &Array2<f64>) -> Array2<f64> {
        let mut l = Loops(Vec::new());
        let (v, t, c) = (l.add(v.clone()), l.add(t.clone()), l.add(c.clone()));
        let w = l.add(work(workspace(t.shape.0, c.shape.1, None)));
        // SAFETY: `Loops` touches only its own arrays, through bounds-checked indexing.
        unsafe { unmqr(&mut l, trans, v, t, c, w) }.unwrap();
        l.0.swap_remove(c.array)
    }

    #[test]
    fn unmqr_matches_the_cpu_kernel() {
        // Tall, square and wide tiles; ib dividing k or not.
        for (m, n, ib, nc) in [(9, 6, 4, 5), (7, 7, 3, 4), (5, 8, 2, 3), (6, 6, 6, 1)] {
            let mut v = random(m, n, 1);
            let mut t = Array2::zeros((ib, m.min(n)).f());
            Cpu.geqrt(v.view_mut(), t.view_mut());
            for trans in [Trans::Yes, Trans::No] {
                let c = random(m, nc, 2);
                let mut want = c.clone();
                Cpu.unmqr(trans, v.view(), t.view(), want.view_mut());
                let got = unmqr_loops(trans, &v, &t, &c);
                assert_close(&got, &want, &format!("unmqr {m}×{n} ib {ib} {trans:?}"));
            }
        }
    }

    #[test]
    fn unmqr_reads_only_the_strictly_lower_part() {
        let (m, n, ib) = (6, 4, 3);
        let mut v = random(m, n, 7);
        let mut t = Array2::zeros((ib, n).f());
        Cpu.geqrt(v.view_mut(), t.view_mut());
        // R, on and above the diagonal, and T's strictly lower part are not read.
        let mut noisy = v.clone();
        noisy
            .indexed_iter_mut()
            .filter(|((i, j), _)| i <= j)
            .for_each(|(_, x)| *x = POISON);
        let mut noisy_t = t.clone();
        noisy_t
            .indexed_iter_mut()
            .filter(|((i, j), _)| i > &(j % ib))
            .for_each(|(_, x)| *x = POISON);
        let c = random(m, 3, 8);
        let want = unmqr_loops(Trans::Yes, &v, &t, &c);
        assert!(want.iter().all(|x| x.is_finite()));
        assert_eq!(unmqr_loops(Trans::Yes, &noisy, &noisy_t, &c), want);
    }

    #[test]
    fn tsmqr_and_ttmqr_match_the_cpu_kernels() {
        // (m, n): the bottom tile; ttqrt's may be shorter or taller than wide.
        for (m, n, ib, k) in [(8, 6, 4, 5), (6, 6, 3, 4), (4, 7, 3, 2), (9, 5, 5, 3)] {
            for upper in [false, true] {
                let mut r = random(n, n, 3);
                let mut v2 = random(m, n, 4);
                let mut t = Array2::zeros((ib, n).f());
                if upper {
                    Cpu.ttqrt(r.view_mut(), v2.view_mut(), t.view_mut());
                    // What lies below V₂'s triangle is not V₂'s: never read.
                    v2.indexed_iter_mut()
                        .filter(|((i, j), _)| i > j)
                        .for_each(|(_, x)| *x = POISON);
                } else {
                    Cpu.tsqrt(r.view_mut(), v2.view_mut(), t.view_mut());
                }
                for trans in [Trans::Yes, Trans::No] {
                    let (c1, c2) = (random(n, k, 5), random(m, k, 6));
                    let (mut w1, mut w2) = (c1.clone(), c2.clone());
                    if upper {
                        Cpu.ttmqr(trans, w1.view_mut(), w2.view_mut(), v2.view(), t.view());
                    } else {
                        Cpu.tsmqr(trans, w1.view_mut(), w2.view_mut(), v2.view(), t.view());
                    }
                    let mut l = Loops(Vec::new());
                    let (b1, b2) = (l.add(c1), l.add(c2));
                    let (bv, bt) = (l.add(v2.clone()), l.add(t.clone()));
                    let w = l.add(work(workspace(ib, k, Some((upper, m)))));
                    // SAFETY: as in `unmqr_loops`.
                    unsafe { tpmqrt(&mut l, trans, (b1, b2), bv, upper, bt, w) }.unwrap();
                    let what = format!(
                        "{} {m}×{n} ib {ib} {trans:?}",
                        if upper { "ttmqr" } else { "tsmqr" }
                    );
                    assert_close(&l.0[b1.array], &w1, &what);
                    assert_close(&l.0[b2.array], &w2, &what);
                }
            }
        }
    }
}
