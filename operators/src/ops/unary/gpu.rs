//! GPU kernels of the unary math operators, clip and hard_sigmoid (`kernels/cuda/unary.cu`).
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use mxr_kernels::cpu::elementwise::{UnaryGrad, UnaryOp};

use crate::Result;
use crate::registry::check_sizes;
use crate::registry::{GpuOpContext, GpuTensor};

fn code(op: UnaryOp) -> i32 {
    match op {
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
    }
}

fn grad_code(op: UnaryGrad) -> i32 {
    match op {
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
    }
}

/// `y = f(x)` (`y` may be `x`).
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    name: &str,
    op: UnaryOp,
    x: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let n = y.size();
    check_sizes(name, n, &[x])?;
    let (yp, xp) = (y.f32_ptr(name)?, x.f32_ptr(name)?);
    // SAFETY: (float* y, const float* x, long long n, int op); both hold n float32 elements
    // (checked above), alive until the operation completes; item i reads x[i] before writing
    // y[i], so they may alias.
    unsafe {
        ctx.launch(
            name,
            "unary",
            "unary_forward_f32",
            n,
            (yp, xp, n as i64, code(op)),
        )
    }
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
    let n = out.size();
    check_sizes(name, n, &[g, v])?;
    let (o, gp, vp) = (out.f32_ptr(name)?, g.f32_ptr(name)?, v.f32_ptr(name)?);
    // SAFETY: (float* out, const float* g, const float* v, long long n, int op); all hold n
    // float32 elements (checked above), alive until the operation completes; out may alias g
    // (item i reads before it writes).
    unsafe {
        ctx.launch(
            name,
            "unary",
            "unary_backward_f32",
            n,
            (o, gp, vp, n as i64, grad_code(op)),
        )
    }
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
    let n = y.size();
    check_sizes(name, n, &[x])?;
    let (yp, xp) = (y.f32_ptr(name)?, x.f32_ptr(name)?);
    // SAFETY: (float* y, const float* x, long long n, float lo, float hi); both hold n float32
    // elements (checked above), alive until the operation completes; aliasing is fine.
    unsafe {
        ctx.launch(
            name,
            "unary",
            "unary_clip_f32",
            n,
            (yp, xp, n as i64, lo as f32, hi as f32),
        )
    }
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
    let n = dx.size();
    check_sizes(name, n, &[g, x])?;
    let (dp, gp, xp) = (dx.f32_ptr(name)?, g.f32_ptr(name)?, x.f32_ptr(name)?);
    // SAFETY: (float* dx, const float* g, const float* x, long long n, float lo, float hi); all
    // hold n float32 elements (checked above), alive until the operation completes; dx may
    // alias g.
    unsafe {
        ctx.launch(
            name,
            "unary",
            "unary_clip_backward_f32",
            n,
            (dp, gp, xp, n as i64, lo as f32, hi as f32),
        )
    }
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
    let n = y.size();
    check_sizes(name, n, &[x])?;
    let (yp, xp) = (y.f32_ptr(name)?, x.f32_ptr(name)?);
    // SAFETY: (float* y, const float* x, long long n, float alpha, float beta); both hold n
    // float32 elements (checked above), alive until the operation completes; item i reads x[i]
    // before writing y[i], so they may alias.
    unsafe {
        ctx.launch(
            name,
            "unary",
            "unary_hard_sigmoid_f32",
            n,
            (yp, xp, n as i64, alpha, beta),
        )
    }
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
    let n = dx.size();
    check_sizes(name, n, &[g, x])?;
    let (dp, gp, xp) = (dx.f32_ptr(name)?, g.f32_ptr(name)?, x.f32_ptr(name)?);
    // SAFETY: (float* dx, const float* g, const float* x, long long n, float alpha, float
    // beta); all hold n float32 elements (checked above), alive until the operation completes;
    // dx may alias g or x (item i reads both before it writes).
    unsafe {
        ctx.launch(
            name,
            "unary",
            "unary_hard_sigmoid_backward_f32",
            n,
            (dp, gp, xp, n as i64, alpha, beta),
        )
    }
}
