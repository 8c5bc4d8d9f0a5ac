//! The optimizer updates on the GPU (`kernels/cuda/optimizer.cu`, launched through
//! [`mxr_kernels::cuda::optimizer`]): one elementwise kernel per weight.

use mxr_kernels::cuda::DeviceSlice;
/// The momentum-SGD settings of one weight.
pub(super) use mxr_kernels::cuda::optimizer::Sgd as Mom;
use mxr_kernels::cuda::optimizer::{self as kernels, Adam};

use super::{AdamParam, SgdParam};
use crate::registry::{GpuOpContext, GpuTensor, gpu_error};
use crate::{Error, Result};

/// The float32 elements of `arrays`, checking that each holds `n`.
fn ptrs<'a, const K: usize>(
    op: &str,
    arrays: [&GpuTensor<'a>; K],
    n: usize,
) -> Result<[DeviceSlice<'a, f32>; K]> {
    let mut out = [DeviceSlice::empty(); K];
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
        *o = a.f32(op)?;
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
    let s = Mom {
        lr: p.lr,
        wd: p.wd,
        momentum: 0.0,
        rescale_grad: p.rescale_grad,
        clip_gradient: p.clip_gradient,
    };
    kernels::sgd(ctx.device, &s, [op_, wp, gp], n).map_err(|e| gpu_error(op, e))
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
        Some(m) => Some(ptrs(op, [m], n)?[0]),
        None => None,
    };
    kernels::sgd_mom(ctx.device, s, [op_, wp, gp], mp, n).map_err(|e| gpu_error(op, e))
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
    let a = Adam {
        lr: p.lr,
        wd: p.wd,
        rescale_grad: p.rescale_grad,
        clip_gradient: p.clip_gradient,
        beta1: p.beta1,
        beta2: p.beta2,
        epsilon: p.epsilon,
    };
    kernels::adam(ctx.device, &a, [op_, mp, vp, wp, gp], n).map_err(|e| gpu_error(op, e))
}
