//! The GPU kernels of the reductions, `argmax`/`argmin`, `broadcast_to` and their gradients
//! (`kernels/cuda/reduce.cu`, launched through [`mxr_kernels::cuda::reduce`]).

use mxr_kernels::cpu::reduce::kept_shape;
use mxr_kernels::cuda::reduce as kernels;

use super::ReduceKind;
use crate::registry::{GpuOpContext, GpuTensor, gpu_error};
use crate::{Error, Result};

/// `y = reduce(x)` over the axes of `mask`, for `kind`.
pub(super) fn reduce(
    ctx: &GpuOpContext<'_>,
    op: &str,
    kind: ReduceKind,
    x: &GpuTensor<'_>,
    mask: &[bool],
    y: &GpuTensor<'_>,
) -> Result<()> {
    let (xp, yp) = (x.f32(op)?, y.f32(op)?);
    let nout = y.size();
    if nout == 0 {
        return Ok(());
    }
    let kept: usize = kept_shape(x.shape, mask).iter().product();
    if mask.len() != x.shape.len() || kept != nout {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "output {:?} does not match the reduction of {:?}",
                y.shape, x.shape
            ),
        });
    }
    kernels::reduce(ctx.device, kind.reducer(), [yp, xp], x.shape, mask)
        .map_err(|e| gpu_error(op, e))
}

/// `dx[i] = g[o(i)]` (divided by `count` when given) over the full array `dx` of `shape`, `g`
/// having the kept axes of `mask`.
pub(super) fn broadcast(
    ctx: &GpuOpContext<'_>,
    op: &str,
    g: &GpuTensor<'_>,
    shape: &[usize],
    mask: &[bool],
    count: Option<f32>,
    dx: &GpuTensor<'_>,
) -> Result<()> {
    let (gp, dxp) = (g.f32(op)?, dx.f32(op)?);
    let n = dx.size();
    if n == 0 {
        return Ok(());
    }
    let small: usize = kept_shape(shape, mask).iter().product();
    if mask.len() != shape.len() || shape.iter().product::<usize>() != n || g.size() != small {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!("{:?} does not broadcast to {:?}", g.shape, dx.shape),
        });
    }
    kernels::broadcast(ctx.device, [dxp, gp], shape, mask, count).map_err(|e| gpu_error(op, e))
}

/// `broadcast_to`: `y[i] = x[o(i)]` over the full array `y`, `x` having the kept axes of
/// `mask`; any dtype (the kernel moves elements of the dtype's width).
pub(super) fn broadcast_any(
    ctx: &GpuOpContext<'_>,
    op: &str,
    x: &GpuTensor<'_>,
    mask: &[bool],
    y: &GpuTensor<'_>,
) -> Result<()> {
    let small: usize = kept_shape(y.shape, mask).iter().product();
    if x.dtype != y.dtype || mask.len() != y.shape.len() || x.size() != small {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!("{:?} does not broadcast to {:?}", x.shape, y.shape),
        });
    }
    let bytes = [y.bytes(op)?, x.bytes(op)?];
    kernels::broadcast_any(ctx.device, x.dtype.size(), bytes, y.shape, mask)
        .map_err(|e| gpu_error(op, e))
}

/// The gradient of max/min: `dx[i] = x[i] == y[o] ? g[o] : 0`.
pub(super) fn extreme_grad(
    ctx: &GpuOpContext<'_>,
    op: &str,
    x: &GpuTensor<'_>,
    mask: &[bool],
    y: &GpuTensor<'_>,
    g: &GpuTensor<'_>,
    dx: &GpuTensor<'_>,
) -> Result<()> {
    let slices = [dx.f32(op)?, x.f32(op)?, y.f32(op)?, g.f32(op)?];
    let n = x.size();
    let small: usize = kept_shape(x.shape, mask).iter().product();
    if mask.len() != x.shape.len() || dx.size() != n || y.size() != small || g.size() != small {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "data {:?}, output {:?}, gradient {:?} and result {:?} do not match",
                x.shape, y.shape, g.shape, dx.shape
            ),
        });
    }
    kernels::extreme_grad(ctx.device, slices, x.shape, mask).map_err(|e| gpu_error(op, e))
}

/// `argmax`/`argmin` along the middle axis of `x` seen as `(outer, n, inner)`.
pub(super) fn arg_extreme(
    ctx: &GpuOpContext<'_>,
    op: &str,
    x: &GpuTensor<'_>,
    (outer, n, inner): (usize, usize, usize),
    largest: bool,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let (xp, yp) = (x.f32(op)?, y.f32(op)?);
    let nout = outer * inner;
    if x.size() != nout * n || y.size() != nout {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "output {:?} does not match the input {:?}",
                y.shape, x.shape
            ),
        });
    }
    kernels::arg_extreme(ctx.device, [yp, xp], (outer, n, inner), largest)
        .map_err(|e| gpu_error(op, e))
}
