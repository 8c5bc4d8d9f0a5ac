//! Sixteen `f32` lanes — the 16 channels of one block of the blocked layout
//! ([`super::blocked`]) — as one AVX-512 register ([`Zmm`]), two AVX2 registers ([`Ymm2`]) or
//! a plain array ([`Scalar`]): the vector operations the blocked kernels (depthwise
//! convolution, blocked pooling, blocked element-wise operations) are written with, once for
//! every instruction set.
//!
//! A kernel is an `#[inline(always)]` function generic over [`Lanes`], instantiated inside one
//! `#[target_feature]` function per instruction set (everything inlines into it, intrinsics
//! included) and in plain code for [`Scalar`]. Every operation rounds the same way in the three
//! implementations (the multiply-add is fused in all of them, the maximum picks the same
//! operand), so a kernel gives bit-identical results on every instruction set.

use crate::cpu::isa::Isa;

/// A kernel written once over [`Lanes`]: [`run_kernel`] instantiates it for an instruction set.
pub(crate) trait Kernel {
    /// Runs the kernel with lanes `V`; implementations are `#[inline(always)]`, so that they
    /// inline into [`run_kernel`]'s per-instruction-set functions.
    ///
    /// # Safety
    /// `V`'s instruction set is available, and whatever the implementation documents.
    unsafe fn run<V: Lanes>(&self);
}

/// Runs `kernel` with the lanes of `isa` (the portable ones for [`Isa::Scalar`], or where the
/// target has no vector version).
///
/// # Safety
/// `isa` is available on this CPU ([`Isa::is_available`]), and `kernel`'s own requirements.
#[inline]
pub(crate) unsafe fn run_kernel<K: Kernel>(isa: Isa, kernel: &K) {
    #[cfg(target_arch = "x86_64")]
    match isa {
        // SAFETY: the caller checked that the instruction set is available.
        Isa::Avx512 => return unsafe { run_avx512(kernel) },
        // SAFETY: as above.
        Isa::Avx2 => return unsafe { run_avx2(kernel) },
        Isa::Scalar => {}
    }
    let _ = isa;
    // SAFETY: the portable lanes need no instruction set.
    unsafe { kernel.run::<Scalar>() }
}

/// [`Kernel::run`] with [`Zmm`], compiled for AVX-512F and FMA.
///
/// # Safety
/// AVX-512F and FMA available; `kernel`'s own requirements.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn run_avx512<K: Kernel>(kernel: &K) {
    // SAFETY: forwarded; this function has the features `Zmm` needs.
    unsafe { kernel.run::<Zmm>() }
}

/// [`Kernel::run`] with [`Ymm2`], compiled for AVX2 and FMA.
///
/// # Safety
/// AVX2 and FMA available; `kernel`'s own requirements.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<K: Kernel>(kernel: &K) {
    // SAFETY: forwarded; this function has the features `Ymm2` needs.
    unsafe { kernel.run::<Ymm2>() }
}

/// Sixteen `f32` lanes.
///
/// # Safety
/// Every method requires the implementation's instruction set ([`Zmm`]: AVX-512F and FMA;
/// [`Ymm2`]: AVX2 and FMA; [`Scalar`]: none); the pointer methods require `p .. p + 16` valid.
pub(crate) trait Lanes: Copy {
    /// Loads `p[0..16]` (no alignment needed).
    unsafe fn load(p: *const f32) -> Self;
    /// Stores the lanes to `p[0..16]` (no alignment needed).
    unsafe fn store(self, p: *mut f32);
    /// Every lane `v`.
    unsafe fn splat(v: f32) -> Self;
    /// `a · b + c` with one rounding (a fused multiply-add).
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
    /// `a + b`.
    unsafe fn add(a: Self, b: Self) -> Self;
    /// `a − b`.
    unsafe fn sub(a: Self, b: Self) -> Self;
    /// `if v > m { v } else { m }` per lane (`m` where either is NaN: a running maximum that
    /// starts from a number never becomes NaN, as in [`crate::cpu::pooling`]).
    unsafe fn max(v: Self, m: Self) -> Self;
    /// `a / b`.
    unsafe fn div(a: Self, b: Self) -> Self;
    /// MXNet's relu: `0` where `self <= 0`, else `self` (NaN kept, `-0` becomes `+0`).
    unsafe fn relu(self) -> Self;
}

/// Sixteen lanes in one AVX-512 register.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Zmm(std::arch::x86_64::__m512);

#[cfg(target_arch = "x86_64")]
impl Lanes for Zmm {
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: AVX-512F is available and `p` covers 16 floats (the trait's contract).
        unsafe { Zmm(std::arch::x86_64::_mm512_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: as `load`.
        unsafe { std::arch::x86_64::_mm512_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: AVX-512F is available (the trait's contract).
        unsafe { Zmm(std::arch::x86_64::_mm512_set1_ps(v)) }
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: as `splat`.
        unsafe { Zmm(std::arch::x86_64::_mm512_fmadd_ps(a.0, b.0, c.0)) }
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        // SAFETY: as `splat`.
        unsafe { Zmm(std::arch::x86_64::_mm512_add_ps(a.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        // SAFETY: as `splat`.
        unsafe { Zmm(std::arch::x86_64::_mm512_sub_ps(a.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn max(v: Self, m: Self) -> Self {
        // SAFETY: as `splat`. `vmaxps` returns its second operand unless the first is greater.
        unsafe { Zmm(std::arch::x86_64::_mm512_max_ps(v.0, m.0)) }
    }
    #[inline(always)]
    unsafe fn div(a: Self, b: Self) -> Self {
        // SAFETY: as `splat`.
        unsafe { Zmm(std::arch::x86_64::_mm512_div_ps(a.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn relu(self) -> Self {
        use std::arch::x86_64::{
            _CMP_NLE_UQ, _mm512_cmp_ps_mask, _mm512_maskz_mov_ps, _mm512_setzero_ps,
        };
        // SAFETY: as `splat`. Lanes that are not `<= 0` (greater, or NaN) are kept.
        unsafe {
            let keep = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(self.0, _mm512_setzero_ps());
            Zmm(_mm512_maskz_mov_ps(keep, self.0))
        }
    }
}

/// Sixteen lanes in two AVX2 registers (channels 0–7 and 8–15).
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ymm2([std::arch::x86_64::__m256; 2]);

#[cfg(target_arch = "x86_64")]
impl Ymm2 {
    /// Applies `f` to each half.
    #[inline(always)]
    fn map2(
        a: Self,
        b: Self,
        f: impl Fn(std::arch::x86_64::__m256, std::arch::x86_64::__m256) -> std::arch::x86_64::__m256,
    ) -> Self {
        Ymm2([f(a.0[0], b.0[0]), f(a.0[1], b.0[1])])
    }
}

#[cfg(target_arch = "x86_64")]
impl Lanes for Ymm2 {
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        use std::arch::x86_64::_mm256_loadu_ps;
        // SAFETY: AVX2 is available and `p` covers 16 floats (the trait's contract).
        unsafe { Ymm2([_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))]) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        use std::arch::x86_64::_mm256_storeu_ps;
        // SAFETY: as `load`.
        unsafe {
            _mm256_storeu_ps(p, self.0[0]);
            _mm256_storeu_ps(p.add(8), self.0[1]);
        }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: AVX2 is available (the trait's contract).
        let h = unsafe { std::arch::x86_64::_mm256_set1_ps(v) };
        Ymm2([h, h])
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        use std::arch::x86_64::_mm256_fmadd_ps;
        // SAFETY: AVX2 and FMA are available (the trait's contract).
        unsafe {
            Ymm2([
                _mm256_fmadd_ps(a.0[0], b.0[0], c.0[0]),
                _mm256_fmadd_ps(a.0[1], b.0[1], c.0[1]),
            ])
        }
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        // SAFETY: as `splat`.
        Self::map2(a, b, |x, y| unsafe {
            std::arch::x86_64::_mm256_add_ps(x, y)
        })
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        // SAFETY: as `splat`.
        Self::map2(a, b, |x, y| unsafe {
            std::arch::x86_64::_mm256_sub_ps(x, y)
        })
    }
    #[inline(always)]
    unsafe fn max(v: Self, m: Self) -> Self {
        // SAFETY: as `splat`. `vmaxps` returns its second operand unless the first is greater.
        Self::map2(v, m, |x, y| unsafe {
            std::arch::x86_64::_mm256_max_ps(x, y)
        })
    }
    #[inline(always)]
    unsafe fn div(a: Self, b: Self) -> Self {
        // SAFETY: as `splat`.
        Self::map2(a, b, |x, y| unsafe {
            std::arch::x86_64::_mm256_div_ps(x, y)
        })
    }
    #[inline(always)]
    unsafe fn relu(self) -> Self {
        use std::arch::x86_64::{_CMP_NLE_UQ, _mm256_and_ps, _mm256_cmp_ps, _mm256_setzero_ps};
        // SAFETY: as `splat`. Lanes that are not `<= 0` (greater, or NaN) keep their bits.
        Self::map2(self, self, |x, _| unsafe {
            _mm256_and_ps(x, _mm256_cmp_ps::<_CMP_NLE_UQ>(x, _mm256_setzero_ps()))
        })
    }
}

/// Sixteen lanes in plain code (CPUs without AVX2, and the reference the vector versions are
/// tested against).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scalar([f32; 16]);

impl Scalar {
    /// `f` lane by lane.
    #[inline(always)]
    fn map2(a: Self, b: Self, f: impl Fn(f32, f32) -> f32) -> Self {
        Scalar(std::array::from_fn(|i| f(a.0[i], b.0[i])))
    }
}

impl Lanes for Scalar {
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: `p` covers 16 floats (the trait's contract).
        Scalar(std::array::from_fn(|i| unsafe { *p.add(i) }))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        for (i, v) in self.0.into_iter().enumerate() {
            // SAFETY: as `load`.
            unsafe { *p.add(i) = v };
        }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Scalar([v; 16])
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        Scalar(std::array::from_fn(|i| a.0[i].mul_add(b.0[i], c.0[i])))
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        Self::map2(a, b, |x, y| x + y)
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        Self::map2(a, b, |x, y| x - y)
    }
    #[inline(always)]
    unsafe fn max(v: Self, m: Self) -> Self {
        Self::map2(v, m, |x, y| if x > y { x } else { y })
    }
    #[inline(always)]
    unsafe fn div(a: Self, b: Self) -> Self {
        Self::map2(a, b, |x, y| x / y)
    }
    #[inline(always)]
    unsafe fn relu(self) -> Self {
        Self::map2(self, self, |x, _| if x <= 0.0 { 0.0 } else { x })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::isa::Isa;

    /// Runs every operation on awkward values with `V`, returning the stored results.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn ops<V: Lanes>(a: &[f32; 16], b: &[f32; 16]) -> Vec<[f32; 16]> {
        let mut out = vec![[0.0f32; 16]; 7];
        // SAFETY: the arrays hold 16 floats; the caller checked the instruction set.
        unsafe {
            let (x, y) = (V::load(a.as_ptr()), V::load(b.as_ptr()));
            V::fma(x, y, V::splat(0.25)).store(out[0].as_mut_ptr());
            V::add(x, y).store(out[1].as_mut_ptr());
            V::max(x, y).store(out[2].as_mut_ptr());
            V::div(x, y).store(out[3].as_mut_ptr());
            x.relu().store(out[4].as_mut_ptr());
            V::max(y, x).store(out[5].as_mut_ptr());
            V::sub(x, y).store(out[6].as_mut_ptr());
        }
        out
    }

    #[test]
    fn every_instruction_set_rounds_and_compares_alike() {
        let a: [f32; 16] = [
            1.0,
            -1.0,
            0.0,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e-40,
            -1e-40,
            3.0,
            1.0 + f32::EPSILON,
            -7.5,
            f32::MIN,
            f32::MAX,
            0.1,
            -0.3,
        ];
        let b: [f32; 16] = std::array::from_fn(|i| [0.5, -0.0, f32::NAN, 2.0][i % 4]);
        // SAFETY: no instruction set needed.
        let want = unsafe { ops::<Scalar>(&a, &b) };
        // The scalar semantics: relu and the pooling maximum.
        assert_eq!(want[4][1].to_bits(), 0.0f32.to_bits());
        assert_eq!(want[4][3].to_bits(), 0.0f32.to_bits(), "-0 becomes +0");
        assert!(want[4][4].is_nan(), "NaN kept");
        assert!(want[2][2].is_nan() && !want[5][2].is_nan() && want[2][4] == 0.5);
        assert_eq!(want[0][12], f32::MIN.mul_add(0.5, 0.25));
        for isa in Isa::available() {
            #[cfg(target_arch = "x86_64")]
            {
                // SAFETY: `isa` is available.
                let got = unsafe {
                    match isa {
                        Isa::Avx512 => ops::<Zmm>(&a, &b),
                        Isa::Avx2 => ops::<Ymm2>(&a, &b),
                        Isa::Scalar => continue,
                    }
                };
                // Bit for bit, every NaN alike (payloads are not part of the contract).
                let bits = |v: &[f32; 16]| -> Vec<u32> {
                    v.iter()
                        .map(|x| if x.is_nan() { u32::MAX } else { x.to_bits() })
                        .collect()
                };
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(bits(g), bits(w), "{isa}");
                }
            }
        }
    }
}
