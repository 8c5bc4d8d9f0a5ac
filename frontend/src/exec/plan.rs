//! The memory planner (MXNet's `MXPlanMemory`): one pass over the executed nodes in order,
//! giving every internal entry a storage block; blocks are shared in place and reused once their
//! entries are dead.

use std::collections::BTreeMap;

use mxr_operators::registry::Entry;

use super::graph::Graph;

/// Where an entry's bytes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Not planned (not computed by the executed nodes).
    None,
    /// A user-bound array (argument, auxiliary state, head gradient).
    External,
    /// The gradient array of argument `arg` (written directly).
    Grad(usize),
    /// Planned block `id`.
    Block(usize),
}

/// The plan: a slot per entry and the size of every block.
#[derive(Debug, Clone)]
pub(crate) struct MemoryPlan {
    /// Per node, per output.
    pub(crate) slots: Vec<Vec<Slot>>,
    /// Bytes of each block.
    pub(crate) blocks: Vec<usize>,
    /// Bytes a plan without sharing would allocate for the same entries.
    pub(crate) naive_bytes: usize,
}

impl MemoryPlan {
    /// Bytes of all blocks.
    pub(crate) fn planned_bytes(&self) -> usize {
        self.blocks.iter().sum()
    }
}

/// MXNet's match range: a free block is reused for a request of `s` bytes if its size is in
/// `[s, s·16]` (smallest first), else the largest in `[s/16, s)`, grown to `s`.
const MATCH_RANGE: usize = 16;

/// Free blocks by size.
#[derive(Default)]
struct FreeList(BTreeMap<(usize, usize), ()>);

impl FreeList {
    fn put(&mut self, size: usize, id: usize) {
        self.0.insert((size, id), ());
    }

    fn take(&mut self, want: usize) -> Option<(usize, usize)> {
        let upper = want.saturating_mul(MATCH_RANGE);
        if let Some((&(size, id), _)) = self.0.range((want, 0)..=(upper, usize::MAX)).next() {
            self.0.remove(&(size, id));
            return Some((size, id));
        }
        let lower = want / MATCH_RANGE;
        if let Some((&(size, id), _)) = self.0.range((lower, 0)..(want, 0)).next_back() {
            self.0.remove(&(size, id));
            return Some((size, id));
        }
        None
    }
}

/// Plans the internal entries of the nodes in `order` (operator nodes, in execution order).
/// `bytes[node][output]` is each entry's size; `fixed` gives the slot of entries that are not
/// planned (variables, gradients written into user arrays); `keep` lists entries that must live
/// to the end (the graph's outputs). Only unary operators that compute in place share their
/// input's block (other kernels read inputs while writing outputs).
pub(crate) fn plan_memory(
    graph: &Graph,
    order: &[usize],
    bytes: &[Vec<usize>],
    fixed: &dyn Fn(Entry) -> Option<Slot>,
    keep: &[Entry],
) -> MemoryPlan {
    let mut slots: Vec<Vec<Slot>> = graph
        .nodes
        .iter()
        .map(|n| vec![Slot::None; n.num_outputs()])
        .collect();
    for (n, node_slots) in slots.iter_mut().enumerate() {
        for (k, slot) in node_slots.iter_mut().enumerate() {
            if let Some(s) = fixed(Entry { node: n, output: k }) {
                *slot = s;
            }
        }
    }
    // Remaining uses of every entry.
    let mut uses: Vec<Vec<usize>> = graph
        .nodes
        .iter()
        .map(|n| vec![0; n.num_outputs()])
        .collect();
    for &n in order {
        for e in &graph.nodes[n].inputs {
            uses[e.node][e.output] += 1;
        }
    }
    for e in keep {
        uses[e.node][e.output] += 1;
    }

    let mut blocks: Vec<usize> = Vec::new();
    let mut block_uses: Vec<usize> = Vec::new();
    let mut free = FreeList::default();
    let mut naive_bytes = 0;
    for &n in order {
        let node = &graph.nodes[n];
        let Some(op) = &node.op else { continue };
        // In place: a unary operator overwriting its input's block, when it reads it last.
        if op.is_inplace_unary()
            && let [input] = node.inputs.as_slice()
            && let Slot::Block(b) = slots[input.node][input.output]
            && slots[n][0] == Slot::None
            && block_uses[b] == 1
            && uses[n][0] > 0
            && bytes[input.node][input.output] == bytes[n][0]
        {
            slots[n][0] = Slot::Block(b);
            block_uses[b] += uses[n][0];
            naive_bytes += bytes[n][0];
        }
        // Other outputs, largest first.
        let mut pending: Vec<usize> = (0..node.num_outputs())
            .filter(|&k| slots[n][k] == Slot::None)
            .collect();
        pending.sort_by_key(|&k| std::cmp::Reverse(bytes[n][k]));
        for k in pending {
            let want = bytes[n][k];
            naive_bytes += want;
            let id = match free.take(want) {
                Some((size, id)) => {
                    blocks[id] = size.max(want);
                    id
                }
                None => {
                    blocks.push(want);
                    block_uses.push(0);
                    blocks.len() - 1
                }
            };
            slots[n][k] = Slot::Block(id);
            block_uses[id] += uses[n][k];
        }
        // Inputs read for the last time release their blocks.
        for e in &node.inputs {
            if let Slot::Block(b) = slots[e.node][e.output] {
                block_uses[b] -= 1;
                if block_uses[b] == 0 {
                    free.put(blocks[b], b);
                }
            }
        }
        // Outputs nobody reads are released at once.
        for slot in &slots[n] {
            if let Slot::Block(b) = *slot
                && block_uses[b] == 0
            {
                free.put(blocks[b], b);
            }
        }
    }
    MemoryPlan {
        slots,
        blocks,
        naive_bytes,
    }
}
