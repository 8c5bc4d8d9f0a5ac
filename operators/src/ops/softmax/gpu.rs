//! `softmax` / `log_softmax` and their backward ops on the GPU (`kernels/cuda/softmax.cu`):
//! one work item per lane along the axis.
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use mxr_engine::gpu::DevicePtr;
use mxr_kernels::DType;
use mxr_kernels::cpu::softmax::Axis;

use crate::registry::{GpuOpContext, GpuTensor, check_sizes};
use crate::{Error, Result};

/// The kernel's code for a length array's dtype (its `DType` flag); float16 lengths are not
/// read on the GPU.
fn length_code(op: &str, dtype: DType) -> Result<i32> {
    match dtype {
        DType::F32 | DType::F64 | DType::U8 | DType::I32 | DType::I8 | DType::I64 => {
            Ok(dtype as i32)
        }
        DType::F16 => Err(Error::Unsupported {
            op: op.into(),
            what: "float16 lengths on the GPU".into(),
        }),
    }
}

/// `y = softmax(x / t)` (`log`: log-softmax; the pair is `(t, log)`) along the axis of `ax`, with optional lengths.
/// Also `SoftmaxOutput`'s forward (`t = 1`, no lengths).
pub(crate) fn forward(
    ctx: &GpuOpContext<'_>,
    op: &str,
    ax: Axis,
    (t, log): (f32, bool),
    x: &GpuTensor<'_>,
    lengths: Option<&GpuTensor<'_>>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let (xp, yp) = (x.f32_ptr(op)?, y.f32_ptr(op)?);
    check_sizes(op, ax.size(), &[x])?;
    check_sizes(op, ax.size(), &[y])?;
    let (lp, code) = match lengths {
        Some(l) => {
            check_sizes(op, ax.outer * ax.inner, &[l])?;
            (l.ptr(), length_code(op, l.dtype)?)
        }
        None => (DevicePtr(0), 0),
    };
    let lanes = ax.outer * ax.inner;
    // SAFETY: (float* y, const float* x, long long outer, long long len, long long inner,
    // float t, int log, const unsigned char* lengths, int ltype): x and y hold outer·len·inner
    // floats, the lengths (or null) one value of dtype flag `ltype` per lane (checked above);
    // y is an output, which aliases no input.
    unsafe {
        ctx.launch(
            op,
            "softmax",
            "softmax_forward_f32",
            lanes,
            (
                yp,
                xp,
                ax.outer as i64,
                ax.len as i64,
                ax.inner as i64,
                t,
                i32::from(log),
                lp,
                code,
            ),
        )
    }
}

/// `dx` from the head gradient `g` and the output `y`.
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    op: &str,
    ax: Axis,
    (t, log): (f32, bool),
    g: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
    dx: &GpuTensor<'_>,
) -> Result<()> {
    let (gp, yp, dp) = (g.f32_ptr(op)?, y.f32_ptr(op)?, dx.f32_ptr(op)?);
    for a in [g, y, dx] {
        check_sizes(op, ax.size(), &[a])?;
    }
    // SAFETY: (float* dx, const float* g, const float* y, long long outer, long long len,
    // long long inner, float t, int log): all three hold outer·len·inner floats (checked).
    unsafe {
        ctx.launch(
            op,
            "softmax",
            "softmax_backward_f32",
            ax.outer * ax.inner,
            (
                dp,
                gp,
                yp,
                ax.outer as i64,
                ax.len as i64,
                ax.inner as i64,
                t,
                i32::from(log),
            ),
        )
    }
}

/// Zeroes an output (of any dtype): the gradient of integer inputs.
pub(crate) fn zero(ctx: &GpuOpContext<'_>, op: &str, t: &GpuTensor<'_>) -> Result<()> {
    // SAFETY: the tensor holds `size` elements of its dtype, alive until the work has run.
    unsafe { ctx.zero_raw(op, t.ptr(), t.size() * t.dtype.size()) }
}
