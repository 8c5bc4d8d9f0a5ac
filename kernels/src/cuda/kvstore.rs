//! Launchers of `kernels/cuda/kvstore.cu`: the KVStore's merges on a GPU.

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::{DeviceSlice, GpuError, Source, all_at_least, launch};

/// `out = a` (`accumulate` false) or `out += a` over `n` elements.
pub fn sum(
    dev: &Arc<GpuDevice>,
    out: DeviceSlice<'_, f32>,
    a: DeviceSlice<'_, f32>,
    n: usize,
    accumulate: bool,
) -> Result<(), GpuError> {
    const K: &str = "kvstore_sum_f32";
    let [out, a] = all_at_least(K, ["out", "a"], [out, a], n)?;
    // SAFETY: (float* out, const float* a, long long n, int accumulate); item i < n touches
    // out[i] and a[i], and both slices hold at least n floats (checked above).
    unsafe {
        launch(
            dev,
            Source::Kvstore,
            K,
            n,
            (out, a, n as i64, i32::from(accumulate)),
        )
    }
}
