//! The transfer thread: moves tiles between the host, the spill files and the devices off
//! the workers, so that the I/O and copies overlap compute.
//!
//! - **Prefetch**: a task placed on the host became ready and one of its inputs is in a
//!   spill file only. The thread reads it back (evicting, if the host is full, only
//!   objects that are needed after that task), so that the task usually finds it resident.
//! - **Prefetch to a device**: a task placed on a device became ready; the thread copies
//!   its inputs there (after reading them back from a spill file if need be), so that the
//!   device's executor usually finds them valid.
//! - **Write-back**: when the host is more than seven-eighths full, the thread writes the
//!   dirty replicas needed latest to the spill files (keeping them), so that the evictions
//!   that follow are frees, not writes on a worker's path.
//!
//! Both are hints: a failure (no room, a full disk) is left for the task's own acquire to
//! meet and report.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, OnceLock};

use super::budget;
use super::evict::{self, Resident};
use super::space::HOST;

enum Job {
    Prefetch(Arc<dyn Resident>, u64),
    ToDevice(Arc<dyn Resident>, usize),
    WriteBack,
}

fn sender() -> &'static Mutex<Sender<Job>> {
    static TX: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name("mosaic-transfer".into())
            .spawn(move || {
                for job in rx {
                    run(job);
                }
            })
            .expect("mosaic: failed to start the transfer thread");
        Mutex::new(tx)
    })
}

/// A write-back is queued or running.
static WRITING_BACK: AtomicBool = AtomicBool::new(false);

fn send(job: Job) {
    let _ = sender().lock().unwrap_or_else(|e| e.into_inner()).send(job);
}

fn run(job: Job) {
    match job {
        Job::Prefetch(object, task) => {
            let r = object.replicas();
            if !r.host_ready() {
                let _ = r.prefetch_before(HOST, Some(task));
            }
        }
        Job::ToDevice(object, slot) => {
            let _ = object.replicas().prefetch(slot);
        }
        Job::WriteBack => {
            if let Some(limit) = budget::host().limit() {
                let _ = evict::write_back(limit / 8);
            }
            WRITING_BACK.store(false, Ordering::Release);
        }
    }
}

/// Reads `object` back to the host ahead of task `task`, which is ready and needs it.
pub(crate) fn prefetch(object: Arc<dyn Resident>, task: u64) {
    send(Job::Prefetch(object, task));
}

/// Copies `object` to the space in replica slot `slot` (a device's) ahead of a ready task
/// placed there.
pub(crate) fn prefetch_to(object: Arc<dyn Resident>, slot: usize) {
    send(Job::ToDevice(object, slot));
}

/// Starts a write-back if the host is more than seven-eighths full and none is under way.
pub(crate) fn write_back_if_full() {
    let b = budget::host();
    let Some(limit) = b.limit() else { return };
    if b.resident() > limit / 8 * 7 && !WRITING_BACK.swap(true, Ordering::AcqRel) {
        send(Job::WriteBack);
    }
}
