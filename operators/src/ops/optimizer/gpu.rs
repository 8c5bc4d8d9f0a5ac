//! The optimizer updates on the GPU (`kernels/cuda/optimizer.cu`): one elementwise kernel per
//! weight, with the scalars the CPU kernels combine once per call (`1 − lr·wd`, `lr·wd`,
//! `lr·rescale_grad`) computed here in float32 as there.
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use mxr_engine::gpu::DevicePtr;

use super::{AdamParam, SgdParam};
use crate::registry::{GpuOpContext, GpuTensor};
use crate::{Error, Result};

/// The float32 addresses of `arrays`, checking that each holds `n` elements.
fn ptrs<const K: usize>(op: &str, arrays: [&GpuTensor<'_>; K], n: usize) -> Result<[DevicePtr; K]> {
    let mut out = [DevicePtr(0); K];
    for (o, a) in out.iter_mut().zip(arrays) {
        if a.size() != n {
            return Err(Error::BadInput {
                op: op.into(),
                reason: format!(
                    "an array of shape {:?} where {n} elements were expected",
                    a.shape
                ),
            });
        }
        *o = a.f32_ptr(op)?;
    }
    Ok(out)
}

fn missing(op: &str) -> Error {
    super::missing(op, "input or output")
}

/// `sgd_update`: inputs `[weight, grad]`, output the new weight.
pub(super) fn sgd(
    ctx: &GpuOpContext<'_>,
    p: &SgdParam,
    inputs: &[GpuTensor<'_>],
    outputs: &[GpuTensor<'_>],
) -> Result<()> {
    let op = "sgd_update";
    let ([w, g, ..], [out, ..]) = (inputs, outputs) else {
        return Err(missing(op));
    };
    let n = w.size();
    let [wp, gp, op_] = ptrs(op, [w, g, out], n)?;
    let decay = 1.0f32 - p.lr * p.wd;
    let step = p.lr * p.rescale_grad;
    // SAFETY: (float* out, const float* w, const float* g, long long n, float decay, float lr,
    // float rescale, float c, float step): the three arrays hold n floats (checked); each item
    // reads w[i], g[i] before writing out[i], so even an aliased weight would be safe.
    unsafe {
        ctx.launch(
            op,
            "optimizer",
            "optimizer_sgd_f32",
            n,
            (
                op_,
                wp,
                gp,
                n as i64,
                decay,
                p.lr,
                p.rescale_grad,
                p.clip_gradient,
                step,
            ),
        )
    }
}

/// The momentum-SGD settings of one weight.
pub(super) struct Mom {
    /// Learning rate.
    pub lr: f32,
    /// Weight decay.
    pub wd: f32,
    /// Momentum (0 for `multi_sgd_update`).
    pub momentum: f32,
    /// Gradient rescaling.
    pub rescale_grad: f32,
    /// Clipping bound (negative: none).
    pub clip_gradient: f32,
}

/// `mom' = momentum·mom − lr·wd·w − lr·clip(rescale·g)`, `out = w + mom'`; `mom` (updated in
/// place) absent for `multi_sgd_update`.
pub(super) fn sgd_mom(
    ctx: &GpuOpContext<'_>,
    op: &str,
    s: &Mom,
    w: &GpuTensor<'_>,
    g: &GpuTensor<'_>,
    mom: Option<&GpuTensor<'_>>,
    out: &GpuTensor<'_>,
) -> Result<()> {
    let n = w.size();
    let [wp, gp, op_] = ptrs(op, [w, g, out], n)?;
    let mp = match mom {
        Some(m) => ptrs(op, [m], n)?[0],
        None => op_, // not read nor written without has_mom
    };
    let lr_wd = s.lr * s.wd;
    let step = s.lr * s.rescale_grad;
    // SAFETY: (float* out, float* mom, const float* w, const float* g, long long n,
    // int has_mom, float momentum, float lr_wd, float lr, float rescale, float c, float step):
    // the arrays hold n floats (checked); `mom` is only touched with has_mom.
    unsafe {
        ctx.launch(
            op,
            "optimizer",
            "optimizer_sgd_mom_f32",
            n,
            (
                op_,
                mp,
                wp,
                gp,
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

/// `adam_update`: inputs `[weight, grad, mean, var]`, outputs `[new weight, mean, var]` (the
/// states updated in place).
pub(super) fn adam(
    ctx: &GpuOpContext<'_>,
    p: &AdamParam,
    inputs: &[GpuTensor<'_>],
    outputs: &[GpuTensor<'_>],
) -> Result<()> {
    let op = "adam_update";
    let ([w, g, ..], [out, mean, var, ..]) = (inputs, outputs) else {
        return Err(missing(op));
    };
    let n = w.size();
    let [wp, gp, op_, mp, vp] = ptrs(op, [w, g, out, mean, var], n)?;
    // SAFETY: (float* out, float* mean, float* var, const float* w, const float* g,
    // long long n, float lr, float wd, float rescale, float c, float beta1, float beta2,
    // float eps, float omb1, float omb2): the five arrays hold n floats (checked).
    unsafe {
        ctx.launch(
            op,
            "optimizer",
            "optimizer_adam_f32",
            n,
            (
                op_,
                mp,
                vp,
                wp,
                gp,
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
