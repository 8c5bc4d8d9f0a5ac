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
//! The weights are transformed once ([`WinogradConv::pack_weights`], `U = G g Gᵀ` in `f64`, with
//! a per-output-channel scale folded in) by the fused inference program; training transforms
//! them at every call ([`super::direct::forward_nchw`], and the data gradient of [`super::backward`],
//! where [`plan_nchw`] says it pays), vectorised across output channels. Each call then works on blocks of tiles small enough
//! that their transformed inputs stay in L2 (as NNPACK and oneDNN do):
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

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::ops::Range;

pub mod dgrad;
pub mod wgrad;

use super::blocked::{BLOCK, Blocked};
use super::direct::{
    Epilogue, InputLayout, InputStrides, MAX_TILE_PIXELS, Shared, Tap, TileJob, check_input,
    check_output, max_tile_pixels, run_tile,
};
use super::{ConvError, ConvGeom, check_len};
use crate::cpu::isa::Isa;
use crate::cpu::parallel;

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

/// `G` of `F(2×2, 3×3)` (interpolation points 0, 1, −1, ∞).
const G2: [[f64; 3]; 4] = [
    [1.0, 0.0, 0.0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0.0, 0.0, 1.0],
];

/// `G` of `F(4×4, 3×3)` (interpolation points 0, 1, −1, 1/2, −2, ∞; see [`F4`]).
const G4: [[f64; 3]; 6] = [
    [1.0, 0.0, 0.0],
    [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
    [-1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0],
    [-16.0 / 15.0, -8.0 / 15.0, -4.0 / 15.0],
    [1.0 / 15.0, -2.0 / 15.0, 4.0 / 15.0],
    [0.0, 0.0, 1.0],
];

/// `G` of `F(2×2, 5×5)` (interpolation points 0, 1, −1, 1/2, −2, ∞, as [`G4`]: row `p` is
/// `(1, x, x², x³, x⁴) / Π_{q≠p} (x − x_q)` at point `x = x_p`).
const G25: [[f64; 5]; 6] = [
    [1.0, 0.0, 0.0, 0.0, 0.0],
    [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
    [-1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0],
    [
        -16.0 / 15.0,
        -8.0 / 15.0,
        -4.0 / 15.0,
        -2.0 / 15.0,
        -1.0 / 15.0,
    ],
    [
        1.0 / 15.0,
        -2.0 / 15.0,
        4.0 / 15.0,
        -8.0 / 15.0,
        16.0 / 15.0,
    ],
    [0.0, 0.0, 0.0, 0.0, 1.0],
];

/// `G` of `F(4×4, 5×5)` (interpolation points 0, 1, −1, 2, −2, 1/2, −1/2, ∞; see [`F4R5`]; row
/// 0's sign is moved into the input transform's).
const G45: [[f64; 5]; 8] = [
    [1.0, 0.0, 0.0, 0.0, 0.0],
    [-2.0 / 9.0, -2.0 / 9.0, -2.0 / 9.0, -2.0 / 9.0, -2.0 / 9.0],
    [-2.0 / 9.0, 2.0 / 9.0, -2.0 / 9.0, 2.0 / 9.0, -2.0 / 9.0],
    [1.0 / 90.0, 1.0 / 45.0, 2.0 / 45.0, 4.0 / 45.0, 8.0 / 45.0],
    [1.0 / 90.0, -1.0 / 45.0, 2.0 / 45.0, -4.0 / 45.0, 8.0 / 45.0],
    [32.0 / 45.0, 16.0 / 45.0, 8.0 / 45.0, 4.0 / 45.0, 2.0 / 45.0],
    [
        32.0 / 45.0,
        -16.0 / 45.0,
        8.0 / 45.0,
        -4.0 / 45.0,
        2.0 / 45.0,
    ],
    [0.0, 0.0, 0.0, 0.0, 1.0],
];

/// `g` in `f32` (each entry rounded once), as the weight transform computes with it.
const fn to_f32<const A: usize, const R: usize>(g: [[f64; R]; A]) -> [[f32; R]; A] {
    let mut out = [[0.0f32; R]; A];
    let mut p = 0;
    while p < A {
        let mut l = 0;
        while l < R {
            out[p][l] = g[p][l] as f32;
            l += 1;
        }
        p += 1;
    }
    out
}

/// [`G2`] in `f32`.
const G2_F32: [[f32; 3]; 4] = to_f32(G2);
/// [`G4`] in `f32`.
const G4_F32: [[f32; 3]; 6] = to_f32(G4);
/// [`G25`] in `f32`.
const G25_F32: [[f32; 5]; 6] = to_f32(G25);
/// [`G45`] in `f32`.
const G45_F32: [[f32; 5]; 8] = to_f32(G45);

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
        Blocked::new(
            self.geom.batch,
            self.geom.filters,
            self.out[0],
            self.out[1],
            halo,
        )
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

    /// Transforms and packs `w` (`F × C × r × r`, as `Convolution` stores it) into `dst`
    /// ([`WinogradConv::packed_len`] floats): `U = G g Gᵀ` per channel pair, computed in `f64`
    /// and multiplied by `scale[f]` for output channel `f` when given (BatchNorm folding),
    /// rounded once. Padding channels are zero. One thread, the current instruction set
    /// ([`WinogradConv::pack_weights_with`]).
    ///
    /// # Errors
    /// [`ConvError::Length`] when `w`, `scale` or `dst` do not match the geometry.
    pub fn pack_weights(
        &self,
        w: &[f32],
        scale: Option<&[f32]>,
        dst: &mut [f32],
    ) -> Result<(), ConvError> {
        self.pack_weights_with(Isa::current(), w, scale, dst, 1)
    }

    /// [`WinogradConv::pack_weights`] with a chosen instruction set on up to `threads` threads
    /// (whole output channel groups each); the result is the same bits whatever the
    /// instruction set and the thread count. Training packs the weights at every call, so this
    /// is vectorised across the output channels of a group and allocates nothing.
    ///
    /// # Errors
    /// As [`WinogradConv::pack_weights`].
    pub fn pack_weights_with(
        &self,
        isa: Isa,
        w: &[f32],
        scale: Option<&[f32]>,
        dst: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        self.pack_with(isa, w, scale, Order::Plain, dst, threads)
    }

    /// Packs the weights of a data gradient's convolution straight from the forward pass's:
    /// this plan is the correlation of `dy` with `w` (`C × F × r × r` here, the forward
    /// convolution's `F' × C'` with `F' = ` this plan's input channels) flipped in both spatial
    /// axes with its two channel axes swapped, `w'[f][c][k] = w[c][f][r² − 1 − k]`; the same
    /// bits as [`WinogradConv::pack_weights_with`] of that `w'`, without making it.
    ///
    /// # Errors
    /// As [`WinogradConv::pack_weights`].
    pub fn pack_flipped_with(
        &self,
        isa: Isa,
        w: &[f32],
        dst: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        self.pack_with(isa, w, None, Order::Flipped, dst, threads)
    }

    /// [`WinogradConv::pack_weights_with`], of `w`, of its flipped transpose or of its
    /// transpose, as `order` says.
    fn pack_with(
        &self,
        isa: Isa,
        w: &[f32],
        scale: Option<&[f32]>,
        order: Order,
        dst: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        let (c, f) = (self.geom.channels, self.geom.filters);
        let taps = self.kernel * self.kernel;
        check_len("weight", w.len(), f * c * taps)?;
        check_len("packed weight", dst.len(), self.packed_len())?;
        if let Some(s) = scale {
            check_len("weight scale", s.len(), f)?;
        }
        let groups = self.out_groups();
        let per_group = self.packed_len() / groups.max(1);
        let parts = threads
            .min(groups)
            .min(f * c * self.positions() / MIN_PACK_WORK_PER_THREAD)
            .max(1);
        let ranges = parallel::split_range(groups, parts, 1);
        let stream = isa >= Isa::Avx512
            && Isa::Avx512.is_available()
            && self.packed_len() * 4 >= STREAM_MIN_BYTES
            && dst.as_ptr().align_offset(64) == 0;
        let job = PackJob {
            w,
            scale,
            order,
            c,
            f,
            lanes: self.nv * BLOCK,
            ic_blocks: self.ic_blocks,
            variant: self.variant,
            kernel: self.kernel,
            stream,
        };
        let dst = Shared {
            out: dst.as_mut_ptr(),
        };
        parallel::for_each_part(ranges.len(), |p| {
            for og in ranges[p].clone() {
                // SAFETY: `dst` holds `groups · per_group` floats (checked above) and the
                // threads get disjoint ranges of groups, so these slices do not overlap.
                let part = unsafe {
                    std::slice::from_raw_parts_mut(dst.get().add(og * per_group), per_group)
                };
                job.pack_group(isa, og, part);
            }
        });
        Ok(())
    }

    /// Runs the convolution with the current instruction set ([`Isa::current`]) on up to
    /// `threads` threads: `input` blocked as `in_strides` says (its halo at least
    /// [`WinogradConv::input_halo`]), `packed` from [`WinogradConv::pack_weights`], the output
    /// written in `out_layout` (the plan's output shape, any halo; halo columns are zeroed),
    /// with the epilogue as [`super::direct::DirectConv::forward`] applies it.
    ///
    /// # Errors
    /// [`ConvError`] when a buffer does not match the plan or the layouts.
    #[allow(clippy::too_many_arguments, reason = "the convolution's operands")]
    pub fn forward(
        &self,
        input: &[f32],
        in_strides: &InputStrides,
        packed: &[f32],
        epilogue: &Epilogue<'_>,
        out: &mut [f32],
        out_layout: &Blocked,
        threads: usize,
    ) -> Result<(), ConvError> {
        self.forward_with(
            Isa::current(),
            input,
            in_strides,
            packed,
            epilogue,
            out,
            out_layout,
            threads,
        )
    }

    /// [`WinogradConv::forward`] with a chosen instruction set (tests compare them). An
    /// instruction set this CPU lacks runs the portable code. The AVX2 path transforms with
    /// AVX2 and multiplies with the direct kernel's tile for AVX2 when there is one (else its
    /// portable tile).
    ///
    /// # Errors
    /// As [`WinogradConv::forward`].
    #[allow(clippy::too_many_arguments, reason = "the convolution's operands")]
    pub fn forward_with(
        &self,
        isa: Isa,
        input: &[f32],
        in_strides: &InputStrides,
        packed: &[f32],
        epilogue: &Epilogue<'_>,
        out: &mut [f32],
        out_layout: &Blocked,
        threads: usize,
    ) -> Result<(), ConvError> {
        const WHO: &str = "Winograd convolution";
        let g = &self.geom;
        let bias = check_output(
            WHO,
            &self.output_layout(out_layout.halo),
            out,
            out_layout,
            epilogue,
            self.out_groups() * self.nv * BLOCK,
        )?;
        check_len("packed weight", packed.len(), self.packed_len())?;
        check_input(
            WHO,
            g,
            InputLayout::Blocked,
            self.input_halo(),
            input,
            in_strides,
        )?;
        if out.is_empty() {
            return Ok(());
        }
        let [th, tw] = self.tiles;
        let tiles = g.batch * th * tw;
        let t = self.positions();
        let groups = self.out_groups();
        let work = tiles * t * self.ic_blocks * groups * (self.nv * BLOCK * BLOCK);
        let parts = threads.min(work / MIN_WORK_PER_THREAD).max(1);
        // Threads split the tiles; with too few tiles for that, the output channel groups
        // instead (each thread then transforms every tile's input, but streams only its share
        // of the transformed weights, which dominate such layers).
        let by_groups = tiles < parts * SPLIT_TILES && groups > 1;
        let work_parts: Vec<(Range<usize>, Range<usize>)> = if by_groups {
            let ranges = parallel::split_range(groups, parts, 1);
            ranges.into_iter().map(|g| (0..tiles, g)).collect()
        } else {
            let ranges = parallel::split_range(tiles, parts, 1);
            ranges.into_iter().map(|t| (t, 0..groups)).collect()
        };
        let isa = if isa.is_available() { isa } else { Isa::Scalar };
        let (residual, res_layout) = match &epilogue.residual {
            Some((r, l)) => (r.as_ptr(), *l),
            None => (std::ptr::null(), *out_layout),
        };
        let ctx = Ctx {
            isa,
            input: input.as_ptr(),
            s: *in_strides,
            in_size: [g.input[1], g.input[2]],
            pad: [g.pad[1], g.pad[2]],
            out_size: self.out,
            tiles: self.tiles,
            ic_blocks: self.ic_blocks,
            nv: self.nv,
            out_blocks: out_layout.blocks(),
            packed: packed.as_ptr(),
            w_position: self.w_position(),
            bias: bias.as_ptr(),
            residual,
            res_layout,
            relu: epilogue.relu,
            out: Shared {
                out: out.as_mut_ptr(),
            },
            out_layout: *out_layout,
        };
        // Tiles per block: the transformed inputs and one output group's products in L2; but
        // when the transformed weights are too large to stay in the last-level cache, enough
        // tiles that streaming them once per block costs less than the block's products.
        let per_tile = t * BLOCK * (self.ic_blocks + self.nv) * std::mem::size_of::<f32>();
        let mut block_tiles = (BLOCK_BYTES / per_tile).max(1);
        if self.packed_len() * std::mem::size_of::<f32>() > CACHED_WEIGHT_BYTES {
            block_tiles = block_tiles.max(STREAMED_WEIGHT_TILES);
        }
        let run = |p: usize| {
            let (range, groups) = work_parts[p].clone();
            let blocks = range.len().div_ceil(block_tiles);
            let mut start = range.start;
            for b in 0..blocks {
                let len = (range.end - start).div_ceil(blocks - b);
                let block = start..start + len;
                // SAFETY: the buffers were checked against the plan above; threads get
                // disjoint tile ranges or disjoint output groups, so they write disjoint
                // output elements.
                unsafe {
                    let (groups, c) = (groups.clone(), g.channels);
                    match (self.kernel, self.variant) {
                        (5, Variant::F2x2) => ctx.run_block::<F2R5, 6, 2>(block, groups, c),
                        (5, Variant::F4x4) => ctx.run_block::<F4R5, 8, 4>(block, groups, c),
                        (_, Variant::F2x2) => ctx.run_block::<F2, 4, 2>(block, groups, c),
                        (_, Variant::F4x4) => ctx.run_block::<F4, 6, 4>(block, groups, c),
                    }
                }
                start += len;
            }
        };
        parallel::for_each_part(work_parts.len(), run);
        Ok(())
    }
}

/// Whether the environment allows the Winograd kernels: `MXR_WINOGRAD` anything but `0` (read
/// once). Off, the fused inference program and the NCHW entries ([`super::direct::forward_nchw`], the
/// data and weight gradients of [`super::backward`]) use the direct kernels.
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
    let out = geom.output().ok()?;
    let pays = out[1] >= 4
        && out[2] >= 4
        && geom.batch * out[1] * out[2] >= MIN_NCHW_PIXELS
        && geom.channels >= MIN_NCHW_CHANNELS
        && geom.filters >= MIN_NCHW_CHANNELS;
    if !pays || !enabled() {
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

/// The time [`WinogradConv::pack_weights_with`] takes per packed float, in the units of
/// [`WinogradConv::cost`] (vector multiply-adds), fitted so that the choice matches the
/// timings on ResNet-18's training layers at batch 16 (Zen 4, one thread): since the transform
/// runs in `f32` and streams large packs, `F(4×4)` wins on all of them, the last stage (4×4
/// maps, 512 channels: 6.4–7.7 ms against 9.0–9.4 for `F(2×2)`) included, which the cost
/// model alone, underrating `F(2×2)`'s per-tile overheads, would give to `F(2×2)` above 0.95.
const PACK_COST: f64 = 0.75;

super::direct::blocked_plan!(WinogradConv);

/// Transformed weights per thread, at least (in products `U` computed): smaller packs run on
/// one thread.
const MIN_PACK_WORK_PER_THREAD: usize = 1 << 18;

/// How [`PackJob`] reads the weights `w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// `F × C × r × r`, as `Convolution` stores them.
    Plain,
    /// `C × F × r × r`: the weights are `w`'s flipped transpose (see
    /// [`WinogradConv::pack_flipped_with`]).
    Flipped,
    /// `C × F × r × r`: the weights are `w`'s transpose, `w'[f][c][k] = w[c][f][k]` (the
    /// transposed data gradient, [`dgrad`]).
    Transposed,
}

/// The operands of [`WinogradConv::pack_weights_with`].
struct PackJob<'a> {
    w: &'a [f32],
    scale: Option<&'a [f32]>,
    /// How the weights are read from `w`.
    order: Order,
    c: usize,
    f: usize,
    /// Output channels per group (`nv · 16`).
    lanes: usize,
    ic_blocks: usize,
    variant: Variant,
    /// The kernel's side `r` (3 or 5).
    kernel: usize,
    /// Store with non-temporal (streaming) stores: AVX-512 is available, the packed weights
    /// are at least [`STREAM_MIN_BYTES`] and 64-byte aligned.
    stream: bool,
}

/// Packed weights from which the transform stores them with non-temporal stores. A larger
/// pack does not stay in the caches for the product that reads it anyway, and ordinary stores
/// first read every line they fill (ResNet-18's 512-channel layers: 38 MB written at 6 GB/s;
/// streamed, at the memory's write speed).
const STREAM_MIN_BYTES: usize = 8 << 20;

/// The most output channels of one group.
const MAX_LANES: usize = 2 * BLOCK;

impl PackJob<'_> {
    /// Packs output group `og` into `dst` (its `positions · ic_blocks · 16 · lanes` floats), with
    /// the code vectorised for `isa` when this CPU has it.
    fn pack_group(&self, isa: Isa, og: usize, dst: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            if isa >= Isa::Avx512 && Isa::Avx512.is_available() {
                // SAFETY: AVX-512F is available (checked just above).
                unsafe { self.pack_group_avx512(og, dst) };
                if self.stream {
                    // SAFETY: SSE is part of x86-64. Orders the streaming stores before the
                    // fork-join's completion signal, so that the threads reading the packed
                    // weights next see them.
                    unsafe { std::arch::x86_64::_mm_sfence() };
                }
                return;
            }
            if isa >= Isa::Avx2 && Isa::Avx2.is_available() {
                // SAFETY: AVX2 is available (checked just above).
                return unsafe { self.pack_group_avx2(og, dst) };
            }
        }
        let _ = isa;
        self.pack_group_any(Isa::Scalar, og, dst);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn pack_group_avx512(&self, og: usize, dst: &mut [f32]) {
        self.pack_group_any(Isa::Avx512, og, dst);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn pack_group_avx2(&self, og: usize, dst: &mut [f32]) {
        self.pack_group_any(Isa::Avx2, og, dst);
    }

    #[inline(always)]
    fn pack_group_any(&self, isa: Isa, og: usize, dst: &mut [f32]) {
        const L2: usize = MAX_LANES;
        match (self.kernel, self.variant, self.lanes) {
            (5, Variant::F2x2, BLOCK) => self.pack::<6, 5, 25, BLOCK>(isa, &G25_F32, og, dst),
            (5, Variant::F2x2, _) => self.pack::<6, 5, 25, L2>(isa, &G25_F32, og, dst),
            (5, Variant::F4x4, BLOCK) => self.pack::<8, 5, 25, BLOCK>(isa, &G45_F32, og, dst),
            (5, Variant::F4x4, _) => self.pack::<8, 5, 25, L2>(isa, &G45_F32, og, dst),
            (_, Variant::F2x2, BLOCK) => self.pack::<4, 3, 9, BLOCK>(isa, &G2_F32, og, dst),
            (_, Variant::F2x2, _) => self.pack::<4, 3, 9, L2>(isa, &G2_F32, og, dst),
            (_, Variant::F4x4, BLOCK) => self.pack::<6, 3, 9, BLOCK>(isa, &G4_F32, og, dst),
            (_, Variant::F4x4, _) => self.pack::<6, 3, 9, L2>(isa, &G4_F32, og, dst),
        }
    }

    /// `U = G g Gᵀ · scale` for every input channel and the `L` output channels of group `og`,
    /// all lanes at once (lanes past `F` are zero); the same `f32` operations in the same order
    /// as a scalar loop (multiplications and additions, never fused), so the bits do not depend
    /// on the vector width. (In `f64` the transform took 9.6 ms for ResNet-18's 512-channel
    /// layers, five times what writing its 38 MB costs: spilled registers, half-width vectors.)
    /// `R` is the kernel's side, `KK = R²` its taps.
    #[inline(always)]
    fn pack<const A: usize, const R: usize, const KK: usize, const L: usize>(
        &self,
        isa: Isa,
        gm: &[[f32; R]; A],
        og: usize,
        dst: &mut [f32],
    ) {
        let c = self.c;
        let oc0 = og * L;
        let n = L.min(self.f - oc0);
        let scale: [f32; L] = std::array::from_fn(|j| match self.scale {
            _ if j >= n => 0.0,
            Some(s) => s[oc0 + j],
            None => 1.0,
        });
        let row = self.ic_blocks * BLOCK * L;
        // The group's weights of 16 input channels at a time, transposed so that one
        // (channel, tap) row holds the L output channels' values (zero past F): `taps[i][k][j]`
        // is tap k of input channel ic0 + i, output channel oc0 + j (flipped: tap KK − 1 − k).
        let mut taps = [[[0.0f32; L]; KK]; BLOCK];
        for ic0 in (0..c).step_by(BLOCK) {
            let cic = BLOCK.min(c - ic0);
            for h in 0..L / BLOCK {
                let rows = BLOCK.min(n.saturating_sub(h * BLOCK));
                if self.order != Order::Plain {
                    // Input channel ic's weights for output channels oc0 + 16h.. are `rows`
                    // rows of KK taps, one after the other (transposed 16 taps at a time).
                    for (i, t) in taps.iter_mut().enumerate().take(cic) {
                        for k0 in (0..KK).step_by(BLOCK) {
                            let cols = BLOCK.min(KK - k0);
                            let src = ((ic0 + i) * self.f + oc0 + h * BLOCK) * KK + k0;
                            // SAFETY: `isa` is available (the caller's dispatch); rows `r <
                            // rows` read `src + KK·r .. + cols`, taps `k0 .. k0 + cols <= KK`
                            // of output channel oc0 + 16h + r < F of input channel ic0 + i < C
                            // in `w` (`C × F × KK`), when there are rows; the tile writes
                            // `cols` rows of 16 floats of `t` from row k0, lane 16h.
                            unsafe {
                                crate::cpu::tile::transpose(
                                    isa,
                                    self.w.as_ptr().wrapping_add(src),
                                    KK,
                                    rows,
                                    cols,
                                    t.as_mut_ptr().cast::<f32>().add(k0 * L + h * BLOCK),
                                    L,
                                    cols,
                                );
                            }
                        }
                    }
                    continue;
                }
                let width = cic * KK;
                for cb in (0..width).step_by(BLOCK) {
                    let cols = BLOCK.min(width - cb);
                    let src = ((oc0 + h * BLOCK) * c + ic0) * KK + cb;
                    // SAFETY: `isa` is available (the caller's dispatch); rows `i < rows` read
                    // `src + i·KK·c .. + cols`, inside output channel oc0 + 16h + i < F's
                    // weights (`cb + cols <= KK·cic` floats from input channel ic0,
                    // `ic0 + cic <= C`), when there are rows at all; the tile writes
                    // `cols <= 16` rows of `taps` from `(cb)·L + 16h`, 16 floats each, inside
                    // its `16·KK·L` floats.
                    unsafe {
                        crate::cpu::tile::transpose(
                            isa,
                            self.w.as_ptr().wrapping_add(src),
                            KK * c,
                            rows,
                            cols,
                            taps.as_mut_ptr().cast::<f32>().add(cb * L + h * BLOCK),
                            L,
                            cols,
                        );
                    }
                }
            }
            for (i, t) in taps.iter().enumerate().take(cic) {
                let flip = self.order == Order::Flipped;
                let tap = |k: usize| if flip { KK - 1 - k } else { k };
                let g: [[f32; L]; KK] = std::array::from_fn(|k| t[tap(k)]);
                self.transform::<A, R, KK, L>(gm, &g, &scale, ic0 + i, dst);
            }
        }
        // The padding input channels of the last block.
        for xi in 0..A * A {
            let at = xi * row;
            dst[at + c * L..at + row].fill(0.0);
        }
    }

    /// `U = G g Gᵀ · scale` of input channel `ic` for the `L` lanes of `g` (`g[k][j]`: tap `k`
    /// of lane `j`), into `dst` at each transform position. The sums run left to right, each
    /// product rounded (never fused).
    #[inline(always)]
    fn transform<const A: usize, const R: usize, const KK: usize, const L: usize>(
        &self,
        gm: &[[f32; R]; A],
        g: &[[f32; L]; KK],
        scale: &[f32; L],
        ic: usize,
        dst: &mut [f32],
    ) {
        // Row p of G g (R values per lane), then row p of (G g) Gᵀ (α values per lane).
        for (p, grow) in gm.iter().enumerate() {
            let mut gg = [[0.0f32; L]; R];
            for (l, ggl) in gg.iter_mut().enumerate() {
                for j in 0..L {
                    let mut acc = grow[0] * g[l][j];
                    for k in 1..R {
                        acc += grow[k] * g[k * R + l][j];
                    }
                    ggl[j] = acc;
                }
            }
            for (q, gq) in gm.iter().enumerate() {
                let at = ((p * A + q) * self.ic_blocks * BLOCK + ic) * L;
                // The range is L floats long, so the conversion cannot fail.
                let out: &mut [f32; L] = (&mut dst[at..at + L])
                    .try_into()
                    .expect("a slice of L floats");
                let mut u = [0.0f32; L];
                for j in 0..L {
                    let mut acc = gg[0][j] * gq[0];
                    for k in 1..R {
                        acc += gg[k][j] * gq[k];
                    }
                    u[j] = acc * scale[j];
                }
                #[cfg(target_arch = "x86_64")]
                if self.stream {
                    for (d, v) in out.chunks_exact_mut(BLOCK).zip(u.chunks_exact(BLOCK)) {
                        // SAFETY: `stream` is set only with AVX-512F available and `dst`
                        // 64-byte aligned; `at` is a multiple of `L` (16 or 32 floats), so
                        // every 16-float chunk of `out` is 64-byte aligned and 16 floats long,
                        // as is `v`.
                        unsafe { stream16(d.as_mut_ptr(), v.as_ptr()) };
                    }
                    continue;
                }
                *out = u;
            }
        }
    }
}

/// Stores the 16 floats at `src` to `dst` with a non-temporal store.
///
/// # Safety
/// AVX-512F is available, `src` is readable and `dst` writable for 16 floats, and `dst` is
/// 64-byte aligned.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn stream16(dst: *mut f32, src: *const f32) {
    use std::arch::x86_64::{_mm512_loadu_ps, _mm512_stream_ps};
    // SAFETY: the caller's contract.
    unsafe { _mm512_stream_ps(dst, _mm512_loadu_ps(src)) };
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

/// `lines` cache lines of floats, rounded up to an odd number of lines.
fn odd_lines(lines: usize) -> usize {
    (lines | 1) * BLOCK
}

thread_local! {
    /// Per-thread scratch: the transformed inputs and the products of one block of tiles.
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

impl Ctx {
    /// Image, tile row and tile column of tile `t`.
    fn tile_pos(&self, t: usize) -> (usize, usize, usize) {
        let [th, tw] = self.tiles;
        (t / (th * tw), (t / tw) % th, t % tw)
    }

    /// Computes the output channel groups `groups` of the tiles `tiles` (for `F(M×M, r×r)`,
    /// `A = M + r − 1`, transforms `K`), with the matrix products over the first `channels`
    /// input channels only (the true count: the rest of the last block is padding).
    ///
    /// # Safety
    /// The context's buffers were checked against the plan, `groups` are output groups,
    /// `channels <= 16·ic_blocks`; no other thread writes these groups of these tiles.
    unsafe fn run_block<K: Transform<A, M>, const A: usize, const M: usize>(
        &self,
        tiles: Range<usize>,
        groups: Range<usize>,
        channels: usize,
    ) {
        // SAFETY: the caller's; the transforms get the buffers `products` documents for them.
        unsafe {
            self.products::<A>(
                tiles.len(),
                groups,
                channels,
                |v, strides| self.input_block::<K, A, M>(tiles.clone(), v, strides),
                |og, m, m_xi| self.output_block::<K, A, M>(tiles.clone(), og, m, m_xi),
            );
        }
    }

    /// The steps of [`Ctx::run_block`] for a block of `nt` tiles and `α = A`: `input` writes
    /// the transformed inputs (`V[ξ][icb][k][16]` at `ξ·v_xi + icb·v_block + k·16`, given a
    /// pointer and `[v_xi, v_block]`), then, per output group `og`, the matrix products over
    /// the first `channels` input channels into `M[ξ][v][k][16]` (at `ξ·m_xi + (v·nt + k)·16`)
    /// and `output(og, m, m_xi)` transforms them.
    ///
    /// # Safety
    /// As [`Ctx::run_block`]; `input` writes every element it is given (for `ic_blocks`
    /// blocks), `output` reads only `nv` blocks of `nt` tiles at each position.
    unsafe fn products<const A: usize>(
        &self,
        nt: usize,
        groups: Range<usize>,
        channels: usize,
        input: impl FnOnce(*mut f32, [usize; 2]),
        mut output: impl FnMut(usize, *const f32, usize),
    ) {
        let t = A * A;
        let nv = self.nv;
        // Floats per transform position: an odd number of cache lines, so that the α² vectors
        // one tile reads or writes (one per position) fall into different L1 sets.
        let (v_xi, m_xi) = (odd_lines(self.ic_blocks * nt), odd_lines(nv * nt));
        let (v_len, m_len) = (t * v_xi, t * m_xi);
        let mut scratch = SCRATCH.take();
        // 64-byte aligned vectors: one cache line each.
        if scratch.len() < v_len + m_len + BLOCK {
            scratch.resize(v_len + m_len + BLOCK, 0.0);
        }
        let off = scratch.as_ptr().align_offset(64).min(BLOCK);
        let (v, m) = scratch[off..].split_at_mut(v_len);
        let (v, m) = (v.as_mut_ptr(), m.as_mut_ptr());
        let tap = [Tap {
            input: 0,
            weight: 0,
        }];
        let chunks = nt.div_ceil(max_tile_pixels(self.isa));
        let w_block = BLOCK * nv * BLOCK;
        // SAFETY: `v` and `m` hold `v_len` and `m_len` floats, laid out as `input_block` and
        // `output_block` document; the tile jobs read blocks `c0..` of `V[ξ]` (`ic_blocks`
        // blocks of `nt` tiles) and the packed weights of group `og` at position `ξ` (checked
        // length), and read (as the residual, after the first run of blocks) and write `M[ξ]`
        // (`nv` blocks of `nt` tiles), each element read before it is written.
        unsafe {
            input(v, [v_xi, nt * BLOCK]);
            for og in groups {
                for xi in 0..t {
                    let mut r0 = 0;
                    for ch in 0..chunks {
                        let rows = (nt - r0).div_ceil(chunks - ch);
                        let out = m.add(xi * m_xi + r0 * BLOCK);
                        // Blocked summation: each run of `SUM_BLOCKS` input blocks starts from
                        // zero in registers and is added to the sum so far as it is stored
                        // (through the residual), not chained onto it. A partial last block
                        // (`tail` channels) runs on its own, added the same way.
                        for c0 in (0..self.ic_blocks).step_by(SUM_BLOCKS) {
                            let n = SUM_BLOCKS.min(self.ic_blocks - c0);
                            let last = (c0 + n) * BLOCK;
                            let tail = if last > channels {
                                BLOCK - (last - channels)
                            } else {
                                BLOCK
                            };
                            let full = if tail < BLOCK { n - 1 } else { n };
                            let parts = [(c0, full, BLOCK), (c0 + full, n - full, tail)];
                            for (b0, blocks, ch) in parts {
                                if blocks == 0 || ch == 0 {
                                    continue;
                                }
                                let job = TileJob {
                                    inp: v.add(xi * v_xi + (b0 * nt + r0) * BLOCK),
                                    in_block: nt * BLOCK,
                                    in_ic: 1,
                                    pixel_step: BLOCK,
                                    channels: ch,
                                    blocks,
                                    w: self
                                        .packed
                                        .add((og * t + xi) * self.w_position + b0 * w_block),
                                    w_block,
                                    out,
                                    out_block: nt * BLOCK,
                                    nv_store: nv,
                                    rows,
                                    bias: std::ptr::null(),
                                    residual: if b0 == 0 { std::ptr::null() } else { out },
                                    res_block: nt * BLOCK,
                                    accumulate: false,
                                    relu: false,
                                };
                                run_tile(self.isa, nv, &job, &tap);
                            }
                        }
                        r0 += rows;
                    }
                }
                output(og, m, m_xi);
            }
        }
        SCRATCH.set(scratch);
    }

    /// The input transform of `tiles` into `v`: `V[ξ][icb][k][16]` for position `ξ`, channel
    /// block `icb` and the `k`-th tile of the range, at `ξ·v_xi + icb·v_block + k·16`, where
    /// `[v_xi, v_block] = strides` (the forward pass: `v_block = nt·16`).
    ///
    /// # Safety
    /// As [`Ctx::run_block`]; `v` holds every position, block and tile at those offsets.
    pub(super) unsafe fn input_block<K: Transform<A, M>, const A: usize, const M: usize>(
        &self,
        tiles: Range<usize>,
        v: *mut f32,
        strides: [usize; 2],
    ) {
        // SAFETY: forwarded; each kernel exists for its instruction set, which is available.
        unsafe {
            match self.isa {
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => x86::input_avx512::<K, A, M>(self, tiles, v, strides),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => x86::input_avx2::<K, A, M>(self, tiles, v, strides),
                _ => input_tiles::<[f32; BLOCK], K, A, M>(self, tiles, v, strides),
            }
        }
    }

    /// The output transform of the products `m` of output group `og` for `tiles`, with the
    /// epilogue, into the output. `m` is `M[ξ][v][k][16]` at `ξ·m_xi + (v·nt + k)·16`.
    ///
    /// # Safety
    /// As [`Ctx::run_block`]; `m` holds `α²` positions of `m_xi >= nv·nt·16` floats.
    unsafe fn output_block<K: Transform<A, M>, const A: usize, const M: usize>(
        &self,
        tiles: Range<usize>,
        og: usize,
        m: *const f32,
        m_xi: usize,
    ) {
        // SAFETY: forwarded; each kernel exists for its instruction set, which is available.
        unsafe {
            match self.isa {
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => x86::output_avx512::<K, A, M>(self, tiles, og, m, m_xi),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => x86::output_avx2::<K, A, M>(self, tiles, og, m, m_xi),
                _ => output_tiles::<[f32; BLOCK], K, A, M>(self, tiles, og, m, m_xi),
            }
        }
    }
}

/// The 1-D transforms of `F(M, r)` with `A = M + r − 1`, on vectors of 16 channels; the 2-D
/// transforms apply them to columns, then rows.
trait Transform<const A: usize, const M: usize> {
    /// `Bᵀ d`.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn input<V: Lanes>(d: [V; A]) -> [V; A];
    /// `Aᵀ m`.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn output<V: Lanes>(m: [V; A]) -> [V; M];
}

/// `F(2, 3)`: `Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]`, `Aᵀ = [1 1 1 0; 0 1 −1 −1]`.
struct F2;

impl Transform<4, 2> for F2 {
    #[inline(always)]
    unsafe fn input<V: Lanes>(d: [V; 4]) -> [V; 4] {
        // SAFETY: the caller's.
        unsafe {
            [
                d[0].sub(d[2]),
                d[1].add(d[2]),
                d[2].sub(d[1]),
                d[1].sub(d[3]),
            ]
        }
    }

    #[inline(always)]
    unsafe fn output<V: Lanes>(m: [V; 4]) -> [V; 2] {
        // SAFETY: the caller's.
        unsafe { [m[0].add(m[1]).add(m[2]), m[1].sub(m[2]).sub(m[3])] }
    }
}

/// `F(4, 3)` with the interpolation points 0, 1, −1, 1/2, −2 and ∞ (rather than Lavin & Gray's
/// 0, ±1, ±2, ∞, whose larger transform entries cost about twice the rounding error; see
/// Barabasz et al., *Error analysis and improving the accuracy of Winograd convolution for deep
/// neural networks*, 2020), with common subexpressions:
/// `Bᵀ = [1 −3/2 −2 3/2 1 0; 0 −1 1/2 5/2 1 0; 0 1 −5/2 1/2 1 0; 0 −2 −1 2 1 0;
/// 0 1/2 −1 −1/2 1 0; 0 1 −3/2 −2 3/2 1]`,
/// `Aᵀ = [1 1 1 1 1 0; 0 1 −1 1/2 −2 0; 0 1 1 1/4 4 0; 0 1 −1 1/8 −8 1]`. Every entry is exact
/// in `f32`.
struct F4;

impl Transform<6, 4> for F4 {
    #[inline(always)]
    unsafe fn input<V: Lanes>(d: [V; 6]) -> [V; 6] {
        // SAFETY: the caller's.
        unsafe {
            let e = d[3].sub(d[1]);
            let d42 = d[4].sub(d[2]);
            [
                e.mul_add(1.5, d[2].mul_add(-2.0, d[0].add(d[4]))),
                d[3].mul_add(2.5, d[2].mul_add(0.5, d[4].sub(d[1]))),
                d[3].mul_add(0.5, d[2].mul_add(-2.5, d[4].add(d[1]))),
                e.mul_add(2.0, d42),
                e.mul_add(-0.5, d42),
                d[4].mul_add(1.5, d[2].mul_add(-1.5, d[3].mul_add(-2.0, d[1].add(d[5])))),
            ]
        }
    }

    #[inline(always)]
    unsafe fn output<V: Lanes>(m: [V; 6]) -> [V; 4] {
        // SAFETY: the caller's.
        unsafe {
            let (a, b) = (m[1].add(m[2]), m[1].sub(m[2]));
            [
                m[0].add(a).add(m[3].add(m[4])),
                m[4].mul_add(-2.0, m[3].mul_add(0.5, b)),
                m[4].mul_add(4.0, m[3].mul_add(0.25, a)),
                m[4].mul_add(-8.0, m[3].mul_add(0.125, b)).add(m[5]),
            ]
        }
    }
}

/// `F(2, 5)` with the interpolation points of [`F4`] (0, 1, −1, 1/2, −2, ∞): `Bᵀ` is
/// [`F4`]'s, `Aᵀ = [1 1 1 1 1 0; 0 1 −1 1/2 −2 1]` (and `G` is [`G25`]).
struct F2R5;

impl Transform<6, 2> for F2R5 {
    #[inline(always)]
    unsafe fn input<V: Lanes>(d: [V; 6]) -> [V; 6] {
        // SAFETY: the caller's.
        unsafe { <F4 as Transform<6, 4>>::input(d) }
    }

    #[inline(always)]
    unsafe fn output<V: Lanes>(m: [V; 6]) -> [V; 2] {
        // SAFETY: the caller's.
        unsafe {
            [
                m[0].add(m[1].add(m[2])).add(m[3].add(m[4])),
                m[4].mul_add(-2.0, m[3].mul_add(0.5, m[1].sub(m[2])))
                    .add(m[5]),
            ]
        }
    }
}

/// `F(4, 5)` with the interpolation points 0, 1, −1, 2, −2, 1/2, −1/2 and ∞ (Lavin & Gray's
/// `F(6, 3)` points; `G` is [`G45`]), with common subexpressions:
/// `Bᵀ = [1 0 −21/4 0 21/4 0 −1 0; 0 1 1 −17/4 −17/4 1 1 0; 0 −1 1 17/4 −17/4 −1 1 0;
/// 0 1/2 1/4 −5/2 −5/4 2 1 0; 0 −1/2 1/4 5/2 −5/4 −2 1 0; 0 2 4 −5/2 −5 1/2 1 0;
/// 0 −2 4 5/2 −5 −1/2 1 0; 0 −1 0 21/4 0 −21/4 0 1]`,
/// `Aᵀ = [1 1 1 1 1 1 1 0; 0 1 −1 2 −2 1/2 −1/2 0; 0 1 1 4 4 1/4 1/4 0;
/// 0 1 −1 8 −8 1/8 −1/8 1]`. Every entry is exact in `f32`.
struct F4R5;

impl Transform<8, 4> for F4R5 {
    #[inline(always)]
    unsafe fn input<V: Lanes>(d: [V; 8]) -> [V; 8] {
        // SAFETY: the caller's.
        unsafe {
            let t1 = d[4].mul_add(-4.25, d[2].add(d[6]));
            let t2 = d[3].mul_add(-4.25, d[1].add(d[5]));
            let t3 = d[4].mul_add(-1.25, d[2].mul_add(0.25, d[6]));
            let t4 = d[5].mul_add(2.0, d[3].mul_add(-2.5, d[1].mul_add(0.5, V::zero())));
            let t5 = d[4].mul_add(-5.0, d[2].mul_add(4.0, d[6]));
            let t6 = d[5].mul_add(0.5, d[3].mul_add(-2.5, d[1].mul_add(2.0, V::zero())));
            [
                d[4].sub(d[2]).mul_add(5.25, d[0].sub(d[6])),
                t1.add(t2),
                t1.sub(t2),
                t3.add(t4),
                t3.sub(t4),
                t5.add(t6),
                t5.sub(t6),
                d[3].sub(d[5]).mul_add(5.25, d[7].sub(d[1])),
            ]
        }
    }

    #[inline(always)]
    unsafe fn output<V: Lanes>(m: [V; 8]) -> [V; 4] {
        // SAFETY: the caller's.
        unsafe {
            let (a1, b1) = (m[1].add(m[2]), m[1].sub(m[2]));
            let (a2, b2) = (m[3].add(m[4]), m[3].sub(m[4]));
            let (a3, b3) = (m[5].add(m[6]), m[5].sub(m[6]));
            [
                m[0].add(a1).add(a2.add(a3)),
                b3.mul_add(0.5, b2.mul_add(2.0, b1)),
                a3.mul_add(0.25, a2.mul_add(4.0, a1)),
                b3.mul_add(0.125, b2.mul_add(8.0, b1)).add(m[7]),
            ]
        }
    }
}

/// 16 lanes of `f32` (one channel block) in some instruction set's registers.
trait Lanes: Copy {
    /// All zero.
    ///
    /// # Safety
    /// (Every method:) the instruction set is available; pointers cover 16 floats.
    unsafe fn zero() -> Self;
    /// Loads 16 floats.
    unsafe fn load(p: *const f32) -> Self;
    /// Stores 16 floats.
    unsafe fn store(self, p: *mut f32);
    /// `self + o`.
    unsafe fn add(self, o: Self) -> Self;
    /// `self − o`.
    unsafe fn sub(self, o: Self) -> Self;
    /// `self · c + acc`, fused.
    unsafe fn mul_add(self, c: f32, acc: Self) -> Self;
    /// MXNet's relu: 0 where `self <= 0`, else `self` (NaN kept).
    unsafe fn relu(self) -> Self;
}

impl Lanes for [f32; BLOCK] {
    #[inline(always)]
    unsafe fn zero() -> Self {
        [0.0; BLOCK]
    }

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: `p` covers 16 floats (the caller's).
        unsafe { p.cast::<[f32; BLOCK]>().read_unaligned() }
    }

    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: `p` covers 16 floats (the caller's).
        unsafe { p.cast::<[f32; BLOCK]>().write_unaligned(self) }
    }

    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        std::array::from_fn(|i| self[i] + o[i])
    }

    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        std::array::from_fn(|i| self[i] - o[i])
    }

    #[inline(always)]
    unsafe fn mul_add(self, c: f32, acc: Self) -> Self {
        std::array::from_fn(|i| self[i].mul_add(c, acc[i]))
    }

    #[inline(always)]
    unsafe fn relu(self) -> Self {
        self.map(|y| if y <= 0.0 { 0.0 } else { y })
    }
}

/// The input transform of `tiles` into `v` (see [`Ctx::input_block`]), on vectors `V`.
///
/// # Safety
/// As [`Ctx::input_block`], and `V`'s instruction set is available.
#[inline(always)]
unsafe fn input_tiles<V: Lanes, K: Transform<A, M>, const A: usize, const M: usize>(
    c: &Ctx,
    tiles: Range<usize>,
    v: *mut f32,
    [v_xi, v_block]: [usize; 2],
) {
    let s = &c.s;
    let [ih, iw] = c.in_size;
    // Channel blocks outermost: consecutive tiles then read each input row onwards (a few
    // sequential streams the prefetcher follows).
    for icb in 0..c.ic_blocks {
        for (k, t) in tiles.clone().enumerate() {
            let (n, ty, tx) = c.tile_pos(t);
            // The tile's first input row and column (negative in the padding).
            let iy0 = (ty * M) as isize - c.pad[0] as isize;
            let ix0 = (tx * M) as isize - c.pad[1] as isize;
            // Rows and columns of the tile inside the image; the rest read as zero.
            let inside = |x0: isize, size: usize| {
                let lo = (-x0).clamp(0, A as isize) as usize;
                let hi = (size as isize - x0).clamp(lo as isize, A as isize) as usize;
                lo..hi
            };
            let (rows, cols) = (inside(iy0, ih), inside(ix0, iw));
            let full = rows == (0..A) && cols == (0..A);
            // SAFETY: rows `iy0 + r` and columns `ix0 + col` (`r` in `rows`, `col` in `cols`)
            // lie inside the image, whose blocked buffer (checked against the strides) holds
            // them at `n·image + icb·block + row·(iy0 + r) + (halo + ix0 + col)·16`; `v` holds
            // position `ξ`, block `icb`, tile `k` for `ξ < α²`, `icb < ic_blocks`, `k < nt`;
            // every element of `bd` is written (the first loop) before it is read.
            unsafe {
                // Wrapping: in the padding, `base` itself lies outside the buffer.
                let base = c.input.add(n * s.image + icb * s.block).wrapping_offset(
                    iy0 * s.row as isize + (ix0 + s.halo as isize) * BLOCK as isize,
                );
                let at = |r: usize, col: usize| base.wrapping_add(r * s.row + col * BLOCK);
                // Bᵀ d, column by column (`bd[column][i]`), then row `i` of (Bᵀ d) B. (Plain
                // loops: closures would not inherit the caller's instruction set, and the
                // intrinsics in them would not be inlined.)
                // (Uninitialised: zeroing it first costs a memset per tile; every element is
                // written before it is read.)
                let mut bd = [[MaybeUninit::<V>::uninit(); A]; A];
                for (col, out) in bd.iter_mut().enumerate() {
                    let mut d = [V::zero(); A];
                    if full {
                        for (r, x) in d.iter_mut().enumerate() {
                            *x = V::load(at(r, col));
                        }
                    } else if cols.contains(&col) {
                        for r in rows.clone() {
                            d[r] = V::load(at(r, col));
                        }
                    }
                    *out = K::input(d).map(MaybeUninit::new);
                }
                #[allow(clippy::needless_range_loop, reason = "a transpose")]
                for i in 0..A {
                    let mut row = [V::zero(); A];
                    for (col, x) in row.iter_mut().enumerate() {
                        *x = bd[col][i].assume_init();
                    }
                    for (j, y) in K::input(row).into_iter().enumerate() {
                        y.store(v.add((i * A + j) * v_xi + icb * v_block + k * BLOCK));
                    }
                }
            }
        }
    }
}

/// The output transform and epilogue of group `og` for `tiles` (see [`Ctx::output_block`]),
/// on vectors `V`.
///
/// # Safety
/// As [`Ctx::output_block`], and `V`'s instruction set is available.
#[inline(always)]
unsafe fn output_tiles<V: Lanes, K: Transform<A, M>, const A: usize, const M: usize>(
    c: &Ctx,
    tiles: Range<usize>,
    og: usize,
    m: *const f32,
    m_xi: usize,
) {
    let nt = tiles.len();
    let nv = c.nv;
    let [oh, ow] = c.out_size;
    let tw = c.tiles[1];
    let (ol, rl) = (&c.out_layout, &c.res_layout);
    let halo = ol.halo;
    let nv_store = nv.min(c.out_blocks - og * nv);
    for (k, t) in tiles.enumerate() {
        let (n, ty, tx) = c.tile_pos(t);
        let (oy0, ox0) = (ty * M, tx * M);
        let (rows, cols) = (M.min(oh - oy0), M.min(ow - ox0));
        for vb in 0..nv_store {
            let ocb = og * nv + vb;
            // SAFETY: `m` holds position `ξ`, block `vb`, tile `k`; output (and residual)
            // pixels `(oy0 + p, ox0 + q)` with `p < rows`, `q < cols` lie inside the checked
            // output of image `n`, block `ocb < out_blocks`, as do its halo columns; the bias
            // covers every block of every group; every element of `am` is written (the first
            // loop) before it is read.
            unsafe {
                // Aᵀ M, column by column (`am[column][p]`); row `p` of (Aᵀ M) A below. (Plain
                // loops, as in `input_tiles`.)
                let mut am = [[MaybeUninit::<V>::uninit(); M]; A];
                for (j, out) in am.iter_mut().enumerate() {
                    let mut col = [V::zero(); A];
                    for (i, x) in col.iter_mut().enumerate() {
                        *x = V::load(m.add((i * A + j) * m_xi + (vb * nt + k) * BLOCK));
                    }
                    *out = K::output(col).map(MaybeUninit::new);
                }
                let bias = V::load(c.bias.add(ocb * BLOCK));
                let out = c
                    .out
                    .get()
                    .add(n * ol.image() + ocb * ol.plane() + oy0 * ol.pitch());
                let res = c
                    .residual
                    .wrapping_add(n * rl.image() + ocb * rl.plane() + oy0 * rl.pitch());
                #[allow(clippy::needless_range_loop, reason = "a transpose")]
                for p in 0..rows {
                    let mut row = [V::zero(); A];
                    for (j, x) in row.iter_mut().enumerate() {
                        *x = am[j][p].assume_init();
                    }
                    let y = K::output(row);
                    let orow = out.add(p * ol.pitch());
                    for (q, &yq) in y.iter().enumerate().take(cols) {
                        let mut val = yq.add(bias);
                        if !c.residual.is_null() {
                            val = val.add(V::load(
                                res.add(p * rl.pitch() + (rl.halo + ox0 + q) * BLOCK),
                            ));
                        }
                        if c.relu {
                            val = val.relu();
                        }
                        val.store(orow.add((halo + ox0 + q) * BLOCK));
                    }
                    if halo > 0 && tx == 0 {
                        std::ptr::write_bytes(orow, 0, halo * BLOCK);
                    }
                    if halo > 0 && tx + 1 == tw {
                        std::ptr::write_bytes(orow.add((halo + ow) * BLOCK), 0, halo * BLOCK);
                    }
                }
            }
        }
    }
}

/// The vector kernels of x86-64: the generic transforms instantiated for AVX-512 (`__m512`)
/// and AVX2 (two `__m256`).
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m256, __m512, _CMP_NLE_UQ, _mm256_add_ps, _mm256_and_ps, _mm256_cmp_ps, _mm256_fmadd_ps,
        _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps, _mm256_sub_ps,
        _mm512_add_ps, _mm512_cmp_ps_mask, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_maskz_mov_ps,
        _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps, _mm512_sub_ps,
    };
    use std::ops::Range;

    use super::{Ctx, Lanes, Transform, input_tiles, output_tiles};

    impl Lanes for __m512 {
        #[inline(always)]
        unsafe fn zero() -> Self {
            // SAFETY: AVX-512 is available (the caller's).
            unsafe { _mm512_setzero_ps() }
        }

        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: AVX-512 is available and `p` covers 16 floats (the caller's).
            unsafe { _mm512_loadu_ps(p) }
        }

        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            // SAFETY: AVX-512 is available and `p` covers 16 floats (the caller's).
            unsafe { _mm512_storeu_ps(p, self) }
        }

        #[inline(always)]
        unsafe fn add(self, o: Self) -> Self {
            // SAFETY: AVX-512 is available (the caller's).
            unsafe { _mm512_add_ps(self, o) }
        }

        #[inline(always)]
        unsafe fn sub(self, o: Self) -> Self {
            // SAFETY: AVX-512 is available (the caller's).
            unsafe { _mm512_sub_ps(self, o) }
        }

        #[inline(always)]
        unsafe fn mul_add(self, c: f32, acc: Self) -> Self {
            // SAFETY: AVX-512 is available (the caller's).
            unsafe { _mm512_fmadd_ps(self, _mm512_set1_ps(c), acc) }
        }

        #[inline(always)]
        unsafe fn relu(self) -> Self {
            // SAFETY: AVX-512 is available (the caller's).
            unsafe {
                let keep = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(self, _mm512_setzero_ps());
                _mm512_maskz_mov_ps(keep, self)
            }
        }
    }

    /// 16 lanes as two AVX2 registers.
    #[derive(Clone, Copy)]
    pub(super) struct Avx2x2([__m256; 2]);

    impl Lanes for Avx2x2 {
        #[inline(always)]
        unsafe fn zero() -> Self {
            // SAFETY: AVX2 is available (the caller's).
            unsafe { Avx2x2([_mm256_setzero_ps(); 2]) }
        }

        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: AVX2 is available and `p` covers 16 floats (the caller's).
            unsafe { Avx2x2([_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))]) }
        }

        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            // SAFETY: AVX2 is available and `p` covers 16 floats (the caller's).
            unsafe {
                _mm256_storeu_ps(p, self.0[0]);
                _mm256_storeu_ps(p.add(8), self.0[1]);
            }
        }

        #[inline(always)]
        unsafe fn add(self, o: Self) -> Self {
            // SAFETY: AVX2 is available (the caller's).
            unsafe {
                Avx2x2([
                    _mm256_add_ps(self.0[0], o.0[0]),
                    _mm256_add_ps(self.0[1], o.0[1]),
                ])
            }
        }

        #[inline(always)]
        unsafe fn sub(self, o: Self) -> Self {
            // SAFETY: AVX2 is available (the caller's).
            unsafe {
                Avx2x2([
                    _mm256_sub_ps(self.0[0], o.0[0]),
                    _mm256_sub_ps(self.0[1], o.0[1]),
                ])
            }
        }

        #[inline(always)]
        unsafe fn mul_add(self, c: f32, acc: Self) -> Self {
            // SAFETY: AVX2 and FMA are available (the caller's).
            unsafe {
                let c = _mm256_set1_ps(c);
                Avx2x2([
                    _mm256_fmadd_ps(self.0[0], c, acc.0[0]),
                    _mm256_fmadd_ps(self.0[1], c, acc.0[1]),
                ])
            }
        }

        #[inline(always)]
        unsafe fn relu(self) -> Self {
            // SAFETY: AVX2 is available (the caller's).
            unsafe {
                let zero = _mm256_setzero_ps();
                let [a, b] = self.0;
                Avx2x2([
                    _mm256_and_ps(a, _mm256_cmp_ps::<_CMP_NLE_UQ>(a, zero)),
                    _mm256_and_ps(b, _mm256_cmp_ps::<_CMP_NLE_UQ>(b, zero)),
                ])
            }
        }
    }

    /// [`input_tiles`] with AVX-512.
    ///
    /// # Safety
    /// As [`Ctx::input_block`]; AVX-512F is available.
    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn input_avx512<K: Transform<A, M>, const A: usize, const M: usize>(
        c: &Ctx,
        tiles: Range<usize>,
        v: *mut f32,
        strides: [usize; 2],
    ) {
        // SAFETY: forwarded; AVX-512 is available.
        unsafe { input_tiles::<__m512, K, A, M>(c, tiles, v, strides) }
    }

    /// [`output_tiles`] with AVX-512.
    ///
    /// # Safety
    /// As [`Ctx::output_block`]; AVX-512F is available.
    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn output_avx512<K: Transform<A, M>, const A: usize, const M: usize>(
        c: &Ctx,
        tiles: Range<usize>,
        og: usize,
        m: *const f32,
        m_xi: usize,
    ) {
        // SAFETY: forwarded; AVX-512 is available.
        unsafe { output_tiles::<__m512, K, A, M>(c, tiles, og, m, m_xi) }
    }

    /// [`input_tiles`] with AVX2.
    ///
    /// # Safety
    /// As [`Ctx::input_block`]; AVX2 and FMA are available.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn input_avx2<K: Transform<A, M>, const A: usize, const M: usize>(
        c: &Ctx,
        tiles: Range<usize>,
        v: *mut f32,
        strides: [usize; 2],
    ) {
        // SAFETY: forwarded; AVX2 is available.
        unsafe { input_tiles::<Avx2x2, K, A, M>(c, tiles, v, strides) }
    }

    /// [`output_tiles`] with AVX2.
    ///
    /// # Safety
    /// As [`Ctx::output_block`]; AVX2 and FMA are available.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn output_avx2<K: Transform<A, M>, const A: usize, const M: usize>(
        c: &Ctx,
        tiles: Range<usize>,
        og: usize,
        m: *const f32,
        m_xi: usize,
    ) {
        // SAFETY: forwarded; AVX2 is available.
        unsafe { output_tiles::<Avx2x2, K, A, M>(c, tiles, og, m, m_xi) }
    }
}

#[cfg(test)]
mod tests;
