//! mxr's own f32 kernels and the rule for when to use them.

use super::Product;
use crate::cpu::isa::Isa;

/// Runs `C = alpha * A · B + beta * C` with the kernel of the current instruction set
/// ([`Isa::current`]: AVX-512 or AVX2) if `backend` asks for it (`Auto`: the shape is one
/// where it beats the `gemm` crate, `worth_it`); returns whether it ran.
///
/// # Safety
/// `m, n, k > 0`; every `(i, p)` (`i < m`, `p < k`) of `a` and `(p, j)` (`p < k`, `j < n`)
/// of `b` is readable, every `c + i * ldc + j` (`i < m`, `j < n`) readable and writable,
/// `C` overlaps neither input, and nothing else accesses `C` during the call.
pub(super) unsafe fn run(backend: super::Backend, p: Product<f32>) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use super::{avx2, avx512};
        let isa = Isa::current();
        let wanted = match backend {
            super::Backend::Auto => worth_it(isa, p.m, p.n, p.k, p.b.cs != 1),
            super::Backend::Native => true,
            super::Backend::Crate => false,
        };
        if wanted && isa == Isa::Avx512 && avx512::available() {
            // SAFETY: `available()` checked the CPU; the matrices are as `sgemm` needs
            // (this function's contract, which is the same).
            unsafe { avx512::sgemm(p, avx512::BLOCKING) };
            return true;
        }
        if wanted && isa == Isa::Avx2 && avx2::available() {
            // SAFETY: as above, for the AVX2 kernel.
            unsafe { avx2::sgemm(p, avx2::BLOCKING) };
            return true;
        }
    }
    let _ = (backend, p);
    false
}

/// Whether our kernel for `isa` beats the `gemm` crate on this shape. Measured (one
/// thread, every transpose): the AVX-512 kernel is 3–35% faster than the crate's on the
/// first development machine (Intel) once every dimension is at least 128 and the product
/// is at least 512³; below that (small, thin or shallow products, where packing `B` does
/// not pay for itself) the crate is as fast or faster. The AVX2 kernel, against the
/// crate's AVX2 kernels (a Zen 4 capped to AVX2, the crate built without `x86-v4`), is as
/// fast on square products from 256 up, 15–40% faster with a transposed `B` at 1024, and
/// slower (by up to 10%) with 64-row products: the same rule.
///
/// Except with fewer than 64 rows, at least 64 columns, a depth of 512 or more and
/// `op(B)`'s columns contiguous (`b_transposed`: `FullyConnected`'s weight, stored
/// `n × k`: a classifier layer at batch 16–32): on this project's Zen 4 machine the crate
/// reached 14–26 GFLOP/s there (16 or 32 rows, `k` 512 or 1024), ours, which packs `B`
/// with 16 × 16 transposes, 60–78. With fewer columns or less depth the crate is faster
/// (38 against 13 with 10 columns, 69 against 40 at depth 64); from 64 rows the two are
/// within 6% either way.
///
/// And with at least 64 rows and a `B` or a `C` of [`LARGE`] floats or more: there the
/// crate's packing touched 3.5 MiB of scratch per thread in W6 (a 1024-wide MLP at batch
/// 64: the weight gradient `1024 × 1024 × 64`), ours packs `B` in blocks of 768 KiB; the
/// speed is the same within 2% (Zen 4, one thread: `64 × 1024 × 1024` 1329 µs against
/// 1343–1348, `1024 × 1024 × 64` 1256–1259 against 1267–1273), and W6's training memory
/// drops by 4 MiB.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) fn worth_it(isa: Isa, m: usize, n: usize, k: usize, b_transposed: bool) -> bool {
    const MIN_DIM: usize = 128;
    const MIN_VOLUME: u128 = 512 * 512 * 512;
    const FEW_ROWS: usize = 64;
    const DEEP: usize = 512;
    let volume = (m as u128) * (n as u128) * (k as u128);
    isa >= Isa::Avx2
        && ((m.min(n).min(k) >= MIN_DIM && volume >= MIN_VOLUME)
            || (b_transposed && m < FEW_ROWS && n >= FEW_ROWS && k >= DEEP)
            || (m >= FEW_ROWS && k.max(m).saturating_mul(n) >= LARGE))
}

/// Floats of `B` or of `C` from which our kernel takes a product of 64 rows or more
/// whatever its other dimensions (see [`worth_it`]): 1 Mi floats, 4 MiB.
const LARGE: usize = 1 << 20;
