//! The GPU kernel of the scalar operators' gradients (`kernels/cuda/scalar.cu`, launched through
//! [`mxr_kernels::cuda::scalar`]).

use mxr_kernels::cuda::scalar as kernels;

use super::ScalarGrad;
use crate::Result;
use crate::registry::{GpuOpContext, GpuTensor, check_sizes, f32_slices, gpu_error};

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
