//! Symbols and executors from C, with MXNet `c_api.h`'s exact names and signatures: load and
//! save JSON, list arguments, outputs and auxiliary states, infer shapes; bind, forward,
//! backward, outputs.

// MXNet's names (MXSymbolCreateFromJSON) and argument lists are the API.
#![allow(non_snake_case, clippy::too_many_arguments)]

use std::cell::RefCell;
use std::ffi::{CString, c_char, c_int, c_void};

use mxr_frontend::exec::{Executor, GradReq};
use mxr_frontend::sym::Symbol;
use parking_lot::Mutex;

use super::ndarray::{ND_ARRAYS, NDArrayHandle};
use super::predict::{device, input_shapes};
use crate::boundary::{Context, Result, argument, c_slice, c_str, guard, write_out};
use crate::handle::HandleTable;

/// MXNet's `SymbolHandle`.
pub type SymbolHandle = *mut c_void;
/// MXNet's `ExecutorHandle`.
pub type ExecutorHandle = *mut c_void;

/// The live symbols.
static SYMBOLS: HandleTable<Symbol> = HandleTable::new(5, "symbol");
/// The live executors.
static EXECUTORS: HandleTable<Mutex<Executor>> = HandleTable::new(6, "executor");

/// What the last call on this thread returned by pointer (MXNet keeps such results per thread
/// the same way): strings, their pointers, shapes, output handles.
#[derive(Default)]
struct Returned {
    strings: Vec<CString>,
    string_ptrs: Vec<*const c_char>,
    /// Per list: arguments, outputs, auxiliary states.
    shapes: [Shapes; 3],
    handles: Vec<NDArrayHandle>,
}

/// One list of shapes as `MXSymbolInferShape` returns it.
#[derive(Default)]
struct Shapes {
    /// Each shape's dimensions.
    dims: Vec<Vec<u32>>,
    /// Each shape's number of dimensions.
    ndims: Vec<u32>,
    /// Pointers to each shape's dimensions.
    ptrs: Vec<*const u32>,
}

thread_local! {
    static RETURNED: RefCell<Returned> = RefCell::new(Returned::default());
}

/// Loads a symbol from its JSON.
///
/// # Safety
/// `json` is a C string and `out` is valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXSymbolCreateFromJSON(
    json: *const c_char,
    out: *mut SymbolHandle,
) -> c_int {
    const CALL: &str = "MXSymbolCreateFromJSON";
    guard(CALL, || {
        // SAFETY: the caller guarantees a C string.
        let text = unsafe { c_str(json, CALL, "json") }?;
        if out.is_null() {
            return Err(argument(CALL, "out is a null pointer"));
        }
        let handle = SYMBOLS.insert(Symbol::from_json(text).during(CALL)?, CALL)?;
        // SAFETY: non-null and valid for one write, by the caller's guarantee.
        unsafe { write_out(out, handle, CALL, "out") }
    })
}

/// Returns `strings` through this thread's storage: (count, pointer to the pointers).
fn return_strings(strings: Vec<String>, call: &'static str) -> Result<(u32, *mut *const c_char)> {
    let strings = strings
        .into_iter()
        .map(|s| CString::new(s).map_err(|_| argument(call, "a name holds a NUL")))
        .collect::<Result<Vec<_>>>()?;
    Ok(RETURNED.with(|r| {
        let mut r = r.borrow_mut();
        r.string_ptrs = strings.iter().map(|s| s.as_ptr()).collect();
        r.strings = strings;
        (r.strings.len() as u32, r.string_ptrs.as_mut_ptr())
    }))
}

/// The symbol's JSON, valid until this thread's next such call.
///
/// # Safety
/// `out_json` is valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXSymbolSaveToJSON(
    symbol: SymbolHandle,
    out_json: *mut *const c_char,
) -> c_int {
    const CALL: &str = "MXSymbolSaveToJSON";
    guard(CALL, || {
        let json = SYMBOLS.get(symbol, CALL)?.to_json().during(CALL)?;
        let (_, ptrs) = return_strings(vec![json], CALL)?;
        // SAFETY: `ptrs` points to one string pointer; the caller guarantees the out-pointer.
        unsafe { write_out(out_json, *ptrs, CALL, "out_json") }
    })
}

/// Writes a list of names to the two out-pointers.
///
/// # Safety
/// Both out-pointers are valid for one write.
unsafe fn list(
    symbol: SymbolHandle,
    names: fn(&Symbol) -> Vec<String>,
    out_size: *mut u32,
    out: *mut *mut *const c_char,
    call: &'static str,
) -> Result<()> {
    let (n, ptrs) = return_strings(names(&*SYMBOLS.get(symbol, call)?), call)?;
    // SAFETY: the caller guarantees both out-pointers.
    unsafe {
        write_out(out_size, n, call, "out_size")?;
        write_out(out, ptrs, call, "out_str_array")
    }
}

/// The symbol's arguments, valid until this thread's next such call.
///
/// # Safety
/// Both out-pointers are valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXSymbolListArguments(
    symbol: SymbolHandle,
    out_size: *mut u32,
    out_str_array: *mut *mut *const c_char,
) -> c_int {
    const CALL: &str = "MXSymbolListArguments";
    // SAFETY: the caller's out-pointers, as documented.
    guard(CALL, || unsafe {
        list(
            symbol,
            Symbol::list_arguments,
            out_size,
            out_str_array,
            CALL,
        )
    })
}

/// The symbol's outputs, valid until this thread's next such call.
///
/// # Safety
/// Both out-pointers are valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXSymbolListOutputs(
    symbol: SymbolHandle,
    out_size: *mut u32,
    out_str_array: *mut *mut *const c_char,
) -> c_int {
    const CALL: &str = "MXSymbolListOutputs";
    // SAFETY: the caller's out-pointers, as documented.
    guard(CALL, || unsafe {
        list(symbol, Symbol::list_outputs, out_size, out_str_array, CALL)
    })
}

/// The symbol's auxiliary states, valid until this thread's next such call.
///
/// # Safety
/// Both out-pointers are valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXSymbolListAuxiliaryStates(
    symbol: SymbolHandle,
    out_size: *mut u32,
    out_str_array: *mut *mut *const c_char,
) -> c_int {
    const CALL: &str = "MXSymbolListAuxiliaryStates";
    // SAFETY: the caller's out-pointers, as documented.
    guard(CALL, || unsafe {
        list(
            symbol,
            Symbol::list_auxiliary_states,
            out_size,
            out_str_array,
            CALL,
        )
    })
}

/// Frees a symbol.
#[unsafe(no_mangle)]
pub extern "C" fn MXSymbolFree(symbol: SymbolHandle) -> c_int {
    const CALL: &str = "MXSymbolFree";
    guard(CALL, || SYMBOLS.remove(symbol, CALL).map(drop))
}

/// Infers the shapes of the arguments, outputs and auxiliary states from some arguments'
/// shapes (CSR form, as `MXPredCreate`). `*complete` is 1 when every shape is known; otherwise
/// 0, with the unknown shapes empty. The arrays are valid until this thread's next such call.
///
/// # Safety
/// The pointers are valid as MXNet's `c_api.h` documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXSymbolInferShape(
    sym: SymbolHandle,
    num_args: u32,
    keys: *const *const c_char,
    arg_ind_ptr: *const u32,
    arg_shape_data: *const u32,
    in_shape_size: *mut u32,
    in_shape_ndim: *mut *const u32,
    in_shape_data: *mut *const *const u32,
    out_shape_size: *mut u32,
    out_shape_ndim: *mut *const u32,
    out_shape_data: *mut *const *const u32,
    aux_shape_size: *mut u32,
    aux_shape_ndim: *mut *const u32,
    aux_shape_data: *mut *const *const u32,
    complete: *mut c_int,
) -> c_int {
    const CALL: &str = "MXSymbolInferShape";
    guard(CALL, || {
        let symbol = SYMBOLS.get(sym, CALL)?;
        // SAFETY: the caller guarantees the CSR arrays.
        let known = unsafe { input_shapes(num_args, keys, arg_ind_ptr, arg_shape_data, CALL) }?;
        let known: Vec<(&str, &[usize])> = known
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_slice()))
            .collect();
        let (lists, done) = match symbol.infer_shape(&known) {
            Ok(lists) => (lists, 1),
            Err(_) => (symbol.infer_shape_partial(&known).during(CALL)?, 0),
        };
        let lists = [lists.0, lists.1, lists.2];
        let mut results = [(0u32, std::ptr::null(), std::ptr::null()); 3];
        RETURNED.with(|r| {
            let mut r = r.borrow_mut();
            for (i, shapes) in lists.iter().enumerate() {
                let dims: Vec<Vec<u32>> = shapes
                    .iter()
                    .map(|s| s.iter().map(|&d| d as u32).collect())
                    .collect();
                let ndims = dims.iter().map(|d| d.len() as u32).collect();
                let ptrs = dims.iter().map(|d| d.as_ptr()).collect();
                r.shapes[i] = Shapes { dims, ndims, ptrs };
                let list = &r.shapes[i];
                results[i] = (
                    list.dims.len() as u32,
                    list.ndims.as_ptr(),
                    list.ptrs.as_ptr(),
                );
            }
        });
        let outs = [
            (in_shape_size, in_shape_ndim, in_shape_data),
            (out_shape_size, out_shape_ndim, out_shape_data),
            (aux_shape_size, aux_shape_ndim, aux_shape_data),
        ];
        for ((size, ndim, data), (n, ndims, ptrs)) in outs.into_iter().zip(results) {
            // SAFETY: the caller guarantees the out-pointers; the arrays live in this
            // thread's storage until its next call.
            unsafe {
                write_out(size, n, CALL, "a shape count")?;
                write_out(ndim, ndims, CALL, "a shape ndim array")?;
                write_out(data, ptrs, CALL, "a shape data array")?;
            }
        }
        // SAFETY: the caller guarantees the out-pointer.
        unsafe { write_out(complete, done, CALL, "complete") }
    })
}

/// Binds a symbol to arrays: `len` arguments with their gradient arrays (a null handle where
/// there is none) and requests (0 = null, 1 = write, 3 = add), and the auxiliary states.
///
/// # Safety
/// The pointers are valid as MXNet's `c_api.h` documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXExecutorBind(
    symbol_handle: SymbolHandle,
    dev_type: c_int,
    dev_id: c_int,
    len: u32,
    in_args: *mut NDArrayHandle,
    arg_grad_store: *mut NDArrayHandle,
    grad_req_type: *mut u32,
    aux_states_len: u32,
    aux_states: *mut NDArrayHandle,
    out: *mut ExecutorHandle,
) -> c_int {
    const CALL: &str = "MXExecutorBind";
    guard(CALL, || {
        let symbol = SYMBOLS.get(symbol_handle, CALL)?;
        let n = len as usize;
        // SAFETY: the caller guarantees `len` handles and requests, `aux_states_len` handles.
        let (args, grads, reqs, aux) = unsafe {
            (
                c_slice(in_args.cast_const(), n, CALL, "in_args")?,
                c_slice(arg_grad_store.cast_const(), n, CALL, "arg_grad_store")?,
                c_slice(grad_req_type.cast_const(), n, CALL, "grad_req_type")?,
                c_slice(
                    aux_states.cast_const(),
                    aux_states_len as usize,
                    CALL,
                    "aux_states",
                )?,
            )
        };
        let get = |h| ND_ARRAYS.get(h, CALL).map(|a| (*a).clone());
        let args = args.iter().map(|&h| get(h)).collect::<Result<Vec<_>>>()?;
        let reqs = reqs
            .iter()
            .map(|&r| match r {
                0 => Ok(GradReq::Null),
                1 | 2 => Ok(GradReq::Write),
                3 => Ok(GradReq::Add),
                other => Err(argument(
                    CALL,
                    format!("unknown grad_req_type {other} (0 null, 1 write, 3 add)"),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        let grads = grads
            .iter()
            .map(|&h| {
                if h.is_null() {
                    Ok(None)
                } else {
                    get(h).map(Some)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let aux = aux.iter().map(|&h| get(h)).collect::<Result<Vec<_>>>()?;
        let executor = symbol
            .bind(device(dev_type, dev_id, CALL)?, args, grads, &reqs, aux)
            .during(CALL)?;
        if out.is_null() {
            return Err(argument(CALL, "out is a null pointer"));
        }
        let handle = EXECUTORS.insert(Mutex::new(executor), CALL)?;
        // SAFETY: non-null and valid for one write, by the caller's guarantee.
        unsafe { write_out(out, handle, CALL, "out") }
    })
}

/// Runs the forward pass (`is_train` nonzero: training mode).
#[unsafe(no_mangle)]
pub extern "C" fn MXExecutorForward(handle: ExecutorHandle, is_train: c_int) -> c_int {
    const CALL: &str = "MXExecutorForward";
    guard(CALL, || {
        EXECUTORS
            .get(handle, CALL)?
            .lock()
            .forward(is_train != 0)
            .during(CALL)
    })
}

/// Runs the backward pass with `len` head gradients (0 when every output is a loss).
///
/// # Safety
/// `head_grads` points to `len` handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXExecutorBackward(
    handle: ExecutorHandle,
    len: u32,
    head_grads: *mut NDArrayHandle,
) -> c_int {
    const CALL: &str = "MXExecutorBackward";
    guard(CALL, || {
        // SAFETY: the caller guarantees `len` handles.
        let heads = unsafe { c_slice(head_grads.cast_const(), len as usize, CALL, "head_grads") }?;
        let heads = heads
            .iter()
            .map(|&h| ND_ARRAYS.get(h, CALL).map(|a| (*a).clone()))
            .collect::<Result<Vec<_>>>()?;
        EXECUTORS
            .get(handle, CALL)?
            .lock()
            .backward(&heads)
            .during(CALL)
    })
}

/// The outputs as new handles (the caller frees each), valid until this thread's next such
/// call.
///
/// # Safety
/// Both out-pointers are valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXExecutorOutputs(
    handle: ExecutorHandle,
    out_size: *mut u32,
    out: *mut *mut NDArrayHandle,
) -> c_int {
    const CALL: &str = "MXExecutorOutputs";
    guard(CALL, || {
        if out_size.is_null() || out.is_null() {
            return Err(argument(CALL, "out_size or out is a null pointer"));
        }
        let outputs = EXECUTORS.get(handle, CALL)?.lock().outputs();
        let handles = outputs
            .into_iter()
            .map(|a| ND_ARRAYS.insert(a, CALL))
            .collect::<Result<Vec<_>>>()?;
        let (n, ptr) = RETURNED.with(|r| {
            let mut r = r.borrow_mut();
            r.handles = handles;
            (r.handles.len() as u32, r.handles.as_mut_ptr())
        });
        // SAFETY: both out-pointers are non-null and valid, by the caller's guarantee.
        unsafe {
            write_out(out_size, n, CALL, "out_size")?;
            write_out(out, ptr, CALL, "out")
        }
    })
}

/// Frees an executor.
#[unsafe(no_mangle)]
pub extern "C" fn MXExecutorFree(handle: ExecutorHandle) -> c_int {
    const CALL: &str = "MXExecutorFree";
    guard(CALL, || EXECUTORS.remove(handle, CALL).map(drop))
}
