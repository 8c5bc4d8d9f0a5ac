//! Launchers of `kernels/cuda/one_hot.cu`.

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::{AnySlice, DeviceSlice, GpuError, Source, at_least, launch};

/// `y[i, c] = on` where the index `idx[i]` truncated is `c`, else `off`; `y` is
/// `idx.len() × depth`.
pub fn forward(
    dev: &Arc<GpuDevice>,
    y: DeviceSlice<'_, f32>,
    idx: AnySlice<'_>,
    depth: usize,
    (on, off): (f32, f32),
) -> Result<(), GpuError> {
    let kernel = format!("one_hot_idx_{}", idx.suffix());
    let nidx = idx.len();
    let n = nidx * depth;
    let y = at_least(&kernel, "y", y, n)?;
    // SAFETY: (float* y, const IT* idx, long long nidx, long long depth, float on, float off),
    // IT the indices' type (the kernel named by their dtype); item i < nidx·depth (so depth > 0)
    // writes y[i] and reads idx[i / depth] < nidx, inside the lengths.
    unsafe {
        launch(
            dev,
            Source::OneHot,
            &kernel,
            n,
            (y, idx.ptr(), nidx as i64, depth as i64, on, off),
        )
    }
}
