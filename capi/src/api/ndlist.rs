//! MXNet 1.9.1's NDList functions of the predict API: a `.params` file's arrays as `f32`.

// MXNet's names (MXNDListCreate) are the API.
#![allow(non_snake_case)]

use std::ffi::{CString, c_char, c_int, c_void};

use mxr_frontend::DType;
use mxr_frontend::format::{ParamsFile, decode_params};
use mxr_frontend::nd::NDArray;

use crate::boundary::{Context, Result, argument, c_slice, guard, write_out};
use crate::handle::HandleTable;
use crate::predictor::cast;

/// MXNet's `NDListHandle`.
pub type NDListHandle = *mut c_void;

/// A loaded NDArray list: names, values as `f32` and shapes, kept for the pointers
/// `MXNDListGet` returns.
#[derive(Debug)]
struct NdList {
    items: Vec<(CString, Vec<f32>, Vec<u32>)>,
}

/// The live NDArray lists.
static ND_LISTS: HandleTable<NdList> = HandleTable::new(2, "NDList");

/// Loads a `.params` file's bytes as a list of named float arrays.
///
/// # Safety
/// `nd_file_bytes` points to `nd_file_size` bytes; `out` and `out_length` are valid for one
/// write each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXNDListCreate(
    nd_file_bytes: *const c_char,
    nd_file_size: c_int,
    out: *mut NDListHandle,
    out_length: *mut u32,
) -> c_int {
    const CALL: &str = "MXNDListCreate";
    guard(CALL, || {
        let size = usize::try_from(nd_file_size)
            .map_err(|_| argument(CALL, format!("negative nd_file_size {nd_file_size}")))?;
        // SAFETY: the caller guarantees `size` bytes.
        let bytes = unsafe { c_slice(nd_file_bytes.cast::<u8>(), size, CALL, "nd_file_bytes") }?;
        if out.is_null() || out_length.is_null() {
            return Err(argument(CALL, "out or out_length is a null pointer"));
        }
        let named: Vec<(String, _)> = match decode_params(bytes, "the NDList bytes").during(CALL)? {
            ParamsFile::Named(named) => named,
            ParamsFile::List(list) => list.into_iter().map(|raw| (String::new(), raw)).collect(),
        };
        let items = named
            .into_iter()
            .map(|(name, raw)| {
                let array = NDArray::from_raw(&raw).during(CALL)?;
                let array = if array.dtype() == DType::F32 {
                    array
                } else {
                    cast(&array, DType::F32, CALL)?
                };
                let shape = array.shape().iter().map(|&d| d as u32).collect();
                let values = array.to_vec::<f32>().during(CALL)?;
                let name = CString::new(name).map_err(|_| argument(CALL, "a key holds a NUL"))?;
                Ok((name, values, shape))
            })
            .collect::<Result<Vec<_>>>()?;
        let length = items.len() as u32;
        let handle = ND_LISTS.insert(NdList { items }, CALL)?;
        // SAFETY: both out-pointers are non-null and valid, by the caller's guarantee.
        unsafe {
            write_out(out, handle, CALL, "out")?;
            write_out(out_length, length, CALL, "out_length")
        }
    })
}

/// Entry `index` of a list: its key, values and shape, owned by the list (valid until
/// `MXNDListFree`).
///
/// # Safety
/// The four out-pointers are valid for one write each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXNDListGet(
    handle: NDListHandle,
    index: u32,
    out_key: *mut *const c_char,
    out_data: *mut *const f32,
    out_shape: *mut *const u32,
    out_ndim: *mut u32,
) -> c_int {
    const CALL: &str = "MXNDListGet";
    guard(CALL, || {
        let list = ND_LISTS.get(handle, CALL)?;
        let (key, data, shape) = list.items.get(index as usize).ok_or_else(|| {
            argument(
                CALL,
                format!("index {index} out of range ({} arrays)", list.items.len()),
            )
        })?;
        // SAFETY: the caller guarantees the four out-pointers; the pointed-to data lives in
        // the list, which the table keeps until MXNDListFree.
        unsafe {
            write_out(out_key, key.as_ptr(), CALL, "out_key")?;
            write_out(out_data, data.as_ptr(), CALL, "out_data")?;
            write_out(out_shape, shape.as_ptr(), CALL, "out_shape")?;
            write_out(out_ndim, shape.len() as u32, CALL, "out_ndim")
        }
    })
}

/// Frees a list; using or freeing its handle again is an error.
#[unsafe(no_mangle)]
pub extern "C" fn MXNDListFree(handle: NDListHandle) -> c_int {
    const CALL: &str = "MXNDListFree";
    guard(CALL, || ND_LISTS.remove(handle, CALL).map(drop))
}
