//! `transpose`'s GPU kernel (`kernels/cuda/transpose.cu`, launched through
//! [`mxr_kernels::cuda::transpose`]).

use crate::registry::{GpuOpContext, GpuTensor, gpu_error};
use crate::{Error, Result};

/// `y = x` with its axes permuted by `axes` (`y`'s axis `k` is `x`'s axis `axes[k]`); any
/// dtype (the kernel moves elements of the dtype's width).
pub(super) fn transpose(
    ctx: &GpuOpContext<'_>,
    axes: &[usize],
    x: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let op = "transpose";
    let rank = x.shape.len();
    let valid = x.dtype == y.dtype
        && axes.len() == rank
        && y.shape.len() == rank
        && axes
            .iter()
            .enumerate()
            .all(|(k, &a)| x.shape.get(a) == Some(&y.shape[k]));
    if !valid {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "axes {axes:?} do not permute {:?} into {:?}",
                x.shape, y.shape
            ),
        });
    }
    let bytes = [y.bytes(op)?, x.bytes(op)?];
    mxr_kernels::cuda::transpose::transpose(ctx.device, x.dtype.size(), bytes, x.shape, axes)
        .map_err(|e| gpu_error(op, e))
}
