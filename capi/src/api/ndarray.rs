//! NDArray functions of MXNet's `c_api.h` (declared in `include/mxr.h`), with its exact names
//! and signatures: enough to create arrays, copy data in and out, query them and free them, as
//! the predict API's monitor callback needs.

// MXNet's names (MXNDArrayCreate) are the API.
#![allow(non_snake_case)]

use std::cell::RefCell;
use std::ffi::{c_int, c_void};

use mxr_frontend::DType;
use mxr_frontend::format::RawArray;
use mxr_frontend::nd::{self, NDArray};

use super::predict::device;
use crate::boundary::{Context, argument, c_slice, c_slice_mut, guard, write_out};
use crate::handle::HandleTable;

/// MXNet's `NDArrayHandle`.
pub type NDArrayHandle = *mut c_void;

/// The live arrays.
pub(crate) static ND_ARRAYS: HandleTable<NDArray> = HandleTable::new(3, "NDArray");

thread_local! {
    /// The shape `MXNDArrayGetShape` last returned on this thread (MXNet keeps it the same way).
    static SHAPE: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// Creates a zero-filled array of `dtype` (MXNet's type flag) on a device.
///
/// # Safety
/// `shape` points to `ndim` dimensions and `out` is valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXNDArrayCreateEx(
    shape: *const u32,
    ndim: u32,
    dev_type: c_int,
    dev_id: c_int,
    delay_alloc: c_int,
    dtype: c_int,
    out: *mut NDArrayHandle,
) -> c_int {
    const CALL: &str = "MXNDArrayCreateEx";
    let _ = delay_alloc; // mxr allocates lazily in any case
    guard(CALL, || {
        // SAFETY: the caller guarantees `ndim` dimensions.
        let dims = unsafe { c_slice(shape, ndim as usize, CALL, "shape") }?;
        let dims: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
        let dtype = DType::from_flag(dtype)
            .ok_or_else(|| argument(CALL, format!("unknown dtype flag {dtype}")))?;
        if out.is_null() {
            return Err(argument(CALL, "out is a null pointer"));
        }
        let array = NDArray::new(&dims, dtype, device(dev_type, dev_id, CALL)?).during(CALL)?;
        array.assign_scalar(0.0).during(CALL)?;
        let handle = ND_ARRAYS.insert(array, CALL)?;
        // SAFETY: non-null and valid for one write, by the caller's guarantee.
        unsafe { write_out(out, handle, CALL, "out") }
    })
}

/// [`MXNDArrayCreateEx`] for float32.
///
/// # Safety
/// As [`MXNDArrayCreateEx`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXNDArrayCreate(
    shape: *const u32,
    ndim: u32,
    dev_type: c_int,
    dev_id: c_int,
    delay_alloc: c_int,
    out: *mut NDArrayHandle,
) -> c_int {
    // SAFETY: the same contract.
    unsafe { MXNDArrayCreateEx(shape, ndim, dev_type, dev_id, delay_alloc, 0, out) }
}

/// The array's shape: `*out_pdata` points to `*out_dim` dimensions, valid until this thread's
/// next `MXNDArrayGetShape`.
///
/// # Safety
/// Both out-pointers are valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXNDArrayGetShape(
    handle: NDArrayHandle,
    out_dim: *mut u32,
    out_pdata: *mut *const u32,
) -> c_int {
    const CALL: &str = "MXNDArrayGetShape";
    guard(CALL, || {
        let array = ND_ARRAYS.get(handle, CALL)?;
        let (ptr, len) = SHAPE.with(|s| {
            let mut s = s.borrow_mut();
            *s = array.shape().iter().map(|&d| d as u32).collect();
            (s.as_ptr(), s.len() as u32)
        });
        // SAFETY: the caller guarantees both out-pointers; the shape lives in this thread's
        // storage until its next call.
        unsafe {
            write_out(out_dim, len, CALL, "out_dim")?;
            write_out(out_pdata, ptr, CALL, "out_pdata")
        }
    })
}

/// The array's element type, as MXNet's type flag.
///
/// # Safety
/// `out_dtype` is valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXNDArrayGetDType(handle: NDArrayHandle, out_dtype: *mut c_int) -> c_int {
    const CALL: &str = "MXNDArrayGetDType";
    guard(CALL, || {
        let dtype = ND_ARRAYS.get(handle, CALL)?.dtype();
        // SAFETY: the caller guarantees the out-pointer.
        unsafe { write_out(out_dtype, dtype as c_int, CALL, "out_dtype") }
    })
}

/// Copies `size` elements (of the array's type) from host memory into the array; `size` must
/// be the array's size.
///
/// # Safety
/// `data` points to `size` elements of the array's type.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXNDArraySyncCopyFromCPU(
    handle: NDArrayHandle,
    data: *const c_void,
    size: usize,
) -> c_int {
    const CALL: &str = "MXNDArraySyncCopyFromCPU";
    guard(CALL, || {
        let array = ND_ARRAYS.get(handle, CALL)?;
        check_size(&array, size, CALL)?;
        let bytes = size * array.dtype().size();
        // SAFETY: the caller guarantees `size` elements, `bytes` bytes.
        let src = unsafe { c_slice(data.cast::<u8>(), bytes, CALL, "data") }?;
        let raw =
            RawArray::new(array.dtype(), array.shape().to_vec(), src.to_vec()).during(CALL)?;
        array
            .assign(&NDArray::from_raw(&raw).during(CALL)?)
            .during(CALL)?;
        array.wait_to_read().during(CALL)
    })
}

/// Copies the array's `size` elements (of its type) to host memory; `size` must be the
/// array's size.
///
/// # Safety
/// `data` has room for `size` elements of the array's type.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXNDArraySyncCopyToCPU(
    handle: NDArrayHandle,
    data: *mut c_void,
    size: usize,
) -> c_int {
    const CALL: &str = "MXNDArraySyncCopyToCPU";
    guard(CALL, || {
        let array = ND_ARRAYS.get(handle, CALL)?;
        check_size(&array, size, CALL)?;
        let raw = array.to_raw().during(CALL)?;
        // SAFETY: the caller guarantees room for `size` elements, which is raw's byte length.
        let dst = unsafe { c_slice_mut(data.cast::<u8>(), raw.data().len(), CALL, "data") }?;
        dst.copy_from_slice(raw.data());
        Ok(())
    })
}

/// A size error unless `size` is the array's number of elements.
fn check_size(array: &NDArray, size: usize, call: &'static str) -> crate::Result<()> {
    if size == array.size() {
        return Ok(());
    }
    Err(argument(
        call,
        format!(
            "the array has {} elements (shape {:?}), size is {size}",
            array.size(),
            array.shape()
        ),
    ))
}

/// Waits until every pushed operation has finished.
#[unsafe(no_mangle)]
pub extern "C" fn MXNDArrayWaitAll() -> c_int {
    const CALL: &str = "MXNDArrayWaitAll";
    guard(CALL, || nd::waitall().during(CALL))
}

/// Frees an array handle; using or freeing it again is an error.
#[unsafe(no_mangle)]
pub extern "C" fn MXNDArrayFree(handle: NDArrayHandle) -> c_int {
    const CALL: &str = "MXNDArrayFree";
    guard(CALL, || ND_ARRAYS.remove(handle, CALL).map(drop))
}
