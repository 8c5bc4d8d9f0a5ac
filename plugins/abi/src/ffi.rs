//! The raw C ABI: what crosses between the host (mxr) and a plugin library.
//!
//! Everything here is `#[repr(C)]` and holds only integers, raw pointers and `extern "C"`
//! function pointers, so a plugin can be written in any language. Rules both sides keep:
//!
//! - Strings are NUL-terminated UTF-8. Pointers in an [`OpDesc`] are valid only during the
//!   [`HostApi::register_op`] call: the host copies what it keeps.
//! - Memory is freed by whoever allocated it: an operator state made by [`CreateFn`] is freed
//!   only by [`DestroyFn`]; tensors belong to the host.
//! - Every function returns a status ([`STATUS_OK`], [`STATUS_ERROR`], [`STATUS_PANIC`],
//!   [`STATUS_BAD_CALL`]); on failure it writes a message into the [`ErrorBuf`] it was given.
//! - No panic or exception crosses the boundary: a Rust plugin catches every unwind (the
//!   [`export_plugin!`](crate::export_plugin) macro does) and must not be built with
//!   `panic = "abort"`.

use std::ffi::{c_char, c_void};

/// The ABI version this crate describes. The host refuses a plugin whose
/// [`VERSION_SYMBOL`] returns another number, before calling anything else in it.
pub const ABI_VERSION: u32 = 1;

/// The highest rank shape inference can pass through [`ShapeDesc`]. Kernels see tensors of
/// any rank.
pub const MAX_NDIM: usize = 8;

/// The exported `extern "C" fn() -> u32` returning the plugin's [`ABI_VERSION`].
pub const VERSION_SYMBOL: &str = "mxr_plugin_abi_version";

/// The exported [`RegisterFn`]: called once, after the version check, with the host's
/// [`HostApi`]; the plugin calls [`HostApi::register_op`] once per operator.
pub const REGISTER_SYMBOL: &str = "mxr_plugin_register";

/// Success.
pub const STATUS_OK: i32 = 0;
/// The function failed; the [`ErrorBuf`] says why.
pub const STATUS_ERROR: i32 = -1;
/// The function panicked; the panic was caught and its message is in the [`ErrorBuf`].
pub const STATUS_PANIC: i32 = -2;
/// The call broke the ABI (null pointer, wrong version or struct size, bad counts).
pub const STATUS_BAD_CALL: i32 = -3;

/// The type of [`VERSION_SYMBOL`].
pub type VersionFn = unsafe extern "C" fn() -> u32;

/// The type of [`REGISTER_SYMBOL`]: registers the plugin's operators through `api`, which is
/// valid for the duration of the call.
pub type RegisterFn = unsafe extern "C" fn(api: *const HostApi) -> i32;

/// What the host offers a plugin during registration.
#[repr(C)]
#[derive(Debug)]
pub struct HostApi {
    /// The host's [`ABI_VERSION`].
    pub abi_version: u32,
    /// `size_of::<HostApi>()` on the host: a plugin refuses a smaller one.
    pub struct_size: u32,
    /// Opaque host data, passed back to [`HostApi::register_op`].
    pub host_ctx: *mut c_void,
    /// Registers one operator; `desc` and everything it points to need only live during the
    /// call. Returns a status and fails on a malformed description.
    pub register_op: unsafe extern "C" fn(host_ctx: *mut c_void, desc: *const OpDesc) -> i32,
}

/// One parameter of an operator, as MXNet lists it.
#[repr(C)]
#[derive(Debug)]
pub struct ParamDesc {
    /// The name (`alpha`).
    pub name: *const c_char,
    /// The type as MXNet documents it (`float`, `boolean`, `int`, `Shape(tuple)`).
    pub type_name: *const c_char,
    /// The default in MXNet's string form; null when the parameter is required.
    pub default: *const c_char,
    /// What it does.
    pub doc: *const c_char,
}

/// One `key = value` parameter, in MXNet's string form.
#[repr(C)]
#[derive(Debug)]
pub struct AttrDesc {
    /// The parameter's name.
    pub key: *const c_char,
    /// Its value (`0.5`, `True`, `(3, 3)`).
    pub value: *const c_char,
}

/// A shape during inference: `ndim` is -1 when the rank is unknown; a dimension is -1 when
/// unknown. Only the first `ndim` entries of `dims` count.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeDesc {
    /// The rank, or -1.
    pub ndim: i32,
    /// The dimensions, -1 where unknown.
    pub dims: [i64; MAX_NDIM],
}

/// A tensor handed to a kernel: row-major elements of `dtype` (MXNet's type flag: 0 float32,
/// 1 float64, 2 float16, 3 uint8, 4 int32, 5 int8, 6 int64), aligned for that type. Inputs are
/// read-only; outputs are writable and never alias an input or each other.
#[repr(C)]
#[derive(Debug)]
pub struct TensorDesc {
    /// The first element.
    pub data: *mut c_void,
    /// The number of bytes at `data`.
    pub nbytes: usize,
    /// MXNet's type flag.
    pub dtype: i32,
    /// The rank.
    pub ndim: usize,
    /// `ndim` dimensions.
    pub shape: *const usize,
}

/// Facts about one kernel call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CallInfo {
    /// 1 in training mode (as for Dropout and BatchNorm), else 0.
    pub is_train: i32,
    /// The device: 1 CPU, 2 GPU (MXNet's device type codes).
    pub dev_type: i32,
    /// The device's index.
    pub dev_id: i32,
}

/// Where a plugin writes an error message: at most `cap` bytes (no NUL needed) into `buf`,
/// their count into `len`.
#[repr(C)]
#[derive(Debug)]
pub struct ErrorBuf {
    /// The host's buffer.
    pub buf: *mut u8,
    /// Its capacity.
    pub cap: usize,
    /// Bytes written.
    pub len: usize,
}

/// Parses `num_attrs` attributes (every declared parameter, defaults filled in by the host)
/// into a new operator state written to `*state`.
pub type CreateFn = unsafe extern "C" fn(
    attrs: *const AttrDesc,
    num_attrs: u32,
    state: *mut *mut c_void,
    err: *mut ErrorBuf,
) -> i32;

/// Frees a state made by [`CreateFn`].
pub type DestroyFn = unsafe extern "C" fn(state: *mut c_void);

/// Fills in unknown shapes of inputs (data then auxiliary states) and outputs, in either
/// direction. Shapes the plugin leaves alone stay as they were.
pub type InferShapeFn = unsafe extern "C" fn(
    state: *const c_void,
    inputs: *mut ShapeDesc,
    num_inputs: u32,
    outputs: *mut ShapeDesc,
    num_outputs: u32,
    err: *mut ErrorBuf,
) -> i32;

/// Fills in unknown type flags (-1) of inputs and outputs.
pub type InferTypeFn = unsafe extern "C" fn(
    state: *const c_void,
    inputs: *mut i32,
    num_inputs: u32,
    outputs: *mut i32,
    num_outputs: u32,
    err: *mut ErrorBuf,
) -> i32;

/// Computes the outputs. `inputs`: the data inputs then the auxiliary states (read-only);
/// `outputs`: the outputs, then one writable tensor per auxiliary state holding its current
/// value (the kernel may update it, as BatchNorm does its moving statistics).
pub type ForwardFn = unsafe extern "C" fn(
    state: *const c_void,
    call: *const CallInfo,
    inputs: *const TensorDesc,
    num_inputs: u32,
    outputs: *const TensorDesc,
    num_outputs: u32,
    err: *mut ErrorBuf,
) -> i32;

/// Computes the gradient of every data input (`igrads`, one per data input, to be
/// overwritten) from the head gradients (`ograds`, one per output), the forward inputs (data
/// then auxiliary states) and the forward outputs.
pub type BackwardFn = unsafe extern "C" fn(
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
) -> i32;

/// An operator's description: names, parameters, inference and kernels.
#[repr(C)]
#[derive(Debug)]
pub struct OpDesc {
    /// `size_of::<OpDesc>()` in the plugin: the host refuses another size.
    pub struct_size: u32,
    /// The operator's name, unique in the process (the host refuses a name that is taken).
    pub name: *const c_char,
    /// What it computes.
    pub description: *const c_char,
    /// `num_inputs` data input names.
    pub inputs: *const *const c_char,
    /// How many data inputs.
    pub num_inputs: u32,
    /// `num_outputs` output names.
    pub outputs: *const *const c_char,
    /// How many outputs (at least one).
    pub num_outputs: u32,
    /// `num_aux` auxiliary state names: inputs after the data inputs that the forward kernel
    /// may update and that get no gradient.
    pub aux: *const *const c_char,
    /// How many auxiliary states.
    pub num_aux: u32,
    /// `num_params` parameters.
    pub params: *const ParamDesc,
    /// How many parameters.
    pub num_params: u32,
    /// CUDA C source of a GPU kernel, for the host to compile with NVRTC; null when none.
    pub cuda_source: *const c_char,
    /// The `extern "C" __global__` function in `cuda_source`; null when none.
    pub cuda_kernel: *const c_char,
    /// Makes a state from parameters.
    pub create: CreateFn,
    /// Frees a state.
    pub destroy: DestroyFn,
    /// Shape inference.
    pub infer_shape: InferShapeFn,
    /// Type inference; null for MXNet's default (every input and output has one type).
    pub infer_type: Option<InferTypeFn>,
    /// The CPU forward kernel.
    pub forward: ForwardFn,
    /// The CPU backward kernel; null when the operator has no gradient.
    pub backward: Option<BackwardFn>,
}
