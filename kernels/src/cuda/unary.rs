//! Launchers of `kernels/cuda/unary.cu`: unary math operators, clip, and their backward.

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::{DeviceSlice, GpuError, Source, all_at_least, launch};
use crate::cpu::elementwise::{UnaryGrad, UnaryOp};

/// `y = f(x)` over `n` elements (`y` may be `x`: item i reads before it writes).
pub fn forward(
    dev: &Arc<GpuDevice>,
    op: UnaryOp,
    [y, x]: [DeviceSlice<'_, f32>; 2],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "unary_forward_f32";
    let [y, x] = all_at_least(K, ["y", "x"], [y, x], n)?;
    // SAFETY: (float* y, const float* x, long long n, int op), op an MXR_UNARY_* code (the
    // discriminant: `codes`); item i < n touches y[i] and x[i], inside the checked lengths.
    unsafe { launch(dev, Source::Unary, K, n, (y, x, n as i64, op as i32)) }
}

/// `out = g·f'(v)` over `n` elements, `v` the forward input or output (`out` may be `g`).
pub fn backward(
    dev: &Arc<GpuDevice>,
    op: UnaryGrad,
    [out, g, v]: [DeviceSlice<'_, f32>; 3],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "unary_backward_f32";
    let [out, g, v] = all_at_least(K, ["out", "g", "v"], [out, g, v], n)?;
    // SAFETY: (float* out, const float* g, const float* v, long long n, int op), op an
    // MXR_UNARY_* code (the discriminant, the forward op's: `codes`); item i < n touches
    // element i of each, inside the checked lengths.
    unsafe { launch(dev, Source::Unary, K, n, (out, g, v, n as i64, op as i32)) }
}

/// `y = clip(x, lo, hi)` over `n` elements (`y` may be `x`).
pub fn clip(
    dev: &Arc<GpuDevice>,
    lo_hi: (f32, f32),
    yx: [DeviceSlice<'_, f32>; 2],
    n: usize,
) -> Result<(), GpuError> {
    with_two_params("unary_clip_f32", dev, lo_hi, yx, n)
}

/// `dx = g` where `lo <= x <= hi`, else 0, over `n` elements (`dx` may be `g`).
pub fn clip_backward(
    dev: &Arc<GpuDevice>,
    lo_hi: (f32, f32),
    dx_g_x: [DeviceSlice<'_, f32>; 3],
    n: usize,
) -> Result<(), GpuError> {
    with_two_params_backward("unary_clip_backward_f32", dev, lo_hi, dx_g_x, n)
}

/// `y = max(0, min(1, alpha·x + beta))` over `n` elements (`y` may be `x`).
pub fn hard_sigmoid(
    dev: &Arc<GpuDevice>,
    alpha_beta: (f32, f32),
    yx: [DeviceSlice<'_, f32>; 2],
    n: usize,
) -> Result<(), GpuError> {
    with_two_params("unary_hard_sigmoid_f32", dev, alpha_beta, yx, n)
}

/// `dx = g·alpha` where `0 < alpha·x + beta < 1`, else 0, over `n` elements (`dx` may be `g`
/// or `x`).
pub fn hard_sigmoid_backward(
    dev: &Arc<GpuDevice>,
    alpha_beta: (f32, f32),
    dx_g_x: [DeviceSlice<'_, f32>; 3],
    n: usize,
) -> Result<(), GpuError> {
    with_two_params_backward(
        "unary_hard_sigmoid_backward_f32",
        dev,
        alpha_beta,
        dx_g_x,
        n,
    )
}

/// Launches `kernel`, a forward kernel of `unary.cu` with two float parameters:
/// `(float* y, const float* x, long long n, float a, float b)` (`unary_clip_f32`,
/// `unary_hard_sigmoid_f32`).
fn with_two_params(
    kernel: &'static str,
    dev: &Arc<GpuDevice>,
    (a, b): (f32, f32),
    slices: [DeviceSlice<'_, f32>; 2],
    n: usize,
) -> Result<(), GpuError> {
    let [y, x] = all_at_least(kernel, ["y", "x"], slices, n)?;
    // SAFETY: `kernel` has this function's signature (its callers name such kernels only);
    // item i < n touches y[i] and x[i], inside the checked lengths.
    unsafe { launch(dev, Source::Unary, kernel, n, (y, x, n as i64, a, b)) }
}

/// Launches `kernel`, the backward kernel of a [`with_two_params`] one:
/// `(float* dx, const float* g, const float* x, long long n, float a, float b)`.
fn with_two_params_backward(
    kernel: &'static str,
    dev: &Arc<GpuDevice>,
    (a, b): (f32, f32),
    slices: [DeviceSlice<'_, f32>; 3],
    n: usize,
) -> Result<(), GpuError> {
    let [dx, g, x] = all_at_least(kernel, ["dx", "g", "x"], slices, n)?;
    // SAFETY: `kernel` has this function's signature (its callers name such kernels only);
    // item i < n touches element i of each, inside the checked lengths.
    unsafe { launch(dev, Source::Unary, kernel, n, (dx, g, x, n as i64, a, b)) }
}
