//! The vector kernels of x86-64: the generic transforms instantiated for AVX-512 (`__m512`)
//! and AVX2 (two `__m256`).

use std::arch::x86_64::{
    __m256, __m512, _CMP_NLE_UQ, _mm256_add_ps, _mm256_and_ps, _mm256_cmp_ps, _mm256_fmadd_ps,
    _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps, _mm256_sub_ps,
    _mm512_add_ps, _mm512_cmp_ps_mask, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_maskz_mov_ps,
    _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps, _mm512_sub_ps,
};
use std::ops::Range;

use super::{Ctx, Lanes, Transform, input_tiles, output_tiles};

impl Lanes for __m512 {
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX-512 is available (the caller's).
        unsafe { _mm512_setzero_ps() }
    }

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: AVX-512 is available and `p` covers 16 floats (the caller's).
        unsafe { _mm512_loadu_ps(p) }
    }

    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: AVX-512 is available and `p` covers 16 floats (the caller's).
        unsafe { _mm512_storeu_ps(p, self) }
    }

    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: AVX-512 is available (the caller's).
        unsafe { _mm512_add_ps(self, o) }
    }

    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        // SAFETY: AVX-512 is available (the caller's).
        unsafe { _mm512_sub_ps(self, o) }
    }

    #[inline(always)]
    unsafe fn mul_add(self, c: f32, acc: Self) -> Self {
        // SAFETY: AVX-512 is available (the caller's).
        unsafe { _mm512_fmadd_ps(self, _mm512_set1_ps(c), acc) }
    }

    #[inline(always)]
    unsafe fn relu(self) -> Self {
        // SAFETY: AVX-512 is available (the caller's).
        unsafe {
            let keep = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(self, _mm512_setzero_ps());
            _mm512_maskz_mov_ps(keep, self)
        }
    }
}

/// 16 lanes as two AVX2 registers.
#[derive(Clone, Copy)]
pub(super) struct Avx2x2([__m256; 2]);

impl Lanes for Avx2x2 {
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX2 is available (the caller's).
        unsafe { Avx2x2([_mm256_setzero_ps(); 2]) }
    }

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: AVX2 is available and `p` covers 16 floats (the caller's).
        unsafe { Avx2x2([_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))]) }
    }

    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: AVX2 is available and `p` covers 16 floats (the caller's).
        unsafe {
            _mm256_storeu_ps(p, self.0[0]);
            _mm256_storeu_ps(p.add(8), self.0[1]);
        }
    }

    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: AVX2 is available (the caller's).
        unsafe {
            Avx2x2([
                _mm256_add_ps(self.0[0], o.0[0]),
                _mm256_add_ps(self.0[1], o.0[1]),
            ])
        }
    }

    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        // SAFETY: AVX2 is available (the caller's).
        unsafe {
            Avx2x2([
                _mm256_sub_ps(self.0[0], o.0[0]),
                _mm256_sub_ps(self.0[1], o.0[1]),
            ])
        }
    }

    #[inline(always)]
    unsafe fn mul_add(self, c: f32, acc: Self) -> Self {
        // SAFETY: AVX2 and FMA are available (the caller's).
        unsafe {
            let c = _mm256_set1_ps(c);
            Avx2x2([
                _mm256_fmadd_ps(self.0[0], c, acc.0[0]),
                _mm256_fmadd_ps(self.0[1], c, acc.0[1]),
            ])
        }
    }

    #[inline(always)]
    unsafe fn relu(self) -> Self {
        // SAFETY: AVX2 is available (the caller's).
        unsafe {
            let zero = _mm256_setzero_ps();
            let [a, b] = self.0;
            Avx2x2([
                _mm256_and_ps(a, _mm256_cmp_ps::<_CMP_NLE_UQ>(a, zero)),
                _mm256_and_ps(b, _mm256_cmp_ps::<_CMP_NLE_UQ>(b, zero)),
            ])
        }
    }
}

/// [`input_tiles`] with AVX-512.
///
/// # Safety
/// As [`Ctx::input_block`]; AVX-512F is available.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn input_avx512<K: Transform<A, M>, const A: usize, const M: usize>(
    c: &Ctx,
    tiles: Range<usize>,
    v: *mut f32,
    strides: [usize; 2],
) {
    // SAFETY: forwarded; AVX-512 is available.
    unsafe { input_tiles::<__m512, K, A, M>(c, tiles, v, strides) }
}

/// [`output_tiles`] with AVX-512.
///
/// # Safety
/// As [`Ctx::output_block`]; AVX-512F is available.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn output_avx512<K: Transform<A, M>, const A: usize, const M: usize>(
    c: &Ctx,
    tiles: Range<usize>,
    og: usize,
    m: *const f32,
    m_xi: usize,
) {
    // SAFETY: forwarded; AVX-512 is available.
    unsafe { output_tiles::<__m512, K, A, M>(c, tiles, og, m, m_xi) }
}

/// [`input_tiles`] with AVX2.
///
/// # Safety
/// As [`Ctx::input_block`]; AVX2 and FMA are available.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn input_avx2<K: Transform<A, M>, const A: usize, const M: usize>(
    c: &Ctx,
    tiles: Range<usize>,
    v: *mut f32,
    strides: [usize; 2],
) {
    // SAFETY: forwarded; AVX2 is available.
    unsafe { input_tiles::<Avx2x2, K, A, M>(c, tiles, v, strides) }
}

/// [`output_tiles`] with AVX2.
///
/// # Safety
/// As [`Ctx::output_block`]; AVX2 and FMA are available.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn output_avx2<K: Transform<A, M>, const A: usize, const M: usize>(
    c: &Ctx,
    tiles: Range<usize>,
    og: usize,
    m: *const f32,
    m_xi: usize,
) {
    // SAFETY: forwarded; AVX2 is available.
    unsafe { output_tiles::<Avx2x2, K, A, M>(c, tiles, og, m, m_xi) }
}
