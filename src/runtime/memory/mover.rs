//! The runtime's [`Mover`]: storage in, and copies between, the spaces other than the
//! host's own storage: the spill files (`spill.rs`) and the devices (`device.rs`).
//!
//! A spill replica's "pointer" is a slot handle of `spill.rs`, never dereferenced. Spill
//! files and devices do not copy to each other: such contents go through the host
//! (`Replicas::make_valid`).

use std::ptr::NonNull;

use super::budget;
use super::device;
use super::replica::Mover;
use super::space::{device_of, HOST, SPILL};
use super::spill;
use crate::error::{Error, Result};

/// The runtime's mover.
#[derive(Debug)]
pub(crate) struct Spaces;

/// The one instance every data object's replicas use.
pub(crate) static SPACES: Spaces = Spaces;

fn unavailable(space: usize) -> Error {
    Error::MemorySpaceUnavailable {
        space: format!("replica slot {space}"),
    }
}

fn handle_of(p: NonNull<u8>) -> u64 {
    p.as_ptr() as usize as u64
}

impl Mover for Spaces {
    fn allocate(&self, space: usize, bytes: usize, zeroed: bool) -> Result<NonNull<u8>> {
        if space == SPILL {
            let h = spill::allocate(bytes)?;
            return Ok(
                NonNull::new(std::ptr::without_provenance_mut(h as usize)).expect("handles are never 0")
            );
        }
        match device_of(space) {
            Some(d) => device::allocate(d, bytes, zeroed),
            None => Err(unavailable(space)),
        }
    }

    fn can_copy(&self, from: usize, to: usize) -> bool {
        (from == SPILL) == (to == SPILL) || from == HOST || to == HOST
    }

    unsafe fn copy(
        &self,
        from: usize,
        src: NonNull<u8>,
        to: usize,
        dst: NonNull<u8>,
        bytes: usize,
    ) -> Result<()> {
        match (from, to) {
            (HOST, SPILL) => {
                // SAFETY: `src` is `bytes` bytes of host storage nobody writes meanwhile
                // (the caller's contract).
                let data = unsafe { std::slice::from_raw_parts(src.as_ptr(), bytes) };
                spill::write(handle_of(dst), data)?;
                budget::host().count_spill(bytes);
                Ok(())
            }
            (SPILL, HOST) => {
                // SAFETY: `dst` is `bytes` bytes of host storage nobody else touches
                // meanwhile (the caller's contract).
                let out = unsafe { std::slice::from_raw_parts_mut(dst.as_ptr(), bytes) };
                spill::read(handle_of(src), out)?;
                budget::host().count_reload(bytes);
                Ok(())
            }
            (SPILL, _) | (_, SPILL) => Err(unavailable(if from == SPILL { to } else { from })),
            // SAFETY: host or device storage of `bytes` bytes each, nobody writing `src` or
            // touching `dst` (the caller's contract).
            _ => unsafe { device::copy(from, src, to, dst, bytes) },
        }
    }

    unsafe fn free(&self, space: usize, ptr: NonNull<u8>, bytes: usize) {
        if space == SPILL {
            spill::free(handle_of(ptr), bytes);
        } else if let Some(d) = device_of(space) {
            // SAFETY: from `allocate` on that device with `bytes`, unused (the caller's
            // contract).
            unsafe { device::free(d, ptr, bytes) };
        }
    }
}
