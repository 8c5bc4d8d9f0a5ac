//! `dot` / `batch_dot` / `_backward_dot` on the GPU: each product is one strided-batched cuBLAS
//! GEMM ([`mxr_kernels::cuda::blas`]) with transpose flags, as on the CPU.

use mxr_kernels::cuda::{DeviceSlice, blas};

use super::Mm;
use crate::registry::{GpuOpContext, GpuTensor, gpu_error};
use crate::{Error, Result};

/// One operand or result of a batched product: elements, rows, columns as stored.
struct Mat<'a> {
    data: DeviceSlice<'a, f32>,
    rows: usize,
    cols: usize,
}

impl<'a> Mat<'a> {
    fn of(t: &GpuTensor<'a>, op: &str, batch: usize, rows: usize, cols: usize) -> Result<Mat<'a>> {
        if t.size() != batch * rows * cols {
            return Err(Error::BadInput {
                op: op.into(),
                reason: format!(
                    "an operand of shape {:?} is not {batch} matrices of {rows} × {cols}",
                    t.shape
                ),
            });
        }
        Ok(Mat {
            data: t.f32(op)?,
            rows,
            cols,
        })
    }
}

/// `c = op(a)·op(b)` per batch index (`op(a)` `m × k`, `op(b)` `k × n`); `c` is zeroed when
/// `k == 0`.
fn product(
    ctx: &GpuOpContext<'_>,
    op: &str,
    batch: usize,
    (ta, a): (bool, &Mat<'_>),
    (tb, b): (bool, &Mat<'_>),
    c: &Mat<'_>,
) -> Result<()> {
    let (m, n) = (c.rows, c.cols);
    let k = if ta { a.rows } else { a.cols };
    if batch * m * n == 0 {
        return Ok(());
    }
    if k == 0 {
        return ctx.zero(op, c.data);
    }
    // Strides are the matrices' sizes, leading dimensions their stored column counts.
    blas::sgemm_strided_batched(
        ctx.device,
        ta,
        tb,
        m,
        n,
        k,
        1.0,
        a.data,
        a.cols,
        a.rows * a.cols,
        b.data,
        b.cols,
        b.rows * b.cols,
        0.0,
        c.data,
        n,
        m * n,
        batch,
    )
    .map_err(|e| gpu_error(op, e))
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
    let a = Mat::of(a, op, bt, ar, ac)?;
    let b = Mat::of(b, op, bt, br, bc)?;
    let c = Mat::of(c, op, bt, m, n)?;
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
    let g = Mat::of(g, op, bt, m, n)?;
    let a = Mat::of(a, op, bt, ar, ac)?;
    let b = Mat::of(b, op, bt, br, bc)?;
    if ctx.output_needed(0) {
        let da = Mat::of(da, op, bt, ar, ac)?;
        if mm.ta {
            // dA (k × m) = op(B) (k × n) · gᵀ (n × m).
            product(ctx, op, bt, (mm.tb, &b), (true, &g), &da)?;
        } else {
            // dA (m × k) = g (m × n) · op(B)ᵀ (n × k).
            product(ctx, op, bt, (false, &g), (!mm.tb, &b), &da)?;
        }
    }
    if ctx.output_needed(1) {
        let db = Mat::of(db, op, bt, br, bc)?;
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
