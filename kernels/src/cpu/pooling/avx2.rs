//! The 2×2 max-pool gradient of [`super::Tiles`] with AVX2, four windows (eight floats of
//! each of the two input rows) at a time: the outputs and head gradients are duplicated into
//! the two lanes of their window by one permute each, both input rows are compared with them,
//! and the first match of each window is kept by swapping the lanes of each pair (an in-lane
//! shuffle) — no de-interleaving, so the stores go straight to the rows of `dx`. A row's last
//! windows (fewer than four) and its unused last column run in scalar code.
//!
//! Eight-float vectors fit LeNet's 24- and 8-wide inputs exactly; on Zen 4 (whose 512-bit
//! instructions run as two 256-bit halves) they cost no more per float than AVX-512's would.

use std::arch::x86_64::{
    __m256, _CMP_EQ_OQ, _mm_loadu_ps, _mm256_and_ps, _mm256_andnot_ps, _mm256_castps128_ps256,
    _mm256_castsi256_ps, _mm256_cmp_ps, _mm256_loadu_ps, _mm256_or_ps, _mm256_permute_ps,
    _mm256_permutevar8x32_ps, _mm256_set_epi32, _mm256_storeu_ps,
};

/// Writes the gradient of `bands` window rows: band `b` reads the two input rows
/// `x[2b·iw..][..iw]` and `x[(2b+1)·iw..][..iw]`, its `ow` outputs `y[b·ow..][..ow]` and head
/// gradients `g[b·ow..][..ow]`, and writes the same two rows of `dx`: window `i`'s gradient at
/// the first of `(top[2i], top[2i+1], bottom[2i], bottom[2i+1])` equal to its output, zero at
/// the other three, and zero in the columns `2·ow..iw` no window covers.
///
/// # Safety
/// AVX2 is available. (The slices' lengths are checked: `2·ow <= iw`, `x` and `dx` hold at
/// least `2·iw·bands` floats and `y`, `g` at least `ow·bands`, or it panics.)
#[target_feature(enable = "avx2")]
pub(super) unsafe fn max_backward_2x2(
    bands: usize,
    iw: usize,
    ow: usize,
    x: &[f32],
    y: &[f32],
    g: &[f32],
    dx: &mut [f32],
) {
    let rows = 2 * iw * bands;
    let outs = ow * bands;
    assert!(2 * ow <= iw && x.len() >= rows && dx.len() >= rows);
    assert!(y.len() >= outs && g.len() >= outs);
    // Output `i` of four into lanes `2i` and `2i + 1`.
    let dup = _mm256_set_epi32(3, 3, 2, 2, 1, 1, 0, 0);
    // All ones in the second lane of each pair (whose partner comes first).
    let second = _mm256_castsi256_ps(_mm256_set_epi32(-1, 0, -1, 0, -1, 0, -1, 0));
    // Swaps the two lanes of each pair.
    const SWAP: i32 = 0b10_11_00_01;
    // The first set lane of each pair of a comparison's lanes.
    let first =
        |eq: __m256| _mm256_andnot_ps(_mm256_and_ps(_mm256_permute_ps::<SWAP>(eq), second), eq);
    let (xp, yp, gp, dp) = (x.as_ptr(), y.as_ptr(), g.as_ptr(), dx.as_mut_ptr());
    for b in 0..bands {
        let (top, out) = (2 * iw * b, ow * b);
        let bottom = top + iw;
        let mut i = 0;
        while i + 4 <= ow {
            // SAFETY: the floats read are `top + 2i .. top + 2i + 8` and the same from
            // `bottom` (`2i + 8 <= 2·ow <= iw`, inside the band's rows, which end at or before
            // `rows <= x.len()`), `out + i .. out + i + 4` of `y` and `g` (`i + 4 <= ow`, so
            // before `outs`); the same floats of `dx` as of `x` are written (`dx.len() >=
            // rows`). Unaligned loads and stores.
            unsafe {
                let t = _mm256_permutevar8x32_ps(
                    _mm256_castps128_ps256(_mm_loadu_ps(yp.add(out + i))),
                    dup,
                );
                let gv = _mm256_permutevar8x32_ps(
                    _mm256_castps128_ps256(_mm_loadu_ps(gp.add(out + i))),
                    dup,
                );
                let eq_top = _mm256_cmp_ps::<_CMP_EQ_OQ>(_mm256_loadu_ps(xp.add(top + 2 * i)), t);
                let any_top = _mm256_or_ps(eq_top, _mm256_permute_ps::<SWAP>(eq_top));
                let eq_bottom = _mm256_andnot_ps(
                    any_top,
                    _mm256_cmp_ps::<_CMP_EQ_OQ>(_mm256_loadu_ps(xp.add(bottom + 2 * i)), t),
                );
                _mm256_storeu_ps(dp.add(top + 2 * i), _mm256_and_ps(first(eq_top), gv));
                _mm256_storeu_ps(dp.add(bottom + 2 * i), _mm256_and_ps(first(eq_bottom), gv));
            }
            i += 4;
        }
        if i == ow && 2 * ow == iw {
            continue;
        }
        let (x0, x1) = (&x[top..top + iw], &x[bottom..bottom + iw]);
        let (d0, d1) = dx[top..bottom + iw].split_at_mut(iw);
        super::max_backward_2x2_row(i, ow, x0, x1, &y[out..out + ow], &g[out..out + ow], d0, d1);
    }
}
