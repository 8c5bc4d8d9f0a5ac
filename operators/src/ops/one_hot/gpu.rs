//! `one_hot`'s GPU kernel (`kernels/cuda/one_hot.cu`): float32 output, indices of any dtype
//! but float16.

use super::OneHotParam;
use crate::registry::{GpuOpContext, GpuTensor, gpu_error};
use crate::{Error, Result};

/// `out[i, c] = on` where `trunc(indices[i]) == c`, else `off`.
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    p: &OneHotParam,
    indices: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
) -> Result<()> {
    let op = "one_hot";
    let (yp, idx) = (out.f32(op)?, indices.any(op)?);
    let (nidx, depth) = (indices.size(), p.depth);
    if out.size() != nidx * depth {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "output {:?} does not fit {nidx} indices of depth {depth}",
                out.shape
            ),
        });
    }
    let values = (p.on_value as f32, p.off_value as f32);
    mxr_kernels::cuda::one_hot::forward(ctx.device, yp, idx, depth, values)
        .map_err(|e| gpu_error(op, e))
}
