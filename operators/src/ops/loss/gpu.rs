//! The loss layers' GPU kernels (`kernels/cuda/loss.cu`; `SoftmaxOutput`'s forward is
//! `kernels/cuda/softmax.cu`'s).
//!
//! `_backward_SoftmaxOutput` with class labels checks them as the CPU kernel does (an error
//! naming the first label outside `0..classes` that is not `ignore_label`): a kernel counts the
//! bad and the valid labels on the device, and the host waits for the stream and reads the two
//! counts back (one synchronization per call, before the gradient kernel is queued).
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use std::sync::Arc;

use mxr_engine::gpu::{DevicePtr, GpuBuffer, GpuDevice};

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
    let (xp, yp) = (x.f32_ptr(op)?, y.f32_ptr(op)?);
    check_sizes(op, x.size(), &[y])?;
    if xp == yp {
        return Ok(());
    }
    // SAFETY: both hold x.size() floats (checked); distinct buffers do not overlap.
    unsafe { ctx.copy_raw(op, yp, xp, x.size() * std::mem::size_of::<f32>()) }
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

/// Reads `n` doubles from `buf` (after the work writing them has run).
///
/// # Safety
/// `buf` holds at least `n` doubles and no queued work still writes them.
unsafe fn read_doubles(dev: &GpuDevice, buf: DevicePtr, n: usize) -> mxr_engine::Result<Vec<f64>> {
    let mut bytes = vec![0u8; n * 8];
    // SAFETY: the caller's contract.
    unsafe { dev.read_to_host(buf, &mut bytes)? };
    Ok(bytes
        .chunks_exact(8)
        .map(|c| f64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
        .collect())
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
    let (yp, lp, dp) = (y.f32_ptr(op)?, label.f32_ptr(op)?, dx.f32_ptr(op)?);
    check_sizes(op, y.size(), &[dx])?;
    let times_output = i32::from(p.out_grad);
    let grad_scale = f64::from(p.grad_scale);
    if label.shape == y.shape {
        let n = y.size();
        // SAFETY: (float* dx, const float* y, const float* label, long long n, float scale,
        // int times_output): all three hold n floats (same shapes, checked).
        return unsafe {
            ctx.launch(
                op,
                "loss",
                "loss_softmax_output_prob_f32",
                n,
                (dp, yp, lp, n as i64, grad_scale as f32, times_output),
            )
        };
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
    let classes = ax.len as i64;
    // Count the bad and the valid labels on the device. The gradient kernel reads the valid
    // count there ('valid' normalization); the bad count is checked once the stream has run
    // (a deferred check: no wait on the training path), failing the operation like the CPU.
    let stats = Arc::new(ctx.temp(op, 16)?);
    // SAFETY: `stats` holds 2 doubles; (double* stats, const float* label, long long lanes,
    // long long classes, long long ignore): the label holds at least `lanes` floats (checked).
    unsafe {
        ctx.zero_raw(op, stats.ptr(), 16)?;
        ctx.launch(
            op,
            "loss",
            "loss_softmax_output_check_f32",
            lanes,
            (stats.ptr(), lp, lanes as i64, classes, ignore),
        )?;
    }
    {
        let (dev, stats, classes_n, shape) = (
            Arc::clone(ctx.device),
            Arc::clone(&stats),
            ax.len,
            y.shape.to_vec(),
        );
        ctx.check_after(move || {
            let fail = |e: mxr_engine::Error| gpu_error(op, e.into());
            // SAFETY: `stats` (held) holds 2 doubles written by the check kernel, which has run
            // (deferred checks run after the operation's stream work).
            let counts = unsafe { read_doubles(&dev, stats.ptr(), 2) }.map_err(fail)?;
            if counts[0] == 0.0 {
                return Ok(());
            }
            let mut bytes = vec![0u8; lanes * 4];
            // SAFETY: the label holds at least `lanes` floats (checked before queueing) and its
            // buffer is held by the caller until the deferred checks have run.
            unsafe { dev.read_to_host(lp, &mut bytes) }.map_err(fail)?;
            let labels = bytes
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_ne_bytes(c.try_into().unwrap_or([0; 4]))));
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
    // SAFETY: (float* dx, const float* y, const float* label, long long outer, long long
    // classes, long long inner, int use_ignore, long long ignore, float hit, float miss,
    // float scale, int times_output, const double* stats, int per_valid): dx and y hold
    // outer·classes·inner floats, `stats` 2 doubles (held until the work has run), the label at
    // least outer·inner (checked).
    unsafe {
        ctx.launch(
            op,
            "loss",
            "loss_softmax_output_grad_f32",
            ax.size(),
            (
                dp,
                yp,
                lp,
                ax.outer as i64,
                classes,
                ax.inner as i64,
                i32::from(p.use_ignore),
                ignore,
                (1.0 - alpha) as f32,
                miss as f32,
                scale as f32,
                times_output,
                stats.ptr(),
                i32::from(p.normalization == Normalization::Valid),
            ),
        )
    }
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
    let (xp, yp) = (x.f32_ptr(op)?, y.f32_ptr(op)?);
    let n = x.size();
    check_sizes(op, n, &[y])?;
    // SAFETY: (float* y, const float* x, long long n): both hold n floats (checked).
    unsafe { ctx.launch(op, "loss", "loss_sigmoid_f32", n, (yp, xp, n as i64)) }
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
    let (lp, op_, dp) = (label.f32_ptr(op)?, out.f32_ptr(op)?, dx.f32_ptr(op)?);
    let rows = label.shape.first().copied().unwrap_or(1).max(1);
    let num_output = (label.size() / rows).max(1);
    let scale = f64::from(grad_scale) / num_output as f64;
    let mae = i32::from(kind == RegressionKind::Mae);
    // SAFETY: (float* dx, const float* label, const float* out, long long n, float scale,
    // int mae): all three hold n floats (checked).
    unsafe {
        ctx.launch(
            op,
            "loss",
            "loss_regression_backward_f32",
            n,
            (dp, lp, op_, n as i64, scale as f32, mae),
        )
    }
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
    let dp = dx.f32_ptr(op)?;
    let n = dx.size();
    let grad_scale = f64::from(p.grad_scale);
    let (norm, count) = match p.normalization {
        Normalization::Null => (1.0, None),
        Normalization::Batch => (data.shape.first().copied().unwrap_or(1).max(1) as f64, None),
        Normalization::Valid => {
            let xp = data.f32_ptr(op)?;
            let count = ctx.temp(op, 8)?;
            let m = data.size();
            // SAFETY: `count` holds one double; (double* count, const float* x, long long n,
            // float thresh): the data holds m floats.
            unsafe {
                ctx.zero_raw(op, count.ptr(), 8)?;
                ctx.launch(
                    op,
                    "loss",
                    "loss_count_above_f32",
                    m,
                    (count.ptr(), xp, m as i64, p.valid_thresh),
                )?;
            }
            (1.0, Some(count))
        }
    };
    let cp = count.as_ref().map_or(DevicePtr(0), GpuBuffer::ptr);
    // SAFETY: (float* dx, long long n, double grad_scale, double norm, const double* count):
    // dx holds n floats; `count` is null or one double, written by the kernel queued before
    // (the buffer may be dropped once this launch is queued: see `GpuOpContext::temp`).
    unsafe {
        ctx.launch(
            op,
            "loss",
            "loss_make_loss_grad_f32",
            n,
            (dp, n as i64, grad_scale, norm, cp),
        )
    }
}
