//! `Activation`'s GPU kernels (`kernels/cuda/activation.cu`).
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use super::ActType;
use crate::Result;
use crate::registry::{GpuOpContext, GpuTensor};

/// The kernels' activation code.
fn code(act: ActType) -> i32 {
    match act {
        ActType::Relu => 0,
        ActType::Sigmoid => 1,
        ActType::Tanh => 2,
        ActType::SoftRelu => 3,
        ActType::SoftSign => 4,
    }
}

/// `y = act(x)`.
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    act: ActType,
    x: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let op = "Activation";
    let n = x.size();
    let (x, y) = (x.f32_ptr(op)?, y.f32_ptr(op)?);
    // SAFETY: (float* y, const float* x, long long n, int act); both tensors hold n float32
    // elements (same shape by inference), alive until the operation completes (the caller's
    // contract for GPU kernels).
    unsafe {
        ctx.launch(
            op,
            "activation",
            "activation_forward_f32",
            n,
            (y, x, n as i64, code(act)),
        )
    }
}

/// `dx = g * act'(v)`.
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    act: ActType,
    g: &GpuTensor<'_>,
    v: &GpuTensor<'_>,
    dx: &GpuTensor<'_>,
) -> Result<()> {
    let op = "_backward_Activation";
    let n = g.size();
    let (g, v, dx) = (g.f32_ptr(op)?, v.f32_ptr(op)?, dx.f32_ptr(op)?);
    // SAFETY: (float* dx, const float* g, const float* v, long long n, int act); all three
    // hold n float32 elements (same shape by inference), alive until the operation completes.
    unsafe {
        ctx.launch(
            op,
            "activation",
            "activation_backward_f32",
            n,
            (dx, g, v, n as i64, code(act)),
        )
    }
}
