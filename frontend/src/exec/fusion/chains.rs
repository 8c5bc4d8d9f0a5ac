//! Where the fusion's convolutions are: each `Convolution` with the `BatchNorm`, residual
//! `elemwise_add` and ReLU it absorbs (a [`Chain`]), and the runs of such convolutions executed
//! image by image as one [`FusedChain`](mxr_operators::ops::fused::chain::FusedChain).

use std::collections::HashMap;

use mxr_kernels::DType;
use mxr_kernels::cpu::conv::direct::InputLayout;
use mxr_operators::ops::batch_norm::BatchNorm;
use mxr_operators::ops::convolution::Convolution;
use mxr_operators::ops::fused::conv::ConvKernel;
use mxr_operators::registry::{Entry, downcast};

use super::{Bound, PLAIN_INPUT_CHANNELS, Uses, choose_kernel, relu_after, switch_on};

/// A chain of forward nodes that becomes one fused convolution.
#[derive(Debug, Clone)]
pub(super) struct Chain {
    pub(super) conv: usize,
    pub(super) kernel: ConvKernel,
    pub(super) layout: InputLayout,
    /// The input's horizontal padding (the halo the input needs).
    pub(super) pad: usize,
    pub(super) packed_len: usize,
    pub(super) bn: Option<usize>,
    pub(super) add: Option<usize>,
    pub(super) residual: Option<Entry>,
    pub(super) relu: bool,
    /// The node whose output is the chain's output.
    pub(super) last: usize,
}

/// Finds the fused convolutions (see the module docs).
pub(super) fn find_chains(b: &Bound<'_>, uses: &Uses) -> Vec<Chain> {
    let g = b.graph;
    let is_var = |e: &Entry| g.nodes[e.node].op.is_none() && b.arrays.contains_key(&e.node);
    let mut chains: Vec<Chain> = Vec::new();
    let mut absorbed = vec![false; g.nodes.len()];
    for (i, node) in g.nodes.iter().enumerate() {
        let Some(conv) = node.op.as_ref().and_then(downcast::<Convolution>) else {
            continue;
        };
        let data = node.inputs[0];
        let dims = &b.shapes[data.node][data.output];
        let f32_data = b.dtypes[data.node][data.output] == DType::F32;
        if dims.len() != 4 || !f32_data || !node.inputs[1..].iter().all(is_var) {
            continue;
        }
        let layout = if dims[1] < PLAIN_INPUT_CHANNELS {
            InputLayout::Plain
        } else {
            InputLayout::Blocked
        };
        let geom = conv.0.geom(dims);
        let Some((kernel, packed_len)) = choose_kernel(&geom, layout) else {
            continue;
        };
        let mut chain = Chain {
            conv: i,
            kernel,
            layout,
            pad: geom.pad[2],
            packed_len,
            bn: None,
            add: None,
            residual: None,
            relu: false,
            last: i,
        };
        let mut cur = Entry { node: i, output: 0 };
        if let Some(r) = uses.only_reader(cur)
            && let Some(bn) = g.nodes[r].op.as_ref().and_then(downcast::<BatchNorm>)
            && g.nodes[r].inputs[0] == cur
            && matches!(bn.0.axis, 1 | -3)
            && g.nodes[r].inputs[1..].iter().all(is_var)
            && !uses.used(r, 1)
            && !uses.used(r, 2)
        {
            chain.bn = Some(r);
            cur = Entry { node: r, output: 0 };
        }
        if let Some(r) = uses.only_reader(cur)
            && g.nodes[r]
                .op
                .as_ref()
                .is_some_and(|op| op.name() == "elemwise_add")
            && !absorbed[r]
        {
            let ins = &g.nodes[r].inputs;
            let other = if ins[0] == cur { ins[1] } else { ins[0] };
            // The residual must be computed before this chain's last node, so that of two
            // chains meeting at an addition, the later one absorbs it.
            if other != cur
                && other.node < cur.node
                && b.shapes[other.node][other.output] == b.shapes[i][0]
            {
                chain.add = Some(r);
                chain.residual = Some(other);
                cur = Entry { node: r, output: 0 };
            }
        }
        if let Some(r) = relu_after(g, uses, cur) {
            chain.relu = true;
            cur = Entry { node: r, output: 0 };
        }
        chain.last = cur.node;
        for n in [Some(chain.conv), chain.bn, chain.add, Some(chain.last)]
            .into_iter()
            .flatten()
        {
            absorbed[n] = true;
        }
        chains.push(chain);
    }
    chains
}

/// An executor's default for [`Executor::set_fusion_chains`]: [`CHAIN_MIN_BYTES`], or `None`
/// when `MXR_CHAINS` is `0`, `false` or `off` (read once).
pub(crate) fn default_chain_min_bytes() -> Option<usize> {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    ENABLED
        .get_or_init(|| switch_on("MXR_CHAINS"))
        .then_some(CHAIN_MIN_BYTES)
}

/// The smallest activation (whole batch, bytes) passed between two fused convolutions that
/// makes them a chain run image by image. A smaller one stays in the caches between the
/// layers anyway, and running its convolutions one image at a time only costs (weights read
/// again for every image, small Winograd products): measured on ResNet-18 and MobileNet at
/// batch 32 (2 MiB of L2 per core, 32 MiB of L3), 8 MiB gains on both, none (every link) loses
/// 10% on ResNet-18 and 16 MiB gains less on MobileNet.
pub(super) const CHAIN_MIN_BYTES: usize = 8 << 20;

/// A fused convolution's place in a chain run image by image.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChainPlace {
    /// The chain's first fused convolution (identifies the chain).
    pub(super) first: usize,
    /// Stages in the chain.
    pub(super) len: usize,
    /// This one's position.
    pub(super) pos: usize,
}

/// Whether a batch of `n` images is run image by image: each thread then takes whole images,
/// so there must be at least one per thread and the split must be even or fine enough.
fn chain_batch(n: usize, threads: usize) -> bool {
    n >= 2 && n >= threads && (n.is_multiple_of(threads) || n >= 4 * threads)
}

/// The chains of fused convolutions run image by image ([`FusedChain`]): maximal runs where
/// each convolution reads, in the blocked layout, the output of the one before, is its only
/// reader, and the activation between them is at least [`Bound::chain_min_bytes`]. Per fused convolution: its place in its chain, or `None`.
pub(super) fn chain_groups(
    b: &Bound<'_>,
    uses: &Uses,
    chains: &[Chain],
) -> Vec<Option<ChainPlace>> {
    let mut group = vec![None; chains.len()];
    let Some(min_bytes) = b.chain_min_bytes else {
        return group;
    };
    let g = b.graph;
    let threads = mxr_kernels::cpu::parallel::num_threads();
    let by_last: HashMap<usize, usize> = chains
        .iter()
        .enumerate()
        .map(|(k, c)| (c.last, k))
        .collect();
    // next[k]: the chain that continues chain k.
    let mut next = vec![None; chains.len()];
    let mut has_prev = vec![false; chains.len()];
    for (k, c) in chains.iter().enumerate() {
        let data = g.nodes[c.conv].inputs[0];
        let n = b.shapes[data.node][data.output][0];
        if c.layout != InputLayout::Blocked || data.output != 0 || !chain_batch(n, threads) {
            continue;
        }
        let bytes = b.shapes[data.node][data.output].iter().product::<usize>() * 4;
        if bytes < min_bytes {
            continue;
        }
        if let Some(&j) = by_last.get(&data.node)
            && uses.only_reader(data) == Some(c.conv)
        {
            next[j] = Some(k);
            has_prev[k] = true;
        }
    }
    for start in 0..chains.len() {
        if has_prev[start] || next[start].is_none() {
            continue;
        }
        let mut members = vec![start];
        while let Some(k) = next[*members.last().expect("not empty")] {
            members.push(k);
        }
        for (pos, &k) in members.iter().enumerate() {
            group[k] = Some(ChainPlace {
                first: start,
                len: members.len(),
                pos,
            });
        }
    }
    group
}
