//! loom models of the runtime's concurrent pieces, explored exhaustively:
//! `RUSTFLAGS="--cfg loom" cargo test --release --lib loom_` (see `.ci/run`).
//!
//! Each model is a few threads over the real types (the crate's `sync` module maps to
//! loom's primitives under `--cfg loom`), kept small so the exploration stays fast.

use std::sync::Arc as StdArc;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::graph::deps::{add_dependency, complete, release};
use super::graph::task::{Start, Status, TaskCell, TaskHeader, TaskRef};
use super::latch::{Group, Latch};
use super::sched::queue::{Prioritized, ReadyQueue};

impl Prioritized for u32 {
    fn priority(&self) -> i32 {
        (*self % 2) as i32
    }

    fn origin(&self) -> u64 {
        0
    }
}

/// Explores `f` with at most three preemptions per execution: enough for every bug of
/// these small protocols (each needs at most two badly placed switches), and it keeps
/// the ready-queue models, with their locks and condition variables, fast.
pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

fn task(id: u64) -> TaskRef {
    StdArc::new(TaskCell::new(
        TaskHeader::new(id, "model", 0, None, None),
        |_h: &TaskHeader, _p: &(), _s: Start<'_>| false,
        (),
    ))
}

/// `n` threads that each pop one item as a worker does (search, then sleep), adding
/// `1 << (4 · item)` to `popped`.
fn searching_consumers(
    q: &Arc<ReadyQueue<u32>>,
    popped: &Arc<AtomicUsize>,
    n: usize,
) -> Vec<thread::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let (q, popped) = (q.clone(), popped.clone());
            thread::spawn(move || {
                q.start_search();
                let item = q.try_pop_searching().unwrap_or_else(|| q.sleep_pop());
                popped.fetch_add(1 << (item * 4), Ordering::SeqCst);
            })
        })
        .collect()
}

/// Two searching-then-sleeping consumers and a producer pushing two items: every item is
/// popped exactly once and no consumer sleeps through an item meant for it (loom reports a
/// deadlock if one does), though `push` skips the wake-up while someone searches.
#[test]
fn loom_ready_queue_no_lost_wakeup() {
    model(|| {
        let q = Arc::new(ReadyQueue::<u32>::new());
        let popped = Arc::new(AtomicUsize::new(0));
        let consumers = searching_consumers(&q, &popped, 2);
        q.push(0);
        q.push(1);
        for t in consumers {
            t.join().unwrap();
        }
        assert_eq!(
            popped.load(Ordering::SeqCst),
            1 + (1 << 4),
            "each item popped once"
        );
        assert!(q.try_pop().is_none());
    });
}

/// Two workers that search then sleep, and a waiting thread outside the pool that pops in
/// place of an idle sleeping worker (rule 3; the first push wakes one worker, the other
/// stays idle). Its task makes two more items ready while it still holds that worker's
/// core, so the second of them wakes nobody: `helper_done` must hand the core back and
/// wake the idle worker (the model deadlocks without that). Each item is popped once.
#[test]
fn loom_ready_queue_helper_hands_back_its_core() {
    model(|| {
        let q = Arc::new(ReadyQueue::<u32>::new());
        let popped = Arc::new(AtomicUsize::new(0));
        let workers = searching_consumers(&q, &popped, 2);
        let helper = {
            let (q, popped) = (q.clone(), popped.clone());
            thread::spawn(move || {
                let item = q.try_pop_for_waiter(0);
                if let Some(item) = item {
                    popped.fetch_add(1 << (item * 4), Ordering::SeqCst);
                }
                q.push(1);
                q.push(2);
                if item.is_some() {
                    q.helper_done();
                }
            })
        };
        q.push(0);
        for w in workers {
            w.join().unwrap();
        }
        helper.join().unwrap();
        while let Some(item) = q.try_pop() {
            popped.fetch_add(1 << (item * 4), Ordering::SeqCst);
        }
        assert_eq!(
            popped.load(Ordering::SeqCst),
            1 + (1 << 4) + (1 << 8),
            "each item popped once"
        );
    });
}

/// Two producers and a consumer that searches before sleeping, as a worker does: both
/// items arrive, though `push` does not wake a searching consumer.
#[test]
fn loom_ready_queue_spin_then_sleep() {
    model(|| {
        let q = Arc::new(ReadyQueue::<u32>::new());
        let producers: Vec<_> = (0..2)
            .map(|i| {
                let q = q.clone();
                thread::spawn(move || q.push(i))
            })
            .collect();
        let mut got = 0;
        for _ in 0..2 {
            q.start_search();
            let item = q.try_pop_searching().unwrap_or_else(|| q.sleep_pop());
            got |= 1 << item;
        }
        for t in producers {
            t.join().unwrap();
        }
        assert_eq!(got, 0b11);
    });
}

/// The highest priority pops first, FIFO among equals.
#[test]
fn loom_ready_queue_priority_order() {
    model(|| {
        let q = ReadyQueue::<u32>::new();
        for i in [0, 2, 1, 4, 3] {
            q.push(i);
        }
        let order: Vec<u32> = std::iter::from_fn(|| q.try_pop()).collect();
        assert_eq!(order, vec![1, 3, 0, 2, 4]);
    });
}

/// A latch set concurrently with two blocking waiters: both wake.
#[test]
fn loom_latch_wakes_every_waiter() {
    model(|| {
        let latch = Arc::new(Latch::new());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let latch = latch.clone();
                thread::spawn(move || latch.block())
            })
            .collect();
        latch.set();
        for w in waiters {
            w.join().unwrap();
        }
        assert!(latch.probe());
    });
}

/// A successor registering on a predecessor while the predecessor completes: the
/// successor becomes ready exactly once, and only after the submitter's guard is gone.
#[test]
fn loom_dependency_release_exactly_once() {
    model(|| {
        let pred = task(1);
        let succ = task(2);
        let readied = Arc::new(AtomicUsize::new(0));
        pred.header().set_status(Status::Running);
        let finisher = {
            let (pred, readied) = (pred.clone(), readied.clone());
            thread::spawn(move || {
                complete(&pred, false, &mut |_t| {
                    readied.fetch_add(1, Ordering::SeqCst);
                })
            })
        };
        add_dependency(&succ, &pred, true);
        let mut count_here = 0;
        release(succ.clone(), &mut |_t| count_here += 1);
        finisher.join().unwrap();
        assert_eq!(
            readied.load(Ordering::SeqCst) + count_here,
            1,
            "ready exactly once"
        );
        assert_eq!(succ.header().status(), Status::Ready);
        assert!(!succ.header().poisoned.load(Ordering::SeqCst));
    });
}

/// A failing predecessor poisons a reading successor whether the successor registered
/// before or after the failure.
#[test]
fn loom_failure_poisons_in_every_interleaving() {
    model(|| {
        let pred = task(1);
        let succ = task(2);
        pred.header().set_status(Status::Running);
        let finisher = {
            let pred = pred.clone();
            thread::spawn(move || complete(&pred, true, &mut |_t| {}))
        };
        add_dependency(&succ, &pred, true);
        finisher.join().unwrap();
        release(succ.clone(), &mut |_t| {});
        assert!(succ.header().poisoned.load(Ordering::SeqCst));
        assert_eq!(succ.header().status(), Status::Ready);
    });
}

/// Tasks of a group finishing concurrently with the region body: the latch is set once,
/// when the last of them is done, and a blocked waiter wakes.
#[test]
fn loom_group_counts_down_to_latch() {
    model(|| {
        let group = Arc::new(Group::new());
        group.add_task();
        group.add_task();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let g = group.clone();
                thread::spawn(move || g.done())
            })
            .collect();
        group.done();
        group.latch.block();
        for t in tasks {
            t.join().unwrap();
        }
        assert!(group.latch.probe());
    });
}

/// A worker that blocks while a surplus worker is parking: the blocker never starts a
/// second new thread, and the spare never sleeps through the wake-up meant for it.
#[test]
fn loom_pool_wakes_a_parked_spare() {
    use super::sched::compensation::{Compensation, Pool};
    model(|| {
        let pool = Arc::new(Pool::new(1));
        assert_eq!(pool.block_begin(), Compensation::StartWorker(1));
        pool.block_end(); // two workers running on one core: surplus
        let spare = {
            let pool = pool.clone();
            thread::spawn(move || pool.park_if_surplus())
        };
        assert_eq!(
            pool.block_begin(),
            Compensation::None,
            "a parked or running spare covers the core"
        );
        spare.join().unwrap();
        assert_eq!(pool.threads(), 2);
    });
}

/// The back-pressure gate: a region body blocked because too many of its tasks are
/// unfinished resumes once enough of them are done, whatever the interleaving.
#[test]
fn loom_throttled_body_resumes() {
    use super::latch::{RESUME_BELOW, THROTTLE_ABOVE};
    model(|| {
        let group = Arc::new(Group::new());
        for _ in 0..THROTTLE_ABOVE {
            group.add_task();
        }
        assert!(group.over_limit());
        let tasks: Vec<_> = (0..THROTTLE_ABOVE + 1 - RESUME_BELOW)
            .map(|_| {
                let g = group.clone();
                thread::spawn(move || g.done())
            })
            .collect();
        group.wait_below_resume();
        assert!(!group.over_limit());
        for t in tasks {
            t.join().unwrap();
        }
    });
}

/// Two threads claim one ready task (a worker popping it, a waiter running it on top of
/// its wait): exactly one of them gets it.
#[test]
fn loom_task_claimed_by_exactly_one_thread() {
    model(|| {
        let t = task(1);
        t.header().set_status(Status::Ready);
        let other = {
            let t = t.clone();
            thread::spawn(move || t.header().claim())
        };
        let here = t.header().claim();
        let there = other.join().unwrap();
        assert!(here != there, "exactly one claim succeeds");
        assert_eq!(t.header().status(), Status::Running);
    });
}

/// The tile-buffer pool, with room for two 64-byte blocks: one thread offers a 64-byte
/// block, another a 96-byte one (which evicts to make room), while a third takes a 64-byte
/// block. Every block ends up exactly once with someone (taken, kept, or given back to
/// free), and the pool never keeps more than its limit.
#[test]
fn loom_buffer_pool_moves_each_block_once() {
    use super::memory::recycle::{Block, Pool};

    fn block(id: usize) -> Block {
        Block(std::ptr::NonNull::new(std::ptr::without_provenance_mut(id * 64)).unwrap())
    }
    fn id(b: &Block) -> usize {
        b.0.as_ptr().addr() / 64
    }
    model(|| {
        let pool = Arc::new(Pool::new(128));
        assert!(pool.keep(block(1), 64).is_empty());
        let offers: Vec<_> = [(2, 64), (3, 96)]
            .into_iter()
            .map(|(k, size)| {
                let pool = pool.clone();
                thread::spawn(move || {
                    let back: Vec<usize> = pool.keep(block(k), size).iter().map(|(b, _)| id(b)).collect();
                    assert!(pool.bytes() <= 128);
                    back
                })
            })
            .collect();
        let mut seen: Vec<usize> = pool.take(64).iter().map(id).collect();
        for offer in offers {
            seen.extend(offer.join().unwrap());
        }
        assert!(pool.bytes() <= 128);
        for size in [64, 64, 96] {
            seen.extend(pool.take(size).iter().map(id));
        }
        assert_eq!(pool.bytes(), 0);
        seen.sort_unstable();
        assert_eq!(seen, [1, 2, 3], "each block accounted for exactly once");
    });
}

/// Events and edges recorded while the trace is drained: each is in exactly one drain.
#[test]
fn loom_trace_events_recorded_during_a_drain_are_kept_once() {
    use super::trace::Tracer;
    model(|| {
        let tracer = Arc::new(Tracer::new(1));
        tracer.set_enabled(true);
        let recorder = {
            let tracer = tracer.clone();
            thread::spawn(move || {
                let header = TaskHeader::new(7, "model", 0, None, None);
                tracer.record(&header, 0, 0, false, 0);
                tracer.edge(1, 7);
            })
        };
        let (events, edges) = tracer.drain();
        recorder.join().unwrap();
        let (later, later_edges) = tracer.drain();
        assert_eq!(events.len() + later.len(), 1);
        assert_eq!(edges.len() + later_edges.len(), 1);
    });
}

/// A mover whose spaces are host buffers, counting its copies.
#[derive(Debug, Default)]
struct Buffers {
    copies: std::sync::atomic::AtomicUsize,
}

impl super::memory::replica::Mover for Buffers {
    fn allocate(&self, _space: usize, bytes: usize, _zeroed: bool) -> crate::Result<std::ptr::NonNull<u8>> {
        let buffer: &'static mut [u8] = Box::leak(vec![0u8; bytes].into_boxed_slice());
        Ok(std::ptr::NonNull::new(buffer.as_mut_ptr()).unwrap())
    }

    unsafe fn copy(
        &self,
        _from: usize,
        src: std::ptr::NonNull<u8>,
        _to: usize,
        dst: std::ptr::NonNull<u8>,
        bytes: usize,
    ) -> crate::Result<()> {
        self.copies.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: both are `bytes`-long buffers (the model's host value or `allocate`'s).
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_ptr(), bytes) };
        Ok(())
    }

    /// Leaks the buffer (loom models must not free memory a broken protocol could still
    /// read) but poisons it first, so that a read after the free shows.
    unsafe fn free(&self, _space: usize, ptr: std::ptr::NonNull<u8>, bytes: usize) {
        // SAFETY: a `bytes`-long buffer from `allocate`, which the caller no longer uses.
        unsafe { ptr.as_ptr().write_bytes(0xEE, bytes) };
    }
}

/// An 8-byte object holding `value` in (borrowed) host memory, with a counting mover.
fn replicas_of(value: u64) -> (Arc<super::memory::replica::Replicas>, &'static Buffers) {
    use super::memory::replica::{HostStorage, Replicas};
    let mover: &'static Buffers = Box::leak(Box::default());
    let host: &'static mut u64 = Box::leak(Box::new(value));
    let replicas = Replicas::on_host((host as *mut u64).cast(), 8, HostStorage::Borrowed, mover);
    (Arc::new(replicas), mover)
}

/// Two tasks the tracker lets run together read an object in a space where it is not
/// valid: whichever takes the slow path first copies it in, once; both find the current
/// contents; both unpin. A writer ordered after them leaves only its own space valid.
#[test]
fn loom_replica_concurrent_readers_copy_in_once() {
    use super::memory::replica::{Contents, State};
    model(|| {
        let (replicas, mover) = replicas_of(42);
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let r = replicas.clone();
                thread::spawn(move || {
                    let base = r.acquire(1, Contents::Needed).unwrap();
                    // SAFETY: an 8-byte buffer holding a `u64`, valid while pinned.
                    let value = unsafe { base.as_ptr().cast::<u64>().read_unaligned() };
                    r.release(1, false);
                    value
                })
            })
            .collect();
        for r in readers {
            assert_eq!(r.join().unwrap(), 42);
        }
        assert_eq!(mover.copies.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(
            (replicas.state(0), replicas.state(1)),
            (State::Shared, State::Shared)
        );
        assert_eq!(replicas.pins(1), 0);
        replicas.acquire(2, Contents::Overwritten).unwrap();
        replicas.release(2, true);
        let states: Vec<State> = (0..3).map(|s| replicas.state(s)).collect();
        assert_eq!(states, [State::Invalid, State::Invalid, State::Modified]);
    });
}

/// A task acquires an object's only replica while eviction moves that replica to another
/// space: either eviction sees the pin and backs off, or the task sees the replica gone
/// and brings it back; the task reads the current value either way, never a freed buffer,
/// and nothing is left pinned or lost.
#[test]
fn loom_replica_eviction_races_an_acquire() {
    use super::memory::replica::{Contents, Evicted, State};
    model(|| {
        let (replicas, _mover) = replicas_of(42);
        // Space 2 holds the only (modified) copy: 43.
        let base = replicas.acquire(2, Contents::Needed).unwrap();
        // SAFETY: an 8-byte buffer from the mover, pinned by this acquire.
        unsafe { base.as_ptr().cast::<u64>().write_unaligned(43) };
        replicas.release(2, true);
        let reader = {
            let r = replicas.clone();
            thread::spawn(move || {
                let base = r.acquire(2, Contents::Needed).unwrap();
                // A point where loom may switch threads between the acquire and the read
                // (plain memory accesses are not).
                thread::yield_now();
                // SAFETY: as above, pinned until the release below.
                let value = unsafe { base.as_ptr().cast::<u64>().read_unaligned() };
                r.release(2, false);
                value
            })
        };
        let evicted = replicas.evict(2, 1, false).unwrap();
        assert_eq!(reader.join().unwrap(), 43);
        assert_eq!(replicas.pins(2), 0);
        let valid: Vec<usize> = (0..3).filter(|&s| replicas.state(s) != State::Invalid).collect();
        assert!(!valid.is_empty());
        let value = |s: usize| {
            let base = replicas.acquire(s, Contents::Needed).unwrap();
            // SAFETY: as above.
            let v = unsafe { base.as_ptr().cast::<u64>().read_unaligned() };
            replicas.release(s, false);
            v
        };
        for s in valid {
            assert_eq!(value(s), 43, "space {s}");
        }
        if evicted == Evicted::No {
            assert_ne!(replicas.state(2), State::Invalid);
        }
    });
}

/// A submitter over the task limit waits, and the tasks finishing on another thread
/// wake it: no lost wake-up between its check and its sleep.
#[test]
fn loom_throttle_wakes_the_waiting_submitter() {
    use super::sched::throttle::{SubmitLimits, Throttle};
    model(|| {
        let throttle = Arc::new(Throttle::new(SubmitLimits {
            tasks: 2,
            bytes: 1 << 20,
        }));
        for _ in 0..3 {
            throttle.add(8);
        }
        assert!(throttle.over());
        let finisher = {
            let t = throttle.clone();
            thread::spawn(move || {
                for _ in 0..3 {
                    t.done(8);
                }
            })
        };
        throttle.wait();
        assert!(!throttle.over());
        finisher.join().unwrap();
        assert_eq!(throttle.in_flight().tasks, 0);
    });
}
