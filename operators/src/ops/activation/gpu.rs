//! `Activation`'s GPU kernels (`kernels/cuda/activation.cu`, launched through
//! [`mxr_kernels::cuda::activation`]).

use mxr_kernels::cuda::activation::{self as kernels, ActCode};

use super::ActType;
use crate::Result;
use crate::registry::{GpuOpContext, GpuTensor, gpu_error};

/// The kernels' activation code.
fn code(act: ActType) -> ActCode {
    match act {
        ActType::Relu => ActCode::Relu,
        ActType::Sigmoid => ActCode::Sigmoid,
        ActType::Tanh => ActCode::Tanh,
        ActType::SoftRelu => ActCode::SoftRelu,
        ActType::SoftSign => ActCode::SoftSign,
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
    kernels::forward(ctx.device, code(act), y.f32(op)?, x.f32(op)?, n).map_err(|e| gpu_error(op, e))
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
    kernels::backward(
        ctx.device,
        code(act),
        dx.f32(op)?,
        g.f32(op)?,
        v.f32(op)?,
        n,
    )
    .map_err(|e| gpu_error(op, e))
}
