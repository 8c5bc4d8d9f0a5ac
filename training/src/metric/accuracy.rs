//! Classification accuracy: `Accuracy` and `TopKAccuracy` (MXNet's `mx.metric.Accuracy`,
//! `mx.metric.TopKAccuracy`).

use super::stats::{Stats, as_int, check_lengths, host};
use super::summed::PairMetric;
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
#[derive(Debug, Clone, PartialEq)]
pub struct Accuracy {
    name: String,
    axis: i64,
    stats: Stats,
}

impl Default for Accuracy {
    fn default() -> Accuracy {
        Accuracy::new()
    }
}

impl Accuracy {
    /// Accuracy over axis 1, named `accuracy`.
    pub fn new() -> Accuracy {
        Accuracy {
            name: "accuracy".into(),
            axis: 1,
            stats: Stats::default(),
        }
    }

    /// The axis holding the classes.
    pub fn axis(mut self, axis: i64) -> Accuracy {
        self.axis = axis;
        self
    }

    /// Another display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Accuracy {
        self.name = name.into();
        self
    }

    /// The running sums.
    pub fn stats(&self) -> Stats {
        self.stats
    }
}

impl PairMetric for Accuracy {
    fn name_and_stats(&self) -> (&str, &Stats) {
        (&self.name, &self.stats)
    }

    fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    fn add_pair(&mut self, label: &NDArray, pred: &NDArray) -> Result<()> {
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
        self.stats.add(correct as f64, pred.len() as u64);
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
#[derive(Debug, Clone, PartialEq)]
pub struct TopKAccuracy {
    name: String,
    top_k: usize,
    stats: Stats,
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
        Ok(TopKAccuracy {
            name: format!("top_k_accuracy_{top_k}"),
            top_k,
            stats: Stats::default(),
        })
    }

    /// The running sums.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Another display name (MXNet appends `_<k>` to the name given).
    pub fn with_name(mut self, name: &str) -> TopKAccuracy {
        self.name = format!("{name}_{}", self.top_k);
        self
    }
}

impl PairMetric for TopKAccuracy {
    fn name_and_stats(&self) -> (&str, &Stats) {
        (&self.name, &self.stats)
    }

    fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    fn add_pair(&mut self, label: &NDArray, pred: &NDArray) -> Result<()> {
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
        self.stats.add(correct as f64, rows as u64);
        Ok(())
    }
}
