//! Launchers of `kernels/cuda/pooling.cu`: max / avg / sum pooling over 1-3-D windows and its
//! backward.

use std::sync::Arc;

use mxr_engine::gpu::{GpuBuffer, GpuDevice};

use super::codes::PoolCode;
use super::{DeviceSlice, GpuError, Source, at_least, launch, memory};
use crate::cpu::pooling::{PoolGeom, PoolType};

/// The kernels' `(kind, count_include_pad)` codes.
fn codes(kind: PoolType) -> (i32, i32) {
    match kind {
        PoolType::Max => (PoolCode::Max as i32, 0),
        PoolType::Avg { count_include_pad } => (PoolCode::Avg as i32, i32::from(count_include_pad)),
        PoolType::Sum => (PoolCode::Sum as i32, 0),
    }
}

/// The geometry table (`long long[16]`: planes, input, output, kernel, stride, pad), uploaded,
/// and the kernels' `(kind, count_include_pad)` codes; `None` when there is no output element
/// (nothing to launch).
fn prepare(
    dev: &Arc<GpuDevice>,
    geom: &PoolGeom,
    kind: PoolType,
) -> Result<Option<(GpuBuffer, i32, i32)>, GpuError> {
    if geom.output_len() == 0 {
        return Ok(None);
    }
    let mut t = vec![geom.planes as i64];
    for a in [geom.input, geom.output, geom.kernel, geom.stride, geom.pad] {
        t.extend(a.iter().map(|&v| v as i64));
    }
    let (kind, cip) = codes(kind);
    Ok(Some((memory::upload(dev, &t)?, kind, cip)))
}

/// `y = pool(x)` over `geom` (`y` holds `geom.output_len()` floats, `x` `geom.input_len()`).
pub fn forward(
    dev: &Arc<GpuDevice>,
    geom: &PoolGeom,
    kind: PoolType,
    y: DeviceSlice<'_, f32>,
    x: DeviceSlice<'_, f32>,
) -> Result<(), GpuError> {
    const K: &str = "pooling_forward_f32";
    let n = geom.output_len();
    let (y, x) = (
        at_least(K, "y", y, n)?,
        at_least(K, "x", x, geom.input_len())?,
    );
    let Some((g, kind, cip)) = prepare(dev, geom, kind)? else {
        return Ok(());
    };
    // SAFETY: (float* y, const float* x, const long long* g, long long n, int kind, int cip);
    // g is the 16-entry table of `geom`; n = planes·prod(output) > 0, so the output sizes the
    // kernel divides by are positive and item i < n has plane < planes; its window is clipped
    // to [0, input) per axis, so it reads x inside plane·prod(input) + prod(input) ≤ x's
    // checked length, and writes y[i], inside y's.
    unsafe {
        launch(
            dev,
            Source::Pooling,
            K,
            n,
            (y, x, g.ptr(), n as i64, kind, cip),
        )
    }
}

/// `dx += ` the gradient of `pool` for head gradient `gy` (`dx` zeroed by the caller; `x` and
/// `y`, the forward's input and output, are read by max pooling only).
pub fn backward(
    dev: &Arc<GpuDevice>,
    geom: &PoolGeom,
    kind: PoolType,
    dx: DeviceSlice<'_, f32>,
    gy: DeviceSlice<'_, f32>,
    x: DeviceSlice<'_, f32>,
    y: DeviceSlice<'_, f32>,
) -> Result<(), GpuError> {
    const K: &str = "pooling_backward_f32";
    let (n, len) = (geom.output_len(), geom.input_len());
    let (dx, gy) = (at_least(K, "dx", dx, len)?, at_least(K, "gy", gy, n)?);
    let (x, y) = if kind == PoolType::Max {
        (at_least(K, "x", x, len)?, at_least(K, "y", y, n)?)
    } else {
        (x.ptr(), y.ptr())
    };
    let Some((g, kind, cip)) = prepare(dev, geom, kind)? else {
        return Ok(());
    };
    // SAFETY: (float* dx, const float* gy, const float* x, const float* y, const long long* g,
    // long long n, int kind, int cip); as in `forward`, item i < n reads gy[i] (and y[i] for
    // max) and touches dx (and reads x, for max only) inside its clipped window of its plane,
    // within the checked lengths; x and y are not read unless checked (max).
    unsafe {
        launch(
            dev,
            Source::Pooling,
            K,
            n,
            (dx, gy, x, y, g.ptr(), n as i64, kind, cip),
        )
    }
}
