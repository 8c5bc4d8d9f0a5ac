//! Launchers of `kernels/cuda/batch_norm.cu`: `BatchNorm`'s statistics, normalisation and
//! backward over the `(outer, len, inner)` view around the channel axis (`len` channels).

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::{DeviceSlice, GpuError, Source, all_at_least, at_least, launch};
use crate::cpu::softmax::Axis;

/// Training statistics: per channel, `mean` and `invstd = 1/sqrt(var + eps)` of `x`, and the
/// moving statistics `mmean`, `mvar` updated with `momentum`.
pub fn stats(
    dev: &Arc<GpuDevice>,
    ax: Axis,
    (eps, momentum): (f64, f64),
    [mean, invstd, mmean, mvar]: [DeviceSlice<'_, f32>; 4],
    x: DeviceSlice<'_, f32>,
) -> Result<(), GpuError> {
    const K: &str = "batch_norm_stats_f32";
    let names = ["mean", "invstd", "mmean", "mvar"];
    let [m, i, mm, mv] = all_at_least(K, names, [mean, invstd, mmean, mvar], ax.len)?;
    let x = at_least(K, "x", x, ax.size())?;
    let (outer, len, inner) = (ax.outer as i64, ax.len as i64, ax.inner as i64);
    // SAFETY: (float* mean, float* invstd, float* mmean, float* mvar, const float* x,
    // long long outer, long long len, long long inner, double eps, double momentum); item
    // c < len touches element c of the per-channel slices and x[(o·len + c)·inner + k] for
    // o < outer, k < inner, inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::BatchNorm,
            K,
            ax.len,
            (m, i, mm, mv, x, outer, len, inner, eps, momentum),
        )
    }
}

/// Inference statistics: `mean = mmean`, `invstd = 1/sqrt(mvar + eps)` per channel.
pub fn global(
    dev: &Arc<GpuDevice>,
    ax: Axis,
    eps: f64,
    [mean, invstd, mmean, mvar]: [DeviceSlice<'_, f32>; 4],
) -> Result<(), GpuError> {
    const K: &str = "batch_norm_global_f32";
    let names = ["mean", "invstd", "mmean", "mvar"];
    let [m, i, mm, mv] = all_at_least(K, names, [mean, invstd, mmean, mvar], ax.len)?;
    // SAFETY: (float* mean, float* invstd, const float* mmean, const float* mvar, long long len,
    // double eps); item c < len touches element c of each, inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::BatchNorm,
            K,
            ax.len,
            (m, i, mm, mv, ax.len as i64, eps),
        )
    }
}

/// `y = (x - mean)·invstd·gamma + beta` (`gamma` ones when `None`: fix_gamma).
pub fn normalize(
    dev: &Arc<GpuDevice>,
    ax: Axis,
    [y, x]: [DeviceSlice<'_, f32>; 2],
    [mean, invstd, beta]: [DeviceSlice<'_, f32>; 3],
    gamma: Option<DeviceSlice<'_, f32>>,
) -> Result<(), GpuError> {
    const K: &str = "batch_norm_normalize_f32";
    let n = ax.size();
    let [y, x] = all_at_least(K, ["y", "x"], [y, x], n)?;
    let [m, i, b] = all_at_least(K, ["mean", "invstd", "beta"], [mean, invstd, beta], ax.len)?;
    let g = match gamma {
        Some(g) => at_least(K, "gamma", g, ax.len)?,
        None => m,
    };
    // SAFETY: (float* y, const float* x, const float* mean, const float* invstd,
    // const float* gamma, const float* beta, long long n, long long len, long long inner,
    // int has_gamma); item i < n (so inner, len > 0) touches x[i], y[i] and channel
    // (i / inner) % len < len of the per-channel slices (gamma read only when given), inside
    // the checked lengths.
    unsafe {
        launch(
            dev,
            Source::BatchNorm,
            K,
            n,
            (
                y,
                x,
                m,
                i,
                g,
                b,
                n as i64,
                ax.len as i64,
                ax.inner as i64,
                i32::from(gamma.is_some()),
            ),
        )
    }
}

/// The backward pass: per channel `dgamma` (0 with `gamma` `None`: fix_gamma) and `dbeta`,
/// then, when `dx` is given, the data gradient (through the statistics when `batch_stats`).
#[allow(clippy::too_many_arguments, reason = "BatchNorm's gradient inputs")]
pub fn backward(
    dev: &Arc<GpuDevice>,
    ax: Axis,
    batch_stats: bool,
    [dgamma, dbeta]: [DeviceSlice<'_, f32>; 2],
    dx: Option<DeviceSlice<'_, f32>>,
    [g, x]: [DeviceSlice<'_, f32>; 2],
    [mean, invstd]: [DeviceSlice<'_, f32>; 2],
    gamma: Option<DeviceSlice<'_, f32>>,
) -> Result<(), GpuError> {
    const K: &str = "batch_norm_backward_stats_f32";
    let n = ax.size();
    let names = ["dgamma", "dbeta", "mean", "invstd"];
    let [dg, db, m, i] = all_at_least(K, names, [dgamma, dbeta, mean, invstd], ax.len)?;
    let [g, x] = all_at_least(K, ["g", "x"], [g, x], n)?;
    let gp = match gamma {
        Some(gm) => at_least(K, "gamma", gm, ax.len)?,
        None => m,
    };
    let coef = dev.alloc(ax.len.max(1) * 3 * 4)?;
    let (outer, len, inner) = (ax.outer as i64, ax.len as i64, ax.inner as i64);
    // SAFETY: (float* dgamma, float* dbeta, float* coef, const float* g, const float* x,
    // const float* mean, const float* invstd, const float* gamma, long long outer,
    // long long len, long long inner, int has_gamma, int batch_stats); item c < len touches
    // element c of the per-channel slices (gamma read only when given), coef[3c..3c+3] (coef
    // holds 3·len floats), and g, x at (o·len + c)·inner + k < n, inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::BatchNorm,
            K,
            ax.len,
            (
                dg,
                db,
                coef.ptr(),
                g,
                x,
                m,
                i,
                gp,
                outer,
                len,
                inner,
                i32::from(gamma.is_some()),
                i32::from(batch_stats),
            ),
        )?;
    }
    let Some(dx) = dx else { return Ok(()) };
    const D: &str = "batch_norm_backward_data_f32";
    let dx = at_least(D, "dx", dx, n)?;
    // SAFETY: (float* dx, const float* g, const float* x, const float* mean, const float* coef,
    // long long n, long long len, long long inner); item i < n (so inner, len > 0) touches
    // element i of dx, g, x, and channel c = (i / inner) % len < len of mean and coef (3·len
    // floats), inside the checked lengths; `coef` was written by the launch above, earlier on
    // the same stream, and may be dropped once this is queued.
    unsafe {
        launch(
            dev,
            Source::BatchNorm,
            D,
            n,
            (dx, g, x, m, coef.ptr(), n as i64, len, inner),
        )
    }
}
