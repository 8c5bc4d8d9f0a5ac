//! `LeakyReLU`'s GPU kernels (`kernels/cuda/leaky_relu.cu`).
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use mxr_kernels::cpu::elementwise::{LeakyAct, SELU_ALPHA, SELU_LAMBDA};

use super::{LeakyActType, LeakyReLUParam, prelu_inner};
use crate::registry::check_sizes;
use crate::registry::{GpuOpContext, GpuTensor};
use crate::{Error, Result};

const SOURCE: &str = "leaky_relu";

/// The kernels' act code and parameters (p, q) for the forward (`backward == false`) or
/// backward kernel, cast to float32 as the CPU kernel casts them.
fn code(act: LeakyAct, backward: bool) -> (i32, f32, f32) {
    match act {
        LeakyAct::Leaky { slope } => (0, slope as f32, 0.0),
        LeakyAct::Elu { slope } => (1, slope as f32, 0.0),
        LeakyAct::Selu if backward => (2, SELU_LAMBDA as f32, SELU_ALPHA as f32),
        LeakyAct::Selu => (2, SELU_LAMBDA as f32, (SELU_LAMBDA * SELU_ALPHA) as f32),
        LeakyAct::Gelu => (3, 0.0, 0.0),
    }
}

/// `LeakyReLU` forward: `inputs` (data[, gamma]), `outputs` (output[, mask]).
pub(super) fn forward(
    ctx: &mut GpuOpContext<'_>,
    param: &LeakyReLUParam,
    inputs: &[GpuTensor<'_>],
    outputs: &[GpuTensor<'_>],
) -> Result<()> {
    let name = "LeakyReLU";
    let (x, y) = (&inputs[0], &outputs[0]);
    let n = y.size();
    check_sizes(name, n, &[x])?;
    let (xp, yp) = (x.f32_ptr(name)?, y.f32_ptr(name)?);
    if let Some(act) = param.simple() {
        let (c, p, q) = code(act, false);
        // SAFETY: (float* y, const float* x, long long n, int act, float p, float q); both hold
        // n float32 elements (checked above), alive until the operation completes; y may be x
        // (item i reads before it writes).
        return unsafe {
            ctx.launch(
                name,
                SOURCE,
                "leaky_relu_forward_f32",
                n,
                (yp, xp, n as i64, c, p, q),
            )
        };
    }
    if param.act_type == LeakyActType::Prelu {
        let gamma = &inputs[1];
        let gp = gamma.f32_ptr(name)?;
        let (inner, channels) = prelu_layout(name, x, gamma, n)?;
        // SAFETY: (float* y, const float* x, const float* gamma, long long n, long long inner,
        // long long channels); y and x hold n float32 elements, gamma `channels` (indices taken
        // modulo channels), alive until the operation completes.
        return unsafe {
            ctx.launch(
                name,
                SOURCE,
                "leaky_relu_prelu_f32",
                n,
                (yp, xp, gp, n as i64, inner as i64, channels as i64),
            )
        };
    }
    // rrelu: the slopes go to the mask output first, drawn on the host in the CPU order.
    let mask = outputs.get(1).ok_or_else(|| Error::BadInput {
        op: name.into(),
        reason: "rrelu has two outputs (output, mask)".into(),
    })?;
    check_sizes(name, n, &[mask])?;
    let mp = mask.f32_ptr(name)?;
    if ctx.is_train {
        let (lo, hi) = (f64::from(param.lower_bound), f64::from(param.upper_bound));
        let rng = ctx.rng(name)?;
        let bytes: Vec<u8> = (0..n)
            .flat_map(|_| ((lo + (hi - lo) * rng.uniform_f64()) as f32).to_ne_bytes())
            .collect();
        if n > 0 {
            let staged = ctx.upload(name, &bytes)?;
            // SAFETY: `staged` and the mask output both hold n float32 values, distinct buffers
            // alive until the copy completes (the staging block may be dropped once queued).
            unsafe { ctx.copy(name, mp, staged.ptr(), bytes.len())? };
        }
    } else {
        let slope = param.mean_slope() as f32;
        // SAFETY: (float* out, long long n, float v); the mask holds n float32 elements, alive
        // until the operation completes.
        unsafe { ctx.launch(name, "init", "init_fill_f32", n, (mp, n as i64, slope))? };
    }
    // SAFETY: (float* y, const float* x, const float* mask, long long n); all hold n float32
    // elements (checked above), distinct outputs and input, alive until the operation
    // completes; the mask's writes above are queued earlier on the same stream.
    unsafe {
        ctx.launch(
            name,
            SOURCE,
            "leaky_relu_rrelu_f32",
            n,
            (yp, xp, mp, n as i64),
        )
    }
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
    let n = dx.size();
    check_sizes(name, n, &[g])?;
    let (gp, dp) = (g.f32_ptr(name)?, dx.f32_ptr(name)?);
    if let Some(act) = param.simple() {
        let (x, y) = (&inputs[1], &inputs[2]);
        check_sizes(name, n, &[x, y])?;
        let (xp, yp) = (x.f32_ptr(name)?, y.f32_ptr(name)?);
        let (c, p, q) = code(act, true);
        // SAFETY: (float* dx, const float* g, const float* x, const float* y, long long n,
        // int act, float p, float q); all hold n float32 elements (checked above), alive until
        // the operation completes.
        return unsafe {
            ctx.launch(
                name,
                SOURCE,
                "leaky_relu_backward_f32",
                n,
                (dp, gp, xp, yp, n as i64, c, p, q),
            )
        };
    }
    if param.act_type == LeakyActType::Rrelu {
        let (y, mask) = (&inputs[3], &inputs[4]);
        check_sizes(name, n, &[y, mask])?;
        let (yp, mp) = (y.f32_ptr(name)?, mask.f32_ptr(name)?);
        // SAFETY: (float* dx, const float* g, const float* y, const float* mask, long long n);
        // all hold n float32 elements (checked above), alive until the operation completes.
        return unsafe {
            ctx.launch(
                name,
                SOURCE,
                "leaky_relu_rrelu_backward_f32",
                n,
                (dp, gp, yp, mp, n as i64),
            )
        };
    }
    let (x, gamma) = (&inputs[1], &inputs[2]);
    check_sizes(name, n, &[x])?;
    let dgamma = outputs.get(1).ok_or_else(|| Error::BadInput {
        op: name.into(),
        reason: "prelu's gradient has two outputs (data_grad, gamma_grad)".into(),
    })?;
    check_sizes(name, gamma.size(), &[dgamma])?;
    let (xp, gmp, dgp) = (
        x.f32_ptr(name)?,
        gamma.f32_ptr(name)?,
        dgamma.f32_ptr(name)?,
    );
    let (inner, channels) = prelu_layout(name, x, gamma, n)?;
    if ctx.output_needed(0) {
        // SAFETY: (float* dx, const float* g, const float* x, const float* gamma, long long n,
        // long long inner, long long channels); dx, g, x hold n float32 elements, gamma
        // `channels` (indices taken modulo channels), alive until the operation completes.
        unsafe {
            ctx.launch(
                name,
                SOURCE,
                "leaky_relu_prelu_backward_dx_f32",
                n,
                (dp, gp, xp, gmp, n as i64, inner as i64, channels as i64),
            )?;
        }
    }
    if !ctx.output_needed(1) {
        return Ok(());
    }
    // SAFETY: (float* dgamma, const float* g, const float* x, long long n, long long inner,
    // long long channels); one item per gamma value (gamma.size() items, dgamma holds them),
    // g and x hold n float32 elements, alive until the operation completes.
    unsafe {
        ctx.launch(
            name,
            SOURCE,
            "leaky_relu_prelu_backward_dgamma_f32",
            gamma.size(),
            (dgp, gp, xp, n as i64, inner as i64, channels as i64),
        )
    }
}
