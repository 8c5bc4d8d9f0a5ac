//! GPU kernels of the same-shape binary operators and `where` (`kernels/cuda/elemwise.cu`,
//! launched through [`mxr_kernels::cuda::elemwise`]).

use mxr_kernels::cpu::elementwise::BinaryOp;
use mxr_kernels::cuda::codes::BinaryCode;
use mxr_kernels::cuda::elemwise as kernels;

use crate::registry::{GpuOpContext, GpuTensor, check_sizes, gpu_error};
use crate::{Error, Result};

/// The kernels' binary op code.
pub(crate) fn code(op: BinaryOp) -> BinaryCode {
    match op {
        BinaryOp::Add => BinaryCode::Add,
        BinaryOp::Sub => BinaryCode::Sub,
        BinaryOp::Mul => BinaryCode::Mul,
        BinaryOp::Div => BinaryCode::Div,
        BinaryOp::Max => BinaryCode::Max,
        BinaryOp::Min => BinaryCode::Min,
    }
}

/// `out = lhs ∘ rhs` for operands of one size (`out` may alias an operand).
pub(crate) fn binary(
    ctx: &GpuOpContext<'_>,
    name: &str,
    op: BinaryOp,
    lhs: &GpuTensor<'_>,
    rhs: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
) -> Result<()> {
    ctx.elementwise(name, [out, lhs, rhs], |dev, s, n| {
        kernels::binary(dev, code(op), s, n)
    })
}

/// The gradients of `lhs ∘ rhs` (`lhs`, `rhs` are read for all but add and sub; `None` for
/// those).
pub(crate) fn binary_backward(
    ctx: &GpuOpContext<'_>,
    name: &str,
    op: BinaryOp,
    g: &GpuTensor<'_>,
    operands: Option<(&GpuTensor<'_>, &GpuTensor<'_>)>,
    dl: &GpuTensor<'_>,
    dr: &GpuTensor<'_>,
) -> Result<()> {
    let n = g.size();
    check_sizes(name, n, &[dl, dr])?;
    let values = match operands {
        Some((l, r)) => {
            check_sizes(name, n, &[l, r])?;
            Some([l.f32(name)?, r.f32(name)?])
        }
        None => None,
    };
    let slices = [dl.f32(name)?, dr.f32(name)?, g.f32(name)?];
    kernels::binary_backward(ctx.device, code(op), slices, values, n)
        .map_err(|e| gpu_error(name, e))
}

/// `out = cond != 0 ? x : y`, one condition value per `row` elements.
pub(super) fn select(
    ctx: &GpuOpContext<'_>,
    cond: &GpuTensor<'_>,
    x: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
    row: usize,
) -> Result<()> {
    let name = "where";
    let n = out.size();
    check_sizes(name, n, &[x, y])?;
    check_cond(name, cond, n, row)?;
    let slices = [out.f32(name)?, x.f32(name)?, y.f32(name)?];
    kernels::select(ctx.device, slices, cond.any(name)?, n, row).map_err(|e| gpu_error(name, e))
}

/// `(dx, dy)`: the head gradient split by the condition.
pub(super) fn select_backward(
    ctx: &GpuOpContext<'_>,
    g: &GpuTensor<'_>,
    cond: &GpuTensor<'_>,
    dx: &GpuTensor<'_>,
    dy: &GpuTensor<'_>,
    row: usize,
) -> Result<()> {
    let name = "_backward_where";
    let n = g.size();
    check_sizes(name, n, &[dx, dy])?;
    check_cond(name, cond, n, row)?;
    let slices = [dx.f32(name)?, dy.f32(name)?, g.f32(name)?];
    kernels::select_backward(ctx.device, slices, cond.any(name)?, n, row)
        .map_err(|e| gpu_error(name, e))
}

/// The condition holds one value per `row` elements of `n`.
fn check_cond(name: &str, cond: &GpuTensor<'_>, n: usize, row: usize) -> Result<()> {
    if n > 0 && (row == 0 || cond.size() * row != n) {
        return Err(Error::BadInput {
            op: name.to_string(),
            reason: format!(
                "condition {:?} does not hold one value per {row} of {n} elements",
                cond.shape
            ),
        });
    }
    Ok(())
}
