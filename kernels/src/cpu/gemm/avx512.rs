//! A BLIS-style single-precision GEMM for x86-64 with AVX-512F and FMA.
//!
//! `C = alpha * A · B + beta * C` with row-major `C` and `A`, `B` given by arbitrary strides
//! (the transposes are absorbed by the packing). The loops, outermost first:
//!
//! 1. rows of `C` in blocks of `mb` (the packed `A` block, `mb × kc`, lives in L2/L3);
//! 2. the shared dimension in blocks of `kc`: pack `A[ic.., pc..]` into micro-panels of
//!    [`MR`] rows, stored `k`-major (`MR` consecutive values per `k`);
//! 3. columns in blocks of `nb`: pack `B[pc.., jc..]` into micro-panels of [`NR`] columns,
//!    stored `k`-major (`NR` consecutive values per `k`); this `kc × nb` block stays in L2;
//! 4. the `A` micro-panels (`kc × MR`, kept in L1 across the next loop);
//! 5. the `B` micro-panels, each multiplied by the micro-kernel into one `MR × NR` tile of `C`.
//!
//! The micro-kernel keeps the `MR × NR` tile in `MR · NR / 16` zmm accumulators; each `k` step
//! loads `NR / 16` vectors of `B`, broadcasts `MR` values of `A` and issues `MR · NR / 16`
//! FMAs. Edge tiles run the same kernel on zero-padded panels and store with masks.
//!
//! This file is self-contained (it uses nothing from the rest of the crate), so block sizes can
//! be tuned from a scratch harness that includes it by path.

use std::arch::x86_64::{
    __m512, __mmask16, _MM_HINT_T0, _mm_prefetch, _mm512_castpd_ps, _mm512_castps_pd,
    _mm512_fmadd_ps, _mm512_load_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps,
    _mm512_mul_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_shuffle_f32x4, _mm512_store_ps,
    _mm512_storeu_ps, _mm512_unpackhi_pd, _mm512_unpackhi_ps, _mm512_unpacklo_pd,
    _mm512_unpacklo_ps,
};
use std::cell::RefCell;

/// Rows of the micro-tile (broadcast operand).
pub(crate) const MR: usize = 12;
/// zmm vectors per micro-tile row.
pub(crate) const NV: usize = 2;
/// Columns of the micro-tile (vector operand).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const NR: usize = 16 * NV;

/// Cache block sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Blocking {
    /// Shared-dimension block.
    pub(crate) kc: usize,
    /// Column block (a multiple of [`NR`]).
    pub(crate) nb: usize,
    /// Row block (a multiple of [`MR`]).
    pub(crate) mb: usize,
}

/// The block sizes used by default.
pub(crate) const BLOCKING: Blocking = Blocking {
    kc: 384,
    nb: 512,
    mb: 1536,
};

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

thread_local! {
    /// Packing buffers for `A` and `B`, reused by every call on this thread.
    static SCRATCH: RefCell<(Scratch, Scratch)> = RefCell::new(Default::default());
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
    let mb = blk.mb.min(m.next_multiple_of(MR));
    let kc = blk.kc.min(k).max(1);
    let nb = blk.nb.min(n.next_multiple_of(nr));
    let run = |abuf: *mut f32, bbuf: *mut f32| {
        // SAFETY: the caller guarantees the CPU features and the matrices (this function's
        // contract), and `abuf`/`bbuf` hold `mb * kc` and `kc * nb` floats, 64-byte aligned.
        unsafe { driver::<MR, NV>(m, n, k, alpha, a, b, beta, c, ldc, mb, kc, nb, abuf, bbuf) }
    };
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bufs) => {
            let (abuf, bbuf) = &mut *bufs;
            run(abuf.get(mb * kc), bbuf.get(kc * nb));
        }
        // Only reachable if a call re-enters on this thread (it cannot today): use fresh
        // buffers rather than fail.
        Err(_) => run(
            Scratch::default().get(mb * kc),
            Scratch::default().get(kc * nb),
        ),
    });
}

/// The blocked loops.
///
/// # Safety
/// As [`sgemm`], with `m, n > 0`; `mb` a multiple of [`MR`], `nb` a multiple of [`nr`],
/// `kc > 0`; `abuf` and `bbuf` valid for `mb * kc` and `kc * nb` floats, 64-byte aligned, and
/// disjoint from everything else.
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
    mb: usize,
    kc: usize,
    nb: usize,
    abuf: *mut f32,
    bbuf: *mut f32,
) {
    let nr = 16 * NV;
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
        for pc in (0..k).step_by(kc) {
            let kcur = kc.min(k - pc);
            let beta_p = if pc == 0 { beta } else { 1.0 };
            // SAFETY: rows `ic..ic + mc` and columns `pc..pc + kcur` are inside `A`, and
            // `abuf` holds `mc.next_multiple_of(MR) * kcur <= mb * kc` floats.
            unsafe { pack_a::<MR>(mc, kcur, a, ic, pc, abuf) };
            for jc in (0..n).step_by(nb) {
                let ncur = nb.min(n - jc);
                // SAFETY: rows `pc..pc + kcur`, columns `jc..jc + ncur` are inside `B`, and
                // `bbuf` holds `kcur * ncur.next_multiple_of(nr) <= kc * nb` floats.
                unsafe { pack_b::<NV>(kcur, ncur, b, pc, jc, bbuf) };
                for ir in (0..mc).step_by(MR) {
                    let rows = MR.min(mc - ir);
                    // SAFETY: panel `ir / MR` starts at `ir * kcur` in the packed block.
                    let ap = unsafe { abuf.add(ir * kcur) };
                    for jr in (0..ncur).step_by(nr) {
                        let cols = nr.min(ncur - jr);
                        // SAFETY: panel `jr / nr` starts at `jr * kcur`; the tile's corner
                        // `(ic + ir, jc + jr)` is inside `C`, and the kernel touches only
                        // `rows × cols` elements from there, which are inside `C` too.
                        unsafe {
                            let bp = bbuf.add(jr * kcur);
                            let cp = c.add((ic + ir) * ldc + jc + jr);
                            kernel::<MR, NV>(kcur, ap, bp, cp, ldc, rows, cols, alpha, beta_p);
                        }
                    }
                }
            }
        }
    }
}

/// Packs rows `i0..i0 + mc`, columns `p0..p0 + kc` of `a` into `MR`-row micro-panels: panel
/// `q`, step `p`, row `r` goes to `dst[q * MR * kc + p * MR + r]`; rows past `mc` are zero.
/// Portable code, for any strides (and for Miri); [`pack_a`] is the fast version.
///
/// # Safety
/// The source elements must be readable and `dst` writable for
/// `mc.next_multiple_of(MR) * kc` floats, not overlapping the source.
pub(crate) unsafe fn pack_a_scalar<const MR: usize>(
    mc: usize,
    kc: usize,
    a: Src,
    i0: usize,
    p0: usize,
    dst: *mut f32,
) {
    for (q, ir) in (0..mc).step_by(MR).enumerate() {
        let rows = MR.min(mc - ir);
        for p in 0..kc {
            for r in 0..MR {
                // SAFETY: reads only rows `ir + r < mc` and columns `p < kc` (inside `A`, the
                // caller's contract); writes `q * MR * kc + p * MR + r < mc.next_multiple_of(MR)
                // * kc`, inside `dst`.
                unsafe {
                    *dst.add(q * MR * kc + p * MR + r) = if r < rows {
                        *a.at(i0 + ir + r, p0 + p)
                    } else {
                        0.0
                    };
                }
            }
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

/// [`pack_a_scalar`] with AVX-512: a row-contiguous `A` goes through 16 × 16 transposes, a
/// column-contiguous one is copied `MR` values at a time. `MR <= 16`.
///
/// # Safety
/// As [`pack_a_scalar`], and AVX-512F available.
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) unsafe fn pack_a<const MR: usize>(
    mc: usize,
    kc: usize,
    a: Src,
    i0: usize,
    p0: usize,
    dst: *mut f32,
) {
    const { assert!(MR <= 16) };
    let out_mask = lanes(MR);
    if a.cs == 1 {
        for (q, ir) in (0..mc).step_by(MR).enumerate() {
            let rows = MR.min(mc - ir);
            // SAFETY: panel `q` is `MR * kc` floats inside `dst` (the caller sized it).
            let panel = unsafe { dst.add(q * MR * kc) };
            for p in (0..kc).step_by(16) {
                let width = 16.min(kc - p);
                let in_mask = lanes(width);
                let mut r = [_mm512_setzero_ps(); 16];
                for (i, row) in r.iter_mut().enumerate().take(rows) {
                    // SAFETY: row `ir + i < mc` and columns `p .. p + width <= kc` are inside
                    // `A` and contiguous (`cs == 1`); masked-off lanes are not read.
                    *row = unsafe { _mm512_maskz_loadu_ps(in_mask, a.at(i0 + ir + i, p0 + p)) };
                }
                transpose16(&mut r);
                for (j, col) in r.iter().enumerate().take(width) {
                    // SAFETY: step `p + j < kc` of the panel: `MR` floats inside it.
                    unsafe { _mm512_mask_storeu_ps(panel.add((p + j) * MR), out_mask, *col) };
                }
            }
        }
    } else if a.rs == 1 {
        for (q, ir) in (0..mc).step_by(MR).enumerate() {
            let rows = MR.min(mc - ir);
            let in_mask = lanes(rows);
            // SAFETY: panel `q` is `MR * kc` floats inside `dst` (the caller sized it).
            let panel = unsafe { dst.add(q * MR * kc) };
            for p in 0..kc {
                // SAFETY: column `p < kc`, rows `ir .. ir + rows <= mc` are inside `A` and
                // contiguous (`rs == 1`); the store is step `p` of the panel, `MR` floats.
                unsafe {
                    let col = _mm512_maskz_loadu_ps(in_mask, a.at(i0 + ir, p0 + p));
                    _mm512_mask_storeu_ps(panel.add(p * MR), out_mask, col);
                }
            }
        }
    } else {
        // SAFETY: the same contract.
        unsafe { pack_a_scalar::<MR>(mc, kc, a, i0, p0, dst) }
    }
}

/// [`pack_b_scalar`] with AVX-512: a row-contiguous `B` is copied a vector at a time, a
/// column-contiguous one goes through 16 × 16 transposes. `dst` must be 64-byte aligned.
///
/// # Safety
/// As [`pack_b_scalar`], AVX-512F available, and `dst` 64-byte aligned.
#[target_feature(enable = "avx512f")]
#[inline]
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

/// The micro-kernel: `C[0..rows, 0..cols] = alpha * Ap · Bp + beta * C` for one tile, where
/// `Ap` is a packed `MR`-row micro-panel and `Bp` a packed `nr`-column micro-panel, both `kc`
/// steps long. `beta == 0` does not read `C`.
///
/// # Safety
/// AVX-512F and FMA available; `ap` valid for `MR * kc` and `bp` for `nr * kc` floats, `bp`
/// 64-byte aligned; `c + i * ldc + j` valid for reads and writes for `i < rows <= MR`,
/// `j < cols <= nr`; `kc > 0`.
#[target_feature(enable = "avx512f,fma")]
#[inline(never)]
#[allow(
    clippy::too_many_arguments,
    reason = "internal; the tile's description"
)]
pub(crate) unsafe fn kernel<const MR: usize, const NV: usize>(
    kc: usize,
    ap: *const f32,
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
            _mm_prefetch::<_MM_HINT_T0>(row.cast());
            _mm_prefetch::<_MM_HINT_T0>(row.add(cols - 1).cast());
        }
    }
    let mut acc = [[_mm512_setzero_ps(); NV]; MR];
    let mut a = ap;
    let mut b = bp;
    macro_rules! step {
        ($u:expr) => {{
            // SAFETY: step `$u` of the current group is inside both panels (the loop bounds
            // below), and `b` is 64-byte aligned (the panel is, and nr * 4 is a multiple of 64).
            unsafe {
                let bv: [__m512; NV] =
                    std::array::from_fn(|v| _mm512_load_ps(b.add($u * nr + 16 * v)));
                for (r, row) in acc.iter_mut().enumerate() {
                    let av = _mm512_set1_ps(*a.add($u * MR + r));
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
        // SAFETY: four steps consumed; at most `kc` steps in all, so the pointers stay within
        // (or one past) their panels.
        unsafe {
            a = a.add(4 * MR);
            b = b.add(4 * nr);
        }
    }
    for _ in 0..kc % 4 {
        step!(0);
        // SAFETY: as above, one step.
        unsafe {
            a = a.add(MR);
            b = b.add(nr);
        }
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
