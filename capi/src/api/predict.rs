//! MXNet 1.9.1's predict API, with its exact names and signatures.

// MXNet's names (MXPredCreate) and argument lists are the API: they cannot change.
#![allow(non_snake_case, clippy::too_many_arguments)]

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Arc;

use mxr_frontend::DType;
use mxr_frontend::engine::{Context as Device, DeviceType};
use mxr_frontend::nd::NDArray;
use parking_lot::Mutex;

use super::ndarray::ND_ARRAYS;
use crate::boundary::{Result, argument, c_slice, c_slice_mut, c_str, guard, write_out};
use crate::handle::HandleTable;
use crate::predictor::{Params, Predictor, Spec};

/// MXNet's `PredictorHandle`.
pub type PredictorHandle = *mut c_void;
/// MXNet's `PredMonitorCallback`: called with a node's name and a new NDArray handle (which the
/// callback owns and frees with `MXNDArrayFree`), and the user's pointer.
pub type PredMonitorCallback =
    Option<unsafe extern "C" fn(*const c_char, *mut c_void, *mut c_void)>;

/// A monitor callback with its user pointer (kept as a number: the table is shared between
/// threads, and only the caller's callback dereferences it).
#[derive(Debug, Clone, Copy)]
struct Monitor {
    callback: unsafe extern "C" fn(*const c_char, *mut c_void, *mut c_void),
    user: usize,
    all: bool,
}

/// A predictor with its monitor.
#[derive(Debug)]
struct Entry {
    predictor: Predictor,
    monitor: Option<Monitor>,
}

/// The live predictors.
static PREDICTORS: HandleTable<Mutex<Entry>> = HandleTable::new(1, "predictor");

/// The input names and shapes of a `MXPredCreate*` or `MXPredReshape` call.
///
/// # Safety
/// `keys` points to `n` C strings and `indptr` to `n + 1` values, and `data` to `indptr[n]`
/// values (or any of them is null, which is an error).
pub(super) unsafe fn input_shapes(
    n: u32,
    keys: *const *const c_char,
    indptr: *const u32,
    data: *const u32,
    call: &'static str,
) -> Result<Vec<(String, Vec<usize>)>> {
    let n = n as usize;
    // SAFETY: the caller guarantees `n` key pointers.
    let keys = unsafe { c_slice(keys, n, call, "input_keys") }?;
    // SAFETY: the caller guarantees `n + 1` offsets.
    let indptr = unsafe { c_slice(indptr, n + 1, call, "input_shape_indptr") }?;
    if indptr.windows(2).any(|w| w[0] > w[1]) {
        return Err(argument(call, "input_shape_indptr is not non-decreasing"));
    }
    // SAFETY: the caller guarantees `indptr[n]` dimensions.
    let dims = unsafe { c_slice(data, indptr[n] as usize, call, "input_shape_data") }?;
    let mut inputs = Vec::with_capacity(n);
    for (i, &key) in keys.iter().enumerate() {
        // SAFETY: each key is a C string, by the caller's guarantee.
        let name = unsafe { c_str(key, call, "an input key") }?;
        if inputs.iter().any(|(n, _): &(String, Vec<usize>)| n == name) {
            return Err(argument(call, format!("input `{name}` is given twice")));
        }
        let shape = dims[indptr[i] as usize..indptr[i + 1] as usize]
            .iter()
            .map(|&d| d as usize)
            .collect();
        inputs.push((name.to_owned(), shape));
    }
    Ok(inputs)
}

/// The names given in a C array of `n` strings.
///
/// # Safety
/// `names` points to `n` C strings (or is null, an error when `n > 0`).
unsafe fn names<'a>(
    n: usize,
    names: *const *const c_char,
    call: &'static str,
    what: &str,
) -> Result<Vec<&'a str>> {
    // SAFETY: the caller guarantees `n` pointers.
    let ptrs = unsafe { c_slice(names, n, call, what) }?;
    ptrs.iter()
        // SAFETY: each is a C string, by the caller's guarantee.
        .map(|&p| unsafe { c_str(p, call, what) })
        .collect()
}

/// MXNet's device codes: 1 = cpu, 2 = gpu.
pub(super) fn device(dev_type: c_int, dev_id: c_int, call: &'static str) -> Result<Device> {
    let kind = DeviceType::from_code(dev_type).ok_or_else(|| {
        argument(
            call,
            format!("unknown device type {dev_type} (1 = cpu, 2 = gpu)"),
        )
    })?;
    let id = u32::try_from(dev_id)
        .map_err(|_| argument(call, format!("negative device id {dev_id}")))?;
    Ok(Device::new(kind, id))
}

/// Everything the `MXPredCreate*` functions share, parsed.
struct CreateArgs {
    spec: Spec,
}

impl CreateArgs {
    /// Parses the common arguments.
    ///
    /// # Safety
    /// The pointers are as `MXPredCreate` documents them.
    unsafe fn parse(
        symbol_json: *const c_char,
        param_bytes: *const c_void,
        param_size: c_int,
        dev_type: c_int,
        dev_id: c_int,
        num_inputs: u32,
        input_keys: *const *const c_char,
        indptr: *const u32,
        shape_data: *const u32,
        outputs: &[&str],
        call: &'static str,
    ) -> Result<CreateArgs> {
        // SAFETY: the caller guarantees a C string.
        let json = unsafe { c_str(symbol_json, call, "symbol_json_str") }?;
        let size = usize::try_from(param_size)
            .map_err(|_| argument(call, format!("negative param_size {param_size}")))?;
        // SAFETY: the caller guarantees `param_size` readable bytes.
        let bytes = unsafe { c_slice(param_bytes.cast::<u8>(), size, call, "param_bytes") }?;
        // SAFETY: the caller guarantees the input arrays.
        let inputs = unsafe { input_shapes(num_inputs, input_keys, indptr, shape_data, call) }?;
        let spec = Spec {
            symbol: Spec::symbol(json, outputs, call)?,
            params: Arc::new(Params::decode(bytes, call)?),
            device: device(dev_type, dev_id, call)?,
            inputs,
            dtypes: Vec::new(),
        };
        Ok(CreateArgs { spec })
    }

    /// Builds one predictor and stores it behind `out`.
    ///
    /// # Safety
    /// `out` is null or valid for one write.
    unsafe fn create(self, out: *mut PredictorHandle, call: &'static str) -> Result<()> {
        if out.is_null() {
            return Err(argument(call, "out is a null pointer"));
        }
        let handle = insert(Predictor::new(self.spec, call)?, call)?;
        // SAFETY: `out` is non-null and valid for one write, by the caller's guarantee.
        unsafe { write_out(out, handle, call, "out") }
    }
}

/// Stores a new predictor.
fn insert(predictor: Predictor, call: &'static str) -> Result<PredictorHandle> {
    PREDICTORS.insert(
        Mutex::new(Entry {
            predictor,
            monitor: None,
        }),
        call,
    )
}

/// Creates a predictor from a symbol's JSON and a `.params` file's bytes, with the inputs'
/// shapes in CSR form (`input_shape_data[input_shape_indptr[i]..input_shape_indptr[i + 1]]`).
///
/// # Safety
/// The pointers are valid as MXNet's `c_predict_api.h` documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXPredCreate(
    symbol_json_str: *const c_char,
    param_bytes: *const c_void,
    param_size: c_int,
    dev_type: c_int,
    dev_id: c_int,
    num_input_nodes: u32,
    input_keys: *const *const c_char,
    input_shape_indptr: *const u32,
    input_shape_data: *const u32,
    out: *mut PredictorHandle,
) -> c_int {
    const CALL: &str = "MXPredCreate";
    guard(CALL, || {
        // SAFETY: the caller passes the pointers this function documents.
        unsafe {
            CreateArgs::parse(
                symbol_json_str,
                param_bytes,
                param_size,
                dev_type,
                dev_id,
                num_input_nodes,
                input_keys,
                input_shape_indptr,
                input_shape_data,
                &[],
                CALL,
            )?
            .create(out, CALL)
        }
    })
}

/// [`MXPredCreate`] with element types for some arguments (MXNet's type flags: 0 = float32,
/// 1 = float64, 2 = float16, 3 = uint8, 4 = int32, 5 = int8, 6 = int64).
///
/// # Safety
/// The pointers are valid as MXNet's `c_predict_api.h` documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXPredCreateEx(
    symbol_json_str: *const c_char,
    param_bytes: *const c_void,
    param_size: c_int,
    dev_type: c_int,
    dev_id: c_int,
    num_input_nodes: u32,
    input_keys: *const *const c_char,
    input_shape_indptr: *const u32,
    input_shape_data: *const u32,
    num_provided_arg_dtypes: u32,
    provided_arg_dtype_names: *const *const c_char,
    provided_arg_dtypes: *const c_int,
    out: *mut PredictorHandle,
) -> c_int {
    const CALL: &str = "MXPredCreateEx";
    guard(CALL, || {
        let n = num_provided_arg_dtypes as usize;
        // SAFETY: the caller passes `n` names and `n` flags.
        let (dtype_names, flags) = unsafe {
            (
                names(
                    n,
                    provided_arg_dtype_names,
                    CALL,
                    "provided_arg_dtype_names",
                )?,
                c_slice(provided_arg_dtypes, n, CALL, "provided_arg_dtypes")?,
            )
        };
        let dtypes = dtype_names
            .iter()
            .zip(flags)
            .map(|(name, &flag)| {
                let dtype = DType::from_flag(flag).ok_or_else(|| {
                    argument(CALL, format!("unknown dtype flag {flag} for `{name}`"))
                })?;
                Ok(((*name).to_owned(), dtype))
            })
            .collect::<Result<Vec<_>>>()?;
        // SAFETY: the caller passes the pointers this function documents.
        let mut args = unsafe {
            CreateArgs::parse(
                symbol_json_str,
                param_bytes,
                param_size,
                dev_type,
                dev_id,
                num_input_nodes,
                input_keys,
                input_shape_indptr,
                input_shape_data,
                &[],
                CALL,
            )?
        };
        args.spec.dtypes = dtypes;
        // SAFETY: `out` is as documented.
        unsafe { args.create(out, CALL) }
    })
}

/// [`MXPredCreate`] whose outputs are the named internal nodes' outputs (`<key>_output`).
///
/// # Safety
/// The pointers are valid as MXNet's `c_predict_api.h` documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXPredCreatePartialOut(
    symbol_json_str: *const c_char,
    param_bytes: *const c_void,
    param_size: c_int,
    dev_type: c_int,
    dev_id: c_int,
    num_input_nodes: u32,
    input_keys: *const *const c_char,
    input_shape_indptr: *const u32,
    input_shape_data: *const u32,
    num_output_nodes: u32,
    output_keys: *const *const c_char,
    out: *mut PredictorHandle,
) -> c_int {
    const CALL: &str = "MXPredCreatePartialOut";
    guard(CALL, || {
        // SAFETY: the caller passes `num_output_nodes` names.
        let outputs =
            unsafe { names(num_output_nodes as usize, output_keys, CALL, "output_keys") }?;
        // SAFETY: the caller passes the pointers this function documents.
        unsafe {
            CreateArgs::parse(
                symbol_json_str,
                param_bytes,
                param_size,
                dev_type,
                dev_id,
                num_input_nodes,
                input_keys,
                input_shape_indptr,
                input_shape_data,
                &outputs,
                CALL,
            )?
            .create(out, CALL)
        }
    })
}

/// Creates `num_threads` predictors sharing one parsed parameter set, one per thread; `out`
/// points to `num_threads` handles.
///
/// # Safety
/// The pointers are valid as MXNet's `c_predict_api.h` documents; `out` has room for
/// `num_threads` handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXPredCreateMultiThread(
    symbol_json_str: *const c_char,
    param_bytes: *const c_void,
    param_size: c_int,
    dev_type: c_int,
    dev_id: c_int,
    num_input_nodes: u32,
    input_keys: *const *const c_char,
    input_shape_indptr: *const u32,
    input_shape_data: *const u32,
    num_threads: c_int,
    out: *mut PredictorHandle,
) -> c_int {
    const CALL: &str = "MXPredCreateMultiThread";
    guard(CALL, || {
        let n = usize::try_from(num_threads)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                argument(
                    CALL,
                    format!("num_threads is {num_threads}, must be positive"),
                )
            })?;
        // SAFETY: the caller passes the pointers this function documents.
        let args = unsafe {
            CreateArgs::parse(
                symbol_json_str,
                param_bytes,
                param_size,
                dev_type,
                dev_id,
                num_input_nodes,
                input_keys,
                input_shape_indptr,
                input_shape_data,
                &[],
                CALL,
            )?
        };
        // SAFETY: the caller guarantees room for `n` handles.
        let slots = unsafe { c_slice_mut(out, n, CALL, "out") }?;
        let mut handles = Vec::with_capacity(n);
        for _ in 0..n {
            match Predictor::new(args.spec.clone(), CALL).and_then(|p| insert(p, CALL)) {
                Ok(h) => handles.push(h),
                Err(e) => {
                    for h in handles {
                        // Just inserted: removing cannot fail.
                        let _ = PREDICTORS.remove(h, CALL);
                    }
                    return Err(e);
                }
            }
        }
        slots.copy_from_slice(&handles);
        Ok(())
    })
}

/// A new predictor with some inputs' shapes changed; `handle` stays valid.
///
/// # Safety
/// The pointers are valid as MXNet's `c_predict_api.h` documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXPredReshape(
    num_input_nodes: u32,
    input_keys: *const *const c_char,
    input_shape_indptr: *const u32,
    input_shape_data: *const u32,
    handle: PredictorHandle,
    out: *mut PredictorHandle,
) -> c_int {
    const CALL: &str = "MXPredReshape";
    guard(CALL, || {
        // SAFETY: the caller passes the input arrays as documented.
        let shapes = unsafe {
            input_shapes(
                num_input_nodes,
                input_keys,
                input_shape_indptr,
                input_shape_data,
                CALL,
            )
        }?;
        let entry = PREDICTORS.get(handle, CALL)?;
        let reshaped = entry.lock().predictor.reshape(shapes, CALL)?;
        if out.is_null() {
            return Err(argument(CALL, "out is a null pointer"));
        }
        let new = insert(reshaped, CALL)?;
        // SAFETY: `out` is non-null and valid for one write, by the caller's guarantee.
        unsafe { write_out(out, new, CALL, "out") }
    })
}

/// Output `index`'s shape: `*shape_data` points to `*shape_ndim` dimensions owned by the
/// predictor (valid until it is freed).
///
/// # Safety
/// `shape_data` and `shape_ndim` are valid for one write each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXPredGetOutputShape(
    handle: PredictorHandle,
    index: u32,
    shape_data: *mut *mut u32,
    shape_ndim: *mut u32,
) -> c_int {
    const CALL: &str = "MXPredGetOutputShape";
    guard(CALL, || {
        let entry = PREDICTORS.get(handle, CALL)?;
        let guard = entry.lock();
        let shape = guard.predictor.output_shape(index, CALL)?;
        // The shape lives in the predictor, which the table keeps until MXPredFree; C only
        // reads through the pointer (MXNet's signature has it mutable).
        let data = shape.as_ptr().cast_mut();
        let ndim = shape.len() as u32;
        // SAFETY: the caller guarantees both out-pointers.
        unsafe {
            write_out(shape_data, data, CALL, "shape_data")?;
            write_out(shape_ndim, ndim, CALL, "shape_ndim")
        }
    })
}

/// Output `out_index`'s element type, as MXNet's type flag.
///
/// # Safety
/// `out_dtype` is valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXPredGetOutputType(
    handle: PredictorHandle,
    out_index: u32,
    out_dtype: *mut c_int,
) -> c_int {
    const CALL: &str = "MXPredGetOutputType";
    guard(CALL, || {
        let entry = PREDICTORS.get(handle, CALL)?;
        let dtype = entry.lock().predictor.output(out_index, CALL)?.1.dtype();
        // SAFETY: the caller guarantees the out-pointer.
        unsafe { write_out(out_dtype, dtype as c_int, CALL, "out_dtype") }
    })
}

/// Copies `size` floats into the input `key`; `size` must be the input's size.
///
/// # Safety
/// `key` is a C string and `data` points to `size` floats.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXPredSetInput(
    handle: PredictorHandle,
    key: *const c_char,
    data: *const f32,
    size: u32,
) -> c_int {
    const CALL: &str = "MXPredSetInput";
    guard(CALL, || {
        // SAFETY: the caller guarantees a C string and `size` floats.
        let (key, data) = unsafe {
            (
                c_str(key, CALL, "key")?,
                c_slice(data, size as usize, CALL, "data")?,
            )
        };
        let entry = PREDICTORS.get(handle, CALL)?;
        entry.lock().predictor.set_input(key, data, CALL)
    })
}

/// Runs the forward pass; the monitor callback, if set, sees the outputs (and, with
/// `monitor_all`, the arguments) afterwards.
///
/// # Safety
/// A monitor callback, if set, is callable with its user pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXPredForward(handle: PredictorHandle) -> c_int {
    const CALL: &str = "MXPredForward";
    guard(CALL, || {
        let entry = PREDICTORS.get(handle, CALL)?;
        let mut entry = entry.lock();
        entry.predictor.forward(CALL)?;
        match entry.monitor {
            // SAFETY: the caller set the callback and its pointer for this predictor.
            Some(monitor) => unsafe { report(&entry.predictor, monitor) },
            None => Ok(()),
        }
    })
}

/// Calls the monitor for the predictor's arrays after a forward pass.
///
/// # Safety
/// The monitor's callback is callable with its user pointer.
unsafe fn report(predictor: &Predictor, monitor: Monitor) -> Result<()> {
    const CALL: &str = "MXPredForward";
    let mut arrays: Vec<(String, NDArray)> = Vec::new();
    if monitor.all {
        arrays.extend(predictor.arguments());
    }
    for i in 0..predictor.num_outputs() as u32 {
        let (name, array) = predictor.output(i, CALL)?;
        arrays.push((name.to_owned(), array));
    }
    for (name, array) in arrays {
        let name = CString::new(name).map_err(|_| argument(CALL, "a node name holds a NUL"))?;
        let nd = ND_ARRAYS.insert(array, CALL)?;
        // SAFETY: the caller guarantees the callback accepts its user pointer; the name
        // outlives the call and the handle is the callback's to free.
        unsafe { (monitor.callback)(name.as_ptr(), nd, monitor.user as *mut c_void) };
    }
    Ok(())
}

/// Runs step `step` of the forward pass. mxr runs the whole graph as one step: step 0 runs
/// the forward pass and leaves 0 steps; a later step does nothing and leaves 0.
///
/// # Safety
/// `step_left` is valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXPredPartialForward(
    handle: PredictorHandle,
    step: c_int,
    step_left: *mut c_int,
) -> c_int {
    const CALL: &str = "MXPredPartialForward";
    guard(CALL, || {
        if step < 0 {
            return Err(argument(CALL, format!("negative step {step}")));
        }
        let entry = PREDICTORS.get(handle, CALL)?;
        if step == 0 {
            entry.lock().predictor.forward(CALL)?;
        }
        // SAFETY: the caller guarantees the out-pointer.
        unsafe { write_out(step_left, 0, CALL, "step_left") }
    })
}

/// Copies output `index` (as floats) into `data`; `size` must be the output's size.
///
/// # Safety
/// `data` has room for `size` floats.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXPredGetOutput(
    handle: PredictorHandle,
    index: u32,
    data: *mut f32,
    size: u32,
) -> c_int {
    const CALL: &str = "MXPredGetOutput";
    guard(CALL, || {
        let entry = PREDICTORS.get(handle, CALL)?;
        // SAFETY: the caller guarantees room for `size` floats.
        let out = unsafe { c_slice_mut(data, size as usize, CALL, "data") }?;
        entry.lock().predictor.get_output(index, out, CALL)
    })
}

/// Frees a predictor; using or freeing its handle again is an error.
#[unsafe(no_mangle)]
pub extern "C" fn MXPredFree(handle: PredictorHandle) -> c_int {
    const CALL: &str = "MXPredFree";
    guard(CALL, || PREDICTORS.remove(handle, CALL).map(drop))
}

/// Sets (or, with a null callback, clears) the predictor's monitor callback.
///
/// # Safety
/// `callback` stays callable with `callback_handle` while it is set.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXPredSetMonitorCallback(
    handle: PredictorHandle,
    callback: PredMonitorCallback,
    callback_handle: *mut c_void,
    monitor_all: bool,
) -> c_int {
    const CALL: &str = "MXPredSetMonitorCallback";
    guard(CALL, || {
        let entry = PREDICTORS.get(handle, CALL)?;
        entry.lock().monitor = callback.map(|callback| Monitor {
            callback,
            user: callback_handle as usize,
            all: monitor_all,
        });
        Ok(())
    })
}
