//! `one_hot`'s GPU kernel (`kernels/cuda/one_hot.cu`): float32 output, indices of any dtype
//! but float16.
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use super::OneHotParam;
use crate::ops::embedding::gpu::index_kernel;
use crate::registry::{GpuOpContext, GpuTensor};
use crate::{Error, Result};

/// `out[i, c] = on` where `trunc(indices[i]) == c`, else `off`.
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    p: &OneHotParam,
    indices: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
) -> Result<()> {
    let op = "one_hot";
    let yp = out.f32_ptr(op)?;
    let kernel = index_kernel(op, "one_hot", indices.dtype)?;
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
    // SAFETY: (float* y, const IT* idx, long long nidx, long long depth, float on,
    // float off), IT the indices' type (the kernel picked by their dtype): idx holds nidx
    // elements, y nidx * depth (checked above).
    unsafe {
        ctx.launch(
            op,
            "one_hot",
            &kernel,
            nidx * depth,
            (
                yp,
                indices.ptr,
                nidx as i64,
                depth as i64,
                p.on_value as f32,
                p.off_value as f32,
            ),
        )
    }
}
