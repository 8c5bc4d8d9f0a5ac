//! NumPy-style broadcasting binary operators (broadcast_add/sub/mul/div/maximum/minimum).
//!
//! `broadcast_add` (alias `broadcast_plus`), `broadcast_sub` (`broadcast_minus`),
//! `broadcast_mul`, `broadcast_div`, `broadcast_maximum`, `broadcast_minimum` (a NaN on either
//! side wins, as in MXNet): inputs `lhs`, `rhs` whose shapes broadcast (right-aligned,
//! each pair of dimensions equal or one of them 1: `(2, 1, 3) + (1, 4, 1)` is `(2, 4, 3)`).
//! Equal shapes take the plain element-wise kernel.
//!
//! The gradient is one `_backward_broadcast_<op>` node on (g, lhs, rhs) whose outputs are the
//! element-wise gradients summed over the broadcast axes back to each input's shape; the
//! maximum's and minimum's go to the operand picked, the left one on ties (MXNet's `ge`/`lt`,
//! `le`/`gt`). (MXNet's
//! `_backward_broadcast_add` and `_backward_broadcast_sub` take only g and copy the input
//! shapes from the forward node; here a node infers its shapes from its own inputs, so lhs and
//! rhs are passed along and declared ignored: their values are never read.)
//!
//! GPU kernels (float32): `kernels/cuda/broadcast.cu`, one work item per output element (the
//! backward: per element of each input, summing over its broadcast axes).

use std::sync::Arc;

use mxr_kernels::cpu::broadcast as bc;
use mxr_kernels::cpu::elementwise::{self as ew, BinaryOp};

use super::common::kernel_error;
use super::elemwise::{num_dispatch, two_outputs};
use super::{no_params, parse_no_params};
use crate::Result;
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx,
};

/// The broadcast of two partially known shapes; `None` when a rank is unknown. An unknown
/// dimension against a known `d != 1` gives `d` (the unknown one must be 1 or `d`).
fn broadcast_partial(lhs: &Shape, rhs: &Shape) -> Result<Option<Shape>, String> {
    let (Some(l), Some(r)) = (lhs.partial_dims(), rhs.partial_dims()) else {
        return Ok(None);
    };
    let n = l.len().max(r.len());
    let padded = |s: &[Option<usize>], axis: usize| {
        let pad = n - s.len();
        if axis < pad { Some(1) } else { s[axis - pad] }
    };
    let dims = (0..n)
        .map(|axis| match (padded(l, axis), padded(r, axis)) {
            (Some(a), Some(b)) if a == b => Ok(Some(a)),
            (Some(1), b) => Ok(b),
            (a, Some(1)) => Ok(a),
            (Some(a), Some(b)) => Err(format!(
                "operands could not be broadcast together: lhs {lhs} and rhs {rhs} differ in \
                 dimension {axis} ({a} vs {b}) and neither is 1"
            )),
            (None, b) => Ok(b),
            (a, None) => Ok(a),
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Some(Shape::partial(dims)))
}

fn broadcast_name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "broadcast_add",
        BinaryOp::Sub => "broadcast_sub",
        BinaryOp::Mul => "broadcast_mul",
        BinaryOp::Div => "broadcast_div",
        BinaryOp::Max => "broadcast_maximum",
        BinaryOp::Min => "broadcast_minimum",
    }
}

/// `broadcast_add/sub/mul/div/maximum/minimum`: `lhs ∘ rhs` with NumPy broadcasting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BroadcastBinary {
    /// The operation.
    pub op: BinaryOp,
}

impl Operator for BroadcastBinary {
    fn name(&self) -> &'static str {
        broadcast_name(self.op)
    }
    fn attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["lhs".into(), "rhs".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        if shapes.input(0).is_known() && shapes.input(0) == shapes.input(1) {
            // The common case (and W2's): equal shapes, nothing to broadcast.
            let same = shapes.input(0).clone();
            return shapes.set_output(0, same);
        }
        let out = broadcast_partial(shapes.input(0), shapes.input(1))
            .map_err(|reason| shapes.error(reason))?;
        match out {
            Some(out) => shapes.set_output(0, out),
            None => Ok(()),
        }
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let (l, r) = (&inputs[0], &inputs[1]);
        num_dispatch!(outputs[0].dtype, name, T => {
            let (a, b) = (l.slice::<T>(name)?, r.slice::<T>(name)?);
            let out = outputs[0].slice_mut::<T>(name)?;
            if l.shape == r.shape {
                ew::binary(self.op, a, b, out);
                Ok(())
            } else {
                bc::broadcast_binary(self.op, a, l.shape, b, r.shape, out)
                    .map_err(|e| kernel_error(name, e))
            }
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let inputs = [grad.ograds[0], grad.inputs[0], grad.inputs[1]];
        let out = grad.backward_node(BroadcastBackward { op: self.op }, &inputs)?;
        Ok(GradCtx::all(out))
    }
}

impl GpuForward for BroadcastBinary {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let (l, r) = (&inputs[0], &inputs[1]);
        gpu::forward(ctx, self.name(), self.op, l, r, &outputs[0])
    }
}

/// `_backward_broadcast_add/sub/mul/div/maximum/minimum`: inputs (g, lhs, rhs); outputs the
/// gradients of lhs and rhs, each reduced to its input's shape. Add and sub read only the
/// operands' shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BroadcastBackward {
    /// The forward operation.
    pub op: BinaryOp,
}

impl BroadcastBackward {
    fn op_name(op: BinaryOp) -> &'static str {
        match op {
            BinaryOp::Add => "_backward_broadcast_add",
            BinaryOp::Sub => "_backward_broadcast_sub",
            BinaryOp::Mul => "_backward_broadcast_mul",
            BinaryOp::Div => "_backward_broadcast_div",
            BinaryOp::Max => "_backward_broadcast_maximum",
            BinaryOp::Min => "_backward_broadcast_minimum",
        }
    }
}

impl Operator for BroadcastBackward {
    fn name(&self) -> &'static str {
        BroadcastBackward::op_name(self.op)
    }
    fn attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["ograd".into(), "lhs".into(), "rhs".into()]
    }
    fn num_outputs(&self) -> usize {
        2
    }
    fn output_names(&self) -> Vec<String> {
        vec!["lhs_grad".into(), "rhs_grad".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        for (input, output) in [(1, 0), (2, 1)] {
            let mut s = shapes.input(input).clone();
            s.merge(shapes.output(output))
                .map_err(|reason| shapes.error(reason))?;
            shapes.set_input(input, s.clone())?;
            shapes.set_output(output, s)?;
        }
        let out = broadcast_partial(shapes.input(1), shapes.input(2))
            .map_err(|reason| shapes.error(reason))?;
        match out {
            Some(out) => shapes.set_input(0, out),
            None => Ok(()),
        }
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let (g, l, r) = (&inputs[0], &inputs[1], &inputs[2]);
        let reads = !matches!(self.op, BinaryOp::Add | BinaryOp::Sub);
        let (dl, dr) = two_outputs(name, outputs)?;
        num_dispatch!(dl.dtype, name, T => {
            let gv = g.slice::<T>(name)?;
            let (a, b): (&[T], &[T]) = if reads {
                (l.slice::<T>(name)?, r.slice::<T>(name)?)
            } else {
                (&[], &[])
            };
            let (da, db) = (dl.slice_mut::<T>(name)?, dr.slice_mut::<T>(name)?);
            if l.shape == r.shape {
                ew::binary_backward(self.op, gv, a, b, da, db);
                Ok(())
            } else {
                bc::broadcast_backward(self.op, gv, a, l.shape, b, r.shape, da, db)
                    .map_err(|e| kernel_error(name, e))
            }
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        match self.op {
            BinaryOp::Add | BinaryOp::Sub => vec![1, 2],
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Max | BinaryOp::Min => Vec::new(),
        }
    }
}

impl GpuForward for BroadcastBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::backward(ctx, self.name(), self.op, inputs, outputs)
    }
}

fn create(op: BinaryOp, attrs: &[(&str, &str)]) -> Result<OpRef> {
    parse_no_params(broadcast_name(op), attrs)?;
    Ok(Arc::new(BroadcastBinary { op }))
}

fn create_backward(op: BinaryOp, attrs: &[(&str, &str)]) -> Result<OpRef> {
    parse_no_params(BroadcastBackward::op_name(op), attrs)?;
    Ok(Arc::new(BroadcastBackward { op }))
}

inventory::submit! {
    OpDef::new("broadcast_add", "Adds two arrays with NumPy broadcasting.", no_params,
        |a| create(BinaryOp::Add, a)).aliases(&["broadcast_plus"])
}
inventory::submit! {
    OpDef::new("broadcast_sub", "Subtracts two arrays with NumPy broadcasting.", no_params,
        |a| create(BinaryOp::Sub, a)).aliases(&["broadcast_minus"])
}
inventory::submit! {
    OpDef::new("broadcast_mul", "Multiplies two arrays with NumPy broadcasting.", no_params,
        |a| create(BinaryOp::Mul, a))
}
inventory::submit! {
    OpDef::new("broadcast_div", "Divides two arrays with NumPy broadcasting.", no_params,
        |a| create(BinaryOp::Div, a))
}
inventory::submit! {
    OpDef::new("broadcast_maximum", "The larger of two arrays with NumPy broadcasting.",
        no_params, |a| create(BinaryOp::Max, a))
}
inventory::submit! {
    OpDef::new("broadcast_minimum", "The smaller of two arrays with NumPy broadcasting.",
        no_params, |a| create(BinaryOp::Min, a))
}
inventory::submit! {
    OpDef::new("_backward_broadcast_add", "Gradient of broadcast_add.", no_params,
        |a| create_backward(BinaryOp::Add, a))
}
inventory::submit! {
    OpDef::new("_backward_broadcast_sub", "Gradient of broadcast_sub.", no_params,
        |a| create_backward(BinaryOp::Sub, a))
}
inventory::submit! {
    OpDef::new("_backward_broadcast_mul", "Gradient of broadcast_mul.", no_params,
        |a| create_backward(BinaryOp::Mul, a))
}
inventory::submit! {
    OpDef::new("_backward_broadcast_div", "Gradient of broadcast_div.", no_params,
        |a| create_backward(BinaryOp::Div, a))
}
inventory::submit! {
    OpDef::new("_backward_broadcast_maximum", "Gradient of broadcast_maximum.", no_params,
        |a| create_backward(BinaryOp::Max, a))
}
inventory::submit! {
    OpDef::new("_backward_broadcast_minimum", "Gradient of broadcast_minimum.", no_params,
        |a| create_backward(BinaryOp::Min, a))
}

mod gpu;
#[cfg(test)]
mod tests;
