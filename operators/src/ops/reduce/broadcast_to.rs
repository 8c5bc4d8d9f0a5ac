//! `broadcast_to` and its gradient `_broadcast_backward`: repeating an array along its size-1 axes, and summing back.

use std::sync::Arc;

use mxr_kernels::cpu::reduce::{Reducer, broadcast_bytes, reduce};

use super::super::common::kernel_error;
use super::super::{no_params, parse_no_params};
use super::{ReduceKind, gpu};
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx,
};
use crate::{Error, Result, float_dispatch, params};

params! {
    /// Parameters of `broadcast_to`.
    pub struct BroadcastToParam for "broadcast_to" {
        /// The target shape; 0 keeps the input's dimension.
        shape: Vec<usize> = vec![],
    }
}

/// `broadcast_to`: repeats the input along its size-1 axes up to `shape`.
#[derive(Debug, Clone)]
pub struct BroadcastTo(pub BroadcastToParam);

impl Operator for BroadcastTo {
    fn name(&self) -> &'static str {
        "broadcast_to"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let target = &self.0.shape;
        let rank = target.len();
        let input = shapes.input(0).clone();
        if let Some(r) = input.ndim()
            && r != rank
        {
            let reason = format!(
                "cannot broadcast {input} to {}: the ranks differ",
                Shape::known(target)
            );
            return Err(shapes.error(reason));
        }
        let mut in_dims = input.partial_dims().map_or(vec![None; rank], <[_]>::to_vec);
        let out_known = shapes
            .output(0)
            .partial_dims()
            .map(<[Option<usize>]>::to_vec);
        // Kept dimensions (0 in `shape`) are the same on both sides.
        if let Some(out) = &out_known {
            if out.len() != rank {
                let reason = format!("the output {} must be {rank}-D", shapes.output(0));
                return Err(shapes.error(reason));
            }
            for (k, d) in in_dims.iter_mut().enumerate() {
                if target[k] == 0 && d.is_none() {
                    *d = out[k];
                }
            }
        }
        let mut out = Vec::with_capacity(rank);
        for (k, &t) in target.iter().enumerate() {
            match (t, in_dims[k]) {
                (0, d) => out.push(d),
                (t, Some(d)) if d != 1 && d != t => {
                    let reason = format!(
                        "cannot broadcast {input} to {}: dimension {k} is {d}, not 1 or {t}",
                        Shape::known(target)
                    );
                    return Err(shapes.error(reason));
                }
                (t, _) => out.push(Some(t)),
            }
        }
        shapes.set_input(0, Shape::partial(in_dims))?;
        shapes.set_output(0, Shape::partial(out))
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let x = &inputs[0];
        let out = &mut outputs[0];
        let mask = broadcast_mask(x.shape, out.shape);
        broadcast_bytes(x.bytes, x.dtype.size(), out.shape, &mask, out.bytes)
            .map_err(|e| kernel_error("broadcast_to", e))
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let g = grad.backward_node(BroadcastBackward, &[grad.ograds[0], grad.inputs[0]])?;
        Ok(vec![Some(g[0])])
    }
}

impl GpuForward for BroadcastTo {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let (x, out) = (&inputs[0], &outputs[0]);
        if x.shape.len() != out.shape.len() {
            return Err(Error::BadInput {
                op: "broadcast_to".into(),
                reason: format!("cannot broadcast {:?} to {:?}", x.shape, out.shape),
            });
        }
        let mask = broadcast_mask(x.shape, out.shape);
        gpu::broadcast_any(ctx, "broadcast_to", x, &mask, out)
    }
}

/// The axes along which `small` is broadcast to `big` (size 1 in `small`, not in `big`).
fn broadcast_mask(small: &[usize], big: &[usize]) -> Vec<bool> {
    big.iter()
        .enumerate()
        .map(|(k, &b)| small.get(k) == Some(&1) && b != 1)
        .collect()
}

/// `_broadcast_backward`: inputs `[ograd, data]`; the head gradient summed over the axes along
/// which `data` was broadcast, into data's shape.
#[derive(Debug, Clone, Copy)]
pub struct BroadcastBackward;

impl Operator for BroadcastBackward {
    fn name(&self) -> &'static str {
        "_broadcast_backward"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["ograd".into(), "data".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        shapes.tie(1, 0)?;
        let (g, x) = (shapes.input(0), shapes.input(1));
        if let (Some(a), Some(b)) = (g.ndim(), x.ndim())
            && a != b
        {
            let reason = format!("the gradient {g} and the input {x} differ in rank");
            return Err(shapes.error(reason));
        }
        // The input must broadcast to the gradient: each of its dimensions 1 or the gradient's.
        if let (Some(gd), Some(xd)) = (g.partial_dims(), x.partial_dims())
            && gd
                .iter()
                .zip(xd)
                .any(|(a, b)| matches!((a, b), (Some(a), Some(b)) if b != a && *b != 1))
        {
            let reason = format!("the input {x} does not broadcast to the gradient {g}");
            return Err(shapes.error(reason));
        }
        Ok(())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let op = "_broadcast_backward";
        let g = &inputs[0];
        let out = &mut outputs[0];
        let mask = broadcast_mask(out.shape, g.shape);
        float_dispatch!(g.dtype, op, T => {
            reduce(g.slice::<T>(op)?, g.shape, &mask, Reducer::Sum, out.slice_mut::<T>(op)?)
                .map_err(|e| kernel_error(op, e))
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        vec![1]
    }
}

impl GpuForward for BroadcastBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let (g, out) = (&inputs[0], &outputs[0]);
        let mask = broadcast_mask(out.shape, g.shape);
        gpu::reduce(ctx, "_broadcast_backward", ReduceKind::Sum, g, &mask, out)
    }
}

fn create_broadcast_to(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(BroadcastTo(BroadcastToParam::parse(
        attrs.iter().copied(),
    )?)))
}

fn create_broadcast_backward(attrs: &[(&str, &str)]) -> Result<OpRef> {
    parse_no_params("_broadcast_backward", attrs)?;
    Ok(Arc::new(BroadcastBackward))
}

inventory::submit! {
    OpDef::new("broadcast_to", "Repeats the input along its size-1 axes up to `shape` (0 keeps a dimension).",
        BroadcastToParam::specs, create_broadcast_to)
}

inventory::submit! {
    OpDef::new("_broadcast_backward", "Gradient of broadcast_to: the head gradient summed over the broadcast axes (inputs: ograd, data).",
        no_params, create_broadcast_backward)
    // A backward operator (MXNet: `TIsBackward`, no FGradient).
    .no_gradient()
}
