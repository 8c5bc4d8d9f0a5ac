//! The GPU kernels of `Concat`, `SliceChannel`, `slice_axis` and their backwards
//! (`kernels/cuda/concat.cu`): strided row copies.
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use crate::Result;
use crate::registry::{GpuOpContext, GpuTensor};

/// One block move: `outer` rows of `row` elements, from `src` (row `o` at
/// `o * src_stride + src_off`) to `dst` (row `o` at `o * dst_stride + dst_off`).
struct Rows {
    outer: usize,
    row: usize,
    src_stride: usize,
    src_off: usize,
    dst_stride: usize,
    dst_off: usize,
}

/// Copies `r` from `src` to `dst` after checking that every touched element lies inside both.
fn copy_rows(
    ctx: &GpuOpContext<'_>,
    op: &str,
    dst: &GpuTensor<'_>,
    src: &GpuTensor<'_>,
    r: &Rows,
) -> Result<()> {
    let n = r.outer * r.row;
    if n == 0 {
        return Ok(());
    }
    let last = |stride: usize, off: usize| (r.outer - 1) * stride + off + r.row;
    if last(r.src_stride, r.src_off) > src.size() || last(r.dst_stride, r.dst_off) > dst.size() {
        return Err(crate::Error::BadInput {
            op: op.into(),
            reason: format!("{:?} and {:?} do not fit the copy", src.shape, dst.shape),
        });
    }
    let (d, s) = (dst.f32_ptr(op)?, src.f32_ptr(op)?);
    // SAFETY: (float* dst, const float* src, long long outer, long long row, long long
    // src_stride, long long src_off, long long dst_stride, long long dst_off); the largest
    // index touched in each tensor is checked above to be inside it; both are live float32
    // device tensors for the operation, and inputs don't alias outputs.
    unsafe {
        ctx.launch(
            op,
            "concat",
            "concat_copy_rows_f32",
            n,
            (
                d,
                s,
                r.outer as i64,
                r.row as i64,
                r.src_stride as i64,
                r.src_off as i64,
                r.dst_stride as i64,
                r.dst_off as i64,
            ),
        )
    }
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
        let r = Rows {
            outer,
            row,
            src_stride: row,
            src_off: 0,
            dst_stride: total,
            dst_off: at,
        };
        copy_rows(ctx, op, out, p, &r)?;
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
        let r = Rows {
            outer,
            row,
            src_stride: total,
            src_off: at,
            dst_stride: row,
            dst_off: 0,
        };
        copy_rows(ctx, op, p, input, &r)?;
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
    let w = e.saturating_sub(b);
    let r = Rows {
        outer,
        row: w,
        src_stride: row,
        src_off: b,
        dst_stride: w,
        dst_off: 0,
    };
    copy_rows(ctx, op, out, x, &r)
}

/// `_backward_slice_axis`: zeros, then `g`'s rows into elements `b..e` of every row of `out`.
pub(super) fn unslice(
    ctx: &GpuOpContext<'_>,
    op: &str,
    g: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
    (outer, row, b, e): (usize, usize, usize, usize),
) -> Result<()> {
    let ptr = out.f32_ptr(op)?;
    // SAFETY: `out` is a live float32 device tensor of `out.size()` elements.
    unsafe { ctx.zero_raw(op, ptr, out.size() * 4)? };
    let w = e.saturating_sub(b);
    let r = Rows {
        outer,
        row: w,
        src_stride: w,
        src_off: 0,
        dst_stride: row,
        dst_off: b,
    };
    copy_rows(ctx, op, out, g, &r)
}
