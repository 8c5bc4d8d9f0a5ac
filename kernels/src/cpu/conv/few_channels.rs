//! Forward convolution and weight gradient for a network's first layer: few input channels
//! (at most [`MAX_CHANNELS`]), stride 1, no padding or dilation, `f32`, on plain NCHW data.
//!
//! Such a layer (LeNet's `1 → 20` 5×5) wastes most of the blocked kernels' lanes: they
//! vectorise over channels, in blocks of 16, and have only one or a few input channels and
//! fewer than 32 output channels to fill them. Here the vectors run over **output pixels**
//! instead, which every layer has plenty of: an image's `oh × ow` output pixels, taken in
//! row-major order, are cut into chunks of 16 (`Chunk`). The input value lane `i` of a
//! chunk sees through tap `t` (a `(channel, ky, kx)` of the weight) lies at a constant offset
//! from the chunk's first pixel's input value, except that the lanes past the end of the
//! chunk's first output row continue on the next input row, `iw − ow` floats further on. So a
//! chunk's input vector for any tap is one masked load for the lanes of its first row merged
//! with one for the rest (which needs `ow ≥ 15`: then 16 lanes span at most two rows; the
//! weight gradient skips the second load for a chunk inside one row).
//! Masked-off lanes are neither read nor computed on, so every multiply-add is one the
//! convolution needs and nothing is read outside the data.
//!
//! **Forward.** A tile is two chunks by up to [`MAX_FORWARD_FILTERS`] output channels, in
//! registers (bias-initialised) for the whole reduction over the taps; per tap it loads the
//! two input vectors and multiplies them by each channel's weight, broadcast. The output
//! pixels of a chunk are consecutive in NCHW, so the tile is stored in place (the image's
//! last chunk with a mask): no conversion of the input or the output. The output channels
//! are split into the fewest groups of at most [`MAX_FORWARD_FILTERS`], of near-equal size.
//! Images are split statically over the threads; each output is computed by one thread in
//! one order, so the result does not depend on the thread count.
//!
//! **Weight gradient.** `dw[f][t] = Σ_n Σ_p dy[n][f][p] · x[n][p + off(t)]` is computed in
//! tiles of up to [`MAX_WGRAD_FILTERS`] output channels by [`MAX_WGRAD_TAPS`] taps, one
//! vector accumulator each (16 partial sums, one per lane): per chunk the tile loads each
//! channel's `dy` vector and each tap's input vector once and multiplies every pair. The
//! images are walked in blocks of [`WGRAD_IMAGES`] (whose `dy` stays in L2 while every tile
//! of a thread passes over it), the accumulators kept between blocks; each tile takes the
//! images, and their chunks, in order, and its 16 lanes are added in a fixed tree at the end.
//! Tiles are split statically over the threads, so the result does not depend on the thread
//! count either. The bias gradient is not computed here ([`super::conv_backward`] does it).
//!
//! The AVX-512 kernels are what [`forward_with`] and [`weight_gradient_with`] run for
//! [`super::conv_forward`] and [`super::conv_backward`], which ask only where [`serves`] holds:
//! with another instruction set the layer takes the other paths. The forward pass takes every layer
//! served here (measured faster than the direct kernel on LeNet's and 3-channel layers); the weight
//! gradient leaves to the blocked kernel the layers where that pays and wastes under a tenth of its
//! lanes ([`serves_weight_gradient`]), and is only asked when the data gradient is not wanted (a
//! first layer's; otherwise both go to [`super::backward`] or im2col together). Both run any
//! instruction set (a portable loop for the others) for the tests.

#[cfg(target_arch = "x86_64")]
mod avx512;

use super::{ConvError, ConvGeom, NchwOperands, check_len};
use crate::cpu::isa::Isa;
use crate::cpu::parallel;

/// The most input channels a layer served here has.
pub const MAX_CHANNELS: usize = 4;
/// Output pixels per vector (one zmm of `f32`).
const LANES: usize = 16;
/// The most output channels of one forward tile (two chunks each: 24 accumulators).
pub const MAX_FORWARD_FILTERS: usize = 12;
/// The most output channels of one weight-gradient tile.
pub const MAX_WGRAD_FILTERS: usize = 5;
/// The most taps of one weight-gradient tile.
pub const MAX_WGRAD_TAPS: usize = 5;
/// Images per block of the weight gradient.
pub const WGRAD_IMAGES: usize = 8;
/// Multiply-adds per thread, at least, before the work is split.
const MIN_WORK_PER_THREAD: usize = 1 << 20;

/// A checked geometry this module serves.
#[derive(Debug, Clone, Copy)]
struct Plan {
    batch: usize,
    filters: usize,
    /// Input floats per image (`C·ih·iw`).
    image: usize,
    /// Input row length.
    iw: usize,
    /// Input plane (`ih·iw`).
    in_plane: usize,
    kh: usize,
    kw: usize,
    /// Output row length.
    ow: usize,
    /// Output pixels per image (`oh·ow`).
    pixels: usize,
    /// Taps per output channel: `C·kh·kw`.
    taps: usize,
}

/// One chunk of up to 16 consecutive output pixels of an image: the offset of its first
/// pixel's input (tap 0) from the image's, its first pixel's index, and the lanes in its first
/// output row (`lo`) and in the next (`hi`, read `iw − ow` floats further on).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Chunk {
    pub(crate) x: usize,
    pub(crate) out: usize,
    pub(crate) lo: u16,
    pub(crate) hi: u16,
}

impl Plan {
    /// The plan of `geom`, `None` when this module does not serve it.
    fn new(geom: &ConvGeom) -> Option<Plan> {
        let s = geom.sizes().ok()?;
        let [_, oh, ow] = s.out;
        let [_, ih, iw] = geom.input;
        let two_d = geom.input[0] == 1 && geom.kernel[0] == 1 && geom.pad[0] == 0;
        let served = two_d
            && geom.groups == 1
            && geom.channels <= MAX_CHANNELS
            && geom.stride == [1; 3]
            && geom.dilate[1..] == [1, 1]
            && geom.pad == [0; 3]
            && ow >= LANES - 1;
        served.then_some(Plan {
            batch: geom.batch,
            filters: geom.filters,
            image: geom.channels * ih * iw,
            iw,
            in_plane: ih * iw,
            kh: geom.kernel[1],
            kw: geom.kernel[2],
            ow,
            pixels: oh * ow,
            taps: s.k,
        })
    }

    /// The input offset of each tap `(c, ky, kx)` from the tap-0 input of a pixel, in the
    /// weight's order.
    fn offsets(&self) -> Vec<usize> {
        let per_channel = self.kh * self.kw;
        (0..self.taps)
            .map(|t| {
                let (c, k) = (t / per_channel, t % per_channel);
                c * self.in_plane + (k / self.kw) * self.iw + k % self.kw
            })
            .collect()
    }

    /// The chunks of one image's output pixels, in order.
    fn chunks(&self) -> Vec<Chunk> {
        (0..self.pixels.div_ceil(LANES))
            .map(|j| {
                let p0 = j * LANES;
                let (r0, c0) = (p0 / self.ow, p0 % self.ow);
                let (mut lo, mut hi) = (0u16, 0u16);
                for i in 0..LANES.min(self.pixels - p0) {
                    if c0 + i < self.ow {
                        lo |= 1 << i;
                    } else {
                        hi |= 1 << i;
                    }
                }
                Chunk {
                    x: r0 * self.iw + c0,
                    out: p0,
                    lo,
                    hi,
                }
            })
            .collect()
    }

    /// Floats between the input of a chunk's first-row lanes and that of its next-row lanes.
    fn shift(&self) -> usize {
        self.iw - self.ow
    }

    /// Multiply-adds of the whole convolution.
    fn work(&self) -> usize {
        self.batch * self.filters * self.taps * self.pixels
    }
}

/// Splits `n` into the fewest groups of at most `max`, of near-equal size: `(start, len)`.
fn groups(n: usize, max: usize) -> Vec<(usize, usize)> {
    let count = n.div_ceil(max).max(1);
    (0..count)
        .map(|g| {
            let start = g * n / count;
            (start, (g + 1) * n / count - start)
        })
        .collect()
}

/// Whether [`forward_with`] and [`weight_gradient_with`] take `geom` on this CPU: AVX-512,
/// and a geometry served here (one group, 2-D, at most [`MAX_CHANNELS`] input channels,
/// stride 1, no padding or dilation, output rows at least 15 wide).
pub fn serves(geom: &ConvGeom) -> bool {
    Isa::current() == Isa::Avx512 && Plan::new(geom).is_some()
}

/// The forward convolution of a layer this module serves: `y = conv(x, w) + bias` on NCHW
/// data, with up to `threads` threads, by the AVX-512 kernel for [`Isa::Avx512`] (on a CPU that
/// has it), else a portable loop. `Ok(false)`, having done nothing, when the geometry is not
/// served ([`super::conv_forward`] asks only where [`serves`] holds, with [`Isa::current`]).
///
/// # Errors
/// [`ConvError`] for a buffer whose length does not match `geom`.
pub fn forward_with(
    isa: Isa,
    op: &NchwOperands<'_, f32>,
    y: &mut [f32],
    threads: usize,
) -> Result<bool, ConvError> {
    let NchwOperands { geom, x, w, bias } = *op;
    let Some(plan) = Plan::new(geom) else {
        return Ok(false);
    };
    check_len("data", x.len(), geom.data_len())?;
    check_len("weight", w.len(), plan.filters * plan.taps)?;
    check_len("output", y.len(), plan.batch * plan.filters * plan.pixels)?;
    if let Some(b) = bias {
        check_len("bias", b.len(), plan.filters)?;
    }
    if plan.batch == 0 {
        return Ok(true);
    }
    let offsets = plan.offsets();
    let chunks = plan.chunks();
    let fgroups = groups(plan.filters, MAX_FORWARD_FILTERS);
    // Weights of group g, tap by tap: `packed[g][t][f]` at `taps·start + t·len + f`.
    let mut packed = vec![0.0f32; plan.filters * plan.taps];
    for &(start, len) in &fgroups {
        for t in 0..plan.taps {
            for f in 0..len {
                packed[plan.taps * start + t * len + f] = w[(start + f) * plan.taps + t];
            }
        }
    }
    let bias = bias.map_or_else(|| vec![0.0f32; plan.filters], <[f32]>::to_vec);
    let sample_out = plan.filters * plan.pixels;
    let parts = threads
        .min(plan.batch)
        .min(plan.work() / MIN_WORK_PER_THREAD)
        .max(1);
    let per = plan.batch.div_ceil(parts);
    let image = |n: usize, yn: &mut [f32]| {
        let xn = &x[n * plan.image..(n + 1) * plan.image];
        for &(start, len) in &fgroups {
            let wg = &packed[plan.taps * start..plan.taps * (start + len)];
            let yg = &mut yn[start * plan.pixels..(start + len) * plan.pixels];
            let bg = &bias[start..start + len];
            forward_group(isa, &plan, xn, &offsets, &chunks, wg, bg, yg);
        }
    };
    parallel::for_each_chunk_mut(y, per * sample_out, |i, yg| {
        for (k, yn) in yg.chunks_exact_mut(sample_out).enumerate() {
            image(i * per + k, yn);
        }
    });
    Ok(true)
}

/// One image's output channels of one group: `yg` (`len × pixels`) from the image `xn`, the
/// group's packed weights `wg` (`taps × len`) and bias `bg` (`len`).
#[allow(clippy::too_many_arguments, reason = "the group's operands")]
fn forward_group(
    isa: Isa,
    plan: &Plan,
    xn: &[f32],
    offsets: &[usize],
    chunks: &[Chunk],
    wg: &[f32],
    bg: &[f32],
    yg: &mut [f32],
) {
    let len = bg.len();
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && isa.is_available() {
        let job = avx512::ForwardJob {
            x: xn.as_ptr(),
            offsets: offsets.as_ptr(),
            taps: plan.taps,
            shift: plan.shift(),
            w: wg.as_ptr(),
            bias: bg.as_ptr(),
            chunks: chunks.as_ptr(),
            n_chunks: chunks.len(),
            y: yg.as_mut_ptr(),
            plane: plan.pixels,
        };
        // SAFETY: AVX-512F and FMA are available (checked above). The job's pointers come from
        // slices of the lengths it needs: `offsets` has `taps` entries and `wg` `taps × len`
        // floats, `bg` `len`; `yg` holds `len` planes of `pixels`, and each chunk's unmasked
        // lanes are pixels `out..out + 16` below `pixels`; their inputs at `x + off(t)` (or
        // `+ shift` for the next row's lanes) are inside the image `xn`, since every tap of
        // every output pixel lies inside an unpadded input (`Plan::new` checked `ow ≥ 15`,
        // so the lanes span at most two rows and `hi` covers the second).
        unsafe { avx512::forward(len, &job) };
        return;
    }
    let _ = isa;
    for (f, yf) in yg.chunks_exact_mut(plan.pixels).enumerate() {
        for (p, yv) in yf.iter_mut().enumerate() {
            let base = (p / plan.ow) * plan.iw + p % plan.ow;
            let mut sum = bg[f];
            for (t, &off) in offsets.iter().enumerate() {
                sum += wg[t * len + f] * xn[base + off];
            }
            *yv = sum;
        }
    }
}

/// Fraction of real lanes and output channels ([`weight_gradient_efficiency`]) from which the
/// blocked weight gradient, where it pays at all, beats this module's: measured (one thread,
/// Zen 4, batch 16 and 64) slower here at 0.94 (3 → 32 channels, 5×5 on 32×32: 0.67 against
/// 0.63 ms), faster at 0.84 (3 → 64, 3×3: 0.60 against 0.70 ms) and 0.49 (LeNet's first layer:
/// 0.44 against 0.98 ms, the blocked kernel declining and im2col serving it).
///
/// [`weight_gradient_efficiency`]: super::backward::weight_gradient_efficiency
pub const BLOCKED_WGRAD_EFFICIENCY: f64 = 0.9;

/// Whether the weight gradient ([`weight_gradient_with`]) takes `geom`: [`serves`], unless the
/// blocked weight gradient pays and wastes few lanes (at least [`BLOCKED_WGRAD_EFFICIENCY`] of them
/// real).
pub fn serves_weight_gradient(geom: &ConvGeom) -> bool {
    serves(geom)
        && !(super::backward::weight_gradient_pays(geom)
            && super::backward::weight_gradient_efficiency(geom) >= BLOCKED_WGRAD_EFFICIENCY)
}

/// The weight gradient of a layer this module serves: `dw` (`F × C × kh × kw`, overwritten)
/// from the input `x` and the head gradient `dy` (NCHW), with up to `threads` threads, by the
/// AVX-512 kernel for [`Isa::Avx512`] (on a CPU that has it), else a portable loop; the result
/// does not depend on `threads`. `Ok(false)`, having done nothing, when the geometry is not
/// served ([`super::conv_backward`] asks only where [`serves_weight_gradient`] holds, with
/// [`Isa::current`]).
///
/// # Errors
/// [`ConvError`] for a buffer whose length does not match `geom`.
pub fn weight_gradient_with(
    isa: Isa,
    geom: &ConvGeom,
    dy: &[f32],
    x: &[f32],
    dw: &mut [f32],
    threads: usize,
) -> Result<bool, ConvError> {
    let Some(plan) = Plan::new(geom) else {
        return Ok(false);
    };
    geom.check_weight_gradient(x.len(), dw.len(), dy.len())?;
    let offsets = plan.offsets();
    let chunks = plan.chunks();
    let tiles: Vec<((usize, usize), (usize, usize))> = groups(plan.filters, MAX_WGRAD_FILTERS)
        .into_iter()
        .flat_map(|f| {
            groups(plan.taps, MAX_WGRAD_TAPS)
                .into_iter()
                .map(move |t| (f, t))
        })
        .collect();
    let parts = threads
        .min(tiles.len())
        .min(plan.work() / MIN_WORK_PER_THREAD)
        .max(1);
    let ranges = parallel::split_range(tiles.len(), parts, 1);
    // Each part's tiles: their 16-lane partial sums, `LANES` floats per (filter, tap) pair.
    let partials: Vec<Vec<f32>> = parallel::map_parts(ranges.len(), |i| {
        let mine = &tiles[ranges[i].clone()];
        let sizes: Vec<usize> = mine
            .iter()
            .map(|((_, fl), (_, tl))| fl * tl * LANES)
            .collect();
        let mut acc = vec![0.0f32; sizes.iter().sum()];
        let mut first = true;
        let mut n0 = 0;
        while n0 < plan.batch {
            let images = WGRAD_IMAGES.min(plan.batch - n0);
            let mut at = 0;
            for (&((f0, fl), (t0, tl)), &size) in mine.iter().zip(&sizes) {
                let tile = Tile {
                    filters: (f0, fl),
                    taps: (t0, tl),
                    images: (n0, images),
                };
                wgrad_tile(
                    isa,
                    &plan,
                    &tile,
                    dy,
                    x,
                    &offsets,
                    &chunks,
                    &mut acc[at..at + size],
                    first,
                );
                at += size;
            }
            first = false;
            n0 += images;
        }
        acc
    });
    for (range, acc) in ranges.iter().zip(&partials) {
        let mut lanes = acc.chunks_exact(LANES);
        for &((f0, fl), (t0, tl)) in &tiles[range.clone()] {
            for f in f0..f0 + fl {
                for t in t0..t0 + tl {
                    // `acc` holds exactly `fl·tl` groups of `LANES` for each of the part's
                    // tiles, in this order, so `next` always has one.
                    let v = lanes.next().map_or(0.0, lane_sum);
                    dw[f * plan.taps + t] = v;
                }
            }
        }
    }
    Ok(true)
}

/// One weight-gradient tile over one block of images: output channels `f0..f0+fl`, taps
/// `t0..t0+tl`, images `n0..n0+count`.
struct Tile {
    filters: (usize, usize),
    taps: (usize, usize),
    images: (usize, usize),
}

/// Adds the tile's products over its images to `acc` (`fl × tl` vectors of 16 lane sums,
/// filter-major; overwritten instead when `zero`).
#[allow(clippy::too_many_arguments, reason = "the tile's operands")]
fn wgrad_tile(
    isa: Isa,
    plan: &Plan,
    tile: &Tile,
    dy: &[f32],
    x: &[f32],
    offsets: &[usize],
    chunks: &[Chunk],
    acc: &mut [f32],
    zero: bool,
) {
    let ((f0, fl), (t0, tl), (n0, count)) = (tile.filters, tile.taps, tile.images);
    let dy_image = plan.filters * plan.pixels;
    let xs = &x[n0 * plan.image..(n0 + count) * plan.image];
    let dys = &dy[n0 * dy_image..(n0 + count) * dy_image];
    let offs = &offsets[t0..t0 + tl];
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && isa.is_available() {
        let job = avx512::WgradJob {
            x: xs.as_ptr(),
            x_image: plan.image,
            dy: dys[f0 * plan.pixels..].as_ptr(),
            dy_image,
            plane: plan.pixels,
            images: count,
            offsets: offs.as_ptr(),
            shift: plan.shift(),
            chunks: chunks.as_ptr(),
            n_chunks: chunks.len(),
            acc: acc.as_mut_ptr(),
            zero,
        };
        // SAFETY: AVX-512F and FMA are available (checked above). `acc` holds `fl × tl × 16`
        // floats and `offs` `tl` offsets; for each of the `count` images, `dys` holds the `fl`
        // planes of `pixels` from channel `f0` on (`f0 + fl ≤ F`), and each chunk's unmasked
        // lanes are pixels below `pixels` whose inputs through every tap lie inside the image
        // in `xs` (as in `forward_group`).
        unsafe { avx512::wgrad(fl, tl, &job) };
        return;
    }
    let _ = isa;
    if zero {
        acc.fill(0.0);
    }
    for (xn, dyn_) in xs.chunks_exact(plan.image).zip(dys.chunks_exact(dy_image)) {
        for f in 0..fl {
            let g = &dyn_[(f0 + f) * plan.pixels..(f0 + f + 1) * plan.pixels];
            for (t, &off) in offs.iter().enumerate() {
                let sums = &mut acc[(f * tl + t) * LANES..(f * tl + t + 1) * LANES];
                for (p, &gv) in g.iter().enumerate() {
                    let base = (p / plan.ow) * plan.iw + p % plan.ow;
                    sums[p % LANES] += gv * xn[base + off];
                }
            }
        }
    }
}

/// The sum of 16 lane sums, added pairwise in a fixed order.
fn lane_sum(v: &[f32]) -> f32 {
    let mut s = [0.0f32; LANES];
    s.copy_from_slice(v);
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            s[i] += s[i + width];
        }
    }
    s[0]
}

#[cfg(test)]
mod tests;
