//! Launchers of `kernels/cuda/concat.cu`: strided row copies (Concat, SliceChannel,
//! slice_axis and their backwards).

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::{DeviceSlice, GpuError, Source, at_least, launch};

/// One block move: `outer` rows of `row` elements, from `src` (row `o` at
/// `o * src_stride + src_off`) to `dst` (row `o` at `o * dst_stride + dst_off`).
#[derive(Debug, Clone, Copy)]
pub struct Rows {
    /// The number of rows.
    pub outer: usize,
    /// Elements per row.
    pub row: usize,
    /// The source's distance between rows.
    pub src_stride: usize,
    /// The source's first element.
    pub src_off: usize,
    /// The destination's distance between rows.
    pub dst_stride: usize,
    /// The destination's first element.
    pub dst_off: usize,
}

/// Copies `r` from `src` to `dst`; an error when a touched element lies outside either.
pub fn copy_rows(
    dev: &Arc<GpuDevice>,
    dst: DeviceSlice<'_, f32>,
    src: DeviceSlice<'_, f32>,
    r: &Rows,
) -> Result<(), GpuError> {
    const K: &str = "concat_copy_rows_f32";
    let n = r.outer * r.row;
    if n == 0 {
        return Ok(());
    }
    let end = |stride: usize, off: usize| (r.outer - 1) * stride + off + r.row;
    let dst = at_least(K, "dst", dst, end(r.dst_stride, r.dst_off))?;
    let src = at_least(K, "src", src, end(r.src_stride, r.src_off))?;
    // SAFETY: (float* dst, const float* src, long long outer, long long row,
    // long long src_stride, long long src_off, long long dst_stride, long long dst_off); item
    // i < outer·row touches row o = i / row < outer, element r < row, so at most
    // (outer - 1)·stride + off + row - 1 in each, inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::Concat,
            K,
            n,
            (
                dst,
                src,
                r.outer as i64,
                r.row as i64,
                r.src_stride as i64,
                r.src_off as i64,
                r.dst_stride as i64,
                r.dst_off as i64,
            ),
        )
    }
}
