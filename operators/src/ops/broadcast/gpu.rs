//! GPU kernels of the broadcasting binary operators (`kernels/cuda/broadcast.cu`); equal
//! shapes take the element-wise kernels of `kernels/cuda/elemwise.cu`.
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use mxr_kernels::cpu::broadcast as bc;
use mxr_kernels::cpu::elementwise::BinaryOp;

use crate::ops::elemwise::gpu::{self as ew_gpu, code};
use crate::registry::check_sizes;
use crate::registry::{GpuOpContext, GpuTensor};
use crate::{Error, Result};

/// `shape` right-aligned to `n` dimensions (1 in the padding).
fn padded(shape: &[usize], n: usize) -> Vec<usize> {
    let mut dims = vec![1; n - shape.len()];
    dims.extend_from_slice(shape);
    dims
}

/// Row-major element strides of `dims`, 0 along the axes of size 1 (broadcast ones).
fn strides(dims: &[usize]) -> Vec<i64> {
    let mut out = vec![0i64; dims.len()];
    let mut s = 1i64;
    for (k, &d) in dims.iter().enumerate().rev() {
        out[k] = if d == 1 { 0 } else { s };
        s *= d as i64;
    }
    out
}

/// The broadcast shape of the operands, checked against `out`.
fn plan(name: &str, l: &GpuTensor<'_>, r: &GpuTensor<'_>, out: &[usize]) -> Result<Vec<usize>> {
    let shape = bc::broadcast_shape(l.shape, r.shape).map_err(|e| Error::BadInput {
        op: name.to_string(),
        reason: e.to_string(),
    })?;
    if shape != out {
        return Err(Error::BadInput {
            op: name.to_string(),
            reason: format!("the broadcast shape is {shape:?}, the output {out:?}"),
        });
    }
    Ok(shape)
}

/// Uploads an `i64` table.
fn table(ctx: &GpuOpContext<'_>, name: &str, values: &[i64]) -> Result<mxr_engine::gpu::GpuBuffer> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    // An empty upload (0-D operands) still gets a valid address.
    let bytes = if bytes.is_empty() { vec![0; 8] } else { bytes };
    ctx.upload(name, &bytes)
}

/// `out = lhs ∘ rhs` with broadcasting.
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    name: &str,
    op: BinaryOp,
    l: &GpuTensor<'_>,
    r: &GpuTensor<'_>,
    out: &GpuTensor<'_>,
) -> Result<()> {
    if l.shape == r.shape {
        return ew_gpu::binary(ctx, name, op, l, r, out);
    }
    let shape = plan(name, l, r, out.shape)?;
    let nd = shape.len();
    let n = out.size();
    let mut t: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    t.extend(strides(&padded(l.shape, nd)));
    t.extend(strides(&padded(r.shape, nd)));
    let (o, a, b) = (out.f32_ptr(name)?, l.f32_ptr(name)?, r.f32_ptr(name)?);
    let tab = table(ctx, name, &t)?;
    // SAFETY: (float* out, const float* a, const float* b, const long long* table, int ndim,
    // long long n, int op); out holds n float32 elements of the broadcast shape (checked by
    // `plan`), a and b their own shapes' elements, addressed through strides of those shapes
    // (0 along broadcast axes), so every offset is in bounds; the table holds 3·ndim values.
    // All alive until the operation completes (the temp table may be dropped once queued).
    unsafe {
        ctx.launch(
            name,
            "broadcast",
            "broadcast_binary_f32",
            n,
            (o, a, b, tab.ptr(), nd as i32, n as i64, code(op)),
        )
    }
}

/// The gradients of `lhs ∘ rhs` with broadcasting, each summed to its operand's shape:
/// inputs (g, lhs, rhs), outputs (lhs_grad, rhs_grad). The operands' values are read for mul
/// and div only.
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    name: &str,
    op: BinaryOp,
    inputs: &[GpuTensor<'_>],
    outputs: &[GpuTensor<'_>],
) -> Result<()> {
    let (g, l, r) = (&inputs[0], &inputs[1], &inputs[2]);
    let (dl, dr) = (&outputs[0], &outputs[1]);
    let reads = matches!(op, BinaryOp::Mul | BinaryOp::Div);
    if l.shape == r.shape {
        return ew_gpu::binary_backward(ctx, name, op, g, reads.then_some((l, r)), dl, dr);
    }
    let shape = plan(name, l, r, g.shape)?;
    check_sizes(name, l.size(), &[dl])?;
    check_sizes(name, r.size(), &[dr])?;
    let nd = shape.len();
    let (lp, rp) = (padded(l.shape, nd), padded(r.shape, nd));
    let gs = strides(&shape);
    let (ls, rs) = (strides(&lp), strides(&rp));
    let gp = g.f32_ptr(name)?;
    let (a, b) = if reads {
        (l.f32_ptr(name)?, r.f32_ptr(name)?)
    } else {
        (gp, gp)
    };
    let (lhs_op, rhs_op) = match op {
        BinaryOp::Add => (0, 0),
        BinaryOp::Sub => (0, 1),
        BinaryOp::Mul => (2, 3),
        BinaryOp::Div => (4, 5),
    };
    for (dims, d, kop) in [(&lp, dl, lhs_op), (&rp, dr, rhs_op)] {
        let m = d.size();
        let mut t: Vec<i64> = dims.iter().map(|&v| v as i64).collect();
        t.extend(
            dims.iter()
                .zip(&shape)
                .map(|(&s, &o)| if s == 1 { o as i64 } else { 1 }),
        );
        t.extend(&gs);
        t.extend(&ls);
        t.extend(&rs);
        let tab = table(ctx, name, &t)?;
        let dp = d.f32_ptr(name)?;
        // SAFETY: (float* d, const float* g, const float* a, const float* b,
        // const long long* table, int ndim, long long m, int op); d holds m float32 elements
        // of its operand's shape (checked above), g the broadcast shape's (checked by `plan`),
        // a and b their operands' (or are g and unread, for add and sub); every offset is a
        // coordinate of the broadcast shape times in-bounds strides; the table holds 5·ndim
        // values. All alive until the operation completes.
        unsafe {
            ctx.launch(
                name,
                "broadcast",
                "broadcast_reduce_f32",
                m,
                (dp, gp, a, b, tab.ptr(), nd as i32, m as i64, kop),
            )?;
        }
    }
    Ok(())
}
