//! Xavier (Glorot) initialization and its PReLU variant (MXNet's `mx.init.Xavier`,
//! `mx.init.MSRAPrelu`).

use super::Initializer;
use super::initializer::{sample_normal, sample_uniform};
use super::json::{py_float, py_number};
use crate::nd::NDArray;
use crate::{Error, Result};

/// The distribution Xavier draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RndType {
    /// Uniform in `[-scale, scale]` (MXNet's `"uniform"`, the default).
    #[default]
    Uniform,
    /// Normal with standard deviation `scale` (MXNet's `"gaussian"`).
    Gaussian,
}

impl RndType {
    /// MXNet's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RndType::Uniform => "uniform",
            RndType::Gaussian => "gaussian",
        }
    }

    /// Parses MXNet's spelling.
    pub fn parse(s: &str) -> Result<RndType> {
        match s {
            "uniform" => Ok(RndType::Uniform),
            "gaussian" => Ok(RndType::Gaussian),
            _ => Err(Error::InvalidArgument {
                call: "Xavier",
                reason: format!("unknown random type {s:?} (uniform or gaussian)"),
            }),
        }
    }
}

/// Which fan scales Xavier's variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FactorType {
    /// `(fan_in + fan_out) / 2` (MXNet's `"avg"`, the default).
    #[default]
    Avg,
    /// `fan_in` (`"in"`).
    In,
    /// `fan_out` (`"out"`).
    Out,
}

impl FactorType {
    /// MXNet's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FactorType::Avg => "avg",
            FactorType::In => "in",
            FactorType::Out => "out",
        }
    }

    /// Parses MXNet's spelling.
    pub fn parse(s: &str) -> Result<FactorType> {
        match s {
            "avg" => Ok(FactorType::Avg),
            "in" => Ok(FactorType::In),
            "out" => Ok(FactorType::Out),
            _ => Err(Error::InvalidArgument {
                call: "Xavier",
                reason: format!("incorrect factor type {s:?} (avg, in or out)"),
            }),
        }
    }
}

/// Xavier initialization (MXNet's `Xavier(rnd_type, factor_type, magnitude)`, defaults
/// uniform, avg, 3): with `fan_in = shape[1]·∏shape[2..]` and `fan_out = shape[0]·∏shape[2..]`,
/// `scale = √(magnitude / factor)`; weights are uniform in `[-scale, scale]` or normal with
/// standard deviation `scale`. Weights need at least 2 dimensions.
///
/// ```
/// use mxr::init::{FactorType, Initializer, RndType, Xavier};
/// use mxr::nd::NDArray;
/// let xavier = Xavier::default();
/// // fan_in = 32·9, fan_out = 64·9: scale = √(3 / 432)
/// assert_eq!(xavier.scale(&[64, 32, 3, 3])?, (3.0f64 / 432.0).sqrt());
/// let w = NDArray::zeros(&[64, 32, 3, 3])?;
/// xavier.initialize_by_name("conv_weight", &w)?;
/// let bound = xavier.scale(&[64, 32, 3, 3])? as f32;
/// assert!(w.to_vec::<f32>()?.iter().all(|v| v.abs() <= bound));
/// assert_eq!(
///     Xavier::new(RndType::Uniform, FactorType::In, 2.34).dumps(),
///     r#"["xavier", {"rnd_type": "uniform", "factor_type": "in", "magnitude": 2.34}]"#
/// );
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Xavier {
    /// The distribution.
    pub rnd_type: RndType,
    /// The fan that scales the variance.
    pub factor_type: FactorType,
    /// The variance's scale.
    pub magnitude: f64,
}

impl Default for Xavier {
    fn default() -> Xavier {
        Xavier::new(RndType::Uniform, FactorType::Avg, 3.0)
    }
}

impl Xavier {
    /// Xavier with the given distribution, fan and magnitude.
    pub fn new(rnd_type: RndType, factor_type: FactorType, magnitude: f64) -> Xavier {
        Xavier {
            rnd_type,
            factor_type,
            magnitude,
        }
    }

    /// The bound (uniform) or standard deviation (gaussian) for a weight of `shape`; an error
    /// for fewer than 2 dimensions.
    pub fn scale(&self, shape: &[usize]) -> Result<f64> {
        if shape.len() < 2 {
            return Err(Error::InvalidArgument {
                call: "Xavier",
                reason: format!(
                    "Xavier initializer cannot be applied to vector (shape {shape:?}); it \
                     requires at least 2D"
                ),
            });
        }
        let hw_scale: f64 = shape[2..].iter().map(|&d| d as f64).product();
        let fan_in = shape[1] as f64 * hw_scale;
        let fan_out = shape[0] as f64 * hw_scale;
        let factor = match self.factor_type {
            FactorType::Avg => (fan_in + fan_out) / 2.0,
            FactorType::In => fan_in,
            FactorType::Out => fan_out,
        };
        Ok((self.magnitude / factor).sqrt())
    }
}

impl Initializer for Xavier {
    fn init_weight(&self, name: &str, arr: &NDArray) -> Result<()> {
        let scale = self.scale(arr.shape()).map_err(|e| match e {
            Error::InvalidArgument { call, reason } => Error::InvalidArgument {
                call,
                reason: format!("{name}: {reason}"),
            },
            other => other,
        })?;
        match self.rnd_type {
            RndType::Uniform => sample_uniform(arr, -scale, scale),
            RndType::Gaussian => sample_normal(arr, 0.0, scale),
        }
    }
    fn dumps(&self) -> String {
        format!(
            r#"["xavier", {{"rnd_type": "{}", "factor_type": "{}", "magnitude": {}}}]"#,
            self.rnd_type.as_str(),
            self.factor_type.as_str(),
            py_number(self.magnitude)
        )
    }
}

/// MSRA / He initialization for PReLU networks (MXNet's `MSRAPrelu(factor_type, slope)`,
/// defaults avg, 0.25): Xavier, gaussian, with magnitude `2 / (1 + slope²)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MsraPrelu {
    /// The fan that scales the variance.
    pub factor_type: FactorType,
    /// The initial slope of the PReLU units.
    pub slope: f64,
}

impl Default for MsraPrelu {
    fn default() -> MsraPrelu {
        MsraPrelu::new(FactorType::Avg, 0.25)
    }
}

impl MsraPrelu {
    /// MSRA initialization for the given fan and slope.
    pub fn new(factor_type: FactorType, slope: f64) -> MsraPrelu {
        MsraPrelu { factor_type, slope }
    }

    /// The equivalent Xavier initializer.
    pub fn xavier(&self) -> Xavier {
        Xavier::new(
            RndType::Gaussian,
            self.factor_type,
            2.0 / (1.0 + self.slope.powi(2)),
        )
    }
}

impl Initializer for MsraPrelu {
    fn init_weight(&self, name: &str, arr: &NDArray) -> Result<()> {
        self.xavier().init_weight(name, arr)
    }
    fn dumps(&self) -> String {
        format!(
            r#"["msraprelu", {{"factor_type": "{}", "slope": {}}}]"#,
            self.factor_type.as_str(),
            py_float(self.slope)
        )
    }
}
