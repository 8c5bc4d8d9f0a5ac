//! Launchers of `kernels/cuda/leaky_relu.cu`: `LeakyReLU` (leaky, elu, selu, gelu, prelu,
//! rrelu) and its backward.

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::codes::LeakyCode;
use super::{DeviceSlice, GpuError, Source, all_at_least, at_least, launch};
use crate::cpu::elementwise::{LeakyAct, SELU_ALPHA, SELU_LAMBDA};

/// The kernels' act code and parameters (p, q) for the forward (`backward == false`) or
/// backward kernel, cast to float32 as the CPU kernel casts them.
fn code(act: LeakyAct, backward: bool) -> (i32, f32, f32) {
    let (code, p, q) = match act {
        LeakyAct::Leaky { slope } => (LeakyCode::Leaky, slope as f32, 0.0),
        LeakyAct::Elu { slope } => (LeakyCode::Elu, slope as f32, 0.0),
        LeakyAct::Selu if backward => (LeakyCode::Selu, SELU_LAMBDA as f32, SELU_ALPHA as f32),
        LeakyAct::Selu => (
            LeakyCode::Selu,
            SELU_LAMBDA as f32,
            (SELU_LAMBDA * SELU_ALPHA) as f32,
        ),
        LeakyAct::Gelu => (LeakyCode::Gelu, 0.0, 0.0),
    };
    (code as i32, p, q)
}

/// `y = act(x)` over `n` elements (`y` may be `x`: item i reads before it writes).
pub fn forward(
    dev: &Arc<GpuDevice>,
    act: LeakyAct,
    y: DeviceSlice<'_, f32>,
    x: DeviceSlice<'_, f32>,
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "leaky_relu_forward_f32";
    let [y, x] = all_at_least(K, ["y", "x"], [y, x], n)?;
    let (c, p, q) = code(act, false);
    // SAFETY: (float* y, const float* x, long long n, int act, float p, float q); item i < n
    // touches y[i] and x[i], inside the checked lengths.
    unsafe { launch(dev, Source::LeakyRelu, K, n, (y, x, n as i64, c, p, q)) }
}

/// `dx = g * act'(x, y)` over `n` elements.
pub fn backward(
    dev: &Arc<GpuDevice>,
    act: LeakyAct,
    [dx, g, x, y]: [DeviceSlice<'_, f32>; 4],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "leaky_relu_backward_f32";
    let [dx, g, x, y] = all_at_least(K, ["dx", "g", "x", "y"], [dx, g, x, y], n)?;
    let (c, p, q) = code(act, true);
    // SAFETY: (float* dx, const float* g, const float* x, const float* y, long long n, int act,
    // float p, float q); item i < n touches element i of each, inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::LeakyRelu,
            K,
            n,
            (dx, g, x, y, n as i64, c, p, q),
        )
    }
}

/// Checks PReLU's layout: `inner` and `channels` positive, `gamma` holding `channels`.
fn prelu_gamma(
    kernel: &str,
    gamma: DeviceSlice<'_, f32>,
    inner: usize,
    channels: usize,
) -> Result<mxr_engine::gpu::DevicePtr, GpuError> {
    if inner == 0 || channels == 0 {
        return Err(GpuError::Argument {
            kernel: kernel.into(),
            reason: format!("inner {inner} and channels {channels} must be positive"),
        });
    }
    at_least(kernel, "gamma", gamma, channels)
}

/// PReLU: `y = x > 0 ? x : gamma[(i / inner) % channels] * x` over `n` elements.
pub fn prelu(
    dev: &Arc<GpuDevice>,
    [y, x, gamma]: [DeviceSlice<'_, f32>; 3],
    n: usize,
    inner: usize,
    channels: usize,
) -> Result<(), GpuError> {
    const K: &str = "leaky_relu_prelu_f32";
    let [y, x] = all_at_least(K, ["y", "x"], [y, x], n)?;
    let gamma = prelu_gamma(K, gamma, inner, channels)?;
    // SAFETY: (float* y, const float* x, const float* gamma, long long n, long long inner,
    // long long channels); item i < n touches y[i], x[i] and gamma[(i / inner) % channels]
    // (inner > 0, channels > 0: checked), inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::LeakyRelu,
            K,
            n,
            (y, x, gamma, n as i64, inner as i64, channels as i64),
        )
    }
}

/// PReLU's data gradient over `n` elements.
pub fn prelu_backward_dx(
    dev: &Arc<GpuDevice>,
    [dx, g, x, gamma]: [DeviceSlice<'_, f32>; 4],
    n: usize,
    inner: usize,
    channels: usize,
) -> Result<(), GpuError> {
    const K: &str = "leaky_relu_prelu_backward_dx_f32";
    let [dx, g, x] = all_at_least(K, ["dx", "g", "x"], [dx, g, x], n)?;
    let gamma = prelu_gamma(K, gamma, inner, channels)?;
    // SAFETY: (float* dx, const float* g, const float* x, const float* gamma, long long n,
    // long long inner, long long channels); as in `prelu`.
    unsafe {
        launch(
            dev,
            Source::LeakyRelu,
            K,
            n,
            (dx, g, x, gamma, n as i64, inner as i64, channels as i64),
        )
    }
}

/// PReLU's gamma gradient: `channels` values from `g` and `x` of `n` elements.
pub fn prelu_backward_dgamma(
    dev: &Arc<GpuDevice>,
    [dgamma, g, x]: [DeviceSlice<'_, f32>; 3],
    n: usize,
    inner: usize,
    channels: usize,
) -> Result<(), GpuError> {
    const K: &str = "leaky_relu_prelu_backward_dgamma_f32";
    let dgamma = prelu_gamma(K, dgamma, inner, channels)?;
    let [g, x] = all_at_least(K, ["g", "x"], [g, x], n)?;
    // SAFETY: (float* dgamma, const float* g, const float* x, long long n, long long inner,
    // long long channels); item c < channels writes dgamma[c] and reads g[j], x[j] for j < n
    // only (blocks end at n; inner > 0: checked), inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::LeakyRelu,
            K,
            channels,
            (dgamma, g, x, n as i64, inner as i64, channels as i64),
        )
    }
}

/// RReLU with the slopes in `mask`: `y = x > 0 ? x : mask * x` over `n` elements.
pub fn rrelu(
    dev: &Arc<GpuDevice>,
    [y, x, mask]: [DeviceSlice<'_, f32>; 3],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "leaky_relu_rrelu_f32";
    let [y, x, mask] = all_at_least(K, ["y", "x", "mask"], [y, x, mask], n)?;
    // SAFETY: (float* y, const float* x, const float* mask, long long n); item i < n touches
    // element i of each, inside the checked lengths.
    unsafe { launch(dev, Source::LeakyRelu, K, n, (y, x, mask, n as i64)) }
}

/// RReLU's data gradient over `n` elements.
pub fn rrelu_backward(
    dev: &Arc<GpuDevice>,
    [dx, g, y, mask]: [DeviceSlice<'_, f32>; 4],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "leaky_relu_rrelu_backward_f32";
    let [dx, g, y, mask] = all_at_least(K, ["dx", "g", "y", "mask"], [dx, g, y, mask], n)?;
    // SAFETY: (float* dx, const float* g, const float* y, const float* mask, long long n);
    // item i < n touches element i of each, inside the checked lengths.
    unsafe { launch(dev, Source::LeakyRelu, K, n, (dx, g, y, mask, n as i64)) }
}
