//! GPU kernels of the same-shape binary operators and `where` (`kernels/cuda/elemwise.cu`).
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use mxr_engine::gpu::DevicePtr;
use mxr_kernels::DType;
use mxr_kernels::cpu::elementwise::BinaryOp;

use crate::registry::{GpuOpContext, GpuTensor, check_sizes};
use crate::{Error, Result};

/// The kernels' binary op code.
pub(crate) fn code(op: BinaryOp) -> i32 {
    match op {
        BinaryOp::Add => 0,
        BinaryOp::Sub => 1,
        BinaryOp::Mul => 2,
        BinaryOp::Div => 3,
    }
}

/// `out = lhs ∘ rhs` for operands of one size (`out` may alias an operand).
pub(crate) fn binary(
    ctx: &GpuOpContext<'_>,
    name: &str,
    op: BinaryOp,
    lhs: &GpuTensor<'_>,
    rhs: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
) -> Result<()> {
    let n = out.size();
    check_sizes(name, n, &[lhs, rhs])?;
    let (o, a, b) = (out.f32_ptr(name)?, lhs.f32_ptr(name)?, rhs.f32_ptr(name)?);
    // SAFETY: (float* out, const float* a, const float* b, long long n, int op); all three hold
    // n float32 elements (checked above), alive until the operation completes (the caller's
    // contract for GPU kernels); aliasing is fine: item i reads a[i], b[i] before writing out[i].
    unsafe {
        ctx.launch(
            name,
            "elemwise",
            "elemwise_binary_f32",
            n,
            (o, a, b, n as i64, code(op)),
        )
    }
}

/// The gradients of `lhs ∘ rhs` (`lhs`, `rhs` are read for mul and div only; `None` for add
/// and sub).
pub(crate) fn binary_backward(
    ctx: &GpuOpContext<'_>,
    name: &str,
    op: BinaryOp,
    g: &GpuTensor<'_>,
    operands: Option<(&GpuTensor<'_>, &GpuTensor<'_>)>,
    dl: &GpuTensor<'_>,
    dr: &GpuTensor<'_>,
) -> Result<()> {
    let n = g.size();
    check_sizes(name, n, &[dl, dr])?;
    let gp = g.f32_ptr(name)?;
    let (a, b) = match operands {
        Some((l, r)) => {
            check_sizes(name, n, &[l, r])?;
            (l.f32_ptr(name)?, r.f32_ptr(name)?)
        }
        None if matches!(op, BinaryOp::Add | BinaryOp::Sub) => (gp, gp),
        None => {
            return Err(Error::BadInput {
                op: name.to_string(),
                reason: "mul and div gradients need both operands".into(),
            });
        }
    };
    let (dlp, drp) = (dl.f32_ptr(name)?, dr.f32_ptr(name)?);
    // SAFETY: (float* da, float* db, const float* g, const float* a, const float* b,
    // long long n, int op); every pointer addresses n float32 elements (checked above; for add
    // and sub a and b are g, never read), alive until the operation completes.
    unsafe {
        ctx.launch(
            name,
            "elemwise",
            "elemwise_binary_backward_f32",
            n,
            (dlp, drp, gp, a, b, n as i64, code(op)),
        )
    }
}

/// `out = cond != 0 ? x : y`, one condition value per `row` elements.
pub(super) fn select(
    ctx: &GpuOpContext<'_>,
    cond: &GpuTensor<'_>,
    x: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
    row: usize,
) -> Result<()> {
    let name = "where";
    let n = out.size();
    check_sizes(name, n, &[x, y])?;
    check_cond(name, cond, n, row)?;
    let (c, ct) = cond_ptr(name, cond)?;
    let (o, xp, yp) = (out.f32_ptr(name)?, x.f32_ptr(name)?, y.f32_ptr(name)?);
    // SAFETY: (float* out, const void* cond, int ctype, const float* x, const float* y,
    // long long n, long long row); out, x, y hold n float32 elements and cond n / row values of
    // the dtype `ct` names (checked above), alive until the operation completes.
    unsafe {
        ctx.launch(
            name,
            "elemwise",
            "elemwise_where_f32",
            n,
            (o, c, ct, xp, yp, n as i64, row as i64),
        )
    }
}

/// `(dx, dy)`: the head gradient split by the condition.
pub(super) fn select_backward(
    ctx: &GpuOpContext<'_>,
    g: &GpuTensor<'_>,
    cond: &GpuTensor<'_>,
    dx: &GpuTensor<'_>,
    dy: &GpuTensor<'_>,
    row: usize,
) -> Result<()> {
    let name = "_backward_where";
    let n = g.size();
    check_sizes(name, n, &[dx, dy])?;
    check_cond(name, cond, n, row)?;
    let (c, ct) = cond_ptr(name, cond)?;
    let (dxp, dyp, gp) = (dx.f32_ptr(name)?, dy.f32_ptr(name)?, g.f32_ptr(name)?);
    // SAFETY: (float* dx, float* dy, const float* g, const void* cond, int ctype, long long n,
    // long long row); dx, dy, g hold n float32 elements and cond n / row values of the dtype
    // `ct` names (checked above), alive until the operation completes.
    unsafe {
        ctx.launch(
            name,
            "elemwise",
            "elemwise_where_backward_f32",
            n,
            (dxp, dyp, gp, c, ct, n as i64, row as i64),
        )
    }
}

/// The condition's address and the kernels' dtype code for it (any dtype `where` takes on the
/// CPU except float16).
fn cond_ptr(name: &str, cond: &GpuTensor<'_>) -> Result<(DevicePtr, i32)> {
    let code = match cond.dtype {
        DType::F32 => 0,
        DType::F64 => 1,
        DType::I32 => 2,
        DType::I64 => 3,
        DType::U8 => 4,
        DType::I8 => 5,
        other => {
            return Err(Error::Unsupported {
                op: name.to_string(),
                what: format!("a {other} condition on the GPU"),
            });
        }
    };
    Ok((cond.ptr, code))
}

/// The condition holds one value per `row` elements of `n`.
fn check_cond(name: &str, cond: &GpuTensor<'_>, n: usize, row: usize) -> Result<()> {
    if n > 0 && (row == 0 || cond.size() * row != n) {
        return Err(Error::BadInput {
            op: name.to_string(),
            reason: format!(
                "condition {:?} does not hold one value per {row} of {n} elements",
                cond.shape
            ),
        });
    }
    Ok(())
}
