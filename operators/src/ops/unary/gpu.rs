//! GPU kernels of the unary math operators, clip and hard_sigmoid (`kernels/cuda/unary.cu`,
//! launched through [`mxr_kernels::cuda::unary`]).

use mxr_kernels::cpu::elementwise::{UnaryGrad, UnaryOp};
use mxr_kernels::cuda::unary as kernels;

use crate::Result;
use crate::registry::{GpuOpContext, GpuTensor, f32_slices, gpu_error};

/// `y = f(x)` (`y` may be `x`).
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    name: &str,
    op: UnaryOp,
    x: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let (n, slices) = f32_slices(name, [y, x])?;
    kernels::forward(ctx.device, op, slices, n).map_err(|e| gpu_error(name, e))
}

/// `out = g·f'(v)`, `v` the forward input or output.
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    name: &str,
    op: UnaryGrad,
    g: &GpuTensor<'_>,
    v: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
) -> Result<()> {
    let (n, slices) = f32_slices(name, [out, g, v])?;
    kernels::backward(ctx.device, op, slices, n).map_err(|e| gpu_error(name, e))
}

/// `y = clip(x, lo, hi)` (bounds cast to float32; `y` may be `x`).
pub(super) fn clip(
    ctx: &GpuOpContext<'_>,
    lo: f64,
    hi: f64,
    x: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let name = "clip";
    let (n, slices) = f32_slices(name, [y, x])?;
    kernels::clip(ctx.device, (lo as f32, hi as f32), slices, n).map_err(|e| gpu_error(name, e))
}

/// `dx = g` where `lo <= x <= hi`, else 0.
pub(super) fn clip_backward(
    ctx: &GpuOpContext<'_>,
    lo: f64,
    hi: f64,
    g: &GpuTensor<'_>,
    x: &GpuTensor<'_>,
    dx: &GpuTensor<'_>,
) -> Result<()> {
    let name = "_backward_clip";
    let (n, slices) = f32_slices(name, [dx, g, x])?;
    kernels::clip_backward(ctx.device, (lo as f32, hi as f32), slices, n)
        .map_err(|e| gpu_error(name, e))
}

/// `y = max(0, min(1, alpha·x + beta))` (`y` may be `x`).
pub(super) fn hard_sigmoid(
    ctx: &GpuOpContext<'_>,
    alpha: f32,
    beta: f32,
    x: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let name = "hard_sigmoid";
    let (n, slices) = f32_slices(name, [y, x])?;
    kernels::hard_sigmoid(ctx.device, (alpha, beta), slices, n).map_err(|e| gpu_error(name, e))
}

/// `dx = g·alpha` where `0 < alpha·x + beta < 1`, else 0.
pub(super) fn hard_sigmoid_backward(
    ctx: &GpuOpContext<'_>,
    alpha: f32,
    beta: f32,
    g: &GpuTensor<'_>,
    x: &GpuTensor<'_>,
    dx: &GpuTensor<'_>,
) -> Result<()> {
    let name = "_backward_hard_sigmoid";
    let (n, slices) = f32_slices(name, [dx, g, x])?;
    kernels::hard_sigmoid_backward(ctx.device, (alpha, beta), slices, n)
        .map_err(|e| gpu_error(name, e))
}
