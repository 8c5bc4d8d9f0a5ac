//! Launchers of `kernels/cuda/optimizer.cu`: one elementwise update per weight, with the
//! scalars the CPU kernels combine once per call (`1 − lr·wd`, `lr·wd`, `lr·rescale_grad`)
//! computed here in float32 as there.

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::{DeviceSlice, GpuError, Source, all_at_least, at_least, launch};

/// The (momentum) SGD settings of one weight.
#[derive(Debug, Clone, Copy)]
pub struct Sgd {
    /// Learning rate.
    pub lr: f32,
    /// Weight decay.
    pub wd: f32,
    /// Momentum (unused by [`sgd`]; 0 for `multi_sgd_update`).
    pub momentum: f32,
    /// Gradient rescaling.
    pub rescale_grad: f32,
    /// Clipping bound (negative: none).
    pub clip_gradient: f32,
}

/// The Adam settings of one weight.
#[derive(Debug, Clone, Copy)]
pub struct Adam {
    /// Learning rate.
    pub lr: f32,
    /// Weight decay.
    pub wd: f32,
    /// Gradient rescaling.
    pub rescale_grad: f32,
    /// Clipping bound (negative: none).
    pub clip_gradient: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// The denominator's epsilon.
    pub epsilon: f32,
}

/// `out = (1 − lr·wd)·w − lr·clip(rescale·g)` over `n` elements.
pub fn sgd(
    dev: &Arc<GpuDevice>,
    s: &Sgd,
    slices: [DeviceSlice<'_, f32>; 3],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "optimizer_sgd_f32";
    let [out, w, g] = all_at_least(K, ["out", "w", "g"], slices, n)?;
    let decay = 1.0f32 - s.lr * s.wd;
    let step = s.lr * s.rescale_grad;
    // SAFETY: (float* out, const float* w, const float* g, long long n, float decay, float lr,
    // float rescale, float c, float step); item i < n touches element i of each, inside the
    // checked lengths.
    unsafe {
        launch(
            dev,
            Source::Optimizer,
            K,
            n,
            (
                out,
                w,
                g,
                n as i64,
                decay,
                s.lr,
                s.rescale_grad,
                s.clip_gradient,
                step,
            ),
        )
    }
}

/// `mom' = momentum·mom − lr·wd·w − lr·clip(rescale·g)`, `out = w + mom'` over `n` elements;
/// `mom` (updated in place) absent for `multi_sgd_update`.
pub fn sgd_mom(
    dev: &Arc<GpuDevice>,
    s: &Sgd,
    slices: [DeviceSlice<'_, f32>; 3],
    mom: Option<DeviceSlice<'_, f32>>,
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "optimizer_sgd_mom_f32";
    let [out, w, g] = all_at_least(K, ["out", "w", "g"], slices, n)?;
    let m = match mom {
        Some(m) => at_least(K, "mom", m, n)?,
        None => out,
    };
    let lr_wd = s.lr * s.wd;
    let step = s.lr * s.rescale_grad;
    // SAFETY: (float* out, float* mom, const float* w, const float* g, long long n,
    // int has_mom, float momentum, float lr_wd, float lr, float rescale, float c, float step);
    // item i < n touches element i of each, inside the checked lengths; `mom` is touched only
    // with has_mom (when it was checked).
    unsafe {
        launch(
            dev,
            Source::Optimizer,
            K,
            n,
            (
                out,
                m,
                w,
                g,
                n as i64,
                i32::from(mom.is_some()),
                s.momentum,
                lr_wd,
                s.lr,
                s.rescale_grad,
                s.clip_gradient,
                step,
            ),
        )
    }
}

/// `adam_update` over `n` elements: `[out, mean, var, w, g]`, the states updated in place.
pub fn adam(
    dev: &Arc<GpuDevice>,
    p: &Adam,
    slices: [DeviceSlice<'_, f32>; 5],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "optimizer_adam_f32";
    let [out, mean, var, w, g] = all_at_least(K, ["out", "mean", "var", "w", "g"], slices, n)?;
    // SAFETY: (float* out, float* mean, float* var, const float* w, const float* g,
    // long long n, float lr, float wd, float rescale, float c, float beta1, float beta2,
    // float eps, float omb1, float omb2); item i < n touches element i of each, inside the
    // checked lengths.
    unsafe {
        launch(
            dev,
            Source::Optimizer,
            K,
            n,
            (
                out,
                mean,
                var,
                w,
                g,
                n as i64,
                p.lr,
                p.wd,
                p.rescale_grad,
                p.clip_gradient,
                p.beta1,
                p.beta2,
                p.epsilon,
                1.0f32 - p.beta1,
                1.0f32 - p.beta2,
            ),
        )
    }
}
