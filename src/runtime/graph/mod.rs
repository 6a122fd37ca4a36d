//! The task graph: access modes, data objects (ids, versions, replicas), footprints,
//! access histories, task records and dependency counting. See `README.md`.

pub(crate) mod access;
pub(crate) mod deps;
pub mod footprint;
pub(crate) mod history;
pub(crate) mod mode;
pub(crate) mod object;
pub(crate) mod task;

pub use access::{AccessRecord, Geometry};
pub use mode::Mode;
pub use object::DataObject;
