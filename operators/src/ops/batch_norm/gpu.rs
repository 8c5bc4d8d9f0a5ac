//! `BatchNorm`'s GPU kernels (`kernels/cuda/batch_norm.cu`, launched through
//! [`mxr_kernels::cuda::batch_norm`]).

use mxr_kernels::cpu::softmax::Axis;
use mxr_kernels::cuda::{GpuError, batch_norm as kernels};

use crate::registry::{GpuOpContext, GpuTensor, check_sizes, gpu_error};
use crate::{Error, Result};

/// The forward pass: `inputs` `[data, gamma, beta, moving_mean, moving_var]`, `outputs`
/// `[out, mean, invstd, moving_mean, moving_var]` (the last two: the mutated inputs).
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    ax: Axis,
    (eps, momentum, fix_gamma, training): (f64, f64, bool, bool),
    inputs: &[GpuTensor<'_>],
    outputs: &[GpuTensor<'_>],
) -> Result<()> {
    let op = "BatchNorm";
    let ([x, gamma, beta, mm_in, mv_in, ..], [y, mean, invstd, rest @ ..]) = (inputs, outputs)
    else {
        return Err(Error::BadInput {
            op: op.into(),
            reason: "expected 5 inputs and 3 outputs".into(),
        });
    };
    let n = ax.outer * ax.len * ax.inner;
    check_sizes(op, n, &[x, y])?;
    check_sizes(op, ax.len, &[gamma, beta, mm_in, mv_in, mean, invstd])?;
    let (xp, yp, gp, bp) = (x.f32(op)?, y.f32(op)?, gamma.f32(op)?, beta.f32(op)?);
    let (mp, ip) = (mean.f32(op)?, invstd.f32(op)?);
    let fail = |e: GpuError| gpu_error(op, e);
    if training {
        let [mm, mv, ..] = rest else {
            return Err(Error::BadInput {
                op: op.into(),
                reason: "the moving statistics are missing from the outputs".into(),
            });
        };
        check_sizes(op, ax.len, &[mm, mv])?;
        let stats = [mp, ip, mm.f32(op)?, mv.f32(op)?];
        kernels::stats(ctx.device, ax, (eps, momentum), stats, xp).map_err(fail)?;
    } else {
        let stats = [mp, ip, mm_in.f32(op)?, mv_in.f32(op)?];
        kernels::global(ctx.device, ax, eps, stats).map_err(fail)?;
    }
    let gamma = (!fix_gamma).then_some(gp);
    kernels::normalize(ctx.device, ax, [yp, xp], [mp, ip, bp], gamma).map_err(fail)
}

/// The backward pass: `inputs` `[ograd, mean, invstd, data, gamma, ..]`, `outputs`
/// `[dx, dgamma, dbeta]`.
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    ax: Axis,
    (fix_gamma, batch_stats): (bool, bool),
    inputs: &[GpuTensor<'_>],
    outputs: &[GpuTensor<'_>],
) -> Result<()> {
    let op = "_backward_BatchNorm";
    let ([g, mean, invstd, x, gamma, ..], [dx, dgamma, dbeta, ..]) = (inputs, outputs) else {
        return Err(Error::BadInput {
            op: op.into(),
            reason: "expected 5 inputs and 3 outputs".into(),
        });
    };
    let n = ax.outer * ax.len * ax.inner;
    check_sizes(op, n, &[g, x, dx])?;
    check_sizes(op, ax.len, &[mean, invstd, dgamma, dbeta])?;
    let has_gamma = !fix_gamma;
    if has_gamma {
        check_sizes(op, ax.len, &[gamma])?;
    }
    let (gp, xp, mp, ip) = (g.f32(op)?, x.f32(op)?, mean.f32(op)?, invstd.f32(op)?);
    let (dgp, dbp) = (dgamma.f32(op)?, dbeta.f32(op)?);
    let dxp = if ctx.output_needed(0) {
        Some(dx.f32(op)?)
    } else {
        None
    };
    let gamma = if has_gamma {
        Some(gamma.f32(op)?)
    } else {
        None
    };
    kernels::backward(
        ctx.device,
        ax,
        batch_stats,
        [dgp, dbp],
        dxp,
        [gp, xp],
        [mp, ip],
        gamma,
    )
    .map_err(|e| gpu_error(op, e))
}
