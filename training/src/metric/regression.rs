//! Regression errors: `Mae`, `Mse`, `Rmse` (MXNet's `mx.metric.MAE`, `MSE`, `RMSE`).
//!
//! Each (label, prediction) pair counts as one instance, its error being the mean over the
//! elements of `label − pred` (1-D arrays taken as columns, shapes broadcast as numpy does);
//! `get` averages those per-pair errors (for RMSE, the per-pair root mean squares).

use super::stats::{Stats, broadcast, host};
use super::summed::PairMetric;
use crate::Result;
use crate::nd::NDArray;

/// A 1-D shape as a column (`(n,)` → `(n, 1)`), as MXNet's regression metrics reshape.
fn as_column(shape: &[usize]) -> Vec<usize> {
    match shape {
        [n] => vec![*n, 1],
        s => s.to_vec(),
    }
}

/// Adds one instance: `reduce` of the broadcast differences of `label` and `pred`.
fn add_error(
    stats: &mut Stats,
    label: &NDArray,
    pred: &NDArray,
    reduce: fn(&[f64]) -> f64,
) -> Result<()> {
    let (l, p) = (host(label)?, host(pred)?);
    let diff = broadcast(
        &l,
        &as_column(label.shape()),
        &p,
        &as_column(pred.shape()),
        |a, b| a - b,
    )?;
    stats.add(reduce(&diff), 1);
    Ok(())
}

fn mean_abs(d: &[f64]) -> f64 {
    d.iter().map(|x| x.abs()).sum::<f64>() / d.len() as f64
}

fn mean_square(d: &[f64]) -> f64 {
    d.iter().map(|x| x * x).sum::<f64>() / d.len() as f64
}

fn root_mean_square(d: &[f64]) -> f64 {
    mean_square(d).sqrt()
}

macro_rules! regression_metric {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $reduce:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $ty {
            name: String,
            stats: Stats,
        }

        impl Default for $ty {
            fn default() -> $ty {
                $ty::new()
            }
        }

        impl $ty {
            #[doc = concat!("The metric, named `", $name, "`.")]
            pub fn new() -> $ty {
                $ty {
                    name: $name.into(),
                    stats: Stats::default(),
                }
            }

            /// Another display name.
            pub fn with_name(mut self, name: impl Into<String>) -> $ty {
                self.name = name.into();
                self
            }

            /// The running sums.
            pub fn stats(&self) -> Stats {
                self.stats
            }
        }

        impl PairMetric for $ty {
            fn name_and_stats(&self) -> (&str, &Stats) {
                (&self.name, &self.stats)
            }
            fn stats_mut(&mut self) -> &mut Stats {
                &mut self.stats
            }
            fn add_pair(&mut self, label: &NDArray, pred: &NDArray) -> Result<()> {
                add_error(&mut self.stats, label, pred, $reduce)
            }
        }
    };
}

regression_metric! {
    /// Mean absolute error (MXNet's `MAE`, name `mae`).
    ///
    /// ```
    /// use mxr::metric::{EvalMetric, Mae};
    /// use mxr::nd::NDArray;
    /// let preds = NDArray::from_vec(&[4, 1], vec![3.0f32, -0.5, 2.0, 7.0])?;
    /// let labels = NDArray::from_vec(&[4], vec![2.5f32, 0.0, 2.0, 8.0])?;
    /// let mut mae = Mae::new();
    /// mae.update(&[&labels], &[&preds])?;
    /// assert_eq!(mae.get(), ("mae".to_string(), 0.5));
    /// # Ok::<(), mxr::Error>(())
    /// ```
    Mae, "mae", mean_abs
}

regression_metric! {
    /// Mean squared error (MXNet's `MSE`, name `mse`).
    ///
    /// ```
    /// use mxr::metric::{EvalMetric, Mse};
    /// use mxr::nd::NDArray;
    /// let preds = NDArray::from_vec(&[4, 1], vec![3.0f32, -0.5, 2.0, 7.0])?;
    /// let labels = NDArray::from_vec(&[4], vec![2.5f32, 0.0, 2.0, 8.0])?;
    /// let mut mse = Mse::new();
    /// mse.update(&[&labels], &[&preds])?;
    /// assert_eq!(mse.get(), ("mse".to_string(), 0.375));
    /// # Ok::<(), mxr::Error>(())
    /// ```
    Mse, "mse", mean_square
}

regression_metric! {
    /// Root mean squared error (MXNet's `RMSE`, name `rmse`): the mean over update pairs of
    /// each pair's root mean square.
    Rmse, "rmse", root_mean_square
}
