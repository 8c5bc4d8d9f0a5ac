//! Regression errors: `Mae`, `Mse`, `Rmse` (MXNet's `mx.metric.MAE`, `MSE`, `RMSE`).
//!
//! Each (label, prediction) pair counts as one instance, its error being the mean over the
//! elements of `label − pred` (1-D arrays taken as columns, shapes broadcast as numpy does);
//! `get` averages those per-pair errors (for RMSE, the per-pair root mean squares).

use std::fmt;
use std::marker::PhantomData;

use super::stats::{Stats, broadcast, host};
use super::summed::{PairRule, Summed};
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

/// How a regression error reduces one pair's differences to the pair's error.
pub trait Reduction: fmt::Debug + Clone + PartialEq + Send {
    /// The metric's name (MXNet's).
    const NAME: &'static str;

    /// The error of one pair from its differences.
    fn reduce(diff: &[f64]) -> f64;
}

/// A regression error's rule: the [`Reduction`] `K` of each pair's differences.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRule<K>(PhantomData<K>);

impl<K> Default for ErrorRule<K> {
    fn default() -> ErrorRule<K> {
        ErrorRule(PhantomData)
    }
}

impl<K: Reduction> PairRule for ErrorRule<K> {
    fn default_name(&self) -> String {
        K::NAME.into()
    }

    fn add_pair(&self, stats: &mut Stats, label: &NDArray, pred: &NDArray) -> Result<()> {
        add_error(stats, label, pred, K::reduce)
    }
}

/// The mean of absolute differences.
#[derive(Debug, Clone, PartialEq)]
pub struct MeanAbs;

impl Reduction for MeanAbs {
    const NAME: &'static str = "mae";
    fn reduce(d: &[f64]) -> f64 {
        d.iter().map(|x| x.abs()).sum::<f64>() / d.len() as f64
    }
}

/// The mean of squared differences.
#[derive(Debug, Clone, PartialEq)]
pub struct MeanSquare;

impl Reduction for MeanSquare {
    const NAME: &'static str = "mse";
    fn reduce(d: &[f64]) -> f64 {
        d.iter().map(|x| x * x).sum::<f64>() / d.len() as f64
    }
}

/// The root of the mean of squared differences.
#[derive(Debug, Clone, PartialEq)]
pub struct RootMeanSquare;

impl Reduction for RootMeanSquare {
    const NAME: &'static str = "rmse";
    fn reduce(d: &[f64]) -> f64 {
        MeanSquare::reduce(d).sqrt()
    }
}

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
pub type Mae = Summed<ErrorRule<MeanAbs>>;

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
pub type Mse = Summed<ErrorRule<MeanSquare>>;

/// Root mean squared error (MXNet's `RMSE`, name `rmse`): the mean over update pairs of
/// each pair's root mean square.
pub type Rmse = Summed<ErrorRule<RootMeanSquare>>;
