//! Matrix product: for every tile of C, a chain of gemm updates over the inner tiles.
//!
//! `C ← α·op(A)·op(B) + β·C`. The inner dimension of `op(A)` and `op(B)` must be cut the
//! same way; when it is not, `op(B)` is re-cut to match (copy tasks, no barrier). Tasks of
//! one C tile are ordered by their `InOut` access to it; different C tiles are independent,
//! and earlier tiles (column-major order) have priority, so C's first tiles are done early
//! and whatever consumes them (a Cholesky of the product, say) starts while the rest of
//! the product still runs. The priorities are negative: other ready work goes first.
//!
//! Where the backend packs operands (`tasks::Packing`), each tile of `op(A)` and `op(B)`
//! used by two products or more is packed once, by a task that runs just before the first
//! product that needs it; the packed forms of `op(A)` (a row of `C` uses each) live
//! until the product's last column, about one more copy of `A` in memory meanwhile.

use std::ops::Mul;

use super::{tasks, Linalg};
use crate::backend::{Backend, Elementwise, Side, Trans};
use crate::darray::DArray;
use crate::Scalar;

/// `op(A)`: `A` or its transpose, as the tiles of `A` plus a flag.
struct Op<'a, T> {
    a: &'a DArray<T>,
    trans: Trans,
}

impl<T: Scalar> Op<'_, T> {
    /// A pair of `A` (shape, block size) as seen through `op`.
    fn oriented(&self, (r, c): (usize, usize)) -> (usize, usize) {
        if self.trans == Trans::Yes {
            (c, r)
        } else {
            (r, c)
        }
    }

    fn shape(&self) -> (usize, usize) {
        self.oriented(self.a.shape())
    }

    fn block(&self) -> (usize, usize) {
        self.oriented(self.a.block_size())
    }

    /// Tile `(i, j)` of `op(A)` is tile `(j, i)` of `A` when transposed.
    fn tile(&self, i: usize, j: usize) -> crate::Tile<T> {
        if self.trans == Trans::Yes {
            self.a.tile(j, i)
        } else {
            self.a.tile(i, j)
        }
    }
}

/// `C ← α·op(A)·op(B) + β·C`, in place on `c`, on the CPU backend. Returns at once; the
/// updates run as tasks. Panics, naming the shapes, if they do not fit.
#[track_caller]
#[allow(clippy::too_many_arguments)] // the BLAS signature, which every reader knows
pub fn gemm<T: Scalar>(
    alpha: T,
    a: &DArray<T>,
    ta: Trans,
    b: &DArray<T>,
    tb: Trans,
    beta: T,
    c: &mut DArray<T>,
) {
    Linalg::cpu().gemm(alpha, a, ta, b, tb, beta, c)
}

impl<B: Backend> Linalg<B> {
    /// `C ← α·op(A)·op(B) + β·C`, in place on `c`. Returns at once; the updates run as
    /// tasks. Panics, naming the shapes, if they do not fit.
    #[track_caller]
    #[allow(clippy::too_many_arguments)] // the BLAS signature
    pub fn gemm<T: Scalar>(
        &self,
        alpha: T,
        a: &DArray<T>,
        ta: Trans,
        b: &DArray<T>,
        tb: Trans,
        beta: T,
        c: &mut DArray<T>,
    ) {
        let (opa, opb) = (Op { a, trans: ta }, Op { a: b, trans: tb });
        let ((m, k), (k2, n)) = (opa.shape(), opb.shape());
        assert!(
            k == k2,
            "shape mismatch in gemm: {:?} vs {:?}",
            opa.shape(),
            opb.shape()
        );
        assert!(
            c.shape() == (m, n),
            "shape mismatch in gemm: result {:?} vs {:?}",
            c.shape(),
            (m, n)
        );
        // Cut op(B)'s rows like op(A)'s columns, and C like op(A) × op(B).
        let (bk, bn) = (opa.block().1, c.block_size().1);
        let b_cut = match tb {
            Trans::No => b.recut(bk, bn),
            Trans::Yes => b.recut(bn, bk),
        };
        let a_cut = match ta {
            Trans::No => a.recut(c.block_size().0, bk),
            Trans::Yes => a.recut(bk, c.block_size().0),
        };
        let (opa, opb) = (Op { a: &a_cut, trans: ta }, Op { a: &b_cut, trans: tb });
        let kt = if k == 0 { 0 } else { k.div_ceil(bk) };
        let (gr, gc) = c.tile_grid();
        // C tiles complete in order (earlier tiles first) instead of all at once, so
        // operations that consume C can start on its first tiles early.
        let priority = |i: usize, j: usize| -((i + j * gr) as i32).min(1 << 20) - 1;
        // Each tile of op(A) is used by a row of C's tiles, each of op(B) by a column:
        // packed once (`tasks::Packing`), just before the first product that uses it.
        // A product reads packed forms only when both operands have one: op(A) is packed
        // only where op(B)'s tiles are too, and the other way round.
        let packing = tasks::Packing::new(c.is_distributed() || a.is_distributed() || b.is_distributed());
        let packs = |op: &Op<'_, T>, side, uses| {
            kt > 0
                && gr > 0
                && gc > 0
                && packing.packs::<T, B>(&self.backend, side, op.oriented(op.tile(0, 0).shape()), uses)
        };
        let a_uses = if packs(&opb, Side::Right, gr) { gc } else { 0 };
        let b_uses = if packs(&opa, Side::Left, gc) { gr } else { 0 };
        let pack_a: Vec<Vec<tasks::Operand<T>>> = (0..gr)
            .map(|i| {
                let uses = (priority(i, 0) + 1, a_uses);
                let pack = |p| packing.operand(&self.backend, uses, Side::Left, (opa.tile(i, p), ta));
                (0..kt).map(pack).collect()
            })
            .collect();
        let pack_b: Vec<Vec<tasks::Operand<T>>> = (0..gc)
            .map(|j| {
                let uses = (priority(0, j) + 1, b_uses);
                let pack = |p| packing.operand(&self.backend, uses, Side::Right, (opb.tile(p, j), tb));
                (0..kt).map(pack).collect()
            })
            .collect();
        for (j, pack_b) in pack_b.iter().enumerate() {
            for (i, pack_a) in pack_a.iter().enumerate() {
                if kt == 0 {
                    // BLAS: with β = 0, C's old values (NaN included) are not read.
                    if beta == T::zero() {
                        tasks::laset(&self.backend, None, T::zero(), c.tile(i, j));
                    } else {
                        tasks::elementwise_scalar_assign("scal", Elementwise::Mul, c.tile(i, j), beta);
                    }
                }
                for p in 0..kt {
                    let beta_p = if p == 0 { beta } else { T::one() };
                    let operands = (pack_a[p].clone(), pack_b[p].clone());
                    tasks::gemm(
                        &self.backend,
                        priority(i, j),
                        alpha,
                        operands,
                        beta_p,
                        c.tile(i, j),
                    );
                }
            }
        }
    }

    /// `A·B`, a new matrix cut by A's rows and B's columns. Panics with both shapes if the
    /// inner dimensions differ.
    #[track_caller]
    pub fn matmul<T: Scalar>(&self, a: &DArray<T>, b: &DArray<T>) -> DArray<T> {
        assert!(
            a.shape().1 == b.shape().0,
            "shape mismatch in *: {:?} vs {:?}",
            a.shape(),
            b.shape()
        );
        let (br, _) = a.block_size();
        let (_, bc) = b.block_size();
        let auto = a.auto_blocked() && b.auto_blocked();
        // β = 0: every element of C is written (zeros when the inner dimension is empty).
        let mut c = DArray::for_overwrite(crate::Blocks(br, bc), a.shape().0, b.shape().1).with_auto(auto);
        self.gemm(T::one(), a, Trans::No, b, Trans::No, T::zero(), &mut c);
        c
    }
}

impl<T: Scalar> Mul for &DArray<T> {
    type Output = DArray<T>;
    /// The matrix product (not elementwise: see [`DArray::hadamard`]). Panics with both
    /// shapes if the inner dimensions differ.
    #[track_caller]
    fn mul(self, rhs: Self) -> DArray<T> {
        Linalg::cpu().matmul(self, rhs)
    }
}
