//! The one place the runtime gets its synchronisation primitives from.
//!
//! Under `--cfg loom` these are loom's model-checked types, so the ready queue, the
//! latches and the dependency counters can be explored exhaustively by the models in
//! `runtime::loom_models`. Everywhere else they are `std`'s.
//!
//! `lock` hides lock poisoning: the runtime catches every user panic before it can unwind
//! through a guard, so a poisoned runtime lock would only mean an internal invariant broke,
//! and the data it guards is still consistent at every await point of this crate.

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU8, AtomicUsize},
    Arc, Condvar, Mutex, MutexGuard,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU8, AtomicUsize},
    Arc, Condvar, Mutex, MutexGuard,
};

/// Locks `m`, ignoring poisoning (see the module docs for why that is sound here).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `cv`, ignoring poisoning like [`lock`].
pub(crate) fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(guard).unwrap_or_else(|e| e.into_inner())
}
