//! Memory spaces: where a replica of a data object can live.

/// Where a replica of a data object can live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MemorySpace {
    /// The process's own memory.
    Host,
}

/// How many memory spaces a data object can have replicas in: the host, the spill files,
/// and, later, devices.
pub(crate) const MAX_SPACES: usize = 4;

/// The slot of the host's replica.
pub(crate) const HOST: usize = 0;

/// The slot of the spill files' replica: the host's second, slower space, where tiles
/// evicted under a budget are kept (`spill.rs`). Not a public space: tasks never run there.
pub(crate) const SPILL: usize = 1;

impl MemorySpace {
    /// The space's slot in a data object's replica table (`< MAX_SPACES`).
    pub(crate) fn index(self) -> usize {
        match self {
            MemorySpace::Host => HOST,
        }
    }
}
