//! Dense matrix multiply on the CPU: `C = alpha * op(A) · op(B) + beta * C` for `f32` and `f64`.
//!
//! Every matrix op (`dot`, `batch_dot`, `FullyConnected`, `Convolution` through im2col) ends here.
//! The entry points follow BLAS (`cblas_?gemm` and `cblas_?gemm_batch_strided`, row-major):
//! [`gemm()`] multiplies one pair of matrices, [`batched_gemm`] a run of them at fixed strides.
//! Matrices are row-major slices with a leading dimension (the distance between rows), so a view
//! into a larger array works without a copy.
//!
//! Three backends, chosen per call at run time (the binary never needs `target-cpu=native`):
//!
//! - for large `f32` products, mxr's own BLIS-style kernels (the blocked loops in
//!   `gemm/blis.rs`: `B` packed into panels, `A` read in place when its rows are contiguous),
//!   for the instruction set [`Isa::current`](crate::cpu::isa::Isa::current) names (so
//!   `MXR_CPU_ISA` caps them): AVX-512F (`gemm/avx512.rs`, a 6 × 64 register tile of 24 zmm
//!   accumulators) or AVX2 (`gemm/avx2.rs`, 6 × 16 in 12 ymm accumulators);
//! - for `f32` products of at most 8 rows (a `FullyConnected` layer at a small batch), the
//!   few-rows kernel (`gemm/skinny.rs`), which reads `B` once, in place, and splits its
//!   columns across threads;
//! - otherwise (`f64`, small or thin products, other CPUs) the
//!   [gemm](https://docs.rs/gemm/0.19) crate with its `x86-v4` feature, which picks its own
//!   micro-kernels at run time (AVX-512, AVX2/FMA or scalar).
//!
//! A product `A · Bᵀ` with at least twice as many columns as rows (a dense layer's forward pass
//! at a batch smaller than its outputs) is computed as `(B · Aᵀ)ᵀ`, so that the large operand is
//! read in place rather than transposed into packed panels (`transposed_pays`).
//!
//! `benches/gemm.rs` compares them. On the development machine (a 2-vCPU KVM guest reporting
//! an AVX-512 Intel Xeon, one thread, square f32 `C = A · B`, FMA peak ≈ 210 GFLOP/s) the
//! own kernel reaches ≈ 165–172 GFLOP/s at N = 1024 and 2048, 3–7% above the crate (up to 35%
//! with a transposed `B`), and 1.2–1.3× `matrixmultiply`.
//!
//! Every slice length and leading dimension is checked before the backend runs, and a bad one
//! is a [`GemmError`], never a panic or an out-of-bounds access.
//!
//! ```
//! use mxr_kernels::cpu::gemm::gemm;
//!
//! // C (2×2) = A (2×3) · B (3×2), all contiguous.
//! let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let b = [7.0f32, 8.0, 9.0, 10.0, 11.0, 12.0];
//! let mut c = [f32::NAN; 4]; // beta = 0 ignores C's old contents, even NaN
//! gemm(false, false, 2, 2, 3, 1.0, &a, 3, &b, 2, 0.0, &mut c, 2, 1)?;
//! assert_eq!(c, [58.0, 64.0, 139.0, 154.0]);
//! # Ok::<(), mxr_kernels::cpu::gemm::GemmError>(())
//! ```

use std::fmt;
use std::ops::{Add, Mul};

use crate::Element;
use crate::cpu::scratch::ScratchPool;

mod sealed;

use sealed::{Product, Strided};

mod native;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod blis;
#[cfg(target_arch = "x86_64")]
mod skinny;

/// An element type [`gemm()`] supports: `f32` and `f64`. Sealed.
pub trait GemmElement: Element + sealed::Sealed + Add<Output = Self> + Mul<Output = Self> {
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
}

impl GemmElement for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

impl GemmElement for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

/// Which matrix argument of a GEMM call an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GemmArg {
    /// The left factor `A`.
    A,
    /// The right factor `B`.
    B,
    /// The output `C`.
    C,
}

impl fmt::Display for GemmArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GemmArg::A => "a",
            GemmArg::B => "b",
            GemmArg::C => "c",
        })
    }
}

/// A GEMM argument that does not describe a valid matrix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GemmError {
    /// The leading dimension is smaller than the width of a stored row.
    #[error("gemm: ld{arg} = {ld} is less than the {width} columns of a stored row of {arg}")]
    LeadingDim {
        /// The matrix.
        arg: GemmArg,
        /// The leading dimension given.
        ld: usize,
        /// The stored row width (columns as stored, before any transpose).
        width: usize,
    },
    /// The slice is shorter than the matrix (or the batch of matrices) it must hold.
    #[error("gemm: {arg} needs at least {needed} elements ({rows}×{cols}, ld {ld}) but has {len}")]
    TooShort {
        /// The matrix.
        arg: GemmArg,
        /// Rows as stored.
        rows: usize,
        /// Columns as stored.
        cols: usize,
        /// The leading dimension given.
        ld: usize,
        /// The minimum length: `(rows - 1) * ld + cols`, plus `(batch - 1) * stride` if batched.
        needed: usize,
        /// The slice's actual length.
        len: usize,
    },
    /// The minimum length of a matrix does not fit in `usize`.
    #[error("gemm: the size of {arg} overflows ({rows}×{cols}, ld {ld}, {batch} matrices)")]
    Overflow {
        /// The matrix.
        arg: GemmArg,
        /// Rows as stored.
        rows: usize,
        /// Columns as stored.
        cols: usize,
        /// The leading dimension given.
        ld: usize,
        /// The batch size (1 for [`gemm()`]).
        batch: usize,
    },
    /// In a batched call, two output matrices would share elements.
    #[error(
        "batched gemm: stride_c = {stride} makes the {batch} output matrices ({rows}×{cols}, \
         ld {ld}) overlap"
    )]
    OverlappingOutput {
        /// The output stride given.
        stride: usize,
        /// The batch size.
        batch: usize,
        /// Rows of `C`.
        rows: usize,
        /// Columns of `C`.
        cols: usize,
        /// `ldc`.
        ld: usize,
    },
}

/// `C = alpha * op(A) · op(B) + beta * C` on row-major matrices, where `op(X)` is `X`, or `Xᵀ`
/// when `trans_x` is set. `op(A)` is `m × k`, `op(B)` is `k × n` and `C` is `m × n`.
///
/// Storage, as in row-major `cblas_?gemm`: element `(i, j)` of a matrix stored with leading
/// dimension `ld` is at index `i * ld + j`.
/// - `a` stores `m × k` (`k × m` when `trans_a`), and `lda` must be at least its stored width;
/// - `b` stores `k × n` (`n × k` when `trans_b`), likewise `ldb`;
/// - `c` stores `m × n`, and `ldc >= n`.
///
/// Each slice must reach the last element it holds: `(rows - 1) * ld + cols` elements (none
/// when rows or cols is 0). Longer slices are fine; only the described elements are touched.
///
/// As in BLAS, `beta == 0` overwrites `C` without reading it (old NaNs do not survive), and
/// `alpha == 0` or `k == 0` reads neither `A` nor `B` and only scales `C` by `beta`. `m == 0` or
/// `n == 0` does nothing. The arguments are still checked first.
///
/// `threads` is the number of threads the call may use (0 and 1: the calling thread only).
/// A product large enough to pay for it is split into horizontal bands of `C` computed in
/// parallel (see [`parallel`](super::parallel)), with the kernel chosen for the whole product;
/// results are deterministic for a given thread count, and may differ from one thread's in the
/// last bits where a kernel's blocking depends on the number of rows.
///
/// # Errors
/// [`GemmError::LeadingDim`] if a leading dimension is below its stored row width,
/// [`GemmError::TooShort`] if a slice is too short, and [`GemmError::Overflow`] if a size
/// computation overflows. `C` is untouched when an error is returned.
#[allow(
    clippy::too_many_arguments,
    reason = "the BLAS gemm signature, argument for argument"
)]
pub fn gemm<T: GemmElement>(
    trans_a: bool,
    trans_b: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    lda: usize,
    b: &[T],
    ldb: usize,
    beta: T,
    c: &mut [T],
    ldc: usize,
    threads: usize,
) -> Result<(), GemmError> {
    batched_gemm(
        trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1, threads,
    )
}

/// [`gemm()`] over `batch` matrix triples at fixed strides, as row-major
/// `cblas_?gemm_batch_strided`: for `p` in `0..batch`, the `p`-th `A`, `B` and `C` start at
/// `p * stride_a`, `p * stride_b` and `p * stride_c` in their slices.
///
/// `stride_a` or `stride_b` may be 0 (or any value) to reuse one input across the batch. The
/// output matrices must not overlap: `stride_c` must be at least one output matrix's extent
/// (`(m - 1) * ldc + n`), or the outputs must interleave row by row (`stride_c >= n` and
/// `(batch - 1) * stride_c + n <= ldc`). Each slice must be at least
/// `(batch - 1) * stride + (rows - 1) * ld + cols` long. `batch == 0` does nothing.
///
/// `threads` is as in [`gemm()`]; only single products (`batch == 1`) are split.
///
/// # Errors
/// As [`gemm()`], plus [`GemmError::OverlappingOutput`] if two output matrices would share
/// elements. `C` is untouched when an error is returned.
#[allow(
    clippy::too_many_arguments,
    reason = "the BLAS gemm_batch_strided signature"
)]
pub fn batched_gemm<T: GemmElement>(
    trans_a: bool,
    trans_b: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    lda: usize,
    stride_a: usize,
    b: &[T],
    ldb: usize,
    stride_b: usize,
    beta: T,
    c: &mut [T],
    ldc: usize,
    stride_c: usize,
    batch: usize,
    threads: usize,
) -> Result<(), GemmError> {
    batched_gemm_with(
        Backend::Auto,
        trans_a,
        trans_b,
        m,
        n,
        k,
        alpha,
        a,
        lda,
        stride_a,
        b,
        ldb,
        stride_b,
        beta,
        c,
        ldc,
        stride_c,
        batch,
        threads,
    )
}

/// Which implementation [`batched_gemm_with`] runs. For benchmarks and tests that compare the
/// backends; not part of the stable API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// What [`gemm()`] does: mxr's kernel where it is faster, else the `gemm` crate.
    Auto,
    /// mxr's kernel whenever the type and the current instruction set have one (`f32` with
    /// AVX-512F or AVX2, and FMA), whatever the shape; else the `gemm` crate.
    Native,
    /// Always the `gemm` crate.
    Crate,
}

/// [`batched_gemm`] with a chosen [`Backend`]; same arguments, checks and results. For
/// benchmarks and tests; not part of the stable API.
///
/// # Errors
/// As [`batched_gemm`].
#[doc(hidden)]
#[allow(
    clippy::too_many_arguments,
    reason = "the BLAS gemm_batch_strided signature, plus the backend"
)]
pub fn batched_gemm_with<T: GemmElement>(
    backend: Backend,
    trans_a: bool,
    trans_b: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    lda: usize,
    stride_a: usize,
    b: &[T],
    ldb: usize,
    stride_b: usize,
    beta: T,
    c: &mut [T],
    ldc: usize,
    stride_c: usize,
    batch: usize,
    threads: usize,
) -> Result<(), GemmError> {
    let (a_rows, a_cols) = if trans_a { (k, m) } else { (m, k) };
    let (b_rows, b_cols) = if trans_b { (n, k) } else { (k, n) };
    let a_mat = Operand::check(GemmArg::A, a.len(), a_rows, a_cols, lda, stride_a, batch)?;
    let b_mat = Operand::check(GemmArg::B, b.len(), b_rows, b_cols, ldb, stride_b, batch)?;
    let c_mat = Operand::check(GemmArg::C, c.len(), m, n, ldc, stride_c, batch)?;
    if batch > 1 && m > 0 && n > 0 {
        let disjoint =
            stride_c >= c_mat.extent || (stride_c >= n && (batch - 1) * stride_c + n <= ldc);
        if !disjoint {
            return Err(GemmError::OverlappingOutput {
                stride: stride_c,
                batch,
                rows: m,
                cols: n,
                ld: ldc,
            });
        }
    }
    if m == 0 || n == 0 || batch == 0 {
        return Ok(());
    }
    if k == 0 || alpha == T::ZERO {
        for p in 0..batch {
            scale(&mut c[p * stride_c..], m, n, ldc, beta);
        }
        return Ok(());
    }
    if batch == 1 && backend == Backend::Auto && transposed_pays::<T>(trans_a, trans_b, m, n, k) {
        return through_transpose(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
    }
    // op(A) is m × k: row stride, column stride.
    let (a_rs, a_cs) = if trans_a {
        (1, a_mat.ld)
    } else {
        (a_mat.ld, 1)
    };
    let (b_rs, b_cs) = if trans_b {
        (1, b_mat.ld)
    } else {
        (b_mat.ld, 1)
    };
    if batch == 1 {
        let chunks = row_chunks(m, n, k, threads);
        if chunks.len() > 1 {
            // The kernel is chosen for the whole product, so every band runs the same one.
            let backend = match backend {
                Backend::Auto
                    if native::worth_it(crate::cpu::isa::Isa::current(), m, n, k, trans_b) =>
                {
                    Backend::Native
                }
                Backend::Auto => Backend::Crate,
                chosen => chosen,
            };
            return split_rows(
                backend, trans_a, trans_b, n, k, alpha, a, lda, b, ldb, beta, c, ldc, &chunks,
            );
        }
    }

    for p in 0..batch {
        let a_p = &a[p * stride_a..];
        let b_p = &b[p * stride_b..];
        let c_p = &mut c[p * stride_c..];
        let strided = |x: &[T], rs: isize, cs: isize| Strided {
            ptr: x.as_ptr(),
            rs: rs.unsigned_abs(),
            cs: cs.unsigned_abs(),
        };
        let product = Product {
            m,
            n,
            k,
            alpha,
            a: strided(a_p, a_rs, a_cs),
            b: strided(b_p, b_rs, b_cs),
            beta,
            c: c_p.as_mut_ptr(),
            ldc: c_mat.ld.unsigned_abs(),
        };
        // Products of a few rows go to the few-rows kernel (threads split their columns).
        let threads_here = if batch == 1 { threads } else { 1 };
        // SAFETY: `Operand::check` verified that `a_p`, `b_p` and `c_p` each hold one full
        // matrix with the (non-negative) strides given, so every element the kernel may touch
        // is inside them; `c_p` is a unique borrow, so `C` aliases neither input and nothing
        // else touches it during the call; `m, n, k > 0` and `alpha != 0` were handled above.
        let done = backend == Backend::Auto && unsafe { T::skinny_gemm(product, threads_here) };
        if done {
            continue;
        }
        // SAFETY: as above.
        let done = unsafe { T::native_gemm(backend, product) };
        if done {
            continue;
        }
        // SAFETY: `Operand::check` above verified, for every `p < batch`, that the slices hold
        // `p * stride + (rows - 1) * ld + cols` elements (so `a_p`, `b_p`, `c_p` hold one full
        // matrix each), that `ld >= cols`, and that every stride fits in `isize`. The backend
        // touches only elements `i * rs + j * cs` with `i < rows`, `j < cols` of each operand,
        // which are all inside those slices. `c_p` is a unique `&mut` borrow, so it aliases
        // neither input, and the calls run one after another on this thread, so batches never
        // race even where they interleave. With `read_dst == false` (our `beta == 0`) the
        // backend writes `C` without reading it. `T` is `f32` or `f64` (sealed), the types the
        // backend dispatches on, so its unsupported-type panic cannot fire.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                c_p.as_mut_ptr(),
                1,
                c_mat.ld,
                beta != T::ZERO,
                a_p.as_ptr(),
                a_cs,
                a_rs,
                b_p.as_ptr(),
                b_cs,
                b_rs,
                beta,
                alpha,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    }
    Ok(())
}

/// Whether `C = A · Bᵀ` (`A` stored `m × k`, `B` stored `n × k`: a `FullyConnected` forward
/// pass) runs faster as `Cᵀ = B · Aᵀ` ([`through_transpose`]): for `f32` on a CPU with mxr's
/// kernels, when `C` has at least twice as many columns as rows, more rows than the few-rows
/// kernel takes, and enough work. Then the large operand (the weights) is read in place, row by
/// row, instead of being transposed into packed panels, and only the small one is. Measured
/// on one Zen 4 core (`m × n × k`, µs, direct / transposed): 64 × 500 × 800 (LeNet's first
/// dense layer at batch 64) 589 / 458, 64 × 1024 × 1024 8232 / 1216 (the `gemm` crate, which
/// the direct product took, is slow there), 100 × 1024 × 1024 9262 / 2748, 64 × 512 × 512
/// 805 / 298, 32 × 1000 × 512 (ResNet's classifier at batch 32) 437 / 328.
fn transposed_pays<T: GemmElement>(
    trans_a: bool,
    trans_b: bool,
    m: usize,
    n: usize,
    k: usize,
) -> bool {
    let volume = m as u128 * n as u128 * k as u128;
    T::DTYPE == crate::DType::F32
        && crate::cpu::isa::Isa::current() >= crate::cpu::isa::Isa::Avx2
        && !trans_a
        && trans_b
        && m > FEW_ROWS
        && n >= 2 * m
        && volume >= MIN_PARALLEL_VOLUME
}

/// Rows of the products the few-rows kernel takes (the transposed route is not for them).
#[cfg(target_arch = "x86_64")]
const FEW_ROWS: usize = skinny::MAX_ROWS;
#[cfg(not(target_arch = "x86_64"))]
const FEW_ROWS: usize = 8;

/// The transposed products of [`through_transpose`], shared by the calls of every thread.
static TRANSPOSED: ScratchPool<Vec<u64>> = ScratchPool::new();

/// `C = alpha · A · Bᵀ + beta · C` (`A` stored `m × k` with leading dimension `lda`, `B` stored
/// `n × k` with `ldb`, `C` `m × n` with `ldc`, all checked by the caller) computed as
/// `Cᵀ = alpha · B · Aᵀ` into a scratch matrix, which is then added, transposed, to
/// `beta · C` (`beta == 0` ignores `C`'s old contents). The transposed product runs on mxr's
/// kernel when it has a full register tile of columns (`m ≥ 64`), else where [`gemm()`] would
/// send it.
#[allow(clippy::too_many_arguments, reason = "the gemm arguments")]
fn through_transpose<T: GemmElement>(
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    lda: usize,
    b: &[T],
    ldb: usize,
    beta: T,
    c: &mut [T],
    ldc: usize,
    threads: usize,
) -> Result<(), GemmError> {
    let backend = if m >= 64 {
        Backend::Native
    } else {
        Backend::Auto
    };
    let words = (n * m * std::mem::size_of::<T>()).div_ceil(8);
    let run = |scratch: &mut Vec<u64>| {
        if scratch.len() < words {
            scratch.resize(words, 0);
        }
        let ct = &mut bytemuck::cast_slice_mut::<u64, T>(&mut scratch[..words])[..n * m];
        // `Cᵀ` is `n × m`: `B` as stored times `A` read transposed. Not routed here again:
        // its columns (`m`) are fewer than twice its rows (`n ≥ 2m`).
        batched_gemm_with(
            backend,
            false,
            true,
            n,
            m,
            k,
            alpha,
            b,
            ldb,
            0,
            a,
            lda,
            0,
            T::ZERO,
            ct,
            m,
            0,
            1,
            threads,
        )?;
        add_transposed(ct, m, n, beta, c, ldc);
        Ok(())
    };
    TRANSPOSED.with(run)
}

/// `C = ctᵀ + beta · C` for `C` `m × n` with leading dimension `ldc` and `ct` `n × m`
/// contiguous, in 16 × 16 tiles; `beta == 0` never reads `C`.
fn add_transposed<T: GemmElement>(ct: &[T], m: usize, n: usize, beta: T, c: &mut [T], ldc: usize) {
    const TILE: usize = 16;
    for i0 in (0..m).step_by(TILE) {
        for j0 in (0..n).step_by(TILE) {
            for i in i0..(i0 + TILE).min(m) {
                let row = &mut c[i * ldc + j0..i * ldc + (j0 + TILE).min(n)];
                let col = ct[j0 * m + i..].iter().step_by(m);
                if beta == T::ZERO {
                    row.iter_mut().zip(col).for_each(|(d, &v)| *d = v);
                } else {
                    row.iter_mut()
                        .zip(col)
                        .for_each(|(d, &v)| *d = v + beta * *d);
                }
            }
        }
    }
}

/// Products below this many multiply-adds run on one thread (splitting costs more than it saves).
const MIN_PARALLEL_VOLUME: u128 = 1 << 21;

/// The row ranges of `C` that `threads` threads compute, each with at least half of
/// [`MIN_PARALLEL_VOLUME`] multiply-adds and 16 rows (the kernels' register tiles); one range
/// when the product is too small to split.
fn row_chunks(m: usize, n: usize, k: usize, threads: usize) -> Vec<std::ops::Range<usize>> {
    let volume = m as u128 * n as u128 * k as u128;
    let by_volume = (volume / (MIN_PARALLEL_VOLUME / 2)).min(usize::MAX as u128) as usize;
    let parts = threads.min(by_volume).min(m / 16).max(1);
    if parts == 1 || volume < MIN_PARALLEL_VOLUME {
        return std::iter::once(0..m).collect();
    }
    super::parallel::split_range(m, parts, 16)
}

/// Computes one product in horizontal bands of `C` (the rows of `chunks`) in parallel. The
/// caller checked the whole product; each band is the same product restricted to its rows of
/// `op(A)` and `C`, so it passes the same checks.
#[allow(clippy::too_many_arguments, reason = "the gemm arguments")]
fn split_rows<T: GemmElement>(
    backend: Backend,
    trans_a: bool,
    trans_b: bool,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    lda: usize,
    b: &[T],
    ldb: usize,
    beta: T,
    c: &mut [T],
    ldc: usize,
    chunks: &[std::ops::Range<usize>],
) -> Result<(), GemmError> {
    // Disjoint bands of C: band i is rows chunks[i], starting at element start * ldc.
    let mut bands: Vec<parking::Slot<&mut [T]>> = Vec::with_capacity(chunks.len());
    let mut rest = c;
    for (i, rows) in chunks.iter().enumerate() {
        let band = if i + 1 == chunks.len() {
            std::mem::take(&mut rest)
        } else {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(rows.len() * ldc);
            rest = tail;
            head
        };
        bands.push(parking::Slot::new(band));
    }
    let results: Vec<parking::Slot<Result<(), GemmError>>> =
        chunks.iter().map(|_| parking::Slot::new(Ok(()))).collect();
    super::parallel::for_each_part(chunks.len(), |i| {
        let rows = &chunks[i];
        // Row i0 of op(A): row i0 of A, or column i0 of the stored Aᵀ.
        let a_band = if trans_a {
            &a[rows.start..]
        } else {
            &a[rows.start * lda..]
        };
        let result = bands[i].with(|band| {
            batched_gemm_with(
                backend,
                trans_a,
                trans_b,
                rows.len(),
                n,
                k,
                alpha,
                a_band,
                lda,
                0,
                b,
                ldb,
                0,
                beta,
                band,
                ldc,
                0,
                1,
                1,
            )
        });
        results[i].with(|r| *r = result);
    });
    results.into_iter().try_for_each(parking::Slot::into_inner)
}

/// A value one parallel part uses by itself.
mod parking {
    use std::sync::Mutex;

    /// A value behind an uncontended lock: each part locks only its own slot.
    pub(super) struct Slot<T>(Mutex<T>);

    impl<T> Slot<T> {
        pub(super) fn new(value: T) -> Slot<T> {
            Slot(Mutex::new(value))
        }

        /// Runs `f` on the value. A poisoned lock (a panic in another call on this slot, which
        /// cannot happen since each part touches only its own) still gives the value.
        pub(super) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
            let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        }

        pub(super) fn into_inner(self) -> T {
            self.0.into_inner().unwrap_or_else(|e| e.into_inner())
        }
    }
}

/// A checked matrix argument: its leading dimension as a stride, and its extent.
#[derive(Debug, Clone, Copy)]
struct Operand {
    /// The leading dimension, proven to fit in `isize`.
    ld: isize,
    /// Elements from the first to one past the last of one matrix: `(rows - 1) * ld + cols`.
    extent: usize,
}

impl Operand {
    /// Checks that a slice of `len` elements holds `batch` matrices of `rows × cols` with
    /// leading dimension `ld`, `stride` apart.
    fn check(
        arg: GemmArg,
        len: usize,
        rows: usize,
        cols: usize,
        ld: usize,
        stride: usize,
        batch: usize,
    ) -> Result<Operand, GemmError> {
        if ld < cols {
            return Err(GemmError::LeadingDim {
                arg,
                ld,
                width: cols,
            });
        }
        let overflow = GemmError::Overflow {
            arg,
            rows,
            cols,
            ld,
            batch,
        };
        let extent = if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1)
                .checked_mul(ld)
                .and_then(|x| x.checked_add(cols))
                .ok_or(overflow.clone())?
        };
        let needed = if extent == 0 || batch == 0 {
            0
        } else {
            (batch - 1)
                .checked_mul(stride)
                .and_then(|x| x.checked_add(extent))
                .ok_or(overflow.clone())?
        };
        if len < needed {
            return Err(GemmError::TooShort {
                arg,
                rows,
                cols,
                ld,
                needed,
                len,
            });
        }
        // With two or more rows, `ld < extent <= len <= isize::MAX` (no slice of non-zero-sized
        // elements is longer), so `ld` fits. A one-row matrix is never offset by `ld`, which may
        // then be anything `>= cols`: pass the row width instead.
        let ld = if rows > 1 { ld } else { cols.max(1) };
        let ld = isize::try_from(ld).map_err(|_| overflow)?;
        Ok(Operand { ld, extent })
    }
}

/// `C = beta * C` for one `m × n` matrix at the start of `c`; `beta == 0` writes zeros without
/// reading. The caller has checked that `c` holds it.
fn scale<T: GemmElement>(c: &mut [T], m: usize, n: usize, ldc: usize, beta: T) {
    if beta == T::ONE {
        return;
    }
    for i in 0..m {
        let row = &mut c[i * ldc..i * ldc + n];
        if beta == T::ZERO {
            row.fill(T::ZERO);
        } else {
            row.iter_mut().for_each(|x| *x = beta * *x);
        }
    }
}

#[cfg(test)]
mod tests;
