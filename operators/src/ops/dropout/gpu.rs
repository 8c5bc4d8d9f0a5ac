//! `Dropout`'s GPU kernels (`kernels/cuda/dropout.cu`). The mask is drawn on the host from the
//! operator's random state in exactly the CPU kernel's order ([`Dropout::draw_mask`]), then
//! uploaded, so GPU and CPU agree bit for bit for the same seed.

use mxr_kernels::cuda::{DeviceSlice, GpuError, dropout as kernels};

use super::{Dropout, DropoutMode};
use crate::registry::{GpuOpContext, GpuTensor, gpu_error};
use crate::{Error, Result};

/// Dropout forward: outputs `[output, mask]`.
pub(super) fn forward(
    ctx: &mut GpuOpContext<'_>,
    d: &Dropout,
    x: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
    mask: &GpuTensor<'_>,
) -> Result<()> {
    let op = "Dropout";
    let (xp, yp, mp) = (x.f32(op)?, out.f32(op)?, mask.f32(op)?);
    let fail = |e: GpuError| gpu_error(op, e);
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
        if ctx.output_needed(0) {
            ctx.copy(op, yp, xp)?;
        }
        if ctx.output_needed(1) {
            kernels::fill(ctx.device, mp, 1.0).map_err(fail)?;
        }
        return Ok(());
    }
    // Drawn even when no output is needed, so the random state advances as on the CPU.
    let mut host = vec![0.0f32; n];
    d.draw_mask(ctx.rng(op)?, x.shape, &mut host)?;
    if n == 0 {
        return Ok(());
    }
    // Pool memory, reused only by work queued later on this stream.
    let drawn = ctx.upload(op, &host)?;
    let drawn = DeviceSlice::of_buffer(&drawn);
    if ctx.output_needed(1) {
        ctx.copy(op, mp, drawn)?;
    }
    kernels::mul(ctx.device, [yp, xp, drawn], n).map_err(fail)
}

/// `dx = g * mask`.
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    g: &GpuTensor<'_>,
    mask: &GpuTensor<'_>,
    dx: &GpuTensor<'_>,
) -> Result<()> {
    let op = "_backward_Dropout";
    let (gp, mp, dxp) = (g.f32(op)?, mask.f32(op)?, dx.f32(op)?);
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
    kernels::mul(ctx.device, [dxp, gp, mp], n).map_err(|e| gpu_error(op, e))
}
