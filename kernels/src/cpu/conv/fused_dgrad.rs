//! The data gradient of an `f32` convolution by GEMM and col2im fused per row block: the path
//! [`super::conv_backward`] takes for `dx` when the blocked kernels ([`super::backward`]) do
//! not serve it and [`serves`] holds (AVX-512, a kernel of more than one tap, at most
//! [`MAX_PIXELS`] output pixels): LeNet's second layer, whose 50 and 20 channels and 4-pixel
//! padding would leave two thirds of the blocked kernel's multiply-adds useless.
//!
//! It computes what im2col does (`dcol[g] = W[g]ᵀ · dy[g]`, then [`super::col2im`]), the same
//! multiply-adds, but one input channel at a time: the channel's `taps` rows of `dcol` are
//! computed in register tiles of up to `MR` rows × 64 pixels (`avx512`: the rows' weights
//! packed once per call, `dy` read in place from one image's `F × P` slice), stored to a
//! `taps × P` buffer that stays in L1, and folded onto the channel's plane of `dx` straight
//! away. The fold (for a unit stride along the width) builds each row of `dx` in a register:
//! it loads 16 input columns once, adds the `kw` rows of `dcol` that land there (each a masked
//! load, shifted by its tap) and stores once. Adding row after row instead, as col2im does,
//! makes each masked store feed the next tap's load of the same columns, which the CPU cannot
//! forward (measured: a third of the time). The per-image GEMM of the im2col path packs `Wᵀ`
//! again for every image and writes the whole `K × P` `dcol` (128 KiB for LeNet's layer)
//! before col2im reads it back.
//!
//! Each element of `dcol` is summed over the filters in order (`f = 0, 1, ...`, one FMA each),
//! and each `dx` element receives its `dcol` entries in a fixed order (taps along the depth,
//! the height, then the width). Images are split statically over the threads and each is
//! computed the same way, so the result does not depend on the thread count; it differs from
//! the im2col path's in the last bits (that GEMM and col2im sum in their own order).

#[cfg(target_arch = "x86_64")]
mod avx512;

use super::{ConvError, ConvGeom, Sizes, check_len, valid_range};
use crate::cpu::isa::Isa;
use crate::cpu::parallel;

/// Rows of `dcol` per register tile, at most.
pub(crate) const MR: usize = 6;
/// Columns (output pixels) per register tile: four vectors of 16.
pub(crate) const NR: usize = 64;
/// Output pixels per image above which [`serves`] leaves a layer to im2col (its buffer,
/// `taps × P` floats, would no longer stay in L1 or L2, and large products are where the
/// blocked GEMM of the im2col path does well).
pub const MAX_PIXELS: usize = 1024;
/// Multiply-adds per thread, at least, before the images are split over threads.
const MIN_WORK_PER_THREAD: u128 = 1 << 20;

/// Whether [`data_gradient_with`] computes `geom`'s data gradient with `isa`: AVX-512
/// (available), a valid geometry that is not the 1×1 stride-1 unpadded shortcut, more than one
/// kernel tap, and at most [`MAX_PIXELS`] output pixels per image.
pub fn serves(isa: Isa, geom: &ConvGeom) -> bool {
    let Ok(s) = geom.sizes() else {
        return false;
    };
    cfg!(target_arch = "x86_64")
        && isa == Isa::Avx512
        && isa.is_available()
        && !s.direct
        && s.taps > 1
        && s.out_spatial <= MAX_PIXELS
}

/// The data gradient `dx` (`N × C × spatial`, overwritten) of the convolution `geom` from the
/// head gradient `dy` (`N × F × out_spatial`) and the weights `w` (`F × C/G × kernel`), on up
/// to `threads` threads, when [`serves`] holds for `isa` and `geom`; returns whether it ran
/// (`Ok(false)`: nothing written).
///
/// # Errors
/// [`ConvError::Length`] for a buffer of the wrong length (when served; nothing written).
pub fn data_gradient_with(
    isa: Isa,
    geom: &ConvGeom,
    dy: &[f32],
    w: &[f32],
    dx: &mut [f32],
    threads: usize,
) -> Result<bool, ConvError> {
    if !serves(isa, geom) {
        return Ok(false);
    }
    let s = geom.sizes()?;
    let sample_in = geom.channels * s.spatial;
    let sample_out = geom.filters * s.out_spatial;
    check_len("output gradient", dy.len(), geom.batch * sample_out)?;
    check_len("weight", w.len(), geom.filters * s.k)?;
    check_len("data gradient", dx.len(), geom.batch * sample_in)?;
    if geom.batch == 0 {
        return Ok(true);
    }
    let plan = Plan::new(geom, s, w);
    let work = geom.batch as u128 * geom.filters as u128 * s.k as u128 * s.out_spatial as u128;
    let by_work = (work / MIN_WORK_PER_THREAD).min(usize::MAX as u128) as usize;
    let parts = threads.min(geom.batch).min(by_work).max(1);
    let per = geom.batch.div_ceil(parts);
    parallel::for_each_chunk_mut(dx, per * sample_in, |i, dxg| {
        let mut buf = vec![0.0f32; s.taps * s.out_spatial];
        for (j, dxn) in dxg.chunks_exact_mut(sample_in).enumerate() {
            let n = i * per + j;
            plan.image(&dy[n * sample_out..(n + 1) * sample_out], dxn, &mut buf);
        }
    });
    Ok(true)
}

/// Where one kernel tap's `dcol` row lands in a channel of `dx`: the output positions whose
/// input falls inside it, per dimension (`valid_range`), and the input coordinate of the first
/// of them.
#[derive(Debug, Clone, Copy)]
struct Tap {
    d: (usize, usize),
    off_d: isize,
    h: (usize, usize),
    off_h: isize,
    w: (usize, usize),
    /// Input column of output column `w.0` (meaningful when `w.0 < w.1`).
    first: usize,
}

/// A checked geometry with its packed weights and tap table.
struct Plan<'g> {
    geom: &'g ConvGeom,
    s: Sizes,
    /// The register tiles of one channel's `taps` rows: `(first row, rows)`, at most `MR`
    /// rows each, as even as possible (25 taps: five tiles of 5).
    tiles: Vec<(usize, usize)>,
    /// For channel `c` (in group `g`), the tile `(t0, rows)`, filter `f`, row `i`:
    /// `panels[c·fg·taps + fg·t0 + f·rows + i] = w[(g·fg + f)·k + (c − g·cg)·taps + t0 + i]`.
    panels: Vec<f32>,
    /// One entry per kernel tap, in the weight's order.
    taps: Vec<Tap>,
    /// Which rows of a channel's `dcol` build each row of `dx` (for a unit width stride).
    gather: Gather,
}

/// The fold of a channel's `dcol` (`taps × P`, the buffer) onto its plane of `dx` as a gather,
/// for a unit stride along the width: input row `r` (`in_d·ih + in_h`) at columns
/// `16·q ..` is the sum, over `o ∈ rows[row_start[r]..row_start[r + 1]]` and
/// `(m, off) ∈ lanes[lane_start[q]..lane_start[q + 1]]`, of 16 floats of the buffer at
/// `o + off`, lane `t` taken where bit `t` of `m` is set. An `o` is `t_base·P + pixel`: the
/// first row of kernel row `(i, j)` and the output row that reaches `r` through it; an `off`
/// is `l·P + w.0 + 16·q − first` for kernel column `l` (possibly negative; only lanes inside
/// that output row's valid columns are set in `m`, and only taps with some are listed).
#[derive(Debug, Default)]
struct Gather {
    row_start: Vec<usize>,
    rows: Vec<usize>,
    lane_start: Vec<usize>,
    lanes: Vec<(u16, isize)>,
}

impl Gather {
    /// The gather of a checked geometry and its tap table.
    fn new(geom: &ConvGeom, s: &Sizes, taps: &[Tap]) -> Gather {
        let p = s.out_spatial;
        let ([id, ih, iw], [od, oh, ow]) = (geom.input, s.out);
        let [kd, kh, kw] = geom.kernel;
        // The output coordinate that reads input coordinate `x` through tap `t` of dimension
        // `d`, if any.
        let source = |x: usize, t: usize, d: usize, out: usize| -> Option<usize> {
            let num = x as isize + geom.pad[d] as isize - (t * geom.dilate[d]) as isize;
            let st = geom.stride[d] as isize;
            (num >= 0 && num % st == 0 && ((num / st) as usize) < out)
                .then_some((num / st) as usize)
        };
        let mut g = Gather::default();
        for in_d in 0..id {
            for in_h in 0..ih {
                g.row_start.push(g.rows.len());
                for i in 0..kd {
                    let Some(o_d) = source(in_d, i, 0, od) else {
                        continue;
                    };
                    for j in 0..kh {
                        if let Some(o_h) = source(in_h, j, 1, oh) {
                            g.rows.push((i * kh + j) * kw * p + (o_d * oh + o_h) * ow);
                        }
                    }
                }
            }
        }
        g.row_start.push(g.rows.len());
        for ix0 in (0..iw).step_by(16) {
            g.lane_start.push(g.lanes.len());
            for (l, tap) in taps[..kw].iter().enumerate() {
                let len = tap.w.1.saturating_sub(tap.w.0);
                let lo = tap.first.max(ix0);
                let hi = (tap.first + len).min(ix0 + 16);
                if lo < hi {
                    let bits = |n: usize| ((1u32 << n) - 1) as u16;
                    let m = bits(hi - ix0) & !bits(lo - ix0);
                    let off = (l * p + tap.w.0 + ix0) as isize - tap.first as isize;
                    g.lanes.push((m, off));
                }
            }
        }
        g.lane_start.push(g.lanes.len());
        g
    }
}

impl<'g> Plan<'g> {
    /// Packs `w` (`F·k` floats: checked by the caller) for the checked geometry `geom`.
    fn new(geom: &'g ConvGeom, s: Sizes, w: &[f32]) -> Plan<'g> {
        let (fg, k, taps) = (s.fg, s.k, s.taps);
        let cg = geom.channels / geom.groups;
        let count = taps.div_ceil(MR);
        let tiles: Vec<(usize, usize)> = (0..count)
            .map(|q| (q * taps / count, (q + 1) * taps / count - q * taps / count))
            .collect();
        let mut panels = vec![0.0f32; geom.channels * fg * taps];
        for (c, panel) in panels.chunks_exact_mut(fg * taps).enumerate() {
            let (g, ci) = (c / cg, c % cg);
            for &(t0, rows) in &tiles {
                let dst = &mut panel[fg * t0..fg * (t0 + rows)];
                for (f, dst) in dst.chunks_exact_mut(rows).enumerate() {
                    dst.copy_from_slice(&w[(g * fg + f) * k + ci * taps + t0..][..rows]);
                }
            }
        }
        let [kd, kh, kw] = geom.kernel;
        let mut taps = Vec::with_capacity(s.taps);
        for i in 0..kd {
            for j in 0..kh {
                for l in 0..kw {
                    let off =
                        |d: usize, t: usize| (t * geom.dilate[d]) as isize - geom.pad[d] as isize;
                    let (off_d, off_h, off_w) = (off(0, i), off(1, j), off(2, l));
                    let w = valid_range(s.out[2], geom.input[2], geom.stride[2], off_w);
                    taps.push(Tap {
                        d: valid_range(s.out[0], geom.input[0], geom.stride[0], off_d),
                        off_d,
                        h: valid_range(s.out[1], geom.input[1], geom.stride[1], off_h),
                        off_h,
                        w,
                        first: ((w.0 * geom.stride[2]) as isize + off_w).max(0) as usize,
                    });
                }
            }
        }
        let gather = if geom.stride[2] == 1 {
            Gather::new(geom, &s, &taps)
        } else {
            Gather::default()
        };
        Plan {
            geom,
            s,
            tiles,
            panels,
            taps,
            gather,
        }
    }

    /// One image: `dx` (`C·spatial`) from `dy` (`F·P`), with `buf` (`taps·P`) for a channel's
    /// rows of `dcol`.
    /// The caller checked the lengths, and AVX-512 ([`serves`]).
    fn image(&self, dy: &[f32], dx: &mut [f32], buf: &mut [f32]) {
        let p = self.s.out_spatial;
        let fits = dy.len() == self.geom.filters * p
            && dx.len() == self.geom.channels * self.s.spatial
            && buf.len() == self.s.taps * p;
        debug_assert!(fits, "image buffers checked by the caller");
        if !fits {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F and FMA are available: `serves` checked `Isa::Avx512.is_available()`
        // before any plan was made.
        unsafe {
            avx512::image(self, dy, dx, buf);
        }
    }
}

#[cfg(test)]
mod tests;
