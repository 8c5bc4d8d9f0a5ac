//! `FullyConnected`'s GPU kernels: cuBLAS GEMMs ([`mxr_kernels::cuda::blas`]) and the bias
//! kernels of `kernels/cuda/fully_connected.cu`.

use mxr_kernels::cuda::{self, DeviceSlice, blas};

use super::Fc;
use crate::Result;
use crate::registry::{GpuOpContext, GpuTensor, gpu_error};

/// Row-major `c = op(a)·op(b) + beta·c` (`m × n`, depth `k`) on the context's device.
#[allow(clippy::too_many_arguments, reason = "a GEMM's arguments")]
fn gemm(
    ctx: &GpuOpContext<'_>,
    op: &str,
    (ta, tb): (bool, bool),
    (m, n, k): (usize, usize, usize),
    a: DeviceSlice<'_, f32>,
    lda: usize,
    b: DeviceSlice<'_, f32>,
    ldb: usize,
    beta: f32,
    c: DeviceSlice<'_, f32>,
    ldc: usize,
) -> Result<()> {
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        // An empty sum: c = beta·c, which is c (beta = 1) or zeros (beta = 0).
        if beta == 0.0 {
            // The m × n matrix, leading dimension ldc = n (every caller's).
            ctx.zero(op, c.range(0, m * ldc).map_err(|e| gpu_error(op, e))?)?;
        }
        return Ok(());
    }
    blas::sgemm(
        ctx.device, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc,
    )
    .map_err(|e| gpu_error(op, e))
}

/// `y = x·Wᵀ + b`: one bias kernel (rows of `y` ← `b`) and one GEMM (`beta = 1`).
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    fc: Fc,
    x: &GpuTensor<'_>,
    w: &GpuTensor<'_>,
    b: Option<&GpuTensor<'_>>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let op = "FullyConnected";
    let fc = with_rows(fc, y);
    let (n, h, k) = (fc.rows, fc.hidden, fc.k);
    let (xp, wp, yp) = (x.f32(op)?, w.f32(op)?, y.f32(op)?);
    check_sizes(op, fc, x, w, y)?;
    let beta = match b {
        Some(b) => {
            if b.size() != h {
                return Err(crate::Error::BadInput {
                    op: op.into(),
                    reason: format!("bias has {} elements, num_hidden is {h}", b.size()),
                });
            }
            cuda::fully_connected::bias_rows(ctx.device, yp, b.f32(op)?, n, h)
                .map_err(|e| gpu_error(op, e))?;
            1.0
        }
        None => 0.0,
    };
    // y (n × h) = x (n × k) · Wᵀ, W stored h × k.
    gemm(ctx, op, (false, true), (n, h, k), xp, k, wp, k, beta, yp, h)
}

/// `fc` with its row count taken from the output (or its gradient), `rows × hidden`: the data's
/// size divided by `k` says nothing when `k == 0` (where the output is the bias, or zeros, on
/// every row and the bias gradient sums the head gradient's rows).
fn with_rows(fc: Fc, out: &GpuTensor<'_>) -> Fc {
    Fc {
        rows: out.size() / fc.hidden.max(1),
        ..fc
    }
}

/// The data is `rows × k`, the weight `hidden × k`, the output `rows × hidden`.
fn check_sizes(
    op: &str,
    fc: Fc,
    x: &GpuTensor<'_>,
    w: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let (n, h, k) = (fc.rows, fc.hidden, fc.k);
    if x.size() != n * k || w.size() != h * k || y.size() != n * h {
        return Err(crate::Error::BadInput {
            op: op.into(),
            reason: format!(
                "shapes data {:?}, weight {:?}, output {:?} do not make a {n} × {k} by {h} × {k} \
                 product",
                x.shape, w.shape, y.shape
            ),
        });
    }
    Ok(())
}

/// `dW = gᵀ·x`, then `db = Σ_rows g`, then `dx = g·W` (in this stream order, so `dx` may share
/// the data's memory: the in-place option).
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    fc: Fc,
    inputs: &[GpuTensor<'_>],
    outputs: &[GpuTensor<'_>],
) -> Result<()> {
    let op = "_backward_FullyConnected";
    let (n, h, k) = (fc.rows, fc.hidden, fc.k);
    let [g, x, w, ..] = inputs else {
        return Err(missing(op));
    };
    let [dx, dw, rest @ ..] = outputs else {
        return Err(missing(op));
    };
    let fc = with_rows(fc, g);
    check_sizes(op, fc, x, w, g)?;
    check_sizes(op, fc, dx, dw, g)?;
    let (gp, xp, wp) = (g.f32(op)?, x.f32(op)?, w.f32(op)?);
    let dwp = dw.f32(op)?;
    // dW (h × k) = gᵀ (g stored n × h) · x (n × k).
    gemm(ctx, op, (true, false), (h, k, n), gp, h, xp, k, 0.0, dwp, k)?;
    if let Some(db) = rest.first() {
        if db.size() != h {
            return Err(missing(op));
        }
        cuda::fully_connected::bias_grad(ctx.device, db.f32(op)?, gp, n, h)
            .map_err(|e| gpu_error(op, e))?;
    }
    if ctx.output_needed(0) {
        // dx (n × k) = g (n × h) · W (h × k). dx may share the data's memory (inplace option
        // (1, 0)): the data was last read by the dW GEMM, queued before on the same stream.
        let dxp = dx.f32(op)?;
        gemm(
            ctx,
            op,
            (false, false),
            (n, k, h),
            gp,
            h,
            wp,
            k,
            0.0,
            dxp,
            k,
        )?;
    }
    Ok(())
}

fn missing(op: &str) -> crate::Error {
    crate::Error::BadInput {
        op: op.into(),
        reason: "too few inputs or outputs, or a bias gradient of the wrong size".into(),
    }
}
