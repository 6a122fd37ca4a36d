//! Equality of values: `==` (exact) and `approx`'s `AbsDiffEq` and `RelativeEq`, so tests
//! and users can write `assert_abs_diff_eq!(a, b, epsilon = 1e-12)` on two `DArray`s.
//! Comparing waits for both operands (and panics, like [`DArray::to_ndarray`], if a task
//! that wrote them failed). Arrays of different shapes are never equal; the partitions do
//! not matter.

use approx::{AbsDiffEq, RelativeEq};

use super::DArray;
use crate::Scalar;

impl<T: Scalar> PartialEq for DArray<T> {
    fn eq(&self, other: &Self) -> bool {
        self.shape() == other.shape() && self.to_ndarray() == other.to_ndarray()
    }
}

impl<T: Scalar + AbsDiffEq<Epsilon = T>> AbsDiffEq for DArray<T> {
    type Epsilon = T;

    fn default_epsilon() -> T {
        T::default_epsilon()
    }

    fn abs_diff_eq(&self, other: &Self, epsilon: T) -> bool {
        self.shape() == other.shape()
            && self
                .to_ndarray()
                .iter()
                .zip(other.to_ndarray().iter())
                .all(|(a, b)| a.abs_diff_eq(b, epsilon))
    }
}

impl<T: Scalar + RelativeEq<Epsilon = T>> RelativeEq for DArray<T> {
    fn default_max_relative() -> T {
        T::default_max_relative()
    }

    fn relative_eq(&self, other: &Self, epsilon: T, max_relative: T) -> bool {
        self.shape() == other.shape()
            && self
                .to_ndarray()
                .iter()
                .zip(other.to_ndarray().iter())
                .all(|(a, b)| a.relative_eq(b, epsilon, max_relative))
    }
}

#[cfg(test)]
mod tests {
    use approx::{assert_abs_diff_eq, assert_relative_eq, assert_relative_ne};

    use crate::{AutoBlocks, Blocks, DArray};

    #[test]
    fn compares_values_not_partitions() {
        let a = DArray::<f64>::rand_seeded(Blocks(3, 4), 10, 7, 1);
        let b = DArray::<f64>::rand_seeded(AutoBlocks, 10, 7, 1);
        assert_abs_diff_eq!(a, b);
        let c = &b + &(DArray::ones(Blocks(2, 2), 10, 7) * 1e-9);
        assert!(a == b && a != c);
        assert_abs_diff_eq!(a, c, epsilon = 1e-8);
        assert_relative_ne!(a, c, epsilon = 1e-12, max_relative = 1e-12);
        assert_relative_eq!(a, c, epsilon = 0.0, max_relative = 1e-6);
        assert!(!approx::abs_diff_eq!(
            a,
            DArray::<f64>::zeros(AutoBlocks, 7, 10),
            epsilon = 10.0
        ));
    }
}
