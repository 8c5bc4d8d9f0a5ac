//! The plumbing shared by the metrics whose value is one [`Stats`] sum over (label,
//! prediction) pairs: [`Summed`] holds the display name and the sums, is an [`EvalMetric`], and
//! has the builder methods every such metric takes; a [`PairRule`] says how one pair is added.

use std::fmt;

use super::EvalMetric;
use super::stats::{Stats, check_lengths};
use crate::Result;
use crate::nd::NDArray;

/// How a [`Summed`] metric adds one (label, prediction) pair to its sums (the part of MXNet's
/// `update` that differs between metrics).
pub trait PairRule: fmt::Debug + Send {
    /// The display name of a metric with this rule and no other name given.
    fn default_name(&self) -> String;

    /// The display name when `name` is given ([`Summed::with_name`]): by default `name`.
    fn display_name(&self, name: String) -> String {
        name
    }

    /// Adds one (label, prediction) pair to `stats`; an error when they do not fit the metric.
    fn add_pair(&self, stats: &mut Stats, label: &NDArray, pred: &NDArray) -> Result<()>;
}

/// A metric kept as a display name and one [`Stats`], updated pair by pair by its rule `R`
/// ([`Accuracy`](super::Accuracy), [`TopKAccuracy`](super::TopKAccuracy),
/// [`CrossEntropy`](super::CrossEntropy), [`Mae`](super::Mae), [`Mse`](super::Mse),
/// [`Rmse`](super::Rmse) name it). As an [`EvalMetric`], `update` checks that the lists pair
/// up and adds each pair in order, `get` reads the sums.
#[derive(Debug, Clone, PartialEq)]
pub struct Summed<R> {
    name: String,
    stats: Stats,
    pub(crate) rule: R,
}

impl<R: PairRule + Default> Default for Summed<R> {
    fn default() -> Summed<R> {
        Summed::of(R::default())
    }
}

impl<R: PairRule + Default> Summed<R> {
    /// The metric with MXNet's defaults (its rule's `Default`: [`Accuracy`](super::Accuracy)
    /// over axis 1, [`CrossEntropy`](super::CrossEntropy) with `eps = 1e-12`), under its
    /// MXNet name (`accuracy`, `cross-entropy`, `mae`, `mse`, `rmse`).
    pub fn new() -> Summed<R> {
        Summed::of(R::default())
    }
}

impl<R: PairRule> Summed<R> {
    /// The metric of `rule`, under its default name, with empty sums.
    pub(crate) fn of(rule: R) -> Summed<R> {
        Summed {
            name: rule.default_name(),
            stats: Stats::default(),
            rule,
        }
    }

    /// Another display name (see [`PairRule::display_name`]: top-k accuracy appends `_<k>`, as
    /// MXNet does).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = self.rule.display_name(name.into());
        self
    }

    /// The running sums.
    pub fn stats(&self) -> Stats {
        self.stats
    }
}

impl<R: PairRule> EvalMetric for Summed<R> {
    fn name(&self) -> &str {
        &self.name
    }

    fn update(&mut self, labels: &[&NDArray], preds: &[&NDArray]) -> Result<()> {
        check_lengths(labels.len(), preds.len())?;
        for (label, pred) in labels.iter().zip(preds) {
            self.rule.add_pair(&mut self.stats, label, pred)?;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.stats.reset();
    }

    fn reset_local(&mut self) {
        self.stats.reset_local();
    }

    fn get(&self) -> (String, f64) {
        (self.name.clone(), self.stats.value())
    }

    fn get_global(&self) -> (String, f64) {
        (self.name.clone(), self.stats.global_value())
    }
}
