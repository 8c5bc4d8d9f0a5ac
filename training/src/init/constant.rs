//! Constant initializers: `Zero`, `One`, `Constant` (MXNet's `mx.init.Zero`, `One`,
//! `Constant`).

use super::Initializer;
use super::json::py_number;
use crate::Result;
use crate::nd::NDArray;

/// Weights of zeros (MXNet's `Zero`, alias `zeros`).
///
/// ```
/// use mxr::init::{Initializer, Zero};
/// use mxr::nd::NDArray;
/// let w = NDArray::ones(&[2, 2])?;
/// Zero.initialize_by_name("fc_weight", &w)?;
/// assert_eq!(w.to_vec::<f32>()?, vec![0.0; 4]);
/// assert_eq!(Zero.dumps(), r#"["zero", {}]"#);
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Zero;

impl Initializer for Zero {
    fn init_weight(&self, _name: &str, arr: &NDArray) -> Result<()> {
        arr.assign_scalar(0.0)
    }
    fn dumps(&self) -> String {
        r#"["zero", {}]"#.into()
    }
}

/// Weights of ones (MXNet's `One`, alias `ones`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct One;

impl Initializer for One {
    fn init_weight(&self, _name: &str, arr: &NDArray) -> Result<()> {
        arr.assign_scalar(1.0)
    }
    fn dumps(&self) -> String {
        r#"["one", {}]"#.into()
    }
}

/// Weights of one value (MXNet's `Constant(value)` with a scalar).
///
/// ```
/// use mxr::init::{Constant, InitDesc, Initializer};
/// use mxr::nd::NDArray;
/// let w = NDArray::zeros(&[3])?;
/// Constant::new(2.5).initialize(&InitDesc::new("fc_weight"), &w)?;
/// assert_eq!(w.to_vec::<f32>()?, vec![2.5; 3]);
/// let b = NDArray::ones(&[3])?;
/// Constant::new(2.5).initialize(&InitDesc::new("fc_bias"), &b)?; // biases are zeroed
/// assert_eq!(b.to_vec::<f32>()?, vec![0.0; 3]);
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constant {
    /// The value.
    pub value: f64,
}

impl Constant {
    /// Weights of `value`.
    pub fn new(value: f64) -> Constant {
        Constant { value }
    }
}

impl Initializer for Constant {
    fn init_weight(&self, _name: &str, arr: &NDArray) -> Result<()> {
        arr.assign_scalar(self.value)
    }
    fn dumps(&self) -> String {
        format!(r#"["constant", {{"value": {}}}]"#, py_number(self.value))
    }
}
