//! Element types: the dtypes an array can hold, with MXNet's numeric type flags.

use std::fmt;

/// The element type of an array, with MXNet's (mshadow's) type flags as discriminants — the
/// numbers `.params` files and symbol JSON (`__dtype__`) carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum DType {
    /// 32-bit float (flag 0), the default.
    F32 = 0,
    /// 64-bit float (flag 1).
    F64 = 1,
    /// IEEE half-precision float (flag 2).
    F16 = 2,
    /// Unsigned byte (flag 3).
    U8 = 3,
    /// 32-bit signed integer (flag 4).
    I32 = 4,
    /// Signed byte (flag 5).
    I8 = 5,
    /// 64-bit signed integer (flag 6).
    I64 = 6,
}

impl DType {
    /// Every dtype, in flag order.
    pub const ALL: [DType; 7] = [
        DType::F32,
        DType::F64,
        DType::F16,
        DType::U8,
        DType::I32,
        DType::I8,
        DType::I64,
    ];

    /// MXNet's type flag.
    pub fn flag(self) -> i32 {
        self as i32
    }

    /// The dtype of an MXNet type flag, or `None` for an unknown or unsupported flag (7 = bool).
    ///
    /// ```
    /// use mxr_kernels::DType;
    /// assert_eq!(DType::from_flag(6), Some(DType::I64));
    /// assert_eq!(DType::from_flag(7), None);
    /// assert_eq!(DType::F16.size(), 2);
    /// assert_eq!(DType::F32.to_string(), "float32");
    /// ```
    pub fn from_flag(flag: i32) -> Option<DType> {
        DType::ALL.get(usize::try_from(flag).ok()?).copied()
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::F16 => 2,
            DType::U8 | DType::I8 => 1,
        }
    }

    /// numpy's name for it (`float32`, `int64`, ...), as MXNet prints it.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::F16 => "float16",
            DType::U8 => "uint8",
            DType::I32 => "int32",
            DType::I8 => "int8",
            DType::I64 => "int64",
        }
    }

    /// The dtype named `name` (numpy's names), or `None`.
    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Whether it is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64 | DType::F16)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that is one of the [`DType`]s. Sealed: implemented for `f32`, `f64`,
/// `half::f16`, `u8`, `i32`, `i8` and `i64` only.
pub trait Element:
    sealed::Sealed + bytemuck::Pod + Copy + Send + Sync + PartialEq + fmt::Debug + 'static
{
    /// The dtype of this type.
    const DTYPE: DType;
}

macro_rules! element {
    ($($t:ty => $d:ident),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$d;
        }
    )*};
}

element!(f32 => F32, f64 => F64, half::f16 => F16, u8 => U8, i32 => I32, i8 => I8, i64 => I64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_names_and_sizes_agree_with_the_rust_types() {
        fn check<T: Element>() {
            assert_eq!(T::DTYPE.size(), std::mem::size_of::<T>());
            assert_eq!(DType::from_flag(T::DTYPE.flag()), Some(T::DTYPE));
            assert_eq!(DType::from_name(T::DTYPE.name()), Some(T::DTYPE));
        }
        check::<f32>();
        check::<f64>();
        check::<half::f16>();
        check::<u8>();
        check::<i32>();
        check::<i8>();
        check::<i64>();
        assert_eq!(DType::from_flag(-1), None);
        assert_eq!(DType::from_name("bool"), None);
    }
}
