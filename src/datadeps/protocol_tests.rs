//! The runtime's protocols seen through the `datadeps` API: pointers resolved at start
//! (pins while a task runs, versions), a task whose data cannot be made valid, and the
//! placement the global runtime gives.

use std::ptr::NonNull;
use std::sync::Arc;

use crate::datadeps::{datadeps, spawn, spawn_with, In, InOut, Out};
use crate::error::{Error, Result};
use crate::runtime::graph::DataObject;
use crate::runtime::memory::replica::{Mover, Replicas};
use crate::runtime::sched::worker;
use crate::runtime::{MemorySpace, Placed, TaskOptions, Tile};

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
    fn allocate(&self, _space: usize, bytes: usize, _zeroed: bool) -> Result<NonNull<u8>> {
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

#[test]
fn the_global_runtime_places_with_today_s_policy() {
    let t = Tile::<f32>::zeros(2, 2);
    let placed = spawn_with(TaskOptions::named("where"), (InOut(t.clone()),), |_| {
        worker::current_task().map(|t| t.header().placed())
    });
    assert_eq!(placed.wait().unwrap(), Some(Placed::CPU));
}
