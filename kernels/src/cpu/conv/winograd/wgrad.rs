//! The weight gradient of a 3×3 or 5×5, stride-1 convolution by Winograd's algorithm, on the
//! channel-blocked layout ([`super::super::blocked`]), `f32`.
//!
//! The forward pass computes each output tile as `Y = Aᵀ [U ⊙ V] A` with `U = G g Gᵀ` (the
//! transformed weights) and `V = Bᵀ d B` (the transformed input tile), summed over input
//! channels (see [`super`]). `Y` is linear in `U`, so the weight gradient is
//! `dg = Gᵀ dU G` with `dU[ξ][oc][ic] = Σ_tiles M[ξ][tile][oc] · V[ξ][tile][ic]` and
//! `M = A dY Aᵀ` (`dY`: the tile's `m × m` head gradient, zero outside the output): per
//! transform position `ξ` (`α²` of them) one matrix product contracted over the tiles of every
//! image, `α²` multiplications per tile and channel pair against `r²·m²` for the direct kernel
//! (3×3: `F(2×2)` 16 against 36, `F(4×4)` 36 against 144; 5×5: `F(2×2)` 36 against 100,
//! `F(4×4)` 64 against 400). The transforms are the forward pass's (`B`, `G`) and the
//! transposes of its output transform (`A`), for the same interpolation points.
//!
//! A call walks the tiles in blocks of 2 MB of transforms (at least 32 tiles); per block it
//!
//! 1. transforms the input (`V`, the forward pass's input transform, padding and the overhang
//!    of the bottom and right tiles read as zeros) and the head gradient (`M`), both laid out
//!    as `[ξ][channel block][tile][16]`, the threads splitting the block's tiles;
//! 2. computes every `16 × 16` tile of `dU[ξ]` (position × output block × input block) from
//!    zero over the block's tiles with the direct weight gradient's micro-kernel
//!    ([`super::super::backward`]; the block's tiles are its pixels) and adds it to the sum of
//!    the blocks before (blocked summation: a sum of a few hundred products per block, then
//!    one addition per block), the threads splitting the `dU` tiles;
//!
//! then transforms `dU` back, `dw = Gᵀ dU G` for every channel pair. A 5×5 layer takes
//! blocks of 1 MB (at least 8 tiles). When the transforms of every tile of a 3×3 layer fit in
//! 8 MB (small maps: ResNet's last two stages) one block takes them all, and each channel block pair's `dU` tiles (every position; runs of
//! 256 tiles summed from zero, then added) are summed in a local buffer and
//! transformed into `dw` at once: `dU` (up to `α²·C·F` floats) is never stored. The products
//! skip the padding lanes of the last input channel block (to a multiple of 4: LeNet's 20
//! channels do 20 lanes' multiply-adds, not 32). Every `dU` element is the same sum in
//! the same order whatever the split, and the transforms are element-wise, so the result does
//! not depend on the thread count (nor on the instruction set: the portable code fuses the
//! same multiply-adds as the AVX2 and AVX-512 code).
//!
//! Accuracy: max |error| / max |dw| against an `f64` reference (the `_accuracy` test, inputs
//! uniform in [−1, 1)), ResNet-18's 3×3 stride-1 layers:
//!
//! | layer (N, C = F, map)   | direct  | `F(2×2)` | `F(4×4)` |
//! |-------------------------|---------|----------|----------|
//! | 16, 64, 28×28           | 3.7e-6  | 5.9e-7   | 1.8e-6   |
//! | 16, 128, 14×14          | 2.1e-6  | 3.8e-7   | 1.3e-6   |
//! | 16, 256, 7×7            | 1.1e-6  | 7.1e-7   | 2.3e-6   |
//! | 16, 512, 4×4            | 7.3e-7  | 4.2e-7   | 1.4e-6   |
//! | 32, 64, 56×56           | 1.2e-5  | 6.2e-7   | 2.2e-6   |
//! | 32, 128, 28×28          | 7.2e-6  | 5.0e-7   | 1.6e-6   |
//! | 32, 256, 14×14          | 3.5e-6  | 4.0e-7   | 1.5e-6   |
//! | 32, 512, 7×7            | 1.4e-6  | 2.4e-7   | 1.1e-6   |
//!
//! (The direct kernel chains each element's `N·oh·ow` products; the blocked sums here are
//! shorter. `F(4×4)` stays within a few `1e-6`, as its forward pass does.)
//!
//! Speed (Zen 4, one thread, W9's layers at batch 16): `F(4×4)` takes 0.4 to 0.6 times the
//! direct kernel's time; the transforms cost about as much as the products. The driver
//! ([`plan`]) takes the layers where that holds.
//!
//! **5×5.** `F(4×4, 5×5)` (8×8 tiles, the forward pass's `F4R5`) on LeNet's second
//! layer (batch 64, 20 → 50 channels, 12×12 → 8×8; 4 tiles per image) has an error of 5.4e-6
//! of `max |dw|` (`F(2×2, 5×5)`: 2.6e-6; the other shapes of the tests: 2.5e-6 to 4.9e-6 and
//! 1.0e-6 to 3.2e-6). Measured on one Zen 4 core (2-vCPU machine, other work paused; medians of
//! 150 calls, processes alternating): 0.74 to 1.04 ms (the transforms about 40%), 0.85 to 0.92
//! ms with both conversions to the blocked layout (the head gradient's is shared with the data
//! gradient in training), against 2.15 to 2.33 ms for the implicit GEMM. On a loaded machine
//! (other builds running; conversions included, against the implicit GEMM / the direct
//! kernel): batch 16, 0.22–0.26 against 0.54–0.58 / 0.61–0.63 ms; 20 → 50 channels, 14×14,
//! padding 2, batch 16, 0.9–1.5 against 1.6 / 2.3–2.5 ms; 32 → 32, 16×16, padding 2, batch 8,
//! 0.28–0.30 against 1.2 / 0.84–0.86 ms; 16 → 16, 12×12, batch 8, 0.034 against 0.11 / 0.062
//! ms; 8 → 32, 28×28, padding 2, batch 16, 0.7–1.1 against 2.8–6.7 / 1.6–2.0 ms; but 3 → 32,
//! 32×32, padding 2, batch 16, 0.9–1.4 against 1.1–1.2 / 1.0–1.1 ms. [`plan`] takes 5×5
//! layers with at least 8 channels each side and 512 output pixels. `F(2×2, 5×5)` does 2.25
//! times the products (16 tiles per image on LeNet's layer) and is not planned.

use std::ops::Range;

use super::super::backward::wgrad_rows;
use super::super::blocked::{BLOCK, Blocked};
use super::super::direct::{InputStrides, Shared};
use super::super::{ConvError, ConvGeom, check_len};
use super::tiles::Forward;
use super::{Ctx, F2, F2R5, F4, F4R5, Variant, WinogradConv, odd_lines};
use crate::cpu::isa::Isa;
use crate::cpu::parallel::{self, SharedMut};

mod kernels;

use kernels::{GradCtx, GradTransform};

/// Transformed inputs and head gradients of one block of tiles (bytes): the L2 of a core.
const SCRATCH_BYTES: usize = 2 << 20;
/// Tiles per block, at least: each `dU` tile is loaded, added to and stored once per block,
/// which then costs little against the block's `16 · tiles` multiply-adds.
const MIN_BLOCK_TILES: usize = 32;
/// [`SCRATCH_BYTES`] for 5×5 kernels: the L2 of a Zen 4 core (LeNet's second layer: blocks of
/// about 40 tiles; 0.5 and 2 MB measured slower).
const SCRATCH_BYTES_5X5: usize = 1 << 20;
/// [`MIN_BLOCK_TILES`] for 5×5 kernels (24.6 KB of transforms per tile on LeNet's layer).
const MIN_BLOCK_TILES_5X5: usize = 8;
/// Transforms of all tiles (bytes) up to which one block takes them all.
const FUSED_BYTES: usize = 8 << 20;
/// Tiles summed from zero in the fused path before the run is added to the sum so far.
const SUM_TILES: usize = 256;
/// Multiply-adds (of the matrix products) per thread, at least, before a call is split.
const MIN_WORK_PER_THREAD: usize = 1 << 20;
/// Floats of one `dU` tile: 16 input lanes × 16 output channels.
const TILE: usize = BLOCK * BLOCK;

/// Output pixels (images × rows × columns) from which [`plan`] takes a layer.
const MIN_PIXELS: usize = 256;
/// Channels (input and output) from which [`plan`] takes a layer: with fewer, the transforms
/// (per tile and channel) weigh more against the products (per tile and channel pair); 64 is
/// the least measured.
const MIN_CHANNELS: usize = 64;
/// Output pixels (images × rows × columns) from which [`plan`] takes a 5×5 layer (512, 16 →
/// 16 channels on 8×8: 0.034 ms against 0.062 direct, 0.11 implicit; the least measured).
const MIN_PIXELS_5X5: usize = 512;
/// Channels (input and output) from which [`plan`] takes a 5×5 layer: 8 → 32 channels on
/// 28×28 run 1.5 to 2.5 times faster than direct, but 3 → 32 no faster.
const MIN_CHANNELS_5X5: usize = 8;
/// The most multiplications [`plan`] accepts, as a fraction of the direct kernel's: the
/// transforms cost about as much as the products again (ResNet-18's layers, at 0.25 to 0.31,
/// run 1.6 to 2 times faster than direct).
const MAX_PRODUCT_RATIO: f64 = 0.4;

/// A planned Winograd weight gradient: the geometry, the variant and the tiling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WinogradWgrad {
    geom: ConvGeom,
    variant: Variant,
    /// The kernel's side `r` (3 or 5).
    kernel: usize,
    out: [usize; 2],
    /// Tiles down and across one image.
    tiles: [usize; 2],
    ic_blocks: usize,
    oc_blocks: usize,
}

/// The Winograd weight-gradient plan for `geom` when it is served, allowed
/// ([`super::enabled`], the `MXR_WINOGRAD` switch) and pays: a 5×5 layer as `plan_5x5`
/// says; a 3×3 layer against the direct kernel: outputs of 4×4 and more, at least 256 output
/// pixels and 64 channels each side, and at most 0.4 times the direct kernel's
/// multiplications (tiles overhanging a small map waste theirs); with the variant
/// [`WinogradWgrad::choose`] picks.
pub fn plan(geom: &ConvGeom) -> Option<WinogradWgrad> {
    if geom.kernel[1] == 5 {
        return plan_5x5(geom);
    }
    let out = geom.output().ok()?;
    let pays = geom.kernel[1] == 3
        && out[1] >= 4
        && out[2] >= 4
        && geom.batch * out[1] * out[2] >= MIN_PIXELS
        && geom.channels >= MIN_CHANNELS
        && geom.filters >= MIN_CHANNELS;
    if !pays || !super::enabled() {
        return None;
    }
    let plan = WinogradWgrad::with_variant(geom, WinogradWgrad::choose(geom)).ok()??;
    let direct = (out[1] * out[2] * 9) as f64;
    (plan.products_per_image() as f64 <= MAX_PRODUCT_RATIO * direct).then_some(plan)
}

/// The plan of a 5×5 layer: `F(4×4, 5×5)` where it is served and allowed, with outputs of
/// 4×4 and more, at least [`MIN_PIXELS_5X5`] output pixels and [`MIN_CHANNELS_5X5`] channels
/// each side. It replaces the implicit GEMM ([`super::super::implicit_wgrad`]) there; see the
/// module docs for the measurements.
fn plan_5x5(geom: &ConvGeom) -> Option<WinogradWgrad> {
    let out = geom.output().ok()?;
    let pays = out[1] >= 4
        && out[2] >= 4
        && geom.batch * out[1] * out[2] >= MIN_PIXELS_5X5
        && geom.channels >= MIN_CHANNELS_5X5
        && geom.filters >= MIN_CHANNELS_5X5;
    if !pays || !super::enabled() {
        return None;
    }
    WinogradWgrad::with_variant(geom, Variant::F4x4).ok()?
}

impl WinogradWgrad {
    /// The variant for `geom`: the one with fewer multiplications per image and channel pair
    /// (tiles · `α²`), `F(2×2)` on a tie (or when `geom` is not served). Measured on
    /// ResNet-18's training layers at batch 16 (Zen 4, one thread): `F(4×4)` takes 0.65 to
    /// 0.9 times `F(2×2)`'s time on every one, 4×4 maps included, and its error (a few `1e-6`
    /// of `max |dw|`) stays below the direct kernel's.
    pub fn choose(geom: &ConvGeom) -> Variant {
        let products = |v| {
            WinogradWgrad::with_variant(geom, v)
                .ok()
                .flatten()
                .map(|p| p.products_per_image())
        };
        match (products(Variant::F2x2), products(Variant::F4x4)) {
            (Some(f2), Some(f4)) if f4 < f2 => Variant::F4x4,
            _ => Variant::F2x2,
        }
    }

    /// Multiplications per image and channel pair: tiles · `α²`.
    fn products_per_image(&self) -> usize {
        self.tiles[0] * self.tiles[1] * self.positions()
    }

    /// Transform positions `α²`, `α = m + r − 1`.
    fn positions(&self) -> usize {
        let alpha = self.variant.tile() + self.kernel - 1;
        alpha * alpha
    }

    /// Plans the weight gradient of `geom` with `variant`; `None` when Winograd does not serve
    /// the convolution (as [`WinogradConv::with_variant`]: 3×3, stride 1, dilation 1, one
    /// group, padding 0 to 2), an error when the geometry is invalid.
    ///
    /// # Errors
    /// [`ConvError`] for an invalid geometry.
    pub fn with_variant(
        geom: &ConvGeom,
        variant: Variant,
    ) -> Result<Option<WinogradWgrad>, ConvError> {
        let Some(fwd) = WinogradConv::with_kernel_variant(geom, variant)? else {
            return Ok(None);
        };
        Ok(Some(WinogradWgrad {
            geom: *geom,
            variant,
            kernel: fwd.kernel,
            out: fwd.out,
            tiles: fwd.tiles,
            ic_blocks: fwd.ic_blocks,
            oc_blocks: geom.filters.div_ceil(BLOCK),
        }))
    }

    /// The geometry.
    pub fn geom(&self) -> &ConvGeom {
        &self.geom
    }

    /// The variant.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The kernel's side `r` (3 or 5).
    pub fn kernel(&self) -> usize {
        self.kernel
    }

    /// Tiles of all images.
    fn total_tiles(&self) -> usize {
        self.geom.batch * self.tiles[0] * self.tiles[1]
    }

    /// Tiles per block: [`SCRATCH_BYTES`] of transforms, at least [`MIN_BLOCK_TILES`].
    fn block_tiles(&self) -> usize {
        let per_tile = self.positions()
            * BLOCK
            * (self.ic_blocks + self.oc_blocks)
            * std::mem::size_of::<f32>();
        let (bytes, least) = if self.kernel == 5 {
            (SCRATCH_BYTES_5X5, MIN_BLOCK_TILES_5X5)
        } else {
            (SCRATCH_BYTES, MIN_BLOCK_TILES)
        };
        (bytes / per_tile).max(least).min(self.total_tiles()).max(1)
    }

    /// The weight gradient `dw` (`F × C × r × r`, overwritten) from the input `x` (blocked in
    /// `x_layout`, any halo) and the head gradient `dy` (blocked in `dy_layout`, any halo),
    /// with `isa` (the portable code if this CPU lacks it) on up to `threads` threads. The
    /// result does not depend on `threads`, nor on `isa`.
    ///
    /// # Errors
    /// [`ConvError`] when a layout does not match the geometry or a buffer its layout.
    #[allow(clippy::too_many_arguments, reason = "the gradient's operands")]
    pub fn run(
        &self,
        isa: Isa,
        x: &[f32],
        x_layout: &Blocked,
        dy: &[f32],
        dy_layout: &Blocked,
        dw: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        let g = &self.geom;
        let [_, ih, iw] = g.input;
        let [oh, ow] = self.out;
        let want = Blocked::new(g.batch, g.channels, ih, iw, x_layout.halo);
        if *x_layout != want {
            return Err(ConvError::Geometry(format!(
                "Winograd weight gradient: input layout {x_layout:?}, the geometry needs {want:?}"
            )));
        }
        let want = Blocked::new(g.batch, g.filters, oh, ow, dy_layout.halo);
        if *dy_layout != want {
            return Err(ConvError::Geometry(format!(
                "Winograd weight gradient: head gradient layout {dy_layout:?}, the geometry \
                 needs {want:?}"
            )));
        }
        check_len("data", x.len(), x_layout.len())?;
        check_len("output gradient", dy.len(), dy_layout.len())?;
        check_len("weight gradient", dw.len(), g.weight_len())?;
        if self.total_tiles() == 0 {
            dw.fill(0.0);
            return Ok(());
        }
        let isa = if isa.is_available() { isa } else { Isa::Scalar };
        let ctx = Ctx {
            isa,
            input: x.as_ptr(),
            s: InputStrides::blocked(x_layout),
            in_size: [ih, iw],
            pad: [g.pad[1], g.pad[2]],
            out_size: self.out,
            tiles: self.tiles,
            ic_blocks: self.ic_blocks,
            nv: 1,
            out_blocks: self.oc_blocks,
            packed: std::ptr::null(),
            w_position: 0,
            bias: std::ptr::null(),
            residual: std::ptr::null(),
            res_layout: *dy_layout,
            relu: false,
            out: Shared {
                out: std::ptr::null_mut(),
            },
            out_layout: *dy_layout,
        };
        let gctx = GradCtx {
            isa,
            dy: dy.as_ptr(),
            layout: *dy_layout,
            out: self.out,
            tiles: self.tiles,
            ic_blocks: self.ic_blocks,
            oc_blocks: self.oc_blocks,
            channels: g.channels,
            filters: g.filters,
        };
        // SAFETY: `x` and `dy` were checked against their layouts and the layouts against the
        // geometry, which the plan was made for; `dw` holds the weight's floats.
        unsafe {
            match (self.kernel, self.variant) {
                (3, Variant::F2x2) => self.run_k::<F2, 4, 2, 3>(&ctx, &gctx, dw, threads),
                (3, Variant::F4x4) => self.run_k::<F4, 6, 4, 3>(&ctx, &gctx, dw, threads),
                (_, Variant::F2x2) => self.run_k::<F2R5, 6, 2, 5>(&ctx, &gctx, dw, threads),
                (_, Variant::F4x4) => self.run_k::<F4R5, 8, 4, 5>(&ctx, &gctx, dw, threads),
            }
        }
        Ok(())
    }

    /// [`WinogradWgrad::run`] for `F(M×M, R×R)`, `A = M + R − 1`, transforms `K`.
    ///
    /// # Safety
    /// The contexts' buffers were checked against the plan; `dw` holds `F·C·R²` floats.
    unsafe fn run_k<K: GradTransform<A, M, R>, const A: usize, const M: usize, const R: usize>(
        &self,
        ctx: &Ctx,
        gctx: &GradCtx,
        dw: &mut [f32],
        threads: usize,
    ) {
        let t = A * A;
        let (icb, ocb) = (self.ic_blocks, self.oc_blocks);
        let total = self.total_tiles();
        let fused = self.fused();
        let block_tiles = if fused { total } else { self.block_tiles() };
        let blocks = parallel::split_range(total, total.div_ceil(block_tiles), 1);
        let tb = blocks.iter().map(Range::len).max().unwrap_or(0);
        // Floats per position: an odd number of cache lines (see the forward pass).
        let (v_xi, m_xi) = (odd_lines(icb * tb), odd_lines(ocb * tb));
        let (items, pairs) = (t * ocb * icb, ocb * icb);
        let du_len = if fused { 0 } else { items * TILE };
        let work = total * items * TILE;
        let parts = threads.min(work / MIN_WORK_PER_THREAD).max(1);
        let isa = ctx.isa;
        let out = SharedMut::new(dw.as_mut_ptr());
        SCRATCH.with_borrow_mut(|scratch| {
            let len = t * (v_xi + m_xi) + du_len;
            if scratch.len() < len + BLOCK {
                scratch.resize(len + BLOCK, 0.0);
            }
            let off = scratch.as_ptr().align_offset(64).min(BLOCK);
            let base = scratch[off..].as_mut_ptr();
            // SAFETY: the scratch holds `len` floats from `base`: `V`, `M`, then `dU`.
            let (v, m, du) = unsafe { (base, base.add(t * v_xi), base.add(t * (v_xi + m_xi))) };
            let (v, m, du) = (SharedMut::new(v), SharedMut::new(m), SharedMut::new(du));
            for (b, block) in blocks.iter().enumerate() {
                let nt = block.len();
                let strides = |xi_len: usize| [xi_len, nt * BLOCK];
                // 1. The transforms, the threads splitting the block's tiles.
                let subs = parallel::split_range(nt, parts.min(nt), 1);
                parallel::for_each_part(subs.len(), |p| {
                    let sub = subs[p].clone();
                    let tiles = block.start + sub.start..block.start + sub.end;
                    // SAFETY: the buffers were checked (the caller's); tiles `k` of the block
                    // go to `ξ·xi_len + block·nt·16 + k·16`, inside each position's
                    // `odd_lines(blocks·tb) >= blocks·nt·16` floats; the parts write disjoint
                    // tiles.
                    unsafe {
                        let at = sub.start * BLOCK;
                        ctx.input_block::<Forward<K>, A, M>(
                            tiles.clone(),
                            v.get().add(at),
                            strides(v_xi),
                        );
                        gctx.grad_block::<K, A, M, R>(tiles, m.get().add(at), strides(m_xi));
                    }
                });
                // `V[ξ]`'s block `i` and `M[ξ]`'s block `o`.
                // The real channels of input block `i` (the lanes the products need).
                let used = |i: usize| BLOCK.min(gctx.channels - i * BLOCK);
                let operands = |xi: usize, o: usize, i: usize| {
                    let x = v.get().wrapping_add(xi * v_xi + i * nt * BLOCK);
                    let d = m.get().wrapping_add(xi * m_xi + o * nt * BLOCK);
                    (x.cast_const(), d.cast_const())
                };
                if fused {
                    // 2'. Every tile in this one block: per channel block pair, its `dU` tiles
                    // (every position) in a local buffer, then `dw`; the threads split the
                    // pairs.
                    let ranges = parallel::split_range(pairs, parts.min(pairs), 1);
                    parallel::for_each_part(ranges.len(), |p| {
                        let mut local = vec![0.0f32; t * TILE];
                        let mut tmp = [0.0f32; TILE];
                        for pair in ranges[p].clone() {
                            let (o, i) = (pair / icb, pair % icb);
                            for (xi, acc) in local.chunks_exact_mut(TILE).enumerate() {
                                let (x, d) = operands(xi, o, i);
                                // SAFETY: both blocks hold `nt` tiles of 16 floats (step 1).
                                unsafe { sum_tiles(isa, (x, d, used(i)), nt, acc, &mut tmp) };
                            }
                            // SAFETY: `local` holds the pair's `dU` tile of every position,
                            // 256 floats apart; the pair's weights are inside `dw` (`F·C·R²`
                            // floats, the caller's) and only this part writes them.
                            unsafe {
                                gctx.weight_pair::<K, A, M, R>(
                                    (local.as_ptr(), TILE),
                                    pair,
                                    out.get(),
                                )
                            };
                        }
                    });
                    continue;
                }
                // 2. The products, the threads splitting the `dU` tiles.
                let ranges = parallel::split_range(items, parts.min(items), 1);
                parallel::for_each_part(ranges.len(), |p| {
                    let mut tmp = [0.0f32; TILE];
                    for item in ranges[p].clone() {
                        let xi = item / pairs;
                        let i = item % icb;
                        let (x, d) = operands(xi, (item / icb) % ocb, i);
                        // SAFETY: both blocks hold `nt` tiles of 16 floats (step 1); `dU` tile
                        // `item` is inside `dU` and only this part touches it.
                        unsafe {
                            let acc = du.get().add(item * TILE);
                            if b == 0 {
                                wgrad_rows(isa, x, d, nt, acc, used(i));
                            } else {
                                wgrad_rows(isa, x, d, nt, tmp.as_mut_ptr(), used(i));
                                add_tile(std::slice::from_raw_parts_mut(acc, TILE), &tmp);
                            }
                        }
                    }
                });
            }
            if fused {
                return;
            }
            // 3. `dw = Gᵀ dU G`, the threads splitting the channel block pairs.
            let ranges = parallel::split_range(pairs, parts.min(pairs), 1);
            parallel::for_each_part(ranges.len(), |p| {
                for pair in ranges[p].clone() {
                    let tiles = (
                        du.get().wrapping_add(pair * TILE).cast_const(),
                        pairs * TILE,
                    );
                    // SAFETY: `dU` was computed in step 2, the pair's tile of position `ξ` at
                    // `(ξ·pairs + pair)·256`; the pair's weights are inside `dw` (`F·C·R²`
                    // floats, the caller's) and only this part writes them.
                    unsafe { gctx.weight_pair::<K, A, M, R>(tiles, pair, out.get()) };
                }
            });
        });
    }

    /// Whether the transforms of every tile fit in [`FUSED_BYTES`] (3×3 only): then one block
    /// takes them all, and each channel block pair's `dU` tiles are transformed into `dw` as soon
    /// as they are summed (never stored in full). A 5×5 layer always goes in blocks of
    /// [`SCRATCH_BYTES_5X5`]: on LeNet's second layer (6.3 MB of transforms) that took
    /// 0.74–1.04 ms against 0.76–1.22 ms fused (one Zen 4 core, processes alternating), 1.0–1.4
    /// against 1.3–1.9 ms alternating in one process.
    fn fused(&self) -> bool {
        let per_tile = self.positions()
            * BLOCK
            * (self.ic_blocks + self.oc_blocks)
            * std::mem::size_of::<f32>();
        self.kernel == 3 && self.total_tiles() * per_tile <= FUSED_BYTES
    }
}

/// Sums `x[16·k + j] · d[16·k + o]` over the `nt` tiles `k` into `acc[16·j + o]` (overwritten;
/// lanes `j >= used` unspecified), in runs of [`SUM_TILES`] tiles, each summed from zero and
/// added to the runs before.
///
/// # Safety
/// `x` and `d` are readable for `16·nt` floats; `isa` is available.
unsafe fn sum_tiles(
    isa: Isa,
    (x, d, used): (*const f32, *const f32, usize),
    nt: usize,
    acc: &mut [f32],
    tmp: &mut [f32; TILE],
) {
    let mut k0 = 0;
    while k0 < nt {
        let run = SUM_TILES.min(nt - k0);
        // SAFETY: tiles `k0 .. k0 + run` are inside both blocks; `acc` and `tmp` hold 256
        // floats.
        unsafe {
            let (xk, dk) = (x.add(k0 * BLOCK), d.add(k0 * BLOCK));
            if k0 == 0 {
                wgrad_rows(isa, xk, dk, run, acc.as_mut_ptr(), used);
            } else {
                wgrad_rows(isa, xk, dk, run, tmp.as_mut_ptr(), used);
                add_tile(acc, tmp);
            }
        }
        k0 += run;
    }
}

/// `acc += tile`, element by element.
fn add_tile(acc: &mut [f32], tile: &[f32; TILE]) {
    for (s, &y) in acc.iter_mut().zip(tile) {
        *s += y;
    }
}

thread_local! {
    /// Scratch of the calling thread: the transforms of one block of tiles and `dU`.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}
