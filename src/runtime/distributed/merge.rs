//! One timeline of every rank's trace: each rank's events, gathered from all of them,
//! with a row per rank (the trace's `rank`), on rank 0's clock.
//!
//! Clocks: every rank reads its tracer's clock as it enters the all-gather, and the
//! gather completes on all ranks at nearly the same instant, so rank `r`'s events are
//! shifted by rank 0's reading minus rank `r`'s: aligned to within one message's latency
//! (tens of microseconds on one machine), which is finer than a tile kernel.

use std::collections::HashSet;
use std::sync::Mutex;

use super::message::{take, take_u64};
use super::{comm, program, world};
use crate::error::Result;
use crate::runtime::trace::{Event, Trace};

/// Collective: every rank's events of `trace` (this rank's, from `trace::stop()`), merged
/// into one trace, the same on every rank. Task ids are each rank's own.
pub fn merge_trace(trace: &Trace) -> Result<Trace> {
    let world = world().ok_or_else(|| comm::error("merge_trace before init"))?;
    let mut part = Vec::new();
    let now = crate::runtime::runtime().trace.now();
    part.extend_from_slice(&now.to_le_bytes());
    for e in trace.events() {
        encode(e, &mut part);
    }
    let parts = world.comm.all_gather(part, program::current())?;
    let clock = |p: &[u8]| {
        p.get(..8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let zero = clock(&parts[0]);
    let mut events = Vec::new();
    for (rank, p) in parts.iter().enumerate() {
        let shift = zero as i128 - clock(p) as i128;
        let mut rest = p.get(8..).unwrap_or_default();
        while !rest.is_empty() {
            let mut e = decode(&mut rest)
                .ok_or_else(|| comm::error(format!("a malformed trace from rank {rank}")))?;
            let at = |t: u64| (t as i128 + shift).max(0) as u64;
            (e.start_ns, e.end_ns, e.rank) = (at(e.start_ns), at(e.end_ns), rank);
            events.push(e);
        }
    }
    events.sort_by_key(|e| (e.start_ns, e.rank, e.task));
    Ok(Trace::from_events(events, crate::runtime::num_threads()))
}

fn encode(e: &Event, out: &mut Vec<u8>) {
    let name = e.name.as_bytes();
    out.extend_from_slice(&(name.len() as u64).to_le_bytes());
    out.extend_from_slice(name);
    let worker = e.worker.map_or(u64::MAX, |w| w as u64);
    for w in [e.task, worker, e.start_ns, e.end_ns, e.flops.to_bits(), e.bytes] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.push(u8::from(e.cancelled) | u8::from(e.transfer) << 1);
}

fn decode(bytes: &mut &[u8]) -> Option<Event> {
    let len = take_u64(bytes)? as usize;
    let name = intern(std::str::from_utf8(take(bytes, len)?).ok()?);
    let mut word = || take_u64(bytes);
    let (task, worker, start_ns, end_ns, flops, moved) =
        (word()?, word()?, word()?, word()?, word()?, word()?);
    let flags = take(bytes, 1)?[0];
    Some(Event {
        name,
        task,
        worker: (worker != u64::MAX).then_some(worker as usize),
        start_ns,
        end_ns,
        cancelled: flags & 1 != 0,
        flops: f64::from_bits(flops),
        bytes: moved,
        transfer: flags & 2 != 0,
        rank: 0,
    })
}

/// Task names are `&'static str`: another rank's names are kept once each, for good.
fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(&known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}
