//! A plugin's operator description, copied out of its [`OpDesc`], and the registry
//! [`Operator`]s that call its C functions: the forward operator and the hidden
//! `_backward_<name>` operator its gradient builds.

use std::ffi::{CStr, CString, c_char, c_void};
use std::sync::Arc;

use libloading::Library;
use mxr_engine::DeviceType;
use mxr_kernels::DType;
use mxr_operators::Error as OpError;
use mxr_operators::registry::attrs::ParamSpec;
use mxr_operators::registry::{
    Entry, GradCtx, OpContext, OpDef, OpFactory, OpRef, Operator, Shape, ShapeCtx, TensorMut,
    TensorRef, TypeCtx,
};
use mxr_plugin_abi::ffi::{
    AttrDesc, BackwardFn, CallInfo, CreateFn, DestroyFn, ErrorBuf, ForwardFn, InferShapeFn,
    InferTypeFn, OpDesc, ShapeDesc, TensorDesc,
};
use mxr_plugin_abi::{MAX_NDIM, STATUS_ERROR, STATUS_OK, STATUS_PANIC};

use super::CudaSource;

type OpResult<T> = std::result::Result<T, OpError>;

/// Leaks a string: registered operators live for the rest of the process, and the registry
/// and the `Operator` trait hand out `&'static str` names.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A plugin operator's description, owned by the host.
pub(super) struct PluginOpDef {
    pub(super) name: &'static str,
    backward_name: &'static str,
    description: &'static str,
    inputs: Vec<String>,
    outputs: Vec<String>,
    aux: Vec<String>,
    params: Vec<ParamSpec>,
    pub(super) cuda: Option<CudaSource>,
    create: CreateFn,
    destroy: DestroyFn,
    infer_shape: InferShapeFn,
    infer_type: Option<InferTypeFn>,
    forward: ForwardFn,
    backward: Option<BackwardFn>,
    /// Keeps the plugin loaded while any function pointer above may be called. Declared last,
    /// so it is dropped after them.
    _library: Arc<Library>,
}

impl std::fmt::Debug for PluginOpDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginOpDef")
            .field("name", &self.name)
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .field("aux", &self.aux)
            .field("has_backward", &self.backward.is_some())
            .finish_non_exhaustive()
    }
}

/// A string of the description; `what` names it in the error.
///
/// # Safety
/// `ptr` is null or a NUL-terminated string valid during the registration call.
unsafe fn desc_str(ptr: *const c_char, what: &str) -> Result<String, String> {
    if ptr.is_null() {
        return Err(format!("{what} is a null pointer"));
    }
    // SAFETY: non-null and NUL-terminated (caller, per the ABI).
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str()
        .map(str::to_owned)
        .map_err(|_| format!("{what} is not UTF-8"))
}

/// An optional string (null = none).
///
/// # Safety
/// As for [`desc_str`].
unsafe fn desc_opt_str(ptr: *const c_char, what: &str) -> Result<Option<String>, String> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded.
        unsafe { desc_str(ptr, what) }.map(Some)
    }
}

/// A list of `n` strings.
///
/// # Safety
/// `ptr` is null (only when `n == 0`) or points to `n` strings valid during the call.
unsafe fn desc_list(ptr: *const *const c_char, n: u32, what: &str) -> Result<Vec<String>, String> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(format!("{what}: a null pointer for {n} names"));
    }
    // SAFETY: `n` pointers (caller, per the ABI).
    let ptrs = unsafe { std::slice::from_raw_parts(ptr, n as usize) };
    ptrs.iter()
        .enumerate()
        // SAFETY: each is a string valid during the call (ABI).
        .map(|(i, p)| unsafe { desc_str(*p, &format!("{what} #{i}")) })
        .collect()
}

impl PluginOpDef {
    /// Copies a plugin's description; an error says what is malformed.
    ///
    /// # Safety
    /// `desc` points to an [`OpDesc`] valid during the call whose function pointers stay
    /// valid while `library` is loaded.
    pub(super) unsafe fn from_desc(
        desc: *const OpDesc,
        library: Arc<Library>,
    ) -> Result<PluginOpDef, String> {
        // SAFETY: valid for the call, or null (checked by `as_ref`).
        let d = unsafe { desc.as_ref() }.ok_or("a null operator description")?;
        if d.struct_size as usize != std::mem::size_of::<OpDesc>() {
            return Err(format!(
                "an operator description of {} bytes, expected {} (built against another \
                 mxr-plugin-abi)",
                d.struct_size,
                std::mem::size_of::<OpDesc>()
            ));
        }
        // SAFETY: every pointer of a valid description is valid during the call (caller).
        let (name, description, inputs, outputs, aux) = unsafe {
            let name = desc_str(d.name, "the operator name")?;
            let what = |w: &str| format!("operator `{name}`: {w}");
            (
                name.clone(),
                desc_opt_str(d.description, &what("the description"))?.unwrap_or_default(),
                desc_list(d.inputs, d.num_inputs, &what("input names"))?,
                desc_list(d.outputs, d.num_outputs, &what("output names"))?,
                desc_list(d.aux, d.num_aux, &what("auxiliary state names"))?,
            )
        };
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid_name {
            return Err(format!(
                "operator name {name:?}: use letters, digits, `_` and `.` only"
            ));
        }
        if name.starts_with("_backward") {
            return Err(format!(
                "operator `{name}`: names starting with `_backward` are reserved for gradients"
            ));
        }
        if outputs.is_empty() {
            return Err(format!("operator `{name}` declares no output"));
        }
        let mut params = Vec::with_capacity(d.num_params as usize);
        if d.num_params > 0 {
            if d.params.is_null() {
                return Err(format!("operator `{name}`: null parameter list"));
            }
            // SAFETY: `num_params` descriptions valid during the call (ABI).
            let descs = unsafe { std::slice::from_raw_parts(d.params, d.num_params as usize) };
            for (i, p) in descs.iter().enumerate() {
                let what = format!("operator `{name}`: parameter #{i}");
                // SAFETY: strings valid during the call (ABI).
                let (pname, type_name, default, doc) = unsafe {
                    (
                        desc_str(p.name, &format!("{what} name"))?,
                        desc_opt_str(p.type_name, &format!("{what} type"))?.unwrap_or_default(),
                        desc_opt_str(p.default, &format!("{what} default"))?,
                        desc_opt_str(p.doc, &format!("{what} doc"))?.unwrap_or_default(),
                    )
                };
                if params.iter().any(|s: &ParamSpec| s.name == pname) {
                    return Err(format!(
                        "operator `{name}`: parameter `{pname}` declared twice"
                    ));
                }
                params.push(ParamSpec {
                    name: leak(pname),
                    type_name,
                    default,
                    doc,
                });
            }
        }
        // SAFETY: strings valid during the call (ABI).
        let cuda = unsafe {
            match (
                desc_opt_str(d.cuda_source, "the CUDA source")?,
                desc_opt_str(d.cuda_kernel, "the CUDA kernel name")?,
            ) {
                (Some(source), Some(kernel)) => Some(CudaSource { source, kernel }),
                (None, None) => None,
                _ => {
                    return Err(format!(
                        "operator `{name}`: CUDA source and kernel name come together"
                    ));
                }
            }
        };
        Ok(PluginOpDef {
            backward_name: leak(format!("_backward_{name}")),
            name: leak(name),
            description: leak(description),
            inputs,
            outputs,
            aux,
            params,
            cuda,
            create: d.create,
            destroy: d.destroy,
            infer_shape: d.infer_shape,
            infer_type: d.infer_type,
            forward: d.forward,
            backward: d.backward,
            _library: library,
        })
    }

    /// Whether the plugin has a backward kernel.
    pub(super) fn has_backward(&self) -> bool {
        self.backward.is_some()
    }

    /// The registry definitions: the operator, and `_backward_<name>` when it has a gradient.
    pub(super) fn op_defs(self: &Arc<Self>) -> Vec<OpDef> {
        let forward: &'static dyn OpFactory = Box::leak(Box::new(Factory {
            def: Arc::clone(self),
            backward: false,
        }));
        let mut defs = vec![OpDef::dynamic(self.name, self.description, forward)];
        if self.has_backward() {
            let backward: &'static dyn OpFactory = Box::leak(Box::new(Factory {
                def: Arc::clone(self),
                backward: true,
            }));
            let doc = leak(format!("Gradient of {} (from a plugin).", self.name));
            defs.push(OpDef::dynamic(self.backward_name, doc, backward));
        }
        defs
    }

    fn plugin_error(&self, reason: String) -> OpError {
        OpError::Plugin {
            op: self.name.to_string(),
            reason,
        }
    }

    /// Validates `attrs` against the declared parameters, fills in defaults and asks the
    /// plugin for a state. `op` names the operator in errors (the forward or backward name).
    fn instantiate(
        self: &Arc<Self>,
        op: &'static str,
        attrs: &[(&str, &str)],
    ) -> OpResult<PluginOp> {
        let is_user_attr = |k: &str| k.len() > 4 && k.starts_with("__") && k.ends_with("__");
        let mut values: Vec<Option<String>> =
            self.params.iter().map(|p| p.default.clone()).collect();
        let mut given = Vec::new();
        for (key, value) in attrs {
            if is_user_attr(key) {
                continue;
            }
            let Some(i) = self.params.iter().position(|p| p.name == *key) else {
                let valid: Vec<&str> = self.params.iter().map(|p| p.name).collect();
                return Err(OpError::UnknownParam {
                    op: op.to_string(),
                    name: (*key).to_string(),
                    valid: if valid.is_empty() {
                        "none".into()
                    } else {
                        valid.join(", ")
                    },
                });
            };
            values[i] = Some((*value).to_string());
            given.retain(|(k, _): &(String, String)| k != key);
            given.push(((*key).to_string(), (*value).to_string()));
        }
        let mut c_attrs = Vec::with_capacity(values.len());
        for (p, v) in self.params.iter().zip(&values) {
            let Some(v) = v else {
                return Err(OpError::MissingParam {
                    op: op.to_string(),
                    name: p.name.to_string(),
                    type_name: p.type_name.clone(),
                });
            };
            let bad = |_| OpError::BadParam {
                op: op.to_string(),
                name: p.name.to_string(),
                value: v.clone(),
                type_name: p.type_name.clone(),
                hint: "; a NUL character".into(),
            };
            c_attrs.push((
                CString::new(p.name).map_err(bad)?,
                CString::new(v.as_str()).map_err(bad)?,
            ));
        }
        let raw: Vec<AttrDesc> = c_attrs
            .iter()
            .map(|(k, v)| AttrDesc {
                key: k.as_ptr(),
                value: v.as_ptr(),
            })
            .collect();
        let mut state: *mut c_void = std::ptr::null_mut();
        let status = call_plugin(|err| {
            // SAFETY: `create` is the plugin's function (loaded while `self` lives); the
            // attribute strings and the state slot outlive the call.
            unsafe { (self.create)(raw.as_ptr(), count(raw.len()), &mut state, err) }
        });
        if let Err(f) = status {
            return Err(self.plugin_error(f.describe("parameter parsing (create)")));
        }
        if state.is_null() {
            return Err(self.plugin_error("create returned no state".into()));
        }
        given.sort_by_key(|(k, _)| self.params.iter().position(|p| p.name == k.as_str()));
        Ok(PluginOp {
            def: Arc::clone(self),
            state: Arc::new(State {
                ptr: state,
                def: Arc::clone(self),
            }),
            attrs: given,
        })
    }

    fn call_info(ctx: &OpContext<'_>) -> CallInfo {
        CallInfo {
            is_train: i32::from(ctx.is_train),
            dev_type: match ctx.context.device_type() {
                DeviceType::Gpu => 2,
                _ => 1,
            },
            dev_id: i32::try_from(ctx.context.device_id()).unwrap_or(i32::MAX),
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A failed plugin call: its status and message.
struct Failure {
    status: i32,
    message: String,
}

impl Failure {
    fn describe(&self, what: &str) -> String {
        match self.status {
            STATUS_PANIC => format!("{what} panicked: {}", self.message),
            STATUS_ERROR => format!("{what} failed: {}", self.message),
            other => format!("{what} returned status {other}: {}", self.message),
        }
    }
}

/// Calls a plugin function with an error buffer; a status other than OK is a [`Failure`]
/// with the plugin's message.
fn call_plugin(f: impl FnOnce(*mut ErrorBuf) -> i32) -> Result<(), Failure> {
    let mut buf = vec![0u8; 4096];
    let mut err = ErrorBuf {
        buf: buf.as_mut_ptr(),
        cap: buf.len(),
        len: 0,
    };
    let status = f(&mut err);
    if status == STATUS_OK {
        return Ok(());
    }
    let len = err.len.min(buf.len());
    Err(Failure {
        status,
        message: String::from_utf8_lossy(&buf[..len]).into_owned(),
    })
}

/// The registry's factory for a plugin operator or its backward operator.
#[derive(Debug)]
struct Factory {
    def: Arc<PluginOpDef>,
    backward: bool,
}

impl OpFactory for Factory {
    fn params(&self) -> Vec<ParamSpec> {
        self.def.params.clone()
    }

    fn create(&self, attrs: &[(&str, &str)]) -> OpResult<OpRef> {
        if self.backward {
            let op = self.def.instantiate(self.def.backward_name, attrs)?;
            Ok(Arc::new(PluginBackwardOp {
                def: op.def,
                state: op.state,
                attrs: op.attrs,
            }))
        } else {
            Ok(Arc::new(self.def.instantiate(self.def.name, attrs)?))
        }
    }
}

/// A plugin's operator state; destroyed by the plugin when the last operator using it goes.
struct State {
    ptr: *mut c_void,
    def: Arc<PluginOpDef>,
}

// SAFETY: the state is only passed back to the plugin's functions, which the ABI requires to
// be callable from any thread, concurrently (the Rust layer requires `Op: Send + Sync`).
unsafe impl Send for State {}
// SAFETY: as above; the host never touches the pointee.
unsafe impl Sync for State {}

impl Drop for State {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from the plugin's `create` and is destroyed once, here; `def`
        // keeps the library loaded until after this call.
        unsafe { (self.def.destroy)(self.ptr) };
    }
}

/// A plugin operator with its parameters parsed (a registry [`Operator`]).
pub(super) struct PluginOp {
    def: Arc<PluginOpDef>,
    state: Arc<State>,
    attrs: Vec<(String, String)>,
}

impl std::fmt::Debug for PluginOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginOp")
            .field("name", &self.def.name)
            .field("attrs", &self.attrs)
            .finish_non_exhaustive()
    }
}

/// Shapes as the ABI passes them.
fn shape_to_desc(shape: &Shape) -> Result<ShapeDesc, String> {
    let mut d = ShapeDesc {
        ndim: -1,
        dims: [-1; MAX_NDIM],
    };
    if let Some(dims) = shape.partial_dims() {
        if dims.len() > MAX_NDIM {
            return Err(format!(
                "shape {shape} has rank {}, plugin operators take at most {MAX_NDIM}",
                dims.len()
            ));
        }
        d.ndim = count(dims.len()) as i32;
        for (slot, dim) in d.dims.iter_mut().zip(dims) {
            *slot = dim.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        }
    }
    Ok(d)
}

fn shape_from_desc(d: &ShapeDesc) -> Result<Shape, String> {
    if d.ndim == -1 {
        return Ok(Shape::unknown());
    }
    let ndim = usize::try_from(d.ndim)
        .ok()
        .filter(|n| *n <= MAX_NDIM)
        .ok_or_else(|| format!("the plugin returned a shape of rank {}", d.ndim))?;
    d.dims[..ndim]
        .iter()
        .map(|&v| match v {
            -1 => Ok(None),
            v => usize::try_from(v)
                .map(Some)
                .map_err(|_| format!("the plugin returned a dimension {v}")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Shape::partial)
}

/// Runs the plugin's shape inference on slots mapped from the context: `inputs[k]` and
/// `outputs[k]` are indices into the context's inputs and outputs (by `Slot`).
fn plugin_infer_shape(
    def: &PluginOpDef,
    state: &State,
    shapes: &mut ShapeCtx<'_>,
    inputs: &[Slot],
    outputs: &[Slot],
) -> OpResult<()> {
    let get = |shapes: &ShapeCtx<'_>, s: Slot| match s {
        Slot::In(i) => shapes.input(i).clone(),
        Slot::Out(i) => shapes.output(i).clone(),
    };
    let to = |shapes: &ShapeCtx<'_>, slots: &[Slot]| -> OpResult<Vec<ShapeDesc>> {
        slots
            .iter()
            .map(|s| shape_to_desc(&get(shapes, *s)).map_err(|r| shapes.error(r)))
            .collect()
    };
    let mut ins = to(shapes, inputs)?;
    let mut outs = to(shapes, outputs)?;
    call_plugin(|err| {
        // SAFETY: the plugin's function with its own live state and two arrays of the given
        // lengths, all valid for the call.
        unsafe {
            (def.infer_shape)(
                state.ptr,
                ins.as_mut_ptr(),
                count(ins.len()),
                outs.as_mut_ptr(),
                count(outs.len()),
                err,
            )
        }
    })
    .map_err(|f| match f.status {
        STATUS_ERROR => shapes.error(f.message),
        _ => def.plugin_error(f.describe("shape inference")),
    })?;
    for (slots, descs) in [(inputs, &ins), (outputs, &outs)] {
        for (slot, d) in slots.iter().zip(descs.iter()) {
            let shape = shape_from_desc(d).map_err(|r| def.plugin_error(r))?;
            match *slot {
                Slot::In(i) => shapes.set_input(i, shape)?,
                Slot::Out(i) => shapes.set_output(i, shape)?,
            }
        }
    }
    Ok(())
}

/// A slot of a node: input `i` or output `i`.
#[derive(Debug, Clone, Copy)]
enum Slot {
    In(usize),
    Out(usize),
}

fn tensor_desc(t: &TensorRef<'_>) -> TensorDesc {
    TensorDesc {
        data: t.bytes.as_ptr().cast_mut().cast(),
        nbytes: t.bytes.len(),
        dtype: t.dtype.flag(),
        ndim: t.shape.len(),
        shape: t.shape.as_ptr(),
    }
}

fn tensor_desc_mut(t: &mut TensorMut<'_>) -> TensorDesc {
    TensorDesc {
        data: t.bytes.as_mut_ptr().cast(),
        nbytes: t.bytes.len(),
        dtype: t.dtype.flag(),
        ndim: t.shape.len(),
        shape: t.shape.as_ptr(),
    }
}

impl PluginOp {
    fn n_data(&self) -> usize {
        self.def.inputs.len()
    }
    fn n_aux(&self) -> usize {
        self.def.aux.len()
    }
    fn n_out(&self) -> usize {
        self.def.outputs.len()
    }
}

impl Operator for PluginOp {
    fn name(&self) -> &'static str {
        self.def.name
    }

    fn attrs(&self) -> Vec<(String, String)> {
        self.attrs.clone()
    }

    fn input_names(&self) -> Vec<String> {
        self.def
            .inputs
            .iter()
            .chain(&self.def.aux)
            .cloned()
            .collect()
    }

    fn num_inputs(&self) -> usize {
        self.n_data() + self.n_aux()
    }

    fn output_names(&self) -> Vec<String> {
        self.def.outputs.clone()
    }

    fn num_outputs(&self) -> usize {
        self.n_out()
    }

    fn mutate_inputs(&self) -> Vec<usize> {
        (self.n_data()..self.n_data() + self.n_aux()).collect()
    }

    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> OpResult<()> {
        let ins: Vec<Slot> = (0..shapes.num_inputs()).map(Slot::In).collect();
        let outs: Vec<Slot> = (0..shapes.num_outputs()).map(Slot::Out).collect();
        plugin_infer_shape(&self.def, &self.state, shapes, &ins, &outs)
    }

    fn infer_type(&self, types: &mut TypeCtx<'_>) -> OpResult<()> {
        let Some(infer_type) = self.def.infer_type else {
            return types.all_same();
        };
        let n_in = self.num_inputs();
        let n_out = self.n_out();
        let mut ins: Vec<i32> = (0..n_in)
            .map(|i| types.input(i).map_or(-1, DType::flag))
            .collect();
        let mut outs: Vec<i32> = (0..n_out)
            .map(|i| types.output(i).map_or(-1, DType::flag))
            .collect();
        call_plugin(|err| {
            // SAFETY: the plugin's function with its live state and arrays of the given
            // lengths, valid for the call.
            unsafe {
                infer_type(
                    self.state.ptr,
                    ins.as_mut_ptr(),
                    count(n_in),
                    outs.as_mut_ptr(),
                    count(n_out),
                    err,
                )
            }
        })
        .map_err(|f| match f.status {
            STATUS_ERROR => types.error(f.message),
            _ => self.def.plugin_error(f.describe("type inference")),
        })?;
        let dtype = |flag: i32| {
            DType::from_flag(flag).ok_or_else(|| {
                self.def.plugin_error(format!(
                    "type inference returned an unknown type flag {flag}"
                ))
            })
        };
        for (i, &f) in ins.iter().enumerate().filter(|(_, f)| **f >= 0) {
            types.set_input(i, dtype(f)?)?;
        }
        for (i, &f) in outs.iter().enumerate().filter(|(_, f)| **f >= 0) {
            types.set_output(i, dtype(f)?)?;
        }
        Ok(())
    }

    fn forward(
        &self,
        ctx: &mut OpContext<'_>,
        inputs: &[TensorRef<'_>],
        outputs: &mut [TensorMut<'_>],
    ) -> OpResult<()> {
        if inputs.len() != self.num_inputs() || outputs.len() != self.n_out() + self.n_aux() {
            return Err(self.def.plugin_error(format!(
                "forward called with {} inputs and {} outputs, expected {} and {}",
                inputs.len(),
                outputs.len(),
                self.num_inputs(),
                self.n_out() + self.n_aux()
            )));
        }
        let ins: Vec<TensorDesc> = inputs.iter().map(tensor_desc).collect();
        let outs: Vec<TensorDesc> = outputs.iter_mut().map(tensor_desc_mut).collect();
        let call = PluginOpDef::call_info(ctx);
        call_plugin(|err| {
            // SAFETY: the plugin's kernel with its live state; the tensors stay borrowed (the
            // outputs exclusively) for the call, and the shapes they point to as well.
            unsafe {
                (self.def.forward)(
                    self.state.ptr,
                    &call,
                    ins.as_ptr(),
                    count(ins.len()),
                    outs.as_ptr(),
                    count(outs.len()),
                    err,
                )
            }
        })
        .map_err(|f| self.def.plugin_error(f.describe("the forward kernel")))
    }

    fn gradient(&self, grad: &mut GradCtx<'_>) -> OpResult<Vec<Option<Entry>>> {
        if self.def.backward.is_none() {
            return Err(OpError::Unsupported {
                op: self.def.name.to_string(),
                what: "a gradient (the plugin has no backward kernel)".into(),
            });
        }
        let inputs: Vec<Entry> = grad
            .ograds
            .iter()
            .chain(grad.inputs)
            .chain(grad.outputs)
            .copied()
            .collect();
        let back = PluginBackwardOp {
            def: Arc::clone(&self.def),
            state: Arc::clone(&self.state),
            attrs: self.attrs.clone(),
        };
        let out = grad.backward_node(back, &inputs)?;
        let mut grads: Vec<Option<Entry>> = out.into_iter().map(Some).collect();
        grads.resize(self.num_inputs(), None); // auxiliary states get no gradient
        Ok(grads)
    }
}

/// `_backward_<name>`: inputs (head gradients, forward inputs with auxiliary states, forward
/// outputs); outputs one gradient per data input.
pub(super) struct PluginBackwardOp {
    def: Arc<PluginOpDef>,
    state: Arc<State>,
    attrs: Vec<(String, String)>,
}

impl std::fmt::Debug for PluginBackwardOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginBackwardOp")
            .field("name", &self.def.backward_name)
            .field("attrs", &self.attrs)
            .finish_non_exhaustive()
    }
}

impl PluginBackwardOp {
    fn n_out(&self) -> usize {
        self.def.outputs.len()
    }
    fn n_in(&self) -> usize {
        self.def.inputs.len() + self.def.aux.len()
    }
    fn n_data(&self) -> usize {
        self.def.inputs.len()
    }
}

impl Operator for PluginBackwardOp {
    #[allow(clippy::misnamed_getters)] // the backward operator's own name, not the forward's
    fn name(&self) -> &'static str {
        self.def.backward_name
    }

    fn attrs(&self) -> Vec<(String, String)> {
        self.attrs.clone()
    }

    fn input_names(&self) -> Vec<String> {
        let d = &self.def;
        d.outputs
            .iter()
            .map(|o| format!("ograd_{o}"))
            .chain(d.inputs.iter().chain(&d.aux).cloned())
            .chain(d.outputs.iter().map(|o| format!("out_{o}")))
            .collect()
    }

    fn num_inputs(&self) -> usize {
        2 * self.n_out() + self.n_in()
    }

    fn output_names(&self) -> Vec<String> {
        self.def
            .inputs
            .iter()
            .map(|i| format!("{i}_grad"))
            .collect()
    }

    fn num_outputs(&self) -> usize {
        self.n_data()
    }

    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> OpResult<()> {
        // Gradient k has the shape of forward input k, and head gradient j that of output j;
        // the plugin's own inference relates the forward inputs and outputs.
        let (n_out, n_in) = (self.n_out(), self.n_in());
        for k in 0..self.n_data() {
            let known = shapes.input(n_out + k).clone();
            shapes.set_output(k, known)?;
            let known = shapes.output(k).clone();
            shapes.set_input(n_out + k, known)?;
        }
        for j in 0..n_out {
            let known = shapes.input(j).clone();
            shapes.set_input(n_out + n_in + j, known)?;
            let known = shapes.input(n_out + n_in + j).clone();
            shapes.set_input(j, known)?;
        }
        let ins: Vec<Slot> = (n_out..n_out + n_in).map(Slot::In).collect();
        let outs: Vec<Slot> = (n_out + n_in..2 * n_out + n_in).map(Slot::In).collect();
        plugin_infer_shape(&self.def, &self.state, shapes, &ins, &outs)?;
        for k in 0..self.n_data() {
            let known = shapes.input(n_out + k).clone();
            shapes.set_output(k, known)?;
        }
        Ok(())
    }

    fn infer_type(&self, types: &mut TypeCtx<'_>) -> OpResult<()> {
        let n_out = self.n_out();
        for k in 0..self.n_data() {
            if let Some(d) = types.input(n_out + k) {
                types.set_output(k, d)?;
            } else if let Some(d) = types.output(k) {
                types.set_input(n_out + k, d)?;
            }
        }
        Ok(())
    }

    fn forward(
        &self,
        ctx: &mut OpContext<'_>,
        inputs: &[TensorRef<'_>],
        outputs: &mut [TensorMut<'_>],
    ) -> OpResult<()> {
        let (n_out, n_in) = (self.n_out(), self.n_in());
        if inputs.len() != 2 * n_out + n_in || outputs.len() != self.n_data() {
            return Err(self.def.plugin_error(format!(
                "backward called with {} inputs and {} outputs, expected {} and {}",
                inputs.len(),
                outputs.len(),
                2 * n_out + n_in,
                self.n_data()
            )));
        }
        let Some(backward) = self.def.backward else {
            return Err(self.def.plugin_error("no backward kernel".into()));
        };
        let descs: Vec<TensorDesc> = inputs.iter().map(tensor_desc).collect();
        let (og, rest) = descs.split_at(n_out);
        let (ins, outs) = rest.split_at(n_in);
        let igrads: Vec<TensorDesc> = outputs.iter_mut().map(tensor_desc_mut).collect();
        let call = PluginOpDef::call_info(ctx);
        call_plugin(|err| {
            // SAFETY: the plugin's backward kernel with its live state; every tensor stays
            // borrowed for the call (the gradients exclusively).
            unsafe {
                backward(
                    self.state.ptr,
                    &call,
                    og.as_ptr(),
                    count(og.len()),
                    ins.as_ptr(),
                    count(ins.len()),
                    outs.as_ptr(),
                    count(outs.len()),
                    igrads.as_ptr(),
                    count(igrads.len()),
                    err,
                )
            }
        })
        .map_err(|f| self.def.plugin_error(f.describe("the backward kernel")))
    }
}
