//! Launchers of `kernels/cuda/convolution.cu`: im2col, the gathering col2im, and the bias
//! kernels of `Convolution` (its products are [`super::blas`] GEMMs).

use std::sync::Arc;

use mxr_engine::gpu::{GpuBuffer, GpuDevice};

use super::{DeviceSlice, GpuError, Source, at_least, launch, memory};
use crate::cpu::conv::ConvGeom;

/// A convolution's geometry table on the device (`long long[19]`: channels, input, kernel,
/// stride, pad, dilate, output, each lifted to 3-D), checked so that the kernels never divide
/// by zero and only index inside the sizes it states.
#[derive(Debug)]
pub struct ConvTable {
    table: GpuBuffer,
    channels: usize,
    taps: usize,
    in_sp: usize,
    out_sp: usize,
}

impl ConvTable {
    /// Checks `geom` and uploads its table (in stream order).
    pub fn new(dev: &Arc<GpuDevice>, geom: &ConvGeom) -> Result<ConvTable, GpuError> {
        let bad = |reason: String| GpuError::Argument {
            kernel: "convolution".into(),
            reason,
        };
        let out = geom.output().map_err(|e| bad(e.to_string()))?;
        let positive = [geom.input, geom.kernel, geom.stride, geom.dilate, out]
            .iter()
            .all(|a| a.iter().all(|&v| v > 0));
        if geom.channels == 0 || !positive {
            return Err(bad(format!("a geometry with a zero size: {geom:?}")));
        }
        let mut t = vec![geom.channels as i64];
        for a in [
            geom.input,
            geom.kernel,
            geom.stride,
            geom.pad,
            geom.dilate,
            out,
        ] {
            t.extend(a.iter().map(|&v| v as i64));
        }
        Ok(ConvTable {
            table: memory::upload(dev, &t)?,
            channels: geom.channels,
            taps: geom.kernel.iter().product(),
            in_sp: geom.input.iter().product(),
            out_sp: out.iter().product(),
        })
    }

    /// Kernel taps per channel.
    pub fn taps(&self) -> usize {
        self.taps
    }

    /// Input positions per channel.
    pub fn in_sp(&self) -> usize {
        self.in_sp
    }

    /// Output positions per filter.
    pub fn out_sp(&self) -> usize {
        self.out_sp
    }
}

/// Fills `col` (`channels · taps · out_sp` floats) from one sample `x` (`channels · in_sp`).
pub fn im2col(
    dev: &Arc<GpuDevice>,
    t: &ConvTable,
    col: DeviceSlice<'_, f32>,
    x: DeviceSlice<'_, f32>,
) -> Result<(), GpuError> {
    const K: &str = "convolution_im2col_f32";
    let n = t.channels * t.taps * t.out_sp;
    let col = at_least(K, "col", col, n)?;
    let x = at_least(K, "x", x, t.channels * t.in_sp)?;
    // SAFETY: (float* col, const float* x, const long long* g, long long n); g is the table's
    // 19 values (positive sizes, checked by `ConvTable::new`, so no division by zero); item
    // i < n writes col[i] and reads x[c·in_sp + q] with c < channels and q < in_sp (each input
    // coordinate is checked against the input size), inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::Convolution,
            K,
            n,
            (col, x, t.table.ptr(), n as i64),
        )
    }
}

/// `dx` (one sample, `channels · in_sp` floats) gathered from `col` (`channels · taps · out_sp`).
pub fn col2im(
    dev: &Arc<GpuDevice>,
    t: &ConvTable,
    dx: DeviceSlice<'_, f32>,
    col: DeviceSlice<'_, f32>,
) -> Result<(), GpuError> {
    const K: &str = "convolution_col2im_f32";
    let n = t.channels * t.in_sp;
    let dx = at_least(K, "dx", dx, n)?;
    let col = at_least(K, "col", col, t.channels * t.taps * t.out_sp)?;
    // SAFETY: (float* dx, const float* col, const long long* g, long long n); g as in `im2col`;
    // item i < n writes dx[i] and reads col[(c·taps + t)·out_sp + p] with c < channels, t < taps
    // and p < out_sp (each output coordinate is checked against the output size).
    unsafe {
        launch(
            dev,
            Source::Convolution,
            K,
            n,
            (dx, col, t.table.ptr(), n as i64),
        )
    }
}

/// `y[i] += b[(i / out_sp) % filters]` over `n` elements.
pub fn add_bias(
    dev: &Arc<GpuDevice>,
    y: DeviceSlice<'_, f32>,
    b: DeviceSlice<'_, f32>,
    n: usize,
    filters: usize,
    out_sp: usize,
) -> Result<(), GpuError> {
    const K: &str = "convolution_add_bias_f32";
    if n > 0 && (filters == 0 || out_sp == 0) {
        return Err(GpuError::Argument {
            kernel: K.into(),
            reason: format!("{n} elements over {filters} filters of {out_sp} positions"),
        });
    }
    let (y, b) = (at_least(K, "y", y, n)?, at_least(K, "b", b, filters)?);
    // SAFETY: (float* y, const float* b, long long n, long long filters, long long out_sp);
    // item i < n touches y[i] and b[(i / out_sp) % filters] (divisors positive when n > 0,
    // checked above), inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::Convolution,
            K,
            n,
            (y, b, n as i64, filters as i64, out_sp as i64),
        )
    }
}

/// `db[f]` = the sum of `gy[b, f, p]` over the batch and the positions.
pub fn bias_grad(
    dev: &Arc<GpuDevice>,
    db: DeviceSlice<'_, f32>,
    gy: DeviceSlice<'_, f32>,
    batch: usize,
    filters: usize,
    out_sp: usize,
) -> Result<(), GpuError> {
    const K: &str = "convolution_bias_grad_f32";
    let db = at_least(K, "db", db, filters)?;
    let gy = at_least(K, "gy", gy, batch * filters * out_sp)?;
    // SAFETY: (float* db, const float* gy, long long batch, long long filters,
    // long long out_sp); item f < filters writes db[f] and reads gy[(b·filters + f)·out_sp + p]
    // for b < batch, p < out_sp, inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::Convolution,
            K,
            filters,
            (db, gy, batch as i64, filters as i64, out_sp as i64),
        )
    }
}
