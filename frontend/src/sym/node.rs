//! Graph nodes and entries (nnvm's `Node` / `NodeEntry`) and MXNet's traversal order.
//!
//! A node is shared (`Arc`) by every symbol whose graph reaches it. Its structure (operator,
//! inputs, control dependencies) is fixed at creation; its name, attribute dictionary, parsed
//! operator and variable version sit behind a lock, because MXNet changes them on shared nodes:
//! `set_attr` renames or re-parses, composing a BatchNorm onto a user variable gives that
//! variable an `__init__` and bumps its version.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use mxr_operators::registry::{OpDef, OpRef};
use parking_lot::RwLock;

/// A shared node.
pub(crate) type NodeRef = Arc<Node>;

/// A variable (`def` is `None`) or an operator applied to entries of other nodes.
pub(crate) struct Node {
    /// The operator's registration; `None` for a variable.
    pub(crate) def: Option<&'static OpDef>,
    /// The entries read, in the operator's input order.
    pub(crate) inputs: Vec<NodeEntry>,
    /// Nodes that must run before this one without a data edge.
    pub(crate) control_deps: Vec<NodeRef>,
    state: RwLock<NodeState>,
}

/// The mutable part of a node.
#[derive(Clone)]
pub(crate) struct NodeState {
    /// The node's name (`fc1`, `data`).
    pub(crate) name: String,
    /// The attribute dictionary exactly as JSON stores it (parameters and `__x__` attributes).
    pub(crate) attrs: BTreeMap<String, String>,
    /// The parsed operator; `None` for a variable.
    pub(crate) op: Option<OpRef>,
    /// A variable's version counter: bumped each time an operator that mutates it is composed
    /// onto it (nnvm's `VariableParam::version`).
    pub(crate) version: u32,
}

/// One output of a node, as read by another node or held as a symbol output.
#[derive(Clone)]
pub(crate) struct NodeEntry {
    /// The node.
    pub(crate) node: NodeRef,
    /// Which output.
    pub(crate) index: usize,
    /// The variable version this entry reads (0 for operator outputs).
    pub(crate) version: u32,
}

impl NodeEntry {
    /// Output `index` of `node`, version 0.
    pub(crate) fn new(node: NodeRef, index: usize) -> NodeEntry {
        NodeEntry {
            node,
            index,
            version: 0,
        }
    }
}

impl Node {
    /// A new variable.
    pub(crate) fn variable(name: String, attrs: BTreeMap<String, String>) -> NodeRef {
        Arc::new(Node {
            def: None,
            inputs: Vec::new(),
            control_deps: Vec::new(),
            state: RwLock::new(NodeState {
                name,
                attrs,
                op: None,
                version: 0,
            }),
        })
    }

    /// A new operator node.
    pub(crate) fn operator(
        def: &'static OpDef,
        op: OpRef,
        name: String,
        attrs: BTreeMap<String, String>,
        inputs: Vec<NodeEntry>,
        control_deps: Vec<NodeRef>,
    ) -> NodeRef {
        Arc::new(Node {
            def: Some(def),
            inputs,
            control_deps,
            state: RwLock::new(NodeState {
                name,
                attrs,
                op: Some(op),
                version: 0,
            }),
        })
    }

    /// A node with this node's operator and a copy of its state, on other inputs.
    pub(crate) fn copy_with(&self, inputs: Vec<NodeEntry>, control_deps: Vec<NodeRef>) -> NodeRef {
        Arc::new(Node {
            def: self.def,
            inputs,
            control_deps,
            state: RwLock::new(self.state.read().clone()),
        })
    }

    /// Whether the node is a variable.
    pub(crate) fn is_variable(&self) -> bool {
        self.def.is_none()
    }

    /// The node's name.
    pub(crate) fn name(&self) -> String {
        self.state.read().name.clone()
    }

    /// The parsed operator (`None` for a variable).
    pub(crate) fn op(&self) -> Option<OpRef> {
        self.state.read().op.clone()
    }

    /// Reads the mutable state.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&NodeState) -> T) -> T {
        f(&self.state.read())
    }

    /// Changes the mutable state.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut NodeState) -> T) -> T {
        f(&mut self.state.write())
    }

    /// All outputs, hidden ones included (1 for a variable).
    pub(crate) fn num_outputs(&self) -> usize {
        self.op().map_or(1, |op| op.num_outputs())
    }

    /// The outputs users see (`FNumVisibleOutputs`; 1 for a variable).
    pub(crate) fn num_visible_outputs(&self) -> usize {
        self.op().map_or(1, |op| op.num_visible_outputs())
    }

    /// The name `list_outputs` gives output `index`: the variable's name, or
    /// `<node>_<output name>` (just the output name when the node name is empty).
    pub(crate) fn output_name(&self, index: usize) -> String {
        let state = self.state.read();
        let Some(op) = &state.op else {
            return state.name.clone();
        };
        let output = op
            .output_names()
            .into_iter()
            .nth(index)
            .unwrap_or_else(|| format!("output{index}"));
        if state.name.is_empty() {
            output
        } else {
            format!("{}_{output}", state.name)
        }
    }
}

impl Drop for Node {
    /// Drops long chains iteratively: a deep graph's last handle going away must not recurse
    /// once per node.
    fn drop(&mut self) {
        let mut pending: Vec<NodeRef> = self.inputs.drain(..).map(|e| e.node).collect();
        pending.append(&mut self.control_deps);
        while let Some(node) = pending.pop() {
            if let Ok(mut node) = Arc::try_unwrap(node) {
                pending.extend(node.inputs.drain(..).map(|e| e.node));
                pending.append(&mut node.control_deps);
            }
        }
    }
}

/// The identity of a node, for visited sets and maps.
pub(crate) fn key(node: &NodeRef) -> usize {
    Arc::as_ptr(node) as usize
}

/// Every node reachable from `heads`, in MXNet's order (nnvm `DFSVisit`): depth-first
/// post-order from the heads in turn; for each node its inputs in order, then its control
/// dependencies; each node once, at its first visit. Iterative, so deep graphs are fine.
pub(crate) fn post_order<'a>(heads: impl IntoIterator<Item = &'a NodeRef>) -> Vec<NodeRef> {
    let mut order = Vec::new();
    let mut visited: HashSet<usize> = HashSet::new();
    let mut stack: Vec<(NodeRef, usize)> = Vec::new();
    for head in heads {
        if !visited.insert(key(head)) {
            continue;
        }
        stack.push((head.clone(), 0));
        while let Some((node, next)) = stack.last_mut() {
            let degree = node.inputs.len() + node.control_deps.len();
            if *next == degree {
                if let Some((done, _)) = stack.pop() {
                    order.push(done);
                }
                continue;
            }
            let child = if *next < node.inputs.len() {
                node.inputs[*next].node.clone()
            } else {
                node.control_deps[*next - node.inputs.len()].clone()
            };
            *next += 1;
            if visited.insert(key(&child)) {
                stack.push((child, 0));
            }
        }
    }
    order
}
