//! `softmax` / `log_softmax` and their backward ops on the GPU (`kernels/cuda/softmax.cu`,
//! launched through [`mxr_kernels::cuda::softmax`]): one work item per lane along the axis.

use mxr_kernels::DType;
use mxr_kernels::cpu::softmax::Axis;
use mxr_kernels::cuda::softmax as kernels;

use crate::registry::{GpuOpContext, GpuTensor, check_sizes, gpu_error};
use crate::{Error, Result};

/// `y = softmax(x / t)` (`log`: log-softmax; the pair is `(t, log)`) along the axis of `ax`, with optional lengths.
/// Also `SoftmaxOutput`'s forward (`t = 1`, no lengths).
pub(crate) fn forward(
    ctx: &GpuOpContext<'_>,
    op: &str,
    ax: Axis,
    (t, log): (f32, bool),
    x: &GpuTensor<'_>,
    lengths: Option<&GpuTensor<'_>>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let (xp, yp) = (x.f32(op)?, y.f32(op)?);
    check_sizes(op, ax.size(), &[x])?;
    check_sizes(op, ax.size(), &[y])?;
    let lp = match lengths {
        Some(l) => {
            check_sizes(op, ax.outer * ax.inner, &[l])?;
            if l.dtype == DType::F16 {
                return Err(Error::Unsupported {
                    op: op.into(),
                    what: "float16 lengths on the GPU".into(),
                });
            }
            Some(l.any(op)?)
        }
        None => None,
    };
    kernels::forward(ctx.device, ax, (t, log), [yp, xp], lp).map_err(|e| gpu_error(op, e))
}

/// `dx` from the head gradient `g` and the output `y`.
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    op: &str,
    ax: Axis,
    (t, log): (f32, bool),
    g: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
    dx: &GpuTensor<'_>,
) -> Result<()> {
    let slices = [dx.f32(op)?, g.f32(op)?, y.f32(op)?];
    for a in [g, y, dx] {
        check_sizes(op, ax.size(), &[a])?;
    }
    kernels::backward(ctx.device, ax, (t, log), slices).map_err(|e| gpu_error(op, e))
}

/// Zeroes an output (of any dtype): the gradient of integer inputs.
pub(crate) fn zero(ctx: &GpuOpContext<'_>, op: &str, t: &GpuTensor<'_>) -> Result<()> {
    ctx.zero(op, t.bytes(op)?)
}
