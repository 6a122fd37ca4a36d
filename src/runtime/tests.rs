//! The runtime's protocols end to end: pointers resolved at start (acquire, pins,
//! release, versions), a failed acquire, and placement.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use super::graph::task::{Payload, Start, TaskCell, TaskHeader, TaskRef};
use super::graph::{AccessRecord, DataObject, Geometry, Mode};
use super::latch::Latch;
use super::memory::replica::{Mover, Replicas};
use super::sched::placement::{Placement, TaskInfo};
use super::*;
use crate::datadeps::{datadeps, spawn, spawn_with, In, InOut, Out};
use crate::error::{Error, Result};

#[test]
fn a_task_holds_its_replicas_pinned_while_it_runs_and_writes_make_versions() {
    let tile = Tile::<f64>::filled(4, 4, 4, 1.0);
    let object = tile.object().clone();
    assert_eq!((tile.version(), object.pins(MemorySpace::Host)), (0, 0));
    let seen = {
        let object = object.clone();
        spawn((InOut(tile.clone()),), move |(mut t,)| {
            t.fill(2.0);
            object.pins(MemorySpace::Host)
        })
    };
    assert_eq!(seen.wait().unwrap(), 1, "pinned while the task runs");
    assert_eq!((tile.version(), object.pins(MemorySpace::Host)), (1, 0));
    spawn((In(tile.clone()),), |(t,)| assert_eq!(t[(3, 3)], 2.0))
        .wait()
        .unwrap();
    assert_eq!(tile.version(), 1, "a read makes no new version");
    spawn((Out(tile.clone()),), |(mut t,)| t.fill(3.0))
        .wait()
        .unwrap();
    assert_eq!(tile.version(), 2);
    assert!(tile.is_valid_in(MemorySpace::Host));
    object.prefetch(MemorySpace::Host).unwrap(); // valid already: nothing to start
                                                 // Ids are stable and unique.
    let other = Tile::<f64>::zeros(1, 1);
    assert_ne!(tile.id(), other.id());
    assert_eq!(tile.id(), tile.clone().id());
}

/// A mover that holds the only valid replica in space 1 and cannot copy it anywhere.
#[derive(Debug)]
struct Unreachable;

impl Mover for Unreachable {
    fn allocate(&self, _space: usize, bytes: usize) -> Result<NonNull<u8>> {
        Ok(NonNull::new(Box::leak(vec![0u8; bytes].into_boxed_slice()).as_mut_ptr()).unwrap())
    }
    unsafe fn copy(&self, from: usize, _: NonNull<u8>, to: usize, _: NonNull<u8>, _: usize) -> Result<()> {
        Err(Error::MemorySpaceUnavailable {
            space: format!("test: no link from space {from} to space {to}"),
        })
    }
    unsafe fn free(&self, _: usize, _: NonNull<u8>, _: usize) {}
}

#[test]
fn a_task_whose_data_cannot_be_made_valid_fails_with_the_error_and_nothing_is_lost() {
    let elsewhere: &'static mut [f64; 4] = Box::leak(Box::new([5.0; 4]));
    let replicas = Replicas::elsewhere(1, elsewhere.as_mut_ptr().cast(), 32, &Unreachable);
    let stuck = Tile::<f64>::on_object(Arc::new(DataObject::with_replicas(2, replicas)), 2, 2, 2);
    let good = Tile::<f64>::filled(2, 2, 2, 1.0);
    let failed = spawn((In(stuck.clone()), InOut(good.clone())), |(_, mut g)| g.fill(9.0));
    match failed.wait() {
        Err(Error::MemorySpaceUnavailable { space }) => assert!(space.contains("no link"), "{space}"),
        other => panic!("expected the acquire's error, got {other:?}"),
    }
    assert_eq!(
        stuck.object().pins(MemorySpace::Host),
        0,
        "the failed acquire left no pin"
    );
    assert_eq!(
        good.object().pins(MemorySpace::Host),
        0,
        "the granted access was released"
    );
    assert_eq!(good.version(), 0, "the task did not run, so it wrote nothing");
    // A reader of what the failed task would have written is cancelled, naming the cause.
    let reader = spawn((In(good.clone()),), |(g,)| g[(0, 0)]);
    match reader.wait() {
        Err(Error::DependencyFailed { cause, .. }) => assert!(cause.contains("could not start"), "{cause}"),
        other => panic!("expected a cancellation, got {other:?}"),
    }
    // A region re-raises the failure at its end, and the runtime stays usable.
    let region = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        datadeps(|s| {
            s.spawn((In(stuck.clone()),), |_| ());
        })
    }));
    assert!(region.is_err());
    let fresh = Tile::<f64>::filled(2, 2, 2, 1.0);
    spawn((InOut(fresh.clone()),), |(mut f,)| f.fill(4.0))
        .wait()
        .unwrap();
    assert_eq!(fresh.to_ndarray().unwrap()[(1, 1)], 4.0);
}

/// Counts its calls and what it was told; answers today's placement.
#[derive(Debug, Default)]
struct Recording {
    calls: AtomicUsize,
    accesses: Mutex<Vec<(&'static str, usize, usize)>>,
}

impl Placement for Recording {
    fn place(&self, task: &TaskInfo<'_>, processors: &[Processor]) -> Placed {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let bytes = task.accesses.iter().map(|a| a.object.bytes()).sum();
        self.accesses
            .lock()
            .unwrap()
            .push((task.name, task.accesses.len(), bytes));
        assert!(processors.iter().all(|p| p.kind == ProcessorKind::Cpu));
        let _ = (task.priority, task.flops);
        Placed::CPU
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
        fn place(&self, task: &TaskInfo<'_>, processors: &[Processor]) -> Placed {
            self.0.place(task, processors)
        }
    }
    let rt = Runtime::start(1, Box::new(Shared(policy)));
    let tile = Tile::<f64>::filled(3, 2, 4, 1.0);
    let (ran, seen) = mpsc::channel();
    let mut tasks = Vec::new();
    for k in 0..3 {
        let accesses = [AccessRecord {
            object: graph::access::ObjectRef::Shared(tile.object().clone()),
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
    assert_eq!(tile.to_ndarray().unwrap()[(0, 0)], 4.0);
    assert_eq!(tile.version(), 3);
}

#[test]
fn the_global_runtime_places_with_today_s_policy() {
    let t = Tile::<f32>::zeros(2, 2);
    let placed = spawn_with(TaskOptions::named("where"), (InOut(t.clone()),), |_| {
        super::sched::worker::current_task().map(|t| t.header().placed())
    });
    assert_eq!(placed.wait().unwrap(), Some(Placed::CPU));
}
