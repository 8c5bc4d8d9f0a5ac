//! Launchers of `kernels/cuda/embedding.cu`: float32 weight and gradients, indices of any
//! dtype but float16, clipped into the table as on the CPU.

use std::sync::Arc;

use mxr_engine::gpu::{DevicePtr, GpuDevice};

use super::{AnySlice, DeviceSlice, GpuError, Source, at_least, launch};

/// The kernel for `idx`, and the checked addresses of the rows (`idx.len() × d`) and the table
/// (`input_dim × d`, at least one row when there is anything to do).
fn check(
    base: &str,
    idx: AnySlice<'_>,
    rows: DeviceSlice<'_, f32>,
    table: DeviceSlice<'_, f32>,
    (input_dim, d): (usize, usize),
) -> Result<(String, DevicePtr, DevicePtr), GpuError> {
    let kernel = format!("{base}_idx_{}", idx.suffix());
    let n = idx.len() * d;
    if n > 0 && input_dim == 0 {
        return Err(GpuError::Argument {
            kernel,
            reason: "indices into an empty table".into(),
        });
    }
    let rows = at_least(&kernel, "rows", rows, n)?;
    let table = at_least(&kernel, "table", table, input_dim * d)?;
    Ok((kernel, rows, table))
}

/// `y[i, :] = w[clip(idx[i]), :]`, `w` being `input_dim × d`.
pub fn forward(
    dev: &Arc<GpuDevice>,
    y: DeviceSlice<'_, f32>,
    idx: AnySlice<'_>,
    w: DeviceSlice<'_, f32>,
    (input_dim, d): (usize, usize),
) -> Result<(), GpuError> {
    let (kernel, y, w) = check("embedding_forward", idx, y, w, (input_dim, d))?;
    let nidx = idx.len();
    // SAFETY: (float* y, const IT* idx, const float* w, long long nidx, long long d,
    // long long input_dim), IT the indices' type (the kernel named by their dtype); item
    // i < nidx·d writes y[i], reads idx[i / d] and w[row·d + i % d] with the row clipped into
    // [0, input_dim) (input_dim > 0: checked), inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::Embedding,
            &kernel,
            nidx * d,
            (y, idx.ptr(), w, nidx as i64, d as i64, input_dim as i64),
        )
    }
}

/// `dw[clip(idx[i]), :] += g[i, :]` (`dw` zeroed by the caller), `dw` being `input_dim × d`.
pub fn backward(
    dev: &Arc<GpuDevice>,
    dw: DeviceSlice<'_, f32>,
    g: DeviceSlice<'_, f32>,
    idx: AnySlice<'_>,
    (input_dim, d): (usize, usize),
) -> Result<(), GpuError> {
    let (kernel, g, dw) = check("embedding_backward", idx, g, dw, (input_dim, d))?;
    let nidx = idx.len();
    // SAFETY: (float* dw, const float* g, const IT* idx, long long nidx, long long d,
    // long long input_dim); as in `forward`, with g read and dw's clipped row added to.
    unsafe {
        launch(
            dev,
            Source::Embedding,
            &kernel,
            nidx * d,
            (dw, g, idx.ptr(), nidx as i64, d as i64, input_dim as i64),
        )
    }
}
