//! Launchers of `kernels/cuda/activation.cu`: MXNet's `Activation` and its backward.

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

pub use super::codes::ActCode;
use super::{DeviceSlice, GpuError, Source, all_at_least, launch};

/// `y = act(x)` over `n` elements.
pub fn forward(
    dev: &Arc<GpuDevice>,
    act: ActCode,
    y: DeviceSlice<'_, f32>,
    x: DeviceSlice<'_, f32>,
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "activation_forward_f32";
    let [y, x] = all_at_least(K, ["y", "x"], [y, x], n)?;
    // SAFETY: (float* y, const float* x, long long n, int act); item i < n touches y[i], x[i],
    // and both slices hold at least n floats (checked above).
    unsafe { launch(dev, Source::Activation, K, n, (y, x, n as i64, act as i32)) }
}

/// `dx = g * act'(v)` over `n` elements, `v` being the output (the input for softsign).
pub fn backward(
    dev: &Arc<GpuDevice>,
    act: ActCode,
    dx: DeviceSlice<'_, f32>,
    g: DeviceSlice<'_, f32>,
    v: DeviceSlice<'_, f32>,
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "activation_backward_f32";
    let [dx, g, v] = all_at_least(K, ["dx", "g", "v"], [dx, g, v], n)?;
    // SAFETY: (float* dx, const float* g, const float* v, long long n, int act); item i < n
    // touches element i of each, and all three hold at least n floats (checked above).
    unsafe {
        launch(
            dev,
            Source::Activation,
            K,
            n,
            (dx, g, v, n as i64, act as i32),
        )
    }
}
