//! The inference program: an executor's forward graph rewritten for `forward(is_train=false)`
//! on the CPU, as MXNet's oneDNN subgraph backend rewrites it at bind.
//!
//! - **Fusion.** A `Convolution` followed by a `BatchNorm`, an `elemwise_add` (a residual) and
//!   an `Activation(relu)` — each optional, in that order, each the only reader of the one
//!   before — becomes one [`FusedConv`]: the BatchNorm folded into the convolution's weights
//!   and bias, the addition and the ReLU applied as each output tile is stored.
//! - **Layout.** The fused convolutions read and write activations in the channel-blocked
//!   layout (NCHW16c, [`mxr_kernels::cpu::conv::blocked`]), with the zero halo columns their
//!   readers' padding needs; every other operator runs as in the unfused graph on NCHW arrays,
//!   and conversions ([`ToBlocked`], [`FromBlocked`]) sit where the two meet. The graph's
//!   outputs are NCHW.
//! - **Folded weights** depend on parameters a user may change at any time (assigning into
//!   `arg_dict()`, training another executor that shares the arrays). Each fused convolution's
//!   packed weights and folded bias live in arrays of their own, written by a [`FoldConv`]
//!   engine operation that reads the parameters. Before each inference forward the program
//!   compares every parameter's count of pushed writes ([`NDArray::write_pushes`]) with the
//!   count at the last fold and pushes a new fold where one changed; the engine orders it after
//!   those writes and before the forward's reads. Nothing waits, and nothing inspects a pending
//!   write at push time.
//!
//! The program is built on the first inference forward of an executor without gradients
//! (`grad_req` null everywhere), and only when it fuses at least one convolution.
//! `MXR_FUSION=0`, or [`Executor::set_fusion`], keeps the unfused path.

use std::collections::HashMap;

use mxr_engine::Context;
use mxr_kernels::DType;
use mxr_kernels::cpu::conv::direct::{DirectConv, InputLayout};
use mxr_operators::ops::activation::{ActType, Activation};
use mxr_operators::ops::batch_norm::BatchNorm;
use mxr_operators::ops::convolution::Convolution;
use mxr_operators::ops::fused::conv::{ConvPart, FoldConv, FoldedBatchNorm, FusedConv};
use mxr_operators::ops::fused::layout::{FromBlocked, ToBlocked};
use mxr_operators::registry::{Entry, OpRef, downcast};

use super::executor::{Executor, GradReq};
use super::graph::Graph;
use crate::Result;
use crate::nd::NDArray;
use crate::nd::invoke::push_planned;

/// Channels below which a first convolution reads its NCHW input directly (three colour
/// channels would waste most of a 16-channel block).
const PLAIN_INPUT_CHANNELS: usize = 8;

/// Whether `MXR_FUSION` allows fusion (anything but `0`, `false`, `off`; read once).
pub(crate) fn enabled_by_env() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| {
        std::env::var("MXR_FUSION").map_or(true, |v| {
            !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "0" | "false" | "off"
            )
        })
    })
}

/// One fold: the operation that packs a fused convolution's weights, with the arrays it reads
/// and writes and the write counts of its inputs when it was last pushed.
#[derive(Debug)]
struct Fold {
    op: OpRef,
    inputs: Vec<NDArray>,
    outputs: Vec<NDArray>,
    seen: Option<Vec<u64>>,
}

/// A built inference program (see the module docs).
#[derive(Debug)]
pub(crate) struct InferenceProgram {
    inner: Executor,
    folds: Vec<Fold>,
    context: Context,
}

impl InferenceProgram {
    /// Pushes the folds whose parameters were written since they last ran, the forward pass,
    /// and copies of the outputs into `outputs` (the executor's output arrays).
    pub(crate) fn run(&mut self, outputs: &[NDArray]) -> Result<()> {
        for fold in &mut self.folds {
            let now: Vec<u64> = fold.inputs.iter().map(NDArray::write_pushes).collect();
            if fold.seen.as_ref() != Some(&now) {
                let inputs: Vec<&NDArray> = fold.inputs.iter().collect();
                push_planned(&fold.op, &inputs, &fold.outputs, false, self.context, None)?;
                fold.seen = Some(now);
            }
        }
        self.inner.forward(false)?;
        for (dst, src) in outputs.iter().zip(self.inner.outputs()) {
            dst.assign(&src)?;
        }
        Ok(())
    }

    /// How many convolutions the program fused (for tests and reports).
    pub(crate) fn fused_convolutions(&self) -> usize {
        self.folds.len()
    }
}

/// A chain of forward nodes that becomes one fused convolution.
#[derive(Debug, Clone)]
struct Chain {
    conv: usize,
    plan: DirectConv,
    layout: InputLayout,
    bn: Option<usize>,
    residual: Option<Entry>,
    relu: bool,
    /// The node whose output is the chain's output.
    last: usize,
}

/// What the rewrite needs to know about the bound forward graph.
pub(crate) struct Bound<'a> {
    /// The forward graph.
    pub(crate) graph: &'a Graph,
    /// Every entry's shape.
    pub(crate) shapes: &'a [Vec<Vec<usize>>],
    /// Every entry's dtype.
    pub(crate) dtypes: &'a [Vec<DType>],
    /// The array of every variable node.
    pub(crate) arrays: &'a HashMap<usize, NDArray>,
    /// The executor's device.
    pub(crate) context: Context,
}

/// Builds the inference program of a bound forward graph; `None` when nothing is fused.
pub(crate) fn build(b: &Bound<'_>) -> Result<Option<InferenceProgram>> {
    let g = b.graph;
    let mut uses: Vec<Vec<usize>> = g.nodes.iter().map(|n| vec![0; n.num_outputs()]).collect();
    let mut readers: Vec<Vec<Vec<usize>>> = g
        .nodes
        .iter()
        .map(|n| vec![Vec::new(); n.num_outputs()])
        .collect();
    for (i, node) in g.nodes.iter().enumerate() {
        for e in &node.inputs {
            uses[e.node][e.output] += 1;
            readers[e.node][e.output].push(i);
        }
    }
    for e in &g.outputs {
        uses[e.node][e.output] += 1;
    }
    // The one reader of `e`, when it has exactly one and is not a graph output.
    let only_reader = |e: Entry| -> Option<usize> {
        (uses[e.node][e.output] == 1)
            .then(|| readers[e.node][e.output].first().copied())
            .flatten()
    };
    let is_var = |e: &Entry| g.nodes[e.node].op.is_none() && b.arrays.contains_key(&e.node);
    let f32_entry = |e: Entry| b.dtypes[e.node][e.output] == DType::F32;

    let mut chains: Vec<Chain> = Vec::new();
    let mut absorbed = vec![false; g.nodes.len()];
    for (i, node) in g.nodes.iter().enumerate() {
        let Some(op) = &node.op else { continue };
        let Some(conv) = downcast::<Convolution>(op) else {
            continue;
        };
        let data = node.inputs[0];
        let dims = &b.shapes[data.node][data.output];
        if dims.len() != 4 || !f32_entry(data) || !node.inputs[1..].iter().all(is_var) {
            continue;
        }
        let layout = if dims[1] < PLAIN_INPUT_CHANNELS {
            InputLayout::Plain
        } else {
            InputLayout::Blocked
        };
        let geom = conv.0.geom(dims);
        let Ok(Some(plan)) = DirectConv::new(&geom, layout) else {
            continue;
        };
        let mut chain = Chain {
            conv: i,
            plan,
            layout,
            bn: None,
            residual: None,
            relu: false,
            last: i,
        };
        let mut cur = Entry { node: i, output: 0 };
        if let Some(r) = only_reader(cur)
            && let Some(bn) = g.nodes[r].op.as_ref().and_then(downcast::<BatchNorm>)
            && g.nodes[r].inputs[0] == cur
            && matches!(bn.0.axis, 1 | -3)
            && g.nodes[r].inputs[1..].iter().all(is_var)
            && (1..3).all(|k| uses[r][k] == 0)
        {
            chain.bn = Some(r);
            cur = Entry { node: r, output: 0 };
        }
        if let Some(r) = only_reader(cur)
            && g.nodes[r]
                .op
                .as_ref()
                .is_some_and(|op| op.name() == "elemwise_add")
        {
            let ins = &g.nodes[r].inputs;
            let other = if ins[0] == cur { ins[1] } else { ins[0] };
            // The residual must be computed before this chain's last node, so that of two
            // chains meeting at an addition, the later one absorbs it.
            if other != cur
                && other.node < cur.node
                && !absorbed[r]
                && b.shapes[other.node][other.output] == b.shapes[i][0]
            {
                chain.residual = Some(other);
                cur = Entry { node: r, output: 0 };
            }
        }
        if let Some(r) = only_reader(cur)
            && let Some(act) = g.nodes[r].op.as_ref().and_then(downcast::<Activation>)
            && act.param.act_type == ActType::Relu
        {
            chain.relu = true;
            cur = Entry { node: r, output: 0 };
        }
        chain.last = cur.node;
        for n in [Some(chain.conv), chain.bn, Some(chain.last)]
            .into_iter()
            .flatten()
        {
            absorbed[n] = true;
        }
        if chain.residual.is_some() {
            // The addition is the node after the BatchNorm (or the convolution).
            let add = readers[chain.bn.unwrap_or(chain.conv)][0][0];
            absorbed[add] = true;
        }
        chains.push(chain);
    }
    if chains.is_empty() {
        return Ok(None);
    }
    let chain_at: HashMap<usize, usize> = chains
        .iter()
        .enumerate()
        .map(|(k, c)| (c.last, k))
        .collect();
    let chain_out = |k: usize| Entry {
        node: chains[k].last,
        output: 0,
    };
    // The halo each blocked entry needs: the widest padding of the fused convolutions reading it.
    let mut halo: HashMap<Entry, usize> = HashMap::new();
    for c in &chains {
        if c.layout == InputLayout::Blocked {
            let data = g.nodes[c.conv].inputs[0];
            let h = halo.entry(data).or_insert(0);
            *h = (*h).max(c.plan.input_halo());
        }
    }

    let mut rewrite = Rewrite {
        out: Graph::default(),
        arrays: HashMap::new(),
        nchw: HashMap::new(),
        blocked: HashMap::new(),
    };
    let mut folds = Vec::new();
    for (i, node) in g.nodes.iter().enumerate() {
        if node.op.is_none() {
            continue;
        }
        if let Some(&k) = chain_at.get(&i) {
            let c = &chains[k];
            let conv_node = &g.nodes[c.conv];
            let data = conv_node.inputs[0];
            let dims = &b.shapes[data.node][data.output];
            let spec = downcast::<Convolution>(conv_node.op.as_ref().expect("a conv node"))
                .expect("chains start at convolutions")
                .0
                .clone();
            let part = ConvPart {
                spec,
                channels: dims[1],
                input: [dims[2], dims[3]],
                layout: c.layout,
            };
            let (data_in, in_halo) = match c.layout {
                InputLayout::Blocked => {
                    let h = halo.get(&data).copied().unwrap_or(0);
                    (rewrite.blocked_entry(g, b, data, h)?, h)
                }
                InputLayout::Plain => (rewrite.nchw_entry(g, b, data)?, 0),
            };
            // The fold: the parameters in, the packed weights and folded bias out.
            let bn = c.bn.map(|n| {
                let p = &downcast::<BatchNorm>(g.nodes[n].op.as_ref().expect("a BN node"))
                    .expect("checked")
                    .0;
                FoldedBatchNorm {
                    eps: p.eps,
                    fix_gamma: p.fix_gamma,
                }
            });
            let fold = FoldConv {
                conv: part.clone(),
                bn,
            };
            let mut fold_inputs: Vec<NDArray> = conv_node.inputs[1..]
                .iter()
                .map(|e| b.arrays[&e.node].clone())
                .collect();
            if let Some(n) = c.bn {
                fold_inputs.extend(
                    g.nodes[n].inputs[1..]
                        .iter()
                        .map(|e| b.arrays[&e.node].clone()),
                );
            }
            let packed = NDArray::new(&[c.plan.packed_len()], DType::F32, b.context)?;
            let bias = NDArray::new(&[part.spec.param.num_filter], DType::F32, b.context)?;
            let packed_var =
                rewrite.variable(&format!("{}_packed_weight", conv_node.name), packed.clone());
            let bias_var =
                rewrite.variable(&format!("{}_folded_bias", conv_node.name), bias.clone());
            folds.push(Fold {
                op: std::sync::Arc::new(fold),
                inputs: fold_inputs,
                outputs: vec![packed, bias],
                seen: None,
            });
            let out = chain_out(k);
            let out_halo = halo.get(&out).copied().unwrap_or(0);
            let mut inputs = vec![data_in, packed_var, bias_var];
            let mut residual_halo = None;
            if let Some(r) = c.residual {
                let h = rewrite.blocked.get(&r).map_or(0, |&(_, h)| h);
                inputs.push(rewrite.blocked_entry(g, b, r, h)?);
                residual_halo = Some(h);
            }
            let fused = FusedConv {
                conv: part,
                in_halo,
                out_halo,
                residual_halo,
                relu: c.relu,
            };
            let e = rewrite
                .out
                .add(std::sync::Arc::new(fused), &node.name, &inputs)?[0];
            rewrite.blocked.insert(out, (e, out_halo));
            continue;
        }
        if absorbed[i] {
            continue;
        }
        let op = node.op.clone().expect("an operator node");
        let inputs: Vec<Entry> = node
            .inputs
            .iter()
            .map(|&e| rewrite.nchw_entry(g, b, e))
            .collect::<Result<_>>()?;
        let outs = rewrite.out.add(op, &node.name, &inputs)?;
        for (k, e) in outs.into_iter().enumerate() {
            rewrite.nchw.insert(Entry { node: i, output: k }, e);
        }
    }
    for &e in &g.outputs {
        let new = rewrite.nchw_entry(g, b, e)?;
        rewrite.out.outputs.push(new);
    }
    let Rewrite { out, arrays, .. } = rewrite;
    let arg_nodes = out.arguments();
    let aux_nodes = out.auxiliary_states();
    let pick =
        |nodes: &[usize]| -> Vec<NDArray> { nodes.iter().map(|n| arrays[n].clone()).collect() };
    let args = pick(&arg_nodes);
    let aux = pick(&aux_nodes);
    let reqs = vec![GradReq::Null; args.len()];
    let grads = vec![None; args.len()];
    let mut inner = Executor::bind(&out, b.context, args, grads, &reqs, aux)?;
    inner.set_fusion(false);
    Ok(Some(InferenceProgram {
        inner,
        folds,
        context: b.context,
    }))
}

/// The graph being written, with the arrays of its variables and where each original entry
/// lives in it.
struct Rewrite {
    out: Graph,
    /// Variable node (of `out`) → its array.
    arrays: HashMap<usize, NDArray>,
    /// Original entry → its NCHW entry in `out`.
    nchw: HashMap<Entry, Entry>,
    /// Original entry → its blocked entry in `out`, with the halo.
    blocked: HashMap<Entry, (Entry, usize)>,
}

impl Rewrite {
    /// A new variable bound to `array`.
    fn variable(&mut self, name: &str, array: NDArray) -> Entry {
        let e = self.out.variable(name);
        self.arrays.insert(e.node, array);
        e
    }

    /// The NCHW entry of original entry `e`: the variable itself, an unfused operator's output,
    /// or a conversion of a blocked entry (made once).
    fn nchw_entry(&mut self, g: &Graph, b: &Bound<'_>, e: Entry) -> Result<Entry> {
        if let Some(&n) = self.nchw.get(&e) {
            return Ok(n);
        }
        let new =
            if g.nodes[e.node].op.is_none() {
                let array = b.arrays.get(&e.node).cloned().ok_or_else(|| {
                    crate::Error::InvalidArgument {
                        call: "Executor::forward",
                        reason: format!("variable {} has no array", g.nodes[e.node].name),
                    }
                })?;
                self.variable(&g.nodes[e.node].name, array)
            } else {
                let &(src, halo) =
                    self.blocked
                        .get(&e)
                        .ok_or_else(|| crate::Error::InvalidArgument {
                            call: "Executor::forward",
                            reason: format!(
                                "inference program: entry {e:?} computed before it is read"
                            ),
                        })?;
                let op = FromBlocked {
                    channels: b.shapes[e.node][e.output][1],
                    halo,
                };
                let name = format!("{}_nchw", g.nodes[e.node].name);
                self.out.add(std::sync::Arc::new(op), &name, &[src])?[0]
            };
        self.nchw.insert(e, new);
        Ok(new)
    }

    /// The blocked entry of original entry `e` with at least `halo` (converting its NCHW entry
    /// once when it has none).
    fn blocked_entry(&mut self, g: &Graph, b: &Bound<'_>, e: Entry, halo: usize) -> Result<Entry> {
        if let Some(&(n, h)) = self.blocked.get(&e)
            && h >= halo
        {
            return Ok(n);
        }
        let src = self.nchw_entry(g, b, e)?;
        let name = format!("{}_blocked", g.nodes[e.node].name);
        let new = self
            .out
            .add(std::sync::Arc::new(ToBlocked { halo }), &name, &[src])?[0];
        self.blocked.insert(e, (new, halo));
        Ok(new)
    }
}
