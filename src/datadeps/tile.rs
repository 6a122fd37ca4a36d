//! Runtime-owned tiles as task targets, and copying a tile out.

use ndarray::Array2;

use super::access::{sealed::Sealed, AccessTarget, ReadTarget, WriteTarget};
use super::raw::RawParts;
use crate::error::Result;
use crate::runtime::graph::access::ObjectRef;
use crate::Tile;

impl<T> Sealed for Tile<T> {}

impl<T: Send + Sync + 'static> AccessTarget for Tile<T> {
    type Elem = T;
    type Dim = ndarray::Ix2;
    fn into_object(self) -> ObjectRef {
        ObjectRef::Shared(self.into_object())
    }
    fn parts(&self) -> RawParts<T> {
        let (rows, cols) = self.shape();
        RawParts::whole(&[rows, cols], &[1, self.leading_dim() as isize])
    }
}

impl<T: Send + Sync + 'static> ReadTarget for Tile<T> {}
impl<T: Send + Sync + 'static> WriteTarget for Tile<T> {}

impl<T: Copy + Send + Sync + 'static> Tile<T> {
    /// A copy of the contents, once every task submitted before that writes the tile has
    /// finished. Fails if such a task failed.
    pub fn to_ndarray(&self) -> Result<Array2<T>> {
        super::spawn_here(
            crate::TaskOptions::named("to_ndarray"),
            (super::In(self.clone()),),
            |(v,)| v.to_owned(),
        )
        .wait()
    }
}
