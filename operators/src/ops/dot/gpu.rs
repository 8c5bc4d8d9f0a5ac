//! `dot` / `batch_dot` / `_backward_dot` on the GPU: each product is one strided-batched cuBLAS
//! GEMM ([`mxr_kernels::cuda::blas`]) with transpose flags, as on the CPU.

use super::Mm;
use crate::ops::common::{Matrices, batched_gemm};
use crate::registry::{GpuOpContext, GpuTensor, gpu_error};
use crate::{Error, Result};

/// `t` as `batch` matrices of `rows × cols` (an operand or result of a batched product); an
/// error naming `op` when its size differs.
fn matrices<'a>(
    t: &GpuTensor<'a>,
    op: &str,
    batch: usize,
    rows: usize,
    cols: usize,
) -> Result<Matrices<'a>> {
    if t.size() != batch * rows * cols {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "an operand of shape {:?} is not {batch} matrices of {rows} × {cols}",
                t.shape
            ),
        });
    }
    Ok(Matrices::new(t.f32(op)?, rows, cols))
}

/// `c = op(a)·op(b)` per batch index (`op(a)` `m × k`, `op(b)` `k × n`); `c` is zeroed when
/// `k == 0`.
fn product(
    ctx: &GpuOpContext<'_>,
    op: &str,
    batch: usize,
    (ta, a): (bool, &Matrices<'_>),
    (tb, b): (bool, &Matrices<'_>),
    c: &Matrices<'_>,
) -> Result<()> {
    let (m, n) = (c.rows, c.cols);
    let k = if ta { a.rows } else { a.cols };
    if batch * m * n == 0 {
        return Ok(());
    }
    if k == 0 {
        return ctx.zero(op, c.data);
    }
    batched_gemm(ctx.device, batch, (ta, a), (tb, b), 0.0, c).map_err(|e| gpu_error(op, e))
}

/// Stored sizes of `op(X)` being `r × c`: `(c, r)` when transposed.
fn stored(t: bool, r: usize, c: usize) -> (usize, usize) {
    if t { (c, r) } else { (r, c) }
}

/// `c = op(a)·op(b)`.
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    op: &str,
    mm: Mm,
    a: &GpuTensor<'_>,
    b: &GpuTensor<'_>,
    c: &GpuTensor<'_>,
) -> Result<()> {
    let (bt, m, n, k) = (mm.batch, mm.m, mm.n, mm.k);
    let (ar, ac) = stored(mm.ta, m, k);
    let (br, bc) = stored(mm.tb, k, n);
    let a = matrices(a, op, bt, ar, ac)?;
    let b = matrices(b, op, bt, br, bc)?;
    let c = matrices(c, op, bt, m, n)?;
    product(ctx, op, bt, (mm.ta, &a), (mm.tb, &b), &c)
}

/// `da`, `db` from the head gradient `g` (`m × n`), with the CPU kernel's four cases.
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    mm: Mm,
    inputs: &[GpuTensor<'_>],
    outputs: &[GpuTensor<'_>],
) -> Result<()> {
    let op = "_backward_dot";
    let (bt, m, n, k) = (mm.batch, mm.m, mm.n, mm.k);
    let ([g, a, b, ..], [da, db, ..]) = (inputs, outputs) else {
        return Err(Error::BadInput {
            op: op.into(),
            reason: "expected inputs [ograd, lhs, rhs] and outputs [dlhs, drhs]".into(),
        });
    };
    let (ar, ac) = stored(mm.ta, m, k);
    let (br, bc) = stored(mm.tb, k, n);
    let g = matrices(g, op, bt, m, n)?;
    let a = matrices(a, op, bt, ar, ac)?;
    let b = matrices(b, op, bt, br, bc)?;
    if ctx.output_needed(0) {
        let da = matrices(da, op, bt, ar, ac)?;
        if mm.ta {
            // dA (k × m) = op(B) (k × n) · gᵀ (n × m).
            product(ctx, op, bt, (mm.tb, &b), (true, &g), &da)?;
        } else {
            // dA (m × k) = g (m × n) · op(B)ᵀ (n × k).
            product(ctx, op, bt, (false, &g), (!mm.tb, &b), &da)?;
        }
    }
    if ctx.output_needed(1) {
        let db = matrices(db, op, bt, br, bc)?;
        if mm.tb {
            // dB (n × k) = gᵀ (n × m) · op(A) (m × k).
            product(ctx, op, bt, (true, &g), (mm.ta, &a), &db)?;
        } else {
            // dB (k × n) = op(A)ᵀ (k × m) · g (m × n).
            product(ctx, op, bt, (!mm.ta, &a), (false, &g), &db)?;
        }
    }
    Ok(())
}
