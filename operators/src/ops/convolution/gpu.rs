//! `Convolution`'s GPU kernels (`kernels/cuda/convolution.cu`): im2col + GEMM forward, GEMMs
//! and a gathering col2im backward.
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use mxr_engine::gpu::GpuBuffer;
use mxr_kernels::cpu::conv::ConvGeom;
use mxr_kernels::cuda::blas;

use crate::registry::{GpuOpContext, GpuTensor, check_sizes, gpu_error};
use crate::{Error, Result};

/// The sizes of one convolution: per-group channels and filters, taps, spatial sizes.
struct Plan {
    g: GpuBuffer,
    cg: usize,
    fg: usize,
    taps: usize,
    in_sp: usize,
    out_sp: usize,
}

fn bad(op: &str, reason: String) -> Error {
    Error::BadInput {
        op: op.into(),
        reason,
    }
}

/// Checks the geometry (as the CPU kernels do) and uploads the kernels' table.
fn plan(ctx: &GpuOpContext<'_>, op: &str, geom: &ConvGeom) -> Result<Plan> {
    let out = geom.output().map_err(|e| bad(op, e.to_string()))?;
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
    let mut t = vec![geom.channels as i64];
    for a in [
        geom.input,
        geom.kernel,
        geom.stride,
        geom.pad,
        geom.dilate,
        out,
    ] {
        t.extend(a.iter().map(|&v| v as i64));
    }
    let bytes: Vec<u8> = t.iter().flat_map(|v| v.to_ne_bytes()).collect();
    Ok(Plan {
        g: ctx.upload(op, &bytes)?,
        cg: geom.channels / groups,
        fg: geom.filters / groups,
        taps: geom.kernel.iter().product(),
        in_sp: geom.input.iter().product(),
        out_sp: out.iter().product(),
    })
}

/// Fills `col` (`channels * taps * out_sp` floats) from sample `x` (`channels * in_sp`).
///
/// # Safety
/// `col` and `x` hold those sizes of live device memory.
unsafe fn im2col(
    ctx: &GpuOpContext<'_>,
    op: &str,
    p: &Plan,
    channels: usize,
    col: mxr_engine::gpu::DevicePtr,
    x: mxr_engine::gpu::DevicePtr,
) -> Result<()> {
    let n = channels * p.taps * p.out_sp;
    // SAFETY: (float* col, const float* x, const long long* g, long long n); col holds n
    // floats and x channels * in_sp (caller), every read index is inside by the table's
    // bounds checks, g holds the 19-entry table.
    unsafe {
        ctx.launch(
            op,
            "convolution",
            "convolution_im2col_f32",
            n,
            (col, x, p.g.ptr(), n as i64),
        )
    }
}

/// `y = conv(x, w) + b`.
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    geom: &ConvGeom,
    x: &GpuTensor<'_>,
    w: &GpuTensor<'_>,
    b: Option<&GpuTensor<'_>>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let op = "Convolution";
    let p = plan(ctx, op, geom)?;
    let (c, f, groups, batch) = (geom.channels, geom.filters, geom.groups, geom.batch);
    check_sizes(op, batch * c * p.in_sp, &[x])?;
    check_sizes(op, f * p.cg * p.taps, &[w])?;
    check_sizes(op, batch * f * p.out_sp, &[y])?;
    if let Some(b) = b {
        check_sizes(op, f, &[b])?;
    }
    let (xp, wp, yp) = (x.f32_ptr(op)?, w.f32_ptr(op)?, y.f32_ptr(op)?);
    let ny = batch * f * p.out_sp;
    if ny == 0 {
        return Ok(());
    }
    let k = p.cg * p.taps;
    let col = ctx.temp(op, (c * p.taps * p.out_sp).max(1) * 4)?;
    for n in 0..batch {
        let xn = xp.offset(n * c * p.in_sp * 4);
        let yn = yp.offset(n * f * p.out_sp * 4);
        // SAFETY: col holds c * taps * out_sp floats, xn one sample of c * in_sp.
        unsafe { im2col(ctx, op, &p, c, col.ptr(), xn)? };
        // Per group: y[fg x out_sp] = w[fg x k] * col[k x out_sp], batched over the groups.
        // SAFETY: w holds groups * fg * k floats, col groups * k * out_sp, the sample's y
        // groups * fg * out_sp; y does not overlap w or col.
        unsafe {
            blas::sgemm_strided_batched(
                ctx.device,
                false,
                false,
                p.fg,
                p.out_sp,
                k,
                1.0,
                wp,
                k,
                p.fg * k,
                col.ptr(),
                p.out_sp,
                k * p.out_sp,
                0.0,
                yn,
                p.out_sp,
                p.fg * p.out_sp,
                groups,
            )
        }
        .map_err(|e| gpu_error(op, e))?;
    }
    if let Some(b) = b {
        let bp = b.f32_ptr(op)?;
        // SAFETY: (float* y, const float* b, long long n, long long filters, long long out_sp);
        // y holds ny floats, b f (checked above).
        unsafe {
            ctx.launch(
                op,
                "convolution",
                "convolution_add_bias_f32",
                ny,
                (yp, bp, ny as i64, f as i64, p.out_sp as i64),
            )?;
        }
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
    let op = "_backward_Convolution";
    let p = plan(ctx, op, geom)?;
    let (c, f, groups, batch) = (geom.channels, geom.filters, geom.groups, geom.batch);
    check_sizes(op, batch * c * p.in_sp, &[x])?;
    check_sizes(op, f * p.cg * p.taps, &[w])?;
    check_sizes(op, f * p.cg * p.taps, &[dw])?;
    check_sizes(op, batch * f * p.out_sp, &[gy])?;
    if let Some(dx) = dx {
        check_sizes(op, batch * c * p.in_sp, &[dx])?;
    }
    if let Some(db) = db {
        check_sizes(op, f, &[db])?;
    }
    let (gp, xp, wp, dwp) = (
        gy.f32_ptr(op)?,
        x.f32_ptr(op)?,
        w.f32_ptr(op)?,
        dw.f32_ptr(op)?,
    );
    let k = p.cg * p.taps;
    // SAFETY: dw holds f * k floats.
    unsafe { ctx.zero(op, dwp, f * k * 4)? };
    if let Some(db) = db {
        let dbp = db.f32_ptr(op)?;
        // SAFETY: (float* db, const float* gy, long long batch, long long filters,
        // long long out_sp); db holds f floats, gy batch * f * out_sp.
        unsafe {
            ctx.launch(
                op,
                "convolution",
                "convolution_bias_grad_f32",
                f,
                (dbp, gp, batch as i64, f as i64, p.out_sp as i64),
            )?;
        }
    }
    let dxp = dx.map(|d| d.f32_ptr(op)).transpose()?;
    if batch * p.out_sp == 0 || c * p.in_sp == 0 {
        if let Some(d) = dxp {
            // SAFETY: dx holds batch * c * in_sp floats.
            unsafe { ctx.zero(op, d, batch * c * p.in_sp * 4)? };
        }
        return Ok(());
    }
    let col_len = c * p.taps * p.out_sp;
    let col = ctx.temp(op, col_len * 4)?;
    let dcol = ctx.temp(op, col_len * 4)?;
    for n in 0..batch {
        let xn = xp.offset(n * c * p.in_sp * 4);
        let gn = gp.offset(n * f * p.out_sp * 4);
        // SAFETY: col holds c * taps * out_sp floats, xn one sample.
        unsafe { im2col(ctx, op, &p, c, col.ptr(), xn)? };
        // Per group: dw[fg x k] += g[fg x out_sp] * col[k x out_sp]^T.
        // SAFETY: gn holds groups * fg * out_sp floats, col groups * k * out_sp, dw
        // groups * fg * k; dw overlaps neither.
        unsafe {
            blas::sgemm_strided_batched(
                ctx.device,
                false,
                true,
                p.fg,
                k,
                p.out_sp,
                1.0,
                gn,
                p.out_sp,
                p.fg * p.out_sp,
                col.ptr(),
                p.out_sp,
                k * p.out_sp,
                1.0,
                dwp,
                k,
                p.fg * k,
                groups,
            )
        }
        .map_err(|e| gpu_error(op, e))?;
        let Some(dxp) = dxp else { continue };
        // Per group: dcol[k x out_sp] = w[fg x k]^T * g[fg x out_sp].
        // SAFETY: w holds groups * fg * k floats, gn groups * fg * out_sp, dcol
        // groups * k * out_sp; dcol overlaps neither.
        unsafe {
            blas::sgemm_strided_batched(
                ctx.device,
                true,
                false,
                k,
                p.out_sp,
                p.fg,
                1.0,
                wp,
                k,
                p.fg * k,
                gn,
                p.out_sp,
                p.fg * p.out_sp,
                0.0,
                dcol.ptr(),
                p.out_sp,
                k * p.out_sp,
                groups,
            )
        }
        .map_err(|e| gpu_error(op, e))?;
        let nx = c * p.in_sp;
        let dxn = dxp.offset(n * nx * 4);
        // SAFETY: (float* dx, const float* col, const long long* g, long long n); dxn holds
        // one sample of nx floats, dcol c * taps * out_sp, every index checked in range.
        unsafe {
            ctx.launch(
                op,
                "convolution",
                "convolution_col2im_f32",
                nx,
                (dxn, dcol.ptr(), p.g.ptr(), nx as i64),
            )?;
        }
    }
    Ok(())
}
