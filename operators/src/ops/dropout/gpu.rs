//! `Dropout`'s GPU kernels (`kernels/cuda/dropout.cu`). The mask is drawn on the host from the
//! operator's random state in exactly the CPU kernel's order ([`Dropout::draw_mask`]), then
//! uploaded, so GPU and CPU agree bit for bit for the same seed.
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use super::{Dropout, DropoutMode};
use crate::registry::{GpuOpContext, GpuTensor};
use crate::{Error, Result};

/// `y = a * b` elementwise over `n` elements.
///
/// # Safety
/// `y`, `a` and `b` hold at least `n` float32 elements of live device memory.
unsafe fn mul(
    ctx: &GpuOpContext<'_>,
    op: &str,
    y: mxr_engine::gpu::DevicePtr,
    a: mxr_engine::gpu::DevicePtr,
    b: mxr_engine::gpu::DevicePtr,
    n: usize,
) -> Result<()> {
    // SAFETY: (float* y, const float* a, const float* b, long long n); the caller's contract.
    unsafe { ctx.launch(op, "dropout", "dropout_mul_f32", n, (y, a, b, n as i64)) }
}

/// Dropout forward: outputs `[output, mask]`.
pub(super) fn forward(
    ctx: &mut GpuOpContext<'_>,
    d: &Dropout,
    x: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
    mask: &GpuTensor<'_>,
) -> Result<()> {
    let op = "Dropout";
    let (xp, yp, mp) = (x.f32_ptr(op)?, out.f32_ptr(op)?, mask.f32_ptr(op)?);
    let n = x.size();
    if out.size() != n || mask.size() != n {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "data {:?}, output {:?} and mask {:?} differ",
                x.shape, out.shape, mask.shape
            ),
        });
    }
    let active = d.0.p > 0.0 && (ctx.is_train || d.0.mode == DropoutMode::Always);
    if !active {
        if n > 0 && ctx.output_needed(0) {
            // SAFETY: x and out hold n float32 elements each (checked above) and do not alias.
            unsafe { ctx.copy(op, yp, xp, n * 4)? };
        }
        if ctx.output_needed(1) {
            // SAFETY: (float* y, float v, long long n); the mask holds n elements.
            unsafe { ctx.launch(op, "dropout", "dropout_fill_f32", n, (mp, 1.0f32, n as i64))? };
        }
        return Ok(());
    }
    // Drawn even when no output is needed, so the random state advances as on the CPU.
    let mut host = vec![0.0f32; n];
    d.draw_mask(ctx.rng(op)?, x.shape, &mut host)?;
    if n == 0 {
        return Ok(());
    }
    let bytes: Vec<u8> = host.iter().flat_map(|v| v.to_ne_bytes()).collect();
    let drawn = ctx.upload(op, &bytes)?;
    if ctx.output_needed(1) {
        // SAFETY: `drawn` and the mask hold n float32 elements each; distinct allocations.
        unsafe { ctx.copy(op, mp, drawn.ptr(), n * 4)? };
    }
    // SAFETY: out, x and `drawn` hold n float32 elements each (checked above); `drawn` is
    // pool memory reused only by work queued later on this stream.
    unsafe { mul(ctx, op, yp, xp, drawn.ptr(), n) }
}

/// `dx = g * mask`.
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    g: &GpuTensor<'_>,
    mask: &GpuTensor<'_>,
    dx: &GpuTensor<'_>,
) -> Result<()> {
    let op = "_backward_Dropout";
    let (gp, mp, dxp) = (g.f32_ptr(op)?, mask.f32_ptr(op)?, dx.f32_ptr(op)?);
    let n = dx.size();
    if g.size() != n || mask.size() != n {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "gradient {:?}, mask {:?} and output {:?} differ",
                g.shape, mask.shape, dx.shape
            ),
        });
    }
    // SAFETY: dx, g and mask hold n float32 elements each (checked above).
    unsafe { mul(ctx, op, dxp, gp, mp, n) }
}
