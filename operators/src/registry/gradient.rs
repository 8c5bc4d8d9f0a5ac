//! Gradients as graph nodes (MXNet's `FGradient`).
//!
//! An operator's [`Operator::gradient`](super::Operator::gradient) does not compute numbers: it
//! adds nodes to a graph through a [`GraphBuilder`] — usually one `_backward_<Op>` node fed by
//! the head gradients and some forward inputs or outputs — and returns, per input, the entry
//! holding that input's gradient. The Symbol executor builds its backward graph this way (and
//! plans its memory); the imperative builder in the NDArray frontend runs each node at once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::operator::{OpRef, Operator};
use crate::{Error, Result};

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

    /// [`GraphBuilder::add_node`] for a node of which only the outputs marked in `needed` will
    /// be read. A builder that runs each node at once (the imperative tape) lets the kernel
    /// skip the others, whose values are then unspecified; the default builds the node as
    /// `add_node` does (a graph's executor finds what is read on its own).
    fn add_node_needed(
        &mut self,
        op: OpRef,
        name: &str,
        inputs: &[Entry],
        needed: &[bool],
    ) -> Result<Vec<Entry>> {
        let _ = needed;
        self.add_node(op, name, inputs)
    }

    /// Whether [`reverse_pass`] leaves out the gradients of nodes from which no wanted entry
    /// can be reached. A builder that runs each node at once saves their work; a graph keeps
    /// them (the default), so that its backward graph stays as MXNet builds it.
    fn prunes_unwanted(&self) -> bool {
        false
    }
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
    /// Per forward input, whether its gradient is wanted (it leads to an entry whose gradient
    /// was asked for); empty when unknown (every gradient wanted).
    pub needed: &'a [bool],
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

    /// [`GradCtx::backward_node`] for a backward operator whose outputs are the forward
    /// inputs' gradients in order (FullyConnected's, Convolution's): the gradients nobody
    /// wants ([`GradCtx::needed`]) may be left uncomputed.
    pub fn backward_node_per_input(
        &mut self,
        op: impl Operator,
        inputs: &[Entry],
    ) -> Result<Vec<Entry>> {
        let name = format!("{}_backward", self.name);
        if self.needed.is_empty() {
            return self.builder.add_node(Arc::new(op), &name, inputs);
        }
        self.builder
            .add_node_needed(Arc::new(op), &name, inputs, self.needed)
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

/// A forward node as [`reverse_pass`] sees it.
#[derive(Debug, Clone)]
pub struct ForwardNode {
    /// The node's name (gradient nodes are named after it).
    pub name: String,
    /// The operator; `None` for a variable.
    pub op: Option<OpRef>,
    /// The entries it reads.
    pub inputs: Vec<Entry>,
}

/// Reverse-mode differentiation over a recorded forward graph (MXNet's `Gradient` pass), shared
/// by the Symbol executor and the imperative NDArray graph.
///
/// `forward` are the forward nodes in topological order (node `i` is `Entry { node: i, .. }` in
/// `builder`); `heads` pairs forward outputs with the entries holding their head gradients.
/// Walking the nodes in reverse, each operator reached by a gradient adds its gradient nodes
/// through `builder` (the head gradients of an output summed first, with an `elemwise_add` per
/// extra term; zeros for an output nobody differentiates). Returns, for each entry of `wanted`,
/// its summed gradient — or, when no gradient reached it, zeros if `zeros_if_unreached`, else
/// `None`.
///
/// # Errors
/// An operator without a gradient, or one whose gradient nodes cannot be built: the error names
/// the forward node.
pub fn reverse_pass(
    builder: &mut dyn GraphBuilder,
    forward: &[ForwardNode],
    heads: &[(Entry, Entry)],
    wanted: &[Entry],
    zeros_if_unreached: bool,
) -> Result<Vec<Option<Entry>>> {
    let mut contributions: HashMap<Entry, Vec<Entry>> = HashMap::new();
    for &(output, grad) in heads {
        contributions.entry(output).or_default().push(grad);
    }
    let wanted_set: HashSet<Entry> = wanted.iter().copied().collect();
    let leads = leads_to_wanted(forward, &wanted_set);
    let entry_leads =
        |e: &Entry| leads.get(e.node).copied().unwrap_or(true) || wanted_set.contains(e);
    let prune = builder.prunes_unwanted();
    for (node, fwd) in forward.iter().enumerate().rev() {
        let Some(op) = &fwd.op else {
            continue;
        };
        let outputs: Vec<Entry> = (0..op.num_outputs())
            .map(|output| Entry { node, output })
            .collect();
        if !outputs.iter().any(|e| contributions.contains_key(e)) {
            continue;
        }
        let needed: Vec<bool> = fwd.inputs.iter().map(entry_leads).collect();
        if prune && !needed.contains(&true) {
            continue;
        }
        let mut ograds = Vec::with_capacity(outputs.len());
        for e in &outputs {
            let terms = contributions.remove(e).unwrap_or_default();
            ograds.push(sum_or_zeros(builder, &fwd.name, *e, terms)?);
        }
        let grads = op
            .gradient(&mut GradCtx {
                builder: &mut *builder,
                name: &fwd.name,
                inputs: &fwd.inputs,
                outputs: &outputs,
                ograds: &ograds,
                needed: &needed,
            })
            .map_err(|e| Error::BadInput {
                op: op.name().into(),
                reason: format!("gradient of node {}: {e}", fwd.name),
            })?;
        for (input, grad) in fwd.inputs.iter().zip(grads) {
            if let Some(g) = grad {
                contributions.entry(*input).or_default().push(g);
            }
        }
    }
    wanted
        .iter()
        .map(|e| {
            let name = forward.get(e.node).map_or("", |n| n.name.as_str());
            match contributions.remove(e) {
                Some(terms) => sum_or_zeros(builder, name, *e, terms).map(Some),
                None if zeros_if_unreached => sum_or_zeros(builder, name, *e, Vec::new()).map(Some),
                None => Ok(None),
            }
        })
        .collect()
}

/// Per forward node, whether a gradient flowing into it can reach a `wanted` entry: an
/// operator node one of whose inputs is wanted or comes from such a node.
fn leads_to_wanted(forward: &[ForwardNode], wanted: &HashSet<Entry>) -> Vec<bool> {
    let mut leads = vec![false; forward.len()];
    for (node, fwd) in forward.iter().enumerate() {
        leads[node] = fwd.op.is_some()
            && fwd
                .inputs
                .iter()
                .any(|e| wanted.contains(e) || leads.get(e.node).copied().unwrap_or(false));
    }
    leads
}

/// The sum of `terms` (`<name>_grad_sum` nodes), or zeros shaped like `like` (`<name>_zeros`)
/// when there are none.
fn sum_or_zeros(
    builder: &mut dyn GraphBuilder,
    name: &str,
    like: Entry,
    terms: Vec<Entry>,
) -> Result<Entry> {
    let mut terms = terms.into_iter();
    let Some(first) = terms.next() else {
        let zeros = super::create("zeros_like", &[], None)?;
        return first_output(builder.add_node(zeros, &format!("{name}_zeros"), &[like])?);
    };
    let mut sum = first;
    for t in terms {
        let add = super::create("elemwise_add", &[], Some(2))?;
        sum = first_output(builder.add_node(add, &format!("{name}_grad_sum"), &[sum, t])?)?;
    }
    Ok(sum)
}

fn first_output(entries: Vec<Entry>) -> Result<Entry> {
    entries.first().copied().ok_or_else(|| Error::BadInput {
        op: "reverse_pass".into(),
        reason: "a gradient node without outputs".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A builder that records each node's operator and the `needed` mask it was given.
    struct Spy {
        nodes: Vec<(String, Option<Vec<bool>>)>,
        prune: bool,
    }

    impl Spy {
        fn push(&mut self, op: &OpRef, needed: Option<&[bool]>) -> Vec<Entry> {
            let node = 100 + self.nodes.len();
            self.nodes
                .push((op.name().to_owned(), needed.map(<[bool]>::to_vec)));
            (0..op.num_outputs())
                .map(|output| Entry { node, output })
                .collect()
        }
    }

    impl GraphBuilder for Spy {
        fn add_node(&mut self, op: OpRef, _: &str, _: &[Entry]) -> Result<Vec<Entry>> {
            Ok(self.push(&op, None))
        }
        fn add_node_needed(
            &mut self,
            op: OpRef,
            _: &str,
            _: &[Entry],
            needed: &[bool],
        ) -> Result<Vec<Entry>> {
            Ok(self.push(&op, Some(needed)))
        }
        fn prunes_unwanted(&self) -> bool {
            self.prune
        }
    }

    /// data → Reshape → FullyConnected(w1, b1) → relu → FullyConnected(w2), backward to the
    /// weights only: the first layer's data gradient is not needed, the second's is.
    fn mlp() -> Vec<ForwardNode> {
        let var = |name: &str| ForwardNode {
            name: name.into(),
            op: None,
            inputs: Vec::new(),
        };
        let e = |node| Entry { node, output: 0 };
        let op = |name: &str, op: &str, attrs: &[(&str, &str)], inputs: Vec<Entry>| ForwardNode {
            name: name.into(),
            op: Some(super::super::create(op, attrs, Some(inputs.len())).unwrap()),
            inputs,
        };
        vec![
            var("data"),
            op("flat", "Reshape", &[("shape", "(0, -1)")], vec![e(0)]),
            var("w1"),
            var("b1"),
            op(
                "fc1",
                "FullyConnected",
                &[("num_hidden", "4")],
                vec![e(1), e(2), e(3)],
            ),
            op("act", "relu", &[], vec![e(4)]),
            var("w2"),
            op(
                "fc2",
                "FullyConnected",
                &[("num_hidden", "2"), ("no_bias", "True")],
                vec![e(5), e(6)],
            ),
        ]
    }

    #[test]
    fn gradients_are_told_which_inputs_lead_to_a_wanted_entry() {
        let forward = mlp();
        let e = |node| Entry { node, output: 0 };
        let heads = [(
            e(7),
            Entry {
                node: 99,
                output: 0,
            },
        )];
        for prune in [false, true] {
            let mut spy = Spy {
                nodes: Vec::new(),
                prune,
            };
            let wanted = [e(2), e(3), e(6)];
            let grads = reverse_pass(&mut spy, &forward, &heads, &wanted, false).unwrap();
            assert!(grads.iter().all(Option::is_some), "every weight reached");
            let backward: Vec<&(String, Option<Vec<bool>>)> = spy
                .nodes
                .iter()
                .filter(|(op, _)| op == "_backward_FullyConnected")
                .collect();
            // fc2 first (reverse order): its data input leads to w1 and b1; fc1's data does not.
            assert_eq!(backward[0].1.as_deref(), Some(&[true, true][..]));
            assert_eq!(backward[1].1.as_deref(), Some(&[false, true, true][..]));
            // The Reshape of the data leads nowhere wanted: a graph keeps its gradient node
            // (as MXNet's graph does), a builder that prunes leaves it out.
            let reshape = spy.nodes.iter().any(|(op, _)| op == "_backward_reshape");
            assert_eq!(reshape, !prune, "prune={prune}: {:?}", spy.nodes);
        }
        // Everything wanted: every gradient needed.
        let mut spy = Spy {
            nodes: Vec::new(),
            prune: true,
        };
        let all = [e(0), e(2), e(3), e(6)];
        reverse_pass(&mut spy, &forward, &heads, &all, false).unwrap();
        let fc1 = spy
            .nodes
            .iter()
            .rfind(|(op, _)| op == "_backward_FullyConnected");
        assert_eq!(fc1.unwrap().1.as_deref(), Some(&[true, true, true][..]));
    }
}
