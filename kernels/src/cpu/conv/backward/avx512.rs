//! The AVX-512 weight-gradient micro-kernel: one tile of 16 lanes × 16 output channels in 16
//! zmm accumulators.
//!
//! Per output pixel it loads the 16-channel vector of `dy` and issues 16 FMAs, each with one
//! lane's input value broadcast from memory (an embedded-broadcast operand on blocked data,
//! where the lanes are consecutive floats). Pixels go four at a time (4 `dy` vectors + 16
//! accumulators in registers): on blocked data the 64 FMAs of a step are issued pixel by pixel
//! (16 independent accumulators between two uses of one), on plain data lane by lane, so each
//! lane's offset is read once per four pixels. Either way each accumulator takes its pixels in
//! order. The lane loops are unrolled by hand (`lanes!`): with constant indices the
//! accumulators stay in registers.

use std::arch::x86_64::{
    __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps,
};

use super::super::blocked::BLOCK;
use super::WgradJob;

/// Pixels per unrolled step.
const UNROLL: usize = 4;

/// Runs `$body` with `$j` bound to each lane index 0..16, as a constant.
macro_rules! lanes {
    ($j:ident => $body:block) => {
        lanes!(@ $j $body; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    };
    (@ $j:ident $body:block; $($n:literal)*) => {
        $({
            let $j: usize = $n;
            $body
        })*
    };
}

/// Runs one job (see [`WgradJob`]); `PLAIN` when `job.lanes` holds the lane offsets (else it
/// is null and lane `j` is at offset `j`). Only the first `L` lanes are computed (`L >=
/// job.used`); the others are stored as they were loaded (zero when `job.zero`).
///
/// # Safety
/// AVX-512F and FMA available; every pointer in `job` as [`WgradJob`] documents.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn wgrad<const PLAIN: bool, const L: usize>(job: &WgradJob) {
    // SAFETY: (the whole body) the caller guarantees the pointers of `job` cover every element
    // touched: 256 accumulator floats, 16 lane offsets when `PLAIN`, and for every image, row
    // and pixel the `dy` vector and the 16 lanes' inputs.
    unsafe {
        let mut acc = [_mm512_set1_ps(0.0); BLOCK];
        if !job.zero {
            lanes!(j => { acc[j] = _mm512_loadu_ps(job.acc.add(16 * j)); });
        }
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
                    if PLAIN {
                        lanes!(j => {
                            let lane = x.offset(offs[j]);
                            for (u, &dv) in d.iter().enumerate() {
                                let a = _mm512_set1_ps(*lane.add(u * xp));
                                acc[j] = _mm512_fmadd_ps(a, dv, acc[j]);
                            }
                        });
                    } else {
                        for (u, &dv) in d.iter().enumerate() {
                            let px = x.add(u * xp);
                            lanes!(j => {
                                if j < L {
                                    let a = _mm512_set1_ps(*px.add(j));
                                    acc[j] = _mm512_fmadd_ps(a, dv, acc[j]);
                                }
                            });
                        }
                    }
                    // Wrapping: past the row's last pixel these may leave the buffer (never
                    // read there); `add` would be out-of-bounds pointer arithmetic.
                    x = x.wrapping_add(UNROLL * xp);
                    dy = dy.wrapping_add(UNROLL * 16);
                    left -= UNROLL;
                }
                for _ in 0..left {
                    let dv = _mm512_loadu_ps(dy);
                    lanes!(j => {
                        if j < L {
                            let a = _mm512_set1_ps(*x.offset(offs[j]));
                            acc[j] = _mm512_fmadd_ps(a, dv, acc[j]);
                        }
                    });
                    x = x.wrapping_add(xp);
                    dy = dy.wrapping_add(16);
                }
            }
        }
        lanes!(j => { _mm512_storeu_ps(job.acc.add(16 * j), acc[j]); });
    }
}
