//! The AVX-512F (with FMA) micro-kernel and packing of mxr's BLIS-style single-precision GEMM;
//! the blocked loops are in `blis.rs`.
//!
//! The micro-kernel keeps the `MR × NR` tile in `MR · NR / 16` zmm accumulators; each `k` step
//! loads `NR / 16` vectors of `B`, broadcasts `MR` values of `A` (one per row) and issues
//! `MR · NR / 16` FMAs. Edge tiles run the same kernel on zero-padded panels and store with
//! masks.
//!
//! Each kernel call prefetches its `C` tile before the products, so the tile is in L1 by the
//! time it is stored.
//!
//! Tuning (development machine: 2-vCPU KVM guest reporting an AVX-512 Intel Xeon, 48 KiB L1d,
//! 2 MiB L2, FMA peak ≈ 210 GFLOP/s, low memory bandwidth): with FMAs, every 64-byte load
//! costs throughput, so even an ideal hand-written loop with `B` streaming from cache reaches
//! only ≈ 188–195 GFLOP/s; this intrinsics kernel runs at ≈ 180–186 alone and ≈ 170 in the
//! whole product. 6 × 64 was the best tile with `A` read in place (12-row tiles thrash L1
//! when `A`'s rows are 4 KiB apart); a large `kc` (fewer passes over `C`) with a 768 KiB `B`
//! block measured best; software prefetching of the next `A` rows or `B` block made it slower.

use std::arch::x86_64::{
    __m512, __mmask16, _MM_HINT_T0, _mm_prefetch, _mm512_castpd_ps, _mm512_castps_pd,
    _mm512_fmadd_ps, _mm512_load_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps,
    _mm512_mul_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_shuffle_f32x4, _mm512_store_ps,
    _mm512_storeu_ps, _mm512_unpackhi_pd, _mm512_unpackhi_ps, _mm512_unpacklo_pd,
    _mm512_unpacklo_ps,
};

use super::blis::{Blocking, MicroKernel, Product, Src, Tile, Work};

/// Rows of the micro-tile (the broadcast operand, `A`).
pub(crate) const MR: usize = 6;
/// zmm vectors per micro-tile row.
pub(crate) const NV: usize = 4;
/// Columns of the micro-tile (the vector operand, `B`).
pub(crate) const NR: usize = 16 * NV;

/// The block sizes used by default (tuned on the development machine, see the module docs).
pub(crate) const BLOCKING: Blocking = Blocking {
    kc: 1024,
    nb: 192,
    mb: 1536,
};

/// Whether this CPU can run the kernel.
pub(crate) fn available() -> bool {
    // The standard library caches the CPUID probe, so this is a couple of loads.
    std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")
}

/// `C = alpha * A · B + beta * C` where `A` is `m × k`, `B` is `k × n` and `C` is `m × n`
/// row-major with leading dimension `ldc`. `beta == 0` writes `C` without reading it.
///
/// # Safety
/// - [`available()`] must have returned `true`;
/// - every element `(i, p)`, `i < m`, `p < k` of `a` and `(p, j)`, `p < k`, `j < n` of `b` must
///   be readable, and every `c + i * ldc + j`, `i < m`, `j < n` readable and writable;
/// - `C`'s elements must not overlap `A`'s or `B`'s, and nothing else may access them during
///   the call.
pub(crate) unsafe fn sgemm(p: Product, blk: Blocking) {
    // SAFETY: forwarded contract.
    unsafe { super::blis::sgemm::<Avx512>(p, blk) }
}

/// The AVX-512 [`MicroKernel`]: [`MR`] × [`NR`].
#[derive(Debug)]
pub(crate) struct Avx512;

impl MicroKernel for Avx512 {
    const MR: usize = MR;
    const NR: usize = NR;

    unsafe fn pack_a(mc: usize, kc: usize, a: Src, i0: usize, p0: usize, dst: *mut f32) {
        // SAFETY: forwarded contract.
        unsafe { pack_a_rows(mc, kc, a, i0, p0, dst) }
    }

    unsafe fn pack_b(kc: usize, nc: usize, b: Src, p0: usize, j0: usize, dst: *mut f32) {
        // SAFETY: forwarded contract.
        unsafe { pack_b::<NV>(kc, nc, b, p0, j0, dst) }
    }

    unsafe fn kernel(t: &Tile) {
        // SAFETY: forwarded contract.
        unsafe { kernel::<MR, NV>(t) }
    }

    unsafe fn driver(p: Product, w: Work) {
        // SAFETY: forwarded contract.
        unsafe { driver(p, w) }
    }
}

/// [`super::blis::driver`] compiled with AVX-512.
///
/// # Safety
/// As [`super::blis::driver`], and AVX-512F with FMA available.
#[target_feature(enable = "avx512f,fma")]
unsafe fn driver(p: Product, w: Work) {
    // SAFETY: forwarded contract.
    unsafe { super::blis::driver::<Avx512>(p, w) }
}

/// Transposes a 16 × 16 block held as 16 row vectors: afterwards `r[j]` lane `i` is the old
/// `r[i]` lane `j`.
#[target_feature(enable = "avx512f")]
#[inline]
fn transpose16(r: &mut [__m512; 16]) {
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // Within each 128-bit lane `L`, `u[4 g + j]` now holds column `4 L + j` of rows
    // `4 g .. 4 g + 4`.
    let mut u = [_mm512_setzero_ps(); 16];
    for g in 0..4 {
        let (t0, t1, t2, t3) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
        let pd = |x: __m512| _mm512_castps_pd(x);
        u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t0), pd(t2)));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t0), pd(t2)));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t1), pd(t3)));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t1), pd(t3)));
    }
    // A 4 × 4 transpose of 128-bit blocks among u[j], u[4 + j], u[8 + j], u[12 + j].
    for j in 0..4 {
        let v0 = _mm512_shuffle_f32x4::<0x44>(u[j], u[4 + j]);
        let v1 = _mm512_shuffle_f32x4::<0xEE>(u[j], u[4 + j]);
        let v2 = _mm512_shuffle_f32x4::<0x44>(u[8 + j], u[12 + j]);
        let v3 = _mm512_shuffle_f32x4::<0xEE>(u[8 + j], u[12 + j]);
        r[j] = _mm512_shuffle_f32x4::<0x88>(v0, v2);
        r[4 + j] = _mm512_shuffle_f32x4::<0xDD>(v0, v2);
        r[8 + j] = _mm512_shuffle_f32x4::<0x88>(v1, v3);
        r[12 + j] = _mm512_shuffle_f32x4::<0xDD>(v1, v3);
    }
}

/// [`super::blis::pack_a_rows_scalar`] with AVX-512 for a column-contiguous `A` (`rs == 1`, a transposed
/// operand): 16 × 16 blocks are transposed in registers. Other layouts use the portable code.
///
/// # Safety
/// As [`super::blis::pack_a_rows_scalar`], and AVX-512F available.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn pack_a_rows(
    mc: usize,
    kc: usize,
    a: Src,
    i0: usize,
    p0: usize,
    dst: *mut f32,
) {
    if a.rs != 1 {
        // SAFETY: the same contract.
        return unsafe { super::blis::pack_a_rows_scalar(mc, kc, a, i0, p0, dst) };
    }
    for i in (0..mc).step_by(16) {
        let height = 16.min(mc - i);
        let in_mask = lanes(height);
        for p in (0..kc).step_by(16) {
            let width = 16.min(kc - p);
            let out_mask = lanes(width);
            let mut r = [_mm512_setzero_ps(); 16];
            for (pp, col) in r.iter_mut().enumerate().take(width) {
                // SAFETY: column `p + pp < kc`, rows `i .. i + height <= mc` are inside the
                // block and contiguous (`rs == 1`); masked-off lanes are not read.
                *col = unsafe { _mm512_maskz_loadu_ps(in_mask, a.at(i0 + i, p0 + p + pp)) };
            }
            transpose16(&mut r);
            for (ii, row) in r.iter().enumerate().take(height) {
                // SAFETY: row `i + ii < mc`, columns `p .. p + width <= kc` of `dst`.
                unsafe { _mm512_mask_storeu_ps(dst.add((i + ii) * kc + p), out_mask, *row) };
            }
        }
    }
}

/// [`super::blis::pack_b_scalar`] with AVX-512: a row-contiguous `B` is copied a vector at a time, a
/// column-contiguous one goes through 16 × 16 transposes. `dst` must be 64-byte aligned.
///
/// # Safety
/// As [`super::blis::pack_b_scalar`], AVX-512F available, and `dst` 64-byte aligned.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn pack_b<const NV: usize>(
    kc: usize,
    nc: usize,
    b: Src,
    p0: usize,
    j0: usize,
    dst: *mut f32,
) {
    let nr = 16 * NV;
    if b.cs == 1 {
        for (q, jr) in (0..nc).step_by(nr).enumerate() {
            let cols = nr.min(nc - jr);
            // SAFETY: panel `q` is `nr * kc` floats inside `dst` (the caller sized it), and
            // 64-byte aligned (`dst` is, and `nr * kc * 4` is a multiple of 64).
            let panel = unsafe { dst.add(q * nr * kc) };
            for p in 0..kc {
                for v in 0..NV {
                    let mask = lanes(cols.saturating_sub(16 * v));
                    // SAFETY: row `p < kc`, columns `jr + 16 v + lane < nc` for the lanes in
                    // `mask` are inside `B` and contiguous; masked-off lanes are not read (an
                    // empty mask reads nothing, so the address may be past the end). The store
                    // is 16 aligned floats of step `p` of the panel.
                    unsafe {
                        let src = b.ptr.wrapping_add((p0 + p) * b.rs + j0 + jr + 16 * v);
                        let x = _mm512_maskz_loadu_ps(mask, src);
                        _mm512_store_ps(panel.add(p * nr + 16 * v), x);
                    }
                }
            }
        }
    } else if b.rs == 1 {
        for (q, jr) in (0..nc).step_by(nr).enumerate() {
            let cols = nr.min(nc - jr);
            // SAFETY: as above.
            let panel = unsafe { dst.add(q * nr * kc) };
            for v in 0..NV {
                let cols_v = cols.saturating_sub(16 * v).min(16);
                for p in (0..kc).step_by(16) {
                    let width = 16.min(kc - p);
                    let in_mask = lanes(width);
                    let mut r = [_mm512_setzero_ps(); 16];
                    for (c, col) in r.iter_mut().enumerate().take(cols_v) {
                        // SAFETY: column `jr + 16 v + c < nc` and rows `p .. p + width <= kc`
                        // are inside `B` and contiguous (`rs == 1`); masked-off lanes are not
                        // read.
                        *col = unsafe {
                            _mm512_maskz_loadu_ps(in_mask, b.at(p0 + p, j0 + jr + 16 * v + c))
                        };
                    }
                    transpose16(&mut r);
                    for (j, row) in r.iter().enumerate().take(width) {
                        // SAFETY: step `p + j < kc`, vector `v` of the panel: 16 aligned floats.
                        unsafe { _mm512_store_ps(panel.add((p + j) * nr + 16 * v), *row) };
                    }
                }
            }
        }
    } else {
        // SAFETY: the same contract.
        unsafe { super::blis::pack_b_scalar(16 * NV, kc, nc, b, p0, j0, dst) }
    }
}

/// Lane mask for the first `cols` lanes (all 16 from 16 up).
#[inline(always)]
fn lanes(cols: usize) -> __mmask16 {
    if cols >= 16 {
        0xFFFF
    } else {
        ((1u32 << cols) - 1) as __mmask16
    }
}

/// The micro-kernel on one [`Tile`] of `MR` rows and `16 * NV` columns.
///
/// # Safety
/// AVX-512F and FMA available, and `t` as [`Tile`] documents.
#[target_feature(enable = "avx512f,fma")]
#[inline(never)]
pub(crate) unsafe fn kernel<const MR: usize, const NV: usize>(t: &Tile) {
    let Tile {
        kc,
        a,
        lda,
        bp,
        c,
        ldc,
        rows,
        cols,
        alpha,
        beta,
    } = *t;
    let nr = 16 * NV;
    // Warm the C tile while the products run: it is read (or written) only at the end.
    for i in 0..rows {
        // SAFETY: prefetching has no memory effects; the addresses are the tile's rows.
        unsafe {
            let row = c.add(i * ldc);
            for v in 0..NV {
                if 16 * v < cols {
                    _mm_prefetch::<_MM_HINT_T0>(row.add(16 * v).cast());
                }
            }
            _mm_prefetch::<_MM_HINT_T0>(row.add(cols - 1).cast());
        }
    }
    // SAFETY: row `r < MR` starts inside `A`'s rows (the caller's contract).
    let arow: [*const f32; MR] = std::array::from_fn(|r| unsafe { a.add(r * lda) });
    let mut acc = [[_mm512_setzero_ps(); NV]; MR];
    let mut b = bp;
    let mut p = 0;
    macro_rules! step {
        ($u:expr) => {{
            // SAFETY: step `p + $u < kc` (the loop bounds below): inside every row of `A` and
            // inside the `B` panel, whose vectors are 64-byte aligned (the panel is, and a
            // step is `16 * NV` floats).
            unsafe {
                let bv: [__m512; NV] =
                    std::array::from_fn(|v| _mm512_load_ps(b.add($u * nr + 16 * v)));
                for (row, ar) in acc.iter_mut().zip(arow) {
                    let av = _mm512_set1_ps(*ar.add(p + $u));
                    for (x, bx) in row.iter_mut().zip(bv) {
                        *x = _mm512_fmadd_ps(av, bx, *x);
                    }
                }
            }
        }};
    }
    for _ in 0..kc / 4 {
        step!(0);
        step!(1);
        step!(2);
        step!(3);
        p += 4;
        // SAFETY: four steps consumed; at most `kc` in all, so `b` stays within (or one past)
        // its panel.
        b = unsafe { b.add(4 * nr) };
    }
    for _ in 0..kc % 4 {
        step!(0);
        p += 1;
        // SAFETY: as above, one step.
        b = unsafe { b.add(nr) };
    }

    let va = _mm512_set1_ps(alpha);
    let vb = _mm512_set1_ps(beta);
    if rows == MR && cols == nr {
        for (i, row) in acc.iter().enumerate() {
            for (v, &x) in row.iter().enumerate() {
                // SAFETY: the tile is full, so row `i < MR` and columns `16 v .. 16 v + 16`
                // are inside it.
                unsafe {
                    let p = c.add(i * ldc + 16 * v);
                    let r = if beta == 0.0 {
                        _mm512_mul_ps(va, x)
                    } else if beta == 1.0 {
                        _mm512_fmadd_ps(va, x, _mm512_loadu_ps(p))
                    } else {
                        _mm512_fmadd_ps(va, x, _mm512_mul_ps(vb, _mm512_loadu_ps(p)))
                    };
                    _mm512_storeu_ps(p, r);
                }
            }
        }
    } else {
        for (i, row) in acc.iter().enumerate().take(rows) {
            for (v, &x) in row.iter().enumerate() {
                if 16 * v >= cols {
                    break;
                }
                let mask = lanes(cols - 16 * v);
                // SAFETY: row `i < rows`; the masked lanes are columns `< cols`, inside the
                // tile; masked-off lanes are neither read nor written.
                unsafe {
                    let p = c.add(i * ldc + 16 * v);
                    let r = if beta == 0.0 {
                        _mm512_mul_ps(va, x)
                    } else {
                        let old = _mm512_maskz_loadu_ps(mask, p);
                        _mm512_fmadd_ps(va, x, _mm512_mul_ps(vb, old))
                    };
                    _mm512_mask_storeu_ps(p, mask, r);
                }
            }
        }
    }
}
