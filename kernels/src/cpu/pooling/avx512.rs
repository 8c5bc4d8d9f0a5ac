//! The 2×2 max-pool gradient of [`super::Tiles`] with AVX-512, 16 windows at a time: the
//! even and odd columns of both input rows are separated by two-source permutes, compared
//! with the outputs, and the gradient goes where the first match is (masked moves), then the
//! four results are interleaved back into the two rows of `dx`. The last windows of a row
//! (fewer than 16: all of them in LeNet's 12- and 4-wide rows) go the same way with masked
//! loads and stores.

use std::arch::x86_64::{
    __m512, __m512i, __mmask16, _CMP_EQ_OQ, _mm512_cmp_ps_mask, _mm512_mask_storeu_ps,
    _mm512_maskz_loadu_ps, _mm512_maskz_mov_ps, _mm512_permutex2var_ps, _mm512_set_epi32,
};

/// Writes the gradient of the `n` windows of one output row and returns `n`: the window `i`
/// reads `x0[2i..2i+2]` and `x1[2i..2i+2]` (the two input rows), its output `y[i]`
/// and head gradient `g[i]`, and writes `d0[2i..2i+2]`, `d1[2i..2i+2]`: `g[i]` at the first of
/// `x0[2i], x0[2i+1], x1[2i], x1[2i+1]` equal to `y[i]`, zero at the others.
///
/// # Safety
/// AVX-512F is available. (The slices' lengths are checked: `x0`, `x1`, `d0`, `d1` hold at
/// least `2n` floats and `y`, `g` at least `n`, or it panics.)
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn max_backward_2x2_row(
    x0: &[f32],
    x1: &[f32],
    y: &[f32],
    g: &[f32],
    d0: &mut [f32],
    d1: &mut [f32],
) -> usize {
    let n = y.len().min(g.len());
    assert!(x0.len() >= 2 * n && x1.len() >= 2 * n && d0.len() >= 2 * n && d1.len() >= 2 * n);
    // Lanes 0..16 of (lo, hi): the even elements, then the odd ones.
    let even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    let odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    // Interleaving (e, o) back: the first 16 floats, then the next 16.
    let low = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    let high = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    let mut i = 0;
    while i < n {
        // Windows `i .. i + w`: their outputs under `m`, their input floats under `m_lo` (the
        // first 16) and `m_hi` (the next 16); all set but for the row's last windows.
        let w = (n - i).min(16);
        let mask = |bits: usize| -> __mmask16 { ((1u32 << bits) - 1) as __mmask16 };
        let (m, m_lo, m_hi) = (mask(w), mask((2 * w).min(16)), mask((2 * w).max(16) - 16));
        let split = |p: *const f32| -> (__m512, __m512) {
            // SAFETY: the unmasked floats, `p .. p + 2w`, are inside a row of `2n` floats
            // (`i + w <= n`); masked lanes are not read.
            let (lo, hi) = unsafe {
                (
                    _mm512_maskz_loadu_ps(m_lo, p),
                    _mm512_maskz_loadu_ps(m_hi, p.add(16)),
                )
            };
            (
                _mm512_permutex2var_ps(lo, even, hi),
                _mm512_permutex2var_ps(lo, odd, hi),
            )
        };
        let join = |p: *mut f32, e: __m512, o: __m512| {
            let idx: (__m512i, __m512i) = (low, high);
            // SAFETY: as for `split`, in a row of `dx`; masked lanes are not written.
            unsafe {
                _mm512_mask_storeu_ps(p, m_lo, _mm512_permutex2var_ps(e, idx.0, o));
                _mm512_mask_storeu_ps(p.add(16), m_hi, _mm512_permutex2var_ps(e, idx.1, o));
            }
        };
        let (a0, a1) = split(x0[2 * i..].as_ptr());
        let (b0, b1) = split(x1[2 * i..].as_ptr());
        // SAFETY: the unmasked lanes are the `w` floats from `i` of `y` and `g` (`i + w <= n`).
        let (t, gv) = unsafe {
            (
                _mm512_maskz_loadu_ps(m, y[i..].as_ptr()),
                _mm512_maskz_loadu_ps(m, g[i..].as_ptr()),
            )
        };
        let e0 = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(a0, t) & m;
        let e1 = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(a1, t) & !e0 & m;
        let e2 = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(b0, t) & !(e0 | e1) & m;
        let e3 = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(b1, t) & !(e0 | e1 | e2) & m;
        join(
            d0[2 * i..].as_mut_ptr(),
            _mm512_maskz_mov_ps(e0, gv),
            _mm512_maskz_mov_ps(e1, gv),
        );
        join(
            d1[2 * i..].as_mut_ptr(),
            _mm512_maskz_mov_ps(e2, gv),
            _mm512_maskz_mov_ps(e3, gv),
        );
        i += w;
    }
    n
}
