//! Memory: the spaces data lives in, the replicas of each data object (MSI coherence,
//! acquire/release), and tile allocation with recycling. Budgets, eviction, spill files
//! and transfers come here next. See `README.md`.

pub(crate) mod recycle;
pub(crate) mod replica;
mod space;

pub use space::MemorySpace;
