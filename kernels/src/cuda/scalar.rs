//! Launchers of `kernels/cuda/scalar.cu`: operators with a scalar operand and their backward.

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::{DeviceSlice, GpuError, Source, all_at_least, at_least, launch};
use crate::cpu::elementwise::ScalarOp;

/// `out = x ∘ s` over `n` elements (`out` may be `x`: item i reads before it writes).
pub fn forward(
    dev: &Arc<GpuDevice>,
    op: ScalarOp,
    s: f32,
    [out, x]: [DeviceSlice<'_, f32>; 2],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "scalar_forward_f32";
    let [out, x] = all_at_least(K, ["out", "x"], [out, x], n)?;
    // SAFETY: (float* out, const float* x, long long n, float s, int op), op an MXR_SCALAR_*
    // code (the discriminant: `codes`); item i < n touches out[i] and x[i], inside the checked
    // lengths.
    unsafe { launch(dev, Source::Scalar, K, n, (out, x, n as i64, s, op as i32)) }
}

/// The input gradient of `x ∘ s` (`op`: mul, div, rdiv or power) for head gradient `g` over
/// `n` elements; `x`, the forward input, is read for rdiv and power only (`None` otherwise).
pub fn backward(
    dev: &Arc<GpuDevice>,
    op: ScalarOp,
    s: f32,
    [out, g]: [DeviceSlice<'_, f32>; 2],
    x: Option<DeviceSlice<'_, f32>>,
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "scalar_backward_f32";
    let reads = match op {
        ScalarOp::Mul | ScalarOp::Div => false,
        ScalarOp::RDiv | ScalarOp::Power => true,
        other => {
            return Err(GpuError::Argument {
                kernel: K.into(),
                reason: format!("no backward kernel for {other:?}"),
            });
        }
    };
    let [out, g] = all_at_least(K, ["out", "g"], [out, g], n)?;
    let x = match x {
        Some(x) => at_least(K, "x", x, n)?,
        None if !reads => g,
        None => {
            return Err(GpuError::Argument {
                kernel: K.into(),
                reason: "rdiv and power gradients read the input".into(),
            });
        }
    };
    let code = op as i32;
    // SAFETY: (float* out, const float* g, const float* x, long long n, float s, int op), op
    // the MXR_SCALAR_* code of mul, div, rdiv or power (checked); item i < n touches element i
    // of each; x is checked, or is g and unread (mul, div).
    unsafe { launch(dev, Source::Scalar, K, n, (out, g, x, n as i64, s, code)) }
}
