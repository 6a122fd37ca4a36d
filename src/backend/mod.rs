//! Tile kernels, named after BLAS/LAPACK, per processor kind. Algorithms call these on the
//! views their tasks receive; they never see the task graph.

pub mod cpu;
