//! Winograd convolution (3×3 and 5×5, stride 1) on the channel-blocked layout
//! ([`super::blocked`]), `f32`.
//!
//! `F(m×m, r×r)` computes an `m × m` tile of outputs from an `α × α` tile of inputs
//! (`α = m + r − 1`) with `α²` multiplications per input/output channel pair instead of `r²·m²`:
//! `Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d Bᵀᵀ) ] A` (Lavin & Gray, *Fast Algorithms for Convolutional
//! Neural Networks*, 2015). Summed over input channels, the element-wise products become `α²`
//! independent matrix products, one per transform position `ξ`:
//! `M[ξ][tile][oc] = Σ_ic V[ξ][tile][ic] · U[ξ][ic][oc]`. Two variants per kernel size:
//!
//! - [`Variant::F2x2`]: `F(2×2, 3×3)`, 4×4 input tiles, 16 products for 4 outputs (2.25×
//!   fewer than direct convolution); as accurate as direct convolution in practice;
//! - [`Variant::F4x4`]: `F(4×4, 3×3)`, 6×6 tiles, 36 products for 16 outputs (4× fewer), with
//!   a larger rounding error (the transforms have entries up to 8 and 5); see
//!   [`WinogradConv::new`] for where it is used;
//! - with a 5×5 kernel, [`Variant::F2x2`] is `F(2×2, 5×5)`: 6×6 tiles (the same input
//!   transform as `F(4×4, 3×3)`, the same interpolation points), 36 products for 4 outputs
//!   (2.8× fewer); [`Variant::F4x4`] is `F(4×4, 5×5)`: 8×8 tiles (points 0, ±1, ±2, ±1/2, ∞:
//!   the input transform of the well-known `F(6×6, 3×3)`), 64 products for 16 outputs (6.25×
//!   fewer), with a larger rounding error. Only training's NCHW entries ([`plan_nchw`]) and
//!   gradients ([`dgrad`], [`wgrad`]) plan 5×5 layers so far
//!   ([`WinogradConv::with_kernel_variant`]).
//!
//! The weights are transformed once ([`WinogradConv::pack_weights`], `U = G g Gᵀ` in `f64`, with a
//! per-output-channel scale folded in) by the fused inference program; training transforms them at
//! every call ([`super::direct::forward_nchw_with`], and the data gradient of [`super::backward`],
//! where [`plan_nchw`] says it pays), vectorised across output channels. Each call then works on
//! blocks of tiles small enough that their transformed inputs stay in L2 (as NNPACK and oneDNN do):
//!
//! 1. the input transform `V = Bᵀ d B` of every tile of the block, 16 channels at a time (one
//!    vector), reading the blocked input in place; rows and columns outside the input (the
//!    padding, and the overhang of tiles at the bottom and right edges) read as zeros, so
//!    nothing is read outside the image's rows;
//! 2. per group of 32 output channels, the `α²` matrix products over input channels, with the
//!    direct convolution's register tile ([`super::direct`]'s `run_tile`: up to 14 tiles × 32
//!    output channels in registers, one broadcast per tile and channel); the products stop at
//!    the true input channel count (the padding channels of the last block are skipped);
//! 3. the output transform `Y = Aᵀ M A` of those channels, with the epilogue (bias, residual,
//!    ReLU) applied as the pixels inside the output are stored; the output's halo columns are
//!    zeroed.
//!
//! Work is split across threads by contiguous ranges of tiles (image, tile row, tile column),
//! statically; every output is computed by the same arithmetic whatever the split, so results
//! do not depend on the thread count.
//!
//! The weight gradient of the same layers has its own module ([`wgrad`]): the products
//! contracted over tiles instead of channels, `dg = Gᵀ [Σ_tiles V ⊙ (A dY Aᵀ)] G`, which
//! [`super::backward::weight_gradient`] uses where [`wgrad::plan`] says it pays.
//!
//! Served: 2-D convolutions with a 3×3 (or 5×5) kernel, stride 1, dilation 1, one group, and
//! padding of 0 to 2 (0 to 4) on each side, on a blocked input. The API mirrors
//! [`super::direct::DirectConv`]'s, so that an executor can choose either per layer.
//!
//! Where it pays (one Zen 4 core, time against the direct kernel's, which runs at the FMA
//! peak): on ResNet's 3×3 layers with maps of 14×14 and more, `F(4×4)` takes 2.5 to 3 times
//! less time at batch 1 (2 to 2.5 at batch 32, where the input comes from memory); on 512
//! channels at 7×7 the transformed weights (16 or 36 MB) dominate, and `F(2×2)` takes about
//! 1.7 times less at batch 1, `F(4×4)` about 1.5 to 2 times less at larger batches; on maps of
//! 4×4 and 5×5, `F(2×2)` is still 1.1 to 1.9 times faster; on 3×3 and smaller, the direct
//! kernel is. On LeNet's 5×5 layer (batch 64, 20 → 50 channels, 12×12 → 8×8), training's
//! forward pass (NCHW conversions and weight packing included) takes 1.1 ms with
//! `F(4×4, 5×5)` against 2.6 ms for the direct kernel (`F(2×2, 5×5)`: 1.8 ms), and its data
//! gradient ([`dgrad`], the transposed algorithm) 1.1 ms against 2.1 ms for the fused GEMM +
//! col2im.

mod forward;
mod pack;
mod tiles;
mod transforms;

pub mod dgrad;
pub mod wgrad;

use super::blocked::{BLOCK, Blocked};
use super::direct::{InputStrides, MAX_TILE_PIXELS, Shared};
use super::{ConvError, ConvGeom};
use crate::cpu::isa::Isa;
use forward::{for_each_block, odd_lines};
use pack::Order;
use tiles::{Lanes, TileSteps};
use transforms::{F2, F2R5, F4, F4R5, G2_F32, G4_F32, G25_F32, G45_F32, Transform};

/// Transformed inputs and products per block of tiles meant to stay in L2 (bytes).
const BLOCK_BYTES: usize = 512 << 10;
/// Input channel blocks summed in registers before they are added to the products so far:
/// the transforms amplify the rounding error of the products (most of all `F(4×4)`'s output
/// transform), and summing 512 channels in blocks of 64 makes it several times smaller.
const SUM_BLOCKS: usize = 4;
/// Transformed weights up to this size (bytes) are assumed to stay in the last-level cache
/// (between blocks of tiles, and between calls), beside the activations.
const CACHED_WEIGHT_BYTES: usize = 12 << 20;
/// Tiles per block, at least, when the transformed weights do not stay in cache: each block
/// streams them once, which then costs `64 / tiles` bytes per vector multiply-add.
const STREAMED_WEIGHT_TILES: usize = 32;
/// Threads split the tiles when each gets at least this many (two register tiles), else the
/// output channel groups.
const SPLIT_TILES: usize = 2 * MAX_TILE_PIXELS;
/// Convolutions below this many multiply-adds (of the matrix products) per thread run on
/// one thread.
const MIN_WORK_PER_THREAD: usize = 1 << 20;

/// A Winograd algorithm: the output tile it computes per input tile (the input tile depends
/// on the kernel too: see [`WinogradConv::alpha`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// `F(2×2, 3×3)`: 4×4 input tiles, 16 products per 2×2 outputs (with a 5×5 kernel,
    /// `F(2×2, 5×5)`: 6×6 input tiles, 36 products).
    F2x2,
    /// `F(4×4, 3×3)`: 6×6 input tiles, 36 products per 4×4 outputs (with a 5×5 kernel,
    /// `F(4×4, 5×5)`: 8×8 input tiles, 64 products).
    F4x4,
}

impl Variant {
    /// The side `m` of the output tile.
    pub fn tile(self) -> usize {
        match self {
            Variant::F2x2 => 2,
            Variant::F4x4 => 4,
        }
    }

    /// The side `α = m + 2` of the input tile for a 3×3 kernel (for any kernel,
    /// [`WinogradConv::alpha`]).
    pub fn alpha(self) -> usize {
        self.tile() + 2
    }

    /// Transform positions `α²` for a 3×3 kernel: the matrix products per tile (for any
    /// kernel, [`WinogradConv::positions`]).
    pub fn positions(self) -> usize {
        self.alpha() * self.alpha()
    }
}

/// A planned Winograd convolution: the geometry, the variant and the tiling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WinogradConv {
    geom: ConvGeom,
    variant: Variant,
    /// The kernel's side `r` (3 or 5).
    kernel: usize,
    out: [usize; 2],
    /// Tiles down and across one image.
    tiles: [usize; 2],
    /// Output channel blocks per matrix-product tile (1 or 2).
    nv: usize,
    /// Input channel blocks.
    ic_blocks: usize,
}

impl WinogradConv {
    /// Plans `geom` with the variant that suits it; `None` when this kernel does not serve the
    /// convolution (see the module docs), an error when the geometry is invalid.
    ///
    /// [`Variant::F4x4`] does 1.8× fewer multiplications than [`Variant::F2x2`] and, with its
    /// interpolation points and blocked summation, stays within a few `1e-6` of `max |y|` on
    /// ResNet layers (64 to 512 channels), like the direct kernel. But its tiles are larger
    /// (fewer of them on a small map, each matrix-product tile then doing less work for its
    /// loads and stores) and so are its transformed weights (36·C·F floats against 16·C·F,
    /// which matters when they do not stay in cache and few tiles share them: ResNet's last
    /// stage at batch 1, 512 channels on 7×7, is four 4×4 tiles against 37 MB of weights).
    /// The variant with the lower estimated cost ([`WinogradConv::cost`]) is chosen.
    pub fn new(geom: &ConvGeom) -> Result<Option<WinogradConv>, ConvError> {
        let Some(f4) = WinogradConv::with_variant(geom, Variant::F4x4)? else {
            return Ok(None);
        };
        let f2 = WinogradConv::with_variant(geom, Variant::F2x2)?.expect("served as F(4×4)");
        Ok(Some(if f2.cost() < f4.cost() { f2 } else { f4 }))
    }

    /// A rough estimate of one call's time on one thread, in vector multiply-adds: the
    /// matrix products, with each register tile of up to 14 tiles costing as if it had two
    /// more (its loads and stores, and the transforms), plus, when the transformed weights do
    /// not stay in cache, streaming them from memory at 8 bytes per multiply-add time.
    /// Measured (Zen 4, one thread) it orders the two variants right on the ResNet layers and
    /// on maps from 3×3 to 56×56; it is no estimate of the direct kernel's time.
    pub fn cost(&self) -> f64 {
        let [th, tw] = self.tiles;
        let tiles = self.geom.batch * th * tw;
        let padded_tiles = tiles + 2 * tiles.div_ceil(MAX_TILE_PIXELS);
        let products =
            padded_tiles * self.positions() * self.ic_blocks * self.out_groups() * self.nv * BLOCK;
        let weight_bytes = self.packed_len() * std::mem::size_of::<f32>();
        let streaming = if weight_bytes > CACHED_WEIGHT_BYTES {
            weight_bytes / 8
        } else {
            0
        };
        (products + streaming) as f64
    }

    /// Plans `geom` with `variant` (as [`WinogradConv::new`]): 3×3 kernels only, since the
    /// fused inference program builds its plans through this and has no 5×5 transforms
    /// ([`WinogradConv::with_kernel_variant`] plans 5×5 too).
    ///
    /// # Errors
    /// [`ConvError`] for an invalid geometry.
    pub fn with_variant(
        geom: &ConvGeom,
        variant: Variant,
    ) -> Result<Option<WinogradConv>, ConvError> {
        Ok(WinogradConv::with_kernel_variant(geom, variant)?.filter(|p| p.kernel == 3))
    }

    /// Plans `geom` with `variant`: a 3×3 kernel with padding 0 to 2, or a 5×5 kernel with
    /// padding 0 to 4 (each side), stride 1, dilation 1, one group, 2-D; `None` otherwise, an
    /// error when the geometry is invalid.
    ///
    /// # Errors
    /// [`ConvError`] for an invalid geometry.
    pub fn with_kernel_variant(
        geom: &ConvGeom,
        variant: Variant,
    ) -> Result<Option<WinogradConv>, ConvError> {
        let out = geom.output()?;
        geom.sizes()?;
        let r = geom.kernel[1];
        let served = geom.groups == 1
            && geom.input[0] == 1
            && (r == 3 || r == 5)
            && geom.kernel == [1, r, r]
            && geom.stride == [1, 1, 1]
            && geom.dilate == [1, 1, 1]
            && geom.pad[0] == 0
            && geom.pad[1] < r
            && geom.pad[2] < r;
        if !served {
            return Ok(None);
        }
        let m = variant.tile();
        Ok(Some(WinogradConv {
            geom: *geom,
            variant,
            kernel: r,
            out: [out[1], out[2]],
            tiles: [out[1].div_ceil(m), out[2].div_ceil(m)],
            nv: if geom.filters > BLOCK { 2 } else { 1 },
            ic_blocks: geom.channels.div_ceil(BLOCK),
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

    /// The side `α = m + r − 1` of the input tile.
    pub fn alpha(&self) -> usize {
        self.variant.tile() + self.kernel - 1
    }

    /// Transform positions `α²`: the matrix products per tile.
    pub fn positions(&self) -> usize {
        self.alpha() * self.alpha()
    }

    /// The output height and width.
    pub fn output_size(&self) -> [usize; 2] {
        self.out
    }

    /// The blocked layout of the output, with `halo` zero columns.
    pub fn output_layout(&self, halo: usize) -> Blocked {
        Blocked::conv_output(&self.geom, self.out, halo)
    }

    /// The horizontal halo the input needs (the padding).
    pub fn input_halo(&self) -> usize {
        self.geom.pad[2]
    }

    /// Groups of `nv` output blocks.
    fn out_groups(&self) -> usize {
        self.geom.filters.div_ceil(BLOCK).div_ceil(self.nv)
    }

    /// Floats of the packed weights of one output group at one transform position.
    fn w_position(&self) -> usize {
        self.ic_blocks * BLOCK * self.nv * BLOCK
    }

    /// Floats of the packed (transformed) weights.
    pub fn packed_len(&self) -> usize {
        self.out_groups() * self.positions() * self.w_position()
    }
}

/// The operands of one call, as raw pointers into the checked buffers, shared by its threads.
struct Ctx {
    isa: Isa,
    input: *const f32,
    s: InputStrides,
    /// Input height and width.
    in_size: [usize; 2],
    /// Padding (top/bottom, left/right).
    pad: [usize; 2],
    out_size: [usize; 2],
    tiles: [usize; 2],
    ic_blocks: usize,
    nv: usize,
    /// Channel blocks of the output.
    out_blocks: usize,
    packed: *const f32,
    w_position: usize,
    /// The bias, padded with zeros to every channel of every output group.
    bias: *const f32,
    /// Null without a residual.
    residual: *const f32,
    res_layout: Blocked,
    relu: bool,
    out: Shared,
    out_layout: Blocked,
}

// SAFETY: the pointers are read-only except the output, which threads write at disjoint tiles
// (see `Shared`); the buffers outlive the fork-join call that shares the context.
unsafe impl Sync for Ctx {}

/// Whether the environment allows the Winograd kernels: `MXR_WINOGRAD` anything but `0` (read
/// once). Off, the fused inference program and the NCHW entries
/// ([`super::direct::forward_nchw_with`], the data and weight gradients of [`super::backward`]) use
/// the direct kernels.
pub fn enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("MXR_WINOGRAD").map_or(true, |v| v.trim() != "0"))
}

/// Output pixels (images × rows × columns) from which a convolution on NCHW data runs through
/// Winograd: below, transforming the weights at every call (as training must, since they
/// change every step) costs more than the multiplications it saves.
const MIN_NCHW_PIXELS: usize = 256;
/// Channels (input and output) from which a convolution on NCHW data runs through Winograd:
/// fewer would waste most of a 16-channel block.
const MIN_NCHW_CHANNELS: usize = 16;

/// The Winograd plan for a convolution on NCHW data whose weights are packed at every call
/// (training's forward pass and data gradient), when it is served (3×3 and 5×5 kernels,
/// [`WinogradConv::with_kernel_variant`]), allowed ([`enabled`]) and pays: outputs of 4×4 and
/// more (below, the direct kernel is faster; measured as in the
/// fused program), at least `MIN_NCHW_PIXELS` output pixels and `MIN_NCHW_CHANNELS`
/// channels each side.
pub fn plan_nchw(geom: &ConvGeom) -> Option<WinogradConv> {
    if !nchw_pays(geom) || !enabled() {
        return None;
    }
    // The variant with the lower cost once transforming the weights is counted: `F(4×4)`'s
    // are 36/16 times larger, which on a small map with many channels can cost more than its
    // fewer products save.
    let with_pack = |p: &WinogradConv| p.cost() + PACK_COST * p.packed_len() as f64;
    let f4 = WinogradConv::with_kernel_variant(geom, Variant::F4x4).ok()??;
    let f2 = WinogradConv::with_kernel_variant(geom, Variant::F2x2).ok()??;
    Some(if with_pack(&f2) < with_pack(&f4) {
        f2
    } else {
        f4
    })
}

/// The shape conditions of [`plan_nchw`] (and of the data gradient's [`dgrad::plan`]): outputs
/// of 4×4 and more, at least `MIN_NCHW_PIXELS` output pixels and `MIN_NCHW_CHANNELS` channels
/// each side; false for an invalid geometry.
fn nchw_pays(geom: &ConvGeom) -> bool {
    geom.output().is_ok_and(|out| {
        out[1] >= 4
            && out[2] >= 4
            && geom.batch * out[1] * out[2] >= MIN_NCHW_PIXELS
            && geom.channels >= MIN_NCHW_CHANNELS
            && geom.filters >= MIN_NCHW_CHANNELS
    })
}

/// The time [`WinogradConv::pack_weights_with`] takes per packed float, in the units of
/// [`WinogradConv::cost`] (vector multiply-adds), fitted so that the choice matches the
/// timings on ResNet-18's training layers at batch 16 (Zen 4, one thread): since the transform
/// runs in `f32` and streams large packs, `F(4×4)` wins on all of them, the last stage (4×4
/// maps, 512 channels: 6.4–7.7 ms against 9.0–9.4 for `F(2×2)`) included, which the cost
/// model alone, underrating `F(2×2)`'s per-tile overheads, would give to `F(2×2)` above 0.95.
const PACK_COST: f64 = 0.75;

super::direct::blocked_plan!(WinogradConv);

#[cfg(test)]
mod tests;
