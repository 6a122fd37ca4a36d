//! The element types of mosaic's arrays.

/// An element type of mosaic's arrays: `f32` or `f64`.
///
/// Complex types can join later: the trait asks nothing that excludes them beyond what
/// `num-traits` offers for real and complex numbers alike.
pub trait Scalar:
    Copy
    + Send
    + Sync
    + 'static
    + std::fmt::Debug
    + PartialEq
    + num_traits::Zero
    + num_traits::One
    + num_traits::NumAssign
    + ndarray::LinalgScalar
    + faer::traits::ComplexField
{
    /// Machine epsilon of the real part.
    const EPSILON: f64;
    /// The numpy type of the element in an `.npy` header (little-endian).
    const NPY_DESCR: &'static str;
    /// Converts from `f64` (rounding for `f32`).
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` (exact for `f32`).
    fn to_f64(self) -> f64;
}

impl Scalar for f32 {
    const EPSILON: f64 = f32::EPSILON as f64;
    const NPY_DESCR: &'static str = "<f4";
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Scalar for f64 {
    const EPSILON: f64 = f64::EPSILON;
    const NPY_DESCR: &'static str = "<f8";
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}
