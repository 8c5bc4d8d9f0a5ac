//! `LeakyReLU`'s GPU kernels (`kernels/cuda/leaky_relu.cu`, launched through
//! [`mxr_kernels::cuda::leaky_relu`]).

use mxr_kernels::cuda::{DeviceSlice, GpuError, init, leaky_relu as kernels};

use super::{LeakyActType, LeakyReLUParam, prelu_inner};
use crate::registry::{GpuOpContext, GpuTensor, check_sizes, f32_slices, gpu_error};
use crate::{Error, Result};

/// `LeakyReLU` forward: `inputs` (data[, gamma]), `outputs` (output[, mask]).
pub(super) fn forward(
    ctx: &mut GpuOpContext<'_>,
    param: &LeakyReLUParam,
    inputs: &[GpuTensor<'_>],
    outputs: &[GpuTensor<'_>],
) -> Result<()> {
    let name = "LeakyReLU";
    let (x, y) = (&inputs[0], &outputs[0]);
    let (n, [yp, xp]) = f32_slices(name, [y, x])?;
    let fail = |e: GpuError| gpu_error(name, e);
    if let Some(act) = param.simple() {
        return kernels::forward(ctx.device, act, yp, xp, n).map_err(fail);
    }
    if param.act_type == LeakyActType::Prelu {
        let gamma = &inputs[1];
        let gp = gamma.f32(name)?;
        let (inner, channels) = prelu_layout(name, x, gamma, n)?;
        if n == 0 {
            return Ok(());
        }
        return kernels::prelu(ctx.device, [yp, xp, gp], n, inner, channels).map_err(fail);
    }
    // rrelu: the slopes go to the mask output first, drawn on the host in the CPU order.
    let mask = outputs.get(1).ok_or_else(|| Error::BadInput {
        op: name.into(),
        reason: "rrelu has two outputs (output, mask)".into(),
    })?;
    check_sizes(name, n, &[mask])?;
    let mp = mask.f32(name)?;
    if ctx.is_train {
        let (lo, hi) = (f64::from(param.lower_bound), f64::from(param.upper_bound));
        let rng = ctx.rng(name)?;
        let slopes: Vec<f32> = (0..n)
            .map(|_| (lo + (hi - lo) * rng.uniform_f64()) as f32)
            .collect();
        if n > 0 {
            // The staging block may be dropped once the copy is queued.
            let staged = ctx.upload(name, &slopes)?;
            ctx.copy(name, mp, DeviceSlice::of_buffer(&staged))?;
        }
    } else {
        init::fill(ctx.device, mp, param.mean_slope() as f32).map_err(fail)?;
    }
    // The mask's writes above are queued earlier on the same stream.
    kernels::rrelu(ctx.device, [yp, xp, mp], n).map_err(fail)
}

/// PReLU's (inner, channels) for data `x` of `n` elements and `gamma`, as the CPU kernel
/// computes them.
fn prelu_layout(
    name: &str,
    x: &GpuTensor<'_>,
    gamma: &GpuTensor<'_>,
    n: usize,
) -> Result<(usize, usize)> {
    let channels = gamma.size();
    if channels == 0 && n > 0 {
        return Err(Error::Unsupported {
            op: name.into(),
            what: "prelu with an empty gamma on the GPU".into(),
        });
    }
    Ok((prelu_inner(x.shape, channels).max(1), channels.max(1)))
}

/// `_backward_LeakyReLU`: inputs (g, x, y); (g, x, gamma, y) for prelu (outputs dx, dgamma);
/// (g, g_mask, x, y, mask) for rrelu.
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    param: &LeakyReLUParam,
    inputs: &[GpuTensor<'_>],
    outputs: &[GpuTensor<'_>],
) -> Result<()> {
    let name = "_backward_LeakyReLU";
    let (g, dx) = (&inputs[0], &outputs[0]);
    let (n, [dp, gp]) = f32_slices(name, [dx, g])?;
    let fail = |e: GpuError| gpu_error(name, e);
    if let Some(act) = param.simple() {
        let (x, y) = (&inputs[1], &inputs[2]);
        check_sizes(name, n, &[x, y])?;
        let (xp, yp) = (x.f32(name)?, y.f32(name)?);
        return kernels::backward(ctx.device, act, [dp, gp, xp, yp], n).map_err(fail);
    }
    if param.act_type == LeakyActType::Rrelu {
        let (y, mask) = (&inputs[3], &inputs[4]);
        check_sizes(name, n, &[y, mask])?;
        let (yp, mp) = (y.f32(name)?, mask.f32(name)?);
        return kernels::rrelu_backward(ctx.device, [dp, gp, yp, mp], n).map_err(fail);
    }
    let (x, gamma) = (&inputs[1], &inputs[2]);
    check_sizes(name, n, &[x])?;
    let dgamma = outputs.get(1).ok_or_else(|| Error::BadInput {
        op: name.into(),
        reason: "prelu's gradient has two outputs (data_grad, gamma_grad)".into(),
    })?;
    check_sizes(name, gamma.size(), &[dgamma])?;
    let (xp, gmp, dgp) = (x.f32(name)?, gamma.f32(name)?, dgamma.f32(name)?);
    let (inner, channels) = prelu_layout(name, x, gamma, n)?;
    if n > 0 && ctx.output_needed(0) {
        kernels::prelu_backward_dx(ctx.device, [dp, gp, xp, gmp], n, inner, channels)
            .map_err(fail)?;
    }
    if gamma.size() == 0 || !ctx.output_needed(1) {
        return Ok(());
    }
    kernels::prelu_backward_dgamma(ctx.device, [dgp, gp, xp], n, inner, channels).map_err(fail)
}
