//! `Convolution`'s GPU kernels (`kernels/cuda/convolution.cu`): im2col + GEMM forward, GEMMs
//! and a gathering col2im backward.

use mxr_kernels::cpu::conv::ConvGeom;
use mxr_kernels::cuda::convolution::{self as kernels, ConvTable};
use mxr_kernels::cuda::{DeviceSlice, GpuError};

use crate::ops::common::{Matrices, batched_gemm};
use crate::registry::{GpuOpContext, GpuTensor, check_sizes, gpu_error};
use crate::{Error, Result};

/// The sizes of one convolution: its device table, per-group channels and filters.
pub(crate) struct Plan {
    /// The kernels' table.
    pub g: ConvTable,
    /// Input channels per group.
    pub cg: usize,
    /// Filters per group.
    pub fg: usize,
    /// Kernel taps.
    pub taps: usize,
    /// Input positions per channel.
    pub in_sp: usize,
    /// Output positions per filter.
    pub out_sp: usize,
}

impl Plan {
    /// Checks the sizes of a convolution's operands: each of `data` on its input side
    /// (`N·C·in_sp`), `weights` (`F·C/G·taps`) and `outputs` on its output side (`N·F·out_sp`).
    pub(crate) fn check(
        &self,
        op: &str,
        geom: &ConvGeom,
        data: &[&GpuTensor<'_>],
        weights: &[&GpuTensor<'_>],
        outputs: &[&GpuTensor<'_>],
    ) -> Result<()> {
        let (c, f, batch) = (geom.channels, geom.filters, geom.batch);
        check_sizes(op, batch * c * self.in_sp, data)?;
        check_sizes(op, f * self.cg * self.taps, weights)?;
        check_sizes(op, batch * f * self.out_sp, outputs)
    }
}

fn bad(op: &str, reason: String) -> Error {
    Error::BadInput {
        op: op.into(),
        reason,
    }
}

/// Checks the geometry (as the CPU kernels do) and uploads the kernels' table.
pub(crate) fn plan(ctx: &GpuOpContext<'_>, op: &str, geom: &ConvGeom) -> Result<Plan> {
    geom.output().map_err(|e| bad(op, e.to_string()))?;
    let groups = geom.groups;
    if geom.channels == 0
        || geom.filters == 0
        || groups == 0
        || !geom.channels.is_multiple_of(groups)
        || !geom.filters.is_multiple_of(groups)
    {
        return Err(bad(
            op,
            format!(
                "{} input channels and {} filters must be positive and divisible by num_group = {groups}",
                geom.channels, geom.filters
            ),
        ));
    }
    let g = ConvTable::new(ctx.device, geom).map_err(|e| gpu_error(op, e))?;
    Ok(Plan {
        cg: geom.channels / groups,
        fg: geom.filters / groups,
        taps: g.taps(),
        in_sp: g.in_sp(),
        out_sp: g.out_sp(),
        g,
    })
}

/// Sample `n` of `len` elements each.
pub(crate) fn sample<'a>(
    op: &str,
    t: DeviceSlice<'a, f32>,
    n: usize,
    len: usize,
) -> Result<DeviceSlice<'a, f32>> {
    t.range(n * len, len).map_err(|e| gpu_error(op, e))
}

/// `y = conv(x, w) + b`; errors name `op`.
pub(crate) fn forward(
    ctx: &GpuOpContext<'_>,
    op: &str,
    geom: &ConvGeom,
    x: &GpuTensor<'_>,
    w: &GpuTensor<'_>,
    b: Option<&GpuTensor<'_>>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let p = plan(ctx, op, geom)?;
    let (c, f, groups, batch) = (geom.channels, geom.filters, geom.groups, geom.batch);
    p.check(op, geom, &[x], &[w], &[y])?;
    if let Some(b) = b {
        check_sizes(op, f, &[b])?;
    }
    let (xp, wp, yp) = (x.f32(op)?, w.f32(op)?, y.f32(op)?);
    let ny = batch * f * p.out_sp;
    if ny == 0 {
        return Ok(());
    }
    let k = p.cg * p.taps;
    let col = ctx.temp(op, (c * p.taps * p.out_sp).max(1) * 4)?;
    let col = DeviceSlice::of_buffer(&col);
    let (w, cols) = (Matrices::new(wp, p.fg, k), Matrices::new(col, k, p.out_sp));
    let fail = |e: GpuError| gpu_error(op, e);
    for n in 0..batch {
        let xn = sample(op, xp, n, c * p.in_sp)?;
        let yn = sample(op, yp, n, f * p.out_sp)?;
        kernels::im2col(ctx.device, &p.g, col, xn).map_err(fail)?;
        // Per group: y[fg x out_sp] = w[fg x k] * col[k x out_sp], batched over the groups.
        let yn = Matrices::new(yn, p.fg, p.out_sp);
        batched_gemm(ctx.device, groups, (false, &w), (false, &cols), 0.0, &yn).map_err(fail)?;
    }
    if let Some(b) = b {
        kernels::add_bias(ctx.device, yp, b.f32(op)?, ny, f, p.out_sp).map_err(fail)?;
    }
    Ok(())
}

/// `[dx, dw, db]` from `gy`, `x`, `w`; `dx` skipped when not needed, `db` when absent; errors
/// name `op`.
pub(crate) fn backward(
    ctx: &GpuOpContext<'_>,
    op: &str,
    geom: &ConvGeom,
    [gy, x, w]: [&GpuTensor<'_>; 3],
    dx: Option<&GpuTensor<'_>>,
    dw: &GpuTensor<'_>,
    db: Option<&GpuTensor<'_>>,
) -> Result<()> {
    let p = plan(ctx, op, geom)?;
    let (c, f, groups, batch) = (geom.channels, geom.filters, geom.groups, geom.batch);
    let data: Vec<&GpuTensor<'_>> = std::iter::once(x).chain(dx).collect();
    p.check(op, geom, &data, &[w, dw], &[gy])?;
    if let Some(db) = db {
        check_sizes(op, f, &[db])?;
    }
    let (gp, xp, wp, dwp) = (gy.f32(op)?, x.f32(op)?, w.f32(op)?, dw.f32(op)?);
    let fail = |e: GpuError| gpu_error(op, e);
    let k = p.cg * p.taps;
    ctx.zero(op, dwp)?;
    if let Some(db) = db {
        kernels::bias_grad(ctx.device, db.f32(op)?, gp, batch, f, p.out_sp).map_err(fail)?;
    }
    let dxp = dx.map(|d| d.f32(op)).transpose()?;
    if batch * p.out_sp == 0 || c * p.in_sp == 0 {
        if let Some(d) = dxp {
            ctx.zero(op, d)?;
        }
        return Ok(());
    }
    let col_len = c * p.taps * p.out_sp;
    let (col, dcol) = (ctx.temp(op, col_len * 4)?, ctx.temp(op, col_len * 4)?);
    let (col, dcol) = (DeviceSlice::of_buffer(&col), DeviceSlice::of_buffer(&dcol));
    let (w, dw) = (Matrices::new(wp, p.fg, k), Matrices::new(dwp, p.fg, k));
    let (cols, dcols) = (
        Matrices::new(col, k, p.out_sp),
        Matrices::new(dcol, k, p.out_sp),
    );
    for n in 0..batch {
        let xn = sample(op, xp, n, c * p.in_sp)?;
        let gn = sample(op, gp, n, f * p.out_sp)?;
        kernels::im2col(ctx.device, &p.g, col, xn).map_err(fail)?;
        // Per group: dw[fg x k] += g[fg x out_sp] * col[k x out_sp]^T.
        let gn = Matrices::new(gn, p.fg, p.out_sp);
        batched_gemm(ctx.device, groups, (false, &gn), (true, &cols), 1.0, &dw).map_err(fail)?;
        let Some(dxp) = dxp else { continue };
        // Per group: dcol[k x out_sp] = w[fg x k]^T * g[fg x out_sp].
        batched_gemm(ctx.device, groups, (true, &w), (false, &gn), 0.0, &dcols).map_err(fail)?;
        let dxn = sample(op, dxp, n, c * p.in_sp)?;
        kernels::col2im(ctx.device, &p.g, dxn, dcol).map_err(fail)?;
    }
    Ok(())
}
