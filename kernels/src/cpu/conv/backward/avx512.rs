//! The AVX-512 weight-gradient micro-kernel: one tile of 16 lanes × 16 output channels in 16
//! zmm accumulators.
//!
//! Per output pixel it loads the 16-channel vector of `dy` and issues 16 FMAs, each with one
//! lane's input value broadcast from memory (an embedded-broadcast operand on blocked data,
//! where the lanes are consecutive floats). Pixels go four at a time (4 `dy` vectors + 16
//! accumulators in registers) so that a plain input's per-lane offsets are read once per four
//! pixels; each accumulator still takes its pixels in order.

use std::arch::x86_64::{
    __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps,
};

use super::super::blocked::BLOCK;
use super::WgradJob;

/// Pixels per unrolled step.
const UNROLL: usize = 4;

/// Runs one job (see [`WgradJob`]); `PLAIN` when `job.lanes` holds the lane offsets (else it
/// is null and lane `j` is at offset `j`).
///
/// # Safety
/// AVX-512F and FMA available; every pointer in `job` as [`WgradJob`] documents.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn wgrad<const PLAIN: bool>(job: &WgradJob) {
    // SAFETY: (the whole body) the caller guarantees the pointers of `job` cover every element
    // touched: 256 accumulator floats, 16 lane offsets when `PLAIN`, and for every image, row
    // and pixel the `dy` vector and the 16 lanes' inputs.
    unsafe {
        let mut acc: [__m512; BLOCK] =
            std::array::from_fn(|j| _mm512_loadu_ps(job.acc.add(16 * j)));
        let offs: [isize; BLOCK] = if PLAIN {
            *job.lanes.cast::<[isize; BLOCK]>()
        } else {
            std::array::from_fn(|j| j as isize)
        };
        let xp = job.x_pixel;
        for i in 0..job.images {
            for r in 0..job.rows {
                let mut x = job.x.add(i * job.x_image + r * job.x_row);
                let mut dy = job.dy.add(i * job.dy_image + r * job.dy_row);
                let mut left = job.pixels;
                while left >= UNROLL {
                    let d: [__m512; UNROLL] =
                        std::array::from_fn(|u| _mm512_loadu_ps(dy.add(16 * u)));
                    for (a, &o) in acc.iter_mut().zip(&offs) {
                        let lane = x.offset(o);
                        for (u, &dv) in d.iter().enumerate() {
                            *a = _mm512_fmadd_ps(_mm512_set1_ps(*lane.add(u * xp)), dv, *a);
                        }
                    }
                    x = x.add(UNROLL * xp);
                    dy = dy.add(UNROLL * 16);
                    left -= UNROLL;
                }
                for _ in 0..left {
                    let dv = _mm512_loadu_ps(dy);
                    for (a, &o) in acc.iter_mut().zip(&offs) {
                        *a = _mm512_fmadd_ps(_mm512_set1_ps(*x.offset(o)), dv, *a);
                    }
                    x = x.add(xp);
                    dy = dy.add(16);
                }
            }
        }
        for (j, a) in acc.iter().enumerate() {
            _mm512_storeu_ps(job.acc.add(16 * j), *a);
        }
    }
}
