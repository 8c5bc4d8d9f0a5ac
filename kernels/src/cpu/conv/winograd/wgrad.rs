//! The weight gradient of a 3×3, stride-1 convolution by Winograd's algorithm, on the
//! channel-blocked layout ([`super::super::blocked`]), `f32`.
//!
//! The forward pass computes each output tile as `Y = Aᵀ [U ⊙ V] A` with `U = G g Gᵀ` (the
//! transformed weights) and `V = Bᵀ d B` (the transformed input tile), summed over input
//! channels (see [`super`]). `Y` is linear in `U`, so the weight gradient is
//! `dg = Gᵀ dU G` with `dU[ξ][oc][ic] = Σ_tiles M[ξ][tile][oc] · V[ξ][tile][ic]` and
//! `M = A dY Aᵀ` (`dY`: the tile's `m × m` head gradient, zero outside the output): per
//! transform position `ξ` (`α²` of them) one matrix product contracted over the tiles of every
//! image, `α²` multiplications per tile and channel pair against `9·m²` for the direct kernel
//! (`F(2×2)`: 16 against 36, `F(4×4)`: 36 against 144).
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
//! then transforms `dU` back, `dw = Gᵀ dU G` for every channel pair. When the transforms of
//! every tile fit in 8 MB (small maps: ResNet's last two stages) one block takes
//! them all, and each channel block pair's `dU` tiles (every position; runs of 256 tiles summed from zero, then added) are summed in a local buffer and transformed into `dw`
//! at once: `dU` (up to 36·C·F floats) is never stored. Every `dU` element is the same sum in
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

use std::ops::Range;

use super::super::backward::wgrad_rows;
use super::super::blocked::{BLOCK, Blocked};
use super::super::direct::{InputStrides, Shared};
use super::super::{ConvError, ConvGeom, check_len};
use super::{Ctx, F2, F4, G2_F32, G4_F32, Lanes, Transform, Variant, WinogradConv, odd_lines};
use crate::cpu::isa::Isa;
use crate::cpu::parallel::{self, SharedMut};
use crate::cpu::tile;

/// Transformed inputs and head gradients of one block of tiles (bytes): the L2 of a core.
const SCRATCH_BYTES: usize = 2 << 20;
/// Tiles per block, at least: each `dU` tile is loaded, added to and stored once per block,
/// which then costs little against the block's `16 · tiles` multiply-adds.
const MIN_BLOCK_TILES: usize = 32;
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
/// The most multiplications [`plan`] accepts, as a fraction of the direct kernel's: the
/// transforms cost about as much as the products again (ResNet-18's layers, at 0.25 to 0.31,
/// run 1.6 to 2 times faster than direct).
const MAX_PRODUCT_RATIO: f64 = 0.4;

/// The transforms of the backward pass, for `F(M, 3)` with `A = M + 2`.
trait GradTransform<const A: usize, const M: usize>: Transform<A, M> {
    /// `A y`: the transpose of the output transform, from `M` head-gradient values to `A`.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn output_grad<V: Lanes>(y: [V; M]) -> [V; A];
    /// `Gᵀ u`: the transpose of the weight transform, from `A` values to 3.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn weight_grad<V: Lanes>(u: [V; A]) -> [V; 3];
}

/// `Gᵀ u` for the rows of `g`, zero entries skipped, one entries added.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn g_transpose<V: Lanes, const A: usize>(g: &[[f32; 3]; A], u: [V; A]) -> [V; 3] {
    // SAFETY: the caller's.
    unsafe {
        let mut out = [V::zero(); 3];
        for (l, o) in out.iter_mut().enumerate() {
            for (row, &x) in g.iter().zip(&u) {
                let c = row[l];
                if c == 1.0 {
                    *o = o.add(x);
                } else if c != 0.0 {
                    *o = x.mul_add(c, *o);
                }
            }
        }
        out
    }
}

impl GradTransform<4, 2> for F2 {
    /// `A = [1 0; 1 1; 1 −1; 0 −1]`.
    #[inline(always)]
    unsafe fn output_grad<V: Lanes>(y: [V; 2]) -> [V; 4] {
        // SAFETY: the caller's.
        unsafe { [y[0], y[0].add(y[1]), y[0].sub(y[1]), V::zero().sub(y[1])] }
    }

    #[inline(always)]
    unsafe fn weight_grad<V: Lanes>(u: [V; 4]) -> [V; 3] {
        // SAFETY: the caller's.
        unsafe { g_transpose(&G2_F32, u) }
    }
}

impl GradTransform<6, 4> for F4 {
    /// `A = [1 0 0 0; 1 1 1 1; 1 −1 1 −1; 1 1/2 1/4 1/8; 1 −2 4 −8; 0 0 0 1]` (every entry
    /// exact in `f32`).
    #[inline(always)]
    unsafe fn output_grad<V: Lanes>(y: [V; 4]) -> [V; 6] {
        // SAFETY: the caller's.
        unsafe {
            let (e, o) = (y[0].add(y[2]), y[1].add(y[3]));
            [
                y[0],
                e.add(o),
                e.sub(o),
                y[3].mul_add(0.125, y[2].mul_add(0.25, y[1].mul_add(0.5, y[0]))),
                y[3].mul_add(-8.0, y[2].mul_add(4.0, y[1].mul_add(-2.0, y[0]))),
                y[3],
            ]
        }
    }

    #[inline(always)]
    unsafe fn weight_grad<V: Lanes>(u: [V; 6]) -> [V; 3] {
        // SAFETY: the caller's.
        unsafe { g_transpose(&G4_F32, u) }
    }
}

/// A planned Winograd weight gradient: the geometry, the variant and the tiling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WinogradWgrad {
    geom: ConvGeom,
    variant: Variant,
    out: [usize; 2],
    /// Tiles down and across one image.
    tiles: [usize; 2],
    ic_blocks: usize,
    oc_blocks: usize,
}

/// The Winograd weight-gradient plan for `geom` when it is served, allowed
/// ([`super::enabled`], the `MXR_WINOGRAD` switch) and pays against the direct kernel: outputs
/// of 4×4 and more, at least 256 output pixels and 64 channels each side, and at most 0.4 times the direct kernel's multiplications (tiles
/// overhanging a small map waste theirs); with the variant [`WinogradWgrad::choose`] picks.
pub fn plan(geom: &ConvGeom) -> Option<WinogradWgrad> {
    let out = geom.output().ok()?;
    let pays = out[1] >= 4
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
        self.tiles[0] * self.tiles[1] * self.variant.positions()
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
        let Some(fwd) = WinogradConv::with_variant(geom, variant)? else {
            return Ok(None);
        };
        Ok(Some(WinogradWgrad {
            geom: *geom,
            variant,
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

    /// Tiles of all images.
    fn total_tiles(&self) -> usize {
        self.geom.batch * self.tiles[0] * self.tiles[1]
    }

    /// Tiles per block: [`SCRATCH_BYTES`] of transforms, at least [`MIN_BLOCK_TILES`].
    fn block_tiles(&self) -> usize {
        let per_tile = self.variant.positions()
            * BLOCK
            * (self.ic_blocks + self.oc_blocks)
            * std::mem::size_of::<f32>();
        (SCRATCH_BYTES / per_tile)
            .max(MIN_BLOCK_TILES)
            .min(self.total_tiles())
            .max(1)
    }

    /// The weight gradient `dw` (`F × C × 3 × 3`, overwritten) from the input `x` (blocked in
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
            match self.variant {
                Variant::F2x2 => self.run_k::<F2, 4, 2>(&ctx, &gctx, dw, threads),
                Variant::F4x4 => self.run_k::<F4, 6, 4>(&ctx, &gctx, dw, threads),
            }
        }
        Ok(())
    }

    /// [`WinogradWgrad::run`] for `F(M×M, 3×3)`, `A = M + 2`, transforms `K`.
    ///
    /// # Safety
    /// The contexts' buffers were checked against the plan; `dw` holds `F·C·9` floats.
    unsafe fn run_k<K: GradTransform<A, M>, const A: usize, const M: usize>(
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
                        ctx.input_block::<K, A, M>(tiles.clone(), v.get().add(at), strides(v_xi));
                        gctx.grad_block::<K, A, M>(tiles, m.get().add(at), strides(m_xi));
                    }
                });
                // `V[ξ]`'s block `i` and `M[ξ]`'s block `o`.
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
                                unsafe { sum_tiles(isa, x, d, nt, acc, &mut tmp) };
                            }
                            // SAFETY: `local` holds the pair's `dU` tile of every position,
                            // 256 floats apart; the pair's weights are inside `dw` (`F·C·9`
                            // floats, the caller's) and only this part writes them.
                            unsafe {
                                gctx.weight_pair::<K, A, M>((local.as_ptr(), TILE), pair, out.get())
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
                        let (x, d) = operands(xi, (item / icb) % ocb, item % icb);
                        // SAFETY: both blocks hold `nt` tiles of 16 floats (step 1); `dU` tile
                        // `item` is inside `dU` and only this part touches it.
                        unsafe {
                            let acc = du.get().add(item * TILE);
                            if b == 0 {
                                wgrad_rows(isa, x, d, nt, acc);
                            } else {
                                wgrad_rows(isa, x, d, nt, tmp.as_mut_ptr());
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
                    // `(ξ·pairs + pair)·256`; the pair's weights are inside `dw` (`F·C·9`
                    // floats, the caller's) and only this part writes them.
                    unsafe { gctx.weight_pair::<K, A, M>(tiles, pair, out.get()) };
                }
            });
        });
    }

    /// Whether the transforms of every tile fit in [`FUSED_BYTES`]: then one block takes them
    /// all, and each channel block pair's `dU` tiles are transformed into `dw` as soon as they
    /// are summed (never stored in full).
    fn fused(&self) -> bool {
        let per_tile = self.variant.positions()
            * BLOCK
            * (self.ic_blocks + self.oc_blocks)
            * std::mem::size_of::<f32>();
        self.total_tiles() * per_tile <= FUSED_BYTES
    }
}

/// Sums `x[16·k + j] · d[16·k + o]` over the `nt` tiles `k` into `acc[16·j + o]` (overwritten),
/// in runs of [`SUM_TILES`] tiles, each summed from zero and added to the runs before.
///
/// # Safety
/// `x` and `d` are readable for `16·nt` floats; `isa` is available.
unsafe fn sum_tiles(
    isa: Isa,
    x: *const f32,
    d: *const f32,
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
                wgrad_rows(isa, xk, dk, run, acc.as_mut_ptr());
            } else {
                wgrad_rows(isa, xk, dk, run, tmp.as_mut_ptr());
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

/// The head gradient's side of one call, shared by its threads.
struct GradCtx {
    isa: Isa,
    dy: *const f32,
    layout: Blocked,
    out: [usize; 2],
    tiles: [usize; 2],
    ic_blocks: usize,
    oc_blocks: usize,
    channels: usize,
    filters: usize,
}

// SAFETY: the head gradient is only read; the buffer outlives the fork-join calls that share
// the context.
unsafe impl Sync for GradCtx {}

impl GradCtx {
    /// The head-gradient transform `M = A dY Aᵀ` of `tiles` into `m` (see
    /// [`grad_tiles`]), with the kernel of the context's instruction set.
    ///
    /// # Safety
    /// As [`grad_tiles`].
    unsafe fn grad_block<K: GradTransform<A, M>, const A: usize, const M: usize>(
        &self,
        tiles: Range<usize>,
        m: *mut f32,
        strides: [usize; 2],
    ) {
        // SAFETY: forwarded; each kernel exists for its instruction set, which is available.
        unsafe {
            match self.isa {
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => x86::grad_avx512::<K, A, M>(self, tiles, m, strides),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => x86::grad_avx2::<K, A, M>(self, tiles, m, strides),
                _ => grad_tiles::<[f32; BLOCK], K, A, M>(self, tiles, m, strides),
            }
        }
    }

    /// `dw = Gᵀ dU G` of output block `pair / ic_blocks` and input block `pair % ic_blocks`
    /// (see [`weight_tiles`]), with the kernel of the context's instruction set.
    ///
    /// # Safety
    /// As [`weight_tiles`].
    unsafe fn weight_pair<K: GradTransform<A, M>, const A: usize, const M: usize>(
        &self,
        du: (*const f32, usize),
        pair: usize,
        dw: *mut f32,
    ) {
        // SAFETY: forwarded; each kernel exists for its instruction set, which is available.
        unsafe {
            match self.isa {
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => x86::weight_avx512::<K, A, M>(self, du, pair, dw),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => x86::weight_avx2::<K, A, M>(self, du, pair, dw),
                _ => weight_tiles::<[f32; BLOCK], K, A, M>(self, du, pair, dw),
            }
        }
    }
}

/// The head-gradient transform of `tiles` into `m`: `M[ξ][ocb][k][16]` for position `ξ`,
/// output channel block `ocb` and the `k`-th tile of the range at
/// `ξ·m_xi + ocb·m_block + k·16`; the head gradient outside the output reads as zero.
///
/// # Safety
/// The context's head gradient was checked against its layout; `m` holds every position,
/// block and tile at those offsets; `V`'s instruction set is available.
#[inline(always)]
unsafe fn grad_tiles<V: Lanes, K: GradTransform<A, M>, const A: usize, const M: usize>(
    c: &GradCtx,
    tiles: Range<usize>,
    m: *mut f32,
    [m_xi, m_block]: [usize; 2],
) {
    let [oh, ow] = c.out;
    let [th, tw] = c.tiles;
    let l = &c.layout;
    for ocb in 0..c.oc_blocks {
        for (k, t) in tiles.clone().enumerate() {
            let (n, ty, tx) = (t / (th * tw), (t / tw) % th, t % tw);
            let (oy0, ox0) = (ty * M, tx * M);
            // At least one row and column: the tile starts inside the output.
            let (rows, cols) = (M.min(oh - oy0), M.min(ow - ox0));
            // SAFETY: pixels `(oy0 + r, ox0 + col)` with `r < rows`, `col < cols` lie inside
            // image `n`, block `ocb` of the head gradient; `m` holds position `ξ`, block
            // `ocb`, tile `k` (the caller's).
            unsafe {
                let base = c.dy.add(
                    n * l.image() + ocb * l.plane() + oy0 * l.pitch() + (l.halo + ox0) * BLOCK,
                );
                // A dY, column by column (`ad[column][i]`); then row `i` of (A dY) Aᵀ. (Plain
                // loops: closures would not inherit the caller's instruction set.)
                let mut ad = [[V::zero(); A]; M];
                for (col, out) in ad.iter_mut().enumerate().take(cols) {
                    let mut d = [V::zero(); M];
                    for (r, x) in d.iter_mut().enumerate().take(rows) {
                        *x = V::load(base.add(r * l.pitch() + col * BLOCK));
                    }
                    *out = K::output_grad(d);
                }
                #[allow(clippy::needless_range_loop, reason = "a transpose")]
                for i in 0..A {
                    let mut row = [V::zero(); M];
                    for (col, x) in row.iter_mut().enumerate() {
                        *x = ad[col][i];
                    }
                    for (j, y) in K::output_grad(row).into_iter().enumerate() {
                        y.store(m.add((i * A + j) * m_xi + ocb * m_block + k * BLOCK));
                    }
                }
            }
        }
    }
}

/// `dw = Gᵀ dU G` for the output channels of block `pair / ic_blocks` and the input channels of
/// block `pair % ic_blocks` (those inside `F` and `C`): the pair's `dU` tile at position `ξ`
/// is at `du + ξ·xi_stride`, lane (input channel) `j`'s 16 output channels at `16·j` in it;
/// `dw` is `F × C × 3 × 3`.
///
/// # Safety
/// `du` holds the pair's `dU` tiles, `dw` `F·C·9` floats; `V`'s instruction set is available.
#[inline(always)]
unsafe fn weight_tiles<V: Lanes, K: GradTransform<A, M>, const A: usize, const M: usize>(
    c: &GradCtx,
    (du, xi_stride): (*const f32, usize),
    pair: usize,
    dw: *mut f32,
) {
    let icb = c.ic_blocks;
    let (o, i) = (pair / icb, pair % icb);
    let (f0, c0) = (o * BLOCK, i * BLOCK);
    let nf = BLOCK.min(c.filters - f0);
    let nc = BLOCK.min(c.channels - c0);
    // `tmp[j][k]`: tap `k` of input channel `c0 + j` for the block's 16 output channels.
    let mut tmp = [[[0.0f32; BLOCK]; 9]; BLOCK];
    for (j, tj) in tmp.iter_mut().enumerate().take(nc) {
        // SAFETY: the `dU` tiles read are inside `du`, 16 floats from lane `j < 16`; `tmp`'s
        // rows are 16 floats (the caller's contract otherwise).
        unsafe {
            // (dU G) row by row (`r[p][b]`), then column `b` of Gᵀ (dU G).
            let mut r = [[V::zero(); 3]; A];
            for (p, rp) in r.iter_mut().enumerate() {
                let mut u = [V::zero(); A];
                for (q, x) in u.iter_mut().enumerate() {
                    let xi = p * A + q;
                    *x = V::load(du.add(xi * xi_stride + j * BLOCK));
                }
                *rp = K::weight_grad(u);
            }
            for b in 0..3 {
                let mut col = [V::zero(); A];
                for (p, x) in col.iter_mut().enumerate() {
                    *x = r[p][b];
                }
                for (a, y) in K::weight_grad(col).into_iter().enumerate() {
                    y.store(tj[a * 3 + b].as_mut_ptr());
                }
            }
        }
    }
    // `dw[f0 + f][c0 + j][k] = tmp[j][k][f]`: for each output channel, the pair's `9·nc` floats
    // are contiguous in `dw`, so `tmp` (`9·nc` rows of 16 output channels) is transposed into
    // them 16 rows at a time.
    let src = tmp.as_ptr().cast::<f32>();
    let dst = dw.wrapping_add((f0 * c.channels + c0) * 9);
    let len = nc * 9;
    for r0 in (0..len).step_by(BLOCK) {
        let rows = BLOCK.min(len - r0);
        // SAFETY: `tmp` holds `16·9` rows of 16 floats, of which rows `r0 .. r0 + rows` are
        // read (`nf <= 16` floats each); output channel `f0 + f < F` (`f < nf`) gets floats
        // `r0 .. r0 + rows` of its `9·nc` floats from input channel `c0`, inside `dw` (the
        // caller's): exactly 16 through `transpose`, `rows` through `transpose_narrow`.
        unsafe {
            let (from, to) = (src.add(r0 * BLOCK), dst.add(r0));
            let ds = c.channels * 9;
            if rows == BLOCK {
                tile::transpose(c.isa, from, BLOCK, rows, nf, to, ds, nf);
            } else {
                tile::transpose_narrow(c.isa, from, BLOCK, rows, nf, to, ds, rows);
            }
        }
    }
}

/// The vector kernels of x86-64: the generic transforms instantiated for AVX-512 and AVX2.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::__m512;
    use std::ops::Range;

    use super::super::x86::Avx2x2;
    use super::{GradCtx, GradTransform, grad_tiles, weight_tiles};

    /// [`grad_tiles`] with AVX-512.
    ///
    /// # Safety
    /// As [`grad_tiles`]; AVX-512F and FMA are available.
    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn grad_avx512<K: GradTransform<A, M>, const A: usize, const M: usize>(
        c: &GradCtx,
        tiles: Range<usize>,
        m: *mut f32,
        strides: [usize; 2],
    ) {
        // SAFETY: forwarded; AVX-512 is available.
        unsafe { grad_tiles::<__m512, K, A, M>(c, tiles, m, strides) }
    }

    /// [`grad_tiles`] with AVX2.
    ///
    /// # Safety
    /// As [`grad_tiles`]; AVX2 and FMA are available.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn grad_avx2<K: GradTransform<A, M>, const A: usize, const M: usize>(
        c: &GradCtx,
        tiles: Range<usize>,
        m: *mut f32,
        strides: [usize; 2],
    ) {
        // SAFETY: forwarded; AVX2 is available.
        unsafe { grad_tiles::<Avx2x2, K, A, M>(c, tiles, m, strides) }
    }

    /// [`weight_tiles`] with AVX-512.
    ///
    /// # Safety
    /// As [`weight_tiles`]; AVX-512F and FMA are available.
    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn weight_avx512<K: GradTransform<A, M>, const A: usize, const M: usize>(
        c: &GradCtx,
        du: (*const f32, usize),
        pair: usize,
        dw: *mut f32,
    ) {
        // SAFETY: forwarded; AVX-512 is available.
        unsafe { weight_tiles::<__m512, K, A, M>(c, du, pair, dw) }
    }

    /// [`weight_tiles`] with AVX2.
    ///
    /// # Safety
    /// As [`weight_tiles`]; AVX2 and FMA are available.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn weight_avx2<K: GradTransform<A, M>, const A: usize, const M: usize>(
        c: &GradCtx,
        du: (*const f32, usize),
        pair: usize,
        dw: *mut f32,
    ) {
        // SAFETY: forwarded; AVX2 is available.
        unsafe { weight_tiles::<Avx2x2, K, A, M>(c, du, pair, dw) }
    }
}
