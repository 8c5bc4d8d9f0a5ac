//! The GPU kernels of `Concat`, `SliceChannel`, `slice_axis` and their backwards
//! (`kernels/cuda/concat.cu`): strided row copies.

use mxr_kernels::cuda::concat::{Rows, copy_rows as launch_rows};

use crate::Result;
use crate::registry::{GpuOpContext, GpuTensor, gpu_error};

/// `outer` rows of `width` elements taken from elements `at..at + width` of rows `stride`
/// long, into packed rows.
fn take(outer: usize, stride: usize, at: usize, width: usize) -> Rows {
    Rows {
        outer,
        row: width,
        src_stride: stride,
        src_off: at,
        dst_stride: width,
        dst_off: 0,
    }
}

/// The inverse of [`take`]: `outer` packed rows of `width` elements into elements
/// `at..at + width` of rows `stride` long.
fn put(outer: usize, stride: usize, at: usize, width: usize) -> Rows {
    Rows {
        outer,
        row: width,
        src_stride: width,
        src_off: 0,
        dst_stride: stride,
        dst_off: at,
    }
}

/// Copies `r` from `src` to `dst` after checking that every touched element lies inside both.
fn copy_rows(
    ctx: &GpuOpContext<'_>,
    op: &str,
    dst: &GpuTensor<'_>,
    src: &GpuTensor<'_>,
    r: &Rows,
) -> Result<()> {
    let (d, s) = (dst.f32(op)?, src.f32(op)?);
    launch_rows(ctx.device, d, s, r).map_err(|e| gpu_error(op, e))
}

/// Joins `parts` (each with `part_rows[k]` elements per row) row by row into `out`
/// (`outer` rows).
pub(super) fn join(
    ctx: &GpuOpContext<'_>,
    op: &str,
    parts: &[GpuTensor<'_>],
    part_rows: &[usize],
    out: &GpuTensor<'_>,
    outer: usize,
) -> Result<()> {
    let total: usize = part_rows.iter().sum();
    let mut at = 0;
    for (p, &row) in parts.iter().zip(part_rows) {
        copy_rows(ctx, op, out, p, &put(outer, total, at, row))?;
        at += row;
    }
    Ok(())
}

/// The inverse of [`join`]: cuts every row of `input` into consecutive pieces.
pub(super) fn split(
    ctx: &GpuOpContext<'_>,
    op: &str,
    input: &GpuTensor<'_>,
    parts: &[GpuTensor<'_>],
    part_rows: &[usize],
    outer: usize,
) -> Result<()> {
    let total: usize = part_rows.iter().sum();
    let mut at = 0;
    for (p, &row) in parts.iter().zip(part_rows) {
        copy_rows(ctx, op, p, input, &take(outer, total, at, row))?;
        at += row;
    }
    Ok(())
}

/// `slice_axis`: elements `b..e` of every row (`row` elements) of `x` into `out`.
pub(super) fn slice(
    ctx: &GpuOpContext<'_>,
    op: &str,
    x: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
    (outer, row, b, e): (usize, usize, usize, usize),
) -> Result<()> {
    copy_rows(ctx, op, out, x, &take(outer, row, b, e.saturating_sub(b)))
}

/// `_backward_slice_axis`: zeros, then `g`'s rows into elements `b..e` of every row of `out`.
pub(super) fn unslice(
    ctx: &GpuOpContext<'_>,
    op: &str,
    g: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
    (outer, row, b, e): (usize, usize, usize, usize),
) -> Result<()> {
    ctx.zero(op, out.f32(op)?)?;
    copy_rows(ctx, op, out, g, &put(outer, row, b, e.saturating_sub(b)))
}
