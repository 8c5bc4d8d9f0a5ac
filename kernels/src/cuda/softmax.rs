//! Launchers of `kernels/cuda/softmax.cu`: softmax / log_softmax along an axis and their
//! backward, one work item per lane of the `(outer, len, inner)` view.

use std::sync::Arc;

use mxr_engine::gpu::{DevicePtr, GpuDevice};

use super::{AnySlice, DeviceSlice, GpuError, Source, all_at_least, launch};
use crate::cpu::softmax::Axis;

/// The axis view's sizes as the kernels take them (a lane exists only where `inner > 0`, so
/// the kernels' divisions by `inner` are safe).
fn sizes(ax: Axis) -> (i64, i64, i64) {
    (ax.outer as i64, ax.len as i64, ax.inner as i64)
}

/// `y = softmax(x / t)` (`log`: log-softmax) along the axis of `ax`, each lane cut to its
/// length when `lengths` (one value per lane) is given.
pub fn forward(
    dev: &Arc<GpuDevice>,
    ax: Axis,
    (t, log): (f32, bool),
    [y, x]: [DeviceSlice<'_, f32>; 2],
    lengths: Option<AnySlice<'_>>,
) -> Result<(), GpuError> {
    const K: &str = "softmax_forward_f32";
    let (outer, len, inner) = sizes(ax);
    let [y, x] = all_at_least(K, ["y", "x"], [y, x], ax.size())?;
    let lanes = ax.outer * ax.inner;
    let (lp, code) = match lengths {
        Some(l) if l.len() < lanes => {
            return Err(GpuError::Argument {
                kernel: K.into(),
                reason: format!("{} lengths for {lanes} lanes", l.len()),
            });
        }
        Some(l) => (l.ptr(), l.dtype() as i32),
        None => (DevicePtr(0), 0),
    };
    // SAFETY: (float* y, const float* x, long long outer, long long len, long long inner,
    // float t, int log, const unsigned char* lengths, int ltype); lane < outer·inner (inner > 0)
    // touches x and y at (lane / inner)·len·inner + lane % inner + j·inner for j < len, all
    // below outer·len·inner, the checked lengths; the lengths (or null) hold one value of
    // dtype flag `ltype` per lane (checked), and a lane's length is clamped to [0, len].
    unsafe {
        launch(
            dev,
            Source::Softmax,
            K,
            lanes,
            (y, x, outer, len, inner, t, i32::from(log), lp, code),
        )
    }
}

/// `dx` from the head gradient `g` and the output `y`.
pub fn backward(
    dev: &Arc<GpuDevice>,
    ax: Axis,
    (t, log): (f32, bool),
    [dx, g, y]: [DeviceSlice<'_, f32>; 3],
) -> Result<(), GpuError> {
    const K: &str = "softmax_backward_f32";
    let (outer, len, inner) = sizes(ax);
    let [dx, g, y] = all_at_least(K, ["dx", "g", "y"], [dx, g, y], ax.size())?;
    // SAFETY: (float* dx, const float* g, const float* y, long long outer, long long len,
    // long long inner, float t, int log); as in `forward`, every lane stays inside
    // outer·len·inner, the checked lengths.
    unsafe {
        launch(
            dev,
            Source::Softmax,
            K,
            ax.outer * ax.inner,
            (dx, g, y, outer, len, inner, t, i32::from(log)),
        )
    }
}
