//! One output tile of the direct convolution: the dispatch from the tile's size to the
//! instruction set's micro-kernel, and the portable loop.

use super::BLOCK;
#[cfg(target_arch = "x86_64")]
use super::{avx2, avx512};
use crate::cpu::isa::Isa;

/// One kernel tap that lies inside the input for a given output row: the offset of its first
/// input value from the tile's input pointer, and of its weights from the block's weights.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tap {
    pub(crate) input: isize,
    pub(crate) weight: usize,
}

/// Everything one micro-kernel call needs, as raw pointers (the driver derives them from
/// checked slices).
///
/// For `icb < blocks`, tap `t`, channel `ic < channels` and pixel `r < rows`, the kernel reads
/// the input at `inp + icb·in_block + t.input + ic·in_ic + r·pixel_step` and the weights at
/// `w + icb·w_block + t.weight + ic·16·NV .. + 16·NV`; it writes (and with `accumulate` first
/// reads) the output at `out + v·out_block + r·16 .. + 16` for `v < nv_store`, reads the bias
/// at `bias .. + 16·NV` unless null (or `accumulate`), and the residual at
/// `residual + v·res_block + r·16 .. + 16` unless null.
#[derive(Debug)]
pub(crate) struct TileJob {
    pub(crate) inp: *const f32,
    pub(crate) in_block: usize,
    pub(crate) in_ic: usize,
    pub(crate) pixel_step: usize,
    pub(crate) channels: usize,
    pub(crate) blocks: usize,
    pub(crate) w: *const f32,
    pub(crate) w_block: usize,
    pub(crate) out: *mut f32,
    pub(crate) out_block: usize,
    pub(crate) nv_store: usize,
    pub(crate) rows: usize,
    pub(crate) bias: *const f32,
    pub(crate) residual: *const f32,
    pub(crate) res_block: usize,
    pub(crate) accumulate: bool,
    pub(crate) relu: bool,
}

/// Runs one tile with the best kernel for `isa`.
///
/// # Safety
/// As [`TileJob`]; `job.rows <= max_tile_pixels(isa)` and `job.nv_store <= nv`, `nv` 1 or 2;
/// `isa` available.
pub(crate) unsafe fn run_tile(isa: Isa, nv: usize, job: &TileJob, taps: &[Tap]) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx2 {
        macro_rules! dispatch {
            ($y:literal, $px:literal) => {{
                let ws = nv * BLOCK;
                // Slices of `8·Y` channels, only those in stored blocks.
                for c0 in (0..job.nv_store * BLOCK).step_by(8 * $y) {
                    match job.rows {
                        1 => avx2::tile::<1, $y, $px>(job, taps, ws, c0),
                        2 => avx2::tile::<2, $y, $px>(job, taps, ws, c0),
                        3 => avx2::tile::<3, $y, $px>(job, taps, ws, c0),
                        4 => avx2::tile::<4, $y, $px>(job, taps, ws, c0),
                        5 => avx2::tile::<5, $y, $px>(job, taps, ws, c0),
                        _ => avx2::tile::<6, $y, $px>(job, taps, ws, c0),
                    }
                }
            }};
        }
        // SAFETY: AVX2 and FMA are available (`isa` was checked by the caller), the job is as
        // the kernel requires, and each slice `c0 .. c0 + 16` lies in a stored block of the
        // group (`c0 < nv_store · 16 <= nv · 16 = ws`).
        unsafe {
            match job.pixel_step {
                16 => dispatch!(2, 16),
                32 => dispatch!(2, 32),
                1 => dispatch!(2, 1),
                2 => dispatch!(2, 2),
                _ => tile_scalar(nv, job, taps),
            }
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 {
        macro_rules! dispatch {
            ($nv:literal, $px:literal) => {
                match job.rows {
                    1 => avx512::tile::<1, $nv, $px>(job, taps),
                    2 => avx512::tile::<2, $nv, $px>(job, taps),
                    3 => avx512::tile::<3, $nv, $px>(job, taps),
                    4 => avx512::tile::<4, $nv, $px>(job, taps),
                    5 => avx512::tile::<5, $nv, $px>(job, taps),
                    6 => avx512::tile::<6, $nv, $px>(job, taps),
                    7 => avx512::tile::<7, $nv, $px>(job, taps),
                    8 => avx512::tile::<8, $nv, $px>(job, taps),
                    9 => avx512::tile::<9, $nv, $px>(job, taps),
                    10 => avx512::tile::<10, $nv, $px>(job, taps),
                    11 => avx512::tile::<11, $nv, $px>(job, taps),
                    12 => avx512::tile::<12, $nv, $px>(job, taps),
                    13 => avx512::tile::<13, $nv, $px>(job, taps),
                    _ => avx512::tile::<14, $nv, $px>(job, taps),
                }
            };
        }
        // SAFETY: AVX-512 is available (`isa` was checked by the caller) and the job is as the
        // kernel requires.
        unsafe {
            match (nv, job.pixel_step) {
                (2, 16) => dispatch!(2, 16),
                (2, 32) => dispatch!(2, 32),
                (2, 1) => dispatch!(2, 1),
                (2, 2) => dispatch!(2, 2),
                (1, 16) => dispatch!(1, 16),
                (1, 32) => dispatch!(1, 32),
                (1, 1) => dispatch!(1, 1),
                (1, 2) => dispatch!(1, 2),
                _ => tile_scalar(nv, job, taps),
            }
        }
        return;
    }
    let _ = isa;
    // SAFETY: forwarded.
    unsafe { tile_scalar(nv, job, taps) }
}

/// The portable tile: the same arithmetic as the vector kernels, one lane at a time (each
/// output is the same chain of multiply-adds in the same order, so results agree to rounding
/// of fused versus separate multiply-add).
///
/// # Safety
/// As [`TileJob`].
unsafe fn tile_scalar(nv: usize, job: &TileJob, taps: &[Tap]) {
    let lanes = nv * BLOCK;
    let mut acc = vec![0.0f32; job.rows * lanes];
    // SAFETY: (the whole body) the pointers cover what `TileJob` documents.
    unsafe {
        for r in 0..job.rows {
            for j in 0..lanes {
                let v = j / BLOCK;
                acc[r * lanes + j] = if job.accumulate {
                    if v < job.nv_store {
                        *job.out.add(v * job.out_block + r * BLOCK + j % BLOCK)
                    } else {
                        0.0
                    }
                } else if job.bias.is_null() {
                    0.0
                } else {
                    *job.bias.add(j)
                };
            }
        }
        for icb in 0..job.blocks {
            let ib = job.inp.add(icb * job.in_block);
            let wb = job.w.add(icb * job.w_block);
            for tap in taps {
                let ip = ib.offset(tap.input);
                let wp = wb.add(tap.weight);
                for ic in 0..job.channels {
                    let wrow = wp.add(ic * lanes);
                    for r in 0..job.rows {
                        let a = *ip.add(ic * job.in_ic + r * job.pixel_step);
                        for j in 0..lanes {
                            let x = &mut acc[r * lanes + j];
                            *x = a.mul_add(*wrow.add(j), *x);
                        }
                    }
                }
            }
        }
        for r in 0..job.rows {
            for j in 0..job.nv_store * BLOCK {
                let (v, lane) = (j / BLOCK, j % BLOCK);
                let mut y = acc[r * lanes + j];
                if !job.residual.is_null() {
                    y += *job.residual.add(v * job.res_block + r * BLOCK + lane);
                }
                if job.relu && y <= 0.0 {
                    y = 0.0;
                }
                *job.out.add(v * job.out_block + r * BLOCK + lane) = y;
            }
        }
    }
}
