//! Scheduling: ready queues, worker threads and waiting, worker-count compensation,
//! placement and back-pressure. See `README.md`.

pub(crate) mod compensation;
pub(crate) mod placement;
pub(crate) mod queue;
pub(crate) mod throttle;
pub(crate) mod worker;
