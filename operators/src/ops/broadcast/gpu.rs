//! GPU kernels of the broadcasting binary operators (`kernels/cuda/broadcast.cu`); equal
//! shapes take the element-wise kernels of `kernels/cuda/elemwise.cu`.

use mxr_kernels::cpu::broadcast as bc;
use mxr_kernels::cpu::elementwise::BinaryOp;
use mxr_kernels::cuda::broadcast::{self as kernels, Side};

use crate::ops::elemwise::gpu::{self as ew_gpu, code};
use crate::registry::check_sizes;
use crate::registry::{GpuOpContext, GpuTensor, gpu_error};
use crate::{Error, Result};

/// The broadcast shape of the operands, checked against `out`.
fn plan(name: &str, l: &GpuTensor<'_>, r: &GpuTensor<'_>, out: &[usize]) -> Result<Vec<usize>> {
    let shape = bc::broadcast_shape(l.shape, r.shape).map_err(|e| Error::BadInput {
        op: name.to_string(),
        reason: e.to_string(),
    })?;
    if shape != out {
        return Err(Error::BadInput {
            op: name.to_string(),
            reason: format!("the broadcast shape is {shape:?}, the output {out:?}"),
        });
    }
    Ok(shape)
}

/// `out = lhs ∘ rhs` with broadcasting.
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    name: &str,
    op: BinaryOp,
    l: &GpuTensor<'_>,
    r: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
) -> Result<()> {
    if l.shape == r.shape {
        return ew_gpu::binary(ctx, name, op, l, r, out);
    }
    plan(name, l, r, out.shape)?;
    let slices = [out.f32(name)?, l.f32(name)?, r.f32(name)?];
    kernels::binary(ctx.device, code(op), slices, [l.shape, r.shape, out.shape])
        .map_err(|e| gpu_error(name, e))
}

/// The gradients of `lhs ∘ rhs` with broadcasting, each summed to its operand's shape:
/// inputs (g, lhs, rhs), outputs (lhs_grad, rhs_grad). The operands' values are read for all
/// but add and sub.
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    name: &str,
    op: BinaryOp,
    inputs: &[GpuTensor<'_>],
    outputs: &[GpuTensor<'_>],
) -> Result<()> {
    let (g, l, r) = (&inputs[0], &inputs[1], &inputs[2]);
    let (dl, dr) = (&outputs[0], &outputs[1]);
    let reads = !matches!(op, BinaryOp::Add | BinaryOp::Sub);
    if l.shape == r.shape {
        return ew_gpu::binary_backward(ctx, name, op, g, reads.then_some((l, r)), dl, dr);
    }
    plan(name, l, r, g.shape)?;
    check_sizes(name, l.size(), &[dl])?;
    check_sizes(name, r.size(), &[dr])?;
    let gp = g.f32(name)?;
    let values = if reads {
        Some([l.f32(name)?, r.f32(name)?])
    } else {
        None
    };
    for (side, d) in [(Side::Lhs, dl), (Side::Rhs, dr)] {
        let shapes = [l.shape, r.shape, g.shape];
        kernels::reduce(
            ctx.device,
            code(op),
            side,
            [d.f32(name)?, gp],
            values,
            shapes,
        )
        .map_err(|e| gpu_error(name, e))?;
    }
    Ok(())
}
