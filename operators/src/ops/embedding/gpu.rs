//! `Embedding`'s GPU kernels (`kernels/cuda/embedding.cu`): float32 weight and gradients,
//! indices of any dtype but float16; out-of-range indices are clipped as on the CPU.

use mxr_kernels::cuda::embedding as kernels;

use super::EmbeddingParam;
use crate::registry::{GpuOpContext, GpuTensor, gpu_error};
use crate::{Error, Result};

/// Checks that `rows` (the output or head gradient) has one row of `output_dim` per index and
/// that `table` (the weight or its gradient) is `(input_dim, output_dim)`.
fn check(
    op: &str,
    p: &EmbeddingParam,
    data: &GpuTensor<'_>,
    rows: &GpuTensor<'_>,
    table: &GpuTensor<'_>,
) -> Result<()> {
    let d = p.output_dim;
    if rows.size() != data.size() * d || table.size() != p.input_dim * d {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "indices {:?}, rows {:?} and table {:?} do not fit input_dim={}, output_dim={d}",
                data.shape, rows.shape, table.shape, p.input_dim
            ),
        });
    }
    Ok(())
}

/// `out[i, :] = weight[clip(data[i]), :]`.
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    p: &EmbeddingParam,
    data: &GpuTensor<'_>,
    weight: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
) -> Result<()> {
    let op = "Embedding";
    let (wp, yp, idx) = (weight.f32(op)?, out.f32(op)?, data.any(op)?);
    check(op, p, data, out, weight)?;
    kernels::forward(ctx.device, yp, idx, wp, (p.input_dim, p.output_dim))
        .map_err(|e| gpu_error(op, e))
}

/// `ddata = 0` (when needed), `dweight = 0` then the rows of `g` added at the indices' rows.
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    p: &EmbeddingParam,
    g: &GpuTensor<'_>,
    data: &GpuTensor<'_>,
    ddata: &GpuTensor<'_>,
    dweight: &GpuTensor<'_>,
) -> Result<()> {
    let op = "_backward_Embedding";
    if ctx.output_needed(0) {
        ctx.zero(op, ddata.bytes(op)?)?;
    }
    if !ctx.output_needed(1) {
        return Ok(());
    }
    let (gp, dwp, idx) = (g.f32(op)?, dweight.f32(op)?, data.any(op)?);
    check(op, p, data, g, dweight)?;
    ctx.zero(op, dwp)?;
    kernels::backward(ctx.device, dwp, gp, idx, (p.input_dim, p.output_dim))
        .map_err(|e| gpu_error(op, e))
}
