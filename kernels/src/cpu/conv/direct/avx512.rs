//! The AVX-512 micro-kernel of the direct convolution: `R` output pixels of one row by `NV`
//! blocks of 16 output channels, `R · NV` zmm accumulators.
//!
//! Each step of the reduction (one input channel of one kernel tap) loads `NV` weight vectors
//! (16 output channels each, packed in the order the steps consume them) and broadcasts `R`
//! input values (one per pixel, `PX` floats apart), then issues `R · NV` FMAs. With `NV = 2`
//! and `R = 14` that is 16 loads for 28 FMAs, and 28 + 2 + 1 of the 32 registers.

use std::arch::x86_64::{
    __m512, _CMP_NLE_UQ, _mm512_add_ps, _mm512_cmp_ps_mask, _mm512_fmadd_ps, _mm512_loadu_ps,
    _mm512_maskz_mov_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};

use super::{Tap, TileJob};

/// Runs one tile (see [`TileJob`]).
///
/// # Safety
/// AVX-512F and FMA available; every pointer and offset in `job` as [`TileJob`] documents,
/// with `job.rows == R`, `job.pixel_step == PX` and `job.nv_store <= NV`.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn tile<const R: usize, const NV: usize, const PX: usize>(
    job: &TileJob,
    taps: &[Tap],
) {
    let mut acc = [[_mm512_setzero_ps(); NV]; R];
    // SAFETY: (the whole body) the caller guarantees the pointers of `job` cover every element
    // touched: the bias for `NV` vectors, the output and residual tiles for `R` pixels of
    // `nv_store` blocks, the input at `inp + icb * in_block + tap.input + ic * in_ic + r * PX`
    // for every block, tap, channel and pixel, and the weights at
    // `w + icb * w_block + tap.weight + ic * NV * 16 + 16 v + lane`.
    unsafe {
        // Every loop over `acc` has constant bounds (runtime counts only in conditions), so the
        // accumulators stay in registers.
        if job.accumulate {
            for (r, row) in acc.iter_mut().enumerate() {
                for (v, a) in row.iter_mut().enumerate() {
                    if v < job.nv_store {
                        *a = _mm512_loadu_ps(job.out.add(v * job.out_block + r * 16));
                    }
                }
            }
        } else if !job.bias.is_null() {
            for v in 0..NV {
                let b = _mm512_loadu_ps(job.bias.add(16 * v));
                for row in acc.iter_mut() {
                    row[v] = b;
                }
            }
        }
        for icb in 0..job.blocks {
            let ib = job.inp.add(icb * job.in_block);
            let wb = job.w.add(icb * job.w_block);
            for tap in taps {
                let mut ip = ib.offset(tap.input);
                let mut wp = wb.add(tap.weight);
                for _ in 0..job.channels {
                    let wv: [__m512; NV] = std::array::from_fn(|v| _mm512_loadu_ps(wp.add(16 * v)));
                    for (r, row) in acc.iter_mut().enumerate() {
                        let a = _mm512_set1_ps(*ip.add(r * PX));
                        for (x, w) in row.iter_mut().zip(wv) {
                            *x = _mm512_fmadd_ps(a, w, *x);
                        }
                    }
                    ip = ip.add(job.in_ic);
                    wp = wp.add(16 * NV);
                }
            }
        }
        let zero = _mm512_setzero_ps();
        for (r, row) in acc.iter().enumerate() {
            for (v, &x) in row.iter().enumerate() {
                if v >= job.nv_store {
                    continue;
                }
                let mut y = x;
                if !job.residual.is_null() {
                    y = _mm512_add_ps(
                        y,
                        _mm512_loadu_ps(job.residual.add(v * job.res_block + r * 16)),
                    );
                }
                if job.relu {
                    // MXNet's relu: 0 where y <= 0, else y (NaN kept, -0 becomes +0).
                    y = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_NLE_UQ>(y, zero), y);
                }
                _mm512_storeu_ps(job.out.add(v * job.out_block + r * 16), y);
            }
        }
    }
}
