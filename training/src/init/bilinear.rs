//! Fixed-pattern initializers: `Bilinear` (upsampling kernels) and `LSTMBias` (MXNet's
//! `mx.init.Bilinear`, `mx.init.LSTMBias`).

use super::Initializer;
use super::initializer::assign_values;
use super::json::py_float;
use crate::nd::NDArray;
use crate::{Error, Result};

/// Bilinear-interpolation kernels for upsampling deconvolutions (MXNet's `Bilinear`): for a
/// 4-D weight with kernel width `k`, `f = ⌈k/2⌉`, `c = (2f − 1 − f mod 2) / 2f`, and element
/// `(.., y, x)` is `(1 − |x/f − c|)·(1 − |y/f − c|)` (computed as float32, like MXNet).
///
/// ```
/// use mxr::init::{Bilinear, Initializer};
/// use mxr::nd::NDArray;
/// let w = NDArray::zeros(&[1, 1, 4, 4])?;
/// Bilinear.init_weight("up_weight", &w)?;
/// assert_eq!(&w.to_vec::<f32>()?[..4], &[0.0625, 0.1875, 0.1875, 0.0625]);
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bilinear;

impl Initializer for Bilinear {
    fn init_weight(&self, name: &str, arr: &NDArray) -> Result<()> {
        let shape = arr.shape();
        if shape.len() != 4 {
            return Err(Error::InvalidArgument {
                call: "Bilinear",
                reason: format!("{name}: bilinear kernels need a 4-D weight, not {shape:?}"),
            });
        }
        let (height, width) = (shape[2], shape[3]);
        let f = (width as f64 / 2.0).ceil();
        let c = (2.0 * f - 1.0 - f % 2.0) / (2.0 * f);
        let values: Vec<f64> = (0..arr.size())
            .map(|i| {
                let x = (i % width) as f64;
                let y = ((i / width) % height) as f64;
                let v = (1.0 - (x / f - c).abs()) * (1.0 - (y / f - c).abs());
                f64::from(v as f32)
            })
            .collect();
        assign_values(arr, &values)
    }
    fn dumps(&self) -> String {
        r#"["bilinear", {}]"#.into()
    }
}

/// LSTM biases (MXNet's `LSTMBias(forget_bias)`, default 1): zeros except the forget gate's
/// quarter (the second of the four gates), set to `forget_bias`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LstmBias {
    /// The forget gate's bias.
    pub forget_bias: f64,
}

impl Default for LstmBias {
    fn default() -> LstmBias {
        LstmBias { forget_bias: 1.0 }
    }
}

impl LstmBias {
    /// Biases with the forget gate at `forget_bias`.
    pub fn new(forget_bias: f64) -> LstmBias {
        LstmBias { forget_bias }
    }
}

impl Initializer for LstmBias {
    fn init_weight(&self, _name: &str, arr: &NDArray) -> Result<()> {
        arr.assign_scalar(0.0)?;
        let Some(&rows) = arr.shape().first() else {
            return Ok(());
        };
        let hidden = rows / 4;
        arr.slice(hidden, 2 * hidden)?
            .assign_scalar(self.forget_bias)
    }
    fn dumps(&self) -> String {
        format!(
            r#"["lstmbias", {{"forget_bias": {}}}]"#,
            py_float(self.forget_bias)
        )
    }
}
