//! Memory: the spaces data lives in, the replicas of each data object (MSI coherence,
//! acquire/release), tile allocation with recycling, budgets, eviction to spill files and
//! the transfer thread. See `README.md`.

pub(crate) mod budget;
pub(crate) mod evict;
pub(crate) mod recycle;
pub(crate) mod replica;
mod space;
pub(crate) mod spill;
pub(crate) mod transfer;

pub use budget::MemoryStats;
pub use space::MemorySpace;
