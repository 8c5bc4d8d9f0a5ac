//! Launchers of `kernels/cuda/fully_connected.cu`: `FullyConnected`'s bias kernels (its
//! products are [`super::blas`] GEMMs).

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::{DeviceSlice, GpuError, Source, at_least, launch};

/// `y` (`rows × h`) ← `b` (`h`) on every row.
pub fn bias_rows(
    dev: &Arc<GpuDevice>,
    y: DeviceSlice<'_, f32>,
    b: DeviceSlice<'_, f32>,
    rows: usize,
    h: usize,
) -> Result<(), GpuError> {
    const K: &str = "fully_connected_bias_rows_f32";
    let (y, b) = (at_least(K, "y", y, rows * h)?, at_least(K, "b", b, h)?);
    // SAFETY: (float* y, const float* b, long long rows, long long h); item i < rows·h writes
    // y[i] and reads b[i % h]; y holds rows·h floats and b h (checked above).
    unsafe {
        launch(
            dev,
            Source::FullyConnected,
            K,
            rows * h,
            (y, b, rows as i64, h as i64),
        )
    }
}

/// `db[j] = Σ_r g[r, j]` for `g` `rows × h`.
pub fn bias_grad(
    dev: &Arc<GpuDevice>,
    db: DeviceSlice<'_, f32>,
    g: DeviceSlice<'_, f32>,
    rows: usize,
    h: usize,
) -> Result<(), GpuError> {
    const K: &str = "fully_connected_bias_grad_f32";
    let (db, g) = (at_least(K, "db", db, h)?, at_least(K, "g", g, rows * h)?);
    // SAFETY: (float* db, const float* g, long long rows, long long h); item j < h writes db[j]
    // and reads g[r·h + j] for r < rows; db holds h floats and g rows·h (checked above).
    unsafe {
        launch(
            dev,
            Source::FullyConnected,
            K,
            h,
            (db, g, rows as i64, h as i64),
        )
    }
}
