//! Running a bound executor: the forward and backward passes pushed to the engine, and the
//! fused inference program.

use std::collections::HashMap;
use std::sync::Arc;

use mxr_kernels::DType;

use mxr_operators::registry;

use super::executor::{Executor, GradReq, Inference, bind_error};
use super::fusion::{self, Bound, InferenceProgram};
use super::graph::Graph;
use super::plan::Slot;
use crate::dispatch;
use crate::nd::NDArray;
use crate::{Error, Result};

impl Executor {
    /// Pushes the forward pass (training mode: Dropout active, BatchNorm on batch statistics
    /// and updating its moving statistics). Returns at once.
    ///
    /// An inference forward (`is_train == false`) of a CPU executor without gradients runs the
    /// fused inference program when the graph has convolutions it fuses (`exec/fusion.rs`:
    /// Convolution + BatchNorm + residual `elemwise_add` + ReLU as one operator, activations
    /// in the channel-blocked layout between them); the outputs are the same up to rounding.
    /// [`Executor::set_fusion`] or `MXR_FUSION=0` turns it off.
    pub fn forward(&mut self, is_train: bool) -> Result<()> {
        self.last_is_train = is_train;
        if !is_train {
            let outputs = self.outputs();
            if let Some(program) = self.inference_program()? {
                return program.run(&outputs);
            }
        }
        self.restore_intermediates()?;
        for n in 0..self.plan.num_forward {
            self.run_node(n, is_train)?;
        }
        Ok(())
    }

    /// Allows or forbids the fused inference program (default: allowed unless `MXR_FUSION=0`).
    /// Executors made by [`Executor::reshape`] inherit the setting.
    pub fn set_fusion(&mut self, enabled: bool) {
        self.fusion = enabled;
    }

    /// Sets when the inference program runs fused convolutions image by image: a run of them,
    /// each the only reader of the one before, becomes one chain when every activation between
    /// them holds at least `min_bytes` for the whole batch (`None`: never). The default is
    /// 8 MiB, or `None` with `MXR_CHAINS=0`. It applies to the program built at the first
    /// inference forward after the call; executors made by [`Executor::reshape`] inherit it.
    pub fn set_fusion_chains(&mut self, min_bytes: Option<usize>) {
        self.chain_min_bytes = min_bytes;
    }

    /// How many convolutions the inference program fused (0 before the first inference
    /// forward, and when there is no program).
    pub fn fused_convolutions(&self) -> usize {
        match &self.inference {
            Inference::Program(p) => p.fused_convolutions(),
            _ => 0,
        }
    }

    /// The inference program's nodes and memory, as [`Executor::debug_str`] prints a graph:
    /// `None` before the first inference forward and when there is no program.
    pub fn inference_debug_str(&self) -> Option<String> {
        match &self.inference {
            Inference::Program(p) => Some(p.debug_str()),
            _ => None,
        }
    }

    /// The inference program, built on first use; `None` when fusion is off or does not apply.
    fn inference_program(&mut self) -> Result<Option<&mut InferenceProgram>> {
        if !self.fusion || !self.context.is_cpu() || !self.plan.head_grad_nodes.is_empty() {
            return Ok(None);
        }
        if matches!(self.inference, Inference::Untried) {
            let has_conv = self.plan.graph.nodes[..self.plan.num_forward]
                .iter()
                .any(|n| n.op.as_ref().is_some_and(|op| op.name() == "Convolution"));
            if !has_conv {
                self.inference = Inference::None;
                return Ok(None);
            }
            // The program has its own intermediates: hand the unfused plan's blocks back to the
            // pool first, so that the program's allocations reuse them.
            self.release_intermediates()?;
            let plan = &self.plan;
            let forward = Graph {
                nodes: plan.graph.nodes[..plan.num_forward].to_vec(),
                outputs: plan.graph.outputs.clone(),
            };
            let mut arrays = HashMap::new();
            for (&n, a) in plan.args.iter().zip(&self.arg_arrays) {
                arrays.insert(n, a.clone());
            }
            for (&n, a) in plan.aux.iter().zip(&self.aux_arrays) {
                arrays.insert(n, a.clone());
            }
            let bound = Bound {
                graph: &forward,
                shapes: &plan.shapes[..plan.num_forward],
                dtypes: &plan.dtypes[..plan.num_forward],
                arrays: &arrays,
                context: self.context,
                chain_min_bytes: self.chain_min_bytes,
            };
            self.inference = match fusion::build(&bound)? {
                Some(p) => Inference::Program(Box::new(p)),
                None => Inference::None,
            };
            if matches!(self.inference, Inference::None) {
                self.restore_intermediates()?;
            }
        }
        Ok(match &mut self.inference {
            Inference::Program(p) => Some(p),
            _ => None,
        })
    }

    /// Pushes the backward pass with a head gradient per output (`None` or an empty slice: only
    /// allowed when every output is a loss layer, whose head gradient is ignored). Returns at
    /// once; the gradients land in the gradient arrays.
    pub fn backward(&mut self, head_grads: &[NDArray]) -> Result<()> {
        self.restore_intermediates()?;
        let plan = Arc::clone(&self.plan);
        if plan.head_grad_nodes.is_empty() {
            return Err(Error::InvalidArgument {
                call: "Executor::backward",
                reason: "the executor was bound without gradients (every grad_req is null)".into(),
            });
        }
        for (k, &node) in plan.head_grad_nodes.iter().enumerate() {
            match head_grads.get(k) {
                Some(g) => self.values[node][0].assign(g)?,
                None if plan.loss_outputs[k] => {}
                None => {
                    return Err(Error::InvalidArgument {
                        call: "Executor::backward",
                        reason: format!(
                            "head gradient {k} is required: output {k} is not a loss layer"
                        ),
                    });
                }
            }
        }
        for &n in &plan.backward_order {
            self.run_node(n, self.last_is_train)?;
        }
        for (i, g) in plan.grads.iter().enumerate() {
            let (Some((e, true)), Some(dst)) = (g, &self.grad_arrays[i]) else {
                continue;
            };
            let src = &self.values[e.node][e.output];
            match plan.reqs[i] {
                GradReq::Write => dst.assign(src)?,
                GradReq::Add => {
                    let add = registry::create("elemwise_add", &[], Some(2))?;
                    dispatch::push(
                        &add,
                        &[dst, src],
                        std::slice::from_ref(dst),
                        true,
                        self.context,
                        None,
                    )?;
                }
                GradReq::Null => {}
            }
        }
        Ok(())
    }

    /// Drops the planned blocks that hold no graph output (the inference program does not use
    /// them); their entries become empty placeholders until [`Executor::restore_intermediates`].
    fn release_intermediates(&mut self) -> Result<()> {
        let plan = Arc::clone(&self.plan);
        let mut keep = vec![false; self.blocks.len()];
        for e in &plan.graph.outputs {
            if let Slot::Block(b) = plan.memory.slots[e.node][e.output] {
                keep[b] = true;
            }
        }
        for (n, slots) in plan.memory.slots.iter().enumerate() {
            for (k, slot) in slots.iter().enumerate() {
                if let Slot::Block(b) = *slot
                    && !keep[b]
                {
                    self.values[n][k] = NDArray::new(&[0], plan.dtypes[n][k], self.context)?;
                }
            }
        }
        for (block, kept) in self.blocks.iter_mut().zip(keep) {
            if !kept {
                *block = None;
            }
        }
        Ok(())
    }

    /// Allocates the blocks [`Executor::release_intermediates`] dropped again (before any
    /// unfused forward or backward), with their entries' views.
    fn restore_intermediates(&mut self) -> Result<()> {
        if self.blocks.iter().all(Option::is_some) {
            return Ok(());
        }
        let plan = Arc::clone(&self.plan);
        let mut fresh = vec![false; self.blocks.len()];
        for (b, block) in self.blocks.iter_mut().enumerate() {
            if block.is_none() {
                *block = Some(NDArray::new(
                    &[plan.memory.blocks[b]],
                    DType::U8,
                    self.context,
                )?);
                fresh[b] = true;
            }
        }
        for (n, slots) in plan.memory.slots.iter().enumerate() {
            for (k, slot) in slots.iter().enumerate() {
                if let Slot::Block(b) = *slot
                    && fresh[b]
                    && let Some(block) = &self.blocks[b]
                {
                    self.values[n][k] = block
                        .reinterpret(&plan.shapes[n][k], plan.dtypes[n][k])
                        .ok_or_else(|| bind_error(format!("planned block {b} is too small")))?;
                }
            }
        }
        Ok(())
    }

    fn run_node(&self, n: usize, is_train: bool) -> Result<()> {
        let node = &self.plan.graph.nodes[n];
        let Some(op) = &node.op else { return Ok(()) };
        let inputs: Vec<&NDArray> = node
            .inputs
            .iter()
            .map(|e| &self.values[e.node][e.output])
            .collect();
        dispatch::push(
            op,
            &inputs,
            &self.values[n],
            is_train,
            self.context,
            Some(&self.plan.needed[n]),
        )
    }
}
