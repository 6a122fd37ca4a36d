//! Memory: the spaces data lives in, the replicas of each data object (MSI coherence,
//! acquire/release), tile allocation with recycling, budgets, eviction to spill files,
//! device memory and the transfer thread. See `README.md`.

pub(crate) mod budget;
pub(crate) mod device;
pub(crate) mod evict;
pub(crate) mod mover;
pub(crate) mod recycle;
pub(crate) mod replica;
pub(crate) mod space;
pub(crate) mod spill;
pub(crate) mod transfer;

pub use budget::MemoryStats;
pub use device::SimulatedDevices;
pub use space::MemorySpace;
