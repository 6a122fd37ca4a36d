//! Memory spaces: where a replica of a data object can live.

/// Where a replica of a data object can live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MemorySpace {
    /// The process's own memory.
    Host,
    /// The memory of accelerator `i` (a CUDA device, or a simulated one).
    Device(usize),
}

/// How many memory spaces a data object can have replicas in: the host, the spill files,
/// and [`MAX_DEVICES`] accelerators.
pub(crate) const MAX_SPACES: usize = 4;

/// The most accelerators the runtime uses (more are ignored, with a message).
pub(crate) const MAX_DEVICES: usize = MAX_SPACES - FIRST_DEVICE;

/// The slot of the host's replica.
pub(crate) const HOST: usize = 0;

/// The slot of the spill files' replica: the host's second, slower space, where tiles
/// evicted under a budget are kept (`spill.rs`). Not a public space: tasks never run there.
pub(crate) const SPILL: usize = 1;

/// The slot of device 0's replica; device `i` has slot `FIRST_DEVICE + i`.
pub(crate) const FIRST_DEVICE: usize = 2;

impl MemorySpace {
    /// The space's slot in a data object's replica table (`< MAX_SPACES`).
    pub(crate) fn index(self) -> usize {
        match self {
            MemorySpace::Host => HOST,
            MemorySpace::Device(i) => {
                debug_assert!(i < MAX_DEVICES, "device {i} has no replica slot");
                FIRST_DEVICE + i
            }
        }
    }

    /// The public space of a slot (the spill slot is the host's).
    pub(crate) fn from_index(slot: usize) -> Self {
        match slot {
            HOST | SPILL => MemorySpace::Host,
            s => MemorySpace::Device(s - FIRST_DEVICE),
        }
    }
}

/// The device number of a slot, if it is a device's.
pub(crate) fn device_of(slot: usize) -> Option<usize> {
    (slot >= FIRST_DEVICE).then(|| slot - FIRST_DEVICE)
}
