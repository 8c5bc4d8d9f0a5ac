//! Launchers of `kernels/cuda/reduce.cu`: reductions over axes, `argmax`/`argmin`,
//! broadcasting a reduced array back (gradients, `broadcast_to`). The launchers build the
//! kernels' extent and stride tables from the shapes and masks they are given, so every offset
//! a kernel computes lies inside the arrays they check.

use std::sync::Arc;

use mxr_engine::gpu::{GpuBuffer, GpuDevice};

use super::{DeviceSlice, GpuError, Source, all_at_least, at_least, by_width, launch, memory};
use crate::cpu::reduce::{Reducer, kept_shape, segments};

fn bad(kernel: &str, reason: String) -> GpuError {
    GpuError::Argument {
        kernel: kernel.into(),
        reason,
    }
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
fn upload_table(dev: &Arc<GpuDevice>, values: &[usize]) -> Result<GpuBuffer, GpuError> {
    let t: Vec<i64> = values.iter().map(|&v| v as i64).collect();
    memory::upload(dev, if t.is_empty() { &[0] } else { &t })
}

/// The element count of the kept axes of `shape` (`mask` marks the reduced ones), once the mask
/// has one entry per axis.
fn kept_size(kernel: &str, shape: &[usize], mask: &[bool]) -> Result<usize, GpuError> {
    if mask.len() != shape.len() {
        return Err(bad(
            kernel,
            format!("a mask of {} axes for shape {shape:?}", mask.len()),
        ));
    }
    Ok(kept_shape(shape, mask).iter().product())
}

/// The broadcast table of `shape` with `mask`: the merged extents, then each one's stride in
/// the reduced array (0 along reduced axes), uploaded; and its rank as the kernels take it.
/// `None` when `shape` has no element (nothing to launch).
fn broadcast_table(
    dev: &Arc<GpuDevice>,
    shape: &[usize],
    mask: &[bool],
) -> Result<Option<(GpuBuffer, i32)>, GpuError> {
    if shape.contains(&0) {
        return Ok(None);
    }
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
    Ok(Some((upload_table(dev, &table)?, segs.len() as i32)))
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

/// `y = reduce(x)` over the axes of `mask`, `x` of `shape`, `y` its kept axes.
pub fn reduce(
    dev: &Arc<GpuDevice>,
    kind: Reducer,
    [y, x]: [DeviceSlice<'_, f32>; 2],
    shape: &[usize],
    mask: &[bool],
) -> Result<(), GpuError> {
    const K: &str = "reduce_reduce_f32";
    let nout = kept_size(K, shape, mask)?;
    let total: usize = shape.iter().product();
    let (yp, xp) = (at_least(K, "y", y, nout)?, at_least(K, "x", x, total)?);
    if nout == 0 {
        return Ok(());
    }
    let segs = segments(shape, mask);
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
    let (nk, nr) = (kept.len(), red.len());
    let table = upload_table(dev, &[kept, kept_strides, red, red_strides].concat())?;
    // An MXR_REDUCE_* code (the discriminant: `codes`).
    let code = kind as i32;
    let count = nred as f32;
    let nchunks = chunks(nout, nred);
    let (nk, nr, tab) = (nk as i32, nr as i32, table.ptr());
    if nchunks <= 1 {
        // SAFETY: (float* y, const float* x, const long long* tab, int nk, int nr,
        // long long nout, long long nred, int kind, float count); item o < nout writes y[o]
        // and reads x at kept and reduced coordinates (each below its merged extent of
        // `shape`) times `shape`'s strides, so below x's checked length; the table holds
        // 2·(nk + nr) values (the temporary may be dropped once queued).
        return unsafe {
            launch(
                dev,
                Source::Reduce,
                K,
                nout,
                (yp, xp, tab, nk, nr, nout as i64, nred as i64, code, count),
            )
        };
    }
    // Few outputs, long reductions: one item per output would leave the GPU idle, so fold
    // chunks of the reduced range into partials first, then the partials.
    let chunk = nred.div_ceil(nchunks);
    let nchunks = nred.div_ceil(chunk);
    let partial = dev.alloc(nout * nchunks * 4)?;
    // SAFETY: (float* partial, const float* x, const long long* tab, int nk, int nr,
    // long long nout, long long nred, long long chunk, long long nchunks, int kind); item
    // i < nout·nchunks writes partial[i] (nout·nchunks floats) and reads x as above, each
    // chunk's range clipped to nred.
    unsafe {
        launch(
            dev,
            Source::Reduce,
            "reduce_partial_f32",
            nout * nchunks,
            (
                partial.ptr(),
                xp,
                tab,
                nk,
                nr,
                nout as i64,
                nred as i64,
                chunk as i64,
                nchunks as i64,
                code,
            ),
        )?;
    }
    // SAFETY: (float* y, const float* partial, long long nout, long long nchunks, int kind,
    // float count); item o < nout writes y[o] and reads partial[o·nchunks ..][..nchunks],
    // written by the launch above on the same stream.
    unsafe {
        launch(
            dev,
            Source::Reduce,
            "reduce_combine_f32",
            nout,
            (yp, partial.ptr(), nout as i64, nchunks as i64, code, count),
        )
    }
}

/// `dx[i] = g[o(i)]` (divided by `count` when given) over the full array `dx` of `shape`, `g`
/// having the kept axes of `mask`.
pub fn broadcast(
    dev: &Arc<GpuDevice>,
    [dx, g]: [DeviceSlice<'_, f32>; 2],
    shape: &[usize],
    mask: &[bool],
    count: Option<f32>,
) -> Result<(), GpuError> {
    const K: &str = "reduce_broadcast_f32";
    let small = kept_size(K, shape, mask)?;
    let n: usize = shape.iter().product();
    let (dxp, gp) = (at_least(K, "dx", dx, n)?, at_least(K, "g", g, small)?);
    let Some((table, rank)) = broadcast_table(dev, shape, mask)? else {
        return Ok(());
    };
    // SAFETY: (float* y, const float* x, const long long* tab, int rank, long long n,
    // int divide, float count); item i < n writes y[i] (dx) and reads x (g) at i's kept
    // coordinates (each below its merged extent) times the kept axes' strides, below `small`,
    // the checked lengths; the table holds 2·rank values.
    unsafe {
        launch(
            dev,
            Source::Reduce,
            K,
            n,
            (
                dxp,
                gp,
                table.ptr(),
                rank,
                n as i64,
                i32::from(count.is_some()),
                count.unwrap_or(1.0),
            ),
        )
    }
}

/// `broadcast_to`: `y[i] = x[o(i)]` over the full array `y` of `shape`, `x` having the kept
/// axes of `mask`; both given as bytes of elements `width` bytes wide.
pub fn broadcast_any(
    dev: &Arc<GpuDevice>,
    width: usize,
    [y, x]: [DeviceSlice<'_, u8>; 2],
    shape: &[usize],
    mask: &[bool],
) -> Result<(), GpuError> {
    const K: &str = "reduce_broadcast_any";
    let small = kept_size(K, shape, mask)?;
    let n: usize = shape.iter().product();
    let (kernel, yp, xp) = by_width("reduce_broadcast", width, [y, x], (n, small))?;
    let Some((table, rank)) = broadcast_table(dev, shape, mask)? else {
        return Ok(());
    };
    // SAFETY: (T* y, const T* x, const long long* tab, int rank, long long n), T of `width`
    // bytes (the kernel named by it; both slices aligned and long enough: checked); as in
    // `broadcast`, every offset stays below the checked lengths.
    unsafe {
        launch(
            dev,
            Source::Reduce,
            &kernel,
            n,
            (yp, xp, table.ptr(), rank, n as i64),
        )
    }
}

/// The gradient of max/min: `dx[i] = x[i] == y[o] ? g[o] : 0`, `x` of `shape`, `y` and `g` its
/// kept axes.
pub fn extreme_grad(
    dev: &Arc<GpuDevice>,
    [dx, x, y, g]: [DeviceSlice<'_, f32>; 4],
    shape: &[usize],
    mask: &[bool],
) -> Result<(), GpuError> {
    const K: &str = "reduce_extreme_grad_f32";
    let small = kept_size(K, shape, mask)?;
    let n: usize = shape.iter().product();
    let [dxp, xp] = all_at_least(K, ["dx", "x"], [dx, x], n)?;
    let [yp, gp] = all_at_least(K, ["y", "g"], [y, g], small)?;
    let Some((table, rank)) = broadcast_table(dev, shape, mask)? else {
        return Ok(());
    };
    // SAFETY: (float* dx, const float* x, const float* y, const float* g, const long long* tab,
    // int rank, long long n); item i < n touches dx[i], x[i], and y, g at i's kept offset,
    // below `small` (as in `broadcast`), inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::Reduce,
            K,
            n,
            (dxp, xp, yp, gp, table.ptr(), rank, n as i64),
        )
    }
}

/// `argmax` (`largest`) / `argmin` along the middle axis of `x` seen as `(outer, n, inner)`;
/// `y` holds `outer·inner` indices as floats.
pub fn arg_extreme(
    dev: &Arc<GpuDevice>,
    [y, x]: [DeviceSlice<'_, f32>; 2],
    (outer, n, inner): (usize, usize, usize),
    largest: bool,
) -> Result<(), GpuError> {
    const K: &str = "reduce_arg_f32";
    let nout = outer * inner;
    let (yp, xp) = (at_least(K, "y", y, nout)?, at_least(K, "x", x, nout * n)?);
    let (o, len, i, l) = (outer as i64, n as i64, inner as i64, i32::from(largest));
    let nchunks = chunks(nout, n);
    if nchunks <= 1 {
        // SAFETY: (float* y, const float* x, long long outer, long long n, long long inner,
        // int largest); item k < outer·inner (so inner > 0) writes y[k] and reads its row of
        // x, (k / inner)·n·inner + k % inner + j·inner for j < n, below outer·n·inner, the
        // checked lengths.
        return unsafe { launch(dev, Source::Reduce, K, nout, (yp, xp, o, len, i, l)) };
    }
    // Few outputs, long axis: chunks of the axis first (none empty), then their fold.
    let chunk = n.div_ceil(nchunks);
    let nchunks = n.div_ceil(chunk);
    let pval = dev.alloc(nout * nchunks * 4)?;
    let pidx = dev.alloc(nout * nchunks * 4)?;
    let (c, nc) = (chunk as i64, nchunks as i64);
    // SAFETY: (float* pval, float* pidx, const float* x, long long outer, long long n,
    // long long inner, long long chunk, long long nchunks, int largest); item
    // k < nout·nchunks writes pval[k], pidx[k] (nout·nchunks floats each) and reads its
    // chunk of its row of x, clipped to n, as above.
    unsafe {
        launch(
            dev,
            Source::Reduce,
            "reduce_arg_partial_f32",
            nout * nchunks,
            (pval.ptr(), pidx.ptr(), xp, o, len, i, c, nc, l),
        )?;
    }
    // SAFETY: (float* y, const float* pval, const float* pidx, long long nout,
    // long long nchunks, int largest); item k < nout writes y[k] and reads its nchunks
    // partials, written by the launch above on the same stream.
    unsafe {
        launch(
            dev,
            Source::Reduce,
            "reduce_arg_combine_f32",
            nout,
            (yp, pval.ptr(), pidx.ptr(), nout as i64, nc, l),
        )
    }
}
