//! # mosaic
//!
//! Dense linear algebra on blocked arrays, driven by a data-dependency task runtime.
//!
//! This release contains the runtime and its public face, [`datadeps()`]: regions in which
//! tasks declare what they read and write (`In`, `Out`, `InOut`, on slices and on
//! triangular or diagonal parts of 2-D data) and run in parallel wherever the declarations
//! allow, with exactly the result of running them one after another.
//!
//! ```
//! use mosaic::prelude::*;
//! use ndarray::{s, Array2};
//!
//! let mut m = Array2::<f64>::zeros((4, 4));
//! datadeps(|s| {
//!     let h = s.write(&mut m);
//!     s.spawn((InOut(UpperTriangular(h)),), |(mut u,)| u.fill(1.0));
//!     s.spawn((InOut(UnitLowerTriangular(h)),), |(mut l,)| l.fill(2.0)); // runs in parallel
//!     s.spawn((InOut(Diagonal(h)),), |(mut d,)| d *= 10.0);              // waits for the first
//! });
//! assert_eq!(m[(0, 0)], 10.0);
//! assert_eq!(m[(0, 3)], 1.0);
//! assert_eq!(m[(3, 0)], 2.0);
//! ```
//!
//! Runtime-owned data ([`Tile`]) can be used outside regions with [`spawn`], which returns a
//! future. [`trace`] records every task for a Gantt view in Perfetto.

// The `openblas` feature links OpenBLAS (BLAS and LAPACK) for the benchmarks' peer and the
// tests' reference; naming the crates keeps their link directives in every binary.
#[cfg(feature = "openblas")]
extern crate lax as _;
#[cfg(feature = "openblas")]
extern crate ndarray_linalg as _;

pub mod backend;
pub mod darray;
pub mod datadeps;
mod error;
pub mod linalg;
pub mod runtime;
mod scalar;
mod scratch;
mod sync;

pub use darray::{AutoBlocks, Blocks, DArray};
pub use datadeps::{datadeps, spawn};
pub use error::{Error, Result};
pub use runtime::distributed;
pub use runtime::trace;
pub use runtime::Tile;
pub use runtime::{num_threads, on, set_num_threads, Target, TaskOptions};
pub use scalar::Scalar;

/// Everything a user of mosaic needs in scope.
pub mod prelude {
    pub use crate::darray::{AutoBlocks, Blocks, DArray};
    pub use crate::datadeps::{
        datadeps, spawn, Diagonal, In, InOut, LowerTriangular, Out, Read, ReadWrite, UnitLowerTriangular,
        UnitUpperTriangular, UpperTriangular, Write,
    };
    pub use crate::error::Error;
    pub use crate::linalg::{ldiv, rdiv};
    pub use crate::runtime::TaskOptions;
    pub use crate::Tile;
}

/// The README's examples, compiled and run as doc-tests so they cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
