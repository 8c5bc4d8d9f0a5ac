//! The initializer interface and MXNet's rules by argument name (`Initializer.__call__` and
//! `_legacy_init`).

use std::collections::HashMap;
use std::fmt;

use crate::nd::{self, NDArray};
use crate::{DType, Error, Result};

/// What an initializer is asked to fill (MXNet's `InitDesc`): the argument's name and its
/// symbol attributes, of which `__init__` (an initializer's JSON or name, e.g.
/// `["zero", {}]`, which BatchNorm sets on its moving statistics) overrides the rules by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitDesc {
    /// The argument's name (`fc1_weight`).
    pub name: String,
    /// Its attributes (`__init__`, `__lr_mult__`, ...).
    pub attrs: HashMap<String, String>,
}

impl InitDesc {
    /// A descriptor without attributes.
    pub fn new(name: impl Into<String>) -> InitDesc {
        InitDesc {
            name: name.into(),
            attrs: HashMap::new(),
        }
    }

    /// With attribute `key` set to `value`.
    pub fn attr(mut self, key: impl Into<String>, value: impl Into<String>) -> InitDesc {
        self.attrs.insert(key.into(), value.into());
        self
    }
}

/// An initializer (MXNet's `mx.init.Initializer`): a rule for weights, plus MXNet's fixed rules
/// for the other kinds of argument, chosen by the argument's name.
///
/// Implementors provide [`Initializer::init_weight`] and [`Initializer::dumps`]; the other
/// rules default to MXNet's (biases, betas and minima 0; gammas and maxima 1).
pub trait Initializer: fmt::Debug + Send + Sync {
    /// Fills a weight (MXNet's `_init_weight`).
    fn init_weight(&self, name: &str, arr: &NDArray) -> Result<()>;

    /// The initializer as MXNet's JSON: `["xavier", {"rnd_type": "uniform", ...}]` (what
    /// [`create`](super::create) reads back and symbol attributes `__init__` hold).
    fn dumps(&self) -> String;

    /// Fills a bias: zeros.
    fn init_bias(&self, _name: &str, arr: &NDArray) -> Result<()> {
        arr.assign_scalar(0.0)
    }

    /// Fills a BatchNorm gamma: ones.
    fn init_gamma(&self, _name: &str, arr: &NDArray) -> Result<()> {
        arr.assign_scalar(1.0)
    }

    /// Fills a BatchNorm beta: zeros.
    fn init_beta(&self, _name: &str, arr: &NDArray) -> Result<()> {
        arr.assign_scalar(0.0)
    }

    /// Fills with zeros (moving means, `*_min`).
    fn init_zero(&self, _name: &str, arr: &NDArray) -> Result<()> {
        arr.assign_scalar(0.0)
    }

    /// Fills with ones (moving variances, `*_max`).
    fn init_one(&self, _name: &str, arr: &NDArray) -> Result<()> {
        arr.assign_scalar(1.0)
    }

    /// A name no rule matches: an error, as in MXNet.
    fn init_default(&self, name: &str, _arr: &NDArray) -> Result<()> {
        Err(Error::InvalidArgument {
            call: "Initializer",
            reason: format!(
                "unknown initialization pattern for {name}; default initialization is limited \
                 to \"weight\", \"bias\", \"gamma\" (1.0) and \"beta\" (0.0); give the \
                 variable an `__init__` attribute to choose an initializer"
            ),
        })
    }

    /// Initializes `arr` for `desc` (MXNet's `init(InitDesc, arr)`): the initializer named by
    /// the `__init__` attribute fills it as a weight when present; otherwise by the name's
    /// ending: `weight` → [`Initializer::init_weight`], `bias` → 0, `gamma` → 1, `beta` → 0,
    /// `min` → 0, `max` → 1, `weight_quantize` → one random int8 value, `bias_quantize` → 0;
    /// anything else is an error.
    fn initialize(&self, desc: &InitDesc, arr: &NDArray) -> Result<()> {
        if let Some(init) = desc.attrs.get("__init__").filter(|s| !s.is_empty()) {
            return super::create(init)?.init_weight(&desc.name, arr);
        }
        let name = desc.name.as_str();
        by_ending(self, QUANTIZED_BY_ENDING, name, arr)
    }

    /// Initializes `arr` by its name alone (MXNet's legacy `init(name, arr)`, what
    /// `Module.init_params` did before descriptors): `upsampling*` → bilinear,
    /// `stn_loc*weight` → 0, `stn_loc*bias` → the identity transform `[1, 0, 0, 0, 1, 0]`,
    /// then by ending: `bias` → 0, `gamma` → 1, `beta` → 0, `weight` →
    /// [`Initializer::init_weight`], `moving_mean` → 0, `moving_var` → 1, `moving_inv_var` → 0,
    /// `moving_avg` → 0, `min` → 0, `max` → 1; anything else is an error.
    fn initialize_by_name(&self, name: &str, arr: &NDArray) -> Result<()> {
        if name.starts_with("upsampling") {
            super::Bilinear.init_weight(name, arr)
        } else if name.starts_with("stn_loc") && name.ends_with("weight") {
            self.init_zero(name, arr)
        } else if name.starts_with("stn_loc") && name.ends_with("bias") {
            init_loc_bias(name, arr)
        } else {
            by_ending(self, MOVING_BY_ENDING, name, arr)
        }
    }
}

/// How an argument is filled, by the ending of its name.
#[derive(Debug, Clone, Copy)]
enum Fill {
    Weight,
    Bias,
    Gamma,
    Beta,
    Zero,
    One,
    QuantizedWeight,
    QuantizedBias,
}

/// The rules by ending both [`Initializer::initialize`] and
/// [`Initializer::initialize_by_name`] follow. No ending of these tables ends another, so the
/// order of the rules does not matter.
const BY_ENDING: &[(&str, Fill)] = &[
    ("weight", Fill::Weight),
    ("bias", Fill::Bias),
    ("gamma", Fill::Gamma),
    ("beta", Fill::Beta),
    ("min", Fill::Zero),
    ("max", Fill::One),
];

/// [`Initializer::initialize`]'s rules by ending beside [`BY_ENDING`].
const QUANTIZED_BY_ENDING: &[(&str, Fill)] = &[
    ("weight_quantize", Fill::QuantizedWeight),
    ("bias_quantize", Fill::QuantizedBias),
];

/// [`Initializer::initialize_by_name`]'s rules by ending beside [`BY_ENDING`] (after those by
/// prefix).
const MOVING_BY_ENDING: &[(&str, Fill)] = &[
    ("moving_mean", Fill::Zero),
    ("moving_inv_var", Fill::Zero),
    ("moving_avg", Fill::Zero),
    ("moving_var", Fill::One),
];

/// Fills `arr` by the rule of [`BY_ENDING`] or `extra` whose ending `name` has, else by
/// [`Initializer::init_default`].
fn by_ending<I: Initializer + ?Sized>(
    init: &I,
    extra: &[(&str, Fill)],
    name: &str,
    arr: &NDArray,
) -> Result<()> {
    let rule = BY_ENDING
        .iter()
        .chain(extra)
        .find(|(ending, _)| name.ends_with(ending));
    let Some(&(_, fill)) = rule else {
        return init.init_default(name, arr);
    };
    match fill {
        Fill::Weight => init.init_weight(name, arr),
        Fill::Bias => init.init_bias(name, arr),
        Fill::Gamma => init.init_gamma(name, arr),
        Fill::Beta => init.init_beta(name, arr),
        Fill::Zero => init.init_zero(name, arr),
        Fill::One => init.init_one(name, arr),
        Fill::QuantizedWeight => init_quantized_weight(arr),
        Fill::QuantizedBias => arr.assign_scalar(0.0),
    }
}

/// The spatial transformer's localisation bias: the identity transform (6 values).
fn init_loc_bias(name: &str, arr: &NDArray) -> Result<()> {
    if arr.shape() != [6] {
        return Err(Error::InvalidArgument {
            call: "Initializer",
            reason: format!(
                "{name}: the localisation bias must have shape (6,), not {:?}",
                arr.shape()
            ),
        });
    }
    assign_values(arr, &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
}

/// MXNet's `_init_quantized_weight`: one integer drawn from [-127, 127) fills the array.
fn init_quantized_weight(arr: &NDArray) -> Result<()> {
    let draw = nd::random_uniform(-127.0, 127.0, &[1])?.to_scalar::<f32>()?;
    arr.assign_scalar(f64::from(draw).floor())
}

/// Writes `values` (row-major, one per element) into `arr`, converted to its dtype.
pub(crate) fn assign_values(arr: &NDArray, values: &[f64]) -> Result<()> {
    match arr.dtype() {
        DType::F32 => arr.assign_slice(&values.iter().map(|&v| v as f32).collect::<Vec<_>>()),
        DType::F64 => arr.assign_slice(values),
        DType::F16 => arr.assign_slice(
            &values
                .iter()
                .map(|&v| mxr_kernels::f16::from_f64(v))
                .collect::<Vec<_>>(),
        ),
        DType::U8 => arr.assign_slice(&values.iter().map(|&v| v as u8).collect::<Vec<_>>()),
        DType::I8 => arr.assign_slice(&values.iter().map(|&v| v as i8).collect::<Vec<_>>()),
        DType::I32 => arr.assign_slice(&values.iter().map(|&v| v as i32).collect::<Vec<_>>()),
        DType::I64 => arr.assign_slice(&values.iter().map(|&v| v as i64).collect::<Vec<_>>()),
    }
}

fn sampler_dtype(call: &'static str, arr: &NDArray) -> Result<&'static str> {
    match arr.dtype() {
        DType::F32 => Ok("float32"),
        DType::F64 => Ok("float64"),
        DType::F16 => Ok("float16"),
        other => Err(Error::InvalidArgument {
            call,
            reason: format!("random initialization needs a floating array, not {other}"),
        }),
    }
}

fn shape_attr(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    match dims.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", dims.join(", ")),
    }
}

/// Fills `arr` from the random operator `op` (`out=arr`) with its two distribution parameters
/// `params` (names and values); `call` names the initializer in errors.
fn sample_into(
    call: &'static str,
    op: &str,
    arr: &NDArray,
    params: [(&str, f64); 2],
) -> Result<()> {
    if arr.size() == 0 {
        return Ok(());
    }
    let dtype = sampler_dtype(call, arr)?;
    let [(name_a, a), (name_b, b)] = params;
    let (a, b, shape) = (format!("{a:?}"), format!("{b:?}"), shape_attr(arr.shape()));
    nd::invoke_into(
        op,
        &[],
        &[
            (name_a, &a),
            (name_b, &b),
            ("shape", &shape),
            ("dtype", dtype),
        ],
        &[arr],
    )
}

/// Fills `arr` with samples uniform in `[low, high)` from its device's seeded random state
/// (`_random_uniform` with `out=arr`).
pub(crate) fn sample_uniform(arr: &NDArray, low: f64, high: f64) -> Result<()> {
    sample_into(
        "init::Uniform",
        "_random_uniform",
        arr,
        [("low", low), ("high", high)],
    )
}

/// Fills `arr` with samples from N(loc, scale²) (`_random_normal` with `out=arr`).
pub(crate) fn sample_normal(arr: &NDArray, loc: f64, scale: f64) -> Result<()> {
    sample_into(
        "init::Normal",
        "_random_normal",
        arr,
        [("loc", loc), ("scale", scale)],
    )
}
