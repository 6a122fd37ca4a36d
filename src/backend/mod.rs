//! Tile kernels, named after BLAS/LAPACK, behind one small trait per processor kind.
//!
//! The tiled algorithms of [`crate::linalg`] call a [`Backend`] on the views their tasks
//! receive; a backend never sees the task graph. [`Cpu`] runs each kernel single-threaded
//! with faer (`Par::Seq`): the parallelism comes from the graph. [`Recording`] wraps any
//! backend and counts the kernels it runs, so tests can check the shape of a graph.
//!
//! Every kernel follows its BLAS/LAPACK namesake: the same arguments, the same parts of
//! each operand read and written (a triangular operand's other triangle is never read, a
//! unit diagonal is never read), the same result.

pub mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;
mod recording;
#[cfg(any(test, feature = "cuda"))]
pub(crate) mod wy;

use std::fmt;

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

pub use cpu::Cpu;
#[cfg(feature = "cuda")]
#[doc(hidden)]
pub use cuda::compile_all_kernels_for_tests as cuda_kernels_compile;
#[cfg(feature = "cuda")]
#[doc(hidden)]
pub use cuda::launched_kernels_for_tests as cuda_kernels_launched;
pub use recording::Recording;

use crate::Scalar;

/// What [`Backend::sum`] adds up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SumOf {
    /// The elements.
    Values,
    /// Their squares.
    Squares,
}

/// Whether an operand is used as stored or transposed (BLAS `TRANS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trans {
    /// `A`.
    No,
    /// `Aᵀ`.
    Yes,
}

/// Which side of the unknown a triangular matrix stands on (BLAS `SIDE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// `op(A)·X = α·B`.
    Left,
    /// `X·op(A) = α·B`.
    Right,
}

/// Which triangle of a square matrix holds the data (BLAS `UPLO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Uplo {
    /// The lower triangle, diagonal included.
    Lower,
    /// The upper triangle, diagonal included.
    Upper,
}

/// Whether a triangular matrix has an implicit unit diagonal (BLAS `DIAG`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Diag {
    /// The diagonal is stored and used.
    NonUnit,
    /// The diagonal is taken to be all ones and never read.
    Unit,
}

impl Trans {
    /// `Yes` for `No` and back.
    pub fn flip(self) -> Self {
        match self {
            Trans::No => Trans::Yes,
            Trans::Yes => Trans::No,
        }
    }
}

impl Uplo {
    /// The triangle a transpose moves this one to.
    pub fn flip(self) -> Self {
        match self {
            Uplo::Lower => Uplo::Upper,
            Uplo::Upper => Uplo::Lower,
        }
    }
}

/// An elementwise operation, for [`Backend::elementwise`] and its companions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Elementwise {
    /// `x + y`.
    Add,
    /// `x − y`.
    Sub,
    /// `x · y` (the Hadamard product, for two arrays).
    Mul,
    /// `x / y`.
    Div,
}

impl Elementwise {
    /// `x op y`.
    #[inline]
    pub fn apply<T: Scalar>(self, x: T, y: T) -> T {
        match self {
            Elementwise::Add => x + y,
            Elementwise::Sub => x - y,
            Elementwise::Mul => x * y,
            Elementwise::Div => x / y,
        }
    }
}

/// The tile kernels of one processor kind.
///
/// Implementations are cheap to clone (the tiled drivers move a clone into every task)
/// and run each call to completion on the calling thread.
///
/// # Safety
/// The tiled drivers run tasks on disjoint *parts* of one tile at the same time (the
/// strictly lower part of a QR diagonal tile is read by one task while another rewrites
/// its upper triangle), and hand each kernel a view of the whole tile. An implementation
/// must therefore read and write only the parts of each operand that the kernel's
/// documentation names (a triangle, a strictly lower part, …); touching anything else is
/// a data race.
pub unsafe trait Backend: Clone + Send + Sync + fmt::Debug + 'static {
    /// `C ← α·op(A)·op(B) + β·C`. With `β = 0`, `C`'s old values are not read (NaN in
    /// them does not propagate); with `α = 0`, neither are `A` and `B` (as in BLAS).
    #[allow(clippy::too_many_arguments)] // the BLAS signature, which every reader knows
    fn gemm<T: Scalar>(
        &self,
        alpha: T,
        a: ArrayView2<'_, T>,
        ta: Trans,
        b: ArrayView2<'_, T>,
        tb: Trans,
        beta: T,
        c: ArrayViewMut2<'_, T>,
    );

    /// The number of elements of the packed form of a `rows × cols` operand of a product:
    /// the left one (`Side::Left`: `op(A)` of `op(A)·op(B)`) or the right one, as
    /// [`pack`](Self::pack) makes it for [`gemm_packed`](Self::gemm_packed). A tiled
    /// product that multiplies one tile by many packs it once and shares the packed form.
    /// `None` (the default): this backend has no packed product of this shape, the tiled
    /// drivers call [`gemm`](Self::gemm) on the tiles.
    fn packed_len<T: Scalar>(&self, side: Side, shape: (usize, usize)) -> Option<usize> {
        let _ = (side, shape);
        None
    }

    /// Packs `op(a)` as the `side` operand of a product into `out`, which holds at least
    /// [`packed_len`](Self::packed_len) elements. Called only where that is `Some`.
    fn pack<T: Scalar>(&self, side: Side, a: ArrayView2<'_, T>, trans: Trans, out: &mut [T]) {
        let _ = (side, trans, out);
        panic!("{self:?} has no packed form for a {:?} operand", a.dim())
    }

    /// [`gemm`](Self::gemm) on packed forms ([`pack`](Self::pack)): `C ← α·A·B + β·C`
    /// with `A` (`m × k`) and `B` (`k × n`) packed, bit for bit the `C` that `gemm` gives
    /// on the operands they were packed from when `C` is column-major (a tile; another
    /// layout gets the same product, rounded maybe differently). With `Some(uplo)`, [`syrk`](Self::syrk) on
    /// packed forms instead: `A = op(X)` and `B = op(X)ᵀ`, only the `uplo` triangle of the
    /// square, column-major `C` read and written, bit for bit what `syrk` gives on `X`. Called only where
    /// `packed_len` is `Some`.
    fn gemm_packed<T: Scalar>(
        &self,
        alpha: T,
        (a, b, k): (&[T], &[T], usize),
        beta: T,
        (c, uplo): (ArrayViewMut2<'_, T>, Option<Uplo>),
    ) {
        let _ = (alpha, a, b, beta, uplo);
        panic!("{self:?} has no packed product for {:?} with k = {k}", c.dim())
    }

    /// `C ← α·op(A)·op(A)ᵀ + β·C` on the `uplo` triangle of the square `C` (the other
    /// triangle is not touched); `op(A) = A` for `Trans::No`, `Aᵀ` for `Trans::Yes`.
    fn syrk<T: Scalar>(
        &self,
        uplo: Uplo,
        trans: Trans,
        alpha: T,
        a: ArrayView2<'_, T>,
        beta: T,
        c: ArrayViewMut2<'_, T>,
    );

    /// The Cholesky factor in place: `A = L·Lᵀ` (`Lower`) or `A = Uᵀ·U` (`Upper`), read from
    /// and written over the `uplo` triangle. The strictly other triangle is not read but
    /// may be overwritten (faer's blocked Cholesky updates whole square blocks): a driver
    /// gives `potrf` the whole tile and clears that part afterwards if it needs zeros there.
    /// `Err(i)`: the leading minor of order `i + 1` is not positive definite.
    fn potrf<T: Scalar>(&self, uplo: Uplo, a: ArrayViewMut2<'_, T>) -> Result<(), usize>;

    /// LU factorization with partial pivoting in place: `P·A = L·U`, `L` unit lower
    /// (below the diagonal), `U` upper (on and above it). `ipiv[i]` (for `i < min(m, n)`)
    /// is the row swapped with row `i` at step `i` (LAPACK's `ipiv`, from 0; `≥ i`).
    /// `Err(i)`: `U[i, i]` is exactly zero, the first such `i` (the factorization still
    /// completes, as LAPACK's does).
    fn getrf<T: Scalar>(&self, a: ArrayViewMut2<'_, T>, ipiv: &mut [usize]) -> Result<(), usize>;

    /// `getrf` of a panel stored as a column of tiles, `tiles[0]` on top: the result of
    /// `getrf` on the tiles stacked into one block, written back into them, with `ipiv`'s
    /// rows counted from the top of the stack (`ipiv` has `min(height, width)` entries).
    /// The tiles have one width; all but the last are as tall as the first, which, when
    /// there are several, is at least as tall as the panel is wide.
    ///
    /// The default gathers the tiles into one block and calls [`getrf`](Self::getrf).
    fn getrf_tiles<T: Scalar>(
        &self,
        tiles: &mut [ArrayViewMut2<'_, T>],
        ipiv: &mut [usize],
    ) -> Result<(), usize> {
        getrf_gathered(self, tiles, ipiv)
    }

    /// LU factorization of a square tile without pivoting: `A = L·U` in place (PLASMA's
    /// `getrf_nopiv`), for diagonally dominant matrices. `Err(i)`: `U[i, i]` is exactly
    /// zero, the first such `i` (the factorization still completes, with infinities).
    fn getrf_nopiv<T: Scalar>(&self, a: ArrayViewMut2<'_, T>) -> Result<(), usize>;

    /// Householder QR of an `m × n` tile in place (LAPACK `geqrt`): `R` on and above the
    /// diagonal, the Householder vectors `V` below it (unit diagonal implicit), and the
    /// compact-WY factors in `t` (`ib × min(m, n)`, blocks of `ib` reflectors), in faer's
    /// convention: block `J` is `I − V_J·T_J⁻¹·V_Jᵀ` with `T_J` the upper triangle of
    /// `t[..w, J]` (LAPACK's `T` is its inverse). Only `unmqr` reads them.
    fn geqrt<T: Scalar>(&self, a: ArrayViewMut2<'_, T>, t: ArrayViewMut2<'_, T>);

    /// `C ← Qᵀ·C` (`Trans::Yes`) or `C ← Q·C` (`Trans::No`), `Q` given by a tile factored
    /// by `geqrt`: only the strictly lower part of `v` (`m × k`) is read, and `t`.
    fn unmqr<T: Scalar>(
        &self,
        trans: Trans,
        v: ArrayView2<'_, T>,
        t: ArrayView2<'_, T>,
        c: ArrayViewMut2<'_, T>,
    );

    /// QR of the stacked `[R; A]` (LAPACK `tpqrt` with a full `A`, PLASMA's `tsqrt`): `R`
    /// (`n × n`) is read and written on and above its diagonal only; `A` (`m × n`) is
    /// replaced by the Householder vectors `V₂`, whose top part is the identity; `t` gets
    /// the compact-WY factors (`ib × n`).
    fn tsqrt<T: Scalar>(&self, r: ArrayViewMut2<'_, T>, a: ArrayViewMut2<'_, T>, t: ArrayViewMut2<'_, T>);

    /// `[C₁; C₂] ← Qᵀ·[C₁; C₂]` (`Trans::Yes`) or `Q·[C₁; C₂]` (`Trans::No`), `Q` given by
    /// `tsqrt`'s `V₂` (`m × n`, read whole) and `t` (PLASMA's `tsmqr`). `C₁` is `n × k`,
    /// `C₂` is `m × k`.
    #[allow(clippy::too_many_arguments)] // the LAPACK signature
    fn tsmqr<T: Scalar>(
        &self,
        trans: Trans,
        c1: ArrayViewMut2<'_, T>,
        c2: ArrayViewMut2<'_, T>,
        v2: ArrayView2<'_, T>,
        t: ArrayView2<'_, T>,
    );

    /// QR of the stacked `[R₁; R₂]`, both upper triangular or trapezoidal (LAPACK `tpqrt`
    /// with a triangular bottom, PLASMA's `ttqrt`): only the parts on and above the
    /// diagonals are read and written; `R₂`'s is replaced by the Householder vectors `V₂`
    /// (upper triangular too), `t` gets the compact-WY factors (`ib × n`).
    fn ttqrt<T: Scalar>(&self, r1: ArrayViewMut2<'_, T>, r2: ArrayViewMut2<'_, T>, t: ArrayViewMut2<'_, T>);

    /// `tsmqr` with the reflectors of `ttqrt`: only the upper part of `v2` is read
    /// (PLASMA's `ttmqr`).
    fn ttmqr<T: Scalar>(
        &self,
        trans: Trans,
        c1: ArrayViewMut2<'_, T>,
        c2: ArrayViewMut2<'_, T>,
        v2: ArrayView2<'_, T>,
        t: ArrayView2<'_, T>,
    );

    /// Sets elements of `a` to `alpha`: every one (`uplo` = `None`), or only the strictly
    /// upper or strictly lower part (`Some(Upper)`, `Some(Lower)`), the diagonal and the
    /// other part untouched (LAPACK's `laset` with the diagonal left alone).
    ///
    /// The default runs on host views (the CPU's and a simulated device's).
    fn laset<T: Scalar>(&self, uplo: Option<Uplo>, alpha: T, mut a: ArrayViewMut2<'_, T>) {
        let Some(uplo) = uplo else {
            a.fill(alpha);
            return;
        };
        for (c, mut column) in a.columns_mut().into_iter().enumerate() {
            let len = column.len();
            let range = match uplo {
                Uplo::Upper => 0..c.min(len),
                Uplo::Lower => (c + 1).min(len)..len,
            };
            match column.as_slice_mut() {
                Some(column) => column[range].fill(alpha),
                None => column.slice_mut(ndarray::s![range]).fill(alpha),
            }
        }
    }

    /// The sum of `a`'s elements or of their squares, in `f64`, in an order every backend
    /// keeps, so that the result does not depend on where it was computed: each row from
    /// left to right (from 0), then the row sums from top to bottom (from 0).
    ///
    /// The default runs on host views (the CPU's and a simulated device's).
    fn sum<T: Scalar>(&self, of: SumOf, a: ArrayView2<'_, T>) -> f64 {
        let mut rows = vec![0.0f64; a.nrows()];
        for column in a.columns() {
            for (acc, x) in rows.iter_mut().zip(column) {
                let x = x.to_f64();
                *acc += match of {
                    SumOf::Values => x,
                    SumOf::Squares => x * x,
                };
            }
        }
        rows.into_iter().fold(0.0, |total, row| total + row)
    }

    /// `c ← a op b`, element by element, three blocks of one shape.
    ///
    /// The default runs on host views.
    fn elementwise<T: Scalar>(
        &self,
        op: Elementwise,
        a: ArrayView2<'_, T>,
        b: ArrayView2<'_, T>,
        c: ArrayViewMut2<'_, T>,
    ) {
        ndarray::Zip::from(c)
            .and(&a)
            .and(&b)
            .for_each(|c, &a, &b| *c = op.apply(a, b));
    }

    /// `a ← a op b`, element by element, two blocks of one shape (the `+=` family).
    ///
    /// The default runs on host views.
    fn elementwise_assign<T: Scalar>(&self, op: Elementwise, a: ArrayViewMut2<'_, T>, b: ArrayView2<'_, T>) {
        ndarray::Zip::from(a)
            .and(&b)
            .for_each(|a, &b| *a = op.apply(*a, b));
    }

    /// `c ← a op α` for every element, `a` and `c` of one shape.
    ///
    /// The default runs on host views.
    fn elementwise_scalar<T: Scalar>(
        &self,
        op: Elementwise,
        a: ArrayView2<'_, T>,
        alpha: T,
        c: ArrayViewMut2<'_, T>,
    ) {
        ndarray::Zip::from(c)
            .and(&a)
            .for_each(|c, &a| *c = op.apply(a, alpha));
    }

    /// `a ← a op α` for every element (BLAS `scal` for `Mul`).
    ///
    /// The default runs on host views.
    fn elementwise_scalar_assign<T: Scalar>(&self, op: Elementwise, mut a: ArrayViewMut2<'_, T>, alpha: T) {
        a.mapv_inplace(|x| op.apply(x, alpha));
    }

    /// `b ← a`, two blocks of one shape (LAPACK's `lacpy` of the whole block).
    ///
    /// The default runs on host views, a column at a time (each a contiguous copy where
    /// the columns are: `ndarray`'s `assign` walks two strided views element by element).
    fn lacpy<T: Scalar>(&self, a: ArrayView2<'_, T>, mut b: ArrayViewMut2<'_, T>) {
        for (mut d, s) in b.columns_mut().into_iter().zip(a.columns()) {
            match (d.as_slice_mut(), s.as_slice()) {
                (Some(d), Some(s)) => d.copy_from_slice(s),
                (_, _) => d.assign(&s),
            }
        }
    }

    /// Row interchanges on a column of tiles stacked into one block (`tiles[0]` on top, all
    /// of one width): for `i` in order, rows `i` and `ipiv[i]` (counted from the top of the
    /// stack, `≥ i`) are swapped (LAPACK's `laswp` with `k1 = 0`, `k2 = ipiv.len()`).
    ///
    /// The default runs on host views.
    fn laswp<T: Scalar>(&self, tiles: &mut [ArrayViewMut2<'_, T>], ipiv: &[usize]) {
        let starts: Vec<usize> = tiles
            .iter()
            .scan(0, |row, t| {
                let start = *row;
                *row += t.nrows();
                Some(start)
            })
            .collect();
        let locate = |r: usize| {
            let t = starts.partition_point(|&s| s <= r) - 1;
            (t, r - starts[t])
        };
        for (i, &p) in ipiv.iter().enumerate() {
            if p == i {
                continue;
            }
            let ((t1, i1), (t2, i2)) = (locate(i.min(p)), locate(i.max(p)));
            if t1 == t2 {
                let t = &mut tiles[t1];
                for c in 0..t.ncols() {
                    t.swap((i1, c), (i2, c));
                }
            } else {
                let (top, bottom) = tiles.split_at_mut(t2);
                ndarray::Zip::from(top[t1].row_mut(i1))
                    .and(bottom[0].row_mut(i2))
                    .for_each(std::mem::swap);
            }
        }
    }

    /// `B ← α·op(A)⁻¹·B` (`Left`) or `B ← α·B·op(A)⁻¹` (`Right`), with `A` triangular
    /// (`uplo`), unit or not (`diag`).
    #[allow(clippy::too_many_arguments)] // the BLAS signature
    fn trsm<T: Scalar>(
        &self,
        side: Side,
        uplo: Uplo,
        trans: Trans,
        diag: Diag,
        alpha: T,
        a: ArrayView2<'_, T>,
        b: ArrayViewMut2<'_, T>,
    );
}

/// `getrf` of a column of tiles by gathering them into one block, factoring it with the
/// backend's `getrf` and scattering it back: [`Backend::getrf_tiles`]'s default.
pub(crate) fn getrf_gathered<T: Scalar, B: Backend>(
    be: &B,
    tiles: &mut [ArrayViewMut2<'_, T>],
    ipiv: &mut [usize],
) -> Result<(), usize> {
    if let [tile] = tiles {
        return be.getrf(tile.view_mut(), ipiv);
    }
    let width = tiles[0].ncols();
    let height: usize = tiles.iter().map(|t| t.nrows()).sum();
    let mut panel = ndarray::Array2::<T>::zeros((height, width).f());
    let mut r = 0;
    for t in tiles.iter() {
        panel.slice_mut(ndarray::s![r..r + t.nrows(), ..]).assign(t);
        r += t.nrows();
    }
    let result = be.getrf(panel.view_mut(), ipiv);
    let mut r = 0;
    for t in tiles.iter_mut() {
        let h = t.nrows();
        t.assign(&panel.slice(ndarray::s![r..r + h, ..]));
        r += h;
    }
    result
}
