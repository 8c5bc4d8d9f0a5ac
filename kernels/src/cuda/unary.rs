//! Launchers of `kernels/cuda/unary.cu`: unary math operators, clip, and their backward.

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::{DeviceSlice, GpuError, Source, at_least, launch};
use crate::cpu::elementwise::{UnaryGrad, UnaryOp};

/// `y = f(x)` over `n` elements (`y` may be `x`: item i reads before it writes).
pub fn forward(
    dev: &Arc<GpuDevice>,
    op: UnaryOp,
    [y, x]: [DeviceSlice<'_, f32>; 2],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "unary_forward_f32";
    let (y, x) = (at_least(K, "y", y, n)?, at_least(K, "x", x, n)?);
    // The op codes are UnaryOp's order (0 negative … 10 softsign), as unary.cu lists them.
    let code = match op {
        UnaryOp::Negative => 0,
        UnaryOp::Exp => 1,
        UnaryOp::Log => 2,
        UnaryOp::Sqrt => 3,
        UnaryOp::Square => 4,
        UnaryOp::Abs => 5,
        UnaryOp::Tanh => 6,
        UnaryOp::Sigmoid => 7,
        UnaryOp::Relu => 8,
        UnaryOp::SoftRelu => 9,
        UnaryOp::SoftSign => 10,
    };
    // SAFETY: (float* y, const float* x, long long n, int op); item i < n touches y[i] and
    // x[i], inside the checked lengths.
    unsafe { launch(dev, Source::Unary, K, n, (y, x, n as i64, code)) }
}

/// `out = g·f'(v)` over `n` elements, `v` the forward input or output (`out` may be `g`).
pub fn backward(
    dev: &Arc<GpuDevice>,
    op: UnaryGrad,
    [out, g, v]: [DeviceSlice<'_, f32>; 3],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "unary_backward_f32";
    let out = at_least(K, "out", out, n)?;
    let (g, v) = (at_least(K, "g", g, n)?, at_least(K, "v", v, n)?);
    let code = match op {
        UnaryGrad::Negative => 0,
        UnaryGrad::Exp => 1,
        UnaryGrad::Log => 2,
        UnaryGrad::Sqrt => 3,
        UnaryGrad::Square => 4,
        UnaryGrad::Abs => 5,
        UnaryGrad::Tanh => 6,
        UnaryGrad::Sigmoid => 7,
        UnaryGrad::Relu => 8,
        UnaryGrad::SoftRelu => 9,
        UnaryGrad::SoftSign => 10,
    };
    // SAFETY: (float* out, const float* g, const float* v, long long n, int op); item i < n
    // touches element i of each, inside the checked lengths.
    unsafe { launch(dev, Source::Unary, K, n, (out, g, v, n as i64, code)) }
}

/// `y = clip(x, lo, hi)` over `n` elements (`y` may be `x`).
pub fn clip(
    dev: &Arc<GpuDevice>,
    (lo, hi): (f32, f32),
    [y, x]: [DeviceSlice<'_, f32>; 2],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "unary_clip_f32";
    let (y, x) = (at_least(K, "y", y, n)?, at_least(K, "x", x, n)?);
    // SAFETY: (float* y, const float* x, long long n, float lo, float hi); item i < n touches
    // y[i] and x[i], inside the checked lengths.
    unsafe { launch(dev, Source::Unary, K, n, (y, x, n as i64, lo, hi)) }
}

/// `dx = g` where `lo <= x <= hi`, else 0, over `n` elements (`dx` may be `g`).
pub fn clip_backward(
    dev: &Arc<GpuDevice>,
    (lo, hi): (f32, f32),
    [dx, g, x]: [DeviceSlice<'_, f32>; 3],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "unary_clip_backward_f32";
    let dx = at_least(K, "dx", dx, n)?;
    let (g, x) = (at_least(K, "g", g, n)?, at_least(K, "x", x, n)?);
    // SAFETY: (float* dx, const float* g, const float* x, long long n, float lo, float hi);
    // item i < n touches element i of each, inside the checked lengths.
    unsafe { launch(dev, Source::Unary, K, n, (dx, g, x, n as i64, lo, hi)) }
}

/// `y = max(0, min(1, alpha·x + beta))` over `n` elements (`y` may be `x`).
pub fn hard_sigmoid(
    dev: &Arc<GpuDevice>,
    (alpha, beta): (f32, f32),
    [y, x]: [DeviceSlice<'_, f32>; 2],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "unary_hard_sigmoid_f32";
    let (y, x) = (at_least(K, "y", y, n)?, at_least(K, "x", x, n)?);
    // SAFETY: (float* y, const float* x, long long n, float alpha, float beta); item i < n
    // touches y[i] and x[i], inside the checked lengths.
    unsafe { launch(dev, Source::Unary, K, n, (y, x, n as i64, alpha, beta)) }
}

/// `dx = g·alpha` where `0 < alpha·x + beta < 1`, else 0, over `n` elements (`dx` may be `g`
/// or `x`).
pub fn hard_sigmoid_backward(
    dev: &Arc<GpuDevice>,
    (alpha, beta): (f32, f32),
    [dx, g, x]: [DeviceSlice<'_, f32>; 3],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "unary_hard_sigmoid_backward_f32";
    let dx = at_least(K, "dx", dx, n)?;
    let (g, x) = (at_least(K, "g", g, n)?, at_least(K, "x", x, n)?);
    // SAFETY: (float* dx, const float* g, const float* x, long long n, float alpha,
    // float beta); item i < n touches element i of each, inside the checked lengths.
    unsafe { launch(dev, Source::Unary, K, n, (dx, g, x, n as i64, alpha, beta)) }
}
