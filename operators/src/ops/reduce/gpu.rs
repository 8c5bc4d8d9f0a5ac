//! The GPU kernels of the reductions, `argmax`/`argmin`, `broadcast_to` and their gradients
//! (`kernels/cuda/reduce.cu`).
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use mxr_engine::gpu::GpuBuffer;

use super::ReduceKind;
use crate::registry::{GpuOpContext, GpuTensor};
use crate::{Error, Result};

/// The merged axes of `shape` with their role `(extent, reduced)`: size-1 axes dropped and
/// adjacent axes of the same role joined (as the CPU kernels' walk).
fn segments(shape: &[usize], reduced: &[bool]) -> Vec<(usize, bool)> {
    let mut segs: Vec<(usize, bool)> = Vec::new();
    for (&d, &r) in shape.iter().zip(reduced) {
        if d == 1 {
            continue;
        }
        match segs.last_mut() {
            Some((n, last)) if *last == r => *n *= d,
            _ => segs.push((d, r)),
        }
    }
    segs
}

/// Row-major strides of `extents`.
fn strides(extents: &[usize]) -> Vec<usize> {
    let mut s = vec![0; extents.len()];
    let mut acc = 1;
    for (k, &e) in extents.iter().enumerate().rev() {
        s[k] = acc;
        acc *= e;
    }
    s
}

/// Uploads a table of long longs (at least one entry, so the buffer is never empty).
fn upload_table(ctx: &GpuOpContext<'_>, op: &str, values: &[usize]) -> Result<GpuBuffer> {
    let mut bytes = Vec::with_capacity(8 * values.len().max(1));
    for &v in values {
        bytes.extend_from_slice(&(v as i64).to_ne_bytes());
    }
    if values.is_empty() {
        bytes.extend_from_slice(&0i64.to_ne_bytes());
    }
    ctx.upload(op, &bytes)
}

/// The broadcast table of `shape` with `mask`: the merged extents, then each one's stride in
/// the reduced array (0 along reduced axes). Returns the table and its rank.
fn broadcast_table(shape: &[usize], mask: &[bool]) -> (Vec<usize>, usize) {
    let segs = segments(shape, mask);
    let mut small = vec![0; segs.len()];
    let mut acc = 1;
    for (k, &(e, r)) in segs.iter().enumerate().rev() {
        if !r {
            small[k] = acc;
            acc *= e;
        }
    }
    let mut table: Vec<usize> = segs.iter().map(|s| s.0).collect();
    table.extend(small);
    (table, segs.len())
}

/// `y = reduce(x)` over the axes of `mask`, for `kind`.
pub(super) fn reduce(
    ctx: &GpuOpContext<'_>,
    op: &str,
    kind: ReduceKind,
    x: &GpuTensor<'_>,
    mask: &[bool],
    y: &GpuTensor<'_>,
) -> Result<()> {
    let (xp, yp) = (x.f32_ptr(op)?, y.f32_ptr(op)?);
    let nout = y.size();
    if nout == 0 {
        return Ok(());
    }
    let segs = segments(x.shape, mask);
    let seg_strides = strides(&segs.iter().map(|s| s.0).collect::<Vec<_>>());
    let (mut kept, mut kept_strides, mut red, mut red_strides) = (vec![], vec![], vec![], vec![]);
    for (&(e, r), &s) in segs.iter().zip(&seg_strides) {
        if r {
            red.push(e);
            red_strides.push(s);
        } else {
            kept.push(e);
            kept_strides.push(s);
        }
    }
    let nred: usize = red.iter().product();
    if mask.len() != x.shape.len()
        || kept.iter().product::<usize>() != nout
        || x.size() != nout * nred
    {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "output {:?} does not match the reduction of {:?}",
                y.shape, x.shape
            ),
        });
    }
    let (nk, nr) = (kept.len(), red.len());
    let table: Vec<usize> = [kept, kept_strides, red, red_strides].concat();
    let table = upload_table(ctx, op, &table)?;
    let code: i32 = match kind {
        ReduceKind::Sum => 0,
        ReduceKind::Mean => 1,
        ReduceKind::Max => 2,
        ReduceKind::Min => 3,
    };
    let count = nred as f32;
    let nchunks = chunks(nout, nred);
    if nchunks <= 1 {
        // SAFETY: (float* y, const float* x, const long long* tab, int nk, int nr,
        // long long nout, long long nred, int kind, float count): y holds nout elements (the
        // kept axes), x the full array (every offset the table gives is below its size: kept
        // and reduced indices stay within their merged extents, checked above), the table
        // holds 2 * (nk + nr) entries. All alive until the work has run (`table` is pool memory
        // reused only by later work on this stream).
        return unsafe {
            ctx.launch(
                op,
                "reduce",
                "reduce_reduce_f32",
                nout,
                (
                    yp,
                    xp,
                    table.ptr(),
                    nk as i32,
                    nr as i32,
                    nout as i64,
                    nred as i64,
                    code,
                    count,
                ),
            )
        };
    }
    // Few outputs, long reductions: one item per output would leave the GPU idle, so fold
    // chunks of the reduced range into partials first, then the partials.
    let chunk = nred.div_ceil(nchunks);
    let nchunks = nred.div_ceil(chunk);
    let partial = ctx.temp(op, nout * nchunks * 4)?;
    // SAFETY: (float* partial, const float* x, const long long* tab, int nk, int nr,
    // long long nout, long long nred, long long chunk, long long nchunks, int kind): `partial`
    // holds nout * nchunks float32 elements; x and the table as for reduce_reduce_f32; every
    // chunk's range is clipped to nred.
    unsafe {
        ctx.launch(
            op,
            "reduce",
            "reduce_partial_f32",
            nout * nchunks,
            (
                partial.ptr(),
                xp,
                table.ptr(),
                nk as i32,
                nr as i32,
                nout as i64,
                nred as i64,
                chunk as i64,
                nchunks as i64,
                code,
            ),
        )?;
    }
    // SAFETY: (float* y, const float* partial, long long nout, long long nchunks, int kind,
    // float count): y holds nout elements, `partial` nout * nchunks (queued before, so read
    // after it is written: same stream).
    unsafe {
        ctx.launch(
            op,
            "reduce",
            "reduce_combine_f32",
            nout,
            (yp, partial.ptr(), nout as i64, nchunks as i64, code, count),
        )
    }
}

/// How many chunks each output's reduced range is split into (1: none): enough items to fill a
/// GPU when there are few outputs, chunks of at least [`MIN_CHUNK`] elements.
fn chunks(nout: usize, nred: usize) -> usize {
    const TARGET_ITEMS: usize = 1 << 16;
    if nout >= TARGET_ITEMS / 16 || nred < 2 * MIN_CHUNK {
        return 1;
    }
    (TARGET_ITEMS / nout).min(nred / MIN_CHUNK).max(1)
}

/// The smallest chunk of a two-pass reduction.
const MIN_CHUNK: usize = 256;

/// `dx[i] = g[o(i)]` (divided by `count` when given) over the full array `dx` of `shape`, `g`
/// having the kept axes of `mask`.
pub(super) fn broadcast(
    ctx: &GpuOpContext<'_>,
    op: &str,
    g: &GpuTensor<'_>,
    shape: &[usize],
    mask: &[bool],
    count: Option<f32>,
    dx: &GpuTensor<'_>,
) -> Result<()> {
    let (gp, dxp) = (g.f32_ptr(op)?, dx.f32_ptr(op)?);
    let n = dx.size();
    if n == 0 {
        return Ok(());
    }
    let small: usize = shape
        .iter()
        .zip(mask)
        .filter(|(_, r)| !**r)
        .map(|(d, _)| d)
        .product();
    if mask.len() != shape.len() || shape.iter().product::<usize>() != n || g.size() != small {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!("{:?} does not broadcast to {:?}", g.shape, dx.shape),
        });
    }
    let (table, rank) = broadcast_table(shape, mask);
    let table = upload_table(ctx, op, &table)?;
    // SAFETY: (float* y, const float* x, const long long* tab, int rank, long long n,
    // int divide, float count): y (dx) holds the n elements of `shape`, x (g) the kept axes,
    // which every table offset stays below; the table holds 2 * rank entries.
    unsafe {
        ctx.launch(
            op,
            "reduce",
            "reduce_broadcast_f32",
            n,
            (
                dxp,
                gp,
                table.ptr(),
                rank as i32,
                n as i64,
                i32::from(count.is_some()),
                count.unwrap_or(1.0),
            ),
        )
    }
}

/// `broadcast_to`: `y[i] = x[o(i)]` over the full array `y`, `x` having the kept axes of
/// `mask`; any dtype (the kernel moves elements of the dtype's width).
pub(super) fn broadcast_any(
    ctx: &GpuOpContext<'_>,
    op: &str,
    x: &GpuTensor<'_>,
    mask: &[bool],
    y: &GpuTensor<'_>,
) -> Result<()> {
    let kernel = match x.dtype.size() {
        1 => "reduce_broadcast_b1",
        2 => "reduce_broadcast_b2",
        4 => "reduce_broadcast_b4",
        8 => "reduce_broadcast_b8",
        w => {
            return Err(Error::Unsupported {
                op: op.into(),
                what: format!("{w}-byte elements on the GPU"),
            });
        }
    };
    let n = y.size();
    let small: usize = y
        .shape
        .iter()
        .zip(mask)
        .filter(|(_, r)| !**r)
        .map(|(d, _)| d)
        .product();
    if x.dtype != y.dtype || mask.len() != y.shape.len() || x.size() != small {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!("{:?} does not broadcast to {:?}", x.shape, y.shape),
        });
    }
    if n == 0 {
        return Ok(());
    }
    let (table, rank) = broadcast_table(y.shape, mask);
    let table = upload_table(ctx, op, &table)?;
    // SAFETY: (T* y, const T* x, const long long* tab, int rank, long long n), T of the
    // dtype's width: y holds the n elements of its shape, x the kept axes (checked above),
    // which every table offset stays below; the table holds 2 * rank entries.
    unsafe {
        ctx.launch(
            op,
            "reduce",
            kernel,
            n,
            (y.ptr(), x.ptr(), table.ptr(), rank as i32, n as i64),
        )
    }
}

/// The gradient of max/min: `dx[i] = x[i] == y[o] ? g[o] : 0`.
pub(super) fn extreme_grad(
    ctx: &GpuOpContext<'_>,
    op: &str,
    x: &GpuTensor<'_>,
    mask: &[bool],
    y: &GpuTensor<'_>,
    g: &GpuTensor<'_>,
    dx: &GpuTensor<'_>,
) -> Result<()> {
    let (xp, yp, gp, dxp) = (
        x.f32_ptr(op)?,
        y.f32_ptr(op)?,
        g.f32_ptr(op)?,
        dx.f32_ptr(op)?,
    );
    let n = x.size();
    let small: usize = x
        .shape
        .iter()
        .zip(mask)
        .filter(|(_, r)| !**r)
        .map(|(d, _)| d)
        .product();
    if mask.len() != x.shape.len() || dx.size() != n || y.size() != small || g.size() != small {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "data {:?}, output {:?}, gradient {:?} and result {:?} do not match",
                x.shape, y.shape, g.shape, dx.shape
            ),
        });
    }
    if n == 0 {
        return Ok(());
    }
    let (table, rank) = broadcast_table(x.shape, mask);
    let table = upload_table(ctx, op, &table)?;
    // SAFETY: (float* dx, const float* x, const float* y, const float* g, const long long* tab,
    // int rank, long long n): x and dx hold the n elements of the full array, y and g the kept
    // axes (checked above), which every table offset stays below.
    unsafe {
        ctx.launch(
            op,
            "reduce",
            "reduce_extreme_grad_f32",
            n,
            (dxp, xp, yp, gp, table.ptr(), rank as i32, n as i64),
        )
    }
}

/// `argmax`/`argmin` along the middle axis of `x` seen as `(outer, n, inner)`.
pub(super) fn arg_extreme(
    ctx: &GpuOpContext<'_>,
    op: &str,
    x: &GpuTensor<'_>,
    (outer, n, inner): (usize, usize, usize),
    largest: bool,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let (xp, yp) = (x.f32_ptr(op)?, y.f32_ptr(op)?);
    let nout = outer * inner;
    if x.size() != nout * n || y.size() != nout {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "output {:?} does not match the input {:?}",
                y.shape, x.shape
            ),
        });
    }
    let nchunks = chunks(nout, n);
    if nchunks <= 1 {
        // SAFETY: (float* y, const float* x, long long outer, long long n, long long inner,
        // int largest): x holds outer * n * inner elements, y outer * inner (checked above).
        return unsafe {
            ctx.launch(
                op,
                "reduce",
                "reduce_arg_f32",
                nout,
                (
                    yp,
                    xp,
                    outer as i64,
                    n as i64,
                    inner as i64,
                    i32::from(largest),
                ),
            )
        };
    }
    // Few outputs, long axis: chunks of the axis first (none empty), then their fold.
    let chunk = n.div_ceil(nchunks);
    let nchunks = n.div_ceil(chunk);
    let pval = ctx.temp(op, nout * nchunks * 4)?;
    let pidx = ctx.temp(op, nout * nchunks * 4)?;
    // SAFETY: (float* pval, float* pidx, const float* x, long long outer, long long n,
    // long long inner, long long chunk, long long nchunks, int largest): pval and pidx hold
    // nout * nchunks float32 elements; x outer * n * inner (checked above); every chunk starts
    // below n (nchunks = ceil(n / chunk)) and is clipped to n.
    unsafe {
        ctx.launch(
            op,
            "reduce",
            "reduce_arg_partial_f32",
            nout * nchunks,
            (
                pval.ptr(),
                pidx.ptr(),
                xp,
                outer as i64,
                n as i64,
                inner as i64,
                chunk as i64,
                nchunks as i64,
                i32::from(largest),
            ),
        )?;
    }
    // SAFETY: (float* y, const float* pval, const float* pidx, long long nout,
    // long long nchunks, int largest): y holds nout elements, pval and pidx nout * nchunks,
    // written by the work queued before on this stream.
    unsafe {
        ctx.launch(
            op,
            "reduce",
            "reduce_arg_combine_f32",
            nout,
            (
                yp,
                pval.ptr(),
                pidx.ptr(),
                nout as i64,
                nchunks as i64,
                i32::from(largest),
            ),
        )
    }
}
