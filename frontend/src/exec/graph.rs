//! The executor's graph: nodes in topological order, each a variable or an operator applied to
//! earlier entries; and shape/type inference over it.

use mxr_kernels::DType;
use mxr_operators::registry::{Entry, ForwardNode, GraphBuilder, OpRef, Shape, ShapeCtx, TypeCtx};

use crate::{Error, Result};

/// A node: a variable (`op` is `None`) or an operator on earlier entries.
#[derive(Debug, Clone)]
pub struct Node {
    /// The node's name (`fc1`, `data`).
    pub name: String,
    /// The operator; `None` for a variable.
    pub op: Option<OpRef>,
    /// The entries it reads, in the operator's input order.
    pub inputs: Vec<Entry>,
}

impl Node {
    /// The number of outputs (hidden ones included); 1 for a variable.
    pub fn num_outputs(&self) -> usize {
        self.op.as_ref().map_or(1, |op| op.num_outputs())
    }

    /// The node as the operators' gradients read it (a copy).
    pub(crate) fn to_forward(&self) -> ForwardNode {
        ForwardNode {
            name: self.name.clone(),
            op: self.op.clone(),
            inputs: self.inputs.clone(),
        }
    }
}

/// A dataflow graph in topological order with its output entries (MXNet's indexed graph).
///
/// ```
/// use mxr::exec::Graph;
/// use mxr::operators::registry::create;
/// let mut g = Graph::default();
/// let x = g.variable("x");
/// let w = g.variable("w");
/// let y = g.add(create("dot", &[], None)?, "y", &[x, w])?[0];
/// g.outputs.push(y);
/// assert_eq!(g.arguments(), vec![0, 1]);
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// The nodes; every input refers to an earlier node.
    pub nodes: Vec<Node>,
    /// The graph's outputs.
    pub outputs: Vec<Entry>,
}

impl Graph {
    /// Adds a variable; returns its entry.
    pub fn variable(&mut self, name: &str) -> Entry {
        self.nodes.push(Node {
            name: name.into(),
            op: None,
            inputs: Vec::new(),
        });
        Entry {
            node: self.nodes.len() - 1,
            output: 0,
        }
    }

    /// Adds `op` on `inputs`; returns every output entry. The inputs must be entries of earlier
    /// nodes and as many as the operator takes.
    pub fn add(&mut self, op: OpRef, name: &str, inputs: &[Entry]) -> Result<Vec<Entry>> {
        let expected = op.num_inputs();
        if inputs.len() != expected {
            return Err(mxr_operators::Error::InputCount {
                op: op.name().into(),
                expected,
                names: op.input_names().join(", "),
                got: inputs.len(),
            }
            .into());
        }
        for e in inputs {
            let valid = self
                .nodes
                .get(e.node)
                .is_some_and(|n| e.output < n.num_outputs());
            if !valid {
                return Err(Error::InvalidArgument {
                    call: "Graph::add",
                    reason: format!(
                        "node {name}: input ({}, {}) is not an output of an earlier node",
                        e.node, e.output
                    ),
                });
            }
        }
        let n = op.num_outputs();
        self.nodes.push(Node {
            name: name.into(),
            op: Some(op),
            inputs: inputs.to_vec(),
        });
        let node = self.nodes.len() - 1;
        Ok((0..n).map(|output| Entry { node, output }).collect())
    }

    /// Variables written by an operator (`FMutateInputs`): the auxiliary states.
    fn mutated(&self) -> Vec<bool> {
        let mut mutated = vec![false; self.nodes.len()];
        for node in &self.nodes {
            if let Some(op) = &node.op {
                for i in op.mutate_inputs() {
                    if let Some(e) = node.inputs.get(i)
                        && self.nodes[e.node].op.is_none()
                    {
                        mutated[e.node] = true;
                    }
                }
            }
        }
        mutated
    }

    /// Variable nodes that are arguments (not auxiliary states), in node order.
    pub fn arguments(&self) -> Vec<usize> {
        let mutated = self.mutated();
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].op.is_none() && !mutated[i])
            .collect()
    }

    /// Variable nodes that are auxiliary states, in node order.
    pub fn auxiliary_states(&self) -> Vec<usize> {
        let mutated = self.mutated();
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].op.is_none() && mutated[i])
            .collect()
    }

    /// Infers every entry's shape from the known ones (`known[node]` for variables), sweeping
    /// forward and backward until nothing changes. Returns per node, per output.
    pub fn infer_shapes(&self, known: &[(usize, Shape)]) -> Result<Vec<Vec<Shape>>> {
        let mut shapes: Vec<Vec<Shape>> = self
            .nodes
            .iter()
            .map(|n| vec![Shape::unknown(); n.num_outputs()])
            .collect();
        for (node, shape) in known {
            if let Some(slot) = shapes.get_mut(*node).and_then(|s| s.first_mut()) {
                slot.merge(shape).map_err(|reason| Error::InvalidArgument {
                    call: "infer_shape",
                    reason: format!("variable {}: {reason}", self.nodes[*node].name),
                })?;
            }
        }
        self.sweep(shapes, |op, names, ins, outs| {
            let mut ctx = ShapeCtx::new(op.name(), names, ins, outs);
            ctx.check_sizes().and_then(|()| op.infer_shape(&mut ctx))
        })
    }

    /// Infers every entry's dtype (float32 where nothing says otherwise is the caller's choice).
    pub fn infer_types(&self, known: &[(usize, DType)]) -> Result<Vec<Vec<Option<DType>>>> {
        let mut types: Vec<Vec<Option<DType>>> = self
            .nodes
            .iter()
            .map(|n| vec![None; n.num_outputs()])
            .collect();
        for (node, dtype) in known {
            if let Some(slot) = types.get_mut(*node).and_then(|s| s.first_mut()) {
                *slot = Some(*dtype);
            }
        }
        self.sweep(types, |op, names, ins, outs| {
            op.infer_type(&mut TypeCtx::new(op.name(), names, ins, outs))
        })
    }

    /// Runs `infer` on every operator node, forward then backward, with the node's input and
    /// output facts (written back after each node), until a round changes nothing (at most one
    /// round per node, at least two); an error names the node.
    fn sweep<T: Clone + PartialEq>(
        &self,
        mut facts: Vec<Vec<T>>,
        mut infer: impl FnMut(&OpRef, &[String], &mut [T], &mut [T]) -> mxr_operators::Result<()>,
    ) -> Result<Vec<Vec<T>>> {
        for _round in 0..self.nodes.len().max(2) {
            let before = facts.clone();
            for n in (0..self.nodes.len()).chain((0..self.nodes.len()).rev()) {
                let node = &self.nodes[n];
                let Some(op) = &node.op else { continue };
                let names = op.input_names();
                let mut ins: Vec<T> = node
                    .inputs
                    .iter()
                    .map(|e| facts[e.node][e.output].clone())
                    .collect();
                let mut outs = facts[n].clone();
                infer(op, &names, &mut ins, &mut outs).map_err(|e| node_error(&node.name, e))?;
                for (e, fact) in node.inputs.iter().zip(ins) {
                    facts[e.node][e.output] = fact;
                }
                facts[n] = outs;
            }
            if facts == before {
                break;
            }
        }
        Ok(facts)
    }
}

/// An operator error with the node it happened at.
fn node_error(node: &str, e: mxr_operators::Error) -> Error {
    Error::InvalidArgument {
        call: "infer",
        reason: format!("node {node}: {e}"),
    }
}

impl GraphBuilder for Graph {
    fn add_node(
        &mut self,
        op: OpRef,
        name: &str,
        inputs: &[Entry],
    ) -> mxr_operators::Result<Vec<Entry>> {
        let op_name = op.name();
        self.add(op, name, inputs)
            .map_err(|e| builder_error(op_name, e))
    }
}

/// A frontend error as a [`GraphBuilder`] returns it (the operators' error type): operator
/// errors as they are, others as bad input to `op`.
pub(crate) fn builder_error(op: &str, e: Error) -> mxr_operators::Error {
    match e {
        Error::Operator(e) => e,
        other => mxr_operators::Error::BadInput {
            op: op.into(),
            reason: other.to_string(),
        },
    }
}
