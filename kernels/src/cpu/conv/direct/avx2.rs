//! The AVX2 micro-kernel of the direct convolution: `R` output pixels of one row by `Y` ymm
//! vectors (`8·Y` output channels), `R · Y` ymm accumulators.
//!
//! AVX2 has 16 ymm registers, and a 16-channel block is two of them, so the tile is narrower
//! than AVX-512's: with `Y = 2` (one output block) and `R = 6`, each step of the reduction (one
//! input channel of one kernel tap) loads 2 weight vectors and broadcasts 6 input values for 12
//! FMAs, in 12 + 2 + 1 registers. The weights are packed for the plan's `nv` blocks per output
//! group (as [`super::DirectConv::pack_weights`] writes them, whatever the instruction set);
//! a call covers the `8·Y` output channels from `c0` of the group, reading `8·Y` of the
//! `16·nv` weights of each step, and the driver calls it once per slice of the group.

use std::arch::x86_64::{
    __m256, _CMP_NLE_UQ, _mm256_add_ps, _mm256_and_ps, _mm256_cmp_ps, _mm256_fmadd_ps,
    _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
};

use super::{Tap, TileJob};

/// Runs the slice of one tile (see [`TileJob`]) that holds output channels `c0 .. c0 + 8·Y`
/// of the group, whose packed weights have `ws` floats per reduction step.
///
/// # Safety
/// AVX2 and FMA available; every pointer and offset in `job` as [`TileJob`] documents for
/// `NV = ws / 16`, with `job.rows == R` and `job.pixel_step == PX`; `c0` a multiple of `8·Y`,
/// `c0 + 8·Y <= ws`, and `c0 / 16 < job.nv_store` (the slice lies in a stored block).
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile<const R: usize, const Y: usize, const PX: usize>(
    job: &TileJob,
    taps: &[Tap],
    ws: usize,
    c0: usize,
) {
    // Output channel `c0 + 8 y` of the group: block `(c0 + 8 y) / 16`, lane `(c0 + 8 y) % 16`.
    let at = |y: usize, block: usize| ((c0 + 8 * y) / 16) * block + (c0 + 8 * y) % 16;
    let stored = |y: usize| (c0 + 8 * y) / 16 < job.nv_store;
    let mut acc = [[_mm256_setzero_ps(); Y]; R];
    // SAFETY: (the whole body) the caller guarantees the pointers of `job` cover every element
    // touched: the bias for `ws` floats, the output and residual tiles for `R` pixels of
    // `nv_store` blocks (only slices in those blocks are read or written), the input at
    // `inp + icb * in_block + tap.input + ic * in_ic + r * PX` for every block, tap, channel and
    // pixel, and the weights at `w + icb * w_block + tap.weight + ic * ws + c0 + 8 y + lane`.
    unsafe {
        // Every loop over `acc` has constant bounds (runtime counts only in conditions), so the
        // accumulators stay in registers.
        if job.accumulate {
            for (r, row) in acc.iter_mut().enumerate() {
                for (y, a) in row.iter_mut().enumerate() {
                    if stored(y) {
                        *a = _mm256_loadu_ps(job.out.add(at(y, job.out_block) + r * 16));
                    }
                }
            }
        } else if !job.bias.is_null() {
            for y in 0..Y {
                let b = _mm256_loadu_ps(job.bias.add(c0 + 8 * y));
                for row in acc.iter_mut() {
                    row[y] = b;
                }
            }
        }
        let w0 = job.w.add(c0);
        for icb in 0..job.blocks {
            let ib = job.inp.add(icb * job.in_block);
            let wb = w0.add(icb * job.w_block);
            for tap in taps {
                let mut ip = ib.offset(tap.input);
                let mut wp = wb.add(tap.weight);
                for _ in 0..job.channels {
                    let wv: [__m256; Y] = std::array::from_fn(|y| _mm256_loadu_ps(wp.add(8 * y)));
                    for (r, row) in acc.iter_mut().enumerate() {
                        let a = _mm256_set1_ps(*ip.add(r * PX));
                        for (x, w) in row.iter_mut().zip(wv) {
                            *x = _mm256_fmadd_ps(a, w, *x);
                        }
                    }
                    ip = ip.add(job.in_ic);
                    wp = wp.add(ws);
                }
            }
        }
        let zero = _mm256_setzero_ps();
        for (r, row) in acc.iter().enumerate() {
            for (y, &x) in row.iter().enumerate() {
                if !stored(y) {
                    continue;
                }
                let mut v = x;
                if !job.residual.is_null() {
                    v = _mm256_add_ps(
                        v,
                        _mm256_loadu_ps(job.residual.add(at(y, job.res_block) + r * 16)),
                    );
                }
                if job.relu {
                    // MXNet's relu: 0 where v <= 0, else v (NaN kept, -0 becomes +0).
                    v = _mm256_and_ps(_mm256_cmp_ps::<_CMP_NLE_UQ>(v, zero), v);
                }
                _mm256_storeu_ps(job.out.add(at(y, job.out_block) + r * 16), v);
            }
        }
    }
}
