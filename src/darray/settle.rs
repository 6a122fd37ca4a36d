//! Waiting for the tasks whose results an operation returns, on every rank.
//!
//! Without MPI, a task's future holds its result. Under MPI, only the rank that ran the
//! task has it (the others' futures say `RanElsewhere`), yet every rank must return the
//! same answer (`NotPositiveDefinite { index }`, a sum): the results are gathered from the
//! ranks that have them, in the order of the list.

use crate::datadeps::TaskFuture;
#[cfg(feature = "mpi")]
use crate::error::Error;
use crate::error::Result;

/// Waits for `futures` and returns their results, each encoded in bytes by `encode` and
/// decoded by `decode`; `distributed`: the tasks were routed across ranks (a distributed
/// array's), so the results are gathered from the ranks that ran them (collective). A
/// result that failed on another rank is `DependencyFailed` with that rank's description,
/// named `name`.
pub(crate) fn settle<R>(
    name: &'static str,
    distributed: bool,
    futures: Vec<TaskFuture<R>>,
    encode: impl Fn(&R) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Option<R>,
) -> Vec<Result<R>> {
    let results: Vec<Result<R>> = futures.into_iter().map(|f| f.wait()).collect();
    if !distributed {
        return results;
    }
    #[cfg(feature = "mpi")]
    {
        let mine = results
            .iter()
            .map(|r| match r {
                Ok(v) => Some(Ok(encode(v))),
                Err(Error::RanElsewhere { .. }) => None,
                Err(e) => Some(Err(e.to_string())),
            })
            .collect();
        match crate::runtime::distributed::gather_parts(mine) {
            Ok(all) => all
                .into_iter()
                .map(|p| match p {
                    Ok(bytes) => decode(&bytes).ok_or_else(|| Error::Distributed {
                        message: format!("a malformed result of `{name}` from another rank"),
                    }),
                    Err(cause) => Err(Error::DependencyFailed {
                        task: name.to_owned(),
                        cause,
                    }),
                })
                .collect(),
            Err(e) => results.into_iter().map(|_| Err(e.clone())).collect(),
        }
    }
    #[cfg(not(feature = "mpi"))]
    {
        let _ = (name, encode, decode);
        results
    }
}

/// A `u64` as [`settle`]'s bytes.
pub(crate) fn u64_bytes(v: u64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// [`settle`]'s bytes of a `u64`.
pub(crate) fn bytes_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(b.try_into().ok()?))
}
