//! The blocked loops of mxr's BLIS-style single-precision GEMM, shared by its instruction sets
//! (`avx512.rs`, `avx2.rs`), each of which brings a [`MicroKernel`]: its register tile, the
//! micro-kernel and the packing routines.
//!
//! `C = alpha * A · B + beta * C` with row-major `C` and `A`, `B` given by arbitrary strides
//! (transposes are absorbed by the packing). The loops, outermost first:
//!
//! 1. rows of `C` in blocks of `mb` (only when `A` must be packed; otherwise one block);
//! 2. the shared dimension in blocks of `kc`. `A`'s rows are read in place when they are
//!    contiguous (`A` not transposed); otherwise the `mb × kc` block is transposed into a
//!    row-major buffer. A last, partial group of `MR` rows is copied into a zero-padded
//!    panel;
//! 3. columns in blocks of `nb`: `B[pc.., jc..]` is packed into micro-panels of `NR`
//!    columns, stored `k`-major (`NR` consecutive values per `k`), a `kc × nb` block meant to
//!    stay in L2;
//! 4. groups of `MR` rows of `A`;
//! 5. the `B` micro-panels, each multiplied by the micro-kernel into one `MR × NR` tile of `C`.

use crate::cpu::scratch::ScratchPool;

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

/// The most floats a packed `A` block may hold (`mb` shrinks to fit with a large `kc`).
const PACKED_A_MAX: usize = 1536 * 384;

/// A strided read-only matrix of `f32` (element `(i, j)` at `ptr + i * rs + j * cs`).
pub(crate) type Src = super::Strided<f32>;

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

/// Packing buffers, shared by the calls of every thread (see [`ScratchPool`]): a chain of
/// products that the engine's workers run in turn fills one set, not one per worker.
static SCRATCH: ScratchPool<Buffers> = ScratchPool::new();

/// One instruction set's register tile, micro-kernel and packing, which [`driver`] runs.
pub(crate) trait MicroKernel {
    /// Rows of the micro-tile (the broadcast operand, `A`).
    const MR: usize;
    /// Columns of the micro-tile (the vector operand, `B`): the width of a packed panel.
    const NR: usize;

    /// [`pack_a_rows_scalar`], fast.
    ///
    /// # Safety
    /// As [`pack_a_rows_scalar`], and the instruction set available.
    unsafe fn pack_a(mc: usize, kc: usize, a: Src, i0: usize, p0: usize, dst: *mut f32);

    /// [`pack_b_scalar`] with `NR`-column panels, fast.
    ///
    /// # Safety
    /// As [`pack_b_scalar`], the instruction set available, and `dst` 64-byte aligned.
    unsafe fn pack_b(kc: usize, nc: usize, b: Src, p0: usize, j0: usize, dst: *mut f32);

    /// The micro-kernel on one tile (see [`Tile`]).
    ///
    /// # Safety
    /// The instruction set available, and `t` as [`Tile`] documents for `MR` and `NR`.
    unsafe fn kernel(t: &Tile);

    /// [`driver`] with this kernel, compiled for the instruction set.
    ///
    /// # Safety
    /// As [`driver`].
    unsafe fn driver(p: Product, w: Work);
}

/// One `f32` product `C = alpha * A · B + beta * C` (`A` `m × k`, `B` `k × n`, `C` `m × n`
/// row-major with leading dimension `ldc`).
pub(crate) type Product = super::Product<f32>;

/// The blocking of one call and its buffers: the packed `A` block (when `A` is packed), the
/// packed `B` block and the edge panel of `A`'s last rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Work {
    /// The block sizes.
    pub(crate) plan: Plan,
    /// `mb · kc` floats (when `A` is packed).
    pub(crate) abuf: *mut f32,
    /// `kc · nb` floats.
    pub(crate) bbuf: *mut f32,
    /// `MR · kc` floats.
    pub(crate) ebuf: *mut f32,
}

/// One micro-kernel call: `C[0..rows, 0..cols] = alpha * A · Bp + beta * C`, where `A` is
/// `MR` rows of `kc` floats, `lda` apart, and `Bp` a packed `NR`-column micro-panel of `kc`
/// steps; `beta == 0` does not read `C`. Valid: `a + r * lda + p` readable for `r < MR`,
/// `p < kc`; `bp` valid for `NR * kc` floats and 64-byte aligned; `c + i * ldc + j` valid for
/// reads and writes for `i < rows <= MR`, `j < cols <= NR`; `kc > 0`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tile {
    /// Steps of the reduction.
    pub(crate) kc: usize,
    /// `A`'s first row.
    pub(crate) a: *const f32,
    /// `A`'s row stride.
    pub(crate) lda: usize,
    /// The packed `B` panel.
    pub(crate) bp: *const f32,
    /// The tile's first element of `C`.
    pub(crate) c: *mut f32,
    /// `C`'s row stride.
    pub(crate) ldc: usize,
    /// Rows of `C` to store.
    pub(crate) rows: usize,
    /// Columns of `C` to store.
    pub(crate) cols: usize,
    /// The factor of the product.
    pub(crate) alpha: f32,
    /// The factor of `C`'s old value.
    pub(crate) beta: f32,
}

/// Block sizes for one call, in whole tiles.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Rows per block (a multiple of the tile's rows).
    pub(crate) mb: usize,
    /// Depth per block.
    pub(crate) kc: usize,
    /// Columns per block (a multiple of the tile's columns).
    pub(crate) nb: usize,
    /// Whether `A`'s rows are read in place (else packed).
    pub(crate) direct_a: bool,
}

/// The product `p` with `K`'s kernel. `beta == 0` writes `C` without reading it. Any `blk` is
/// safe (block sizes are rounded to whole tiles).
///
/// # Safety
/// - `K`'s instruction set must be available;
/// - every element `(i, p)`, `i < m`, `p < k` of `a` and `(p, j)`, `p < k`, `j < n` of `b` must
///   be readable, and every `c + i * ldc + j`, `i < m`, `j < n` readable and writable;
/// - `C`'s elements must not overlap `A`'s or `B`'s, and nothing else may access them during
///   the call.
pub(crate) unsafe fn sgemm<K: MicroKernel>(p: Product, blk: Blocking) {
    let Product { m, n, k, a, .. } = p;
    if m == 0 || n == 0 {
        return;
    }
    let (mr, nr) = (K::MR, K::NR);
    let direct_a = a.cs == 1;
    // Whole tiles per block (any `blk` is safe; the buffers below are sized from these).
    let kc = blk.kc.clamp(1, k.max(1));
    let mb = if direct_a {
        m.next_multiple_of(mr)
    } else {
        let rows = blk.mb.min(PACKED_A_MAX / kc);
        ((rows / mr).max(1) * mr).min(m.next_multiple_of(mr))
    };
    let plan = Plan {
        mb,
        kc,
        nb: ((blk.nb / nr).max(1) * nr).min(n.next_multiple_of(nr)),
        direct_a,
    };
    let a_len = if direct_a { 0 } else { plan.mb * plan.kc };
    let run = |bufs: &mut Buffers| {
        let work = Work {
            plan,
            abuf: bufs.a.get(a_len),
            bbuf: bufs.b.get(plan.kc * plan.nb),
            ebuf: bufs.edge.get(mr * plan.kc),
        };
        // SAFETY: the caller guarantees the CPU features and the matrices (this function's
        // contract); the buffers hold `mb * kc` (when `A` is packed), `kc * nb` and `MR * kc`
        // floats, 64-byte aligned, and belong to this call alone.
        unsafe { K::driver(p, work) }
    };
    SCRATCH.with(run);
}

/// The blocked loops, with `K`'s packing and kernel. Inlined into each instruction set's
/// [`MicroKernel::driver`], which compiles it with that set's features.
///
/// # Safety
/// As [`sgemm`], with `m, n > 0`; `w.plan` as [`sgemm`] makes it; its buffers valid for the
/// sizes [`Work`] documents, 64-byte aligned, and disjoint from everything else.
#[inline(always)]
pub(crate) unsafe fn driver<K: MicroKernel>(p: Product, w: Work) {
    let Product {
        m,
        n,
        k,
        alpha,
        a,
        b,
        beta,
        c,
        ldc,
    } = p;
    let Work {
        plan,
        abuf,
        bbuf,
        ebuf,
    } = w;
    let (mr, nr) = (K::MR, K::NR);
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
        let full = mc / mr * mr;
        for pc in (0..k).step_by(kc) {
            let kcur = kc.min(k - pc);
            let beta_p = if pc == 0 { beta } else { 1.0 };
            // `A`'s rows `ic .. ic + mc`, columns `pc .. pc + kcur`: `(base, row stride)`.
            let (a_base, a_rs) = if direct_a {
                // SAFETY: `(ic, pc)` is inside `A`.
                (unsafe { a.at(ic, pc) }, a.rs)
            } else {
                // SAFETY: the block is inside `A`; `abuf` holds `mc * kcur <= mb * kc` floats.
                unsafe { K::pack_a(mc, kcur, a, ic, pc, abuf) };
                (abuf.cast_const(), kcur)
            };
            if full < mc {
                // The last rows, zero-padded to a full group.
                for r in 0..mr {
                    // SAFETY: row `full + r < mc` of the block is readable for `kcur` floats
                    // (inside `A`, or written by `pack_a`); row `r` of `ebuf` is `kcur`
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
                unsafe { K::pack_b(kcur, ncur, b, pc, jc, bbuf) };
                for ir in (0..mc).step_by(mr) {
                    let (ap, ap_rs) = if ir < full {
                        // SAFETY: row `ir < mc` of the block.
                        (unsafe { a_base.add(ir * a_rs) }, a_rs)
                    } else {
                        (ebuf.cast_const(), kcur)
                    };
                    for jr in (0..ncur).step_by(nr) {
                        let rows = mr.min(mc - ir);
                        let cols = nr.min(ncur - jr);
                        // SAFETY: `ap` holds `MR` rows of `kcur` floats `ap_rs` apart (block
                        // rows or the edge panel); panel `jr / nr` of `bbuf` starts at
                        // `jr * kcur`; the tile's corner `(ic + ir, jc + jr)` is inside `C`,
                        // and the kernel touches only `rows × cols` elements from there.
                        unsafe {
                            K::kernel(&Tile {
                                kc: kcur,
                                a: ap,
                                lda: ap_rs,
                                bp: bbuf.add(jr * kcur),
                                c: c.add((ic + ir) * ldc + jc + jr),
                                ldc,
                                rows,
                                cols,
                                alpha,
                                beta: beta_p,
                            });
                        }
                    }
                }
            }
        }
    }
}

/// Copies rows `i0..i0 + mc`, columns `p0..p0 + kc` of `a` into `dst` as a row-major
/// `mc × kc` matrix (`dst[i * kc + p]`). Portable code, for any strides (and for Miri);
/// each instruction set's [`MicroKernel::pack_a`] is the fast version.
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

/// Packs rows `p0..p0 + kc`, columns `j0..j0 + nc` of `b` into `nr`-column micro-panels:
/// panel `q`, step `p`, column `c` goes to `dst[q * nr * kc + p * nr + c]`; columns past `nc`
/// are zero. Portable code, for any strides (and for Miri); each instruction set's
/// [`MicroKernel::pack_b`] is the fast version.
///
/// # Safety
/// The source elements must be readable and `dst` writable for
/// `kc * nc.next_multiple_of(nr)` floats, not overlapping the source; `nr > 0`.
pub(crate) unsafe fn pack_b_scalar(
    nr: usize,
    kc: usize,
    nc: usize,
    b: Src,
    p0: usize,
    j0: usize,
    dst: *mut f32,
) {
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
