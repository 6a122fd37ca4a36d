//! The runtime's protocols with a private runtime: placement asked once per task, the
//! worker resolving accesses where the task was placed. (The same protocols seen through
//! the `datadeps` API are tested in `datadeps/protocol_tests.rs`.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use super::graph::access::ObjectRef;
use super::graph::task::{Payload, Start, TaskCell, TaskHeader, TaskRef};
use super::graph::{AccessRecord, Geometry, Mode};
use super::latch::Latch;
use super::sched::placement::{Decision, Placement, TaskInfo};
use super::*;

/// Counts its calls and what it was told; answers today's placement.
#[derive(Debug, Default)]
struct Recording {
    calls: AtomicUsize,
    accesses: Mutex<Vec<(&'static str, usize, usize)>>,
}

impl Placement for Recording {
    fn place(&self, task: &TaskInfo<'_>, processors: &[Processor]) -> Decision {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let bytes = task.accesses.iter().map(|a| a.object.bytes()).sum();
        self.accesses
            .lock()
            .unwrap()
            .push((task.name, task.accesses.len(), bytes));
        assert!(processors.iter().all(|p| p.kind == ProcessorKind::Cpu));
        let _ = (task.priority, task.flops);
        Placed::CPU.into()
    }
}

/// Sets a latch when the runtime is done with the task.
struct Done(Latch);

impl Payload for Done {
    fn completed(&self) {
        self.0.set();
    }
}

#[test]
fn submit_asks_the_placement_policy_once_per_task_and_the_worker_runs_it_there() {
    let policy: &'static Recording = Box::leak(Box::default());
    #[derive(Debug)]
    struct Shared(&'static Recording);
    impl Placement for Shared {
        fn place(&self, task: &TaskInfo<'_>, processors: &[Processor]) -> Decision {
            self.0.place(task, processors)
        }
    }
    let rt = Runtime::start(1, Box::new(Shared(policy)));
    let tile = Tile::<f64>::filled(3, 2, 4, 1.0);
    let (ran, seen) = mpsc::channel();
    let mut tasks = Vec::new();
    for k in 0..3 {
        let accesses = [AccessRecord {
            object: ObjectRef::Shared(tile.object().clone()),
            mode: Mode::ReadWrite,
            footprint: footprint::Footprint::Whole,
            geometry: Geometry {
                offset: 0,
                ndim: 2,
                len: [3, 2],
                stride: [1, 4],
                elem_size: 8,
            },
        }];
        let ran = ran.clone();
        let job = move |h: &TaskHeader, _: &Done, start: Start<'_>| -> bool {
            let Start::Run(granted) = start else { return true };
            // The base resolved at start is the host replica's.
            let base = granted.bases[0].as_ptr().cast::<f64>();
            // SAFETY: the task holds the tile for writing; element (0, 0) is at the base.
            unsafe { *base += 1.0 };
            ran.send((h.name, h.placed())).unwrap();
            false
        };
        let header = TaskHeader::new(rt.next_task_id(), ["a", "b", "c"][k], 0, None, None);
        let cell = Arc::new(TaskCell::with_accesses(header, accesses, job, Done(Latch::new())));
        let task: TaskRef = cell.clone();
        rt.submit(task, false);
        tasks.push(cell);
    }
    for cell in &tasks {
        cell.payload().0.block();
    }
    assert_eq!(policy.calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        *policy.accesses.lock().unwrap(),
        [("a", 1, 64), ("b", 1, 64), ("c", 1, 64)],
        "told each task's accesses and their objects' sizes"
    );
    let runs: Vec<_> = seen.try_iter().collect();
    assert_eq!(runs, [("a", Placed::CPU), ("b", Placed::CPU), ("c", Placed::CPU)]);
    let base = tile
        .object()
        .acquire(MemorySpace::Host, memory::replica::Contents::Needed)
        .unwrap();
    // SAFETY: every task on the tile has finished; element (0, 0) is at the base.
    assert_eq!(unsafe { *base.as_ptr().cast::<f64>() }, 4.0);
    tile.object().release(MemorySpace::Host, Mode::Read);
    assert_eq!(tile.version(), 3);
}
