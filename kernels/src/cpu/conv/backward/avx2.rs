//! The AVX2 weight-gradient micro-kernel: a tile of 16 lanes × 16 output channels in four
//! passes of 8 lanes × 8 channels (8 ymm accumulators, one `dy` half-vector and one broadcast:
//! AVX2's 16 registers hold no more), each accumulator taking its pixels in order.

use std::arch::x86_64::{
    __m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_storeu_ps,
};

use super::super::blocked::BLOCK;
use super::WgradJob;

/// Lanes (and output channels) per pass.
const HALF: usize = 8;

/// Runs one job (see [`WgradJob`]); `PLAIN` when `job.lanes` holds the lane offsets.
///
/// # Safety
/// AVX2 and FMA available; every pointer in `job` as [`WgradJob`] documents.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn wgrad<const PLAIN: bool>(job: &WgradJob) {
    // SAFETY: (the whole body) as in the AVX-512 kernel: the caller guarantees the pointers of
    // `job` cover every element touched.
    unsafe {
        let all: [isize; BLOCK] = if PLAIN {
            *job.lanes.cast::<[isize; BLOCK]>()
        } else {
            std::array::from_fn(|j| j as isize)
        };
        for lh in 0..2 {
            let offs: [isize; HALF] = std::array::from_fn(|j| all[lh * HALF + j]);
            for fh in 0..2 {
                let at = |j: usize| job.acc.add((lh * HALF + j) * BLOCK + fh * HALF);
                let mut acc: [__m256; HALF] = if job.zero {
                    [_mm256_set1_ps(0.0); HALF]
                } else {
                    std::array::from_fn(|j| _mm256_loadu_ps(at(j)))
                };
                for i in 0..job.images {
                    for r in 0..job.rows {
                        let mut x = job.x.add(i * job.x_image + r * job.x_row);
                        let mut dy = job.dy.add(i * job.dy_image + r * job.dy_row + fh * HALF);
                        for _ in 0..job.pixels {
                            let dv = _mm256_loadu_ps(dy);
                            for (a, &o) in acc.iter_mut().zip(&offs) {
                                *a = _mm256_fmadd_ps(_mm256_set1_ps(*x.offset(o)), dv, *a);
                            }
                            // Wrapping: past the row's last pixel these may leave the
                            // buffer (never read there).
                            x = x.wrapping_add(job.x_pixel);
                            dy = dy.wrapping_add(BLOCK);
                        }
                    }
                }
                for (j, a) in acc.iter().enumerate() {
                    _mm256_storeu_ps(at(j), *a);
                }
            }
        }
    }
}
