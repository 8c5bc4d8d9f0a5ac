//! Evaluation metrics (MXNet's `mx.metric`): [`Accuracy`], [`TopKAccuracy`],
//! [`CrossEntropy`], [`Mae`], [`Mse`], [`Rmse`] and [`CompositeMetric`].
//!
//! A metric accumulates over [`EvalMetric::update`] calls (lists of label and prediction
//! arrays, paired in order) and reports `(name, value)` with MXNet's names (`accuracy`,
//! `top_k_accuracy_5`, `cross-entropy`, `mse`, ...), NaN before any data. Like MXNet's, each
//! keeps local sums (cleared by [`EvalMetric::reset_local`], e.g. per logging interval) and
//! global ones (cleared by [`EvalMetric::reset`]). Values are computed on the host in float64.
//! The metrics but the composite are one type, [`Summed`] (a name and one [`Stats`]), with a
//! [`PairRule`] each saying how a (label, prediction) pair adds to the sums.
//!
//! ```
//! use mxr::metric::{self, EvalMetric};
//! use mxr::nd::NDArray;
//! let mut acc = metric::create("acc")?;
//! let preds = NDArray::from_vec(&[2, 2], vec![0.9f32, 0.1, 0.2, 0.8])?;
//! let labels = NDArray::from_vec(&[2], vec![0.0f32, 0.0])?;
//! acc.update(&[&labels], &[&preds])?;
//! assert_eq!(acc.get(), ("accuracy".to_string(), 0.5));
//! acc.reset_local();
//! assert!(acc.get().1.is_nan());
//! assert_eq!(acc.get_global().1, 0.5);
//! # Ok::<(), mxr::Error>(())
//! ```

mod accuracy;
mod composite;
mod cross_entropy;
mod regression;
mod stats;
mod summed;

use std::fmt;

pub use accuracy::{Accuracy, AccuracyRule, TopKAccuracy, TopKRule};
pub use composite::CompositeMetric;
pub use cross_entropy::{CrossEntropy, CrossEntropyRule};
pub use regression::{ErrorRule, Mae, MeanAbs, MeanSquare, Mse, Reduction, Rmse, RootMeanSquare};
pub use stats::Stats;
pub use summed::{PairRule, Summed};

use crate::nd::NDArray;
use crate::{Error, Result};

/// An evaluation metric (MXNet's `mx.metric.EvalMetric`).
pub trait EvalMetric: fmt::Debug + Send {
    /// The display name.
    fn name(&self) -> &str;

    /// Accumulates a batch: `labels[i]` pairs with `preds[i]`; an error when the lists differ
    /// in length or an array does not fit the metric.
    fn update(&mut self, labels: &[&NDArray], preds: &[&NDArray]) -> Result<()>;

    /// Clears the local and global sums.
    fn reset(&mut self);

    /// Clears the local sums only.
    fn reset_local(&mut self);

    /// The name and the value over the data since the last reset of either kind (NaN before
    /// any).
    fn get(&self) -> (String, f64);

    /// The name and the value over the data since the last [`EvalMetric::reset`].
    fn get_global(&self) -> (String, f64);

    /// Every `(name, value)` pair: one for a plain metric, one per child for a composite.
    fn get_name_value(&self) -> Vec<(String, f64)> {
        vec![self.get()]
    }

    /// [`EvalMetric::get_name_value`] from the global sums.
    fn get_global_name_value(&self) -> Vec<(String, f64)> {
        vec![self.get_global()]
    }
}

/// A metric with its defaults, by MXNet's registered name or alias (case-insensitive):
/// `accuracy`/`acc`, `crossentropy`/`ce`/`cross-entropy`, `mae`, `mse`, `rmse`, `composite`
/// (MXNet's `mx.metric.create(name)`).
pub fn create(name: &str) -> Result<Box<dyn EvalMetric>> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "accuracy" | "acc" => Box::new(Accuracy::new()),
        "crossentropy" | "ce" | "cross-entropy" => Box::new(CrossEntropy::new()),
        "mae" => Box::new(Mae::new()),
        "mse" => Box::new(Mse::new()),
        "rmse" => Box::new(Rmse::new()),
        "composite" | "compositeevalmetric" => Box::new(CompositeMetric::new()),
        _ => {
            return Err(Error::InvalidArgument {
                call: "metric::create",
                reason: format!(
                    "unknown metric {name:?} (known: accuracy/acc, crossentropy/ce, mae, mse, \
                     rmse, composite)"
                ),
            });
        }
    })
}

/// A [`CompositeMetric`] of the metrics named (MXNet's `mx.metric.create([...])`).
pub fn create_composite(names: &[&str]) -> Result<CompositeMetric> {
    let mut all = CompositeMetric::new();
    for name in names {
        all.add_boxed(create(name)?);
    }
    Ok(all)
}

#[cfg(test)]
mod tests;
