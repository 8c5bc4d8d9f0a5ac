//! `BatchNorm`'s GPU kernels (`kernels/cuda/batch_norm.cu`).
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use mxr_kernels::cpu::softmax::Axis;

use crate::registry::{GpuOpContext, GpuTensor, check_sizes};
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
    let (xp, yp, gp, bp) = (
        x.f32_ptr(op)?,
        y.f32_ptr(op)?,
        gamma.f32_ptr(op)?,
        beta.f32_ptr(op)?,
    );
    let (mp, ip) = (mean.f32_ptr(op)?, invstd.f32_ptr(op)?);
    let len = ax.len as i64;
    if training {
        let [mm, mv, ..] = rest else {
            return Err(Error::BadInput {
                op: op.into(),
                reason: "the moving statistics are missing from the outputs".into(),
            });
        };
        check_sizes(op, ax.len, &[mm, mv])?;
        let (mmp, mvp) = (mm.f32_ptr(op)?, mv.f32_ptr(op)?);
        // SAFETY: (float* mean, float* invstd, float* mmean, float* mvar, const float* x,
        // long long outer, long long len, long long inner, double eps, double momentum); the
        // four per-channel tensors hold len elements and x outer*len*inner (checked above).
        unsafe {
            ctx.launch(
                op,
                "batch_norm",
                "batch_norm_stats_f32",
                ax.len,
                (
                    mp,
                    ip,
                    mmp,
                    mvp,
                    xp,
                    ax.outer as i64,
                    len,
                    ax.inner as i64,
                    eps,
                    momentum,
                ),
            )?;
        }
    } else {
        let (mmp, mvp) = (mm_in.f32_ptr(op)?, mv_in.f32_ptr(op)?);
        // SAFETY: (float* mean, float* invstd, const float* mmean, const float* mvar,
        // long long len, double eps); all four hold len elements (checked above).
        unsafe {
            ctx.launch(
                op,
                "batch_norm",
                "batch_norm_global_f32",
                ax.len,
                (mp, ip, mmp, mvp, len, eps),
            )?;
        }
    }
    if n == 0 {
        return Ok(());
    }
    // SAFETY: (float* y, const float* x, const float* mean, const float* invstd,
    // const float* gamma, const float* beta, long long n, long long len, long long inner,
    // int has_gamma); x and y hold n elements, the per-channel ones len, and the channel
    // index (i / inner) % len is below len.
    unsafe {
        ctx.launch(
            op,
            "batch_norm",
            "batch_norm_normalize_f32",
            n,
            (
                yp,
                xp,
                mp,
                ip,
                gp,
                bp,
                n as i64,
                len,
                ax.inner as i64,
                i32::from(!fix_gamma),
            ),
        )
    }
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
    let (gp, xp, mp, ip) = (
        g.f32_ptr(op)?,
        x.f32_ptr(op)?,
        mean.f32_ptr(op)?,
        invstd.f32_ptr(op)?,
    );
    let (dxp, dgp, dbp) = (dx.f32_ptr(op)?, dgamma.f32_ptr(op)?, dbeta.f32_ptr(op)?);
    let gammap = gamma.ptr();
    let coef = ctx.temp(op, ax.len.max(1) * 3 * 4)?;
    let len = ax.len as i64;
    // SAFETY: (float* dgamma, float* dbeta, float* coef, const float* g, const float* x,
    // const float* mean, const float* invstd, const float* gamma, long long outer,
    // long long len, long long inner, int has_gamma, int batch_stats); g and x hold
    // outer*len*inner elements, the per-channel tensors len (gamma only read when has_gamma,
    // checked then), coef 3*len floats.
    unsafe {
        ctx.launch(
            op,
            "batch_norm",
            "batch_norm_backward_stats_f32",
            ax.len,
            (
                dgp,
                dbp,
                coef.ptr(),
                gp,
                xp,
                mp,
                ip,
                gammap,
                ax.outer as i64,
                len,
                ax.inner as i64,
                i32::from(has_gamma),
                i32::from(batch_stats),
            ),
        )?;
    }
    if n == 0 || !ctx.output_needed(0) {
        return Ok(());
    }
    // SAFETY: (float* dx, const float* g, const float* x, const float* mean, const float* coef,
    // long long n, long long len, long long inner); dx, g, x hold n elements, mean len, coef
    // 3*len, and the channel index is below len.
    unsafe {
        ctx.launch(
            op,
            "batch_norm",
            "batch_norm_backward_data_f32",
            n,
            (dxp, gp, xp, mp, coef.ptr(), n as i64, len, ax.inner as i64),
        )
    }
}
