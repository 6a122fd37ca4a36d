//! Tiled linear algebra on `DArray`: each operation emits a graph of tile tasks.

mod matmul;

pub use matmul::gemm;
