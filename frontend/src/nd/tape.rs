//! The imperative tape: operators applied to NDArrays at once, recorded so that their gradient
//! graphs can be built and run afterwards (a small autograd).
//!
//! Each operator's gradient is expressed as further graph nodes
//! ([`Operator::gradient`](mxr_operators::registry::Operator::gradient)); [`Tape::backward`]
//! walks the recorded nodes in reverse, asks each for its gradient nodes (which run at once),
//! and sums the contributions of entries used several times.
//!
//! ```
//! use mxr::nd::{NDArray, tape::Tape};
//! use mxr::operators::registry::create;
//! let mut g = Tape::new(true);
//! let x = g.variable("x", NDArray::from_vec(&[3], vec![1.0f32, 2.0, 3.0])?);
//! let y = g.apply(create("square", &[], None)?, "sq", &[x])?[0];
//! let grads = g.backward(&[(y, Some(NDArray::ones(&[3])?))])?;
//! assert_eq!(grads[x.node].as_ref().unwrap().to_vec::<f32>()?, vec![2.0, 4.0, 6.0]);
//! # Ok::<(), mxr::Error>(())
//! ```

use std::sync::Arc;

use mxr_operators::registry::{
    self, Entry, ForwardNode, GraphBuilder, OpRef, downcast, reverse_pass,
};

use super::external::{External, ExternalBackward, ExternalNode};
use super::invoke::apply_needed;
use super::ndarray::NDArray;
use crate::Result;
use crate::exec::{Node as GraphNode, builder_error};

/// A node: a graph node (a variable, or an operator on earlier entries) with its values.
#[derive(Debug)]
struct Node {
    node: GraphNode,
    outputs: Vec<NDArray>,
}

/// A recorded imperative computation.
#[derive(Debug)]
pub struct Tape {
    nodes: Vec<Node>,
    is_train: bool,
}

impl Tape {
    /// An empty graph; operators run in training mode when `is_train`.
    pub fn new(is_train: bool) -> Tape {
        Tape {
            nodes: Vec::new(),
            is_train,
        }
    }

    /// Adds a variable holding `value`.
    pub fn variable(&mut self, name: &str, value: NDArray) -> Entry {
        self.nodes.push(Node {
            node: GraphNode {
                name: name.into(),
                op: None,
                inputs: Vec::new(),
            },
            outputs: vec![value],
        });
        Entry {
            node: self.nodes.len() - 1,
            output: 0,
        }
    }

    /// Applies `op` to the values of `inputs` (asynchronously, through the engine); returns every
    /// output entry, hidden ones included.
    pub fn apply(&mut self, op: OpRef, name: &str, inputs: &[Entry]) -> Result<Vec<Entry>> {
        self.apply_needed(op, name, inputs, None)
    }

    /// [`Tape::apply`] where only the outputs marked in `needed` (when given) will be read;
    /// the kernel may leave the others uncomputed.
    fn apply_needed(
        &mut self,
        op: OpRef,
        name: &str,
        inputs: &[Entry],
        needed: Option<&[bool]>,
    ) -> Result<Vec<Entry>> {
        let values: Vec<NDArray> = inputs.iter().map(|e| self.value(*e).clone()).collect();
        let refs: Vec<&NDArray> = values.iter().collect();
        let outputs = match downcast::<ExternalBackward>(&op) {
            Some(backward) => backward.run(&values)?,
            None => apply_needed(&op, &refs, None, self.is_train, needed)?.into_vec(),
        };
        Ok(self.push_node(op, name, inputs, outputs))
    }

    /// Adds a node computed outside the tape (a bound graph run as one step): `outputs` are
    /// its values, computed from the values of `inputs`; on [`Tape::backward`], `node`'s
    /// backward gives the inputs' gradients from the outputs'. Returns the output entries.
    pub fn apply_external(
        &mut self,
        node: Arc<dyn ExternalNode>,
        name: &str,
        inputs: &[Entry],
        outputs: Vec<NDArray>,
    ) -> Vec<Entry> {
        let input_shapes = inputs
            .iter()
            .map(|e| {
                let v = self.value(*e);
                (v.shape().to_vec(), v.dtype())
            })
            .collect();
        let op: OpRef = Arc::new(External {
            node,
            input_shapes,
            num_outputs: outputs.len(),
        });
        self.push_node(op, name, inputs, outputs)
    }

    fn push_node(
        &mut self,
        op: OpRef,
        name: &str,
        inputs: &[Entry],
        outputs: Vec<NDArray>,
    ) -> Vec<Entry> {
        let node = self.nodes.len();
        let n = outputs.len();
        self.nodes.push(Node {
            node: GraphNode {
                name: name.into(),
                op: Some(op),
                inputs: inputs.to_vec(),
            },
            outputs,
        });
        (0..n).map(|output| Entry { node, output }).collect()
    }

    /// The value of an entry.
    ///
    /// # Panics
    /// When the entry is not of this graph.
    pub fn value(&self, e: Entry) -> &NDArray {
        &self.nodes[e.node].outputs[e.output]
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Back-propagates from `heads`, each with its head gradient (`None`: ones, as for loss
    /// layers, which ignore it); returns, per node index, the gradient of each variable that
    /// received one (`None` for operator nodes and unreached variables).
    pub fn backward(&mut self, heads: &[(Entry, Option<NDArray>)]) -> Result<Vec<Option<NDArray>>> {
        let forward_nodes = self.nodes.len();
        let variables: Vec<Entry> = (0..forward_nodes)
            .filter(|&node| self.nodes[node].node.op.is_none())
            .map(|node| Entry { node, output: 0 })
            .collect();
        let grads = self.backward_for(heads, &variables)?;
        let mut result: Vec<Option<NDArray>> = vec![None; forward_nodes];
        for (e, grad) in variables.iter().zip(grads) {
            result[e.node] = grad;
        }
        Ok(result)
    }

    /// [`Tape::backward`] for the gradients of `wanted` alone (one each, in order; `None` where
    /// the heads do not reach it). Gradients that lead to no wanted entry are not computed:
    /// with the data batch not wanted, the first layer's data gradient is skipped.
    pub fn backward_for(
        &mut self,
        heads: &[(Entry, Option<NDArray>)],
        wanted: &[Entry],
    ) -> Result<Vec<Option<NDArray>>> {
        let forward: Vec<ForwardNode> = self.nodes.iter().map(|n| n.node.to_forward()).collect();
        let mut head_pairs = Vec::with_capacity(heads.len());
        for (entry, grad) in heads {
            let g = match grad {
                Some(g) => self.variable("head_grad", g.clone()),
                None => self.apply(
                    registry::create("ones_like", &[], None)?,
                    "head_ones",
                    &[*entry],
                )?[0],
            };
            head_pairs.push((*entry, g));
        }
        let grads = reverse_pass(self, &forward, &head_pairs, wanted, false)?;
        Ok(grads
            .into_iter()
            .map(|g| g.map(|g| self.value(g).clone()))
            .collect())
    }
}

impl GraphBuilder for Tape {
    fn add_node(
        &mut self,
        op: OpRef,
        name: &str,
        inputs: &[Entry],
    ) -> mxr_operators::Result<Vec<Entry>> {
        self.apply(Arc::clone(&op), name, inputs)
            .map_err(|e| builder_error(op.name(), e))
    }

    fn add_node_needed(
        &mut self,
        op: OpRef,
        name: &str,
        inputs: &[Entry],
        needed: &[bool],
    ) -> mxr_operators::Result<Vec<Entry>> {
        self.apply_needed(Arc::clone(&op), name, inputs, Some(needed))
            .map_err(|e| builder_error(op.name(), e))
    }

    /// The tape runs each node as it is added: gradients that reach no wanted variable are
    /// not computed at all.
    fn prunes_unwanted(&self) -> bool {
        true
    }
}
