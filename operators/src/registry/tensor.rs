//! The views kernels compute on: a shape, a dtype and the element bytes (MXNet's `TBlob`).

use mxr_kernels::{DType, Element};

use crate::{Error, Result};

/// A read-only view of one input. The bytes are whole elements of `dtype`, aligned for it.
#[derive(Debug, Clone, Copy)]
pub struct TensorRef<'a> {
    /// The dimensions.
    pub shape: &'a [usize],
    /// The element type.
    pub dtype: DType,
    /// The row-major element bytes (`size() * dtype.size()` of them).
    pub bytes: &'a [u8],
}

/// A writable view of one output.
#[derive(Debug)]
pub struct TensorMut<'a> {
    /// The dimensions.
    pub shape: &'a [usize],
    /// The element type.
    pub dtype: DType,
    /// The row-major element bytes.
    pub bytes: &'a mut [u8],
}

fn cast_error(op: &str, have: DType, want: DType) -> Error {
    Error::Unsupported {
        op: op.to_string(),
        what: format!("reading {have} data as {want}"),
    }
}

impl<'a> TensorRef<'a> {
    /// The number of elements.
    pub fn size(&self) -> usize {
        self.shape.iter().product()
    }

    /// The elements as `T`; `op` names the operator in the error when `T` is not the dtype.
    pub fn slice<T: Element>(&self, op: &str) -> Result<&'a [T]> {
        if T::DTYPE != self.dtype {
            return Err(cast_error(op, self.dtype, T::DTYPE));
        }
        bytemuck::try_cast_slice(self.bytes).map_err(|e| Error::BadInput {
            op: op.to_string(),
            reason: format!("misaligned or partial {} buffer: {e}", self.dtype),
        })
    }

    /// The elements converted to `f64` (any dtype), e.g. for indices and labels.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        to_f64(self.dtype, self.bytes)
    }
}

impl<'a> TensorMut<'a> {
    /// The number of elements.
    pub fn size(&self) -> usize {
        self.shape.iter().product()
    }

    /// The elements as `T`, writable.
    pub fn slice_mut<T: Element>(&mut self, op: &str) -> Result<&mut [T]> {
        let view = TensorMut {
            shape: self.shape,
            dtype: self.dtype,
            bytes: &mut *self.bytes,
        };
        view.into_slice(op)
    }

    /// Consumes the view into its elements as `T`, for the view's whole lifetime.
    pub fn into_slice<T: Element>(self, op: &str) -> Result<&'a mut [T]> {
        if T::DTYPE != self.dtype {
            return Err(cast_error(op, self.dtype, T::DTYPE));
        }
        let dtype = self.dtype;
        bytemuck::try_cast_slice_mut(self.bytes).map_err(|e| Error::BadInput {
            op: op.to_string(),
            reason: format!("misaligned or partial {dtype} buffer: {e}"),
        })
    }

    /// A read-only view of the same bytes.
    pub fn as_ref(&self) -> TensorRef<'_> {
        TensorRef {
            shape: self.shape,
            dtype: self.dtype,
            bytes: self.bytes,
        }
    }

    /// Sets every element to `value` converted to the dtype.
    pub fn fill(&mut self, value: f64) {
        fill(self.dtype, self.bytes, value);
    }
}

/// Converts whole elements of `dtype` to `f64`.
pub(crate) fn to_f64(dtype: DType, bytes: &[u8]) -> Vec<f64> {
    fn typed<T: Element>(bytes: &[u8], f: impl Fn(T) -> f64) -> Vec<f64> {
        bytes
            .chunks_exact(std::mem::size_of::<T>())
            .map(|c| f(bytemuck::pod_read_unaligned(c)))
            .collect()
    }
    match dtype {
        DType::F32 => typed(bytes, |v: f32| f64::from(v)),
        DType::F64 => typed(bytes, |v: f64| v),
        DType::F16 => typed(bytes, |v: mxr_kernels::f16| v.to_f64()),
        DType::U8 => typed(bytes, |v: u8| f64::from(v)),
        DType::I8 => typed(bytes, |v: i8| f64::from(v)),
        DType::I32 => typed(bytes, |v: i32| f64::from(v)),
        DType::I64 => typed(bytes, |v: i64| v as f64),
    }
}

/// Fills whole elements of `dtype` with `value` converted to the dtype (saturating for integers,
/// as Rust's `as` does).
pub fn fill(dtype: DType, bytes: &mut [u8], value: f64) {
    fn typed<T: Element>(bytes: &mut [u8], v: T) {
        for c in bytes.chunks_exact_mut(std::mem::size_of::<T>()) {
            c.copy_from_slice(bytemuck::bytes_of(&v));
        }
    }
    match dtype {
        DType::F32 => typed(bytes, value as f32),
        DType::F64 => typed(bytes, value),
        DType::F16 => typed(bytes, mxr_kernels::f16::from_f64(value)),
        DType::U8 => typed(bytes, value as u8),
        DType::I8 => typed(bytes, value as i8),
        DType::I32 => typed(bytes, value as i32),
        DType::I64 => typed(bytes, value as i64),
    }
}

/// Runs `$body` with `$t` bound to the Rust type of a floating dtype (`f32` or `f64`); other
/// dtypes give [`Error::Unsupported`] naming `$op`.
///
/// ```
/// use mxr_kernels::DType;
/// fn width(dtype: DType) -> mxr_operators::Result<usize> {
///     mxr_operators::float_dispatch!(dtype, "demo", T => Ok(std::mem::size_of::<T>()))
/// }
/// assert_eq!(width(DType::F64)?, 8);
/// assert!(width(DType::I32).is_err());
/// # Ok::<(), mxr_operators::Error>(())
/// ```
#[macro_export]
macro_rules! float_dispatch {
    ($dtype:expr, $op:expr, $t:ident => $body:expr) => {
        match $dtype {
            $crate::__private::DType::F32 => {
                type $t = f32;
                $body
            }
            $crate::__private::DType::F64 => {
                type $t = f64;
                $body
            }
            other => Err($crate::Error::Unsupported {
                op: ($op).to_string(),
                what: format!("dtype {other}"),
            }),
        }
    };
}
