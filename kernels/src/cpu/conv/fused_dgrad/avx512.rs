//! The AVX-512 code of [`super`]: the loop over one image's channels, one tile of up to
//! `MR × 64` of `dcol` in up to 24 zmm accumulators, and the fold of a channel's rows onto
//! `dx` (col2im). All of it is compiled for AVX-512 as one function (tiles and fold inlined).
//!
//! Per depth step `f` the tile kernel loads up to four 16-float vectors of row `f` of `dy`
//! (masked at the right edge) and multiplies each by the tile's weights of the packed panel,
//! broadcast: `R × 4` FMAs per step on 4 + `R` loads. The loops have constant bounds, so the
//! compiler unrolls them and keeps the accumulators in registers.

use std::arch::x86_64::{
    __m512, __mmask16, _mm512_add_ps, _mm512_fmadd_ps, _mm512_mask_storeu_ps,
    _mm512_maskz_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
};

use super::{MR, NR, Plan};

/// Floats per vector.
const LANES: usize = 16;

/// The mask of the first `n` lanes (all 16 when `n >= 16`).
fn mask(n: usize) -> __mmask16 {
    if n >= LANES {
        0xFFFF
    } else {
        ((1u32 << n) - 1) as __mmask16
    }
}

/// One image: `dx` (`C·spatial`, overwritten) from `dy` (`F·P`), channel by channel through
/// `buf` (`taps·P`).
///
/// # Safety
/// AVX-512F and FMA are available. (The lengths are checked here; a mismatch does nothing.)
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn image(plan: &Plan<'_>, dy: &[f32], dx: &mut [f32], buf: &mut [f32]) {
    let geom = plan.geom;
    let (p, fg, taps, spatial) = (plan.s.out_spatial, plan.s.fg, plan.s.taps, plan.s.spatial);
    let cg = geom.channels / geom.groups;
    if p == 0
        || fg == 0
        || dy.len() != geom.filters * p
        || dx.len() != geom.channels * spatial
        || buf.len() != taps * p
        || plan.panels.len() != geom.channels * fg * taps
    {
        return;
    }
    for (c, plane) in dx.chunks_exact_mut(spatial).enumerate() {
        let g = c / cg;
        let b = &dy[g * fg * p..(g + 1) * fg * p];
        let panels = &plan.panels[c * fg * taps..(c + 1) * fg * taps];
        for &(t0, rows) in &plan.tiles {
            let panel = &panels[fg * t0..fg * (t0 + rows)];
            let out = &mut buf[t0 * p..(t0 + rows) * p];
            // SAFETY: `panel` holds `fg·rows` floats, `b` (`fg·p`) and `out` (`rows·p`) hold
            // every `f·p + j`, `i·p + j` for `f < fg`, `i < rows`, `j < p`; `1 <= rows <= MR`
            // (the plan's tiles); AVX-512F and FMA are available (this function's contract).
            unsafe {
                match rows {
                    1 => tiles::<1>(panel, b, p, fg, out),
                    2 => tiles::<2>(panel, b, p, fg, out),
                    3 => tiles::<3>(panel, b, p, fg, out),
                    4 => tiles::<4>(panel, b, p, fg, out),
                    5 => tiles::<5>(panel, b, p, fg, out),
                    _ => tiles::<MR>(panel, b, p, fg, out),
                }
            }
        }
        if geom.stride[2] == 1 {
            // SAFETY: AVX-512F is available (this function's contract).
            unsafe { fold_channel(plan, buf, plane) };
        } else {
            plane.fill(0.0);
            for (t, row) in buf.chunks_exact(p).enumerate() {
                fold_row_strided(plan, t, row, plane);
            }
        }
    }
}

/// The rows `R` rows of `dcol` whose weights `panel` holds (`depth × R`), all `ldb` columns:
/// tiles of 64 columns, the last one narrower.
///
/// # Safety
/// AVX-512F and FMA are available; `panel` holds `depth·R` floats, `b` and `out` hold
/// `depth·ldb` and `R·ldb` floats; `ldb > 0`.
#[target_feature(enable = "avx512f,fma")]
#[inline]
unsafe fn tiles<const R: usize>(
    panel: &[f32],
    b: &[f32],
    ldb: usize,
    depth: usize,
    out: &mut [f32],
) {
    if panel.len() < depth * R || b.len() < depth * ldb || out.len() < R * ldb {
        return;
    }
    let mut col0 = 0;
    while col0 < ldb {
        let cols = NR.min(ldb - col0);
        // SAFETY: `b + f·ldb + col0 + j` and `out + i·ldb + col0 + j` (`f < depth`, `i < R`,
        // `j < cols <= ldb − col0`) lie inside `b` and `out` (lengths checked above); `panel`
        // holds `depth·R` floats; `16·(V−1) < cols <= 16·V` for the `V` chosen.
        unsafe {
            let (a, bp, op) = (
                panel.as_ptr(),
                b.as_ptr().add(col0),
                out.as_mut_ptr().add(col0),
            );
            match cols.div_ceil(LANES) {
                4 => tile_n::<R, 4>(a, bp, ldb, depth, cols, op),
                3 => tile_n::<R, 3>(a, bp, ldb, depth, cols, op),
                2 => tile_n::<R, 2>(a, bp, ldb, depth, cols, op),
                _ => tile_n::<R, 1>(a, bp, ldb, depth, cols, op),
            }
        }
        col0 += cols;
    }
}

/// Writes one channel's plane of `dx` from its rows of `dcol` (`buf`, `taps × P`), for a unit
/// stride along the width, by the plan's [`super::Gather`]: each input row is built 16 columns
/// at a time in registers from every tap whose output row reaches it (each a masked load of
/// that row of `dcol`, shifted by the tap's offset) and stored once. Nothing is read back
/// from `dx`, so no load waits for a masked store (col2im's row-after-row additions do).
///
/// # Safety
/// AVX-512F is available; `geom.stride[2] == 1`; `buf` holds `taps·P` floats.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn fold_channel(plan: &Plan<'_>, buf: &[f32], plane: &mut [f32]) {
    let gather = &plan.gather;
    let iw = plan.geom.input[2];
    let chunks = gather.lane_start.len().saturating_sub(1);
    for (r, dst) in plane.chunks_exact_mut(iw).enumerate() {
        let rows = &gather.rows[gather.row_start[r]..gather.row_start[r + 1]];
        for q in 0..chunks {
            let lanes = &gather.lanes[gather.lane_start[q]..gather.lane_start[q + 1]];
            // SAFETY: AVX-512F is available and `buf` holds `taps·P` floats (this function's
            // contract); `rows` and `lanes` come from the plan's gather.
            let sum = unsafe {
                match lanes.len() {
                    1 => gather_taps::<1>(buf, rows, lanes),
                    2 => gather_taps::<2>(buf, rows, lanes),
                    3 => gather_taps::<3>(buf, rows, lanes),
                    4 => gather_taps::<4>(buf, rows, lanes),
                    5 => gather_taps::<5>(buf, rows, lanes),
                    6 => gather_taps::<6>(buf, rows, lanes),
                    7 => gather_taps::<7>(buf, rows, lanes),
                    _ => gather_any(buf, rows, lanes),
                }
            };
            let ix0 = q * LANES;
            let m = mask(iw - ix0);
            // SAFETY: the lanes of `m` are columns `ix0 ..` below `iw`, inside `dst`.
            unsafe { _mm512_mask_storeu_ps(dst.as_mut_ptr().add(ix0), m, sum) };
        }
    }
}

/// The sum over `o ∈ rows` and `(m, off) ∈ lanes` of the lanes `m` of `buf` at `o + off`, for
/// exactly `L` lanes entries (unrolled, one accumulator each).
///
/// # Safety
/// AVX-512F is available; `lanes.len() == L`; for every `o` and `(m, off)`, the lanes set in
/// `m` at `o + off` are inside `buf` (as [`super::Gather`] guarantees for a plan's buffer).
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn gather_taps<const L: usize>(
    buf: &[f32],
    rows: &[usize],
    lanes: &[(u16, isize)],
) -> __m512 {
    let mut taps = [(0u16, 0isize); L];
    taps.copy_from_slice(&lanes[..L]);
    let mut acc = [_mm512_setzero_ps(); L];
    for &o in rows {
        let base = buf.as_ptr().wrapping_add(o);
        for l in 0..L {
            let (m, off) = taps[l];
            // SAFETY: only the lanes of `m` are read, inside `buf` (the contract).
            let v = unsafe { _mm512_maskz_loadu_ps(m, base.wrapping_offset(off)) };
            acc[l] = _mm512_add_ps(acc[l], v);
        }
    }
    let mut sum = acc[0];
    for a in &acc[1..] {
        sum = _mm512_add_ps(sum, *a);
    }
    sum
}

/// [`gather_taps`] for any number of lanes entries (one accumulator).
///
/// # Safety
/// As [`gather_taps`], without the length condition.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn gather_any(buf: &[f32], rows: &[usize], lanes: &[(u16, isize)]) -> __m512 {
    let mut acc = _mm512_setzero_ps();
    for &o in rows {
        let base = buf.as_ptr().wrapping_add(o);
        for &(m, off) in lanes {
            // SAFETY: only the lanes of `m` are read, inside `buf` (the contract).
            acc = _mm512_add_ps(acc, unsafe {
                _mm512_maskz_loadu_ps(m, base.wrapping_offset(off))
            });
        }
    }
    acc
}

/// Adds row `t` (a kernel tap) of one channel's `dcol` onto its `plane` of `dx`, as col2im
/// does, for any stride along the width.
fn fold_row_strided(plan: &Plan<'_>, t: usize, row: &[f32], plane: &mut [f32]) {
    let geom = plan.geom;
    let tap = &plan.taps[t];
    let ([_, ih, iw], [_, oh, ow]) = (geom.input, plan.s.out);
    let (w_lo, w_hi) = tap.w;
    if w_lo >= w_hi {
        return;
    }
    let len = w_hi - w_lo;
    for o_d in tap.d.0..tap.d.1 {
        let in_d = ((o_d * geom.stride[0]) as isize + tap.off_d) as usize;
        for o_h in tap.h.0..tap.h.1 {
            let in_h = ((o_h * geom.stride[1]) as isize + tap.off_h) as usize;
            let src = &row[(o_d * oh + o_h) * ow + w_lo..][..len];
            let base = (in_d * ih + in_h) * iw + tap.first;
            for (d, &v) in plane[base..].iter_mut().step_by(geom.stride[2]).zip(src) {
                *d += v;
            }
        }
    }
}

const _: () = assert!(
    NR == 4 * LANES,
    "tile covers NR columns in at most 4 vectors"
);

/// `out[i·ldb + j] = Σ_{f < depth} a[f·R + i] · b[f·ldb + j]` for `i < R`, `j < cols`, with
/// `V = ⌈cols / 16⌉` vectors per row.
///
/// # Safety
/// AVX-512F and FMA are available; `16·(V−1) < cols <= 16·V`; `a` holds `depth·R` floats, `b`
/// is readable at every `f·ldb + j` and `out` writable at every `i·ldb + j` (`f < depth`,
/// `i < R`, `j < cols`), overlapping neither input.
#[target_feature(enable = "avx512f,fma")]
#[inline]
unsafe fn tile_n<const R: usize, const V: usize>(
    a: *const f32,
    b: *const f32,
    ldb: usize,
    depth: usize,
    cols: usize,
    out: *mut f32,
) {
    let ldo = ldb;
    let mut masks = [0xFFFF as __mmask16; V];
    for (v, m) in masks.iter_mut().enumerate() {
        *m = mask(cols - v * LANES);
    }
    let mut acc = [[_mm512_setzero_ps(); V]; R];
    // SAFETY: (the whole body) vector `v` of row `f` reads `b + f·ldb + 16v ..` under a mask
    // of its lanes below `cols` (readable by the contract; masked-off lanes are not accessed);
    // `a + f·R + i` is below `depth·R`; the stores write `out + i·ldo + 16v ..` under the same
    // masks (writable by the contract).
    unsafe {
        for f in 0..depth {
            let row = b.add(f * ldb);
            let mut bv = [_mm512_setzero_ps(); V];
            for v in 0..V {
                bv[v] = _mm512_maskz_loadu_ps(masks[v], row.add(v * LANES));
            }
            let panel = a.add(f * R);
            for (i, acc_i) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*panel.add(i));
                for v in 0..V {
                    acc_i[v] = _mm512_fmadd_ps(ai, bv[v], acc_i[v]);
                }
            }
        }
        for (i, acc_i) in acc.iter().enumerate() {
            for v in 0..V {
                _mm512_mask_storeu_ps(out.add(i * ldo + v * LANES), masks[v], acc_i[v]);
            }
        }
    }
}
