//! Launchers of `kernels/cuda/pick.cu`: float32 data, indices of any dtype but float16,
//! clipped or wrapped into the axis as on the CPU ([`crate::cpu::pick`]).

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::{AnySlice, DeviceSlice, GpuError, Source, at_least, launch};
use crate::cpu::softmax::Axis;

/// `y[o, i] = x[o, position(idx[o, i]), i]`, `x` viewed as `ax`.
pub fn forward(
    dev: &Arc<GpuDevice>,
    y: DeviceSlice<'_, f32>,
    idx: AnySlice<'_>,
    x: DeviceSlice<'_, f32>,
    ax: Axis,
    wrap: bool,
) -> Result<(), GpuError> {
    run(dev, idx, (y, x), ax, wrap, false)
}

/// `dx[o, position(idx[o, i]), i] = g[o, i]`; the rest of `dx` is left as it is (the caller
/// zeroes it).
pub fn backward(
    dev: &Arc<GpuDevice>,
    dx: DeviceSlice<'_, f32>,
    idx: AnySlice<'_>,
    g: DeviceSlice<'_, f32>,
    ax: Axis,
    wrap: bool,
) -> Result<(), GpuError> {
    run(dev, idx, (dx, g), ax, wrap, true)
}

/// Checks and launches `pick_idx_<IT>`: forward from the whole array `input` to the lanes
/// `out`, or backward from the lanes `input` into the whole array `out`.
fn run(
    dev: &Arc<GpuDevice>,
    idx: AnySlice<'_>,
    (out, input): (DeviceSlice<'_, f32>, DeviceSlice<'_, f32>),
    ax: Axis,
    wrap: bool,
    backward: bool,
) -> Result<(), GpuError> {
    let kernel = format!("pick_idx_{}", idx.suffix());
    let lanes = ax.outer * ax.inner;
    if idx.len() < lanes {
        return Err(GpuError::Argument {
            kernel,
            reason: format!("{} indices for {lanes} lanes", idx.len()),
        });
    }
    if lanes > 0 && ax.len == 0 {
        return Err(GpuError::Argument {
            kernel,
            reason: "cannot pick from an empty axis".into(),
        });
    }
    let (out_len, in_len) = if backward {
        (ax.size(), lanes)
    } else {
        (lanes, ax.size())
    };
    let out = at_least(&kernel, "out", out, out_len)?;
    let input = at_least(&kernel, "in", input, in_len)?;
    let (outer, len, inner) = (ax.outer as i64, ax.len as i64, ax.inner as i64);
    // SAFETY: (float* out, const IT* idx, const float* in, long long outer, long long len,
    // long long inner, int wrap, int backward), IT the indices' type (the kernel named by their
    // dtype); item k < outer·inner reads idx[k] (at least outer·inner indices: checked) and
    // touches the lane element k and the whole array's element (o·len + j)·inner + i with
    // o < outer, i < inner and j clipped or wrapped into [0, len) (len > 0: checked): the
    // lanes slice holds outer·inner elements and the whole one outer·len·inner (checked, on
    // the side each plays).
    unsafe {
        launch(
            dev,
            Source::Pick,
            &kernel,
            lanes,
            (
                out,
                idx.ptr(),
                input,
                outer,
                len,
                inner,
                i32::from(wrap),
                i32::from(backward),
            ),
        )
    }
}
