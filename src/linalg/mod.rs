//! Tiled linear algebra on `DArray`: each operation emits a graph of tile tasks whose
//! kernels run on a [`Backend`].
//!
//! The methods on [`DArray`](crate::DArray) (`&a * &b`, [`cholesky`](crate::DArray::cholesky),
//! …) and the free functions here ([`gemm`], [`trsm`], [`ldiv`], [`rdiv`]) run on the
//! [`Cpu`] backend. [`Linalg`] runs the same algorithms on any backend, for instance a
//! [`Recording`](crate::backend::Recording) one that counts the kernels of a graph.

mod cholesky;
mod lu;
mod matmul;
mod qr;
pub(crate) mod tasks;
mod tiling;
mod triangular;

use crate::backend::{Backend, Cpu};
pub use crate::backend::{Diag, Side, Trans, Uplo};
pub use cholesky::Cholesky;
pub use lu::{Lu, Pivot};
pub use matmul::gemm;
pub use qr::Qr;
pub use tasks::{set_shared_packing, shared_packing};
pub use triangular::{ldiv, rdiv, trsm, TriangularMatrix};

/// The tiled algorithms, with their kernels run on backend `B`.
///
/// ```
/// use mosaic::linalg::{Linalg, Trans};
/// use mosaic::prelude::*;
///
/// let a = DArray::<f64>::rand_seeded(Blocks(2, 2), 4, 3, 1);
/// let b = DArray::<f64>::rand_seeded(Blocks(2, 2), 4, 5, 2);
/// let mut c = DArray::<f64>::zeros(Blocks(2, 2), 3, 5);
/// Linalg::cpu().gemm(1.0, &a, Trans::Yes, &b, Trans::No, 0.0, &mut c); // C = Aᵀ·B
/// let want = a.to_ndarray().t().dot(&b.to_ndarray());
/// assert!((&c.to_ndarray() - &want).iter().all(|d| d.abs() < 1e-12));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Linalg<B = Cpu> {
    backend: B,
}

impl Linalg<Cpu> {
    /// The algorithms on the CPU backend (what the methods on `DArray` use).
    pub fn cpu() -> Self {
        Linalg { backend: Cpu }
    }
}

impl<B: Backend> Linalg<B> {
    /// The algorithms on `backend`.
    pub fn new(backend: B) -> Self {
        Linalg { backend }
    }

    /// The backend the kernels run on.
    pub fn backend(&self) -> &B {
        &self.backend
    }
}
