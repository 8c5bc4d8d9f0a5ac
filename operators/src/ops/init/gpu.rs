//! GPU kernels of the creation and copy operators (`kernels/cuda/init.cu`).
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use crate::Result;
use crate::registry::check_sizes;
use crate::registry::{GpuOpContext, GpuTensor};

/// Fills `out` with `value`: zeros for any dtype (a memset), other values for float32.
pub(super) fn fill(
    ctx: &GpuOpContext<'_>,
    name: &str,
    value: f64,
    out: &GpuTensor<'_>,
) -> Result<()> {
    let n = out.size();
    if value == 0.0 {
        let bytes = n * out.dtype.size();
        // SAFETY: `out` holds n elements of its dtype, `bytes` bytes, alive until the operation
        // completes.
        return unsafe { ctx.zero(name, out.ptr, bytes) };
    }
    let o = out.f32_ptr(name)?;
    // SAFETY: (float* out, long long n, float v); out holds n float32 elements, alive until the
    // operation completes.
    unsafe {
        ctx.launch(
            name,
            "init",
            "init_fill_f32",
            n,
            (o, n as i64, value as f32),
        )
    }
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
    if x.ptr == out.ptr {
        return Ok(());
    }
    let bytes = out.size() * out.dtype.size();
    // SAFETY: both hold `bytes` bytes (same size and dtype, checked above), alive until the
    // operation completes, and do not overlap (distinct buffers: inputs don't alias outputs
    // except through the in-place pair, handled above).
    unsafe { ctx.copy(name, out.ptr, x.ptr, bytes) }
}

/// Writes host-drawn float32 `values` into `out` (the samplers: the values come from the host
/// generator in the CPU kernel's order).
pub(super) fn write_values(
    ctx: &GpuOpContext<'_>,
    name: &str,
    values: &[f32],
    out: &GpuTensor<'_>,
) -> Result<()> {
    let o = out.f32_ptr(name)?;
    check_sizes(name, values.len(), &[out])?;
    if values.is_empty() {
        return Ok(());
    }
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    let staged = ctx.upload(name, &bytes)?;
    // SAFETY: `staged` and `out` both hold `bytes.len()` bytes (n float32 values), distinct
    // buffers alive until the copy completes (the staging block may be dropped once queued).
    unsafe { ctx.copy(name, o, staged.ptr(), bytes.len()) }
}
