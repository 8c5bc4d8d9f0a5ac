//! GPU kernels of the scalar operators (`kernels/cuda/scalar.cu`, launched through
//! [`mxr_kernels::cuda::scalar`]).

use mxr_kernels::cpu::elementwise::ScalarOp;
use mxr_kernels::cuda::scalar as kernels;

use super::ScalarGrad;
use crate::Result;
use crate::registry::{GpuOpContext, GpuTensor, check_sizes, f32_slices, gpu_error};

/// `out = x ∘ s` (the scalar cast to float32 first, as the CPU kernel does; `out` may be `x`).
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    name: &str,
    op: ScalarOp,
    s: f64,
    x: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
) -> Result<()> {
    let (n, slices) = f32_slices(name, [out, x])?;
    kernels::forward(ctx.device, op, s as f32, slices, n).map_err(|e| gpu_error(name, e))
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
    let (n, slices) = f32_slices(name, [out, g])?;
    let xp = match x {
        Some(x) => {
            check_sizes(name, n, &[x])?;
            Some(x.f32(name)?)
        }
        None => None,
    };
    kernels::backward(ctx.device, op.forward_op(), s as f32, slices, xp, n)
        .map_err(|e| gpu_error(name, e))
}
