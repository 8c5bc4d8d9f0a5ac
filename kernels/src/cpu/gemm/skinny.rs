//! `f32` products with few rows (`m ≤ 8`): a `FullyConnected` layer at a small batch, where
//! `C = A · Bᵀ` reads a large weight matrix once for a handful of input rows. Such products
//! are bound by reading `B`; a general kernel packs `B` first (reading it twice and writing it
//! once), which at batch 2 made a 1024 → 1000 layer take over a millisecond. Here `B` is read
//! in place, once, in whichever order it is contiguous:
//!
//! - columns of `op(B)` contiguous (`B` stored `n × k`, as `FullyConnected`'s weight): every
//!   `C[i, j]` is a dot product of row `i` of `A` with column `j` of `op(B)`, sixteen lanes of
//!   partial sums added in a fixed order at the end;
//! - rows of `op(B)` contiguous: each 32 columns of `C` accumulate `A[i, p] · B[p, j..j + 32]`
//!   over `p`.
//!
//! `A` is first copied into a contiguous `m × k` buffer (at most `8k` floats). Columns of `C`
//! are split across threads in static ranges; each element is computed by one thread in one
//! order, so the result does not depend on the thread count.

use crate::cpu::conv::lanes::{Kernel, Lanes, run_kernel};
use crate::cpu::isa::Isa;
use crate::cpu::parallel::{self, SharedMut};

use super::{Product, Strided};

/// The most rows of `C` this kernel takes.
pub(super) const MAX_ROWS: usize = 8;
/// Rows of `C` computed together (accumulators in registers).
const ROW_GROUP: usize = 4;
/// Elements of `B` per thread, at least, before the columns are split.
const MIN_B_PER_THREAD: usize = 1 << 18;

/// Whether this kernel serves a product of `m` rows with `b`'s strides on `isa`.
pub(super) fn serves(isa: Isa, m: usize, b: &Strided<f32>) -> bool {
    isa >= Isa::Avx2 && isa.is_available() && m <= MAX_ROWS && (b.rs == 1 || b.cs == 1)
}

/// `C = alpha · op(A) · op(B) + beta · C` on up to `threads` threads (`beta == 0` ignores `C`'s
/// old contents).
///
/// # Safety
/// [`serves`] is true; `m, n, k > 0`; every `(i, p)` (`i < m`, `p < k`) of `a` and `(p, j)` of
/// `b` is readable, every `c + i·ldc + j` (`i < m`, `j < n`) readable and writable, `C`
/// overlaps neither input, and nothing else accesses `C` during the call.
pub(super) unsafe fn run(isa: Isa, p: Product<f32>, threads: usize) {
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
    let mut rows = Vec::with_capacity(m * k);
    for i in 0..m {
        // SAFETY: `(i, p)` of `a` is readable for `i < m`, `p < k` (the contract).
        rows.extend((0..k).map(|p| unsafe { *a.ptr.add(i * a.rs + p * a.cs) }));
    }
    let width = 2 * 16;
    let parts = threads
        .min(n.saturating_mul(k) / MIN_B_PER_THREAD)
        .min(n / width)
        .max(1);
    let ranges = parallel::split_range(n, parts, width);
    let out = SharedMut::new(c);
    let b = ReadOnly(b);
    let dots = b.0.rs == 1;
    parallel::for_each_part(ranges.len(), |part| {
        let cols = ranges[part].clone();
        let job = Job {
            m,
            k,
            a: rows.as_ptr(),
            b: b.get(),
            cols,
            alpha,
            beta,
            c: out.get(),
            ldc,
        };
        // SAFETY: `serves` checked `isa`; the job's pointers are as `Job` documents (the
        // contract), and parts write disjoint columns of `C`.
        unsafe {
            if dots {
                run_kernel(isa, &Dots(&job));
            } else {
                run_kernel(isa, &Rows(&job));
            }
        }
    });
}

/// `B`, read (never written) by every part of one call.
#[derive(Clone, Copy)]
struct ReadOnly(Strided<f32>);

impl ReadOnly {
    /// The matrix (a method, so that closures capture the whole `Sync` struct).
    fn get(self) -> Strided<f32> {
        self.0
    }
}

// SAFETY: the parts of one call only read through the pointer, and the matrix outlives the
// call (`run`'s contract).
unsafe impl Sync for ReadOnly {}

/// Columns `cols` of `C`: `a` is `op(A)` contiguous (`m × k`), `b` and `c` as in [`run`].
struct Job {
    m: usize,
    k: usize,
    a: *const f32,
    b: Strided<f32>,
    cols: std::ops::Range<usize>,
    alpha: f32,
    beta: f32,
    c: *mut f32,
    ldc: usize,
}

impl Job {
    /// Stores `alpha · sum + beta · C[i, j]`.
    ///
    /// # Safety
    /// `i < m` and `j` in `cols`.
    #[inline(always)]
    unsafe fn store(&self, i: usize, j: usize, sum: f32) {
        // SAFETY: inside `C` (the caller's `i`, `j`).
        unsafe {
            let at = self.c.add(i * self.ldc + j);
            *at = if self.beta == 0.0 {
                self.alpha * sum
            } else {
                self.alpha * sum + self.beta * *at
            };
        }
    }
}

/// Dot products: columns of `op(B)` contiguous (`b.rs == 1`).
struct Dots<'a>(&'a Job);

impl Kernel for Dots<'_> {
    #[inline(always)]
    unsafe fn run<V: Lanes>(&self) {
        let t = self.0;
        let vec_k = t.k / 16 * 16;
        // SAFETY: (the whole body) `p < k`, `i < m`, `j` in `cols`: inside `a`, `b` and `C`.
        unsafe {
            for j in t.cols.clone() {
                let col = t.b.ptr.add(j * t.b.cs);
                for i0 in (0..t.m).step_by(ROW_GROUP) {
                    let rows = ROW_GROUP.min(t.m - i0);
                    let mut acc = [V::splat(0.0); ROW_GROUP];
                    for p in (0..vec_k).step_by(16) {
                        let bv = V::load(col.add(p));
                        for (r, s) in acc.iter_mut().enumerate().take(rows) {
                            *s = V::fma(V::load(t.a.add((i0 + r) * t.k + p)), bv, *s);
                        }
                    }
                    for (r, s) in acc.iter().enumerate().take(rows) {
                        let mut lanes = [0.0f32; 16];
                        s.store(lanes.as_mut_ptr());
                        let mut sum = lanes.iter().sum::<f32>();
                        let row = t.a.add((i0 + r) * t.k);
                        for p in vec_k..t.k {
                            sum = (*row.add(p)).mul_add(*col.add(p), sum);
                        }
                        t.store(i0 + r, j, sum);
                    }
                }
            }
        }
    }
}

/// Row updates: rows of `op(B)` contiguous (`b.cs == 1`).
struct Rows<'a>(&'a Job);

impl Kernel for Rows<'_> {
    #[inline(always)]
    unsafe fn run<V: Lanes>(&self) {
        let t = self.0;
        let (start, end) = (t.cols.start, t.cols.end);
        let vec_end = start + (end - start) / 32 * 32;
        // SAFETY: (the whole body) `p < k`, `i < m`, `j < end`: inside `a`, `b` and `C`.
        unsafe {
            for j in (start..vec_end).step_by(32) {
                for i0 in (0..t.m).step_by(ROW_GROUP) {
                    let rows = ROW_GROUP.min(t.m - i0);
                    let mut acc = [[V::splat(0.0); 2]; ROW_GROUP];
                    for p in 0..t.k {
                        let brow = t.b.ptr.add(p * t.b.rs + j);
                        let (b0, b1) = (V::load(brow), V::load(brow.add(16)));
                        for (r, s) in acc.iter_mut().enumerate().take(rows) {
                            let av = V::splat(*t.a.add((i0 + r) * t.k + p));
                            s[0] = V::fma(av, b0, s[0]);
                            s[1] = V::fma(av, b1, s[1]);
                        }
                    }
                    for (r, s) in acc.iter().enumerate().take(rows) {
                        let mut lanes = [0.0f32; 32];
                        s[0].store(lanes.as_mut_ptr());
                        s[1].store(lanes.as_mut_ptr().add(16));
                        for (x, &v) in lanes.iter().enumerate() {
                            t.store(i0 + r, j + x, v);
                        }
                    }
                }
            }
            for j in vec_end..end {
                for i in 0..t.m {
                    let row = t.a.add(i * t.k);
                    let mut sum = 0.0f32;
                    for p in 0..t.k {
                        sum = (*row.add(p)).mul_add(*t.b.ptr.add(p * t.b.rs + j), sum);
                    }
                    t.store(i, j, sum);
                }
            }
        }
    }
}
