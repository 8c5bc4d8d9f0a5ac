//! Launchers of `kernels/cuda/init.cu`: filling with a value.

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::{DeviceSlice, GpuError, Source, launch};

/// `out[i] = v` for every element of `out`.
pub fn fill(dev: &Arc<GpuDevice>, out: DeviceSlice<'_, f32>, v: f32) -> Result<(), GpuError> {
    let n = out.len();
    // SAFETY: (float* out, long long n, float v); item i < n writes out[i], and `out` holds n
    // floats.
    unsafe {
        launch(
            dev,
            Source::Init,
            "init_fill_f32",
            n,
            (out.ptr(), n as i64, v),
        )
    }
}
