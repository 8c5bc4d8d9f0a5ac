//! The plumbing shared by the metrics whose value is one [`Stats`] sum over (label,
//! prediction) pairs: [`EvalMetric`] follows from a display name, the sums and how one pair is
//! added.

use std::fmt;

use super::EvalMetric;
use super::stats::{Stats, check_lengths};
use crate::Result;
use crate::nd::NDArray;

/// A metric kept as a display name and one [`Stats`], updated pair by pair. Every such type
/// is an [`EvalMetric`]: `update` checks that the lists pair up and adds each pair in order,
/// `get` reads the sums.
pub trait PairMetric: fmt::Debug + Send {
    /// The display name and the running sums.
    fn name_and_stats(&self) -> (&str, &Stats);

    /// The running sums, writable.
    fn stats_mut(&mut self) -> &mut Stats;

    /// Adds one (label, prediction) pair to the sums; an error when they do not fit the
    /// metric.
    fn add_pair(&mut self, label: &NDArray, pred: &NDArray) -> Result<()>;
}

impl<T: PairMetric> EvalMetric for T {
    fn name(&self) -> &str {
        self.name_and_stats().0
    }

    fn update(&mut self, labels: &[&NDArray], preds: &[&NDArray]) -> Result<()> {
        check_lengths(labels.len(), preds.len())?;
        for (label, pred) in labels.iter().zip(preds) {
            self.add_pair(label, pred)?;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.stats_mut().reset();
    }

    fn reset_local(&mut self) {
        self.stats_mut().reset_local();
    }

    fn get(&self) -> (String, f64) {
        let (name, stats) = self.name_and_stats();
        (name.to_string(), stats.value())
    }

    fn get_global(&self) -> (String, f64) {
        let (name, stats) = self.name_and_stats();
        (name.to_string(), stats.global_value())
    }
}
