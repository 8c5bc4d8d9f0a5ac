//! The weight gradient of an `f32` convolution as a GEMM whose depth is the pixels, with no
//! channel padding: the path [`super::conv_backward`] takes for `dw` when [`prefers`] holds
//! (AVX-512, enough pixels, and channel counts that would leave the blocked kernel of
//! [`super::backward`] many padding lanes: LeNet's second layer, 20 → 50 channels) and the
//! layer is not a 5×5 one Winograd takes ([`super::backward::winograd_5x5_pays`], LeNet's
//! second layer included: about 0.3 times the time measured below).
//!
//! `dw[f][k] = Σ_n Σ_p dy[n][f][p] · col[n][k][p]` with `k = (c, ky, kx)` and `col` the
//! im2col matrix. The reduction index `(n, p)` (image, output pixel) is walked in chunks of
//! consecutive pixels (across image boundaries) whose head gradient, all filters, fits in
//! about half of L2 (`CHUNK_BYTES`). Per chunk a thread copies that head gradient into a
//! panel (`F × L` floats, the filters rounded up to `MR` with zero rows, `L` the chunk's
//! pixels rounded up to 16 with zeros), then for each of its blocks of `NR` weight columns
//! packs those `NR` rows of `col` for the chunk (`NR × L`: for LeNet's 8-pixel rows, one masked
//! load and one 8-float store per output row) and runs the micro-kernel over every block of
//! `MR` filters. The micro-kernel (`avx512`) keeps `MR × NR = 25` accumulators, each a vector
//! of 16 pixel lanes of one `dw` element: per 16 pixels it loads `MR` vectors of the head
//! gradient and `NR` of `col` and issues 25 FMAs (no broadcasts, no padding lanes). At the
//! chunk's end the 25 vectors are summed across their lanes (one fixed tree of permutes and
//! adds) and added to `dw`.
//!
//! Nothing is padded to 16 channels, so LeNet's layer does exactly its 204.8 MFLOP (the
//! blocked kernel does 1.3× that: 50 filters in 64 lanes). The price is bandwidth: 10 vector
//! loads per 25 FMAs, most from L2, where the blocked kernel broadcasts one input per FMA.
//! Measured on one Zen 4 core of a loaded 2-vCPU machine (medians of 41 alternating runs,
//! weight gradient alone, conversions and packing included; see [`prefers`] for more):
//! LeNet's second layer at batch 64, 2.28–2.44 ms here against 2.44–2.77 ms blocked
//! (84–90 against 74–84 GF/s, 0.88–0.97 of its time; with the fused data gradient, 4.44–4.64
//! against 4.62–5.10 ms). The micro-kernel alone runs at about 100 GF/s (10 loads per 25
//! FMAs, mostly from L2), and the packing of `col` costs about 0.35 ms: short of the 2.0 ms
//! this layer would take at 100 GF/s overall. The lane sums cost about 100 cycles per tile
//! and chunk, so short reductions lose: 192 pixels (3 images) 0.16 against 0.13 ms blocked.
//! Output rows wider than 16 pixels take a slower, per-segment packing; ResNet's 3×3 layers
//! (64 and 128 channels, 28×28 and 14×14 at batch 16) run 2.3–2.5× slower here than on the
//! blocked/Winograd path, which [`prefers`] keeps them on.
//!
//! The weight columns' blocks are split statically over the threads; each `dw` element is
//! computed by one thread, the chunks in order, each chunk's pixels in order within a lane
//! and the lanes summed by the same tree: the result does not depend on the thread count.
//! It differs from the im2col path's in the last bits (its GEMM sums in another order).

#[cfg(target_arch = "x86_64")]
mod avx512;

use super::{ConvError, ConvGeom, Sizes};
use crate::cpu::isa::Isa;
use crate::cpu::parallel;

/// Filters per register tile.
pub(crate) const MR: usize = 5;
/// Weight columns (`(c, ky, kx)` triples) per register tile.
pub(crate) const NR: usize = 5;
/// Pixel lanes per vector.
const LANES: usize = 16;
/// Bytes of the head-gradient panel of one chunk, at most (about; at least 16 pixels): it
/// is read once per block of weight columns, so it should stay in L2 (1 MiB on Zen 4).
/// LeNet's layer measured the same (within noise) from 256 KiB to 1 MiB, slower at 160 KiB
/// (more lane sums).
const CHUNK_BYTES: usize = 512 << 10;
/// Multiply-adds per thread, at least, before the weight columns are split over threads.
const MIN_WORK_PER_THREAD: u128 = 1 << 21;
/// Pixels over the batch (`N·oh·ow`) below which [`prefers`] leaves a layer to the other
/// kernels: the lane sums at the end of each tile's reduction cost as much as about 100
/// pixels' FMAs. Measured (LeNet's second layer, one thread): 0.16 against 0.13 ms blocked at
/// 192 pixels, 0.32 against 0.31 ms at 512, 2.3 against 2.5 ms at 4096.
pub const MIN_PIXELS: usize = 1024;
/// The blocked weight gradient's fraction of real lanes ([`weight_gradient_efficiency`])
/// below which [`prefers`] takes a layer from it.
///
/// [`weight_gradient_efficiency`]: super::backward::weight_gradient_efficiency
pub const BLOCKED_EFFICIENCY: f64 = 0.9;

/// Whether [`weight_gradient_with`] computes `geom`'s weight gradient with `isa`: AVX-512
/// (available), a valid 2-D (or 1-D) geometry with one group.
pub fn serves(isa: Isa, geom: &ConvGeom) -> bool {
    cfg!(target_arch = "x86_64")
        && isa == Isa::Avx512
        && isa.is_available()
        && geom.sizes().is_ok()
        && geom.groups == 1
        && geom.kernel[0] == 1
        && geom.input[0] == 1
        && geom.stride[0] == 1
        && geom.pad[0] == 0
}

/// Whether [`super::conv_backward`] computes `geom`'s weight gradient here
/// ([`weight_gradient_with`] with [`Isa::current`]): [`serves`] with it, a kernel of more than one
/// tap, a unit stride along the width (the vector packing), at least [`MIN_PIXELS`] pixels, and a
/// blocked weight gradient ([`super::backward`]) that would waste lanes (fewer than
/// [`BLOCKED_EFFICIENCY`] of them real): layers whose channel counts are multiples of 16
/// (ResNet's) stay there. Measured (one Zen 4 thread, weight gradient alone, medians of 31
/// alternating runs; blocked / im2col / here): LeNet's second layer at batch 64, 2.44 / – /
/// 2.28–2.37 ms; its first layer (1 → 20 channels, 28×28) at batch 64, 1.29 / 1.07 / 0.83 ms
/// (taken by [`super::few_channels`] first when `dx` is not wanted); 3 → 64 channels 3×3 on
/// 32×32 at batch 16, 1.09–1.19 / 1.52 / 0.98–1.08 ms; 20 → 50 5×5 pad 2 on 14×14 at batch 16,
/// 1.98 / – / 1.81 ms; 50 → 20 3×3 on 7×7 at batch 64, 0.93 / – / 0.85 ms.
pub fn prefers(geom: &ConvGeom) -> bool {
    serves(Isa::current(), geom)
        && geom.kernel[1] * geom.kernel[2] > 1
        && geom.stride[2] == 1
        && geom
            .output()
            .is_ok_and(|o| geom.batch * o[1] * o[2] >= MIN_PIXELS)
        && super::backward::weight_gradient_efficiency(geom) < BLOCKED_EFFICIENCY
}

/// The weight gradient `dw` (`F × C × kh × kw`, overwritten) of the convolution `geom` from
/// the head gradient `dy` (`N × F × oh × ow`) and the input `x` (`N × C × h × w`), on up to
/// `threads` threads, when [`serves`] holds for `isa` and `geom`; returns whether it ran
/// (`Ok(false)`: nothing written). The result does not depend on `threads`.
///
/// # Errors
/// [`ConvError::Length`] for a buffer of the wrong length (when served; nothing written).
pub fn weight_gradient_with(
    isa: Isa,
    geom: &ConvGeom,
    dy: &[f32],
    x: &[f32],
    dw: &mut [f32],
    threads: usize,
) -> Result<bool, ConvError> {
    if !serves(isa, geom) {
        return Ok(false);
    }
    let s = geom.sizes()?;
    geom.check_weight_gradient(x.len(), dw.len(), dy.len())?;
    let pixels = geom.batch * s.out_spatial;
    if pixels == 0 || s.k == 0 || geom.filters == 0 {
        dw.fill(0.0);
        return Ok(true);
    }
    let plan = Plan::new(geom, s);
    let work = pixels as u128 * geom.filters as u128 * s.k as u128;
    let by_work = (work / MIN_WORK_PER_THREAD).min(usize::MAX as u128) as usize;
    let parts = threads.min(plan.kblocks).min(by_work).max(1);
    let ranges = parallel::split_range(plan.kblocks, parts, 1);
    let shared = parallel::SharedMut::new(dw.as_mut_ptr());
    parallel::for_each_part(ranges.len(), |part| {
        SCRATCH.with_borrow_mut(|scratch| {
            // SAFETY: `dw` holds `F·K` floats (checked above) and outlives the call; part
            // `part` writes only the columns of its blocks, `ranges` being disjoint.
            unsafe { plan.run(dy, x, scratch, ranges[part].clone(), shared.get()) }
        });
    });
    Ok(true)
}

thread_local! {
    /// Per thread: the head-gradient panel and the `col` panel of one chunk.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A checked geometry and its chunking.
struct Plan<'g> {
    geom: &'g ConvGeom,
    s: Sizes,
    /// Blocks of [`NR`] weight columns (the last may be partial).
    kblocks: usize,
    /// Filters rounded up to [`MR`].
    f_pad: usize,
    /// Pixels (over the whole batch) per chunk, a multiple of 16 (the last chunk may have
    /// fewer).
    chunk: usize,
}

impl<'g> Plan<'g> {
    /// The plan of a checked, served geometry.
    fn new(geom: &'g ConvGeom, s: Sizes) -> Plan<'g> {
        let f_pad = geom.filters.next_multiple_of(MR);
        let pixels = geom.batch * s.out_spatial;
        let most = (CHUNK_BYTES / (4 * f_pad)).max(LANES);
        let count = pixels.div_ceil(most).max(1);
        let chunk = pixels.div_ceil(count).next_multiple_of(LANES);
        Plan {
            geom,
            s,
            kblocks: s.k.div_ceil(NR),
            f_pad,
            chunk,
        }
    }

    /// The panels' row stride (floats): a chunk's pixels and a gap of 16 floats for the
    /// stores that run past a row's end (a multiple of 16).
    fn stride(&self) -> usize {
        self.chunk + LANES
    }

    /// Computes the columns of blocks `blocks` of `dw` (at `dw`, `F·K` floats).
    ///
    /// # Safety
    /// AVX-512F and FMA available ([`serves`]); `dy` and `x` of the geometry's lengths; `dw`
    /// writable for `F·K` floats, no other thread touching these blocks' columns.
    unsafe fn run(
        &self,
        dy: &[f32],
        x: &[f32],
        scratch: &mut Vec<f32>,
        blocks: std::ops::Range<usize>,
        dw: *mut f32,
    ) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: forwarded (the caller's contract).
        unsafe {
            avx512::run(self, dy, x, scratch, blocks, dw);
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (dy, x, scratch, blocks, dw);
        }
    }
}

#[cfg(test)]
mod tests;
