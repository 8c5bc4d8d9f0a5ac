//! Several metrics updated together (MXNet's `mx.metric.CompositeEvalMetric`).

use super::EvalMetric;
use crate::Result;
use crate::nd::NDArray;

/// Metrics updated and reset together (MXNet's `CompositeEvalMetric`, name `composite`). Its
/// values are its children's, in order: [`CompositeMetric::get_all`] (MXNet's
/// `(names, values)`) or [`EvalMetric::get_name_value`].
///
/// ```
/// use mxr::metric::{Accuracy, CompositeMetric, CrossEntropy, EvalMetric};
/// use mxr::nd::NDArray;
/// let preds = NDArray::from_vec(&[3, 2], vec![0.3f32, 0.7, 0.0, 1.0, 0.4, 0.6])?;
/// let labels = NDArray::from_vec(&[3], vec![0.0f32, 1.0, 1.0])?;
/// let mut all = CompositeMetric::new();
/// all.add(Accuracy::new());
/// all.add(CrossEntropy::new());
/// all.update(&[&labels], &[&preds])?;
/// let (names, values) = all.get_all();
/// assert_eq!(names, ["accuracy", "cross-entropy"]);
/// assert_eq!(values[0], 2.0 / 3.0);
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct CompositeMetric {
    name: String,
    metrics: Vec<Box<dyn EvalMetric>>,
}

impl CompositeMetric {
    /// No metrics yet, named `composite`.
    pub fn new() -> CompositeMetric {
        CompositeMetric {
            name: "composite".into(),
            metrics: Vec::new(),
        }
    }

    /// Another display name.
    pub fn with_name(mut self, name: impl Into<String>) -> CompositeMetric {
        self.name = name.into();
        self
    }

    /// Adds a child metric.
    pub fn add(&mut self, metric: impl EvalMetric + 'static) {
        self.metrics.push(Box::new(metric));
    }

    /// Adds a boxed child metric.
    pub fn add_boxed(&mut self, metric: Box<dyn EvalMetric>) {
        self.metrics.push(metric);
    }

    /// Child `index`, if there is one.
    pub fn get_metric(&self, index: usize) -> Option<&dyn EvalMetric> {
        self.metrics.get(index).map(|m| m.as_ref())
    }

    /// The number of children.
    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    /// Whether there are no children.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// The children's names and values (MXNet's `CompositeEvalMetric.get()`).
    pub fn get_all(&self) -> (Vec<String>, Vec<f64>) {
        self.get_name_value().into_iter().unzip()
    }

    /// The children's global names and values (MXNet's `get_global()`).
    pub fn get_global_all(&self) -> (Vec<String>, Vec<f64>) {
        self.get_global_name_value().into_iter().unzip()
    }
}

impl EvalMetric for CompositeMetric {
    fn name(&self) -> &str {
        &self.name
    }

    fn update(&mut self, labels: &[&NDArray], preds: &[&NDArray]) -> Result<()> {
        for m in &mut self.metrics {
            m.update(labels, preds)?;
        }
        Ok(())
    }

    fn reset(&mut self) {
        for m in &mut self.metrics {
            m.reset();
        }
    }

    fn reset_local(&mut self) {
        for m in &mut self.metrics {
            m.reset_local();
        }
    }

    /// The only child's pair when there is exactly one; otherwise the composite's name with
    /// NaN (a composite has several values: see [`CompositeMetric::get_all`]).
    fn get(&self) -> (String, f64) {
        match self.get_name_value().as_slice() {
            [one] => one.clone(),
            _ => (self.name.clone(), f64::NAN),
        }
    }

    /// Like [`EvalMetric::get`], from the global values.
    fn get_global(&self) -> (String, f64) {
        match self.get_global_name_value().as_slice() {
            [one] => one.clone(),
            _ => (self.name.clone(), f64::NAN),
        }
    }

    fn get_name_value(&self) -> Vec<(String, f64)> {
        self.metrics
            .iter()
            .flat_map(|m| m.get_name_value())
            .collect()
    }

    fn get_global_name_value(&self) -> Vec<(String, f64)> {
        self.metrics
            .iter()
            .flat_map(|m| m.get_global_name_value())
            .collect()
    }
}
