//! Operators: `+`, `-` (elementwise), `*` and `/` by a scalar, unary `-`, `+=`, `-=`,
//! `*=`, `/=`. `&a * &b` between two `DArray`s is the matrix product (see `linalg`).
//! On an owned left operand (`a * 2.0`, `a + &b`) the result reuses its tiles.

use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use super::DArray;
use crate::backend::Elementwise;
use crate::Scalar;

impl<T: Scalar> Add for &DArray<T> {
    type Output = DArray<T>;
    /// Elementwise sum; panics with both shapes if they differ.
    #[track_caller]
    fn add(self, rhs: Self) -> DArray<T> {
        self.zip_map(rhs, "+", Elementwise::Add)
    }
}

impl<T: Scalar> Sub for &DArray<T> {
    type Output = DArray<T>;
    /// Elementwise difference; panics with both shapes if they differ.
    #[track_caller]
    fn sub(self, rhs: Self) -> DArray<T> {
        self.zip_map(rhs, "-", Elementwise::Sub)
    }
}

impl<T: Scalar> Mul<T> for &DArray<T> {
    type Output = DArray<T>;
    fn mul(self, rhs: T) -> DArray<T> {
        self.scalar_map("*", Elementwise::Mul, rhs)
    }
}

impl<T: Scalar> Div<T> for &DArray<T> {
    type Output = DArray<T>;
    fn div(self, rhs: T) -> DArray<T> {
        self.scalar_map("/", Elementwise::Div, rhs)
    }
}

impl<T: Scalar> AddAssign<&DArray<T>> for DArray<T> {
    #[track_caller]
    fn add_assign(&mut self, rhs: &DArray<T>) {
        self.zip_assign(rhs, "+=", Elementwise::Add);
    }
}

impl<T: Scalar> SubAssign<&DArray<T>> for DArray<T> {
    #[track_caller]
    fn sub_assign(&mut self, rhs: &DArray<T>) {
        self.zip_assign(rhs, "-=", Elementwise::Sub);
    }
}

impl<T: Scalar> MulAssign<T> for DArray<T> {
    fn mul_assign(&mut self, rhs: T) {
        self.scalar_assign("*=", Elementwise::Mul, rhs);
    }
}

impl<T: Scalar> DivAssign<T> for DArray<T> {
    fn div_assign(&mut self, rhs: T) {
        self.scalar_assign("/=", Elementwise::Div, rhs);
    }
}

impl<T: Scalar> Neg for &DArray<T> {
    type Output = DArray<T>;
    fn neg(self) -> DArray<T> {
        self.map(|a| T::zero() - a)
    }
}

/// `owned op rhs` as `owned op= rhs`: no new tiles.
macro_rules! by_value {
    ($($trait:ident $method:ident $assign:ident $rhs:ty;)*) => {$(
        impl<T: Scalar> $trait<$rhs> for DArray<T> {
            type Output = DArray<T>;
            #[track_caller]
            fn $method(mut self, rhs: $rhs) -> DArray<T> {
                self.$assign(rhs);
                self
            }
        }
    )*};
}

by_value! {
    Add add add_assign &DArray<T>;
    Sub sub sub_assign &DArray<T>;
    Mul mul mul_assign T;
    Div div div_assign T;
}
