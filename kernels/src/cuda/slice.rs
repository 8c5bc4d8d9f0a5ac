//! [`DeviceSlice`]: a typed, sized view of device memory, what every safe launcher takes.
//!
//! A slice is made either from a buffer it borrows ([`DeviceSlice::of_buffer`], safe) or from a
//! raw address and a length ([`DeviceSlice::from_raw`], `unsafe`: the caller vouches that the
//! memory is there). Every launcher of this module's siblings checks that each slice holds at
//! least the elements its kernel touches, so a launch through them cannot reach past memory a
//! slice vouches for.

use std::marker::PhantomData;

use mxr_engine::gpu::{DevicePtr, GpuBuffer};

use super::GpuError;
use crate::Element;

/// `len` elements of type `T` in device memory, alive for `'a`: the device counterpart of
/// `&'a [T]`, without Rust's aliasing rules (the device's kernels read and write it; the host
/// never dereferences it).
#[derive(Debug)]
pub struct DeviceSlice<'a, T> {
    ptr: DevicePtr,
    len: usize,
    _memory: PhantomData<&'a [T]>,
}

impl<T> Clone for DeviceSlice<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for DeviceSlice<'_, T> {}

impl<'a, T: Element> DeviceSlice<'a, T> {
    /// The slice at `ptr` of `len` elements.
    ///
    /// # Safety
    /// `ptr` must address `len` elements of `T` (aligned for `T`) of live device memory of the
    /// device the slice is launched on, which stays allocated, and is not handed to anyone else,
    /// for `'a` and until every piece of work queued with the slice has run.
    pub unsafe fn from_raw(ptr: DevicePtr, len: usize) -> DeviceSlice<'a, T> {
        DeviceSlice {
            ptr,
            len,
            _memory: PhantomData,
        }
    }

    /// No elements (at address 0): a placeholder that no launcher reads.
    pub fn empty() -> DeviceSlice<'a, T> {
        DeviceSlice {
            ptr: DevicePtr(0),
            len: 0,
            _memory: PhantomData,
        }
    }

    /// The whole of `buffer` as `T`s (a trailing partial element left out). A buffer dropped
    /// once work using it is queued is safe: its block is only reused by work queued later on
    /// the same stream (the engine's pool), which runs after.
    pub fn of_buffer(buffer: &'a GpuBuffer) -> DeviceSlice<'a, T> {
        DeviceSlice {
            ptr: buffer.ptr(),
            len: buffer.len() / std::mem::size_of::<T>(),
            _memory: PhantomData,
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slice holds no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The size in bytes.
    pub fn bytes(&self) -> usize {
        self.len * std::mem::size_of::<T>()
    }

    /// The device address of the first element.
    pub fn ptr(&self) -> DevicePtr {
        self.ptr
    }

    /// Elements `start .. start + len`; an error when they do not lie inside.
    pub fn range(self, start: usize, len: usize) -> Result<DeviceSlice<'a, T>, GpuError> {
        match start.checked_add(len) {
            Some(end) if end <= self.len => Ok(DeviceSlice {
                ptr: self.ptr.offset(start * std::mem::size_of::<T>()),
                len,
                _memory: PhantomData,
            }),
            _ => Err(GpuError::Argument {
                kernel: "slice".into(),
                reason: format!(
                    "elements {start}..{start}+{len} of a device slice of {}",
                    self.len
                ),
            }),
        }
    }

    /// The same bytes as `U`s (a trailing partial element left out); an error when the address
    /// is not aligned for `U`. Every [`Element`] is plain data: any bytes are a valid value.
    pub fn cast<U: Element>(self) -> Result<DeviceSlice<'a, U>, GpuError> {
        if !self.ptr.0.is_multiple_of(std::mem::align_of::<U>() as u64) {
            return Err(GpuError::Argument {
                kernel: "cast".into(),
                reason: format!(
                    "device address {:#x} is not aligned for {}",
                    self.ptr.0,
                    U::DTYPE
                ),
            });
        }
        Ok(DeviceSlice {
            ptr: self.ptr,
            len: self.bytes() / std::mem::size_of::<U>(),
            _memory: PhantomData,
        })
    }

    /// Whether the two slices share a byte.
    pub fn overlaps<U: Element>(&self, other: &DeviceSlice<'_, U>) -> bool {
        let (a, b) = (self.ptr.0, other.ptr.0);
        a < b + other.bytes() as u64 && b < a + self.bytes() as u64
    }
}

/// Values of one of the dtypes the kernels take as data they only compare or convert
/// (`where`'s condition, `one_hot`'s and `Embedding`'s indices): any dtype but float16.
#[derive(Debug, Clone, Copy)]
pub enum AnySlice<'a> {
    /// float32 values.
    F32(DeviceSlice<'a, f32>),
    /// float64 values.
    F64(DeviceSlice<'a, f64>),
    /// int32 values.
    I32(DeviceSlice<'a, i32>),
    /// int64 values.
    I64(DeviceSlice<'a, i64>),
    /// uint8 values.
    U8(DeviceSlice<'a, u8>),
    /// int8 values.
    I8(DeviceSlice<'a, i8>),
}

impl AnySlice<'_> {
    /// The address of the first value.
    pub fn ptr(&self) -> DevicePtr {
        match self {
            AnySlice::F32(s) => s.ptr(),
            AnySlice::F64(s) => s.ptr(),
            AnySlice::I32(s) => s.ptr(),
            AnySlice::I64(s) => s.ptr(),
            AnySlice::U8(s) => s.ptr(),
            AnySlice::I8(s) => s.ptr(),
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            AnySlice::F32(s) => s.len(),
            AnySlice::F64(s) => s.len(),
            AnySlice::I32(s) => s.len(),
            AnySlice::I64(s) => s.len(),
            AnySlice::U8(s) => s.len(),
            AnySlice::I8(s) => s.len(),
        }
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values' dtype.
    pub fn dtype(&self) -> crate::DType {
        use crate::DType;
        [
            DType::F32,
            DType::F64,
            DType::I32,
            DType::I64,
            DType::U8,
            DType::I8,
        ][self.code() as usize]
    }

    /// The kernels' dtype code (0 float32, 1 float64, 2 int32, 3 int64, 4 uint8, 5 int8).
    pub(crate) fn code(&self) -> i32 {
        match self {
            AnySlice::F32(_) => 0,
            AnySlice::F64(_) => 1,
            AnySlice::I32(_) => 2,
            AnySlice::I64(_) => 3,
            AnySlice::U8(_) => 4,
            AnySlice::I8(_) => 5,
        }
    }

    /// The suffix of the kernels made per dtype (`one_hot_idx_f32`).
    pub(crate) fn suffix(&self) -> &'static str {
        ["f32", "f64", "i32", "i64", "u8", "i8"][self.code() as usize]
    }
}

/// The address of `slice` once it is checked to hold at least `n` elements; else an error
/// naming the kernel and the argument.
pub(crate) fn at_least<T: Element>(
    kernel: &str,
    arg: &str,
    slice: DeviceSlice<'_, T>,
    n: usize,
) -> Result<DevicePtr, GpuError> {
    if slice.len() < n {
        return Err(GpuError::Argument {
            kernel: kernel.into(),
            reason: format!(
                "`{arg}` holds {} elements, the kernel touches {n}",
                slice.len()
            ),
        });
    }
    Ok(slice.ptr())
}

/// The addresses of `slices` once each is checked to hold at least `n` elements ([`at_least`]
/// for several, named by `names`).
pub(crate) fn all_at_least<T: Element, const N: usize>(
    kernel: &str,
    names: [&str; N],
    slices: [DeviceSlice<'_, T>; N],
    n: usize,
) -> Result<[DevicePtr; N], GpuError> {
    let mut out = [DevicePtr(0); N];
    for ((o, name), s) in out.iter_mut().zip(names).zip(slices) {
        *o = at_least(kernel, name, s, n)?;
    }
    Ok(out)
}

/// For kernels made once per element width (`{prefix}_b{width}`, moving elements whatever
/// their dtype): the kernel's name and the checked addresses of `y` (`ny` elements) and `x`
/// (`nx`), given as bytes (each aligned for the width and long enough).
pub(crate) fn by_width(
    prefix: &str,
    width: usize,
    [y, x]: [DeviceSlice<'_, u8>; 2],
    (ny, nx): (usize, usize),
) -> Result<(String, DevicePtr, DevicePtr), GpuError> {
    fn both<T: Element>(
        kernel: &str,
        [y, x]: [DeviceSlice<'_, u8>; 2],
        (ny, nx): (usize, usize),
    ) -> Result<(DevicePtr, DevicePtr), GpuError> {
        Ok((
            at_least(kernel, "y", y.cast::<T>()?, ny)?,
            at_least(kernel, "x", x.cast::<T>()?, nx)?,
        ))
    }
    let kernel = format!("{prefix}_b{width}");
    let (yp, xp) = match width {
        1 => both::<u8>(&kernel, [y, x], (ny, nx))?,
        2 => both::<crate::f16>(&kernel, [y, x], (ny, nx))?,
        4 => both::<f32>(&kernel, [y, x], (ny, nx))?,
        8 => both::<f64>(&kernel, [y, x], (ny, nx))?,
        w => {
            return Err(GpuError::Argument {
                kernel,
                reason: format!("{w}-byte elements"),
            });
        }
    };
    Ok((kernel, yp, xp))
}
