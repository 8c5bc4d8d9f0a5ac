//! The loss layers' GPU kernels (`kernels/cuda/loss.cu`; `SoftmaxOutput`'s forward is
//! `kernels/cuda/softmax.cu`'s).
//!
//! `_backward_SoftmaxOutput` with class labels checks them as the CPU kernel does (an error
//! naming the first label outside `0..classes` that is not `ignore_label`): a kernel counts the
//! bad and the valid labels on the device, and the host waits for the stream and reads the two
//! counts back (one synchronization per call, before the gradient kernel is queued).

use std::sync::Arc;

use mxr_kernels::cuda::loss::{self as kernels, SoftmaxOutputGrad};
use mxr_kernels::cuda::{DeviceSlice, GpuError, memory};

use super::{Normalization, RegressionKind, SoftmaxOutput};
use crate::ops::softmax::gpu::{forward as softmax_forward, zero};
use crate::registry::{GpuOpContext, GpuTensor, check_sizes, gpu_error};
use crate::{Error, Result};

/// `y = x` (a device copy; nothing when the two share memory, the in-place case).
pub(super) fn copy(
    ctx: &GpuOpContext<'_>,
    op: &str,
    x: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let (xp, yp) = (x.f32(op)?, y.f32(op)?);
    check_sizes(op, x.size(), &[y])?;
    ctx.copy(op, yp, xp)
}

/// `SoftmaxOutput`'s forward: softmax over the layer's view, temperature 1.
pub(super) fn softmax_output_forward(
    ctx: &GpuOpContext<'_>,
    so: &SoftmaxOutput,
    x: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let ax = so.view(x.shape)?;
    softmax_forward(ctx, "SoftmaxOutput", ax, (1.0, false), x, None, y)
}

/// `_backward_SoftmaxOutput`: `[output, label] → [data_grad, label_grad]` (the CPU kernel's
/// semantics, see `SoftmaxOutputBackward::compute`).
pub(super) fn softmax_output_backward(
    ctx: &mut GpuOpContext<'_>,
    so: &SoftmaxOutput,
    y: &GpuTensor<'_>,
    label: &GpuTensor<'_>,
    dx: &GpuTensor<'_>,
    dlabel: &GpuTensor<'_>,
) -> Result<()> {
    let op = "_backward_SoftmaxOutput";
    let p = &so.0;
    zero(ctx, op, dlabel)?;
    let (yp, lp, dp) = (y.f32(op)?, label.f32(op)?, dx.f32(op)?);
    check_sizes(op, y.size(), &[dx])?;
    let fail = |e: GpuError| gpu_error(op, e);
    let times_output = p.out_grad;
    let grad_scale = f64::from(p.grad_scale);
    if label.shape == y.shape {
        let n = y.size();
        let scale = (grad_scale as f32, times_output);
        return kernels::softmax_output_prob(ctx.device, [dp, yp, lp], n, scale).map_err(fail);
    }
    let ax = so.view(y.shape)?;
    let lanes = ax.outer * ax.inner;
    if label.size() < lanes {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "{} labels for {lanes} predictions (label shape {:?}, output shape {:?})",
                label.size(),
                label.shape,
                y.shape
            ),
        });
    }
    if ax.size() == 0 {
        return Ok(());
    }
    let ignore = p.ignore_label as i64;
    // Count the bad and the valid labels on the device. The gradient kernel reads the valid
    // count there ('valid' normalization); the bad count is checked once the stream has run
    // (a deferred check: no wait on the training path), failing the operation like the CPU.
    let stats = Arc::new(ctx.temp(op, 16)?);
    let stats_slice = DeviceSlice::<f64>::of_buffer(&stats);
    ctx.zero(op, stats_slice)?;
    kernels::softmax_output_check(ctx.device, stats_slice, lp, lanes, (ax.len, ignore))
        .map_err(fail)?;
    {
        let (dev, stats, classes_n, shape) = (
            Arc::clone(ctx.device),
            Arc::clone(&stats),
            ax.len,
            y.shape.to_vec(),
        );
        // The label's bytes, read back by the check; its buffer is held by the caller until
        // the deferred checks have run, but the slice's lifetime ends with this call: the
        // check reads through a copy made now, in stream order.
        let label_copy = Arc::new(ctx.temp(op, lanes * 4)?);
        ctx.copy(
            op,
            DeviceSlice::of_buffer(&label_copy),
            lp.range(0, lanes).map_err(fail)?,
        )?;
        ctx.check_after(move || {
            let fail = |e: GpuError| gpu_error(op, e);
            // `stats` (held) was written by the check kernel, which has run (deferred checks
            // run after the operation's stream work).
            let mut counts = [0.0f64; 2];
            memory::read(&dev, DeviceSlice::of_buffer(&stats), &mut counts).map_err(fail)?;
            if counts[0] == 0.0 {
                return Ok(());
            }
            let mut values = vec![0f32; lanes];
            memory::read(&dev, DeviceSlice::of_buffer(&label_copy), &mut values).map_err(fail)?;
            let labels = values.iter().map(|&v| f64::from(v));
            // The check kernel's rule: not the ignore value, and not in [0, classes).
            let bad = labels
                .enumerate()
                .find(|&(_, v)| (v as i64) != ignore && !(v >= 0.0 && v < classes_n as f64));
            let (at, value) = bad.unwrap_or((0, f64::NAN));
            Err(Error::BadInput {
                op: "SoftmaxOutput".into(),
                reason: format!(
                    "label {value} at position {at} is not a class index in 0..{classes_n} \
                     (output shape {shape:?})"
                ),
            })
        });
    }
    let norm = match p.normalization {
        Normalization::Null => 1.0,
        Normalization::Batch => ax.outer as f64,
        Normalization::Valid => 1.0, // divided on the device by the valid count
    };
    let spatial = if p.multi_output && p.normalization != Normalization::Valid {
        ax.inner as f64
    } else {
        1.0
    };
    let alpha = if p.multi_output {
        0.0
    } else {
        f64::from(p.smooth_alpha)
    };
    let miss = if ax.len > 1 {
        alpha / (ax.len - 1) as f64
    } else {
        0.0
    };
    let scale = grad_scale / spatial / norm;
    let settings = SoftmaxOutputGrad {
        use_ignore: p.use_ignore,
        ignore,
        hit: (1.0 - alpha) as f32,
        miss: miss as f32,
        scale: scale as f32,
        times_output,
        per_valid: p.normalization == Normalization::Valid,
    };
    kernels::softmax_output_grad(ctx.device, ax, &settings, [dp, yp, lp], stats_slice).map_err(fail)
}

/// The regression layers' forward: identity, or sigmoid for the logistic one.
pub(super) fn regression_forward(
    ctx: &GpuOpContext<'_>,
    kind: RegressionKind,
    x: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let op = kind.name();
    if kind != RegressionKind::Logistic {
        return copy(ctx, op, x, y);
    }
    let (xp, yp) = (x.f32(op)?, y.f32(op)?);
    let n = x.size();
    check_sizes(op, n, &[y])?;
    kernels::sigmoid(ctx.device, [yp, xp], n).map_err(|e| gpu_error(op, e))
}

/// The regression layers' backward: `[label, output] → [data_grad, label_grad]`.
pub(super) fn regression_backward(
    ctx: &GpuOpContext<'_>,
    kind: RegressionKind,
    grad_scale: f32,
    inputs: &[GpuTensor<'_>],
    outputs: &[GpuTensor<'_>],
) -> Result<()> {
    let op = kind.backward_name();
    let ([label, out, ..], [dx, dlabel, ..]) = (inputs, outputs) else {
        return Err(super::missing_outputs(op));
    };
    zero(ctx, op, dlabel)?;
    if label.size() != out.size() {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "label shape {:?} does not match the output shape {:?}",
                label.shape, out.shape
            ),
        });
    }
    let n = out.size();
    check_sizes(op, n, &[dx])?;
    let (lp, op_, dp) = (label.f32(op)?, out.f32(op)?, dx.f32(op)?);
    let rows = label.shape.first().copied().unwrap_or(1).max(1);
    let num_output = (label.size() / rows).max(1);
    let scale = f64::from(grad_scale) / num_output as f64;
    let mae = kind == RegressionKind::Mae;
    kernels::regression_backward(ctx.device, [dp, lp, op_], n, (scale as f32, mae))
        .map_err(|e| gpu_error(op, e))
}

/// `_backward_MakeLoss`: `dx = grad_scale / norm`; for `'valid'` the count of data elements
/// above `valid_thresh` is taken on the device (no synchronization).
pub(super) fn make_loss_backward(
    ctx: &GpuOpContext<'_>,
    p: &super::MakeLossParam,
    data: &GpuTensor<'_>,
    dx: &GpuTensor<'_>,
) -> Result<()> {
    let op = "_backward_MakeLoss";
    let dp = dx.f32(op)?;
    let fail = |e: GpuError| gpu_error(op, e);
    let grad_scale = f64::from(p.grad_scale);
    let (norm, count) = match p.normalization {
        Normalization::Null => (1.0, None),
        Normalization::Batch => (data.shape.first().copied().unwrap_or(1).max(1) as f64, None),
        Normalization::Valid => {
            let xp = data.f32(op)?;
            let count = ctx.temp(op, 8)?;
            ctx.zero(op, DeviceSlice::<f64>::of_buffer(&count))?;
            kernels::count_above(
                ctx.device,
                DeviceSlice::of_buffer(&count),
                xp,
                p.valid_thresh,
            )
            .map_err(fail)?;
            (1.0, Some(count))
        }
    };
    // The count buffer may be dropped once this launch is queued (see `GpuOpContext::temp`).
    let count = count.as_ref().map(DeviceSlice::of_buffer);
    kernels::make_loss_grad(ctx.device, dp, (grad_scale, norm), count).map_err(fail)
}
