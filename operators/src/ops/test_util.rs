//! Test helpers shared by the operator families' tests: deterministic values for the GPU
//! tests and a recorder for the nodes a gradient function adds.

use crate::Result;
use crate::registry::{Entry, GradCtx, GraphBuilder, OpRef};

/// Deterministic values in [lo, hi) (a small LCG), some exactly zero when `zeros`.
pub(crate) fn gpu_values(n: usize, seed: u64, lo: f32, hi: f32, zeros: bool) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            if zeros && i % 7 == 3 {
                return 0.0;
            }
            let u = (s >> 40) as f32 / (1u64 << 24) as f32;
            lo + (hi - lo) * u
        })
        .collect()
}

/// The shapes the GPU tests cover: odd sizes, a size-1 axis, a scalar, empty.
pub(crate) const GPU_SHAPES: &[&[usize]] = &[&[3, 5, 7], &[1, 9], &[17], &[], &[0, 4], &[2, 0]];

/// One node a gradient function added: its op, its name and its inputs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) op: String,
    pub(crate) name: String,
    pub(crate) inputs: Vec<Entry>,
}

/// Forward input `i` in [`backward_graph`]'s numbering.
pub(crate) fn input(i: usize) -> Entry {
    Entry { node: i, output: 0 }
}

/// Forward output `k`.
pub(crate) fn output(k: usize) -> Entry {
    Entry {
        node: 100,
        output: k,
    }
}

/// Head gradient `k`.
pub(crate) fn ograd(k: usize) -> Entry {
    Entry {
        node: 200,
        output: k,
    }
}

/// Output `k` of the `n`-th node the gradient function added.
pub(crate) fn added(n: usize, k: usize) -> Entry {
    Entry {
        node: 300 + n,
        output: k,
    }
}

struct Recorder {
    nodes: Vec<Node>,
}

impl GraphBuilder for Recorder {
    fn add_node(&mut self, op: OpRef, name: &str, inputs: &[Entry]) -> Result<Vec<Entry>> {
        let node = 300 + self.nodes.len();
        self.nodes.push(Node {
            op: op.name().to_string(),
            name: name.to_string(),
            inputs: inputs.to_vec(),
        });
        Ok((0..op.num_outputs())
            .map(|output| Entry { node, output })
            .collect())
    }
}

/// The nodes `op`'s gradient function adds for a forward node named `fwd`, and the entries
/// it returns per input (see [`input`], [`output`], [`ograd`], [`added`] for the numbering).
pub(crate) fn backward_graph(op: &OpRef) -> (Vec<Node>, Vec<Option<Entry>>) {
    let inputs: Vec<Entry> = (0..op.num_inputs()).map(input).collect();
    let outputs: Vec<Entry> = (0..op.num_outputs()).map(output).collect();
    let ograds: Vec<Entry> = (0..op.num_outputs()).map(ograd).collect();
    let mut rec = Recorder { nodes: Vec::new() };
    let grads = op
        .gradient(&mut GradCtx {
            builder: &mut rec,
            name: "fwd",
            inputs: &inputs,
            outputs: &outputs,
            ograds: &ograds,
        })
        .unwrap();
    (rec.nodes, grads)
}
