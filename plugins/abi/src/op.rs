//! The safe side for plugin authors: the [`Op`] trait and the types its methods see.

use std::fmt;
use std::str::FromStr;

/// A plugin's error: a message for the host, which reports it with the operator's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Error {
        Error(message.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// A plugin function's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns early with an [`Error`] built like `format!`.
///
/// ```
/// fn positive(x: f64) -> mxr_plugin_abi::Result<f64> {
///     if x <= 0.0 {
///         mxr_plugin_abi::bail!("expected a positive number, got {x}");
///     }
///     Ok(x)
/// }
/// assert_eq!(positive(-1.0).unwrap_err().message(), "expected a positive number, got -1");
/// ```
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::Error::new(format!($($arg)*)))
    };
}

/// An element type, numbered by MXNet's type flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// float32 (flag 0).
    F32,
    /// float64 (flag 1).
    F64,
    /// float16 (flag 2); kernels see its raw bytes.
    F16,
    /// uint8 (flag 3).
    U8,
    /// int32 (flag 4).
    I32,
    /// int8 (flag 5).
    I8,
    /// int64 (flag 6).
    I64,
}

impl DType {
    const ALL: [DType; 7] = [
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
        match self {
            DType::F32 => 0,
            DType::F64 => 1,
            DType::F16 => 2,
            DType::U8 => 3,
            DType::I32 => 4,
            DType::I8 => 5,
            DType::I64 => 6,
        }
    }

    /// The dtype of a flag; `None` for an unknown one.
    pub fn from_flag(flag: i32) -> Option<DType> {
        DType::ALL.get(usize::try_from(flag).ok()?).copied()
    }

    /// numpy's name (`float32`).
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
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type a tensor's elements can be read as.
pub trait Element: sealed::Sealed + Copy + 'static {
    /// The matching dtype.
    const DTYPE: DType;
}

macro_rules! element {
    ($($t:ty => $d:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$d;
        }
    )*};
}

element!(f32 => F32, f64 => F64, u8 => U8, i32 => I32, i8 => I8, i64 => I64);

/// A float element type a kernel can compute on in f64: read with [`Real::to_f64`], written
/// back with [`Real::from_f64`] (rounding to the nearest `f32` for `f32`).
pub trait Real: Element {
    /// The value as an `f64` (exact).
    fn to_f64(self) -> f64;
    /// The `f64` value as this type.
    fn from_f64(v: f64) -> Self;
}

impl Real for f32 {
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Real for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// A read-only tensor: a shape, a dtype and row-major elements.
#[derive(Debug, Clone, Copy)]
pub struct Tensor<'a> {
    pub(crate) shape: &'a [usize],
    pub(crate) dtype: DType,
    pub(crate) bytes: &'a [u8],
}

/// A writable tensor.
#[derive(Debug)]
pub struct TensorMut<'a> {
    pub(crate) shape: &'a [usize],
    pub(crate) dtype: DType,
    pub(crate) bytes: &'a mut [u8],
}

fn check_cast<T: Element>(dtype: DType, bytes: &[u8]) -> Result<usize> {
    if T::DTYPE != dtype {
        bail!("the tensor holds {dtype}, not {}", T::DTYPE);
    }
    let size = std::mem::size_of::<T>();
    if !bytes.len().is_multiple_of(size)
        || !(bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>())
    {
        bail!("the {dtype} buffer is misaligned or partial");
    }
    Ok(bytes.len() / size)
}

impl<'a> Tensor<'a> {
    /// The dimensions.
    pub fn shape(&self) -> &'a [usize] {
        self.shape
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The number of elements.
    pub fn size(&self) -> usize {
        self.shape.iter().product()
    }

    /// The raw element bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The elements as `T`; an error when `T` is not the dtype.
    pub fn as_slice<T: Element>(&self) -> Result<&'a [T]> {
        let len = check_cast::<T>(self.dtype, self.bytes)?;
        // SAFETY: `check_cast` checked that the bytes are `len` whole, aligned elements of
        // `T`'s dtype; every bit pattern is a valid value of these plain number types, and the
        // bytes are borrowed for 'a.
        Ok(unsafe { std::slice::from_raw_parts(self.bytes.as_ptr().cast::<T>(), len) })
    }
}

impl<'a> TensorMut<'a> {
    /// The dimensions.
    pub fn shape(&self) -> &'a [usize] {
        self.shape
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The number of elements.
    pub fn size(&self) -> usize {
        self.shape.iter().product()
    }

    /// The raw element bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.bytes
    }

    /// The elements as `T`, writable; an error when `T` is not the dtype.
    pub fn as_mut_slice<T: Element>(&mut self) -> Result<&mut [T]> {
        let len = check_cast::<T>(self.dtype, self.bytes)?;
        // SAFETY: as in `Tensor::as_slice`; the bytes are borrowed mutably and exclusively
        // through `self` for the returned lifetime.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.bytes.as_mut_ptr().cast::<T>(), len) })
    }

    /// A read-only view.
    pub fn as_tensor(&self) -> Tensor<'_> {
        Tensor {
            shape: self.shape,
            dtype: self.dtype,
            bytes: self.bytes,
        }
    }
}

/// A shape during inference: unknown rank, or a rank with each dimension known or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape(Option<Vec<Option<usize>>>);

impl Shape {
    /// Nothing known.
    pub fn unknown() -> Shape {
        Shape(None)
    }

    /// Fully known.
    pub fn known(dims: &[usize]) -> Shape {
        Shape(Some(dims.iter().map(|&d| Some(d)).collect()))
    }

    /// A rank with some dimensions known.
    pub fn partial(dims: Vec<Option<usize>>) -> Shape {
        Shape(Some(dims))
    }

    /// The rank, if known.
    pub fn ndim(&self) -> Option<usize> {
        self.0.as_ref().map(Vec::len)
    }

    /// Dimension `i`, if known.
    pub fn dim(&self, i: usize) -> Option<usize> {
        self.0.as_ref().and_then(|d| d.get(i).copied().flatten())
    }

    /// Every dimension, if all are known.
    pub fn dims(&self) -> Option<Vec<usize>> {
        self.0.as_ref()?.iter().copied().collect()
    }

    /// Whether the rank and every dimension are known.
    pub fn is_known(&self) -> bool {
        self.dims().is_some()
    }

    /// Per-dimension knowledge, if the rank is known.
    pub fn partial_dims(&self) -> Option<&[Option<usize>]> {
        self.0.as_deref()
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(dims) = &self.0 else {
            return f.write_str("?");
        };
        let parts: Vec<String> = dims
            .iter()
            .map(|d| d.map_or("?".to_string(), |d| d.to_string()))
            .collect();
        if parts.len() == 1 {
            write!(f, "({},)", parts[0])
        } else {
            write!(f, "({})", parts.join(", "))
        }
    }
}

/// The parameters an operator is created with: every declared parameter, the given value or
/// its default, in MXNet's string form.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parameters from `(name, value)` pairs (for tests of a plugin's `create`).
    pub fn new<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Params {
        Params {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The string value of `name`, if given or defaulted.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every `(name, value)` pair.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    fn value(&self, name: &str) -> Result<&str> {
        self.get(name)
            .ok_or_else(|| Error::new(format!("parameter `{name}` is missing")))
    }

    /// `name` parsed with [`FromStr`] (integers, floats, strings).
    pub fn parse<T: FromStr>(&self, name: &str) -> Result<T>
    where
        T::Err: fmt::Display,
    {
        let v = self.value(name)?;
        v.trim()
            .parse()
            .map_err(|e| Error::new(format!("parameter `{name}`: {v:?} is invalid: {e}")))
    }

    /// A float parameter.
    pub fn float(&self, name: &str) -> Result<f64> {
        self.parse(name)
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Result<i64> {
        self.parse(name)
    }

    /// A boolean parameter in MXNet's spellings: `True`/`False`/`1`/`0` (any case).
    pub fn bool(&self, name: &str) -> Result<bool> {
        let v = self.value(name)?;
        match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => bail!("parameter `{name}`: {v:?} is not a boolean (True, False, 1 or 0)"),
        }
    }
}

/// One parameter's declaration.
#[derive(Debug, Clone, Copy)]
pub struct ParamInfo {
    /// The name.
    pub name: &'static str,
    /// The type as MXNet documents it (`float`, `boolean`, `int`).
    pub type_name: &'static str,
    /// The default in MXNet's string form; `None` when required.
    pub default: Option<&'static str>,
    /// What it does.
    pub doc: &'static str,
}

impl ParamInfo {
    /// A required parameter.
    pub const fn required(name: &'static str, type_name: &'static str, doc: &'static str) -> Self {
        ParamInfo {
            name,
            type_name,
            default: None,
            doc,
        }
    }

    /// A parameter with a default.
    pub const fn optional(
        name: &'static str,
        type_name: &'static str,
        default: &'static str,
        doc: &'static str,
    ) -> Self {
        ParamInfo {
            name,
            type_name,
            default: Some(default),
            doc,
        }
    }
}

/// CUDA C source of an operator's GPU kernel, compiled by the host with NVRTC. Carried
/// through the ABI and stored by the host; unused until mxr's CUDA backend lands.
#[derive(Debug, Clone, Copy)]
pub struct CudaKernel {
    /// The source.
    pub source: &'static str,
    /// The `extern "C" __global__` function to launch.
    pub kernel: &'static str,
}

/// An operator's static description.
#[derive(Debug, Clone)]
pub struct OpInfo {
    /// The name, unique in the process.
    pub name: &'static str,
    /// What it computes.
    pub description: &'static str,
    /// Data input names.
    pub inputs: &'static [&'static str],
    /// Output names (at least one).
    pub outputs: &'static [&'static str],
    /// Auxiliary state names: inputs after the data inputs that the forward kernel may update
    /// (they get no gradient).
    pub aux: &'static [&'static str],
    /// The parameters.
    pub params: Vec<ParamInfo>,
    /// An optional GPU kernel.
    pub cuda: Option<CudaKernel>,
}

/// What a kernel call knows besides its tensors.
#[derive(Debug, Clone, Copy)]
pub struct CallCtx {
    /// Training mode.
    pub is_train: bool,
}

/// The tensors of a forward call ([`Op::forward`]).
#[derive(Debug)]
pub struct Forward<'a, 'b> {
    /// The data inputs, then the auxiliary states.
    pub inputs: &'b [Tensor<'a>],
    /// The outputs, then one tensor per auxiliary state holding its value (writable).
    pub outputs: &'b mut [TensorMut<'a>],
}

/// The tensors of a backward call ([`Op::backward`]).
#[derive(Debug)]
pub struct Backward<'a, 'b> {
    /// The head gradients, one per output.
    pub ograds: &'b [Tensor<'a>],
    /// The forward call's inputs (data inputs, then auxiliary states).
    pub inputs: &'b [Tensor<'a>],
    /// The forward call's outputs.
    pub outputs: &'b [Tensor<'a>],
    /// The gradients to overwrite, one per data input.
    pub igrads: &'b mut [TensorMut<'a>],
}

/// An operator written in ordinary Rust. [`export_plugin!`](crate::export_plugin) turns a list
/// of implementations into the plugin's C entry points; panics in any method are caught and
/// reported to the host as errors.
pub trait Op: Sized + Send + Sync + 'static {
    /// The description (called once, at registration).
    fn info() -> OpInfo;

    /// Parses the parameters (every declared one is present, with its default when not
    /// given).
    fn create(params: &Params) -> Result<Self>;

    /// Fills in unknown shapes: `inputs` holds the data inputs then the auxiliary states. Set
    /// what can be derived (usually the outputs from the inputs; also inputs such as weights
    /// from the data), and fail on shapes the operator cannot take. Called again as more is
    /// known, so leave alone what cannot be derived yet.
    fn infer_shape(&self, inputs: &mut [Shape], outputs: &mut [Shape]) -> Result<()>;

    /// Fills in unknown dtypes; by default every input and output gets the one known dtype.
    fn infer_type(
        &self,
        inputs: &mut [Option<DType>],
        outputs: &mut [Option<DType>],
    ) -> Result<()> {
        let Some(dtype) = inputs.iter().chain(outputs.iter()).find_map(|d| *d) else {
            return Ok(());
        };
        for slot in inputs.iter_mut().chain(outputs.iter_mut()) {
            match slot {
                Some(d) if *d != dtype => bail!("mixed dtypes {d} and {dtype}"),
                _ => *slot = Some(dtype),
            }
        }
        Ok(())
    }

    /// Computes every output (see [`Forward`] for the tensors).
    fn forward(&self, ctx: &CallCtx, tensors: Forward<'_, '_>) -> Result<()>;

    /// Whether [`Op::backward`] is implemented (without it the operator has no gradient).
    const HAS_BACKWARD: bool = false;

    /// Overwrites the input gradients `igrads` with the gradients, from the head gradients
    /// `ograds` and the forward call's `inputs` and `outputs` (see [`Backward`]).
    fn backward(&self, ctx: &CallCtx, tensors: Backward<'_, '_>) -> Result<()> {
        let _ = (ctx, tensors);
        bail!("{} has no backward kernel", Self::info().name)
    }
}
