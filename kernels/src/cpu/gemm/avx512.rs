//! A BLIS-style single-precision GEMM for x86-64 with AVX-512F and FMA.
//!
//! `C = alpha * A · B + beta * C` with row-major `C` and `A`, `B` given by arbitrary strides
//! (transposes are absorbed by the packing). The loops, outermost first:
//!
//! 1. rows of `C` in blocks of `mb` (only when `A` must be packed; otherwise one block);
//! 2. the shared dimension in blocks of `kc`. `A`'s rows are read in place when they are
//!    contiguous (`A` not transposed); otherwise the `mb × kc` block is transposed into a
//!    row-major buffer. A last, partial group of [`MR`] rows is copied into a zero-padded
//!    panel;
//! 3. columns in blocks of `nb`: `B[pc.., jc..]` is packed into micro-panels of [`NR`]
//!    columns, stored `k`-major (`NR` consecutive values per `k`), a `kc × nb` block meant to
//!    stay in L2;
//! 4. groups of [`MR`] rows of `A`;
//! 5. the `B` micro-panels, each multiplied by the micro-kernel into one `MR × NR` tile of `C`.
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
//!
//! This file is self-contained (it uses nothing from the rest of the crate), so it can be
//! benchmarked and tuned in isolation by including it by path.

use std::arch::x86_64::{
    __m512, __mmask16, _MM_HINT_T0, _mm_prefetch, _mm512_castpd_ps, _mm512_castps_pd,
    _mm512_fmadd_ps, _mm512_load_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps,
    _mm512_mul_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_shuffle_f32x4, _mm512_store_ps,
    _mm512_storeu_ps, _mm512_unpackhi_pd, _mm512_unpackhi_ps, _mm512_unpacklo_pd,
    _mm512_unpacklo_ps,
};
use std::cell::RefCell;

/// Rows of the micro-tile (the broadcast operand, `A`).
pub(crate) const MR: usize = 6;
/// zmm vectors per micro-tile row.
pub(crate) const NV: usize = 4;
/// Columns of the micro-tile (the vector operand, `B`).
#[cfg_attr(not(test), allow(dead_code, reason = "used by the tests and docs"))]
pub(crate) const NR: usize = 16 * NV;

/// Cache block sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Blocking {
    /// Shared-dimension block.
    pub(crate) kc: usize,
    /// Column block (rounded down to whole micro-panels).
    pub(crate) nb: usize,
    /// Row block when `A` is packed (rounded down to whole row groups).
    pub(crate) mb: usize,
}

/// The block sizes used by default (tuned on the development machine, see the module docs).
pub(crate) const BLOCKING: Blocking = Blocking {
    kc: 1024,
    nb: 192,
    mb: 1536,
};

/// The most floats a packed `A` block may hold (`mb` shrinks to fit with a large `kc`).
const PACKED_A_MAX: usize = 1536 * 384;

/// Whether this CPU can run the kernel.
pub(crate) fn available() -> bool {
    // The standard library caches the CPUID probe, so this is a couple of loads.
    std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")
}

/// A strided read-only matrix: element `(i, j)` is at `ptr + i * rs + j * cs`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Src {
    /// The first element.
    pub(crate) ptr: *const f32,
    /// Row stride, in elements.
    pub(crate) rs: usize,
    /// Column stride, in elements.
    pub(crate) cs: usize,
}

impl Src {
    /// The element `(i, j)`'s address.
    ///
    /// # Safety
    /// `(i, j)` must be inside the matrix the caller of [`sgemm`] described.
    #[inline(always)]
    unsafe fn at(self, i: usize, j: usize) -> *const f32 {
        // SAFETY: the caller promises `(i, j)` is an element of the matrix, so the offset
        // stays inside the allocation `ptr` points into.
        unsafe { self.ptr.add(i * self.rs + j * self.cs) }
    }
}

/// 64 bytes of `f32`, so that a `Vec` of them is 64-byte aligned.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy)]
struct Line([f32; 16]);

/// A growable, 64-byte aligned scratch buffer.
#[derive(Debug, Default)]
struct Scratch(Vec<Line>);

impl Scratch {
    /// A pointer to at least `len` `f32`s, 64-byte aligned.
    fn get(&mut self, len: usize) -> *mut f32 {
        let lines = len.div_ceil(16);
        if self.0.len() < lines {
            self.0.resize(lines, Line([0.0; 16]));
        }
        self.0.as_mut_ptr().cast()
    }
}

/// Per-thread packing buffers: the packed `A` block, the packed `B` block, the edge panel.
#[derive(Debug, Default)]
struct Buffers {
    a: Scratch,
    b: Scratch,
    edge: Scratch,
}

thread_local! {
    /// Packing buffers, reused by every call on this thread.
    static SCRATCH: RefCell<Buffers> = RefCell::new(Buffers::default());
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
#[allow(
    clippy::too_many_arguments,
    reason = "the BLAS gemm arguments, with the strides folded into `Src`"
)]
pub(crate) unsafe fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: Src,
    b: Src,
    beta: f32,
    c: *mut f32,
    ldc: usize,
    blk: Blocking,
) {
    // SAFETY: forwarded contract.
    unsafe { sgemm_shape::<MR, NV>(m, n, k, alpha, a, b, beta, c, ldc, blk) }
}

/// Block sizes for one call, in whole tiles.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Rows per block (a multiple of the tile's rows).
    mb: usize,
    /// Depth per block.
    kc: usize,
    /// Columns per block (a multiple of the tile's columns).
    nb: usize,
    /// Whether `A`'s rows are read in place (else packed).
    direct_a: bool,
}

/// [`sgemm`] with a chosen micro-tile: `MR` rows by `NV` vectors.
///
/// # Safety
/// As [`sgemm`].
#[allow(clippy::too_many_arguments, reason = "as sgemm")]
pub(crate) unsafe fn sgemm_shape<const MR: usize, const NV: usize>(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: Src,
    b: Src,
    beta: f32,
    c: *mut f32,
    ldc: usize,
    blk: Blocking,
) {
    if m == 0 || n == 0 {
        return;
    }
    let nr = 16 * NV;
    let direct_a = a.cs == 1;
    // Whole tiles per block (any `blk` is safe; the buffers below are sized from these).
    let kc = blk.kc.clamp(1, k.max(1));
    let mb = if direct_a {
        m.next_multiple_of(MR)
    } else {
        let rows = blk.mb.min(PACKED_A_MAX / kc);
        ((rows / MR).max(1) * MR).min(m.next_multiple_of(MR))
    };
    let plan = Plan {
        mb,
        kc,
        nb: ((blk.nb / nr).max(1) * nr).min(n.next_multiple_of(nr)),
        direct_a,
    };
    let a_len = if direct_a { 0 } else { plan.mb * plan.kc };
    let run = |bufs: &mut Buffers| {
        let abuf = bufs.a.get(a_len);
        let bbuf = bufs.b.get(plan.kc * plan.nb);
        let ebuf = bufs.edge.get(MR * plan.kc);
        // SAFETY: the caller guarantees the CPU features and the matrices (this function's
        // contract); the buffers hold `mb * kc` (when `A` is packed), `kc * nb` and `MR * kc`
        // floats, 64-byte aligned, and belong to this call alone.
        unsafe { driver::<MR, NV>(m, n, k, alpha, a, b, beta, c, ldc, plan, abuf, bbuf, ebuf) }
    };
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bufs) => run(&mut bufs),
        // Only reachable if a call re-entered on this thread (none does): use fresh buffers.
        Err(_) => run(&mut Buffers::default()),
    });
}

/// The blocked loops.
///
/// # Safety
/// As [`sgemm`], with `m, n > 0`; `plan` as [`sgemm_shape`] makes it; `abuf` (when `A` is
/// packed), `bbuf` and `ebuf` valid for `mb * kc`, `kc * nb` and `MR * kc` floats, 64-byte
/// aligned, and disjoint from everything else.
#[target_feature(enable = "avx512f,fma")]
#[allow(clippy::too_many_arguments, reason = "internal; the loop state")]
unsafe fn driver<const MR: usize, const NV: usize>(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: Src,
    b: Src,
    beta: f32,
    c: *mut f32,
    ldc: usize,
    plan: Plan,
    abuf: *mut f32,
    bbuf: *mut f32,
    ebuf: *mut f32,
) {
    let nr = 16 * NV;
    let Plan {
        mb,
        kc,
        nb,
        direct_a,
    } = plan;
    if k == 0 {
        // C = beta * C; the public entry point never gets here, but keep the contract whole.
        for i in 0..m {
            for j in 0..n {
                // SAFETY: `(i, j)` is inside `C` (caller's contract).
                unsafe {
                    let p = c.add(i * ldc + j);
                    *p = if beta == 0.0 { 0.0 } else { beta * *p };
                }
            }
        }
        return;
    }
    for ic in (0..m).step_by(mb) {
        let mc = mb.min(m - ic);
        let full = mc / MR * MR;
        for pc in (0..k).step_by(kc) {
            let kcur = kc.min(k - pc);
            let beta_p = if pc == 0 { beta } else { 1.0 };
            // `A`'s rows `ic .. ic + mc`, columns `pc .. pc + kcur`: `(base, row stride)`.
            let (a_base, a_rs) = if direct_a {
                // SAFETY: `(ic, pc)` is inside `A`.
                (unsafe { a.at(ic, pc) }, a.rs)
            } else {
                // SAFETY: the block is inside `A`; `abuf` holds `mc * kcur <= mb * kc` floats.
                unsafe { pack_a_rows(mc, kcur, a, ic, pc, abuf) };
                (abuf.cast_const(), kcur)
            };
            if full < mc {
                // The last rows, zero-padded to a full group.
                for r in 0..MR {
                    // SAFETY: row `full + r < mc` of the block is readable for `kcur` floats
                    // (inside `A`, or written by `pack_a_rows`); row `r` of `ebuf` is `kcur`
                    // floats inside it (`MR * kc` in all).
                    unsafe {
                        let dst = ebuf.add(r * kcur);
                        if full + r < mc {
                            std::ptr::copy_nonoverlapping(a_base.add((full + r) * a_rs), dst, kcur);
                        } else {
                            std::ptr::write_bytes(dst, 0, kcur);
                        }
                    }
                }
            }
            for jc in (0..n).step_by(nb) {
                let ncur = nb.min(n - jc);
                // SAFETY: rows `pc..pc + kcur`, columns `jc..jc + ncur` are inside `B`, and
                // `bbuf` holds `kcur * ncur.next_multiple_of(nr) <= kc * nb` floats.
                unsafe { pack_b::<NV>(kcur, ncur, b, pc, jc, bbuf) };
                for ir in (0..mc).step_by(MR) {
                    let (ap, ap_rs) = if ir < full {
                        // SAFETY: row `ir < mc` of the block.
                        (unsafe { a_base.add(ir * a_rs) }, a_rs)
                    } else {
                        (ebuf.cast_const(), kcur)
                    };
                    for jr in (0..ncur).step_by(nr) {
                        let rows = MR.min(mc - ir);
                        let cols = nr.min(ncur - jr);
                        // SAFETY: `ap` holds `MR` rows of `kcur` floats `ap_rs` apart (block
                        // rows or the edge panel); panel `jr / nr` of `bbuf` starts at
                        // `jr * kcur`; the tile's corner `(ic + ir, jc + jr)` is inside `C`,
                        // and the kernel touches only `rows × cols` elements from there.
                        unsafe {
                            let bp = bbuf.add(jr * kcur);
                            let cp = c.add((ic + ir) * ldc + jc + jr);
                            kernel::<MR, NV>(
                                kcur, ap, ap_rs, bp, cp, ldc, rows, cols, alpha, beta_p,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Copies rows `i0..i0 + mc`, columns `p0..p0 + kc` of `a` into `dst` as a row-major
/// `mc × kc` matrix (`dst[i * kc + p]`). Portable code, for any strides (and for Miri);
/// [`pack_a_rows`] is the fast version.
///
/// # Safety
/// The source elements must be readable and `dst` writable for `mc * kc` floats, not
/// overlapping the source.
pub(crate) unsafe fn pack_a_rows_scalar(
    mc: usize,
    kc: usize,
    a: Src,
    i0: usize,
    p0: usize,
    dst: *mut f32,
) {
    for i in 0..mc {
        for p in 0..kc {
            // SAFETY: `(i0 + i, p0 + p)` is inside the block (caller's contract) and
            // `i * kc + p < mc * kc`.
            unsafe { *dst.add(i * kc + p) = *a.at(i0 + i, p0 + p) };
        }
    }
}

/// Packs rows `p0..p0 + kc`, columns `j0..j0 + nc` of `b` into `16 * NV`-column micro-panels:
/// panel `q`, step `p`, column `c` goes to `dst[q * nr * kc + p * nr + c]` (`nr = 16 * NV`);
/// columns past `nc` are zero. Portable code, for any strides (and for Miri); [`pack_b`] is
/// the fast version.
///
/// # Safety
/// The source elements must be readable and `dst` writable for
/// `kc * nc.next_multiple_of(16 * NV)` floats, not overlapping the source.
pub(crate) unsafe fn pack_b_scalar<const NV: usize>(
    kc: usize,
    nc: usize,
    b: Src,
    p0: usize,
    j0: usize,
    dst: *mut f32,
) {
    let nr = 16 * NV;
    for (q, jr) in (0..nc).step_by(nr).enumerate() {
        let cols = nr.min(nc - jr);
        for p in 0..kc {
            for c in 0..nr {
                // SAFETY: reads only columns `jr + c < nc` and rows `p < kc` (inside `B`);
                // writes `q * nr * kc + p * nr + c < kc * nc.next_multiple_of(nr)`, inside `dst`.
                unsafe {
                    *dst.add(q * nr * kc + p * nr + c) = if c < cols {
                        *b.at(p0 + p, j0 + jr + c)
                    } else {
                        0.0
                    };
                }
            }
        }
    }
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

/// [`pack_a_rows_scalar`] with AVX-512 for a column-contiguous `A` (`rs == 1`, a transposed
/// operand): 16 × 16 blocks are transposed in registers. Other layouts use the portable code.
///
/// # Safety
/// As [`pack_a_rows_scalar`], and AVX-512F available.
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
        return unsafe { pack_a_rows_scalar(mc, kc, a, i0, p0, dst) };
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

/// [`pack_b_scalar`] with AVX-512: a row-contiguous `B` is copied a vector at a time, a
/// column-contiguous one goes through 16 × 16 transposes. `dst` must be 64-byte aligned.
///
/// # Safety
/// As [`pack_b_scalar`], AVX-512F available, and `dst` 64-byte aligned.
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
        unsafe { pack_b_scalar::<NV>(kc, nc, b, p0, j0, dst) }
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

/// The micro-kernel: `C[0..rows, 0..cols] = alpha * A · Bp + beta * C` for one tile, where `A`
/// is `MR` rows of `kc` floats, `lda` apart, and `Bp` a packed `16 * NV`-column micro-panel of
/// `kc` steps. `beta == 0` does not read `C`.
///
/// # Safety
/// AVX-512F and FMA available; `a + r * lda + p` readable for `r < MR`, `p < kc`; `bp` valid
/// for `16 * NV * kc` floats and 64-byte aligned; `c + i * ldc + j` valid for reads and writes
/// for `i < rows <= MR`, `j < cols <= 16 * NV`; `kc > 0`.
#[target_feature(enable = "avx512f,fma")]
#[inline(never)]
#[allow(
    clippy::too_many_arguments,
    reason = "internal; the tile's description"
)]
pub(crate) unsafe fn kernel<const MR: usize, const NV: usize>(
    kc: usize,
    a: *const f32,
    lda: usize,
    bp: *const f32,
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
    alpha: f32,
    beta: f32,
) {
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
