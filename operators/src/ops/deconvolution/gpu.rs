//! `Deconvolution`'s GPU path through `Convolution`'s (`kernels/cuda/convolution.cu`): the
//! forward pass is the convolution's data gradient (GEMM with the weights transposed, then the
//! gathering col2im), the data gradient the convolution's forward pass, the weight gradient the
//! convolution's with data and head gradient exchanged. `geom` is the geometry of the
//! convolution transposed ([`super::DeconvSpec::geom`]).

use mxr_kernels::cpu::conv::ConvGeom;
use mxr_kernels::cuda::convolution as kernels;
use mxr_kernels::cuda::{DeviceSlice, GpuError};

use crate::Result;
use crate::ops::common::{Matrices, batched_gemm};
use crate::ops::convolution::gpu::{self as conv, plan, sample};
use crate::registry::{GpuOpContext, GpuTensor, check_sizes, gpu_error};

/// `y = deconv(x, w) + b`.
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    geom: &ConvGeom,
    x: &GpuTensor<'_>,
    w: &GpuTensor<'_>,
    b: Option<&GpuTensor<'_>>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let op = "Deconvolution";
    let p = plan(ctx, op, geom)?;
    // The convolution's channels `c` are the output's, its filters `f` the input's.
    let (c, f, groups, batch) = (geom.channels, geom.filters, geom.groups, geom.batch);
    p.check(op, geom, &[y], &[w], &[x])?;
    if let Some(b) = b {
        check_sizes(op, c, &[b])?;
    }
    let (xp, wp, yp) = (x.f32(op)?, w.f32(op)?, y.f32(op)?);
    let ny = batch * c * p.in_sp;
    if ny == 0 {
        return Ok(());
    }
    let k = p.cg * p.taps;
    let col = ctx.temp(op, (c * p.taps * p.out_sp).max(1) * 4)?;
    let col = DeviceSlice::of_buffer(&col);
    let (w, cols) = (Matrices::new(wp, p.fg, k), Matrices::new(col, k, p.out_sp));
    let fail = |e: GpuError| gpu_error(op, e);
    for n in 0..batch {
        let xn = sample(op, xp, n, f * p.out_sp)?;
        let yn = sample(op, yp, n, c * p.in_sp)?;
        // Per group: col[k x out_sp] = w[fg x k]^T * x[fg x out_sp], then folded onto y.
        let xn = Matrices::new(xn, p.fg, p.out_sp);
        batched_gemm(ctx.device, groups, (true, &w), (false, &xn), 0.0, &cols).map_err(fail)?;
        kernels::col2im(ctx.device, &p.g, yn, col).map_err(fail)?;
    }
    if let Some(b) = b {
        kernels::add_bias(ctx.device, yp, b.f32(op)?, ny, c, p.in_sp).map_err(fail)?;
    }
    Ok(())
}

/// `[dx, dw, db]` from `gy`, `x`, `w`; `dx` skipped when not needed, `db` when absent.
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    geom: &ConvGeom,
    [gy, x, w]: [&GpuTensor<'_>; 3],
    dx: Option<&GpuTensor<'_>>,
    dw: &GpuTensor<'_>,
    db: Option<&GpuTensor<'_>>,
) -> Result<()> {
    let op = "_backward_Deconvolution";
    // The convolution's weight gradient, its data `gy` and head gradient `x`.
    conv::backward(ctx, op, geom, [x, gy, w], None, dw, None)?;
    if let Some(dx) = dx {
        conv::forward(ctx, op, geom, gy, w, None, dx)?;
    }
    if let Some(db) = db {
        let p = plan(ctx, op, geom)?;
        let (c, batch) = (geom.channels, geom.batch);
        check_sizes(op, batch * c * p.in_sp, &[gy])?;
        check_sizes(op, c, &[db])?;
        kernels::bias_grad(ctx.device, db.f32(op)?, gy.f32(op)?, batch, c, p.in_sp)
            .map_err(|e| gpu_error(op, e))?;
    }
    Ok(())
}
