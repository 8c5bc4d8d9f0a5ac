//! The plugin side of the ABI: `extern "C"` trampolines over an [`Op`], each catching panics,
//! and the registration that [`export_plugin!`](crate::export_plugin) calls.

use std::any::Any;
use std::ffi::{CStr, CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::ffi::{
    ABI_VERSION, AttrDesc, BackwardFn, CallInfo, CreateFn, DestroyFn, ErrorBuf, ForwardFn, HostApi,
    InferShapeFn, InferTypeFn, MAX_NDIM, OpDesc, ParamDesc, STATUS_BAD_CALL, STATUS_ERROR,
    STATUS_OK, STATUS_PANIC, ShapeDesc, TensorDesc,
};
use crate::op::{
    Backward, CallCtx, DType, Error, Forward, Op, OpInfo, Params, Result, Shape, Tensor, TensorMut,
};

/// Copies `msg` (truncated to the capacity) into the host's error buffer.
fn write_error(err: *mut ErrorBuf, msg: &str) {
    // SAFETY: the ABI gives every function either a null error buffer or one valid for the
    // call (checked by `as_mut`).
    let Some(e) = (unsafe { err.as_mut() }) else {
        return;
    };
    if e.buf.is_null() {
        return;
    }
    let mut n = msg.len().min(e.cap);
    while !msg.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: `buf` has `cap` writable bytes (ABI contract) and `n <= cap`; `msg` is a
    // separate Rust string, so the ranges do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), e.buf, n) };
    e.len = n;
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Runs `f`, turning an error or a panic into a status and a message.
fn guarded(err: *mut ErrorBuf, f: impl FnOnce() -> Result<()>) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => STATUS_OK,
        Ok(Err(e)) => {
            write_error(err, e.message());
            STATUS_ERROR
        }
        Err(payload) => {
            write_error(err, &panic_message(payload.as_ref()));
            STATUS_PANIC
        }
    }
}

/// A slice from an ABI pointer and count.
///
/// # Safety
/// When `n > 0` and `ptr` is not null, `ptr` points to `n` valid `T`s for `'a`.
unsafe fn raw_slice<'a, T>(ptr: *const T, n: u32, what: &str) -> Result<&'a [T]> {
    if n == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::new(format!("{what}: null pointer for {n} items")));
    }
    // SAFETY: non-null, and the caller guarantees `n` valid items.
    Ok(unsafe { std::slice::from_raw_parts(ptr, n as usize) })
}

/// [`raw_slice`], writable.
///
/// # Safety
/// As for [`raw_slice`], and nothing else accesses the items during `'a`.
unsafe fn raw_slice_mut<'a, T>(ptr: *mut T, n: u32, what: &str) -> Result<&'a mut [T]> {
    if n == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(Error::new(format!("{what}: null pointer for {n} items")));
    }
    // SAFETY: non-null, and the caller guarantees `n` valid, unaliased items.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, n as usize) })
}

/// A host string.
///
/// # Safety
/// `ptr` is null or a NUL-terminated string valid during the call.
unsafe fn host_str(ptr: *const c_char, what: &str) -> Result<String> {
    if ptr.is_null() {
        return Err(Error::new(format!("{what}: null string")));
    }
    // SAFETY: non-null and NUL-terminated (caller).
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str()
        .map(str::to_owned)
        .map_err(|_| Error::new(format!("{what}: not UTF-8")))
}

/// The operator state behind a host handle.
///
/// # Safety
/// `state` is null or was made by `create_fn::<T>` and not yet destroyed.
unsafe fn op_state<'a, T: Op>(state: *const c_void) -> Result<&'a T> {
    // SAFETY: a live `Box<T>` made by `create_fn::<T>` (caller), or null (checked).
    unsafe { state.cast::<T>().as_ref() }.ok_or_else(|| Error::new("null operator state"))
}

fn check_len(shape: &[usize], dtype: DType, nbytes: usize) -> Result<()> {
    let want = shape.iter().product::<usize>() * (dtype_size(dtype));
    if want != nbytes {
        return Err(Error::new(format!(
            "a {dtype} tensor of shape {shape:?} needs {want} bytes, the host gave {nbytes}"
        )));
    }
    Ok(())
}

fn dtype_size(dtype: DType) -> usize {
    match dtype {
        DType::F32 | DType::I32 => 4,
        DType::F64 | DType::I64 => 8,
        DType::F16 => 2,
        DType::U8 | DType::I8 => 1,
    }
}

fn dtype_of(flag: i32) -> Result<DType> {
    DType::from_flag(flag).ok_or_else(|| Error::new(format!("unknown dtype flag {flag}")))
}

/// A read-only view of a host tensor.
///
/// # Safety
/// `d` describes a live host tensor (ABI contract) that nobody writes during `'a`.
unsafe fn tensor<'a>(d: &TensorDesc) -> Result<Tensor<'a>> {
    // SAFETY: forwarded from the caller.
    let (shape, dtype) = unsafe { tensor_meta(d)? };
    let bytes = if d.nbytes == 0 {
        &[][..]
    } else {
        // SAFETY: `data` has `nbytes` bytes nobody writes during the call (ABI contract);
        // `tensor_meta` rejected null.
        unsafe { std::slice::from_raw_parts(d.data.cast::<u8>(), d.nbytes) }
    };
    Ok(Tensor {
        shape,
        dtype,
        bytes,
    })
}

/// A writable view of a host tensor.
///
/// # Safety
/// `d` describes a live host tensor that nothing else accesses during `'a` (the host never
/// aliases outputs).
unsafe fn tensor_mut<'a>(d: &TensorDesc) -> Result<TensorMut<'a>> {
    // SAFETY: forwarded from the caller.
    let (shape, dtype) = unsafe { tensor_meta(d)? };
    let bytes = if d.nbytes == 0 {
        &mut [][..]
    } else {
        // SAFETY: `data` has `nbytes` writable bytes, exclusively ours during the call;
        // `tensor_meta` rejected null.
        unsafe { std::slice::from_raw_parts_mut(d.data.cast::<u8>(), d.nbytes) }
    };
    Ok(TensorMut {
        shape,
        dtype,
        bytes,
    })
}

/// The checked dims and dtype of a tensor description, whose data is not null unless it holds
/// no bytes, and whose byte count fits the dims and dtype.
///
/// # Safety
/// `d` describes a live host tensor (ABI contract): `shape` holds `ndim` dims for `'a`.
unsafe fn tensor_meta<'a>(d: &TensorDesc) -> Result<(&'a [usize], DType)> {
    let dtype = dtype_of(d.dtype)?;
    // SAFETY: `shape` holds `ndim` dims (ABI contract).
    let shape = unsafe { raw_slice(d.shape, u32::try_from(d.ndim).unwrap_or(u32::MAX), "shape")? };
    if d.nbytes != 0 && d.data.is_null() {
        return Err(Error::new("null tensor data"));
    }
    check_len(shape, dtype, d.nbytes)?;
    Ok((shape, dtype))
}

/// Views of `n` host tensors.
///
/// # Safety
/// `ptr` holds `n` descriptions of live tensors (see [`tensor`]).
unsafe fn tensors<'a>(ptr: *const TensorDesc, n: u32, what: &str) -> Result<Vec<Tensor<'a>>> {
    // SAFETY: forwarded from the caller.
    let descs = unsafe { raw_slice(ptr, n, what)? };
    // SAFETY: each description is of a live tensor (caller).
    descs.iter().map(|d| unsafe { tensor(d) }).collect()
}

/// Writable views of `n` host tensors.
///
/// # Safety
/// As for [`tensors`], and the tensors are exclusively the callee's (see [`tensor_mut`]).
unsafe fn tensors_mut<'a>(
    ptr: *const TensorDesc,
    n: u32,
    what: &str,
) -> Result<Vec<TensorMut<'a>>> {
    // SAFETY: forwarded from the caller.
    let descs = unsafe { raw_slice(ptr, n, what)? };
    // SAFETY: each is a live, unaliased tensor (caller).
    descs.iter().map(|d| unsafe { tensor_mut(d) }).collect()
}

fn shape_from_desc(d: &ShapeDesc) -> Result<Shape> {
    if d.ndim < 0 {
        return Ok(Shape::unknown());
    }
    let ndim = d.ndim as usize;
    if ndim > MAX_NDIM {
        return Err(Error::new(format!(
            "rank {ndim} is above the ABI's {MAX_NDIM}"
        )));
    }
    Ok(Shape::partial(
        d.dims[..ndim]
            .iter()
            .map(|&x| usize::try_from(x).ok())
            .collect(),
    ))
}

fn shape_to_desc(s: &Shape) -> Result<ShapeDesc> {
    let mut d = ShapeDesc {
        ndim: -1,
        dims: [-1; MAX_NDIM],
    };
    if let Some(dims) = s.partial_dims() {
        if dims.len() > MAX_NDIM {
            return Err(Error::new(format!(
                "shape {s}: rank above the ABI's {MAX_NDIM}"
            )));
        }
        d.ndim = dims.len() as i32;
        for (slot, dim) in d.dims.iter_mut().zip(dims) {
            *slot = dim
                .map_or(Ok(-1), i64::try_from)
                .map_err(|_| Error::new(format!("shape {s}: a dimension does not fit in i64")))?;
        }
    }
    Ok(d)
}

/// Decodes the host's input and output descriptors (`ins`, `outs`), lets `infer` complete the
/// values and encodes them back into the same descriptors: the shared body of the shape and
/// the type inference entry points.
/// The operator state and the host's input and output descriptions (`what`: shapes or types)
/// of an inference call, each array given as a pointer and a count.
///
/// # Safety
/// `state` is as for [`op_state`], the arrays as for [`raw_slice_mut`].
unsafe fn infer_args<'a, T: Op, D>(
    state: *const c_void,
    (inputs, num_inputs): (*mut D, u32),
    (outputs, num_outputs): (*mut D, u32),
    what: &str,
) -> Result<(&'a T, &'a mut [D], &'a mut [D])> {
    // SAFETY: the caller's guarantees.
    unsafe {
        Ok((
            op_state::<T>(state)?,
            raw_slice_mut(inputs, num_inputs, &format!("input {what}"))?,
            raw_slice_mut(outputs, num_outputs, &format!("output {what}"))?,
        ))
    }
}

fn infer_in_place<D, V>(
    ins: &mut [D],
    outs: &mut [D],
    decode: impl Fn(&D) -> Result<V>,
    encode: impl Fn(&V) -> Result<D>,
    infer: impl FnOnce(&mut [V], &mut [V]) -> Result<()>,
) -> Result<()> {
    let mut in_values: Vec<V> = ins.iter().map(&decode).collect::<Result<_>>()?;
    let mut out_values: Vec<V> = outs.iter().map(&decode).collect::<Result<_>>()?;
    infer(&mut in_values, &mut out_values)?;
    for (d, v) in ins.iter_mut().zip(&in_values) {
        *d = encode(v)?;
    }
    for (d, v) in outs.iter_mut().zip(&out_values) {
        *d = encode(v)?;
    }
    Ok(())
}

fn call_ctx(call: *const CallInfo) -> Result<CallCtx> {
    // SAFETY: null or valid for the call (ABI contract).
    let call = unsafe { call.as_ref() }.ok_or_else(|| Error::new("null call info"))?;
    Ok(CallCtx {
        is_train: call.is_train != 0,
    })
}

unsafe extern "C" fn create_fn<T: Op>(
    attrs: *const AttrDesc,
    num_attrs: u32,
    state: *mut *mut c_void,
    err: *mut ErrorBuf,
) -> i32 {
    guarded(err, || {
        if state.is_null() {
            return Err(Error::new("null state slot"));
        }
        // SAFETY: `attrs` holds `num_attrs` pairs of strings valid for the call (ABI).
        let attrs = unsafe { raw_slice(attrs, num_attrs, "attributes")? };
        let mut pairs = Vec::with_capacity(attrs.len());
        for a in attrs {
            // SAFETY: NUL-terminated strings valid for the call (ABI).
            let (k, v) = unsafe { (host_str(a.key, "key")?, host_str(a.value, "value")?) };
            pairs.push((k, v));
        }
        let op = T::create(&Params::new(pairs))?;
        // SAFETY: `state` is a valid, non-null slot (checked; ABI contract).
        unsafe { state.write(Box::into_raw(Box::new(op)).cast()) };
        Ok(())
    })
}

unsafe extern "C" fn destroy_fn<T: Op>(state: *mut c_void) {
    if state.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: made by `create_fn::<T>` with `Box::into_raw`, destroyed once (ABI contract).
        drop(unsafe { Box::from_raw(state.cast::<T>()) });
    }));
}

unsafe extern "C" fn infer_shape_fn<T: Op>(
    state: *const c_void,
    inputs: *mut ShapeDesc,
    num_inputs: u32,
    outputs: *mut ShapeDesc,
    num_outputs: u32,
    err: *mut ErrorBuf,
) -> i32 {
    guarded(err, || {
        // SAFETY: the host passes a live state and arrays of the given sizes (ABI).
        let (op, ins, outs) = unsafe {
            infer_args::<T, _>(
                state,
                (inputs, num_inputs),
                (outputs, num_outputs),
                "shapes",
            )?
        };
        infer_in_place(ins, outs, shape_from_desc, shape_to_desc, |i, o| {
            op.infer_shape(i, o)
        })
    })
}

unsafe extern "C" fn infer_type_fn<T: Op>(
    state: *const c_void,
    inputs: *mut i32,
    num_inputs: u32,
    outputs: *mut i32,
    num_outputs: u32,
    err: *mut ErrorBuf,
) -> i32 {
    guarded(err, || {
        // SAFETY: the host passes a live state and arrays of the given sizes (ABI).
        let (op, ins, outs) = unsafe {
            infer_args::<T, _>(state, (inputs, num_inputs), (outputs, num_outputs), "types")?
        };
        let known = |f: &i32| {
            if *f < 0 {
                Ok(None)
            } else {
                dtype_of(*f).map(Some)
            }
        };
        let flag = |t: &Option<DType>| Ok(t.map_or(-1, DType::flag));
        infer_in_place(ins, outs, known, flag, |i, o| op.infer_type(i, o))
    })
}

unsafe extern "C" fn forward_fn<T: Op>(
    state: *const c_void,
    call: *const CallInfo,
    inputs: *const TensorDesc,
    num_inputs: u32,
    outputs: *const TensorDesc,
    num_outputs: u32,
    err: *mut ErrorBuf,
) -> i32 {
    guarded(err, || {
        let ctx = call_ctx(call)?;
        // SAFETY: a live state; live input tensors and exclusive output tensors (ABI).
        let (op, ins, mut outs) = unsafe {
            (
                op_state::<T>(state)?,
                tensors(inputs, num_inputs, "inputs")?,
                tensors_mut(outputs, num_outputs, "outputs")?,
            )
        };
        let tensors = Forward {
            inputs: &ins,
            outputs: &mut outs,
        };
        op.forward(&ctx, tensors)
    })
}

#[allow(clippy::too_many_arguments)] // the ABI's signature
unsafe extern "C" fn backward_fn<T: Op>(
    state: *const c_void,
    call: *const CallInfo,
    ograds: *const TensorDesc,
    num_ograds: u32,
    inputs: *const TensorDesc,
    num_inputs: u32,
    outputs: *const TensorDesc,
    num_outputs: u32,
    igrads: *const TensorDesc,
    num_igrads: u32,
    err: *mut ErrorBuf,
) -> i32 {
    guarded(err, || {
        let ctx = call_ctx(call)?;
        // SAFETY: a live state; live read-only tensors and exclusive gradient tensors (ABI).
        let (op, og, ins, outs, mut ig) = unsafe {
            (
                op_state::<T>(state)?,
                tensors(ograds, num_ograds, "head gradients")?,
                tensors(inputs, num_inputs, "inputs")?,
                tensors(outputs, num_outputs, "outputs")?,
                tensors_mut(igrads, num_igrads, "input gradients")?,
            )
        };
        let tensors = Backward {
            ograds: &og,
            inputs: &ins,
            outputs: &outs,
            igrads: &mut ig,
        };
        op.backward(&ctx, tensors)
    })
}

/// One operator's entry points, as [`export_plugin!`](crate::export_plugin) lists them.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct OpEntry {
    info: fn() -> OpInfo,
    create: CreateFn,
    destroy: DestroyFn,
    infer_shape: InferShapeFn,
    infer_type: InferTypeFn,
    forward: ForwardFn,
    backward: Option<BackwardFn>,
}

/// The entry points of `T`.
#[doc(hidden)]
pub fn op_entry<T: Op>() -> OpEntry {
    OpEntry {
        info: T::info,
        create: create_fn::<T>,
        destroy: destroy_fn::<T>,
        infer_shape: infer_shape_fn::<T>,
        infer_type: infer_type_fn::<T>,
        forward: forward_fn::<T>,
        backward: T::HAS_BACKWARD.then_some(backward_fn::<T> as BackwardFn),
    }
}

/// Registers `ops` through the host's `api`; the body of the exported `mxr_plugin_register`.
///
/// # Safety
/// `api` is null or points to a valid [`HostApi`] for the duration of the call.
#[doc(hidden)]
pub unsafe fn register(api: *const HostApi, ops: &[OpEntry]) -> i32 {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: forwarded from the caller.
        unsafe { register_all(api, ops) }
    }))
    .unwrap_or(STATUS_PANIC)
}

/// # Safety
/// As for [`register`].
unsafe fn register_all(api: *const HostApi, ops: &[OpEntry]) -> i32 {
    // SAFETY: null or valid (caller).
    let Some(api) = (unsafe { api.as_ref() }) else {
        return STATUS_BAD_CALL;
    };
    if api.abi_version != ABI_VERSION || (api.struct_size as usize) < std::mem::size_of::<HostApi>()
    {
        return STATUS_BAD_CALL;
    }
    for entry in ops {
        let info = (entry.info)();
        let Ok(strings) = DescStrings::new(&info) else {
            return STATUS_BAD_CALL; // a string with an interior NUL
        };
        let desc = strings.desc(entry);
        // SAFETY: `register_op` is the host's function for `host_ctx`; `desc` and the strings
        // it points to live until after the call.
        let rc = unsafe { (api.register_op)(api.host_ctx, &desc) };
        if rc != STATUS_OK {
            return rc;
        }
    }
    STATUS_OK
}

/// The C strings an [`OpDesc`] points to, owned for the duration of the registration.
struct DescStrings {
    name: CString,
    description: CString,
    inputs: Vec<CString>,
    outputs: Vec<CString>,
    aux: Vec<CString>,
    params: Vec<[Option<CString>; 4]>,
    cuda_source: Option<CString>,
    cuda_kernel: Option<CString>,
    // Pointer arrays into the strings above.
    input_ptrs: Vec<*const c_char>,
    output_ptrs: Vec<*const c_char>,
    aux_ptrs: Vec<*const c_char>,
    param_descs: Vec<ParamDesc>,
}

impl DescStrings {
    fn new(info: &OpInfo) -> std::result::Result<DescStrings, std::ffi::NulError> {
        let list = |names: &[&str]| -> std::result::Result<Vec<CString>, std::ffi::NulError> {
            names.iter().map(|n| CString::new(*n)).collect()
        };
        let params = info
            .params
            .iter()
            .map(|p| {
                Ok([
                    Some(CString::new(p.name)?),
                    Some(CString::new(p.type_name)?),
                    p.default.map(CString::new).transpose()?,
                    Some(CString::new(p.doc)?),
                ])
            })
            .collect::<std::result::Result<Vec<_>, std::ffi::NulError>>()?;
        let mut s = DescStrings {
            name: CString::new(info.name)?,
            description: CString::new(info.description)?,
            inputs: list(info.inputs)?,
            outputs: list(info.outputs)?,
            aux: list(info.aux)?,
            params,
            cuda_source: info.cuda.map(|c| CString::new(c.source)).transpose()?,
            cuda_kernel: info.cuda.map(|c| CString::new(c.kernel)).transpose()?,
            input_ptrs: Vec::new(),
            output_ptrs: Vec::new(),
            aux_ptrs: Vec::new(),
            param_descs: Vec::new(),
        };
        s.input_ptrs = s.inputs.iter().map(|c| c.as_ptr()).collect();
        s.output_ptrs = s.outputs.iter().map(|c| c.as_ptr()).collect();
        s.aux_ptrs = s.aux.iter().map(|c| c.as_ptr()).collect();
        let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        s.param_descs = s
            .params
            .iter()
            .map(|[name, type_name, default, doc]| ParamDesc {
                name: ptr(name),
                type_name: ptr(type_name),
                default: ptr(default),
                doc: ptr(doc),
            })
            .collect();
        Ok(s)
    }

    fn desc(&self, entry: &OpEntry) -> OpDesc {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let opt = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        OpDesc {
            struct_size: count(std::mem::size_of::<OpDesc>()),
            name: self.name.as_ptr(),
            description: self.description.as_ptr(),
            inputs: self.input_ptrs.as_ptr(),
            num_inputs: count(self.input_ptrs.len()),
            outputs: self.output_ptrs.as_ptr(),
            num_outputs: count(self.output_ptrs.len()),
            aux: self.aux_ptrs.as_ptr(),
            num_aux: count(self.aux_ptrs.len()),
            params: self.param_descs.as_ptr(),
            num_params: count(self.param_descs.len()),
            cuda_source: opt(&self.cuda_source),
            cuda_kernel: opt(&self.cuda_kernel),
            create: entry.create,
            destroy: entry.destroy,
            infer_shape: entry.infer_shape,
            infer_type: Some(entry.infer_type),
            forward: entry.forward,
            backward: entry.backward,
        }
    }
}

/// Exports the C entry points of a plugin holding the listed [`Op`] implementations:
/// `mxr_plugin_abi_version` and `mxr_plugin_register`. Use it once, in a `cdylib` crate.
///
/// ```ignore
/// mxr_plugin_abi::export_plugin!(Swish, ScaleShift);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($($op:ty),+ $(,)?) => {
        /// The plugin ABI version this library was built for (an mxr plugin entry point).
        #[unsafe(no_mangle)]
        pub extern "C" fn mxr_plugin_abi_version() -> u32 {
            $crate::ABI_VERSION
        }

        /// Registers this library's operators with the host (an mxr plugin entry point).
        ///
        /// # Safety
        /// `api` is null or points to a valid `HostApi` for the duration of the call.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn mxr_plugin_register(api: *const $crate::HostApi) -> i32 {
            let ops = [$($crate::__private::op_entry::<$op>()),+];
            unsafe { $crate::__private::register(api, &ops) }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{OpInfo, ParamInfo};

    /// Panics or fails in `create` depending on its parameter.
    struct Touchy;

    impl Op for Touchy {
        fn info() -> OpInfo {
            OpInfo {
                name: "touchy",
                description: "",
                inputs: &["data"],
                outputs: &["output"],
                aux: &[],
                params: vec![ParamInfo::required("mode", "string", "")],
                cuda: None,
            }
        }
        fn create(params: &Params) -> Result<Self> {
            match params.get("mode") {
                Some("panic") => panic!("ünïcödé panic"),
                Some("fail") => Err(Error::new("bad mode")),
                _ => Ok(Touchy),
            }
        }
        fn infer_shape(&self, inputs: &mut [Shape], outputs: &mut [Shape]) -> Result<()> {
            outputs[0] = inputs[0].clone();
            Ok(())
        }
        fn forward(&self, _: &CallCtx, _: Forward<'_, '_>) -> Result<()> {
            Ok(())
        }
    }

    /// Calls `create_fn::<Touchy>` with `mode`; returns the status, the message (in a buffer of
    /// `cap` bytes) and the state.
    fn create(mode: &str, cap: usize) -> (i32, String, *mut c_void) {
        let (key, value) = (CString::new("mode").unwrap(), CString::new(mode).unwrap());
        let attr = AttrDesc {
            key: key.as_ptr(),
            value: value.as_ptr(),
        };
        let mut buf = vec![0u8; cap];
        let mut err = ErrorBuf {
            buf: buf.as_mut_ptr(),
            cap,
            len: 0,
        };
        let mut state = std::ptr::null_mut();
        // SAFETY: one valid attribute, a state slot and an error buffer, all live for the call.
        let status = unsafe { create_fn::<Touchy>(&attr, 1, &mut state, &mut err) };
        let msg = String::from_utf8(buf[..err.len].to_vec()).expect("truncated on a char boundary");
        (status, msg, state)
    }

    #[test]
    fn entry_points_catch_panics_and_report_errors() {
        let (status, msg, state) = create("ok", 64);
        assert_eq!((status, msg.as_str()), (STATUS_OK, ""));
        assert!(!state.is_null());
        // SAFETY: made by `create_fn::<Touchy>` just above, destroyed once.
        unsafe { destroy_fn::<Touchy>(state) };
        assert_eq!(create("fail", 64).0, STATUS_ERROR);
        assert_eq!(create("fail", 64).1, "bad mode");
        let (status, msg, state) = create("panic", 64);
        assert_eq!(
            (status, msg.as_str(), state),
            (STATUS_PANIC, "ünïcödé panic", std::ptr::null_mut())
        );
        // A short buffer truncates on a character boundary ("ü" is two bytes).
        assert_eq!(create("panic", 2).1, "ü");
        assert_eq!(create("panic", 1).1, "");
    }

    #[test]
    fn shapes_cross_the_abi_both_ways() {
        for shape in [
            Shape::unknown(),
            Shape::known(&[]),
            Shape::known(&[2, 3]),
            Shape::partial(vec![None, Some(4)]),
        ] {
            assert_eq!(
                shape_from_desc(&shape_to_desc(&shape).unwrap()).unwrap(),
                shape
            );
        }
        assert!(shape_to_desc(&Shape::known(&[1; MAX_NDIM + 1])).is_err());
        let bad = ShapeDesc {
            ndim: MAX_NDIM as i32 + 1,
            dims: [1; MAX_NDIM],
        };
        assert!(shape_from_desc(&bad).is_err());
    }

    #[test]
    fn params_parse_mxnet_spellings() {
        let p = Params::new([
            ("a", "True"),
            ("b", "0"),
            ("c", " 2.5 "),
            ("d", "7"),
            ("e", "yes"),
        ]);
        assert!(p.bool("a").unwrap() && !p.bool("b").unwrap());
        assert_eq!((p.float("c").unwrap(), p.int("d").unwrap()), (2.5, 7));
        assert_eq!(
            p.bool("e").unwrap_err().message(),
            "parameter `e`: \"yes\" is not a boolean (True, False, 1 or 0)"
        );
        assert_eq!(
            p.float("zz").unwrap_err().message(),
            "parameter `zz` is missing"
        );
        assert!(
            p.int("c")
                .unwrap_err()
                .message()
                .starts_with("parameter `c`: \" 2.5 \" is invalid")
        );
    }
}
