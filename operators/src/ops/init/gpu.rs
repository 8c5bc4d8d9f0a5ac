//! GPU kernels of the creation and copy operators (`kernels/cuda/init.cu`, launched through
//! [`mxr_kernels::cuda::init`]).

use mxr_kernels::cuda::init as kernels;

use crate::Result;
use crate::registry::check_sizes;
use crate::registry::{GpuOpContext, GpuTensor, gpu_error};

/// Fills `out` with `value`: zeros for any dtype (a memset), other values for float32.
pub(super) fn fill(
    ctx: &GpuOpContext<'_>,
    name: &str,
    value: f64,
    out: &GpuTensor<'_>,
) -> Result<()> {
    if value == 0.0 {
        return ctx.zero(name, out.bytes(name)?);
    }
    kernels::fill(ctx.device, out.f32(name)?, value as f32).map_err(|e| gpu_error(name, e))
}

/// Copies `x` into `out` (any dtype; nothing to do when they are the same memory).
pub(super) fn copy(ctx: &GpuOpContext<'_>, x: &GpuTensor<'_>, out: &GpuTensor<'_>) -> Result<()> {
    let name = "_copy";
    check_sizes(name, out.size(), &[x])?;
    if x.dtype != out.dtype {
        return Err(crate::Error::BadInput {
            op: name.into(),
            reason: format!("dtype {} copied into {}", x.dtype, out.dtype),
        });
    }
    ctx.copy(name, out.bytes(name)?, x.bytes(name)?)
}

/// Writes host-drawn float32 `values` into `out` (the samplers: the values come from the host
/// generator in the CPU kernel's order).
pub(super) fn write_values(
    ctx: &GpuOpContext<'_>,
    name: &str,
    values: &[f32],
    out: &GpuTensor<'_>,
) -> Result<()> {
    let o = out.f32(name)?;
    check_sizes(name, values.len(), &[out])?;
    if values.is_empty() {
        return Ok(());
    }
    // The staging block may be dropped once the copy is queued.
    let staged = ctx.upload(name, values)?;
    ctx.copy(name, o, mxr_kernels::cuda::DeviceSlice::of_buffer(&staged))
}
