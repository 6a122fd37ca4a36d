//! Scheduling: ready queues, worker threads and waiting, worker-count compensation,
//! device executors, placement and its cost model, and back-pressure. See `README.md`.

pub(crate) mod compensation;
pub(crate) mod cost;
pub(crate) mod device;
pub(crate) mod placement;
pub(crate) mod queue;
pub(crate) mod throttle;
pub(crate) mod worker;
