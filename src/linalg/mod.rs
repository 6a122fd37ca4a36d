//! Tiled linear algebra on `DArray`: each operation emits a graph of tile tasks.

mod cholesky;
mod matmul;

pub use cholesky::Cholesky;

pub use matmul::gemm;
