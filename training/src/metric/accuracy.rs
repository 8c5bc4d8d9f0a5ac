//! Classification accuracy: `Accuracy` and `TopKAccuracy` (MXNet's `mx.metric.Accuracy`,
//! `mx.metric.TopKAccuracy`).

use super::stats::{Stats, as_int, check_lengths, host};
use super::summed::{PairRule, Summed};
use crate::nd::{self, NDArray};
use crate::{Error, Result};

/// The fraction of predictions equal to their labels (MXNet's `Accuracy`, name `accuracy`).
/// A prediction whose shape differs from its label's holds per-class scores and is reduced with
/// `argmax` over `axis` (default 1); both sides are truncated to integers before comparing.
///
/// ```
/// use mxr::metric::{Accuracy, EvalMetric};
/// use mxr::nd::NDArray;
/// let preds = NDArray::from_vec(&[3, 2], vec![0.3f32, 0.7, 0.0, 1.0, 0.4, 0.6])?;
/// let labels = NDArray::from_vec(&[3], vec![0.0f32, 1.0, 1.0])?;
/// let mut acc = Accuracy::new();
/// acc.update(&[&labels], &[&preds])?;
/// assert_eq!(acc.get(), ("accuracy".to_string(), 2.0 / 3.0));
/// # Ok::<(), mxr::Error>(())
/// ```
pub type Accuracy = Summed<AccuracyRule>;

/// [`Accuracy`]'s rule: the axis holding the classes.
#[derive(Debug, Clone, PartialEq)]
pub struct AccuracyRule {
    axis: i64,
}

impl Default for AccuracyRule {
    fn default() -> AccuracyRule {
        AccuracyRule { axis: 1 }
    }
}

impl Accuracy {
    /// The axis holding the classes.
    pub fn axis(mut self, axis: i64) -> Accuracy {
        self.rule.axis = axis;
        self
    }
}

impl PairRule for AccuracyRule {
    fn default_name(&self) -> String {
        "accuracy".into()
    }

    fn add_pair(&self, stats: &mut Stats, label: &NDArray, pred: &NDArray) -> Result<()> {
        let pred = if pred.shape() != label.shape() {
            host(&nd::argmax(pred, Some(self.axis))?)?
        } else {
            host(pred)?
        };
        let label = host(label)?;
        check_lengths(label.len(), pred.len())?;
        let correct = label
            .iter()
            .zip(&pred)
            .filter(|(l, p)| as_int(**l) == as_int(**p))
            .count();
        stats.add(correct as f64, pred.len() as u64);
        Ok(())
    }
}

/// The fraction of labels among the `k` highest-scored classes (MXNet's `TopKAccuracy`, name
/// `top_k_accuracy_<k>`). Predictions are `(batch, classes)` scores with `k` at most the number
/// of classes; ties between equal scores go to the lower class index.
///
/// ```
/// use mxr::metric::{EvalMetric, TopKAccuracy};
/// use mxr::nd::NDArray;
/// let preds = NDArray::from_vec(&[2, 3], vec![0.1f32, 0.5, 0.4, 0.7, 0.2, 0.1])?;
/// let labels = NDArray::from_vec(&[2], vec![2.0f32, 2.0])?;
/// let mut top2 = TopKAccuracy::new(2)?;
/// top2.update(&[&labels], &[&preds])?;
/// assert_eq!(top2.get(), ("top_k_accuracy_2".to_string(), 0.5));
/// # Ok::<(), mxr::Error>(())
/// ```
pub type TopKAccuracy = Summed<TopKRule>;

/// [`TopKAccuracy`]'s rule: how many of the highest-scored classes count.
#[derive(Debug, Clone, PartialEq)]
pub struct TopKRule {
    top_k: usize,
}

impl TopKAccuracy {
    /// Top-`k` accuracy; `k` must be more than 1 (use [`Accuracy`] otherwise, as MXNet
    /// requires).
    pub fn new(top_k: usize) -> Result<TopKAccuracy> {
        if top_k <= 1 {
            return Err(Error::InvalidArgument {
                call: "TopKAccuracy::new",
                reason: format!("top_k must be more than 1 (got {top_k}); use Accuracy for 1"),
            });
        }
        Ok(Summed::of(TopKRule { top_k }))
    }
}

impl PairRule for TopKRule {
    fn default_name(&self) -> String {
        format!("top_k_accuracy_{}", self.top_k)
    }

    /// MXNet appends `_<k>` to the name given.
    fn display_name(&self, name: String) -> String {
        format!("{name}_{}", self.top_k)
    }

    fn add_pair(&self, stats: &mut Stats, label: &NDArray, pred: &NDArray) -> Result<()> {
        let &[rows, classes] = pred.shape() else {
            return Err(Error::InvalidArgument {
                call: "TopKAccuracy::update",
                reason: format!(
                    "predictions must be (batch, classes) scores, not shape {:?}",
                    pred.shape()
                ),
            });
        };
        if self.top_k > classes {
            return Err(Error::InvalidArgument {
                call: "TopKAccuracy::update",
                reason: format!("top_k = {} but only {classes} classes", self.top_k),
            });
        }
        let scores: Vec<f32> = host(pred)?.into_iter().map(|v| v as f32).collect();
        let label = host(label)?;
        check_lengths(label.len(), rows)?;
        let mut order: Vec<usize> = Vec::with_capacity(classes);
        let mut correct = 0u64;
        for (row, &l) in scores.chunks_exact(classes.max(1)).zip(&label) {
            order.clear();
            order.extend(0..classes);
            // Highest first; equal scores keep their order (lower index first).
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            let l = as_int(l);
            if order[..self.top_k].iter().any(|&c| c as i64 == l) {
                correct += 1;
            }
        }
        stats.add(correct as f64, rows as u64);
        Ok(())
    }
}
