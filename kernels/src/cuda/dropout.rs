//! Launchers of `kernels/cuda/dropout.cu` (the mask is drawn on the host).

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::{DeviceSlice, GpuError, Source, all_at_least, launch};

/// `y = a * b` over `n` elements (the output data · mask, the gradient · mask).
pub fn mul(
    dev: &Arc<GpuDevice>,
    [y, a, b]: [DeviceSlice<'_, f32>; 3],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "dropout_mul_f32";
    let [y, a, b] = all_at_least(K, ["y", "a", "b"], [y, a, b], n)?;
    // SAFETY: (float* y, const float* a, const float* b, long long n); item i < n touches
    // element i of each, inside the checked lengths.
    unsafe { launch(dev, Source::Dropout, K, n, (y, a, b, n as i64)) }
}

/// `y[i] = v` for every element of `y` (the mask of ones when inactive).
pub fn fill(dev: &Arc<GpuDevice>, y: DeviceSlice<'_, f32>, v: f32) -> Result<(), GpuError> {
    let n = y.len();
    // SAFETY: (float* y, float v, long long n); item i < n writes y[i], and `y` holds n floats.
    unsafe {
        launch(
            dev,
            Source::Dropout,
            "dropout_fill_f32",
            n,
            (y.ptr(), v, n as i64),
        )
    }
}
