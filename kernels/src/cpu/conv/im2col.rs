//! im2col and col2im: one sample unrolled into (and folded back from) the column matrix that
//! the GEMM convolution multiplies.

use super::{ConvElement, ConvError, ConvGeom, Sizes, check_len, valid_range};

/// The sizes of `geom`, after checking that a sample holds `C·spatial` floats (`sample_len`)
/// and the column buffer `C·taps × out_spatial` (`col_len`).
fn checked_sizes(geom: &ConvGeom, sample_len: usize, col_len: usize) -> Result<Sizes, ConvError> {
    let s = geom.sizes()?;
    check_len("data sample", sample_len, geom.channels * s.spatial)?;
    check_len(
        "column buffer",
        col_len,
        geom.channels * s.taps * s.out_spatial,
    )?;
    Ok(s)
}

/// Calls `f(c, offsets, ranges)` for every row of the column matrix, in order: input channel
/// `c` and kernel tap `(i, j, l)`, with the input offset of the tap per dimension (`k·dilate −
/// pad`, negative in the padding) and the output range `[lo, hi)` whose input lies inside the
/// sample ([`valid_range`]).
#[inline(always)]
fn for_each_row(
    geom: &ConvGeom,
    s: &Sizes,
    mut f: impl FnMut(usize, [isize; 3], [(usize, usize); 3]),
) {
    let [id, ih, iw] = geom.input;
    let [od, oh, ow] = s.out;
    let [kd, kh, kw] = geom.kernel;
    for c in 0..geom.channels {
        for i in 0..kd {
            let off_d = (i * geom.dilate[0]) as isize - geom.pad[0] as isize;
            let d = valid_range(od, id, geom.stride[0], off_d);
            for j in 0..kh {
                let off_h = (j * geom.dilate[1]) as isize - geom.pad[1] as isize;
                let h = valid_range(oh, ih, geom.stride[1], off_h);
                for l in 0..kw {
                    let off_w = (l * geom.dilate[2]) as isize - geom.pad[2] as isize;
                    let w = valid_range(ow, iw, geom.stride[2], off_w);
                    f(c, [off_d, off_h, off_w], [d, h, w]);
                }
            }
        }
    }
}

/// Unrolls one sample `x` (`C × spatial`) into `col` (`C·taps × out_spatial`), zeros where a
/// tap falls into the padding. Every element of `col` is written.
///
/// # Errors
/// [`ConvError`] for an invalid geometry or buffers of the wrong length (`x` must hold one
/// sample: `C·spatial`).
pub fn im2col<T: ConvElement>(geom: &ConvGeom, x: &[T], col: &mut [T]) -> Result<(), ConvError> {
    let s = checked_sizes(geom, x.len(), col.len())?;
    im2col_unchecked(geom, &s, x, col);
    Ok(())
}

/// [`im2col()`] after the checks. Indexing stays in bounds: `valid_range` keeps every computed
/// input coordinate inside `[0, size)` per dimension, and the lengths were checked.
pub(super) fn im2col_unchecked<T: ConvElement>(geom: &ConvGeom, s: &Sizes, x: &[T], col: &mut [T]) {
    let [_, ih, iw] = geom.input;
    let [_, oh, ow] = s.out;
    let mut rows = col.chunks_exact_mut(s.out_spatial);
    for_each_row(
        geom,
        s,
        |c, [off_d, off_h, off_w], [(d_lo, d_hi), (h_lo, h_hi), (w_lo, w_hi)]| {
            let plane = &x[c * s.spatial..(c + 1) * s.spatial];
            let Some(row) = rows.next() else { return };
            for (o_d, block) in row.chunks_exact_mut(oh * ow).enumerate() {
                if o_d < d_lo || o_d >= d_hi {
                    block.fill(T::ZERO);
                    continue;
                }
                let in_d = (o_d * geom.stride[0]) as isize + off_d;
                let slab = &plane[in_d as usize * ih * iw..(in_d as usize + 1) * ih * iw];
                for (o_h, out_row) in block.chunks_exact_mut(ow).enumerate() {
                    if o_h < h_lo || o_h >= h_hi {
                        out_row.fill(T::ZERO);
                        continue;
                    }
                    let in_h = (o_h * geom.stride[1]) as isize + off_h;
                    let src = &slab[in_h as usize * iw..(in_h as usize + 1) * iw];
                    out_row[..w_lo].fill(T::ZERO);
                    out_row[w_hi..].fill(T::ZERO);
                    if w_lo >= w_hi {
                        continue;
                    }
                    let first = (w_lo * geom.stride[2]) as isize + off_w;
                    let first = first as usize;
                    let dst = &mut out_row[w_lo..w_hi];
                    if geom.stride[2] == 1 {
                        dst.copy_from_slice(&src[first..first + dst.len()]);
                    } else {
                        for (v, &xv) in dst
                            .iter_mut()
                            .zip(src[first..].iter().step_by(geom.stride[2]))
                        {
                            *v = xv;
                        }
                    }
                }
            }
        },
    );
}

/// Folds `col` (`C·taps × out_spatial`) back onto one sample's gradient `dx` (`C × spatial`),
/// adding every column entry to the input element it was read from (padding entries are
/// dropped). `dx` is overwritten.
///
/// # Errors
/// As [`im2col()`].
pub fn col2im<T: ConvElement>(geom: &ConvGeom, col: &[T], dx: &mut [T]) -> Result<(), ConvError> {
    let s = checked_sizes(geom, dx.len(), col.len())?;
    col2im_unchecked(geom, &s, col, dx);
    Ok(())
}

/// [`col2im`] after the checks (in bounds as in [`im2col_unchecked`]).
pub(super) fn col2im_unchecked<T: ConvElement>(
    geom: &ConvGeom,
    s: &Sizes,
    col: &[T],
    dx: &mut [T],
) {
    dx.fill(T::ZERO);
    let [_, ih, iw] = geom.input;
    let [_, oh, ow] = s.out;
    let mut rows = col.chunks_exact(s.out_spatial);
    for_each_row(
        geom,
        s,
        |c, [off_d, off_h, off_w], [(d_lo, d_hi), (h_lo, h_hi), (w_lo, w_hi)]| {
            let plane = &mut dx[c * s.spatial..(c + 1) * s.spatial];
            let Some(row) = rows.next() else { return };
            if w_lo >= w_hi {
                return;
            }
            let first = ((w_lo * geom.stride[2]) as isize + off_w) as usize;
            for o_d in d_lo..d_hi {
                let in_d = ((o_d * geom.stride[0]) as isize + off_d) as usize;
                for o_h in h_lo..h_hi {
                    let in_h = ((o_h * geom.stride[1]) as isize + off_h) as usize;
                    let src = &row[(o_d * oh + o_h) * ow..(o_d * oh + o_h + 1) * ow];
                    let src = &src[w_lo..w_hi];
                    let base = (in_d * ih + in_h) * iw;
                    let dst = &mut plane[base..base + iw];
                    if geom.stride[2] == 1 {
                        for (d, &v) in dst[first..first + src.len()].iter_mut().zip(src) {
                            *d += v;
                        }
                    } else {
                        for (d, &v) in dst[first..].iter_mut().step_by(geom.stride[2]).zip(src) {
                            *d += v;
                        }
                    }
                }
            }
        },
    );
}
