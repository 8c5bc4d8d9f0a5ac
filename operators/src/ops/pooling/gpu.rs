//! `Pooling`'s GPU kernels (`kernels/cuda/pooling.cu`).

use mxr_kernels::cpu::pooling::{PoolGeom, PoolType};
use mxr_kernels::cuda::pooling as kernels;

use crate::registry::{GpuOpContext, GpuTensor, gpu_error};
use crate::{Error, Result};

/// Checks the geometry like the CPU kernels.
fn check_geom(op: &str, geom: &PoolGeom) -> Result<()> {
    if geom.kernel.contains(&0) || geom.stride.contains(&0) {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "pooling: kernel {:?} and stride {:?} must be positive",
                geom.kernel, geom.stride
            ),
        });
    }
    Ok(())
}

/// Checks that `t` holds `len` elements.
fn check_len(op: &str, what: &str, t: &GpuTensor<'_>, len: usize) -> Result<()> {
    if t.size() == len {
        return Ok(());
    }
    Err(Error::BadInput {
        op: op.into(),
        reason: format!(
            "pooling: {what} has {} elements, the geometry needs {len}",
            t.size()
        ),
    })
}

/// `y = pool(x)`.
pub(super) fn forward(
    ctx: &GpuOpContext<'_>,
    geom: &PoolGeom,
    kind: PoolType,
    x: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let op = "Pooling";
    check_len(op, "input", x, geom.input_len())?;
    check_len(op, "output", y, geom.output_len())?;
    let (xp, yp) = (x.f32(op)?, y.f32(op)?);
    let n = geom.output_len();
    if n == 0 {
        return Ok(());
    }
    if geom.input_len() == 0 {
        return ctx.zero(op, yp);
    }
    check_geom(op, geom)?;
    kernels::forward(ctx.device, geom, kind, yp, xp).map_err(|e| gpu_error(op, e))
}

/// `dx` from the head gradient `gy`, the data `x` and the output `y`.
pub(super) fn backward(
    ctx: &GpuOpContext<'_>,
    geom: &PoolGeom,
    kind: PoolType,
    [gy, x, y]: [&GpuTensor<'_>; 3],
    dx: &GpuTensor<'_>,
) -> Result<()> {
    let op = "_backward_Pooling";
    check_len(op, "output gradient", gy, geom.output_len())?;
    check_len(op, "input gradient", dx, geom.input_len())?;
    // The max kernel reads x and y; the others take them unread.
    if kind == PoolType::Max {
        check_len(op, "input", x, geom.input_len())?;
        check_len(op, "output", y, geom.output_len())?;
    }
    let (xp, yp) = (x.bytes(op)?.cast(), y.bytes(op)?.cast());
    let (xp, yp) = (
        xp.map_err(|e| gpu_error(op, e))?,
        yp.map_err(|e| gpu_error(op, e))?,
    );
    let (gp, dxp) = (gy.f32(op)?, dx.f32(op)?);
    let n = geom.output_len();
    if geom.input_len() == 0 {
        return Ok(());
    }
    ctx.zero(op, dxp)?;
    if n == 0 {
        return Ok(());
    }
    check_geom(op, geom)?;
    kernels::backward(ctx.device, geom, kind, dxp, gp, xp, yp).map_err(|e| gpu_error(op, e))
}
