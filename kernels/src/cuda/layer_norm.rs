//! Launchers of `kernels/cuda/layer_norm.cu`: `LayerNorm`'s forward and backward over the
//! `(outer, len, inner)` view around the normalised axis (one lane per `(outer, inner)` pair,
//! `len` elements each), float32.

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::{DeviceSlice, GpuError, Source, all_at_least, launch};
use crate::cpu::softmax::Axis;

/// The forward pass: `y` (`x`'s shape), `mean` and `std` (one per lane) from `x`, `gamma`
/// and `beta` (`len` each).
pub fn forward(
    dev: &Arc<GpuDevice>,
    ax: Axis,
    eps: f32,
    [y, mean, std]: [DeviceSlice<'_, f32>; 3],
    [x, gamma, beta]: [DeviceSlice<'_, f32>; 3],
) -> Result<(), GpuError> {
    const K: &str = "layer_norm_forward_f32";
    let lanes = ax.outer * ax.inner;
    let [y, x] = all_at_least(K, ["y", "x"], [y, x], ax.size())?;
    let [m, s] = all_at_least(K, ["mean", "std"], [mean, std], lanes)?;
    let [g, b] = all_at_least(K, ["gamma", "beta"], [gamma, beta], ax.len)?;
    let (outer, len, inner) = (ax.outer as i64, ax.len as i64, ax.inner as i64);
    // SAFETY: (float* y, float* mean, float* std, const float* x, const float* gamma,
    // const float* beta, long long outer, long long len, long long inner, float eps); item
    // k < outer·inner touches mean[k], std[k], and y and x at (o·len + j)·inner + i and gamma,
    // beta at j for o < outer, i < inner, j < len, inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::LayerNorm,
            K,
            lanes,
            (y, m, s, x, g, b, outer, len, inner, eps),
        )
    }
}

/// The backward pass: `dx` (the data's shape), `dgamma` and `dbeta` (`len` each) from the
/// head gradient `g`, the data `x`, `gamma` and the forward's `mean` and `std`.
pub fn backward(
    dev: &Arc<GpuDevice>,
    ax: Axis,
    [dx, dgamma, dbeta]: [DeviceSlice<'_, f32>; 3],
    [g, x, gamma]: [DeviceSlice<'_, f32>; 3],
    [mean, std]: [DeviceSlice<'_, f32>; 2],
) -> Result<(), GpuError> {
    const KD: &str = "layer_norm_backward_data_f32";
    const KP: &str = "layer_norm_backward_params_f32";
    let lanes = ax.outer * ax.inner;
    let [dx, g, x] = all_at_least(KD, ["dx", "g", "x"], [dx, g, x], ax.size())?;
    let [m, s] = all_at_least(KD, ["mean", "std"], [mean, std], lanes)?;
    let [gm, dg, db] = all_at_least(
        KD,
        ["gamma", "dgamma", "dbeta"],
        [gamma, dgamma, dbeta],
        ax.len,
    )?;
    let (outer, len, inner) = (ax.outer as i64, ax.len as i64, ax.inner as i64);
    // SAFETY: (float* dx, const float* g, const float* x, const float* gamma,
    // const float* mean, const float* std, long long outer, long long len, long long inner);
    // item k < outer·inner touches mean[k], std[k], and dx, g, x at (o·len + j)·inner + i and
    // gamma at j for o < outer, i < inner, j < len, inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::LayerNorm,
            KD,
            lanes,
            (dx, g, x, gm, m, s, outer, len, inner),
        )?;
    }
    // SAFETY: (float* dgamma, float* dbeta, const float* g, const float* x, const float* mean,
    // const float* std, long long outer, long long len, long long inner); item j < len writes
    // dgamma[j], dbeta[j] and reads g, x at (o·len + j)·inner + i and mean, std at
    // o·inner + i for o < outer, i < inner, inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::LayerNorm,
            KP,
            ax.len,
            (dg, db, g, x, m, s, outer, len, inner),
        )
    }
}
