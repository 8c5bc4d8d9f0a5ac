//! The AVX2 (with FMA) micro-kernel and packing of mxr's BLIS-style single-precision GEMM,
//! for CPUs without AVX-512 (and AVX-512 ones capped by `MXR_CPU_ISA=avx2`); the blocked
//! loops are in `blis.rs`.
//!
//! AVX2 has 16 ymm registers: the micro-kernel keeps a 6 × 16 tile of `C` in 12 accumulators,
//! and each `k` step loads 2 vectors of `B`, broadcasts 6 values of `A` (one per row) and
//! issues 12 FMAs, in 12 + 2 + 1 registers. Edge tiles run the same kernel on zero-padded
//! panels and are stored through a buffer. Transposed operands are packed with 8 × 8 ymm
//! transposes ([`crate::cpu::tile`]).

use std::arch::x86_64::{
    __m256, _MM_HINT_T0, _mm_prefetch, _mm256_fmadd_ps, _mm256_load_ps, _mm256_loadu_ps,
    _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_store_ps, _mm256_storeu_ps,
};

use super::blis::{Blocking, MicroKernel, Product, Src, Tile, Work};
use crate::cpu::isa::Isa;
use crate::cpu::tile;

/// Rows of the micro-tile (the broadcast operand, `A`).
pub(crate) const MR: usize = 6;
/// ymm vectors per micro-tile row.
pub(crate) const NV: usize = 2;
/// Columns of the micro-tile (the vector operand, `B`).
pub(crate) const NR: usize = 8 * NV;

/// The block sizes used by default: a `kc × nb` block of `B` of 512 KiB, as for AVX-512.
pub(crate) const BLOCKING: Blocking = Blocking {
    kc: 1024,
    nb: 128,
    mb: 1536,
};

/// Whether this CPU can run the kernel.
pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// `C = alpha * A · B + beta * C` where `A` is `m × k`, `B` is `k × n` and `C` is `m × n`
/// row-major with leading dimension `ldc`. `beta == 0` writes `C` without reading it.
///
/// # Safety
/// As [`super::blis::sgemm`], with [`available()`] true.
pub(crate) unsafe fn sgemm(p: Product, blk: Blocking) {
    // SAFETY: forwarded contract.
    unsafe { super::blis::sgemm::<Avx2>(p, blk) }
}

/// The AVX2 [`MicroKernel`]: [`MR`] × [`NR`].
#[derive(Debug)]
pub(crate) struct Avx2;

impl MicroKernel for Avx2 {
    const MR: usize = MR;
    const NR: usize = NR;

    unsafe fn pack_a(mc: usize, kc: usize, a: Src, i0: usize, p0: usize, dst: *mut f32) {
        // SAFETY: forwarded contract.
        unsafe { pack_a_rows(mc, kc, a, i0, p0, dst) }
    }

    unsafe fn pack_b(kc: usize, nc: usize, b: Src, p0: usize, j0: usize, dst: *mut f32) {
        // SAFETY: forwarded contract.
        unsafe { pack_b(kc, nc, b, p0, j0, dst) }
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

/// [`super::blis::driver`] compiled with AVX2.
///
/// # Safety
/// As [`super::blis::driver`], and AVX2 with FMA available.
#[target_feature(enable = "avx2,fma")]
unsafe fn driver(p: Product, w: Work) {
    // SAFETY: forwarded contract.
    unsafe { super::blis::driver::<Avx2>(p, w) }
}

/// [`super::blis::pack_a_rows_scalar`] with AVX2 for a column-contiguous `A` (`rs == 1`, a
/// transposed operand): 16 × 16 blocks are transposed in registers. Other layouts use the
/// portable code.
///
/// # Safety
/// As [`super::blis::pack_a_rows_scalar`], and AVX2 available.
#[target_feature(enable = "avx2")]
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
    for i in (0..mc).step_by(tile::T) {
        let height = tile::T.min(mc - i);
        for p in (0..kc).step_by(tile::T) {
            let width = tile::T.min(kc - p);
            // SAFETY: source rows are columns `p .. p + width` of the block, each with rows
            // `i .. i + height` contiguous (`rs == 1`) inside it; destination rows are rows
            // `i .. i + height` of `dst`, columns `p .. p + width` (the narrow form writes no
            // further).
            unsafe {
                let (s, d) = (a.at(i0 + i, p0 + p), dst.add(i * kc + p));
                if width == tile::T {
                    tile::transpose(Isa::Avx2, s, a.cs, width, height, d, kc, height);
                } else {
                    tile::transpose_narrow(Isa::Avx2, s, a.cs, width, height, d, kc, width);
                }
            }
        }
    }
}

/// [`super::blis::pack_b_scalar`] with AVX2 and [`NR`]-column panels: a row-contiguous `B` is
/// copied two vectors at a time, a column-contiguous one goes through 16 × 16 transposes.
///
/// # Safety
/// As [`super::blis::pack_b_scalar`] (with `nr = NR`), AVX2 available, and `dst` 32-byte
/// aligned.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn pack_b(kc: usize, nc: usize, b: Src, p0: usize, j0: usize, dst: *mut f32) {
    if b.cs == 1 {
        for (q, jr) in (0..nc).step_by(NR).enumerate() {
            let cols = NR.min(nc - jr);
            // SAFETY: panel `q` is `NR * kc` floats inside `dst` (the caller sized it), and
            // 32-byte aligned (`dst` is, and `NR * kc * 4` is a multiple of 64).
            let panel = unsafe { dst.add(q * NR * kc) };
            for p in 0..kc {
                // SAFETY: row `p < kc`, columns `jr .. jr + cols <= nc` of `B`, contiguous;
                // step `p` of the panel, `NR` aligned floats.
                unsafe {
                    let src = b.at(p0 + p, j0 + jr);
                    let out = panel.add(p * NR);
                    if cols == NR {
                        for v in 0..NV {
                            _mm256_store_ps(out.add(8 * v), _mm256_loadu_ps(src.add(8 * v)));
                        }
                    } else {
                        for col in 0..NR {
                            *out.add(col) = if col < cols { *src.add(col) } else { 0.0 };
                        }
                    }
                }
            }
        }
    } else if b.rs == 1 {
        for (q, jr) in (0..nc).step_by(NR).enumerate() {
            let cols = NR.min(nc - jr);
            // SAFETY: as above.
            let panel = unsafe { dst.add(q * NR * kc) };
            for p in (0..kc).step_by(tile::T) {
                let width = tile::T.min(kc - p);
                // SAFETY: source rows are columns `jr .. jr + cols <= nc` of `B`, each with
                // rows `p .. p + width <= kc` contiguous (`rs == 1`); the destination is steps
                // `p .. p + width` of the panel, 16 floats each (zero past `cols`).
                unsafe {
                    let s = b.at(p0 + p, j0 + jr);
                    tile::transpose(
                        Isa::Avx2,
                        s,
                        b.cs,
                        cols,
                        width,
                        panel.add(p * NR),
                        NR,
                        width,
                    );
                }
            }
        }
    } else {
        // SAFETY: the same contract.
        unsafe { super::blis::pack_b_scalar(NR, kc, nc, b, p0, j0, dst) }
    }
}

/// The micro-kernel on one [`Tile`] of `MR` rows and `8 * NV` columns.
///
/// # Safety
/// AVX2 and FMA available, and `t` as [`Tile`] documents.
#[target_feature(enable = "avx2,fma")]
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
    let nr = 8 * NV;
    // Warm the C tile while the products run: it is read (or written) only at the end.
    for i in 0..rows {
        // SAFETY: prefetching has no memory effects; the addresses are the tile's rows.
        unsafe {
            let row = c.add(i * ldc);
            _mm_prefetch::<_MM_HINT_T0>(row.cast());
            _mm_prefetch::<_MM_HINT_T0>(row.add(cols - 1).cast());
        }
    }
    // SAFETY: row `r < MR` starts inside `A`'s rows (the caller's contract).
    let arow: [*const f32; MR] = std::array::from_fn(|r| unsafe { a.add(r * lda) });
    let mut acc = [[_mm256_setzero_ps(); NV]; MR];
    let mut b = bp;
    let mut p = 0;
    macro_rules! step {
        ($u:expr) => {{
            // SAFETY: step `p + $u < kc` (the loop bounds below): inside every row of `A` and
            // inside the `B` panel, whose vectors are 32-byte aligned (the panel is, and a
            // step is `8 * NV` floats).
            unsafe {
                let bv: [__m256; NV] =
                    std::array::from_fn(|v| _mm256_load_ps(b.add($u * nr + 8 * v)));
                for (row, ar) in acc.iter_mut().zip(arow) {
                    let av = _mm256_set1_ps(*ar.add(p + $u));
                    for (x, bx) in row.iter_mut().zip(bv) {
                        *x = _mm256_fmadd_ps(av, bx, *x);
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

    let va = _mm256_set1_ps(alpha);
    let vb = _mm256_set1_ps(beta);
    if rows == MR && cols == nr {
        for (i, row) in acc.iter().enumerate() {
            for (v, &x) in row.iter().enumerate() {
                // SAFETY: the tile is full, so row `i < MR` and columns `8 v .. 8 v + 8` are
                // inside it.
                unsafe {
                    let p = c.add(i * ldc + 8 * v);
                    let r = if beta == 0.0 {
                        _mm256_mul_ps(va, x)
                    } else if beta == 1.0 {
                        _mm256_fmadd_ps(va, x, _mm256_loadu_ps(p))
                    } else {
                        _mm256_fmadd_ps(va, x, _mm256_mul_ps(vb, _mm256_loadu_ps(p)))
                    };
                    _mm256_storeu_ps(p, r);
                }
            }
        }
    } else {
        // An edge tile: through a buffer, element by element, with the same arithmetic.
        let mut buf = [[0.0f32; 8]; 64];
        for (i, row) in acc.iter().enumerate().take(rows) {
            for (v, &x) in row.iter().enumerate() {
                // SAFETY: `buf` holds `MR · NV <= 64` vectors of 8 floats.
                unsafe { _mm256_storeu_ps(buf[i * NV + v].as_mut_ptr(), x) };
            }
        }
        for i in 0..rows {
            for j in 0..cols {
                let x = buf[i * NV + j / 8][j % 8];
                // SAFETY: row `i < rows`, column `j < cols`: inside the tile.
                unsafe {
                    let p = c.add(i * ldc + j);
                    *p = if beta == 0.0 {
                        alpha * x
                    } else if beta == 1.0 {
                        alpha.mul_add(x, *p)
                    } else {
                        alpha.mul_add(x, beta * *p)
                    };
                }
            }
        }
    }
}
