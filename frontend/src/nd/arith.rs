//! Arithmetic operators on NDArrays: `+ - * /` with arrays (MXNet's broadcasting ops) and
//! scalars (`_plus_scalar`, `_rminus_scalar`, ...), unary `-`, and the in-place forms
//! (`a += 1.0` is `_plus_scalar(a, scalar=1, out=a)`).
//!
//! Rust's operator traits cannot return a `Result`, so an operator whose inputs do not fit
//! (say, shapes that do not broadcast) returns an array in the failed state: the error is
//! reported when its value is read or waited for, and by [`waitall`](super::waitall) — the same
//! way an error of an asynchronous operation reaches you. The functions of [`super::functions`]
//! (`nd::add`, ...) return the error at once instead.
//!
//! ```
//! use mxr::nd::NDArray;
//! let a = NDArray::ones(&[2, 3])?;
//! let b = NDArray::full(&[2, 3], 2.0)?;
//! let c = (&a * 5.0 + &b) / 2.0; // MXNet's c = (a*5 + b)/2
//! let d = &c + 1.0;
//! assert_eq!(c.to_vec::<f32>()?, vec![3.5; 6]);
//! assert_eq!(d.to_vec::<f32>()?, vec![4.5; 6]);
//! let mut e = c.clone();
//! e -= 0.5; // in place: c sees it too (one storage)
//! let mut f = NDArray::ones(&[3])?;
//! f += &NDArray::ones(&[2])?; // does not broadcast: f keeps its values, its next wait fails
//! assert!(f.wait_to_read().is_err());
//! assert_eq!(f.to_vec::<f32>()?, vec![1.0; 3]);
//! assert_eq!(c.to_vec::<f32>()?, vec![3.0; 6]);
//! let bad = &a + &NDArray::ones(&[4])?;
//! assert!(bad.wait_to_read().unwrap_err().to_string().contains("broadcast_add"));
//! # Ok::<(), mxr::Error>(())
//! ```

use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use mxr_engine::Operation;

use super::functions::{binary_into, scalar_assign, scalar_into};
use super::ndarray::NDArray;
use crate::Error;

impl NDArray {
    /// An array whose every read reports `error` (the result of an operator that could not be
    /// applied to `like`): zero-size, on `like`'s engine and context.
    pub(crate) fn failed(error: Error, like: &NDArray) -> NDArray {
        let engine = like.chunk.engine;
        let array = match super::chunk::Chunk::new(engine, like.context(), 0, false) {
            Ok(chunk) => NDArray {
                chunk: std::sync::Arc::new(chunk),
                offset: 0,
                shape: smallvec::smallvec![0],
                dtype: like.dtype,
            },
            // A zero-byte block comes from the smallest size class, which is only unavailable
            // when the system allocator itself fails; then `like` is the best we can do.
            Err(_) => like.clone(),
        };
        array.report(error);
        array
    }

    /// Makes the next wait on this array report `error`, as a failed operation writing it would;
    /// the values stay as they were.
    pub(crate) fn report(&self, error: Error) {
        let op = Operation::sync("failed_operator", move |_| Err(error.into()));
        // The push only fails if the engine is shut down, and then every read fails anyway.
        let _ = self.chunk.engine.push(op.writes(&[&self.chunk.var]));
    }
}

fn or_failed(result: crate::Result<NDArray>, like: &NDArray) -> NDArray {
    result.unwrap_or_else(|e| NDArray::failed(e, like))
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $op:literal, $scalar:literal, $rscalar:literal) => {
        impl $trait<&NDArray> for &NDArray {
            type Output = NDArray;
            fn $method(self, rhs: &NDArray) -> NDArray {
                or_failed(binary_into($op, self, rhs, None), self)
            }
        }
        impl $trait<NDArray> for NDArray {
            type Output = NDArray;
            fn $method(self, rhs: NDArray) -> NDArray {
                (&self).$method(&rhs)
            }
        }
        impl $trait<&NDArray> for NDArray {
            type Output = NDArray;
            fn $method(self, rhs: &NDArray) -> NDArray {
                (&self).$method(rhs)
            }
        }
        impl $trait<NDArray> for &NDArray {
            type Output = NDArray;
            fn $method(self, rhs: NDArray) -> NDArray {
                self.$method(&rhs)
            }
        }
        impl $trait<f64> for &NDArray {
            type Output = NDArray;
            fn $method(self, rhs: f64) -> NDArray {
                or_failed(scalar_into($scalar, self, rhs, None), self)
            }
        }
        impl $trait<f64> for NDArray {
            type Output = NDArray;
            fn $method(self, rhs: f64) -> NDArray {
                (&self).$method(rhs)
            }
        }
        impl $trait<&NDArray> for f64 {
            type Output = NDArray;
            fn $method(self, rhs: &NDArray) -> NDArray {
                or_failed(scalar_into($rscalar, rhs, self, None), rhs)
            }
        }
        impl $trait<NDArray> for f64 {
            type Output = NDArray;
            fn $method(self, rhs: NDArray) -> NDArray {
                self.$method(&rhs)
            }
        }
    };
}

binary_operator!(Add, add, "broadcast_add", "_plus_scalar", "_plus_scalar");
binary_operator!(Sub, sub, "broadcast_sub", "_minus_scalar", "_rminus_scalar");
binary_operator!(Mul, mul, "broadcast_mul", "_mul_scalar", "_mul_scalar");
binary_operator!(Div, div, "broadcast_div", "_div_scalar", "_rdiv_scalar");

macro_rules! assign_operator {
    ($trait:ident, $method:ident, $op:literal, $scalar:literal) => {
        impl $trait<&NDArray> for NDArray {
            /// In place: the result is written into this array's storage. If the operator
            /// cannot be applied, the values stay and the next wait on the array reports why.
            fn $method(&mut self, rhs: &NDArray) {
                if let Err(e) = binary_into($op, self, rhs, Some(self)) {
                    self.report(e);
                }
            }
        }
        impl $trait<NDArray> for NDArray {
            fn $method(&mut self, rhs: NDArray) {
                self.$method(&rhs);
            }
        }
        impl $trait<f64> for NDArray {
            /// In place, with a scalar.
            fn $method(&mut self, rhs: f64) {
                if let Err(e) = scalar_assign($scalar, self, rhs) {
                    self.report(e);
                }
            }
        }
    };
}

assign_operator!(AddAssign, add_assign, "broadcast_add", "_plus_scalar");
assign_operator!(SubAssign, sub_assign, "broadcast_sub", "_minus_scalar");
assign_operator!(MulAssign, mul_assign, "broadcast_mul", "_mul_scalar");
assign_operator!(DivAssign, div_assign, "broadcast_div", "_div_scalar");

impl Neg for &NDArray {
    type Output = NDArray;
    /// MXNet's `-x`: `_mul_scalar(x, scalar=-1)`.
    fn neg(self) -> NDArray {
        or_failed(scalar_into("_mul_scalar", self, -1.0, None), self)
    }
}

impl Neg for NDArray {
    type Output = NDArray;
    fn neg(self) -> NDArray {
        -&self
    }
}
