//! MXNet's imperative calls and `.params` files from C, with `c_api.h`'s exact names and
//! signatures: `NNGetOpHandle` and `MXImperativeInvoke` (any registry operator by name with
//! string attributes), `MXNDArraySave` and `MXNDArrayLoad`, and `MXLoadLib` (plugins).

// MXNet's names (MXImperativeInvoke) and argument lists are the API.
#![allow(non_snake_case)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CString, c_char, c_int, c_void};

use mxr_frontend::nd::{self, NDArray};
use mxr_frontend::operators::registry;
use parking_lot::Mutex;

use super::ndarray::{ND_ARRAYS, NDArrayHandle};
use crate::boundary::{Context, Result, argument, c_slice, c_str, guard, write_out};
use crate::handle::HandleTable;

/// nnvm's `OpHandle` (MXNet's `AtomicSymbolCreator`): an operator of the registry.
pub type OpHandle = *mut c_void;

/// Operator handles: the operator's name. They live as long as the process, as MXNet's do.
static OPS: HandleTable<String> = HandleTable::new(4, "operator");

/// The handle already given out for each operator name.
static OP_BY_NAME: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

/// What the last call on this thread returned by pointer (MXNet keeps such results per thread
/// the same way): output handles, and loaded names with their pointers.
#[derive(Default)]
struct Returned {
    handles: Vec<NDArrayHandle>,
    names: Vec<CString>,
    name_ptrs: Vec<*const c_char>,
}

thread_local! {
    static RETURNED: RefCell<Returned> = RefCell::new(Returned::default());
}

/// The handle of the registry operator `op_name` (an MXNet name or alias).
///
/// # Safety
/// `op_name` is a C string and `op_out` is valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn NNGetOpHandle(op_name: *const c_char, op_out: *mut OpHandle) -> c_int {
    const CALL: &str = "NNGetOpHandle";
    guard(CALL, || {
        // SAFETY: the caller guarantees a C string.
        let name = unsafe { c_str(op_name, CALL, "op_name") }?;
        registry::lookup(name).map_err(|e| argument(CALL, e.to_string()))?;
        let mut cache = OP_BY_NAME.lock();
        let cache = cache.get_or_insert_with(HashMap::new);
        let handle = match cache.get(name) {
            Some(&bits) => bits as OpHandle,
            None => {
                let handle = OPS.insert(name.to_owned(), CALL)?;
                cache.insert(name.to_owned(), handle as usize);
                handle
            }
        };
        // SAFETY: the caller guarantees the out-pointer.
        unsafe { write_out(op_out, handle, CALL, "op_out") }
    })
}

/// The arrays behind `n` handles.
///
/// # Safety
/// `handles` points to `n` handles (or is null, an error when `n > 0`).
unsafe fn arrays(
    handles: *const NDArrayHandle,
    n: usize,
    call: &'static str,
    what: &str,
) -> Result<Vec<NDArray>> {
    // SAFETY: the caller guarantees `n` handles.
    let handles = unsafe { c_slice(handles, n, call, what) }?;
    handles
        .iter()
        .map(|&h| ND_ARRAYS.get(h, call).map(|a| (*a).clone()))
        .collect()
}

/// A count given as a C `int`, which must not be negative.
fn count(n: c_int, call: &'static str, what: &str) -> Result<usize> {
    usize::try_from(n).map_err(|_| argument(call, format!("negative {what} {n}")))
}

/// Runs the operator `creator` on the inputs with string attributes. When `*outputs` is null
/// the outputs are new arrays: `*outputs` then points to `*num_outputs` new handles (the
/// caller frees each with `MXNDArrayFree`; the array of handles is valid until this thread's
/// next such call). Otherwise `*outputs` gives `*num_outputs` arrays to write into.
///
/// # Safety
/// The pointers are valid as MXNet's `c_api.h` documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXImperativeInvoke(
    creator: OpHandle,
    num_inputs: c_int,
    inputs: *mut NDArrayHandle,
    num_outputs: *mut c_int,
    outputs: *mut *mut NDArrayHandle,
    num_params: c_int,
    param_keys: *mut *const c_char,
    param_vals: *mut *const c_char,
) -> c_int {
    const CALL: &str = "MXImperativeInvoke";
    guard(CALL, || {
        let op = OPS.get(creator, CALL)?;
        let n_in = count(num_inputs, CALL, "num_inputs")?;
        let n_params = count(num_params, CALL, "num_params")?;
        // SAFETY: the caller guarantees `num_inputs` handles.
        let inputs = unsafe { arrays(inputs, n_in, CALL, "inputs") }?;
        // SAFETY: the caller guarantees `num_params` keys and values.
        let (keys, vals) = unsafe {
            (
                c_slice(param_keys.cast_const(), n_params, CALL, "param_keys")?,
                c_slice(param_vals.cast_const(), n_params, CALL, "param_vals")?,
            )
        };
        let params = keys
            .iter()
            .zip(vals)
            // SAFETY: each key and value is a C string, by the caller's guarantee.
            .map(|(&k, &v)| unsafe {
                Ok((
                    c_str(k, CALL, "a parameter key")?,
                    c_str(v, CALL, "a parameter value")?,
                ))
            })
            .collect::<Result<Vec<(&str, &str)>>>()?;
        if num_outputs.is_null() || outputs.is_null() {
            return Err(argument(CALL, "num_outputs or outputs is a null pointer"));
        }
        let refs: Vec<&NDArray> = inputs.iter().collect();
        // SAFETY: `outputs` is non-null and readable, by the caller's guarantee.
        let given = unsafe { *outputs };
        if !given.is_null() {
            // SAFETY: non-null `num_outputs`, and `*outputs` holds that many handles.
            let n_out = count(unsafe { *num_outputs }, CALL, "num_outputs")?;
            // SAFETY: as above.
            let out = unsafe { arrays(given, n_out, CALL, "outputs") }?;
            let out_refs: Vec<&NDArray> = out.iter().collect();
            return nd::invoke_into(&op, &refs, &params, &out_refs).during(CALL);
        }
        let results = nd::invoke(&op, &refs, &params).during(CALL)?;
        let n = c_int::try_from(results.len()).map_err(|_| argument(CALL, "too many outputs"))?;
        let handles = results
            .into_iter()
            .map(|a| ND_ARRAYS.insert(a, CALL))
            .collect::<Result<Vec<_>>>()?;
        let ptr = RETURNED.with(|r| {
            let mut r = r.borrow_mut();
            r.handles = handles;
            r.handles.as_mut_ptr()
        });
        // SAFETY: both out-pointers are non-null and valid for one write; the handles live in
        // this thread's storage until its next call.
        unsafe {
            write_out(num_outputs, n, CALL, "num_outputs")?;
            write_out(outputs, ptr, CALL, "outputs")
        }
    })
}

/// Saves arrays to a `.params` file: named when `keys` is non-null (one key per array), a
/// list otherwise.
///
/// # Safety
/// `fname` is a C string, `args` points to `num_args` handles and `keys` (if non-null) to
/// `num_args` C strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXNDArraySave(
    fname: *const c_char,
    num_args: u32,
    args: *mut NDArrayHandle,
    keys: *const *const c_char,
) -> c_int {
    const CALL: &str = "MXNDArraySave";
    guard(CALL, || {
        let n = num_args as usize;
        // SAFETY: the caller guarantees a C string and `num_args` handles.
        let (path, arrays) =
            unsafe { (c_str(fname, CALL, "fname")?, arrays(args, n, CALL, "args")?) };
        if keys.is_null() {
            return nd::save(path, &arrays).during(CALL);
        }
        // SAFETY: the caller guarantees `num_args` key pointers.
        let keys = unsafe { c_slice(keys, n, CALL, "keys") }?;
        let named = keys
            .iter()
            .zip(arrays)
            // SAFETY: each key is a C string, by the caller's guarantee.
            .map(|(&k, a)| Ok((unsafe { c_str(k, CALL, "a key") }?, a)))
            .collect::<Result<Vec<(&str, NDArray)>>>()?;
        nd::save_named(path, &named).during(CALL)
    })
}

/// Loads a `.params` file: `*out_arr` points to `*out_size` new handles (the caller frees
/// each), `*out_names` to `*out_name_size` names (0 for a list). Both arrays are valid until
/// this thread's next such call.
///
/// # Safety
/// `fname` is a C string and the four out-pointers are valid for one write each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXNDArrayLoad(
    fname: *const c_char,
    out_size: *mut u32,
    out_arr: *mut *mut NDArrayHandle,
    out_name_size: *mut u32,
    out_names: *mut *mut *const c_char,
) -> c_int {
    const CALL: &str = "MXNDArrayLoad";
    guard(CALL, || {
        // SAFETY: the caller guarantees a C string.
        let path = unsafe { c_str(fname, CALL, "fname") }?;
        if out_size.is_null() || out_arr.is_null() || out_name_size.is_null() || out_names.is_null()
        {
            return Err(argument(CALL, "an out-pointer is a null pointer"));
        }
        let (names, arrays): (Vec<String>, Vec<NDArray>) = match nd::load(path).during(CALL)? {
            nd::Loaded::List(list) => (Vec::new(), list),
            nd::Loaded::Named(named) => named.into_iter().unzip(),
        };
        let names = names
            .into_iter()
            .map(|n| CString::new(n).map_err(|_| argument(CALL, "a key holds a NUL")))
            .collect::<Result<Vec<_>>>()?;
        let handles = arrays
            .into_iter()
            .map(|a| ND_ARRAYS.insert(a, CALL))
            .collect::<Result<Vec<_>>>()?;
        let (n_arr, n_names) = (handles.len() as u32, names.len() as u32);
        let (arr_ptr, names_ptr) = RETURNED.with(|r| {
            let mut r = r.borrow_mut();
            r.handles = handles;
            r.name_ptrs = names.iter().map(|n| n.as_ptr()).collect();
            r.names = names;
            (r.handles.as_mut_ptr(), r.name_ptrs.as_mut_ptr())
        });
        // SAFETY: the out-pointers are non-null and valid, by the caller's guarantee; the
        // arrays live in this thread's storage until its next call.
        unsafe {
            write_out(out_size, n_arr, CALL, "out_size")?;
            write_out(out_arr, arr_ptr, CALL, "out_arr")?;
            write_out(out_name_size, n_names, CALL, "out_name_size")?;
            write_out(out_names, names_ptr, CALL, "out_names")
        }
    })
}

/// Loads an operator plugin library (MXNet's `mx.library.load`); its operators join the
/// registry, for `NNGetOpHandle` and symbols. With `verbose` nonzero, prints the operators
/// it registered to standard output.
///
/// # Safety
/// `path` is a C string. Loading a library runs its initialisers: load only trusted plugins.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXLoadLib(path: *const c_char, verbose: std::ffi::c_uint) -> c_int {
    const CALL: &str = "MXLoadLib";
    guard(CALL, || {
        // SAFETY: the caller guarantees a C string.
        let path = unsafe { c_str(path, CALL, "path") }?;
        let plugin = mxr_frontend::plugin::load(path).during(CALL)?;
        if verbose != 0 {
            println!("loaded {path}: {}", plugin.op_names().join(", "));
        }
        Ok(())
    })
}
