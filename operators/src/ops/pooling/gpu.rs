//! `Pooling`'s GPU kernels (`kernels/cuda/pooling.cu`).
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use mxr_kernels::cpu::pooling::{PoolGeom, PoolType};

use mxr_engine::gpu::GpuBuffer;

use crate::registry::{GpuOpContext, GpuTensor};
use crate::{Error, Result};

/// The kernels' `(kind, count_include_pad)` codes.
fn codes(kind: PoolType) -> (i32, i32) {
    match kind {
        PoolType::Max => (0, 0),
        PoolType::Avg { count_include_pad } => (1, i32::from(count_include_pad)),
        PoolType::Sum => (2, 0),
    }
}

/// Checks the geometry like the CPU kernels and uploads it as the kernels' table.
fn table(ctx: &GpuOpContext<'_>, op: &str, geom: &PoolGeom) -> Result<GpuBuffer> {
    if geom.kernel.contains(&0) || geom.stride.contains(&0) {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "pooling: kernel {:?} and stride {:?} must be positive",
                geom.kernel, geom.stride
            ),
        });
    }
    let mut t = vec![geom.planes as i64];
    for a in [geom.input, geom.output, geom.kernel, geom.stride, geom.pad] {
        t.extend(a.iter().map(|&v| v as i64));
    }
    let bytes: Vec<u8> = t.iter().flat_map(|v| v.to_ne_bytes()).collect();
    ctx.upload(op, &bytes)
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
    let (xp, yp) = (x.f32_ptr(op)?, y.f32_ptr(op)?);
    let n = geom.output_len();
    if n == 0 {
        return Ok(());
    }
    if geom.input_len() == 0 {
        // SAFETY: `y` holds n float32 elements.
        return unsafe { ctx.zero(op, yp, n * 4) };
    }
    let g = table(ctx, op, geom)?;
    let (kind, cip) = codes(kind);
    // SAFETY: (float* y, const float* x, const long long* g, long long n, int kind, int cip);
    // y holds n = planes * prod(output) elements, x planes * prod(input) (checked above), g
    // the 16-entry table; every window index lies in [0, input) per axis by construction.
    unsafe {
        ctx.launch(
            op,
            "pooling",
            "pooling_forward_f32",
            n,
            (yp, xp, g.ptr(), n as i64, kind, cip),
        )
    }
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
    // The max kernel reads x and y; the others only take them as (unread) addresses.
    let (xp, yp) = if kind == PoolType::Max {
        check_len(op, "input", x, geom.input_len())?;
        check_len(op, "output", y, geom.output_len())?;
        (x.f32_ptr(op)?, y.f32_ptr(op)?)
    } else {
        (x.ptr, y.ptr)
    };
    let (gp, dxp) = (gy.f32_ptr(op)?, dx.f32_ptr(op)?);
    let n = geom.output_len();
    if geom.input_len() == 0 {
        return Ok(());
    }
    // SAFETY: `dx` holds planes * prod(input) float32 elements (checked above).
    unsafe { ctx.zero(op, dxp, geom.input_len() * 4)? };
    if n == 0 {
        return Ok(());
    }
    let g = table(ctx, op, geom)?;
    let (kind, cip) = codes(kind);
    // SAFETY: (float* dx, const float* gy, const float* x, const float* y, const long long* g,
    // long long n, int kind, int cip); gy (and for max, y) hold n = planes * prod(output)
    // elements, dx (and for max, x) planes * prod(input) (checked above); x and y are only
    // read for max; every window index lies inside its plane by construction.
    unsafe {
        ctx.launch(
            op,
            "pooling",
            "pooling_backward_f32",
            n,
            (dxp, gp, xp, yp, g.ptr(), n as i64, kind, cip),
        )
    }
}
