//! Random initializers: `Uniform`, `Normal` (MXNet's `mx.init.Uniform`, `mx.init.Normal`).

use super::Initializer;
use super::initializer::{sample_normal, sample_uniform};
use super::json::py_float;
use crate::Result;
use crate::nd::NDArray;

/// Weights uniform in `[-scale, scale]` (MXNet's `Uniform`, default scale 0.07), drawn from the
/// device's seeded random state ([`nd::random::seed`](crate::nd::random::seed)).
///
/// ```
/// use mxr::init::{Initializer, Uniform};
/// use mxr::nd::{NDArray, random};
/// let (a, b) = (NDArray::zeros(&[100])?, NDArray::zeros(&[100])?);
/// random::seed(3)?;
/// Uniform::new(0.1).initialize_by_name("fc_weight", &a)?;
/// random::seed(3)?;
/// Uniform::new(0.1).initialize_by_name("fc_weight", &b)?;
/// let (a, b) = (a.to_vec::<f32>()?, b.to_vec::<f32>()?);
/// assert_eq!(a, b); // same seed, same weights
/// assert!(a.iter().all(|v| v.abs() <= 0.1));
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Uniform {
    /// The bound of the range.
    pub scale: f64,
}

impl Default for Uniform {
    fn default() -> Uniform {
        Uniform { scale: 0.07 }
    }
}

impl Uniform {
    /// Weights uniform in `[-scale, scale]`.
    pub fn new(scale: f64) -> Uniform {
        Uniform { scale }
    }
}

impl Initializer for Uniform {
    fn init_weight(&self, _name: &str, arr: &NDArray) -> Result<()> {
        sample_uniform(arr, -self.scale, self.scale)
    }
    fn dumps(&self) -> String {
        format!(r#"["uniform", {{"scale": {}}}]"#, py_float(self.scale))
    }
}

/// Weights from N(0, sigma²) (MXNet's `Normal`, default sigma 0.01).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normal {
    /// The standard deviation.
    pub sigma: f64,
}

impl Default for Normal {
    fn default() -> Normal {
        Normal { sigma: 0.01 }
    }
}

impl Normal {
    /// Weights from N(0, sigma²).
    pub fn new(sigma: f64) -> Normal {
        Normal { sigma }
    }
}

impl Initializer for Normal {
    fn init_weight(&self, _name: &str, arr: &NDArray) -> Result<()> {
        sample_normal(arr, 0.0, self.sigma)
    }
    fn dumps(&self) -> String {
        format!(r#"["normal", {{"sigma": {}}}]"#, py_float(self.sigma))
    }
}
