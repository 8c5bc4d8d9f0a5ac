//! Cross-entropy of predicted probabilities (MXNet's `mx.metric.CrossEntropy`).

use super::stats::{Stats, host};
use super::summed::PairMetric;
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
#[derive(Debug, Clone, PartialEq)]
pub struct CrossEntropy {
    name: String,
    eps: f64,
    stats: Stats,
}

impl Default for CrossEntropy {
    fn default() -> CrossEntropy {
        CrossEntropy::new()
    }
}

impl CrossEntropy {
    /// Cross-entropy with `eps = 1e-12`.
    pub fn new() -> CrossEntropy {
        CrossEntropy {
            name: "cross-entropy".into(),
            eps: 1e-12,
            stats: Stats::default(),
        }
    }

    /// The constant added to each probability before the logarithm.
    pub fn eps(mut self, eps: f64) -> CrossEntropy {
        self.eps = eps;
        self
    }

    /// The running sums.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Another display name.
    pub fn with_name(mut self, name: impl Into<String>) -> CrossEntropy {
        self.name = name.into();
        self
    }
}

impl PairMetric for CrossEntropy {
    fn name_and_stats(&self) -> (&str, &Stats) {
        (&self.name, &self.stats)
    }

    fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    fn add_pair(&mut self, label: &NDArray, pred: &NDArray) -> Result<()> {
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
        self.stats.add(sum, label.len() as u64);
        Ok(())
    }
}
