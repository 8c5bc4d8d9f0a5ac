//! Depthwise 2-D convolution on the channel-blocked layout ([`super::blocked`]), `f32`.
//!
//! A depthwise convolution (`groups == channels == filters`: one filter per channel, as in
//! MobileNet) has no reduction over channels, so it is vectorised over the 16 channels of a
//! block: each output pixel is `Σ_taps w[tap] · in[pixel + tap]`, 16 lanes at a time. A tile of
//! up to 14 pixels of one output row (7 with AVX2, whose 16 registers hold 7 pixels of two
//! halves each) is accumulated in registers over the kernel taps, each step loading one weight
//! vector and multiplying it into every pixel of the tile. Horizontal padding comes from the
//! input's zero halo columns ([`Blocked::halo`]), so the inner loop has no bounds checks, and
//! kernel rows that fall into the vertical padding are skipped. Weights are packed once
//! ([`DepthwiseConv::pack_weights`]: per block, per tap, 16 channels), with an optional
//! per-channel scale (BatchNorm folding); the bias, a residual addition and a ReLU are applied
//! to each tile as it is stored ([`Epilogue`], as for [`super::direct`]).
//!
//! Work is split across threads by output rows (image, channel block, row), statically; every
//! output element is computed by one thread, in one order, and the kernels of every
//! instruction set perform the same operations (`super::lanes`), so results depend neither
//! on the thread count nor on the instruction set.
//!
//! Served here: 1-D and 2-D convolutions with `groups == channels == filters` (channel
//! multiplier 1), strides 1 and 2, any kernel size, padding and dilation. Others use the
//! im2col path ([`super::conv_forward`]).

use super::blocked::{BLOCK, Blocked};
use super::blocked_ops::{for_row_parts, row_of, row_start, usable};
use super::direct::{ConvOperands, Epilogue};
use super::lanes::{Kernel, Lanes, run_kernel};
use super::{ConvError, ConvGeom, NchwOperands, check_len, check_pack};
use crate::cpu::isa::Isa;

/// The most output pixels in a tile (AVX-512 and the portable code).
const MAX_TILE_PIXELS: usize = 14;
/// The most output pixels in a tile with AVX2 (two registers per pixel, 16 registers).
const MAX_TILE_PIXELS_AVX2: usize = 7;
/// Convolutions below this many multiply-adds per thread run on one thread.
const MIN_WORK_PER_THREAD: usize = 1 << 18;

/// A planned depthwise convolution.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DepthwiseConv {
    geom: ConvGeom,
    out: [usize; 2],
}

impl DepthwiseConv {
    /// Plans `geom`; `None` when the depthwise kernels do not serve it (not depthwise, a
    /// channel multiplier other than 1, 3-D, strides above 2; see the module docs), and an
    /// error when the geometry is invalid.
    pub fn new(geom: &ConvGeom) -> Result<Option<DepthwiseConv>, ConvError> {
        let out = geom.output()?;
        geom.sizes()?;
        let served = geom.groups == geom.channels
            && geom.filters == geom.channels
            && geom.kernel[0] == 1
            && geom.input[0] == 1
            && geom.stride[0] == 1
            && geom.pad[0] == 0
            && geom.stride[1..].iter().all(|s| (1..=2).contains(s));
        Ok(served.then(|| DepthwiseConv {
            geom: *geom,
            out: [out[1], out[2]],
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

    /// The horizontal halo the input needs (the padding).
    pub fn input_halo(&self) -> usize {
        self.geom.pad[2]
    }

    /// The blocked layout of the input, with `halo` zero columns (at least
    /// [`DepthwiseConv::input_halo`] for [`DepthwiseConv::forward`]).
    pub fn input_layout(&self, halo: usize) -> Blocked {
        let g = &self.geom;
        Blocked::new(g.batch, g.channels, g.input[1], g.input[2], halo)
    }

    /// The blocked layout of the output, with `halo` zero columns.
    pub fn output_layout(&self, halo: usize) -> Blocked {
        Blocked::conv_output(&self.geom, self.out, halo)
    }

    fn taps(&self) -> usize {
        self.geom.kernel[1] * self.geom.kernel[2]
    }

    /// Floats of the packed weights: 16 per channel block and tap.
    pub fn packed_len(&self) -> usize {
        self.geom.channels.div_ceil(BLOCK) * self.taps() * BLOCK
    }

    /// Packs `w` (`C × 1 × kh × kw`, as `Convolution` stores it) into `dst`
    /// ([`DepthwiseConv::packed_len`] floats: block, tap, 16 channels), multiplying channel `c`
    /// by `scale[c]` when given (BatchNorm folding). Padding channels are zero.
    ///
    /// # Errors
    /// [`ConvError::Length`] when `w`, `scale` or `dst` do not match the geometry.
    pub fn pack_weights(
        &self,
        w: &[f32],
        scale: Option<&[f32]>,
        dst: &mut [f32],
    ) -> Result<(), ConvError> {
        let c = self.geom.channels;
        let taps = self.taps();
        check_pack(w, scale, dst, c * taps, self.packed_len(), c)?;
        for (cb, block) in dst.chunks_exact_mut(taps * BLOCK).enumerate() {
            for (t, tap) in block.chunks_exact_mut(BLOCK).enumerate() {
                for (lane, d) in tap.iter_mut().enumerate() {
                    let ch = cb * BLOCK + lane;
                    *d = if ch < c {
                        w[ch * taps + t] * scale.map_or(1.0, |s| s[ch])
                    } else {
                        0.0
                    };
                }
            }
        }
        Ok(())
    }

    /// Runs the convolution with the current instruction set ([`Isa::current`]) on up to
    /// `threads` threads into `out`: the input in `op.in_layout`
    /// ([`DepthwiseConv::input_layout`] with a halo of at least
    /// [`DepthwiseConv::input_halo`]), `op.packed` from [`DepthwiseConv::pack_weights`], the
    /// output written in `op.out_layout`.
    ///
    /// # Errors
    /// [`ConvError`] when a buffer does not match the plan or the layouts.
    pub fn forward(
        &self,
        op: &ConvOperands<'_, Blocked>,
        out: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        self.forward_with(Isa::current(), op, out, threads)
    }

    /// [`DepthwiseConv::forward`] with a chosen instruction set (tests compare them); one this
    /// CPU lacks runs the portable code.
    ///
    /// # Errors
    /// As [`DepthwiseConv::forward`].
    pub fn forward_with(
        &self,
        isa: Isa,
        op: &ConvOperands<'_, Blocked>,
        out: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        let ConvOperands {
            input,
            in_layout,
            packed,
            epilogue,
            out_layout,
        } = *op;
        let g = &self.geom;
        let want = self.output_layout(out_layout.halo);
        if *out_layout != want {
            return Err(ConvError::Geometry(format!(
                "depthwise convolution: output layout {out_layout:?}, the plan makes {want:?}"
            )));
        }
        let want = self.input_layout(in_layout.halo);
        if *in_layout != want || in_layout.halo < self.input_halo() {
            return Err(ConvError::Geometry(format!(
                "depthwise convolution: input layout {in_layout:?} is not {:?} with a halo of \
                 at least {}",
                self.input_layout(self.input_halo()),
                self.input_halo()
            )));
        }
        check_len("data", input.len(), in_layout.len())?;
        check_len("output", out.len(), out_layout.len())?;
        check_len("packed weight", packed.len(), self.packed_len())?;
        let bias = epilogue.checked_bias(
            "depthwise convolution",
            out_layout,
            out_layout.blocks() * BLOCK,
        )?;
        let [oh, ow] = self.out;
        let work = g.batch * g.channels * self.taps() * oh * ow;
        let parts = threads.min(work / MIN_WORK_PER_THREAD).max(1);
        let isa = usable(isa);
        let max_tile = if isa == Isa::Avx2 {
            MAX_TILE_PIXELS_AVX2
        } else {
            MAX_TILE_PIXELS
        };
        for_row_parts(out, out_layout, parts, |rows, chunk| {
            let mut taps = Vec::with_capacity(self.taps());
            for (i, unit) in rows.enumerate() {
                let (n, cb, y) = row_of(unit, out_layout);
                self.row_taps(y, in_layout, &mut taps);
                let tiles = ow.div_ceil(max_tile);
                let mut x0 = 0;
                for t in 0..tiles {
                    let pixels = (ow - x0).div_ceil(tiles - t);
                    // The input at the tile's first pixel, kernel column 0, in row 0 (the taps
                    // add the row): column `x0·sw − pw`, at least `−halo`.
                    let inp = row_start(in_layout, n, cb, 0) + x0 * g.stride[2] * BLOCK
                        - self.input_halo() * BLOCK;
                    let out_at = i * out_layout.pitch() + (out_layout.halo + x0) * BLOCK;
                    let tile = Tile {
                        inp: input[inp..].as_ptr(),
                        w: packed[cb * self.taps() * BLOCK..].as_ptr(),
                        bias: bias[cb * BLOCK..].as_ptr(),
                        residual: epilogue.residual.map_or(std::ptr::null(), |(r, l)| {
                            r[row_start(&l, n, cb, y) + x0 * BLOCK..].as_ptr()
                        }),
                        out: chunk[out_at..].as_mut_ptr(),
                        pixels,
                        stride: g.stride[2],
                        relu: epilogue.relu,
                        taps: &taps,
                    };
                    // SAFETY: `isa` is available, and the tile's pointers are as `Tile`
                    // documents: the layouts were checked, `x0 + pixels <= ow`, the taps
                    // only reach rows inside the input and columns inside its halo
                    // (`halo >= pw`), and `chunk` holds this thread's output rows.
                    unsafe { run_tile(isa, &tile) };
                    x0 += pixels;
                }
            }
        });
        Ok(())
    }

    /// The taps of output row `y` that fall inside the input (kernel rows in the vertical
    /// padding are left out), as offsets from a tile's input pointer (`inp` of [`Tile`]).
    fn row_taps(&self, y: usize, in_layout: &Blocked, taps: &mut Vec<Tap>) {
        let g = &self.geom;
        let (kh, kw) = (g.kernel[1], g.kernel[2]);
        taps.clear();
        for ky in 0..kh {
            let iy = (y * g.stride[1] + ky * g.dilate[1]) as isize - g.pad[1] as isize;
            if iy < 0 || iy >= g.input[1] as isize {
                continue;
            }
            for kx in 0..kw {
                taps.push(Tap {
                    input: iy as usize * in_layout.pitch() + kx * g.dilate[2] * BLOCK,
                    weight: (ky * kw + kx) * BLOCK,
                });
            }
        }
    }
}

/// One kernel tap inside the input: the offset of its input from a tile's input pointer, and
/// of its 16 weights from the block's packed weights.
#[derive(Debug, Clone, Copy)]
struct Tap {
    input: usize,
    weight: usize,
}

/// `pixels` output pixels of one row of one channel block.
///
/// For pixel `r < pixels` and tap `t`, the tile reads the input at
/// `inp + t.input + r·stride·16 .. + 16` and the weights at `w + t.weight .. + 16`; it writes
/// the output at `out + r·16 .. + 16`, reads the bias at `bias .. + 16`, and the residual at
/// `residual + r·16 .. + 16` unless null.
#[derive(Debug)]
struct Tile<'a> {
    inp: *const f32,
    w: *const f32,
    bias: *const f32,
    residual: *const f32,
    out: *mut f32,
    pixels: usize,
    stride: usize,
    relu: bool,
    taps: &'a [Tap],
}

/// [`Tile`] with `R` pixels and horizontal stride `S` known at compile time (`R` accumulators
/// in registers).
#[derive(Debug)]
struct FixedTile<'a, const R: usize, const S: usize>(&'a Tile<'a>);

impl<const R: usize, const S: usize> Kernel for FixedTile<'_, R, S> {
    #[inline(always)]
    unsafe fn run<V: Lanes>(&self) {
        let t = self.0;
        // SAFETY: (the whole body) every pointer covers what `Tile` documents, with
        // `t.pixels == R` and `t.stride == S` (the caller's contract).
        unsafe {
            let mut acc = [V::load(t.bias); R];
            for tap in t.taps {
                let w = V::load(t.w.add(tap.weight));
                let ip = t.inp.add(tap.input);
                // A loop with constant bounds: the accumulators stay in registers.
                for (r, a) in acc.iter_mut().enumerate() {
                    *a = V::fma(V::load(ip.add(r * S * BLOCK)), w, *a);
                }
            }
            for (r, a) in acc.into_iter().enumerate() {
                let mut y = a;
                if !t.residual.is_null() {
                    y = V::add(y, V::load(t.residual.add(r * BLOCK)));
                }
                if t.relu {
                    y = y.relu();
                }
                y.store(t.out.add(r * BLOCK));
            }
        }
    }
}

/// Runs `tile` with the kernel for its pixel count and stride.
///
/// # Safety
/// `isa` is available; the tile is as [`Tile`] documents, with `1 <= pixels <= 14` (7 for
/// AVX2) and a stride of 1 or 2.
unsafe fn run_tile(isa: Isa, tile: &Tile<'_>) {
    macro_rules! by_pixels {
        ($s:literal, $($r:literal)*) => {
            match tile.pixels {
                // SAFETY: the caller's contract, with `R` and `S` the tile's.
                $($r => unsafe { run_kernel(isa, &FixedTile::<$r, $s>(tile)) },)*
                _ => unreachable!("a depthwise tile of {} pixels", tile.pixels),
            }
        };
    }
    match (tile.stride, isa == Isa::Avx2) {
        (1, true) => by_pixels!(1, 1 2 3 4 5 6 7),
        (_, true) => by_pixels!(2, 1 2 3 4 5 6 7),
        (1, false) => by_pixels!(1, 1 2 3 4 5 6 7 8 9 10 11 12 13 14),
        (_, false) => by_pixels!(2, 1 2 3 4 5 6 7 8 9 10 11 12 13 14),
    }
}

/// A depthwise convolution on NCHW `f32` data through the blocked kernels, when they serve it
/// and the instruction set has vector kernels (AVX2 or AVX-512; then it beats im2col at every
/// size measured, from a 1×1 output on, 3–20× on MobileNet's layers): converts
/// the input to the blocked layout, packs the weights, runs [`DepthwiseConv::forward`] with the
/// bias in the epilogue, and converts the output back. Returns `Ok(false)`, having done
/// nothing, otherwise. The buffers must have been checked against `geom` (as
/// [`super::conv_forward`] does).
///
/// # Errors
/// [`ConvError`] from the depthwise kernel (a bug: the geometry was checked).
pub fn forward_nchw(
    op: &NchwOperands<'_, f32>,
    y: &mut [f32],
    threads: usize,
) -> Result<bool, ConvError> {
    let NchwOperands { geom, x, w, bias } = *op;
    let isa = Isa::current();
    if isa < Isa::Avx2 {
        return Ok(false);
    }
    let Some(plan) = DepthwiseConv::new(geom)? else {
        return Ok(false);
    };
    let in_layout = plan.input_layout(plan.input_halo());
    let out_layout = plan.output_layout(0);
    super::direct::NCHW_SCRATCH.with_borrow_mut(|[xin, packed, out]| {
        let xin = aligned(xin, in_layout.len());
        super::blocked::to_blocked(x, &in_layout, xin);
        let packed = aligned(packed, plan.packed_len());
        plan.pack_weights(w, None, packed)?;
        let out = aligned(out, out_layout.len());
        let epilogue = Epilogue {
            bias,
            ..Epilogue::default()
        };
        let op = ConvOperands::new(xin, &in_layout, packed, &epilogue, &out_layout);
        plan.forward_with(isa, &op, out, threads)?;
        super::blocked::from_blocked(out, &out_layout, y);
        Ok(true)
    })
}

/// `len` floats of `v` (grown as needed; contents unspecified, every caller overwrites them)
/// starting on a 64-byte boundary, so that no 16-float vector straddles two cache lines.
fn aligned(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if v.len() < len + BLOCK - 1 {
        v.resize(len + BLOCK - 1, 0.0);
    }
    let start = v.as_ptr().align_offset(64).min(BLOCK - 1);
    &mut v[start..start + len]
}

#[cfg(test)]
mod tests;
