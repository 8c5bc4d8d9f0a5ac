//! Gradients as graph nodes (MXNet's `FGradient`).
//!
//! An operator's [`Operator::gradient`](super::Operator::gradient) does not compute numbers: it
//! adds nodes to a graph through a [`GraphBuilder`] — usually one `_backward_<Op>` node fed by
//! the head gradients and some forward inputs or outputs — and returns, per input, the entry
//! holding that input's gradient. The Symbol executor builds its backward graph this way (and
//! plans its memory); the imperative builder in the NDArray frontend runs each node at once.

use std::sync::Arc;

use super::operator::{OpRef, Operator};
use crate::Result;

/// One output of a graph node, as the builder numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The node, in the builder's numbering.
    pub node: usize,
    /// Which of its outputs.
    pub output: usize,
}

/// Adds nodes to a graph.
pub trait GraphBuilder {
    /// Adds a node applying `op` to `inputs`, named `name`; returns every output of the node
    /// (hidden ones included).
    fn add_node(&mut self, op: OpRef, name: &str, inputs: &[Entry]) -> Result<Vec<Entry>>;
}

/// What an operator's gradient function sees: the forward node's name, its input and output
/// entries, one head-gradient entry per output (hidden outputs included), and the builder.
pub struct GradCtx<'a> {
    /// The graph being built.
    pub builder: &'a mut dyn GraphBuilder,
    /// The forward node's name.
    pub name: &'a str,
    /// The forward node's inputs.
    pub inputs: &'a [Entry],
    /// The forward node's outputs.
    pub outputs: &'a [Entry],
    /// d(loss)/d(output), one per output.
    pub ograds: &'a [Entry],
}

impl std::fmt::Debug for GradCtx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GradCtx")
            .field("name", &self.name)
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .field("ograds", &self.ograds)
            .finish_non_exhaustive()
    }
}

impl GradCtx<'_> {
    /// Adds the backward node `op` (named `<forward name>_backward`, as MXNet names it) on
    /// `inputs`; returns its outputs.
    pub fn backward_node(&mut self, op: impl Operator, inputs: &[Entry]) -> Result<Vec<Entry>> {
        let name = format!("{}_backward", self.name);
        self.builder.add_node(Arc::new(op), &name, inputs)
    }

    /// Adds a node `op` on `inputs` named `<forward name>_<suffix>`.
    pub fn node(
        &mut self,
        op: impl Operator,
        suffix: &str,
        inputs: &[Entry],
    ) -> Result<Vec<Entry>> {
        let name = format!("{}_{suffix}", self.name);
        self.builder.add_node(Arc::new(op), &name, inputs)
    }

    /// Every output of the backward node, one per input: the common case `Some(out[i])` for all.
    pub fn all(entries: Vec<Entry>) -> Vec<Option<Entry>> {
        entries.into_iter().map(Some).collect()
    }
}
