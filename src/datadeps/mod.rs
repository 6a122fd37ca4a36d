//! Access-annotated tasks over the user's own data: `datadeps(|s| …)` regions.
//!
//! A region lets tasks borrow the caller's `ndarray` arrays, like `std::thread::scope`
//! lets threads borrow. Each task declares what it reads and writes (`In`, `Out`,
//! `InOut`, optionally on a slice or a triangular part), and the runtime runs it as soon
//! as every earlier task that conflicts with it has finished. The result is exactly what
//! running the tasks one after another, in submission order, would give.
//!
//! ```
//! use mosaic::prelude::*;
//! use ndarray::{s, Array1};
//!
//! let a = Array1::<f64>::from_elem(1000, 1.0);
//! let mut b = Array1::<f64>::from_elem(1000, 2.0);
//! let mut c = Array1::<f64>::zeros(1000);
//! datadeps(|s| {
//!     let a = s.read(&a);
//!     let b = s.write(&mut b);
//!     let c = s.write(&mut c);
//!     s.spawn((InOut(b), In(a)), |(mut b, a)| b += &a);
//!     s.spawn((Out(c), In(b)), |(mut c, b)| c.assign(&b)); // waits for the first task
//!     // disjoint halves: these two run in parallel
//!     s.spawn((InOut(b.slice(s![..500])),), |(mut h,)| h *= 2.0);
//!     s.spawn((InOut(b.slice(s![500..])),), |(mut h,)| h *= 3.0);
//! });
//! assert_eq!(c[0], 3.0);
//! assert_eq!((b[0], b[999]), (6.0, 9.0));
//! ```
//!
//! # Guarantees
//! - **Serial equivalence**: two tasks run at the same time only when neither writes what
//!   the other touches; otherwise they run in submission order.
//! - **No data race from safe code**: a task sees only the views it declared; a task that
//!   declares overlapping accesses of which one writes is rejected (panic at `spawn`);
//!   triangular and diagonal accesses give views that cannot reach outside their part.
//! - **Failures**: a panicking task's panic is re-raised by the region once all of its
//!   other tasks are done (or returned as `Err(TaskPanicked)` by the task's future, if
//!   waited on). Tasks that read data a failed task wrote are not run: they are cancelled
//!   and fail in turn; a region in which a task was cancelled panics at its end too (with
//!   the original panic when it happened in the same region). Other tasks run normally,
//!   and the runtime stays usable.
//! - **Nesting**: a task may open a region over its own views, or wait on futures; while a
//!   worker waits, the pool keeps another worker running on its core, so nesting never
//!   starves or deadlocks the pool. Spawning, inside a task, a region task that needs data
//!   the task (or one it is nested in) holds could never finish: it panics instead, and
//!   waiting for such a future returns `Err(WouldDeadlock)`.

pub(crate) mod access;
mod future;
#[doc(hidden)]
mod guarantees;
mod handle;
#[macro_use]
pub(crate) mod kernel;
mod masked;
#[cfg(all(test, not(loom)))]
mod protocol_tests;
pub(crate) mod raw;
mod scope;
mod tile;

pub use access::{Access, AccessTarget, Accesses, In, InOut, Out, ReadTarget, WriteTarget};
pub use access::{In as Read, InOut as ReadWrite, Out as Write};
pub use future::{ScopedFuture, TaskFuture};
pub use handle::{Handle, HandleDim, Mutable, ReadHandle, ReadOnly, WriteHandle};
pub use masked::{
    Diagonal, LowerTriangular, TriangularPart, TriangularView, TriangularViewMut, UnitLowerTriangular,
    UnitUpperTriangular, UpperTriangular,
};
pub(crate) use scope::spawn_here;
pub use scope::{datadeps, spawn, spawn_with, Scope};
