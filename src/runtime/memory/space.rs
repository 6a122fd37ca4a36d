//! Memory spaces: where a replica of a data object can live.

/// Where a replica of a data object can live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MemorySpace {
    /// The process's own memory.
    Host,
}

/// How many memory spaces a data object can have replicas in (the host and, later,
/// devices and spill files).
pub(crate) const MAX_SPACES: usize = 4;

impl MemorySpace {
    /// The space's slot in a data object's replica table (`< MAX_SPACES`).
    pub(crate) fn index(self) -> usize {
        match self {
            MemorySpace::Host => 0,
        }
    }
}
