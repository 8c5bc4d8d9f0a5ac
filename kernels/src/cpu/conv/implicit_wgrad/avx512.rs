//! The AVX-512 packing and micro-kernel of [`super`]: `MR × NR` accumulators of 16 pixel
//! lanes each, summed across lanes once per chunk.

use std::arch::x86_64::{
    __m512, __m512i, _mm256_storeu_ps, _mm512_add_ps, _mm512_castps512_ps256, _mm512_fmadd_ps,
    _mm512_loadu_ps, _mm512_maskz_loadu_ps, _mm512_permutex2var_ps, _mm512_set1_ps,
    _mm512_setr_epi32, _mm512_setzero_ps, _mm512_storeu_ps,
};

use super::super::direct::aligned;
use super::super::valid_range;
use super::{LANES, MR, NR, Plan};

/// One thread's share of the weight gradient: the columns of blocks `blocks` (see
/// [`Plan::run`]), chunk after chunk.
///
/// # Safety
/// As [`Plan::run`].
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn run(
    plan: &Plan<'_>,
    dy: &[f32],
    x: &[f32],
    scratch: &mut Vec<f32>,
    blocks: std::ops::Range<usize>,
    dw: *mut f32,
) {
    let stride = plan.stride();
    let (f, k) = (plan.geom.filters, plan.s.k);
    // The head-gradient panel, then the `col` panel.
    let buf = aligned(scratch, (plan.f_pad + NR) * stride);
    let (gpanel, cpanel) = buf.split_at_mut(plan.f_pad * stride);
    let total = plan.geom.batch * plan.s.out_spatial;
    let rows = Rows::new(plan);
    let mut sums = [0.0f32; MR * NR];
    for t0 in (0..total).step_by(plan.chunk) {
        let t1 = (t0 + plan.chunk).min(total);
        let steps = (t1 - t0).div_ceil(LANES);
        pack_dy(plan, dy, t0, t1, gpanel);
        for kb in blocks.clone() {
            // SAFETY: `cpanel` holds `NR` rows of `stride` floats; `x` has
            // the geometry's length (the caller's contract).
            unsafe { pack_col(plan, &rows, x, kb, t0, t1, cpanel.as_mut_ptr()) };
            for fb in 0..plan.f_pad / MR {
                // SAFETY: rows `MR·fb ..` of the head-gradient panel and the `NR` rows of
                // the `col` panel hold `steps · 16` floats each.
                unsafe {
                    tile(
                        gpanel.as_ptr().add(fb * MR * stride),
                        cpanel.as_ptr(),
                        stride,
                        steps,
                        &mut sums,
                    );
                }
                for i in 0..MR.min(f.saturating_sub(fb * MR)) {
                    let fi = fb * MR + i;
                    for j in 0..NR.min(k - kb * NR) {
                        let kj = kb * NR + j;
                        // SAFETY: `fi < F`, `kj < K`: inside `dw` (`F·K` floats), a column of
                        // this thread's blocks.
                        unsafe {
                            let d = dw.add(fi * k + kj);
                            *d = if t0 == 0 {
                                sums[i * NR + j]
                            } else {
                                *d + sums[i * NR + j]
                            };
                        }
                    }
                }
            }
        }
    }
}

/// Copies the head gradient of pixels `t0..t1` (over the batch) into `panel`: row `f` holds
/// `dy[n][f][p]` for those pixels in order, then zeros up to a multiple of 16; the rows past
/// `F` (up to [`MR`]'s multiple) are zero.
fn pack_dy(plan: &Plan<'_>, dy: &[f32], t0: usize, t1: usize, panel: &mut [f32]) {
    let stride = plan.stride();
    let (f, p) = (plan.geom.filters, plan.s.out_spatial);
    let len = t1 - t0;
    let end = len.next_multiple_of(LANES);
    for (fi, row) in panel.chunks_exact_mut(stride).enumerate() {
        if fi >= f {
            row[..end].fill(0.0);
            continue;
        }
        let mut t = t0;
        while t < t1 {
            let (n, q) = (t / p, t % p);
            let seg = (p - q).min(t1 - t);
            let src = &dy[(n * f + fi) * p + q..][..seg];
            row[t - t0..t - t0 + seg].copy_from_slice(src);
            t += seg;
        }
        row[len..end].fill(0.0);
    }
}

/// Per weight column's kernel tap: the rows and columns of the output that read inside the
/// input, and the input offsets.
struct Rows {
    /// Per `ky`: the offset of output row 0's input row, and the valid output rows.
    y: Vec<(isize, (usize, usize))>,
    /// Per `kx`: the offset of output column 0's input column, and the valid output columns.
    x: Vec<(isize, (usize, usize))>,
}

impl Rows {
    fn new(plan: &Plan<'_>) -> Rows {
        let g = plan.geom;
        let [_, oh, ow] = plan.s.out;
        let tap = |d: usize, out: usize| {
            (0..g.kernel[d])
                .map(|t| {
                    let off = (t * g.dilate[d]) as isize - g.pad[d] as isize;
                    (off, valid_range(out, g.input[d], g.stride[d], off))
                })
                .collect()
        };
        Rows {
            y: tap(1, oh),
            x: tap(2, ow),
        }
    }
}

/// The lanes `a..b` of a 16-lane mask (`a ≤ b ≤ 16`).
fn lane_mask(a: usize, b: usize) -> u16 {
    let bits = |n: usize| if n >= 16 { u16::MAX } else { (1u16 << n) - 1 };
    bits(b) & !bits(a)
}

/// Packs the weight columns `NR·kb ..` (`NR` of them, zero rows past `K`) of `col` for the
/// pixels `t0..t1` into `panel` (row stride [`Plan::stride`], 16 floats more than a chunk),
/// each row's tail zeroed up to a multiple of 16. Row after row; within a row, the images in
/// order, and within an image the segments (one output row, or part of one) in order, each
/// as 16-float stores whose lanes past the segment are zero and may land on the segments
/// written after it, or the gap at the row's end. Whole images with rows of at most 16 and a
/// unit stride (LeNet's) take a fast path: one masked load and one store per output row.
///
/// # Safety
/// AVX-512F available; `panel` writable for `NR·stride` floats; `x` of the geometry's length.
#[target_feature(enable = "avx512f,fma")]
unsafe fn pack_col(
    plan: &Plan<'_>,
    rows: &Rows,
    x: &[f32],
    kb: usize,
    t0: usize,
    t1: usize,
    panel: *mut f32,
) {
    let g = plan.geom;
    let stride = plan.stride();
    let [_, ih, iw] = g.input;
    let [_, oh, ow] = plan.s.out;
    let kw = g.kernel[2];
    let (sy, sx) = (g.stride[1], g.stride[2]);
    let (taps, p) = (plan.s.taps, plan.s.out_spatial);
    let plane = ih * iw;
    let sample = g.channels * plane;
    let len = t1 - t0;
    let end = len.next_multiple_of(LANES);
    let zero = _mm512_setzero_ps();
    let fast_rows = sx == 1 && ow <= LANES;
    for j in 0..NR {
        // SAFETY: row `j < NR` of the panel.
        let row = unsafe { panel.add(j * stride) };
        let kj = kb * NR + j;
        if kj >= plan.s.k {
            for v in (0..end).step_by(LANES) {
                // SAFETY: inside the row (`end < stride`).
                unsafe { _mm512_storeu_ps(row.add(v), zero) };
            }
            continue;
        }
        let (c, ky, kx) = (kj / taps, kj % taps / kw, kj % kw);
        let (off_y, (ylo, yhi)) = rows.y[ky];
        let (off_x, (xlo, xhi)) = rows.x[kx];
        let m = lane_mask(xlo, xhi);
        let step = sy * iw;
        // Output row `ylo`'s input row (inside when `ylo < yhi`) at column offset `off_x`, in
        // channel `c` of image 0.
        let first = (c * plane) as isize + ((ylo * sy) as isize + off_y) * iw as isize + off_x;
        for n in t0 / p..t1.div_ceil(p) {
            let q0 = t0.max(n * p) - n * p;
            let q1 = t1.min(n * p + p) - n * p;
            // SAFETY: the image's first pixel in the chunk: `n·p + q0 − t0 < len`.
            let dst = unsafe { row.add(n * p + q0 - t0) };
            if fast_rows && q0 == 0 && q1 == p {
                for oy in 0..ylo {
                    // SAFETY: output row `oy` of this image, within 15 floats past it.
                    unsafe { _mm512_storeu_ps(dst.add(oy * ow), zero) };
                }
                let mut src = x.as_ptr().wrapping_offset(first).wrapping_add(n * sample);
                let mut d = dst.wrapping_add(ylo * ow);
                if ow <= LANES / 2 {
                    // Half-width stores: for rows of 8 they never straddle two cache lines.
                    for _ in ylo..yhi {
                        // SAFETY: as below; the store is 8 floats, within 7 past the row.
                        unsafe {
                            let v = _mm512_maskz_loadu_ps(m, src);
                            _mm256_storeu_ps(d, _mm512_castps512_ps256(v));
                        }
                        src = src.wrapping_add(step);
                        d = d.wrapping_add(ow);
                    }
                } else {
                    for _ in ylo..yhi {
                        // SAFETY: the lanes set read columns `xlo..xhi` of a valid input row
                        // of this plane (masked-off lanes touch no memory, so the wrapping
                        // address may point outside `x`); the store is the image's output
                        // row, within 15 floats past it.
                        unsafe {
                            let v = _mm512_maskz_loadu_ps(m, src);
                            _mm512_storeu_ps(d, v);
                        }
                        src = src.wrapping_add(step);
                        d = d.wrapping_add(ow);
                    }
                }
                for oy in yhi..oh {
                    // SAFETY: as for the rows above `ylo`.
                    unsafe { _mm512_storeu_ps(dst.add(oy * ow), zero) };
                }
                continue;
            }
            let image = x.as_ptr().wrapping_add(n * sample + c * plane);
            // The general path: output rows (or parts) `q0..q1` of this image.
            let mut q = q0;
            while q < q1 {
                let (oy, ox0) = (q / ow, q % ow);
                let ox1 = ow.min(ox0 + (q1 - q));
                // SAFETY: inside the row's part for this image.
                let d = unsafe { dst.add(q - q0) };
                if oy < ylo || oy >= yhi {
                    for v in (0..ox1 - ox0).step_by(LANES) {
                        // SAFETY: within 15 floats past the segment.
                        unsafe { _mm512_storeu_ps(d.add(v), zero) };
                    }
                } else {
                    let iy = ((oy * sy) as isize + off_y) as usize;
                    let xrow = image.wrapping_add(iy * iw);
                    if sx == 1 {
                        let mut ox = ox0;
                        while ox < ox1 {
                            let hi = (ox + LANES).min(ox1).min(xhi).max(ox);
                            let lo = xlo.clamp(ox, hi);
                            let m = lane_mask(lo - ox, hi - ox);
                            // SAFETY: the lanes set read input columns `ox + l + off_x` of
                            // this row with `xlo ≤ ox + l < xhi`, inside it; masked-off lanes
                            // touch no memory. The store is within 15 floats past the
                            // segment.
                            unsafe {
                                let src = xrow.wrapping_offset(ox as isize + off_x);
                                let v = _mm512_maskz_loadu_ps(m, src);
                                _mm512_storeu_ps(d.add(ox - ox0), v);
                            }
                            ox += LANES;
                        }
                    } else {
                        for ox in ox0..ox1 {
                            let v = if ox >= xlo && ox < xhi {
                                let ix = ((ox * sx) as isize + off_x) as usize;
                                // SAFETY: a valid column of a valid row: inside this plane.
                                unsafe { *xrow.add(ix) }
                            } else {
                                0.0
                            };
                            // SAFETY: inside the segment.
                            unsafe { *d.add(ox - ox0) = v };
                        }
                    }
                }
                q += ox1 - ox0;
            }
        }
        // SAFETY: the row's tail and the gap after it (`stride ≥ len + 16`).
        unsafe { _mm512_storeu_ps(row.add(len), zero) };
    }
}

/// Lane indices of the even (`EVEN`) and odd elements of the concatenation of two vectors.
const EVEN: [i32; 16] = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];

/// `a`'s lanes summed in pairs (lanes 0..8), then `b`'s (8..16).
#[target_feature(enable = "avx512f")]
fn fold(a: __m512, b: __m512, even: __m512i, odd: __m512i) -> __m512 {
    _mm512_add_ps(
        _mm512_permutex2var_ps(a, even, b),
        _mm512_permutex2var_ps(a, odd, b),
    )
}

/// Lane `i` of the result: the sum of `v[i]`'s 16 lanes, by a fixed tree (adjacent pairs,
/// four times).
#[target_feature(enable = "avx512f")]
fn hsum16(v: &[__m512; 16]) -> __m512 {
    let e = EVEN;
    let even = _mm512_setr_epi32(
        e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8], e[9], e[10], e[11], e[12], e[13],
        e[14], e[15],
    );
    let odd = _mm512_setr_epi32(
        e[0] + 1,
        e[1] + 1,
        e[2] + 1,
        e[3] + 1,
        e[4] + 1,
        e[5] + 1,
        e[6] + 1,
        e[7] + 1,
        e[8] + 1,
        e[9] + 1,
        e[10] + 1,
        e[11] + 1,
        e[12] + 1,
        e[13] + 1,
        e[14] + 1,
        e[15] + 1,
    );
    let a: [__m512; 8] = std::array::from_fn(|i| fold(v[2 * i], v[2 * i + 1], even, odd));
    let b: [__m512; 4] = std::array::from_fn(|i| fold(a[2 * i], a[2 * i + 1], even, odd));
    let c: [__m512; 2] = std::array::from_fn(|i| fold(b[2 * i], b[2 * i + 1], even, odd));
    fold(c[0], c[1], even, odd)
}

/// One register tile: `sums[NR·i + j]` becomes `Σ_p g[i·stride + p] · c[j·stride + p]`
/// over `p < 16·steps`, each of the 16 lanes summed in order, then the lanes by
/// [`hsum16`].
///
/// # Safety
/// AVX-512F and FMA available; `g` readable for `MR` rows and `c` for `NR` rows of `stride`
/// floats apart, `16·steps` floats each.
#[target_feature(enable = "avx512f,fma")]
unsafe fn tile(
    g: *const f32,
    c: *const f32,
    stride: usize,
    steps: usize,
    sums: &mut [f32; MR * NR],
) {
    const _: () = assert!(MR * NR <= 32 && MR * NR > 16);
    let mut acc = [[_mm512_setzero_ps(); NR]; MR];
    // SAFETY: (the loop) every load is within the rows the caller vouches for.
    unsafe {
        for s in 0..steps {
            let o = s * LANES;
            let gv: [__m512; MR] = std::array::from_fn(|i| _mm512_loadu_ps(g.add(i * stride + o)));
            for j in 0..NR {
                let cv = _mm512_loadu_ps(c.add(j * stride + o));
                for (row, &gi) in acc.iter_mut().zip(&gv) {
                    row[j] = _mm512_fmadd_ps(gi, cv, row[j]);
                }
            }
        }
    }
    let zero = _mm512_set1_ps(0.0);
    let flat = |i: usize| {
        if i < MR * NR {
            acc[i / NR][i % NR]
        } else {
            zero
        }
    };
    let lo = hsum16(&std::array::from_fn(flat));
    let hi = hsum16(&std::array::from_fn(|i| flat(16 + i)));
    let mut out = [0.0f32; 32];
    // SAFETY: `out` holds 32 floats.
    unsafe {
        _mm512_storeu_ps(out.as_mut_ptr(), lo);
        _mm512_storeu_ps(out.as_mut_ptr().add(16), hi);
    }
    sums.copy_from_slice(&out[..MR * NR]);
}
