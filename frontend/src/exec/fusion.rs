//! The inference program: an executor's forward graph rewritten for `forward(is_train=false)`
//! on the CPU, as MXNet's oneDNN subgraph backend rewrites it at bind.
//!
//! - **Fusion.** A `Convolution` followed by a `BatchNorm`, an `elemwise_add` (a residual) and
//!   an `Activation(relu)` — each optional, in that order, each the only reader of the one
//!   before — becomes one [`FusedConv`]: the BatchNorm folded into the convolution's weights
//!   and bias, the addition and the ReLU applied as each output tile is stored. The kernel is
//!   chosen per convolution: depthwise for one filter per channel, Winograd for 3×3 stride 1
//!   (`MXR_WINOGRAD=0` turns it off), the direct kernel otherwise.
//! - **Layout.** The fused convolutions read and write activations in the channel-blocked
//!   layout (NCHW16c, [`mxr_kernels::cpu::conv::blocked`]), with the zero halo columns their
//!   readers' padding needs. 2-D pooling, inference `BatchNorm` (with a following ReLU) and
//!   `elemwise_add` (with a following ReLU) on blocked inputs stay blocked; every other operator
//!   runs as in the unfused graph on NCHW arrays, and conversions ([`ToBlocked`],
//!   [`FromBlocked`]) sit where the two meet. The graph's outputs are NCHW.
//! - **Chains.** Where a fused convolution is the only reader of the one before and the
//!   activation between them is large ([`chains::CHAIN_MIN_BYTES`] by default), the run of such convolutions
//!   becomes one [`FusedChain`], which takes the batch image by image so that the activations
//!   between its layers stay in the caches (`MXR_CHAINS=0` or
//!   [`Executor::set_fusion_chains`] turns chains off).
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

use std::sync::Arc;

use mxr_engine::Context;
use mxr_kernels::DType;
use mxr_kernels::cpu::conv::ConvGeom;
use mxr_kernels::cpu::conv::depthwise::DepthwiseConv;
use mxr_kernels::cpu::conv::direct::{DirectConv, InputLayout};
use mxr_kernels::cpu::conv::winograd::WinogradConv;
use mxr_kernels::cpu::pooling::blocked::BlockedPool;
use mxr_operators::ops::activation::{ActType, Activation};
use mxr_operators::ops::batch_norm::BatchNorm;
use mxr_operators::ops::convolution::Convolution;
use mxr_operators::ops::fused::chain::FusedChain;
use mxr_operators::ops::fused::conv::{ConvKernel, ConvPart, FoldConv, FoldedBatchNorm, FusedConv};
use mxr_operators::ops::fused::elementwise::{BlockedAdd, BlockedBatchNorm};
use mxr_operators::ops::fused::layout::{FromBlocked, ToBlocked};
use mxr_operators::ops::fused::pool::BlockedPooling;
use mxr_operators::ops::pooling::Pooling;
use mxr_operators::registry::{Entry, OpRef, downcast};

mod chains;

use super::executor::{Executor, GradReq};
use super::graph::Graph;
use crate::Result;
use crate::dispatch;
use crate::nd::NDArray;
pub(crate) use chains::default_chain_min_bytes;
use chains::{Chain, chain_groups, find_chains};

/// Channels below which a first convolution reads its NCHW input directly (three colour
/// channels would waste most of a 16-channel block).
const PLAIN_INPUT_CHANNELS: usize = 8;

/// Whether the environment switch `var` is on: unset, or anything but `0`, `false`, `off`.
fn switch_on(var: &str) -> bool {
    std::env::var(var).map_or(true, |v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "0" | "false" | "off"
        )
    })
}

/// Whether `MXR_FUSION` allows fusion (read once).
pub(crate) fn enabled_by_env() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| switch_on("MXR_FUSION"))
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
                dispatch::push(&fold.op, &inputs, &fold.outputs, false, self.context, None)?;
                fold.seen = Some(now);
            }
        }
        self.inner.forward(false)?;
        for (dst, src) in outputs.iter().zip(self.inner.outputs()) {
            dst.assign(&src)?;
        }
        Ok(())
    }

    /// The rewritten graph's nodes and memory ([`Executor::debug_str`] of the program).
    pub(crate) fn debug_str(&self) -> String {
        self.inner.debug_str()
    }

    /// How many convolutions the program fused (for tests and reports).
    pub(crate) fn fused_convolutions(&self) -> usize {
        self.folds.len()
    }
}

/// What a node of the forward graph becomes in the inference program.
#[derive(Debug, Clone)]
enum Role {
    /// Run as written, on NCHW arrays.
    Plain,
    /// Absorbed into a fused node emitted at another node's position.
    Absorbed,
    /// The last node of fused convolution `k`.
    Conv(usize),
    /// A 2-D pooling on a blocked input.
    Pool,
    /// An inference BatchNorm on a blocked input, with the ReLU node that follows when present.
    BatchNorm(Option<usize>),
    /// An addition of blocked inputs, with the ReLU node that follows when present.
    Add(Option<usize>),
    /// The ReLU of a `BatchNorm` or `Add` role (its output is that node's output).
    Tail,
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
    /// The smallest activation that chains two fused convolutions (`None`: no chains).
    pub(crate) chain_min_bytes: Option<usize>,
}

/// Readers of every entry, and whether it is a graph output.
struct Uses {
    /// Per node, per output: the reading nodes (a node reading twice counts twice).
    readers: Vec<Vec<Vec<usize>>>,
    /// Per node, per output: read by the graph's outputs.
    output: Vec<Vec<bool>>,
}

impl Uses {
    fn of(g: &Graph) -> Uses {
        let mut readers: Vec<Vec<Vec<usize>>> = g
            .nodes
            .iter()
            .map(|n| vec![Vec::new(); n.num_outputs()])
            .collect();
        let mut output: Vec<Vec<bool>> = g
            .nodes
            .iter()
            .map(|n| vec![false; n.num_outputs()])
            .collect();
        for (i, node) in g.nodes.iter().enumerate() {
            for e in &node.inputs {
                readers[e.node][e.output].push(i);
            }
        }
        for e in &g.outputs {
            output[e.node][e.output] = true;
        }
        Uses { readers, output }
    }

    /// The one reader of `e`, when it has exactly one and is not a graph output.
    fn only_reader(&self, e: Entry) -> Option<usize> {
        match self.readers[e.node][e.output].as_slice() {
            [r] if !self.output[e.node][e.output] => Some(*r),
            _ => None,
        }
    }

    /// Whether output `k` of `node` is read by anyone.
    fn used(&self, node: usize, k: usize) -> bool {
        !self.readers[node][k].is_empty() || self.output[node][k]
    }
}

/// The ReLU node that is the only reader of `e`, if any.
fn relu_after(g: &Graph, uses: &Uses, e: Entry) -> Option<usize> {
    let r = uses.only_reader(e)?;
    let act = g.nodes[r].op.as_ref().and_then(downcast::<Activation>)?;
    (act.param.act_type == ActType::Relu).then_some(r)
}

/// Gives node `i` the role `role_of` its following ReLU (the ReLU, when it is the only reader
/// of `i`'s output, becomes its tail); the last of the two leaves a blocked output.
fn with_relu_tail(
    g: &Graph,
    uses: &Uses,
    i: usize,
    role: &mut [Role],
    blocked: &mut [bool],
    role_of: fn(Option<usize>) -> Role,
) {
    let relu = relu_after(g, uses, Entry { node: i, output: 0 });
    role[i] = role_of(relu);
    match relu {
        Some(r) => {
            role[r] = Role::Tail;
            blocked[r] = true;
        }
        None => blocked[i] = true,
    }
}

/// The kernel for the convolution `geom` with its input in `layout`, with its packed length;
/// `None` when no blocked kernel serves it.
fn choose_kernel(geom: &ConvGeom, layout: InputLayout) -> Option<(ConvKernel, usize)> {
    let depthwise = geom.groups > 1 && geom.groups == geom.channels && geom.groups == geom.filters;
    if depthwise {
        if layout != InputLayout::Blocked {
            return None;
        }
        return DepthwiseConv::new(geom)
            .ok()
            .flatten()
            .map(|p| (ConvKernel::Depthwise, p.packed_len()));
    }
    // Winograd beats the direct kernel from 4×4 outputs up (measured: 1.1–3× there, 0.3–0.9×
    // on 3×3 and smaller maps).
    let big_enough = geom.output().is_ok_and(|o| o[1] >= 4 && o[2] >= 4);
    if layout == InputLayout::Blocked
        && big_enough
        && mxr_kernels::cpu::conv::winograd::enabled()
        && let Ok(Some(p)) = WinogradConv::new(geom)
    {
        return Some((ConvKernel::Winograd(p.variant()), p.packed_len()));
    }
    DirectConv::new(geom, layout)
        .ok()
        .flatten()
        .map(|p| (ConvKernel::Direct, p.packed_len()))
}

/// Decides every node's role: fused convolutions first, then the operators that keep a blocked
/// input blocked.
fn roles(b: &Bound<'_>, uses: &Uses, chains: &[Chain]) -> Vec<Role> {
    let g = b.graph;
    let mut role = vec![Role::Plain; g.nodes.len()];
    for (k, c) in chains.iter().enumerate() {
        for n in [Some(c.conv), c.bn, c.add].into_iter().flatten() {
            role[n] = Role::Absorbed;
        }
        role[c.last] = Role::Conv(k);
    }
    // Entries that exist in the blocked layout without a conversion.
    let mut blocked = vec![false; g.nodes.len()];
    for c in chains {
        blocked[c.last] = true;
    }
    let is_var = |e: &Entry| g.nodes[e.node].op.is_none() && b.arrays.contains_key(&e.node);
    let four_d = |e: Entry| b.shapes[e.node][e.output].len() == 4;
    for (i, node) in g.nodes.iter().enumerate() {
        if !matches!(role[i], Role::Plain) {
            continue;
        }
        let Some(op) = &node.op else { continue };
        let data = match node.inputs.first() {
            Some(&e) if e.output == 0 && blocked[e.node] && four_d(e) => e,
            _ => continue,
        };
        if let Some(p) = downcast::<Pooling>(op) {
            let geom = p.0.geom(&b.shapes[data.node][data.output]);
            if BlockedPool::new(&geom, p.0.kind).ok().flatten().is_some() {
                role[i] = Role::Pool;
                blocked[i] = true;
            }
        } else if let Some(bn) = downcast::<BatchNorm>(op) {
            let served = matches!(bn.0.axis, 1 | -3)
                && node.inputs[1..].iter().all(is_var)
                && !uses.used(i, 1)
                && !uses.used(i, 2);
            if served {
                with_relu_tail(g, uses, i, &mut role, &mut blocked, Role::BatchNorm);
            }
        } else if op.name() == "elemwise_add" && node.inputs.iter().all(|&e| four_d(e)) {
            with_relu_tail(g, uses, i, &mut role, &mut blocked, Role::Add);
        }
    }
    role
}

/// Builds the inference program of a bound forward graph; `None` when nothing is fused.
pub(crate) fn build(b: &Bound<'_>) -> Result<Option<InferenceProgram>> {
    let g = b.graph;
    let uses = Uses::of(g);
    let chains = find_chains(b, &uses);
    if chains.is_empty() {
        return Ok(None);
    }
    let role = roles(b, &uses, &chains);
    // The halo each blocked entry needs: the widest padding of the fused convolutions reading
    // it (pooling clips its windows; element-wise operators need none).
    let mut halo: HashMap<Entry, usize> = HashMap::new();
    for c in &chains {
        if c.layout == InputLayout::Blocked {
            let data = g.nodes[c.conv].inputs[0];
            let h = halo.entry(data).or_insert(0);
            *h = (*h).max(c.pad);
        }
    }
    let out_halo = |e: Entry| halo.get(&e).copied().unwrap_or(0);
    let channels = |e: Entry| b.shapes[e.node][e.output][1];
    let arrays =
        |n: &[Entry]| -> Vec<NDArray> { n.iter().map(|e| b.arrays[&e.node].clone()).collect() };

    let mut rewrite = Rewrite {
        out: Graph::default(),
        arrays: HashMap::new(),
        nchw: HashMap::new(),
        blocked: HashMap::new(),
    };
    let mut folds = Vec::new();
    // Per fused convolution: its place in a chain run image by image, if any.
    let group = chain_groups(b, &uses, &chains);
    // The stages of the chains being emitted, and their inputs so far, by first stage (another
    // fused convolution may be emitted between two stages of a chain).
    let mut pending: HashMap<usize, (Vec<FusedConv>, Vec<Entry>)> = HashMap::new();
    for (i, node) in g.nodes.iter().enumerate() {
        if node.op.is_none() {
            continue;
        }
        let here = Entry { node: i, output: 0 };
        match role[i].clone() {
            Role::Absorbed | Role::Tail => {}
            Role::Conv(k) => {
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
                    kernel: c.kernel,
                };
                // A later stage of a chain reads the stage before inside the chain operator.
                let later_stage = group[k].is_some_and(|p| p.pos > 0);
                let (data_in, in_halo) = match c.layout {
                    InputLayout::Blocked if later_stage => (None, out_halo(data)),
                    InputLayout::Blocked => {
                        let h = out_halo(data);
                        (Some(rewrite.blocked_entry(g, b, data, h)?), h)
                    }
                    InputLayout::Plain => (Some(rewrite.nchw_entry(g, b, data)?), 0),
                };
                // The fold: the parameters in, the packed weights and folded bias out.
                let bn = c.bn.map(|n| fold_params(&g.nodes[n]));
                let mut fold_inputs = arrays(&conv_node.inputs[1..]);
                if let Some(n) = c.bn {
                    fold_inputs.extend(arrays(&g.nodes[n].inputs[1..]));
                }
                let packed = NDArray::new(&[c.packed_len], DType::F32, b.context)?;
                let bias = NDArray::new(&[part.spec.param.num_filter], DType::F32, b.context)?;
                let name = &conv_node.name;
                let packed_var = rewrite.variable(&format!("{name}_packed_weight"), packed.clone());
                let bias_var = rewrite.variable(&format!("{name}_folded_bias"), bias.clone());
                folds.push(Fold {
                    op: Arc::new(FoldConv {
                        conv: part.clone(),
                        bn,
                    }),
                    inputs: fold_inputs,
                    outputs: vec![packed, bias],
                    seen: None,
                });
                let out = Entry {
                    node: c.last,
                    output: 0,
                };
                let mut inputs = vec![packed_var, bias_var];
                let mut residual_halo = None;
                if let Some(r) = c.residual {
                    let h = rewrite.blocked_halo(r);
                    inputs.push(rewrite.blocked_entry(g, b, r, h)?);
                    residual_halo = Some(h);
                }
                let fused = FusedConv {
                    conv: part,
                    in_halo,
                    out_halo: out_halo(out),
                    residual_halo,
                    relu: c.relu,
                };
                let op: OpRef = match group[k] {
                    None => {
                        inputs.insert(0, data_in.expect("a lone convolution reads its data"));
                        Arc::new(fused)
                    }
                    Some(place) => {
                        let (stages, ins) = pending.entry(place.first).or_default();
                        ins.extend(data_in);
                        ins.extend(inputs);
                        stages.push(fused);
                        if place.pos + 1 < place.len {
                            continue;
                        }
                        let (stages, ins) = pending.remove(&place.first).expect("just filled");
                        inputs = ins;
                        Arc::new(FusedChain { stages })
                    }
                };
                rewrite.add_blocked(op, &node.name, &inputs, out, out_halo(out))?;
            }
            Role::Pool => {
                let data = node.inputs[0];
                let dims = &b.shapes[data.node][data.output];
                let spec = downcast::<Pooling>(node.op.as_ref().expect("an op node"))
                    .expect("checked")
                    .0
                    .clone();
                let in_halo = rewrite.blocked_halo(data);
                let input = rewrite.blocked_entry(g, b, data, in_halo)?;
                let op = BlockedPooling {
                    spec,
                    channels: dims[1],
                    input: [dims[2], dims[3]],
                    in_halo,
                    out_halo: out_halo(here),
                };
                rewrite.add_blocked(Arc::new(op), &node.name, &[input], here, out_halo(here))?;
            }
            Role::BatchNorm(relu) => {
                let data = node.inputs[0];
                let out = relu.map_or(here, |r| Entry { node: r, output: 0 });
                let in_halo = rewrite.blocked_halo(data);
                let mut inputs = vec![rewrite.blocked_entry(g, b, data, in_halo)?];
                for &p in &node.inputs[1..] {
                    inputs.push(rewrite.nchw_entry(g, b, p)?);
                }
                let op = BlockedBatchNorm {
                    bn: fold_params(node),
                    channels: channels(data),
                    in_halo,
                    out_halo: out_halo(out),
                    relu: relu.is_some(),
                };
                rewrite.add_blocked(Arc::new(op), &node.name, &inputs, out, out_halo(out))?;
            }
            Role::Add(relu) => {
                let out = relu.map_or(here, |r| Entry { node: r, output: 0 });
                let mut inputs = Vec::new();
                let mut in_halos = [0; 2];
                for (k, &e) in node.inputs.iter().enumerate() {
                    in_halos[k] = rewrite.blocked_halo(e);
                    inputs.push(rewrite.blocked_entry(g, b, e, in_halos[k])?);
                }
                let op = BlockedAdd {
                    channels: channels(here),
                    in_halos,
                    out_halo: out_halo(out),
                    relu: relu.is_some(),
                };
                rewrite.add_blocked(Arc::new(op), &node.name, &inputs, out, out_halo(out))?;
            }
            Role::Plain => {
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
        }
    }
    for &e in &g.outputs {
        let new = rewrite.nchw_entry(g, b, e)?;
        rewrite.out.outputs.push(new);
    }
    let Rewrite { out, arrays, .. } = rewrite;
    let pick =
        |nodes: &[usize]| -> Vec<NDArray> { nodes.iter().map(|n| arrays[n].clone()).collect() };
    let args = pick(&out.arguments());
    let aux = pick(&out.auxiliary_states());
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

/// A BatchNorm node's `eps` and `fix_gamma`.
fn fold_params(node: &super::graph::Node) -> FoldedBatchNorm {
    let p = &downcast::<BatchNorm>(node.op.as_ref().expect("a BatchNorm node"))
        .expect("checked to be a BatchNorm")
        .0;
    FoldedBatchNorm {
        eps: p.eps,
        fix_gamma: p.fix_gamma,
    }
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

    /// The halo of original entry `e`'s blocked entry (0 while it has none).
    fn blocked_halo(&self, e: Entry) -> usize {
        self.blocked.get(&e).map_or(0, |&(_, h)| h)
    }

    /// Adds `op` (node `name`, reading `inputs`): its output is the blocked entry of original
    /// entry `out`, with `halo`.
    fn add_blocked(
        &mut self,
        op: OpRef,
        name: &str,
        inputs: &[Entry],
        out: Entry,
        halo: usize,
    ) -> Result<()> {
        let e = self.out.add(op, name, inputs)?[0];
        self.blocked.insert(out, (e, halo));
        Ok(())
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
                self.out.add(Arc::new(op), &name, &[src])?[0]
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
        let new = self.out.add(Arc::new(ToBlocked { halo }), &name, &[src])?[0];
        self.blocked.insert(e, (new, halo));
        Ok(new)
    }
}
