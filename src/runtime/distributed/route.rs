//! Routing a submitted task under MPI: the tracker's plan (`tracker.rs`) carried out on
//! this rank. Before the task, this rank submits a *send* task for each input it must send
//! (it reads the tile once its writer here is done, copies it into a message and hands that
//! to the communication thread) and a *receive* task for each input it must receive (it
//! writes the tile's replica here from the message, and is held until the message arrives).
//! Then the task itself is submitted here, or, when another rank runs it, finished at once
//! without running (its future says where it ran).
//!
//! A write elsewhere makes this rank's copy of the object stale: a *discard* task frees it
//! once this rank's tasks on the old version are done.
//!
//! Failures travel too: a send task whose input was written by a failed task sends the
//! failure's description instead of the tile, and the receive task that gets it fails with
//! that cause, so the tasks that read it fail on every rank with the same cause.

use std::sync::{Arc, Mutex};

use super::message::{Arrival, Key, HEADER_BYTES};
use super::program::{self, Stamp};
use super::tracker::{self, Transfer, Use};
use super::{stats, world, Tracked};
use crate::runtime::graph::access::{AccessRecord, Geometry, ObjectRef};
use crate::runtime::graph::deps;
use crate::runtime::graph::footprint::Footprint;
use crate::runtime::graph::task::{Job, Start, Status, TaskCell, TaskHeader, TaskRef};
use crate::runtime::graph::{DataObject, Mode};
use crate::runtime::memory::replica::Contents;
use crate::runtime::Runtime;

/// Sends and receives go before the program's tasks among ready tasks: other ranks wait
/// for them.
const TRANSFER_PRIORITY: i32 = i32::MAX;

/// Routes `task`, just created by the submitting thread (which still holds its submission
/// guard), under MPI: submits the transfers its plan gives this rank; returns `true` when
/// the task runs here (the caller submits it), `false` when another rank runs it (it has
/// been finished here, unrun).
pub(crate) fn route(rt: &'static Runtime, task: &TaskRef) -> bool {
    let Some(world) = world() else {
        return true;
    };
    if !super::distributing() {
        return true;
    }
    let me = world.rank;
    let header = task.header();
    // SAFETY: the caller is the submitter and still holds the submission guard (task.rs,
    // invariant 4); the reference ends before `finish_elsewhere` drops the records.
    let accesses = unsafe { task.accesses() };
    // One entry per tracked object (a task may access one object twice, in two parts):
    // its first access, its state (copied out, written back below), and how it is used.
    let mut objects: Vec<(usize, Tracked, bool, bool)> = Vec::new();
    for (k, a) in accesses.iter().enumerate() {
        let Some(state) = a.object.tracked().clone() else {
            continue;
        };
        let (writes, needs) = (a.mode.writes(), a.contents() == Contents::Needed);
        match objects.iter_mut().find(|o| o.1.id == state.id) {
            Some(o) => {
                o.2 |= writes;
                o.3 |= needs;
            }
            None => objects.push((k, state, writes, needs)),
        }
    }
    let plan = {
        let mut uses: Vec<Use<'_>> = objects
            .iter_mut()
            .map(|(_, state, writes, needs)| Use {
                tracked: Some(state),
                writes: *writes,
                needs_contents: *needs,
            })
            .collect();
        tracker::plan(&mut uses, world.size, header.in_place)
    };
    for (k, state, _, _) in &objects {
        *accesses[*k].object.tracked() = Some(state.clone());
    }
    let stamp = program::record(
        header.name,
        objects
            .iter()
            .map(|(k, s, writes, _)| (s.id, *writes, accesses[*k].object.bytes())),
    );
    for transfer in &plan.transfers {
        let ObjectRef::Shared(object) = &accesses[objects[transfer.access].0].object else {
            unreachable!("tracked objects are runtime-owned");
        };
        if transfer.from == me {
            submit_send(rt, object.clone(), transfer, stamp);
        }
        if transfer.to.contains(&me) {
            submit_receive(rt, object.clone(), transfer, (stamp, header.name));
        }
    }
    for (k, ranks) in &plan.stale {
        if ranks.contains(&me) {
            let ObjectRef::Shared(object) = &accesses[objects[*k].0].object else {
                unreachable!("tracked objects are runtime-owned");
            };
            submit_discard(rt, object.clone());
        }
    }
    let here = plan.runs.includes(me);
    stats::task(here);
    if !here {
        let tracker::Runs::On(rank) = plan.runs else {
            unreachable!("a task that runs everywhere runs here")
        };
        finish_elsewhere(task, rank);
    }
    here
}

/// A whole-object access of `object` in bytes.
fn whole(object: Arc<DataObject>, mode: Mode) -> AccessRecord {
    let bytes = object.bytes();
    AccessRecord {
        object: ObjectRef::Shared(object),
        mode,
        footprint: Footprint::Whole,
        geometry: Geometry {
            offset: 0,
            ndim: 1,
            len: [bytes, 1],
            stride: [1, 0],
            elem_size: 1,
        },
    }
}

/// Submits the task that sends `object` (version `transfer.version`, written here) to the
/// ranks of `transfer.to` once its writer has finished here; the messages carry `stamp`,
/// this rank's program up to the task the transfer is for.
fn submit_send(rt: &'static Runtime, object: Arc<DataObject>, transfer: &Transfer, stamp: Stamp) {
    let key = Key::data(transfer.id, transfer.version);
    let to = transfer.to.clone();
    let bytes = object.bytes();
    let job = move |header: &TaskHeader, _: &(), start: Start<'_>| -> bool {
        let comm = &world().expect("routed tasks exist only under MPI").comm;
        match start {
            Start::Run(granted) => {
                // SAFETY: the task's only access is the whole object for reading, acquired
                // in host memory (a send is CPU code: placed on a worker): its base points
                // at `bytes` initialized bytes that nobody writes until the task releases
                // them, after this.
                let contents = unsafe { std::slice::from_raw_parts(granted.bases[0].as_ptr(), bytes) };
                comm.post(to, key.message(false, stamp, contents));
                false
            }
            Start::Cancelled => {
                comm.post(to, key.message(true, stamp, header.cause().as_bytes()));
                true
            }
            Start::Failed(error) => {
                let cause = format!("sending a tile to another rank: {error}");
                comm.post(to, key.message(true, stamp, cause.as_bytes()));
                true
            }
            Start::Elsewhere(_) => false,
        }
    };
    let header = TaskHeader::new(rt.next_task_id(), "send", TRANSFER_PRIORITY, None, None);
    let task: TaskRef = Arc::new(TaskCell::with_accesses(
        header,
        [whole(object, Mode::Read)],
        job,
        (),
    ));
    rt.submit_local(task, false);
}

/// Submits the task that receives `object` (version `transfer.version`) from rank
/// `transfer.from` into its replica here: it writes the whole object, and waits for the
/// message besides its predecessors. The message must carry `stamp` (this rank's program
/// up to task `name`, the one the transfer is for): otherwise the programs have diverged.
fn submit_receive(
    rt: &'static Runtime,
    object: Arc<DataObject>,
    transfer: &Transfer,
    (stamp, name): (Stamp, &'static str),
) {
    let key = Key::data(transfer.id, transfer.version);
    let from = transfer.from;
    let bytes = object.bytes();
    let arrived: Arc<Mutex<Option<Arrival>>> = Arc::new(Mutex::new(None));
    let slot = arrived.clone();
    let job = move |header: &TaskHeader, _: &(), start: Start<'_>| -> bool {
        let Start::Run(granted) = start else {
            // A whole write is never cancelled; an allocation that failed fails it.
            return true;
        };
        let arrival = arrived.lock().unwrap_or_else(|e| e.into_inner()).take();
        let diverged = |detail: String| {
            let comm = &world().expect("routed tasks exist only under MPI").comm;
            let error = comm.diverged(from, (stamp, name), detail);
            header.set_cause(error.to_string());
            header.set_resource_error(error);
            true
        };
        match arrival {
            Some(Arrival::Data(message)) => match Key::of(&message) {
                Some((_, _, theirs)) if theirs != stamp => diverged(format!(
                    "rank {from} planned this transfer at its task #{} (program hash {:#x}), this rank at #{} ({:#x})",
                    theirs.seq, theirs.hash, stamp.seq, stamp.hash
                )),
                _ if message.len() != HEADER_BYTES + bytes => diverged(format!(
                    "rank {from} sent {} bytes for a tile of {bytes}",
                    message.len().saturating_sub(HEADER_BYTES)
                )),
                _ => {
                    // SAFETY: the task's only access is the whole object for writing,
                    // acquired in host memory: its base points at `bytes` bytes nobody else
                    // reads or writes until the task releases them, after this.
                    let replica = unsafe { std::slice::from_raw_parts_mut(granted.bases[0].as_ptr(), bytes) };
                    replica.copy_from_slice(&message[HEADER_BYTES..]);
                    false
                }
            },
            Some(Arrival::Failed(cause)) => {
                header.set_cause(cause);
                true
            }
            Some(Arrival::Diverged(detail)) => diverged(detail),
            None => {
                header.set_cause("a receive ran before its message arrived".into());
                true
            }
        }
    };
    let header = TaskHeader::new(rt.next_task_id(), "receive", TRANSFER_PRIORITY, None, None);
    let cell = Arc::new(TaskCell::with_accesses(
        header,
        [whole(object, Mode::Write)],
        job,
        (),
    ));
    // The message is one more predecessor: the communication thread releases it.
    cell.header()
        .pending
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let task: TaskRef = cell;
    let gate = task.clone();
    let deliver = Box::new(move |arrival: Arrival| {
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(arrival);
        deps::release(gate, &mut |t| rt.push(t));
    });
    world()
        .expect("routed tasks exist only under MPI")
        .comm
        .expect(from, key, deliver);
    rt.submit_local(task, false);
}

/// Submits the task that frees this rank's copy of `object`, made stale by a write on
/// another rank, once this rank's tasks on the old version are done: it writes the whole
/// object (so it orders after them) and its release discards the copy.
fn submit_discard(rt: &'static Runtime, object: Arc<DataObject>) {
    let target = object.clone();
    let job = move |_: &TaskHeader, _: &(), start: Start<'_>| -> bool {
        match start {
            Start::Run(_) => {
                target.discard_on_release();
                false
            }
            _ => true,
        }
    };
    let header = TaskHeader::new(rt.next_task_id(), "discard", 0, None, None);
    let task: TaskRef = Arc::new(TaskCell::with_accesses(
        header,
        [whole(object, Mode::Write)],
        job,
        (),
    ));
    rt.submit_local(task, false);
}

/// Finishes `task`, which rank `rank` runs, without running it here: its future says
/// where it ran; its region counts it done.
fn finish_elsewhere(task: &TaskRef, rank: usize) {
    let header = task.header();
    if let Some(group) = &header.group {
        group.add_task();
    }
    header.set_status(Status::Ready);
    let claimed = header.claim();
    debug_assert!(claimed, "a task being submitted is claimed by nobody else");
    task.execute(Start::Elsewhere(rank));
    // SAFETY: this thread holds the task (never registered, so nobody else can reach it),
    // and no reference into its records is alive.
    unsafe { task.drop_accesses() };
    deps::complete(task, false, &mut |_| {});
    task.completed();
    if let Some(group) = &header.group {
        group.done();
    }
}
