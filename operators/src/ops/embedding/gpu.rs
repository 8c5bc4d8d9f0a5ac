//! `Embedding`'s GPU kernels (`kernels/cuda/embedding.cu`): float32 weight and gradients,
//! indices of any dtype but float16; out-of-range indices are clipped as on the CPU.
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use mxr_kernels::DType;

use super::EmbeddingParam;
use crate::registry::{GpuOpContext, GpuTensor};
use crate::{Error, Result};

/// The kernel name for indices of `dtype`: `{base}_idx_{suffix}`.
pub(crate) fn index_kernel(op: &str, base: &str, dtype: DType) -> Result<String> {
    let suffix = match dtype {
        DType::F32 => "f32",
        DType::F64 => "f64",
        DType::I32 => "i32",
        DType::I64 => "i64",
        DType::U8 => "u8",
        DType::I8 => "i8",
        other => {
            return Err(Error::Unsupported {
                op: op.into(),
                what: format!("{other} indices on the GPU"),
            });
        }
    };
    Ok(format!("{base}_idx_{suffix}"))
}

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
    let (wp, yp) = (weight.f32_ptr(op)?, out.f32_ptr(op)?);
    let kernel = index_kernel(op, "embedding_forward", data.dtype)?;
    check(op, p, data, out, weight)?;
    let (nidx, d) = (data.size(), p.output_dim);
    // SAFETY: (float* y, const IT* idx, const float* w, long long nidx, long long d,
    // long long input_dim), IT the indices' type (the kernel picked by their dtype): idx holds
    // nidx elements, y nidx * d, w input_dim * d (checked above); every row index is clipped
    // into [0, input_dim).
    unsafe {
        ctx.launch(
            op,
            "embedding",
            &kernel,
            nidx * d,
            (yp, data.ptr, wp, nidx as i64, d as i64, p.input_dim as i64),
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
    let (gp, dwp) = (g.f32_ptr(op)?, dweight.f32_ptr(op)?);
    let kernel = index_kernel(op, "embedding_backward", data.dtype)?;
    check(op, p, data, g, dweight)?;
    let (nidx, d) = (data.size(), p.output_dim);
    if dweight.size() > 0 {
        // SAFETY: dweight holds input_dim * d float32 elements (checked above).
        unsafe { ctx.zero(op, dwp, dweight.size() * 4)? };
    }
    // SAFETY: (float* dw, const float* g, const IT* idx, long long nidx, long long d,
    // long long input_dim), IT the indices' type (the kernel picked by their dtype): idx holds
    // nidx elements, g nidx * d, dw input_dim * d (checked above); every row index is clipped
    // into [0, input_dim).
    unsafe {
        ctx.launch(
            op,
            "embedding",
            &kernel,
            nidx * d,
            (dwp, gp, data.ptr, nidx as i64, d as i64, p.input_dim as i64),
        )
    }
}
