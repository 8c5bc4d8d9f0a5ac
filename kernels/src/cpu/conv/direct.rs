//! Direct 2-D convolution into the channel-blocked layout ([`super::blocked`]), `f32`.
//!
//! The output is computed in tiles of pixels of one output row by output channels, held in
//! registers for the whole reduction over input channels and kernel taps; each reduction step
//! broadcasts one input value per pixel and multiplies it by weight vectors. The tile depends
//! on the instruction set's registers: with AVX-512 (32 zmm) up to 14 pixels by 32 channels
//! (two blocks of 16, `avx512.rs`), with AVX2 (16 ymm) up to 6 pixels by 16 channels (one
//! block in two ymm, `avx2.rs`; plans for it pack one block per output group), else a
//! portable loop. The input is read in place — blocked, or plain NCHW for a
//! network's first layer, whose three colour channels would waste most of a 16-channel block —
//! and horizontal padding comes from the input's zero halo columns ([`Blocked::halo`]), so the
//! inner loops have no bounds checks. Rows of the kernel that fall into the vertical padding
//! are skipped. Weights are packed once ([`DirectConv::pack_weights`]) into the order the
//! reduction reads them; a per-output-channel scale can be folded in as they are packed
//! (BatchNorm folding), and the bias, a residual addition and a ReLU are applied to each tile
//! as it is stored (the epilogue), while it is in registers.
//!
//! Work is split across threads by output rows (image, channel group, row), statically, so a
//! given thread count always gives the same result; every output element is computed by one
//! thread, in one order.
//!
//! Served here: 1-D and 2-D convolutions with one group, strides 1 and 2, any kernel size,
//! padding and dilation. Other convolutions use the im2col path ([`super::conv_forward`]).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod buffers;
mod nchw;
mod tile;

pub(crate) use buffers::{Shared, check_input, pack_and_run};
pub(super) use buffers::{aligned, resize};
pub(super) use nchw::NCHW_SCRATCH;
pub use nchw::forward_nchw_with;
pub(crate) use tile::{Tap, TileJob, run_tile};

use super::blocked::{BLOCK, Blocked};
use super::{ConvError, ConvGeom, check_len, check_pack};
use crate::cpu::isa::Isa;
use crate::cpu::parallel;

/// Output channel blocks per tile (the `NV` of the AVX-512 micro-kernel) when the layer has at
/// least two. The AVX2 kernel holds one block per tile, and reads its weights fastest packed
/// one block per group (contiguous steps of 16 floats), so its plans use 1.
const TILE_BLOCKS: usize = 2;
/// The most output pixels in a tile of the AVX-512 kernel (and the portable one).
pub(crate) const MAX_TILE_PIXELS: usize = 14;
/// The most output pixels in a tile of the AVX2 kernel.
const MAX_TILE_PIXELS_AVX2: usize = 6;

/// The most output pixels in a tile for `isa`'s kernel (its register budget).
pub(crate) fn max_tile_pixels(isa: Isa) -> usize {
    match isa {
        Isa::Avx2 => MAX_TILE_PIXELS_AVX2,
        Isa::Avx512 | Isa::Scalar => MAX_TILE_PIXELS,
    }
}
/// Packed weights per reduction chunk meant to stay in L2 (bytes).
const WEIGHT_CHUNK_BYTES: usize = 256 << 10;
/// Packed weights (floats) per thread, at least, before packing is split across threads.
const MIN_PACK_FLOATS_PER_THREAD: usize = 1 << 16;
/// Packed weights (bytes) above which the output units run group by group rather than image
/// by image ([`DirectConv::unit`]).
const GROUP_MAJOR_BYTES: usize = 1 << 20;
/// Convolutions below this many multiply-adds per thread run on one thread.
const MIN_WORK_PER_THREAD: usize = 1 << 20;

/// How the input of a [`DirectConv`] is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputLayout {
    /// Channel-blocked ([`Blocked`]).
    Blocked,
    /// Plain NCHW rows with `halo` zero columns each side (a network's input image).
    Plain,
}

/// The strides of an input, in floats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InputStrides {
    /// Between two pixels of a row.
    pub pixel: usize,
    /// Between two rows.
    pub row: usize,
    /// Between two channels of one block.
    pub channel: usize,
    /// Between two channel blocks.
    pub block: usize,
    /// Between two images.
    pub image: usize,
    /// Zero columns on each side of every row.
    pub halo: usize,
}

impl InputStrides {
    /// The strides of a blocked activation.
    pub fn blocked(layout: &Blocked) -> InputStrides {
        InputStrides {
            pixel: BLOCK,
            row: layout.pitch(),
            channel: 1,
            block: layout.plane(),
            image: layout.image(),
            halo: layout.halo,
        }
    }

    /// The strides of a plain `n × c × h × (w + 2·halo)` activation.
    pub fn plain(c: usize, h: usize, w: usize, halo: usize) -> InputStrides {
        let row = w + 2 * halo;
        InputStrides {
            pixel: 1,
            row,
            channel: h * row,
            block: c * h * row,
            image: c * h * row,
            halo,
        }
    }

    /// Floats an `n`-image activation with these strides spans.
    fn extent(&self, n: usize) -> usize {
        n * self.image
    }
}

/// What happens to each output tile as it is stored.
#[derive(Debug, Clone, Copy, Default)]
pub struct Epilogue<'a> {
    /// Added per output channel (`F` values).
    pub bias: Option<&'a [f32]>,
    /// Added element by element: an activation of the output's shape, with its layout.
    pub residual: Option<(&'a [f32], Blocked)>,
    /// `max(·, 0)` last (MXNet's relu: NaN kept).
    pub relu: bool,
}

/// The read-only operands of a blocked convolution's forward run (the output buffer, its one
/// written operand, goes alongside): the input laid out as `in_layout` says ([`InputStrides`]
/// for [`DirectConv`] and [`super::winograd::WinogradConv`], a [`Blocked`] layout for
/// [`super::depthwise::DepthwiseConv`]), the packed weights, the epilogue and the output's
/// layout. The run reads each field once, at its entry.
#[derive(Debug, Clone, Copy)]
pub struct ConvOperands<'a, L = InputStrides> {
    /// The input (its halo at least the plan's `input_halo`).
    pub input: &'a [f32],
    /// How the input is laid out.
    pub in_layout: &'a L,
    /// The weights as the plan's `pack_weights` packs them.
    pub packed: &'a [f32],
    /// What happens to each output tile as it is stored.
    pub epilogue: &'a Epilogue<'a>,
    /// The layout the output is written in: the plan's output shape, any halo (halo columns
    /// are zeroed).
    pub out_layout: &'a Blocked,
}

impl<'a, L> ConvOperands<'a, L> {
    /// The operands `input` (laid out as `in_layout` says), `packed`, `epilogue` and
    /// `out_layout`.
    pub fn new(
        input: &'a [f32],
        in_layout: &'a L,
        packed: &'a [f32],
        epilogue: &'a Epilogue<'a>,
        out_layout: &'a Blocked,
    ) -> Self {
        ConvOperands {
            input,
            in_layout,
            packed,
            epilogue,
            out_layout,
        }
    }

    /// The same operands with the input laid out as `in_layout` says (a caller holding both
    /// an input's strides and its blocked layout picks the one its plan reads).
    pub fn with_in_layout<M>(&self, in_layout: &'a M) -> ConvOperands<'a, M> {
        ConvOperands::new(
            self.input,
            in_layout,
            self.packed,
            self.epilogue,
            self.out_layout,
        )
    }
}

impl Epilogue<'_> {
    /// Checks the epilogue against the output of `kernel` (in `out_layout`): the bias has one
    /// value per channel, the residual the output's shape (any halo) and length. Returns the
    /// bias zero-padded to `padded` values (zeros without a bias).
    ///
    /// # Errors
    /// [`ConvError`] naming `kernel` when the bias or the residual does not match.
    pub(crate) fn checked_bias(
        &self,
        kernel: &str,
        out_layout: &Blocked,
        padded: usize,
    ) -> Result<Vec<f32>, ConvError> {
        let mut bias = vec![0.0f32; padded.max(out_layout.c)];
        if let Some(b) = self.bias {
            check_len("bias", b.len(), out_layout.c)?;
            bias[..out_layout.c].copy_from_slice(b);
        }
        if let Some((r, layout)) = &self.residual {
            if *layout != out_layout.with_halo(layout.halo) {
                return Err(ConvError::Geometry(format!(
                    "{kernel}: residual layout {layout:?} does not match the output \
                     {out_layout:?}"
                )));
            }
            check_len("residual", r.len(), layout.len())?;
        }
        Ok(bias)
    }
}

/// A planned direct convolution: the geometry, the input layout and the tile shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DirectConv {
    geom: ConvGeom,
    input: InputLayout,
    out: [usize; 2],
    /// Output channel blocks per tile (1 or 2).
    nv: usize,
    /// Input channels per block: 16 for a blocked input, `C` for a plain one.
    ic_per_block: usize,
    /// Input channel blocks.
    ic_blocks: usize,
}

impl DirectConv {
    /// Plans `geom` with an input in `input` layout for the current instruction set
    /// ([`Isa::current`]); `None` when the direct kernels do not serve this convolution (3-D,
    /// groups, strides above 2; see the module docs), and an error when the geometry is
    /// invalid.
    ///
    /// # Errors
    /// [`ConvError`] for an invalid geometry.
    pub fn new(geom: &ConvGeom, input: InputLayout) -> Result<Option<DirectConv>, ConvError> {
        DirectConv::new_for(geom, input, Isa::current())
    }

    /// [`DirectConv::new`] for the kernels of `isa`: the packed weights' layout (blocks per
    /// output group) suits them. Any plan runs with any instruction set
    /// ([`DirectConv::forward_with`]), only slower on another's.
    ///
    /// # Errors
    /// As [`DirectConv::new`].
    pub fn new_for(
        geom: &ConvGeom,
        input: InputLayout,
        isa: Isa,
    ) -> Result<Option<DirectConv>, ConvError> {
        let out = geom.output()?;
        geom.sizes()?;
        let served = geom.groups == 1
            && geom.kernel[0] == 1
            && geom.input[0] == 1
            && geom.stride[0] == 1
            && geom.pad[0] == 0
            && geom.stride[1..].iter().all(|s| (1..=2).contains(s));
        if !served {
            return Ok(None);
        }
        let (ic_per_block, ic_blocks) = match input {
            InputLayout::Blocked => (BLOCK, geom.channels.div_ceil(BLOCK)),
            InputLayout::Plain => (geom.channels, 1),
        };
        let nv = if geom.filters > BLOCK && isa != Isa::Avx2 {
            TILE_BLOCKS
        } else {
            1
        };
        Ok(Some(DirectConv {
            geom: *geom,
            input,
            out: [out[1], out[2]],
            nv,
            ic_per_block,
            ic_blocks,
        }))
    }

    /// The geometry.
    pub fn geom(&self) -> &ConvGeom {
        &self.geom
    }

    /// The output height and width.
    pub fn output_size(&self) -> [usize; 2] {
        self.out
    }

    /// The input layout the plan reads.
    pub fn input_layout(&self) -> InputLayout {
        self.input
    }

    /// The blocked layout of the output, with `halo` zero columns.
    pub fn output_layout(&self, halo: usize) -> Blocked {
        Blocked::conv_output(&self.geom, self.out, halo)
    }

    /// The horizontal halo the input needs (the padding).
    pub fn input_halo(&self) -> usize {
        self.geom.pad[2]
    }

    fn taps(&self) -> usize {
        self.geom.kernel[1] * self.geom.kernel[2]
    }

    /// Groups of `nv` output blocks.
    fn out_groups(&self) -> usize {
        self.geom.filters.div_ceil(BLOCK).div_ceil(self.nv)
    }

    /// Floats of one input block's packed weights for one output group.
    fn w_block(&self) -> usize {
        self.taps() * self.ic_per_block * self.nv * BLOCK
    }

    /// Floats of the packed weights.
    pub fn packed_len(&self) -> usize {
        self.out_groups() * self.ic_blocks * self.w_block()
    }

    /// Packs `w` (`F × C × kh × kw`, as `Convolution` stores it) into `dst`
    /// ([`DirectConv::packed_len`] floats), multiplying output channel `f` by `scale[f]` when
    /// given (BatchNorm folding). Padding channels are zero. The layout does not depend on the
    /// instruction set; this uses the current one ([`Isa::current`]) and up to
    /// [`parallel::num_threads`] threads.
    ///
    /// # Errors
    /// [`ConvError::Length`] when `w`, `scale` or `dst` do not match the geometry.
    pub fn pack_weights(
        &self,
        w: &[f32],
        scale: Option<&[f32]>,
        dst: &mut [f32],
    ) -> Result<(), ConvError> {
        self.pack_weights_with(Isa::current(), w, scale, dst, parallel::num_threads())
    }

    /// [`DirectConv::pack_weights`] with a chosen instruction set (one this CPU lacks runs the
    /// portable code) on up to `threads` threads; the result is the same for every choice.
    ///
    /// # Errors
    /// As [`DirectConv::pack_weights`].
    pub fn pack_weights_with(
        &self,
        isa: Isa,
        w: &[f32],
        scale: Option<&[f32]>,
        dst: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        let g = &self.geom;
        let (c, f) = (g.channels, g.filters);
        let taps = self.taps();
        check_pack(w, scale, dst, f * c * taps, self.packed_len(), f)?;
        if dst.is_empty() {
            return Ok(());
        }
        let isa = if isa.is_available() { isa } else { Isa::Scalar };
        let (nv, icpb) = (self.nv, self.ic_per_block);
        let step = nv * BLOCK;
        let w_block = self.w_block();
        // Units: (output group, input block), each `w_block` floats of `dst`.
        let units = self.out_groups() * self.ic_blocks;
        let parts = threads
            .min(dst.len() / MIN_PACK_FLOATS_PER_THREAD)
            .clamp(1, units);
        let ranges = parallel::split_range(units, parts, 1);
        let out = parallel::SharedMut::new(dst.as_mut_ptr());
        parallel::for_each_part(ranges.len(), |p| {
            // One 16 (output) × 16 (input) tile per tap, output-channel-major: `tmp[t][j][i]`.
            // (Allocated on first use: a plain first layer and 1×1 tiles do not need it.)
            let mut tmp = Vec::new();
            for unit in ranges[p].clone() {
                let (og, icb) = (unit / self.ic_blocks, unit % self.ic_blocks);
                for v in 0..nv {
                    for i0 in (0..icpb).step_by(BLOCK) {
                        let ic0 = icb * icpb + i0;
                        let ni = BLOCK.min(icpb - i0);
                        let valid = ni.min(c.saturating_sub(ic0));
                        let oc0 = og * step + v * BLOCK;
                        let offset = unit * w_block + i0 * step + v * BLOCK;
                        if taps == 1 && scale.is_none() && valid == BLOCK && oc0 + BLOCK <= f {
                            // A whole 16 × 16 tile of `w` (rows: output channels): transposed
                            // in place.
                            // SAFETY: rows `oc0 .. oc0 + 16 <= f` of `w`, 16 floats from
                            // `ic0` each (`ic0 + 16 <= c`); the destination as below.
                            unsafe {
                                crate::cpu::tile::transpose(
                                    isa,
                                    w[oc0 * c + ic0..].as_ptr(),
                                    c,
                                    BLOCK,
                                    BLOCK,
                                    out.get().add(offset),
                                    step,
                                    ni,
                                );
                            }
                            continue;
                        }
                        tmp.resize(taps * 256, 0.0);
                        // `tmp[t][j][i]` from output channel `oc0 + j`'s `i × t` run: a
                        // `valid × taps` transpose per channel, 16 taps at a time.
                        for j in 0..BLOCK {
                            let oc = oc0 + j;
                            if oc >= f {
                                for t in 0..taps {
                                    tmp[(t * BLOCK + j) * BLOCK..][..BLOCK].fill(0.0);
                                }
                                continue;
                            }
                            let run = &w[(oc * c + ic0) * taps..][..valid * taps];
                            for t0 in (0..taps).step_by(BLOCK) {
                                let nt = BLOCK.min(taps - t0);
                                // SAFETY: `valid` rows of `taps` floats of `run`, `nt` from
                                // `t0` each; `nt` rows of 16 floats of `tmp`, 256 apart, from
                                // `(t0 · 16 + j) · 16` (inside its `taps · 256`); `isa` is
                                // available.
                                unsafe {
                                    crate::cpu::tile::transpose(
                                        isa,
                                        run[t0..].as_ptr(),
                                        taps,
                                        valid,
                                        nt,
                                        tmp[(t0 * BLOCK + j) * BLOCK..].as_mut_ptr(),
                                        BLOCK * BLOCK,
                                        nt,
                                    );
                                }
                            }
                            if let Some(s) = scale {
                                // The channels that exist (padding stays +0).
                                for t in 0..taps {
                                    for x in &mut tmp[(t * BLOCK + j) * BLOCK..][..valid] {
                                        *x *= s[oc];
                                    }
                                }
                            }
                        }
                        for t in 0..taps {
                            // SAFETY: `tmp[t]` holds 16 rows of 16 floats; the destination
                            // rows `i0 .. i0 + ni` of tap `t`, floats `16 v .. 16 v + 16` of
                            // each, are inside unit `unit`'s `w_block` floats of `dst` (which
                            // has `units · w_block`), written by this part alone; `isa` is
                            // available.
                            unsafe {
                                crate::cpu::tile::transpose(
                                    isa,
                                    tmp[t * 256..].as_ptr(),
                                    BLOCK,
                                    BLOCK,
                                    BLOCK,
                                    out.get().add(offset + t * icpb * step),
                                    step,
                                    ni,
                                );
                            }
                        }
                    }
                }
            }
        });
        Ok(())
    }

    /// Runs the convolution with the current instruction set ([`Isa::current`]) on up to
    /// `threads` threads into `out`: the input laid out as `op.in_layout` says (its halo at
    /// least [`DirectConv::input_halo`]), `op.packed` from [`DirectConv::pack_weights`], the
    /// output written in `op.out_layout`.
    ///
    /// # Errors
    /// [`ConvError`] when a buffer does not match the plan or the layouts.
    pub fn forward(
        &self,
        op: &ConvOperands<'_>,
        out: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        self.forward_with(Isa::current(), op, out, threads)
    }

    /// [`DirectConv::forward`] with a chosen instruction set (tests compare them). An
    /// instruction set this CPU lacks, or one without a kernel here, runs the portable code.
    ///
    /// # Errors
    /// As [`DirectConv::forward`].
    pub fn forward_with(
        &self,
        isa: Isa,
        op: &ConvOperands<'_>,
        out: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        let g = &self.geom;
        let [oh, ow] = self.out;
        let padded = self.out_groups() * self.nv * BLOCK;
        let bias = op.check_output("direct convolution", self, out, padded)?;
        self.check_input(op.input, op.in_layout)?;
        if out.is_empty() {
            return Ok(());
        }
        let units = g.batch * self.out_groups() * oh;
        let work = g.batch * g.filters * g.channels * self.taps() * oh * ow;
        let parts = threads.min(units).min(work / MIN_WORK_PER_THREAD).max(1);
        let ranges = parallel::split_range(units, parts, 1);
        let isa = if isa.is_available() { isa } else { Isa::Scalar };
        let shared = parallel::SharedMut::new(out.as_mut_ptr());
        let run = |p: usize| {
            // SAFETY: every pointer the job derives stays inside the checked slices (see
            // `run_units`); threads write disjoint output rows (disjoint unit ranges), so the
            // output pointer is shared without overlapping writes.
            unsafe {
                self.run_units(
                    isa,
                    op.input.as_ptr(),
                    op.in_layout,
                    op.packed.as_ptr(),
                    &bias,
                    op.epilogue,
                    shared.get(),
                    op.out_layout,
                    ranges[p].clone(),
                )
            }
        };
        parallel::for_each_part(ranges.len(), run);
        Ok(())
    }

    /// Lays out the NCHW input `x` as this plan reads it, with `halo` zero columns (at least
    /// [`DirectConv::input_halo`]), in `buf` (resized), and returns its strides.
    ///
    /// # Errors
    /// [`ConvError`] when `x` does not hold the plan's input or the halo is too small.
    pub fn prepare_input(
        &self,
        x: &[f32],
        halo: usize,
        buf: &mut Vec<f32>,
    ) -> Result<InputStrides, ConvError> {
        let g = &self.geom;
        let [_, h, wd] = g.input;
        check_len("data", x.len(), g.data_len())?;
        if halo < self.input_halo() {
            return Err(ConvError::Geometry(format!(
                "direct convolution: a halo of {halo} is less than the padding {}",
                self.input_halo()
            )));
        }
        Ok(match self.input {
            InputLayout::Blocked => {
                let layout = Blocked::new(g.batch, g.channels, h, wd, halo);
                resize(buf, layout.len());
                super::blocked::to_blocked(x, &layout, buf);
                InputStrides::blocked(&layout)
            }
            InputLayout::Plain => {
                let row = wd + 2 * halo;
                resize(buf, g.batch * g.channels * h * row);
                for (src, dst) in x
                    .chunks_exact(wd.max(1))
                    .zip(buf.chunks_exact_mut(row.max(1)))
                {
                    dst[..halo].fill(0.0);
                    dst[halo..halo + wd].copy_from_slice(src);
                    dst[halo + wd..].fill(0.0);
                }
                InputStrides::plain(g.channels, h, wd, halo)
            }
        })
    }

    /// Checks that `input` holds the plan's input with `s`.
    fn check_input(&self, input: &[f32], s: &InputStrides) -> Result<(), ConvError> {
        check_input(
            "direct convolution",
            &self.geom,
            self.input,
            self.input_halo(),
            input,
            s,
        )
    }

    /// Output unit `unit`'s (row, output group, image): rows fastest, then images, then groups
    /// when the packed weights are too large to stay in the caches across a batch (each
    /// group's weights are then read once for every image, not once per image), else groups
    /// before images (each image's input stays in the caches across the groups).
    fn unit(&self, unit: usize) -> (usize, usize, usize) {
        let (oh, groups, batch) = (self.out[0], self.out_groups(), self.geom.batch);
        let y = unit % oh;
        if self.packed_len() * 4 > GROUP_MAJOR_BYTES {
            (y, unit / (oh * batch), (unit / oh) % batch)
        } else {
            (y, (unit / oh) % groups, unit / (oh * groups))
        }
    }

    /// Computes output units `range` (see [`DirectConv::unit`]).
    ///
    /// # Safety
    /// The buffers were checked against the plan ([`DirectConv::forward_with`]); `out` is the
    /// output's first element, and no other thread writes the rows of these units.
    #[allow(clippy::too_many_arguments, reason = "internal; the checked operands")]
    unsafe fn run_units(
        &self,
        isa: Isa,
        input: *const f32,
        s: &InputStrides,
        packed: *const f32,
        bias: &[f32],
        epilogue: &Epilogue<'_>,
        out: *mut f32,
        out_layout: &Blocked,
        range: std::ops::Range<usize>,
    ) {
        let g = &self.geom;
        let ow = self.out[1];
        let (kh, kw) = (g.kernel[1], g.kernel[2]);
        let (sh, sw) = (g.stride[1], g.stride[2]);
        let (ph, pw) = (g.pad[1], g.pad[2]);
        let (dh, dw) = (g.dilate[1], g.dilate[2]);
        let ih = g.input[1];
        let w_block = self.w_block();
        let step = self.nv * BLOCK;
        // Reduction chunks of input blocks whose packed weights fit in L2.
        let chunk = (WEIGHT_CHUNK_BYTES / 4 / w_block.max(1)).clamp(1, self.ic_blocks);
        let tiles = ow.div_ceil(max_tile_pixels(isa));
        let mut taps: Vec<Tap> = Vec::with_capacity(kh * kw);
        let out_halo = out_layout.halo;
        for c0 in (0..self.ic_blocks).step_by(chunk) {
            let blocks = chunk.min(self.ic_blocks - c0);
            let last = c0 + blocks == self.ic_blocks;
            for unit in range.clone() {
                let (y, og, n) = self.unit(unit);
                taps.clear();
                for ky in 0..kh {
                    let iy = (y * sh + ky * dh) as isize - ph as isize;
                    if iy < 0 || iy >= ih as isize {
                        continue;
                    }
                    for kx in 0..kw {
                        taps.push(Tap {
                            input: iy * s.row as isize + (kx * dw * s.pixel) as isize,
                            weight: (ky * kw + kx) * self.ic_per_block * step,
                        });
                    }
                }
                let ocb0 = og * self.nv;
                let nv_store = self.nv.min(out_layout.blocks() - ocb0);
                // SAFETY: (these offsets and those below) `n < batch`, `ocb0 + v < blocks` for `v < nv_store`,
                // `y < oh`, and pixels `x < ow`, so every output offset is inside the checked
                // output; input offsets stay inside the input by the halo argument of the
                // module docs (`halo >= pw`), and taps outside rows `0..ih` were skipped.
                let out_row = unsafe {
                    out.add(
                        n * out_layout.image() + ocb0 * out_layout.plane() + y * out_layout.pitch(),
                    )
                };
                if last && out_halo > 0 {
                    for v in 0..nv_store {
                        // SAFETY: the halo columns of this row of block `ocb0 + v`.
                        unsafe {
                            let row = out_row.add(v * out_layout.plane());
                            std::ptr::write_bytes(row, 0, out_halo * BLOCK);
                            std::ptr::write_bytes(
                                row.add((out_halo + ow) * BLOCK),
                                0,
                                out_halo * BLOCK,
                            );
                        }
                    }
                }
                let mut x0 = 0;
                for t in 0..tiles {
                    let rows = (ow - x0).div_ceil(tiles - t);
                    let ix0 = (x0 * sw + s.halo) as isize - pw as isize;
                    let (res, res_block) = match (&epilogue.residual, last) {
                        (Some((r, l)), true) => (
                            // SAFETY: the residual has the output's shape (checked).
                            unsafe {
                                r.as_ptr().add(
                                    n * l.image()
                                        + ocb0 * l.plane()
                                        + y * l.pitch()
                                        + (x0 + l.halo) * BLOCK,
                                )
                            },
                            l.plane(),
                        ),
                        _ => (std::ptr::null(), 0),
                    };
                    let job = TileJob {
                        // SAFETY: see above; `ix0 >= 0` since `halo >= pw`.
                        inp: unsafe {
                            input.add(n * s.image + c0 * s.block + (ix0 as usize) * s.pixel)
                        },
                        in_block: s.block,
                        in_ic: s.channel,
                        pixel_step: s.pixel * sw,
                        channels: self.ic_per_block,
                        blocks,
                        // SAFETY: group `og`, block `c0` of the packed weights.
                        w: unsafe { packed.add((og * self.ic_blocks + c0) * w_block) },
                        w_block,
                        // SAFETY: pixel `x0` of the row.
                        out: unsafe { out_row.add((out_halo + x0) * BLOCK) },
                        out_block: out_layout.plane(),
                        nv_store,
                        rows,
                        bias: if c0 == 0 {
                            bias[ocb0 * BLOCK..].as_ptr()
                        } else {
                            std::ptr::null()
                        },
                        residual: res,
                        res_block,
                        accumulate: c0 > 0,
                        relu: last && epilogue.relu,
                    };
                    // SAFETY: the job's pointers are as `TileJob` documents (above).
                    unsafe { run_tile(isa, self.nv, &job, &taps) };
                    x0 += rows;
                }
            }
        }
    }
}

/// What the NCHW entries need of a planned convolution on blocked data (the direct kernel's
/// or Winograd's): its packed weights and a run into a blocked output.
pub(crate) trait BlockedPlan {
    /// Floats of the packed weights.
    fn packed_len(&self) -> usize;
    /// The output's blocked layout with `halo` zero columns.
    fn output_layout(&self, halo: usize) -> Blocked;
    /// Packs the `F × C × kh × kw` weights `w` into `dst`.
    fn pack(&self, isa: Isa, w: &[f32], dst: &mut [f32], threads: usize) -> Result<(), ConvError>;
    /// Runs the convolution (as the plan's `forward_with`).
    fn run(
        &self,
        isa: Isa,
        op: &ConvOperands<'_>,
        out: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError>;
}

/// Implements [`BlockedPlan`] for a plan type by its own methods of the same meaning.
macro_rules! blocked_plan {
    ($plan:ty) => {
        impl $crate::cpu::conv::direct::BlockedPlan for $plan {
            fn packed_len(&self) -> usize {
                <$plan>::packed_len(self)
            }
            fn output_layout(&self, halo: usize) -> Blocked {
                <$plan>::output_layout(self, halo)
            }
            fn pack(
                &self,
                isa: Isa,
                w: &[f32],
                dst: &mut [f32],
                threads: usize,
            ) -> Result<(), ConvError> {
                self.pack_weights_with(isa, w, None, dst, threads)
            }
            fn run(
                &self,
                isa: Isa,
                op: &$crate::cpu::conv::direct::ConvOperands<'_>,
                out: &mut [f32],
                threads: usize,
            ) -> Result<(), ConvError> {
                self.forward_with(isa, op, out, threads)
            }
        }
    };
}
pub(crate) use blocked_plan;

blocked_plan!(DirectConv);

#[cfg(test)]
pub(crate) mod tests;
