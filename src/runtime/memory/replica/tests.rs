//! The replica state machine against a brute-force model: random sequences of reads,
//! whole and partial writes and prefetches over four memory spaces, with a mover whose
//! "spaces" are separate host buffers. After every step: invariant 1 (one valid replica
//! at least; a modified one is alone), invariant 2 (every valid replica holds the latest
//! contents), no pin left, and no copy where the replica was already valid.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;

use super::*;
use crate::error::Error;

/// Spaces 1..MAX_SPACES as plain host buffers; space `fail` (if any) has no memory.
#[derive(Debug, Default)]
struct Buffers {
    copies: AtomicUsize,
    fail: Option<usize>,
}

impl Mover for Buffers {
    fn allocate(&self, space: usize, bytes: usize, _zeroed: bool) -> Result<NonNull<u8>> {
        if self.fail == Some(space) {
            return Err(Error::MemorySpaceUnavailable {
                space: format!("test space {space}"),
            });
        }
        let buffer: &'static mut [u8] = Box::leak(vec![0xAB; bytes].into_boxed_slice());
        Ok(NonNull::new(buffer.as_mut_ptr()).unwrap())
    }

    unsafe fn copy(
        &self,
        _from: usize,
        src: NonNull<u8>,
        _to: usize,
        dst: NonNull<u8>,
        bytes: usize,
    ) -> Result<()> {
        self.copies.fetch_add(1, Ordering::SeqCst);
        // SAFETY: both are `bytes`-long buffers from `allocate` or the test's host buffer.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_ptr(), bytes) };
        Ok(())
    }

    unsafe fn free(&self, _space: usize, _ptr: NonNull<u8>, _bytes: usize) {}
}

/// An object of one `u64` whose host replica holds `value`.
fn object(value: u64, mover: Buffers) -> (Replicas, &'static Buffers) {
    let mover: &'static Buffers = Box::leak(Box::new(mover));
    let host: &'static mut u64 = Box::leak(Box::new(value));
    let replicas = Replicas::on_host((host as *mut u64).cast(), 8, HostStorage::Borrowed, mover);
    (replicas, mover)
}

fn read(base: NonNull<u8>) -> u64 {
    // SAFETY: every base in these tests is an 8-byte buffer.
    unsafe { base.as_ptr().cast::<u64>().read_unaligned() }
}

fn write(base: NonNull<u8>, value: u64) {
    // SAFETY: as in `read`; the test holds the replica for writing.
    unsafe { base.as_ptr().cast::<u64>().write_unaligned(value) }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Read(usize),
    ReadWrite(usize),
    Overwrite(usize),
    Prefetch(usize),
}

fn op() -> impl Strategy<Value = Op> {
    (0..4u8, 0..MAX_SPACES).prop_map(|(kind, space)| match kind {
        0 => Op::Read(space),
        1 => Op::ReadWrite(space),
        2 => Op::Overwrite(space),
        _ => Op::Prefetch(space),
    })
}

fn check_invariants(r: &Replicas, latest: u64) {
    let states: Vec<State> = (0..MAX_SPACES).map(|s| r.state(s)).collect();
    let valid: Vec<usize> = (0..MAX_SPACES).filter(|&s| states[s] != State::Invalid).collect();
    assert!(!valid.is_empty(), "invariant 1: no valid replica: {states:?}");
    let modified = states.iter().filter(|&&s| s == State::Modified).count();
    assert!(modified <= 1, "invariant 1: {states:?}");
    if modified == 1 {
        assert_eq!(
            valid.len(),
            1,
            "invariant 1: a modified replica is alone: {states:?}"
        );
    } else {
        assert!(
            valid.len() >= 2,
            "shared replicas come in twos at least: {states:?}"
        );
    }
    for s in valid {
        let base = NonNull::new(r.bases[s].load(Acquire)).unwrap();
        assert_eq!(
            read(base),
            latest,
            "invariant 2: space {s} is valid but stale: {states:?}"
        );
    }
    for s in 0..MAX_SPACES {
        assert_eq!(r.pins(s), 0, "a pin left in space {s}");
    }
}

proptest! {
    #[test]
    fn replicas_follow_msi_and_stay_coherent(ops in prop::collection::vec(op(), 1..40)) {
        let (r, mover) = object(7, Buffers::default());
        let mut latest = 7u64;
        check_invariants(&r, latest);
        for op in ops {
            let copies = mover.copies.load(Ordering::SeqCst);
            match op {
                Op::Read(s) => {
                    let was_valid = r.state(s) != State::Invalid;
                    let base = r.acquire(s, Contents::Needed).unwrap();
                    prop_assert_eq!(read(base), latest);
                    r.release(s, false);
                    let copied = mover.copies.load(Ordering::SeqCst) - copies;
                    prop_assert_eq!(copied, usize::from(!was_valid), "one copy exactly when invalid");
                }
                Op::ReadWrite(s) => {
                    let base = r.acquire(s, Contents::Needed).unwrap();
                    prop_assert_eq!(read(base), latest);
                    latest += 1;
                    write(base, latest);
                    r.release(s, true);
                    prop_assert_eq!(r.state(s), State::Modified);
                }
                Op::Overwrite(s) => {
                    let base = r.acquire(s, Contents::Overwritten).unwrap();
                    prop_assert_eq!(mover.copies.load(Ordering::SeqCst), copies, "an overwrite copies nothing");
                    latest += 1;
                    write(base, latest);
                    r.release(s, true);
                }
                Op::Prefetch(s) => {
                    let was_valid = r.state(s) != State::Invalid;
                    r.prefetch(s).unwrap();
                    prop_assert!(r.state(s) != State::Invalid);
                    prop_assert_eq!(mover.copies.load(Ordering::SeqCst) - copies, usize::from(!was_valid));
                }
            }
            check_invariants(&r, latest);
        }
    }
}

#[test]
fn a_failed_acquire_unpins_and_changes_nothing() {
    let (r, _) = object(
        3,
        Buffers {
            fail: Some(2),
            ..Buffers::default()
        },
    );
    let before: Vec<State> = (0..MAX_SPACES).map(|s| r.state(s)).collect();
    let err = r.acquire(2, Contents::Needed).unwrap_err();
    assert!(err.to_string().contains("test space 2"), "{err}");
    assert_eq!(r.pins(2), 0);
    assert_eq!((0..MAX_SPACES).map(|s| r.state(s)).collect::<Vec<_>>(), before);
    assert!(r.prefetch(2).is_err());
    // The object is still usable in the other spaces.
    let base = r.acquire(1, Contents::Needed).unwrap();
    assert_eq!(read(base), 3);
    r.release(1, false);
    check_invariants(&r, 3);
}

#[test]
fn the_runtime_mover_refuses_device_spaces_with_an_error() {
    let host: &'static mut u64 = Box::leak(Box::new(5));
    let r = Replicas::on_host(
        (host as *mut u64).cast(),
        8,
        HostStorage::Borrowed,
        &crate::runtime::memory::mover::SPACES,
    );
    assert!(matches!(
        r.acquire(2, Contents::Needed),
        Err(Error::MemorySpaceUnavailable { .. })
    ));
    assert_eq!(r.pins(2), 0);
    let base = r.acquire(0, Contents::Needed).unwrap();
    assert_eq!(read(base), 5);
    r.release(0, true);
    assert_eq!(r.state(0), State::Modified);
}

#[test]
fn eviction_does_not_copy_over_a_replica_a_task_is_overwriting() {
    let (r, _) = object(1, Buffers::default());
    // The only copy in space 2 (a device's), written there.
    let on_device = r.acquire(2, Contents::Needed).unwrap();
    write(on_device, 2);
    r.release(2, true);
    // A task overwrites the host replica: pinned, invalid until its release.
    let host = r.acquire(HOST, Contents::Overwritten).unwrap();
    write(host, 3);
    assert_eq!(r.evict(2, HOST, false).unwrap(), Evicted::No);
    assert_eq!(read(host), 3, "the eviction's copy landed on the task's writes");
    r.release(HOST, true);
    let host = r.acquire(HOST, Contents::Needed).unwrap();
    assert_eq!(read(host), 3);
    r.release(HOST, false);
}

/// A mover whose copy lasts 50 ms after it has read the source, during which a writer of
/// the source writes and releases from another thread (`RELEASE_DURING_COPY`).
#[derive(Debug, Default)]
struct SlowCopies;

static RELEASE_DURING_COPY: std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>> = std::sync::Mutex::new(None);

impl Mover for SlowCopies {
    fn allocate(&self, space: usize, bytes: usize, zeroed: bool) -> Result<NonNull<u8>> {
        Buffers::default().allocate(space, bytes, zeroed)
    }

    unsafe fn copy(
        &self,
        _from: usize,
        src: NonNull<u8>,
        _to: usize,
        dst: NonNull<u8>,
        bytes: usize,
    ) -> Result<()> {
        // SAFETY: both are `bytes`-long buffers of the test.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_ptr(), bytes) };
        // The copy has read the source; the writer writes and releases while it "lasts".
        let release = RELEASE_DURING_COPY.lock().unwrap().take();
        let writer = release.map(std::thread::spawn);
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(writer); // detached: the test waits for its message
        Ok(())
    }

    unsafe fn free(&self, _space: usize, _ptr: NonNull<u8>, _bytes: usize) {}
}

#[test]
fn a_write_released_during_a_prefetch_invalidates_the_prefetched_copy() {
    let mover: &'static SlowCopies = Box::leak(Box::new(SlowCopies));
    let host: &'static mut u64 = Box::leak(Box::new(1));
    let r: &'static Replicas = Box::leak(Box::new(Replicas::on_host(
        (host as *mut u64).cast(),
        8,
        HostStorage::Borrowed,
        mover,
    )));
    // A task writes the host replica (the only copy) while a prefetch for a later reader
    // copies it to space 2, and releases before that copy ends.
    let base = r.acquire(HOST, Contents::Needed).unwrap();
    let base_addr = base.as_ptr() as usize;
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    *RELEASE_DURING_COPY.lock().unwrap() = Some(Box::new(move || {
        write(NonNull::new(base_addr as *mut u8).unwrap(), 9);
        r.release(HOST, true);
        done_tx.send(()).unwrap();
    }));
    r.prefetch(2).unwrap();
    done_rx.recv().unwrap();
    // The prefetched copy may not pass for the contents: the write came after it began.
    let on_device = r.acquire(2, Contents::Needed).unwrap();
    assert_eq!(read(on_device), 9, "a stale prefetched copy was kept as valid");
    r.release(2, false);
}

#[test]
fn a_discarded_object_holds_nothing_until_a_whole_write() {
    let (r, mover) = object(7, Buffers::default());
    // A copy in space 1 too, then a task that writes the host whole and discards on release.
    let b1 = r.acquire(1, Contents::Needed).unwrap();
    assert_eq!(read(b1), 7);
    r.release(1, false);
    let host = r.acquire(HOST, Contents::Overwritten).unwrap();
    r.discard(HOST);
    assert!((0..MAX_SPACES).all(|s| r.state(s) == State::Invalid));
    assert!(r.bases[1].load(SeqCst).is_null(), "space 1's storage is freed");
    assert_eq!(r.pins(HOST), 0);
    // The next access overwrites it whole: fresh storage, no copy from anywhere.
    let copies = mover.copies.load(Ordering::SeqCst);
    let b = r.acquire(1, Contents::Overwritten).unwrap();
    write(b, 9);
    r.release(1, true);
    assert_eq!(mover.copies.load(Ordering::SeqCst), copies);
    let back = r.acquire(HOST, Contents::Needed).unwrap();
    assert_eq!(read(back), 9);
    r.release(HOST, false);
    let _ = host;
}
