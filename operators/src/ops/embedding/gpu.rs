//! `Embedding`'s GPU kernels (`kernels/cuda/embedding.cu`): float32 indices, weight and
//! gradients; out-of-range indices are clipped as on the CPU.
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use super::EmbeddingParam;
use crate::registry::{GpuOpContext, GpuTensor};
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
    let (ip, wp, yp) = (data.f32_ptr(op)?, weight.f32_ptr(op)?, out.f32_ptr(op)?);
    check(op, p, data, out, weight)?;
    let (nidx, d) = (data.size(), p.output_dim);
    // SAFETY: (float* y, const float* idx, const float* w, long long nidx, long long d,
    // long long input_dim): idx holds nidx elements, y nidx * d, w input_dim * d (checked
    // above); every row index is clipped into [0, input_dim).
    unsafe {
        ctx.launch(
            op,
            "embedding",
            "embedding_forward_f32",
            nidx * d,
            (yp, ip, wp, nidx as i64, d as i64, p.input_dim as i64),
        )
    }
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
    if ctx.output_needed(0) && ddata.size() > 0 {
        let bytes = ddata.size() * ddata.dtype.size();
        // SAFETY: ddata holds exactly `bytes` bytes.
        unsafe { ctx.zero(op, ddata.ptr, bytes)? };
    }
    if !ctx.output_needed(1) {
        return Ok(());
    }
    let (gp, ip, dwp) = (g.f32_ptr(op)?, data.f32_ptr(op)?, dweight.f32_ptr(op)?);
    check(op, p, data, g, dweight)?;
    let (nidx, d) = (data.size(), p.output_dim);
    if dweight.size() > 0 {
        // SAFETY: dweight holds input_dim * d float32 elements (checked above).
        unsafe { ctx.zero(op, dwp, dweight.size() * 4)? };
    }
    // SAFETY: (float* dw, const float* g, const float* idx, long long nidx, long long d,
    // long long input_dim): idx holds nidx elements, g nidx * d, dw input_dim * d (checked
    // above); every row index is clipped into [0, input_dim).
    unsafe {
        ctx.launch(
            op,
            "embedding",
            "embedding_backward_f32",
            nidx * d,
            (dwp, gp, ip, nidx as i64, d as i64, p.input_dim as i64),
        )
    }
}
