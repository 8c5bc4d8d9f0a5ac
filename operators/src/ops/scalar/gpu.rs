//! GPU kernels of the scalar operators (`kernels/cuda/scalar.cu`).
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use mxr_kernels::cpu::elementwise::ScalarOp;

use super::ScalarGrad;
use crate::Result;
use crate::registry::check_sizes;
use crate::registry::{GpuOpContext, GpuTensor};

fn code(op: ScalarOp) -> i32 {
    match op {
        ScalarOp::Plus => 0,
        ScalarOp::Minus => 1,
        ScalarOp::RMinus => 2,
        ScalarOp::Mul => 3,
        ScalarOp::Div => 4,
        ScalarOp::RDiv => 5,
        ScalarOp::Power => 6,
    }
}

fn grad_code(op: ScalarGrad) -> i32 {
    match op {
        ScalarGrad::Mul => 0,
        ScalarGrad::Div => 1,
        ScalarGrad::RDiv => 2,
        ScalarGrad::Power => 3,
    }
}

/// `out = x ∘ s` (the scalar cast to float32 first, as the CPU kernel does; `out` may be `x`).
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    name: &str,
    op: ScalarOp,
    s: f64,
    x: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
) -> Result<()> {
    let n = out.size();
    check_sizes(name, n, &[x])?;
    let (o, xp) = (out.f32_ptr(name)?, x.f32_ptr(name)?);
    // SAFETY: (float* out, const float* x, long long n, float s, int op); both hold n float32
    // elements (checked above), alive until the operation completes; item i reads x[i] before
    // writing out[i], so they may alias.
    unsafe {
        ctx.launch(
            name,
            "scalar",
            "scalar_forward_f32",
            n,
            (o, xp, n as i64, s as f32, code(op)),
        )
    }
}

/// The input gradient for head gradient `g` (`x`, the forward input, for rdiv and power).
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    name: &str,
    op: ScalarGrad,
    s: f64,
    g: &GpuTensor<'_>,
    x: Option<&GpuTensor<'_>>,
    out: &GpuTensor<'_>,
) -> Result<()> {
    let n = out.size();
    check_sizes(name, n, &[g])?;
    let (o, gp) = (out.f32_ptr(name)?, g.f32_ptr(name)?);
    let xp = match x {
        Some(x) => {
            check_sizes(name, n, &[x])?;
            x.f32_ptr(name)?
        }
        // Mul and div never read it.
        None => gp,
    };
    // SAFETY: (float* out, const float* g, const float* x, long long n, float s, int op); all
    // hold n float32 elements (checked above; x is g where the op does not read it), alive
    // until the operation completes; out may alias g (read before written).
    unsafe {
        ctx.launch(
            name,
            "scalar",
            "scalar_backward_f32",
            n,
            (o, gp, xp, n as i64, s as f32, grad_code(op)),
        )
    }
}
