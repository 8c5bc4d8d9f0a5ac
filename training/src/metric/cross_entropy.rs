//! Cross-entropy of predicted probabilities (MXNet's `mx.metric.CrossEntropy`).

use super::stats::{Stats, host};
use super::summed::{PairRule, Summed};
use crate::nd::NDArray;
use crate::{Error, Result};

/// The mean of `−log(p[label] + eps)` over samples (MXNet's `CrossEntropy`, name
/// `cross-entropy`, alias `ce`; default `eps` 1e-12). Predictions are `(batch, classes)`
/// probabilities; labels are class indices.
///
/// ```
/// use mxr::metric::{CrossEntropy, EvalMetric};
/// use mxr::nd::NDArray;
/// let preds = NDArray::from_vec(&[3, 2], vec![0.3f32, 0.7, 0.0, 1.0, 0.4, 0.6])?;
/// let labels = NDArray::from_vec(&[3], vec![0.0f32, 1.0, 1.0])?;
/// let mut ce = CrossEntropy::new();
/// ce.update(&[&labels], &[&preds])?;
/// let (name, value) = ce.get();
/// assert_eq!(name, "cross-entropy");
/// assert!((value - 0.5715994834899902).abs() < 1e-7); // MXNet's value
/// # Ok::<(), mxr::Error>(())
/// ```
pub type CrossEntropy = Summed<CrossEntropyRule>;

/// [`CrossEntropy`]'s rule: the constant added to each probability.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossEntropyRule {
    eps: f64,
}

impl Default for CrossEntropyRule {
    fn default() -> CrossEntropyRule {
        CrossEntropyRule { eps: 1e-12 }
    }
}

impl CrossEntropy {
    /// The constant added to each probability before the logarithm.
    pub fn eps(mut self, eps: f64) -> CrossEntropy {
        self.rule.eps = eps;
        self
    }
}

impl PairRule for CrossEntropyRule {
    fn default_name(&self) -> String {
        "cross-entropy".into()
    }

    fn add_pair(&self, stats: &mut Stats, label: &NDArray, pred: &NDArray) -> Result<()> {
        let label = host(label)?;
        let rows = pred.shape().first().copied().unwrap_or(0);
        if pred.ndim() != 2 || rows != label.len() {
            return Err(Error::InvalidArgument {
                call: "CrossEntropy::update",
                reason: format!(
                    "predictions must be (batch, classes) with one row per label ({} \
                     labels), not shape {:?}",
                    label.len(),
                    pred.shape()
                ),
            });
        }
        let classes = pred.shape()[1];
        let probs = host(pred)?;
        let mut sum = 0.0;
        for (i, &l) in label.iter().enumerate() {
            let c = l as i64;
            if c < 0 || c as usize >= classes {
                return Err(Error::InvalidArgument {
                    call: "CrossEntropy::update",
                    reason: format!("label {l} of sample {i} is not a class in 0..{classes}"),
                });
            }
            sum += -(probs[i * classes + c as usize] + self.eps).ln();
        }
        stats.add(sum, label.len() as u64);
        Ok(())
    }
}
