//! Launchers of `kernels/cuda/loss.cu`: `SoftmaxOutput`'s gradient (its forward is
//! [`super::softmax`]'s), the regression outputs and `MakeLoss`.

use std::sync::Arc;

use mxr_engine::gpu::{DevicePtr, GpuDevice};

use super::{DeviceSlice, GpuError, Source, all_at_least, at_least, launch};
use crate::cpu::softmax::Axis;

/// Probability labels (shaped like the output): `dx = (y − label)·scale` (× y with
/// `times_output`) over `n` elements.
pub fn softmax_output_prob(
    dev: &Arc<GpuDevice>,
    slices: [DeviceSlice<'_, f32>; 3],
    n: usize,
    (scale, times_output): (f32, bool),
) -> Result<(), GpuError> {
    const K: &str = "loss_softmax_output_prob_f32";
    let [dx, y, label] = all_at_least(K, ["dx", "y", "label"], slices, n)?;
    // SAFETY: (float* dx, const float* y, const float* label, long long n, float scale,
    // int times_output); item i < n touches element i of each, inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::Loss,
            K,
            n,
            (dx, y, label, n as i64, scale, i32::from(times_output)),
        )
    }
}

/// Counts over the first `lanes` labels, into `stats` (2 doubles, zeroed by the caller): the
/// labels that are neither `ignore` nor a class in `0..classes`, and those that are not `ignore`.
pub fn softmax_output_check(
    dev: &Arc<GpuDevice>,
    stats: DeviceSlice<'_, f64>,
    label: DeviceSlice<'_, f32>,
    lanes: usize,
    (classes, ignore): (usize, i64),
) -> Result<(), GpuError> {
    const K: &str = "loss_softmax_output_check_f32";
    let stats = at_least(K, "stats", stats, 2)?;
    let label = at_least(K, "label", label, lanes)?;
    // SAFETY: (double* stats, const float* label, long long lanes, long long classes,
    // long long ignore); item i < lanes reads label[i] and adds to stats[0..2], inside the
    // checked lengths.
    unsafe {
        launch(
            dev,
            Source::Loss,
            K,
            lanes,
            (stats, label, lanes as i64, classes as i64, ignore),
        )
    }
}

/// The settings of [`softmax_output_grad`].
#[derive(Debug, Clone, Copy)]
pub struct SoftmaxOutputGrad {
    /// Whether labels equal to `ignore` get no gradient.
    pub use_ignore: bool,
    /// The ignored label.
    pub ignore: i64,
    /// The target of the labelled class.
    pub hit: f32,
    /// The target of the other classes.
    pub miss: f32,
    /// The gradient's scale.
    pub scale: f32,
    /// Whether the gradient is multiplied by the output.
    pub times_output: bool,
    /// Whether the scale is divided by the count of labels that are not ignored (`stats[1]`
    /// of [`softmax_output_check`]).
    pub per_valid: bool,
}

/// `dx = (y − target)·scale` over the `(outer, classes, inner)` view `ax`, one label per lane
/// (`label[o·inner + i]`).
pub fn softmax_output_grad(
    dev: &Arc<GpuDevice>,
    ax: Axis,
    s: &SoftmaxOutputGrad,
    [dx, y, label]: [DeviceSlice<'_, f32>; 3],
    stats: DeviceSlice<'_, f64>,
) -> Result<(), GpuError> {
    const K: &str = "loss_softmax_output_grad_f32";
    let n = ax.size();
    let [dx, y] = all_at_least(K, ["dx", "y"], [dx, y], n)?;
    let label = at_least(K, "label", label, ax.outer * ax.inner)?;
    let stats = at_least(K, "stats", stats, 2)?;
    // SAFETY: (float* dx, const float* y, const float* label, long long outer, long long
    // classes, long long inner, int use_ignore, long long ignore, float hit, float miss,
    // float scale, int times_output, const double* stats, int per_valid); item e < n (so
    // classes, inner > 0) touches dx[e], y[e] and label[o·inner + i] with o < outer, i < inner,
    // and stats[1], inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::Loss,
            K,
            n,
            (
                dx,
                y,
                label,
                ax.outer as i64,
                ax.len as i64,
                ax.inner as i64,
                i32::from(s.use_ignore),
                s.ignore,
                s.hit,
                s.miss,
                s.scale,
                i32::from(s.times_output),
                stats,
                i32::from(s.per_valid),
            ),
        )
    }
}

/// `y = sigmoid(x)` over `n` elements.
pub fn sigmoid(
    dev: &Arc<GpuDevice>,
    slices: [DeviceSlice<'_, f32>; 2],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "loss_sigmoid_f32";
    let [y, x] = all_at_least(K, ["y", "x"], slices, n)?;
    // SAFETY: (float* y, const float* x, long long n); item i < n touches y[i] and x[i],
    // inside the checked lengths.
    unsafe { launch(dev, Source::Loss, K, n, (y, x, n as i64)) }
}

/// The regression outputs' gradient over `n` elements: `dx = (out − label)·scale`, or with
/// `mae` its sign times the scale.
pub fn regression_backward(
    dev: &Arc<GpuDevice>,
    slices: [DeviceSlice<'_, f32>; 3],
    n: usize,
    (scale, mae): (f32, bool),
) -> Result<(), GpuError> {
    const K: &str = "loss_regression_backward_f32";
    let [dx, label, out] = all_at_least(K, ["dx", "label", "out"], slices, n)?;
    // SAFETY: (float* dx, const float* label, const float* out, long long n, float scale,
    // int mae); item i < n touches element i of each, inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::Loss,
            K,
            n,
            (dx, label, out, n as i64, scale, i32::from(mae)),
        )
    }
}

/// Adds to `count[0]` (zeroed by the caller) the number of elements of `x` above `thresh`.
pub fn count_above(
    dev: &Arc<GpuDevice>,
    count: DeviceSlice<'_, f64>,
    x: DeviceSlice<'_, f32>,
    thresh: f32,
) -> Result<(), GpuError> {
    const K: &str = "loss_count_above_f32";
    let count = at_least(K, "count", count, 1)?;
    let n = x.len();
    // SAFETY: (double* count, const float* x, long long n, float thresh); item i < n reads x[i]
    // (x holds n floats) and adds to count[0] (checked).
    unsafe { launch(dev, Source::Loss, K, n, (count, x.ptr(), n as i64, thresh)) }
}

/// `dx = grad_scale / d` for every element, `d` being `max(count[0], 1)` when `count` is given
/// (written by [`count_above`] before), else `norm`.
pub fn make_loss_grad(
    dev: &Arc<GpuDevice>,
    dx: DeviceSlice<'_, f32>,
    (grad_scale, norm): (f64, f64),
    count: Option<DeviceSlice<'_, f64>>,
) -> Result<(), GpuError> {
    const K: &str = "loss_make_loss_grad_f32";
    let n = dx.len();
    let count = match count {
        Some(c) => at_least(K, "count", c, 1)?,
        None => DevicePtr(0),
    };
    // SAFETY: (float* dx, long long n, double grad_scale, double norm, const double* count);
    // item i < n writes dx[i] (dx holds n floats) and reads count[0] if not null (checked).
    unsafe {
        launch(
            dev,
            Source::Loss,
            K,
            n,
            (dx.ptr(), n as i64, grad_scale, norm, count),
        )
    }
}
