//! The backward pass of a 2-D `f32` convolution on the channel-blocked layout
//! ([`super::blocked`]): the data gradient through the direct forward kernels
//! ([`super::direct`]) and the weight gradient by its own micro-kernel.
//!
//! **Data gradient.** For stride 1, `dx` is the convolution of `dy` with the weights flipped in
//! both spatial axes and their input and output channels swapped, padded by
//! `dilate·(k−1) − pad`. For a stride `s > 1`, each of the `s²` output phases of `dx` (the
//! pixels `(ry + s·a, rx + s·b)` for one `(ry, rx)`) only sees the taps `k` with
//! `k·dilate − pad − r ≡ 0 (mod s)`, and is a stride-1 correlation of `dy` with those taps
//! (flipped; dilation `dilate / gcd(dilate, s)`): ResNet's 3×3/2 becomes a 1×1, a 1×2, a 2×1 and
//! a 2×2 convolution, the 1×1/2 a 1×1 convolution on the even pixels (the others are zero). A
//! phase that needs more padding on one side than the other is padded by the larger amount and
//! its extra outputs are dropped as it is scattered into `dx`. A stride-1 5×5 layer runs through
//! the transposed Winograd algorithm on the forward pass's tiles where
//! [`super::winograd::dgrad::plan`] takes it (LeNet's second layer: 1.1 ms against 2.1 for the
//! fused GEMM + col2im, one Zen 4 core); a stride-1 3×3 (or 5×5) layer's single
//! phase runs through Winograd where [`super::winograd::plan_nchw`] takes it (as the forward
//! pass does); every other phase runs on [`DirectConv`] with repacked weights ([`DirectConv::pack_weights`] of the flipped,
//! transposed taps), reading one blocked copy of `dy` whose halo covers every phase's padding.
//!
//! **Weight gradient.** A 3×3 stride-1 layer on blocked input runs through Winograd
//! ([`super::winograd::wgrad`]: `F(4×4)` or `F(2×2)`, 0.4 to 0.6 times the direct kernel's time
//! on ResNet-18's layers) where [`super::winograd::wgrad::plan`] takes it (64 channels or more
//! each side, maps of 4×4 and more; not with `MXR_WINOGRAD=0`), and so does a 5×5 stride-1
//! layer (`F(4×4, 5×5)`; 8 channels or more each side, 512 output pixels: LeNet's second
//! layer, about 0.3 times the implicit GEMM's time); everything else runs on the
//! direct kernel ([`weight_gradient_direct`]), which tests and benchmarks can also call on
//! those layers. `dw[f][c][ky][kx] = Σ_n Σ_pixels dy[n][f][pixel] ·
//! x[n][c][pixel·s + k·d − p]` is computed there in tiles of 16 input "lanes" by 16 output channels:
//! 16 accumulator registers, each the gradient of one lane for one block of 16 output
//! channels. Per output pixel the kernel loads one 16-channel vector of `dy` and multiplies it
//! by each lane's input value, broadcast. On blocked data (the usual case) the 16 lanes are the
//! 16 channels of one input block at one kernel tap: their values are next to each other, and
//! a tap is an offset. The pixels a tap reads outside the input (the padding) are not visited:
//! rows by skipping them, columns by narrowing each row's pixel range, so no halo is needed and
//! no multiply-add is spent on padding. A layer with few input channels (a network's first)
//! would waste most of a 16-channel block, so there the lanes are 16 consecutive `(channel,
//! ky, kx)` triples of the weight instead, read from a zero-padded plain NCHW copy of the input
//! ([`WgradInput::Nchw`]).
//!
//! The tiles (output block × input block × tap, or output block × lane group) are split
//! statically over the threads, and each tile is reduced by one thread over the images and
//! pixels in their natural order (image, row, column), whatever the number of threads: the
//! results do not depend on it. The pixels are walked in chunks (whole images, or rows of one
//! image) whose inputs and head gradients for all blocks fit in L2; each chunk is visited by
//! all of a thread's tiles before the next, the partial sums staying in the tile's slot of a
//! blocked `dw` (so chunking does not change the order of the sum either).
//!
//! [`backward_nchw`] is what [`super::conv_backward`] calls for `f32`. It decides per gradient,
//! by shape, whether the blocked kernels beat im2col + GEMM, conversions included
//! ([`weight_gradient_pays`], [`data_gradient_pays`]: not for 1×1 kernels, few pixels, or
//! mostly padding), converts `dy` (and `x` for the weight gradient) to the blocked layout, and
//! runs those gradients; `conv_backward` computes the others by im2col. Typical outcomes:
//! ResNet's 3×3 layers take both gradients here; LeNet's second layer and a network's first
//! (3 channels) only the weight gradient (their data gradient would be mostly padding); 1×1
//! layers neither. The environment variable `MXR_CONV_BACKWARD=im2col` (read once) makes
//! [`backward_nchw`] serve nothing, so every gradient goes to im2col (to compare the two in
//! one binary); any other value, or none, decides by shape.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

use super::blocked::{BLOCK, Blocked};
use super::direct::{DirectConv, Epilogue, InputLayout, InputStrides, aligned, pack_and_run};
use super::{ConvError, ConvGeom, check_len, valid_range};
use crate::cpu::isa::Isa;
use crate::cpu::parallel;

/// Input bytes (for every block) one pixel chunk of the weight gradient may read: half of a
/// core's L2 (1 MiB on Zen 4, 2 MiB on recent Intel), so that each tile's pass over the chunk
/// finds it there.
const CHUNK_BYTES: usize = 512 << 10;
/// Weight-gradient work (multiply-adds) below which one thread does it all.
const MIN_WORK_PER_THREAD: usize = 1 << 20;
/// Weight-gradient floats per thread, at least, when the tiles are written out.
const MIN_UNPACK_PER_THREAD: usize = 1 << 16;
/// Floats of one weight-gradient tile: 16 lanes × 16 output channels.
const TILE: usize = BLOCK * BLOCK;

/// Where the weight gradient reads the convolution's input.
#[derive(Debug, Clone, Copy)]
pub enum WgradInput<'a> {
    /// Channel-blocked, in this layout (any halo).
    Blocked(&'a [f32], Blocked),
    /// Plain NCHW (`N·C·H·W` floats); the lanes of a tile are 16 consecutive
    /// `(channel, ky, kx)` of the weight. For layers with few input channels.
    Nchw(&'a [f32]),
}

/// One weight-gradient micro-kernel call, as raw pointers (the driver derives them from checked
/// slices).
///
/// For `i < images`, `r < rows`, `p < pixels` and lane `j < 16`, the kernel adds
/// `x[i·x_image + r·x_row + p·x_pixel + off(j)] · dy[i·dy_image + r·dy_row + p·16 .. + 16]` to
/// `acc[16·j .. 16·j + 16]`, pixel after pixel in that order, where `off(j)` is `j` when
/// `lanes` is null and `lanes[j]` otherwise; the sums start from zero instead of `acc`'s
/// contents when `zero` (the tile's first job), and are written back to `acc`. Only the first
/// `used` lanes' sums are wanted: the AVX-512 kernel skips the others (from the next multiple
/// of 4 on), whose accumulators then come back unspecified.
#[derive(Debug)]
pub(crate) struct WgradJob {
    x: *const f32,
    lanes: *const isize,
    x_pixel: usize,
    x_row: usize,
    x_image: usize,
    dy: *const f32,
    dy_row: usize,
    dy_image: usize,
    pixels: usize,
    rows: usize,
    images: usize,
    acc: *mut f32,
    zero: bool,
    /// Lanes whose sums are wanted (1 to 16).
    used: usize,
}

/// Runs one weight-gradient job with the best kernel for `isa` (available: checked by the
/// caller).
///
/// # Safety
/// As [`WgradJob`] documents.
unsafe fn run_wgrad(isa: Isa, job: &WgradJob) {
    #[cfg(target_arch = "x86_64")]
    match isa {
        // SAFETY: AVX-512F and FMA are available (the caller checked `isa`); the job is valid.
        Isa::Avx512 => unsafe {
            match (job.lanes.is_null(), job.used) {
                (false, _) => avx512::wgrad::<true, BLOCK>(job),
                (true, ..=4) => avx512::wgrad::<false, 4>(job),
                (true, 5..=8) => avx512::wgrad::<false, 8>(job),
                (true, 9..=12) => avx512::wgrad::<false, 12>(job),
                (true, _) => avx512::wgrad::<false, BLOCK>(job),
            }
        },
        // SAFETY: AVX2 and FMA are available; the job is valid.
        Isa::Avx2 => unsafe {
            if job.lanes.is_null() {
                avx2::wgrad::<false>(job)
            } else {
                avx2::wgrad::<true>(job)
            }
        },
        // SAFETY: forwarded.
        Isa::Scalar => unsafe { wgrad_scalar(job) },
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = isa;
        // SAFETY: forwarded.
        unsafe { wgrad_scalar(job) }
    }
}

/// One weight-gradient tile over `pixels` consecutive pixels of channel-blocked rows (the
/// Winograd weight gradient's matrix products, [`super::winograd::wgrad`]): for `p < pixels`,
/// lane `j < used` and output channel `o < 16`, `acc[16·j + o]` becomes the sum, from zero,
/// of `x[16·p + j] · dy[16·p + o]`, pixel after pixel, with the kernel of `isa` (available);
/// the other lanes' sums are unspecified (`used`: 1 to 16).
///
/// # Safety
/// `x` and `dy` are readable for `16·pixels` floats, `acc` writable for 256.
pub(crate) unsafe fn wgrad_rows(
    isa: Isa,
    x: *const f32,
    dy: *const f32,
    pixels: usize,
    acc: *mut f32,
    used: usize,
) {
    let job = WgradJob {
        x,
        lanes: std::ptr::null(),
        x_pixel: BLOCK,
        x_row: 0,
        x_image: 0,
        dy,
        dy_row: 0,
        dy_image: 0,
        pixels,
        rows: 1,
        images: 1,
        acc,
        zero: true,
        used,
    };
    // SAFETY: one row of `pixels` pixels, 16 floats apart on both sides (the caller's
    // contract), lanes at offsets 0..16, the tile at `acc`.
    unsafe { run_wgrad(isa, &job) }
}

/// The portable weight-gradient kernel: the vector kernels' arithmetic one lane at a time,
/// each accumulator the same chain of fused multiply-adds in the same order (so every
/// instruction set gives the same bits).
///
/// # Safety
/// As [`WgradJob`] documents.
unsafe fn wgrad_scalar(job: &WgradJob) {
    let mut acc = [0.0f32; TILE];
    let offs: [isize; BLOCK] = if job.lanes.is_null() {
        std::array::from_fn(|j| j as isize)
    } else {
        // SAFETY: `lanes` points at 16 offsets.
        unsafe { *job.lanes.cast::<[isize; BLOCK]>() }
    };
    // SAFETY: (the whole body) every pointer below is inside what `WgradJob` documents.
    unsafe {
        if !job.zero {
            acc.copy_from_slice(std::slice::from_raw_parts(job.acc, TILE));
        }
        for i in 0..job.images {
            for r in 0..job.rows {
                let xr = job.x.add(i * job.x_image + r * job.x_row);
                let dr = job.dy.add(i * job.dy_image + r * job.dy_row);
                for p in 0..job.pixels {
                    let xp = xr.add(p * job.x_pixel);
                    let d = std::slice::from_raw_parts(dr.add(p * BLOCK), BLOCK);
                    for (j, &o) in offs.iter().enumerate() {
                        let a = *xp.offset(o);
                        for (s, &dv) in acc[j * BLOCK..(j + 1) * BLOCK].iter_mut().zip(d) {
                            *s = a.mul_add(dv, *s);
                        }
                    }
                }
            }
        }
        std::ptr::copy_nonoverlapping(acc.as_ptr(), job.acc, TILE);
    }
}

/// The geometries the backward kernels serve: 2-D (or 1-D) convolutions with one group.
fn served(geom: &ConvGeom) -> bool {
    geom.groups == 1
        && geom.kernel[0] == 1
        && geom.input[0] == 1
        && geom.stride[0] == 1
        && geom.pad[0] == 0
}

/// Whether the weight gradient of `geom` reads plain NCHW input ([`WgradInput::Nchw`]) rather
/// than blocked: when 16-lane groups of `(channel, tap)` waste fewer lanes than 16-channel
/// blocks do (counting a plain lane as 1.25 blocked ones for its scattered loads and the
/// padded copy).
pub fn wgrad_prefers_nchw(geom: &ConvGeom) -> bool {
    let taps = geom.kernel[1] * geom.kernel[2];
    let blocked = geom.channels.div_ceil(BLOCK) * BLOCK * taps;
    let plain = (geom.channels * taps).div_ceil(BLOCK) * BLOCK;
    4 * blocked > 5 * plain
}

/// The weight gradient `dw` (`F × C × kh × kw`, overwritten) of the convolution `geom` (2-D,
/// one group, any stride, padding and dilation) from its input `x` and head gradient `dy`
/// (blocked, `N × F × oh × ow`, any halo), with `isa` (the portable code if this CPU lacks it)
/// on up to `threads` threads: by Winograd ([`super::winograd::wgrad`]) where
/// [`super::winograd::wgrad::plan`] takes the layer (3×3 or 5×5, stride 1, blocked input; not
/// with `MXR_WINOGRAD=0`), else by the direct kernel ([`weight_gradient_direct`]). The result does
/// not depend on `threads`.
///
/// # Errors
/// [`ConvError`] for a geometry these kernels do not serve, or buffers or layouts that do not
/// match it.
pub fn weight_gradient(
    isa: Isa,
    geom: &ConvGeom,
    x: WgradInput<'_>,
    dy: &[f32],
    dy_layout: &Blocked,
    dw: &mut [f32],
    threads: usize,
) -> Result<(), ConvError> {
    if let WgradInput::Blocked(xb, layout) = x
        && let Some(wino) = super::winograd::wgrad::plan(geom)
    {
        check_head_gradient(geom, dy, dy_layout, 0)?;
        return wino.run(isa, xb, &layout, dy, dy_layout, dw, threads);
    }
    weight_gradient_direct(isa, geom, x, dy, dy_layout, dw, threads)
}

/// [`weight_gradient`] by the direct kernel whatever the geometry (the module docs describe
/// it; benchmarks and tests compare it with Winograd).
///
/// # Errors
/// As [`weight_gradient`].
pub fn weight_gradient_direct(
    isa: Isa,
    geom: &ConvGeom,
    x: WgradInput<'_>,
    dy: &[f32],
    dy_layout: &Blocked,
    dw: &mut [f32],
    threads: usize,
) -> Result<(), ConvError> {
    let s = check_head_gradient(geom, dy, dy_layout, 0)?;
    check_len("weight gradient", dw.len(), geom.weight_len())?;
    let isa = if isa.is_available() { isa } else { Isa::Scalar };
    WGRAD_SCRATCH.with_borrow_mut(|[padded, tiles]| {
        let plan = match x {
            WgradInput::Blocked(xb, layout) => {
                let [_, ih, iw] = geom.input;
                let want = Blocked::new(geom.batch, geom.channels, ih, iw, layout.halo);
                if layout != want {
                    return Err(ConvError::Geometry(format!(
                        "weight gradient: input layout {layout:?}, the geometry needs {want:?}"
                    )));
                }
                check_len("data", xb.len(), layout.len())?;
                WgradPlan::blocked(geom, &s, xb, layout, dy_layout)
            }
            WgradInput::Nchw(xs) => {
                check_len("data", xs.len(), geom.data_len())?;
                WgradPlan::plain(geom, &s, xs, padded, dy_layout)
            }
        };
        resize(tiles, plan.tiles * TILE);
        let parts = threads
            .min(plan.tiles)
            .min(plan.work / MIN_WORK_PER_THREAD)
            .max(1);
        let ranges = parallel::split_range(plan.tiles, parts, 1);
        // The tile ranges are disjoint: each part writes its own tiles.
        let shared = parallel::SharedMut::new(tiles.as_mut_ptr());
        let run = |part: usize| {
            // SAFETY: the plan's pointers come from the checked buffers (see `WgradPlan`), and
            // the tile ranges are disjoint, so each thread writes its own tiles.
            unsafe { plan.run(isa, dy.as_ptr(), shared.get(), ranges[part].clone()) }
        };
        parallel::for_each_part(ranges.len(), run);
        plan.unpack(tiles, dw, threads);
        Ok(())
    })
}

/// Checks that `geom` is served and that `dy` holds its blocked head gradient in `dy_layout`,
/// with a halo of at least `halo`; returns the geometry's sizes.
fn check_head_gradient(
    geom: &ConvGeom,
    dy: &[f32],
    dy_layout: &Blocked,
    halo: usize,
) -> Result<super::Sizes, ConvError> {
    let s = geom.sizes()?;
    if !served(geom) {
        return Err(ConvError::Geometry(format!(
            "backward kernels: only 2-D convolutions with one group are served, not {geom:?}"
        )));
    }
    let [_, oh, ow] = s.out;
    let want = Blocked::new(geom.batch, geom.filters, oh, ow, dy_layout.halo);
    if *dy_layout != want || dy_layout.halo < halo {
        return Err(ConvError::Geometry(format!(
            "backward kernels: head gradient layout {dy_layout:?}, the geometry needs {want:?} \
             with a halo of at least {halo}"
        )));
    }
    check_len("output gradient", dy.len(), dy_layout.len())?;
    Ok(s)
}

/// A checked weight-gradient problem: where the tiles read, and how they map onto `dw`.
struct WgradPlan<'a> {
    geom: ConvGeom,
    out: [usize; 2],
    /// The input: blocked, or the zero-padded plain copy.
    x: &'a [f32],
    /// Blocked input layout; `None` for plain input.
    blocked: Option<Blocked>,
    /// Plain input: padded height and width; the lane offsets of every lane group.
    plain_hw: [usize; 2],
    lanes: Vec<[isize; BLOCK]>,
    dy_layout: Blocked,
    /// Tiles per output block (input blocks × taps, or lane groups).
    per_fb: usize,
    tiles: usize,
    /// Multiply-adds in all.
    work: usize,
    /// Pixel chunks: (first image, images, first row, rows).
    chunks: Vec<[usize; 4]>,
}

impl<'a> WgradPlan<'a> {
    fn blocked(
        geom: &ConvGeom,
        s: &super::Sizes,
        x: &'a [f32],
        layout: Blocked,
        dy_layout: &Blocked,
    ) -> WgradPlan<'a> {
        let [_, oh, ow] = s.out;
        let taps = s.taps;
        let cb = layout.blocks();
        let fb = dy_layout.blocks();
        // Bytes per output row, every block: the input rows it reads (stride rows) and its
        // head-gradient row.
        let per_row = 4 * (cb * geom.stride[1] * layout.pitch() + fb * dy_layout.pitch());
        WgradPlan {
            geom: *geom,
            out: [oh, ow],
            x,
            blocked: Some(layout),
            plain_hw: [0, 0],
            lanes: Vec::new(),
            dy_layout: *dy_layout,
            per_fb: cb * taps,
            tiles: fb * cb * taps,
            work: geom.batch * fb * cb * taps * oh * ow * BLOCK,
            chunks: chunks(geom.batch, oh, per_row),
        }
    }

    /// The plain plan: copies `x` with its padding into `padded` (unless there is none).
    fn plain(
        geom: &ConvGeom,
        s: &super::Sizes,
        x: &'a [f32],
        padded: &'a mut Vec<f32>,
        dy_layout: &Blocked,
    ) -> WgradPlan<'a> {
        let [_, oh, ow] = s.out;
        let [_, ih, iw] = geom.input;
        let [_, ph, pw] = geom.pad;
        let (hp, wp) = (ih + 2 * ph, iw + 2 * pw);
        let x: &'a [f32] = if ph == 0 && pw == 0 {
            x
        } else {
            resize(padded, geom.batch * geom.channels * hp * wp);
            padded.fill(0.0);
            for (src, dst) in x
                .chunks_exact(ih * iw)
                .zip(padded.chunks_exact_mut(hp * wp))
            {
                for (sr, dr) in src
                    .chunks_exact(iw)
                    .zip(dst[ph * wp..].chunks_exact_mut(wp))
                {
                    dr[pw..pw + iw].copy_from_slice(sr);
                }
            }
            padded
        };
        let (kh, kw) = (geom.kernel[1], geom.kernel[2]);
        let k = geom.channels * kh * kw;
        let groups = k.div_ceil(BLOCK);
        let lanes = (0..groups)
            .map(|g| {
                std::array::from_fn(|j| {
                    let kk = g * BLOCK + j;
                    if kk >= k {
                        return 0;
                    }
                    let (c, ky, kx) = (kk / (kh * kw), kk / kw % kh, kk % kw);
                    (c * hp * wp + ky * geom.dilate[1] * wp + kx * geom.dilate[2]) as isize
                })
            })
            .collect();
        let fb = dy_layout.blocks();
        let per_row = 4 * (geom.channels * geom.stride[1] * wp + fb * dy_layout.pitch());
        WgradPlan {
            geom: *geom,
            out: [oh, ow],
            x,
            blocked: None,
            plain_hw: [hp, wp],
            lanes,
            dy_layout: *dy_layout,
            per_fb: groups,
            tiles: fb * groups,
            work: geom.batch * fb * groups * oh * ow * TILE,
            chunks: chunks(geom.batch, oh, per_row),
        }
    }

    /// Accumulates every pixel chunk into tiles `range` of `tiles` (`TILE` floats each).
    ///
    /// # Safety
    /// `dy` is the checked head gradient of the plan, `tiles` holds `self.tiles` tiles, and no
    /// other thread touches tiles `range`.
    unsafe fn run(&self, isa: Isa, dy: *const f32, tiles: *mut f32, range: std::ops::Range<usize>) {
        let g = &self.geom;
        let [oh, ow] = self.out;
        let (kh, kw) = (g.kernel[1], g.kernel[2]);
        let [_, sh, sw] = g.stride;
        let [_, ph, pw] = g.pad;
        let [_, dh, dwl] = g.dilate;
        let [_, ih, iw] = g.input;
        let d = &self.dy_layout;
        // Which tiles of `range` have had their first job (which starts them from zero).
        let mut started = vec![false; range.len()];
        for &[n0, images, y0, rows] in &self.chunks {
            for t in range.clone() {
                let (fb, rest) = (t / self.per_fb, t % self.per_fb);
                // SAFETY: `n0 + images <= batch`, `fb < blocks`, `y0 + rows <= oh`: inside
                // the checked head gradient (`dy_off` below stays inside the same rows).
                let dyb = unsafe { dy.add(n0 * d.image() + fb * d.plane() + d.halo * BLOCK) };
                // SAFETY: tile `t` of `self.tiles`.
                let acc = unsafe { tiles.add(t * TILE) };
                let job = match self.blocked {
                    Some(l) => {
                        let (cb, tap) = (rest / (kh * kw), rest % (kh * kw));
                        let (ky, kx) = (tap / kw, tap % kw);
                        let off_y = (ky * dh) as isize - ph as isize;
                        let off_x = (kx * dwl) as isize - pw as isize;
                        let (lo, hi) = valid_range(oh, ih, sh, off_y);
                        let (x_lo, x_hi) = valid_range(ow, iw, sw, off_x);
                        let (r0, r1) = (lo.max(y0), hi.min(y0 + rows));
                        if r0 >= r1 || x_lo >= x_hi {
                            continue;
                        }
                        // Input row and column of output (r0, x_lo): inside the input.
                        let iy = ((r0 * sh) as isize + off_y) as usize;
                        let ix = ((x_lo * sw) as isize + off_x) as usize;
                        WgradJob {
                            // SAFETY: element (n0, cb·16, iy, ix) of the checked input; the
                            // rows and pixels the job walks stay inside (valid ranges).
                            x: unsafe {
                                self.x.as_ptr().add(
                                    n0 * l.image()
                                        + cb * l.plane()
                                        + iy * l.pitch()
                                        + (ix + l.halo) * BLOCK,
                                )
                            },
                            lanes: std::ptr::null(),
                            x_pixel: sw * BLOCK,
                            x_row: sh * l.pitch(),
                            x_image: l.image(),
                            // SAFETY: row r0, column x_lo of this block.
                            dy: unsafe { dyb.add(r0 * d.pitch() + x_lo * BLOCK) },
                            dy_row: d.pitch(),
                            dy_image: d.image(),
                            pixels: x_hi - x_lo,
                            rows: r1 - r0,
                            images,
                            acc,
                            zero: !started[t - range.start],
                            used: BLOCK,
                        }
                    }
                    None => {
                        let [hp, wp] = self.plain_hw;
                        let image = g.channels * hp * wp;
                        WgradJob {
                            // SAFETY: output (n0, y0, 0) reads the padded input from here on;
                            // every lane offset plus the window stays inside the image.
                            x: unsafe { self.x.as_ptr().add(n0 * image + y0 * sh * wp) },
                            lanes: self.lanes[rest].as_ptr(),
                            x_pixel: sw,
                            x_row: sh * wp,
                            x_image: image,
                            // SAFETY: row y0 of this block.
                            dy: unsafe { dyb.add(y0 * d.pitch()) },
                            dy_row: d.pitch(),
                            dy_image: d.image(),
                            pixels: ow,
                            rows,
                            images,
                            acc,
                            zero: !started[t - range.start],
                            used: BLOCK,
                        }
                    }
                };
                // SAFETY: the job is as `WgradJob` documents (above).
                unsafe { run_wgrad(isa, &job) };
                started[t - range.start] = true;
            }
        }
        // Tiles whose taps never reach the input (padding wider than the kernel's reach).
        for (t, _) in range.zip(started).filter(|(_, s)| !s) {
            // SAFETY: tile `t` of `self.tiles`, this thread's.
            unsafe { std::ptr::write_bytes(tiles.add(t * TILE), 0, TILE) };
        }
    }

    /// Writes the tiles into `dw` (`F × C × kh × kw`) on up to `threads` threads (whole
    /// blocks of 16 rows each).
    fn unpack(&self, tiles: &[f32], dw: &mut [f32], threads: usize) {
        let g = &self.geom;
        let k = g.channels * g.kernel[1] * g.kernel[2];
        let parts = threads.min(dw.len() / MIN_UNPACK_PER_THREAD).max(1);
        let ranges = parallel::split_range(g.filters, parts, BLOCK);
        let shared = parallel::SharedMut::new(dw.as_mut_ptr());
        parallel::for_each_part(ranges.len(), |p| {
            let rows = ranges[p].clone();
            // SAFETY: rows `rows` of `dw` (`F` rows of `k`), disjoint between the parts.
            let dw = unsafe {
                std::slice::from_raw_parts_mut(shared.get().add(rows.start * k), rows.len() * k)
            };
            self.unpack_rows(tiles, rows.start, dw);
        });
    }

    /// Writes rows `first..` of `dw` (as many as `dw` holds) from the tiles. Each row is
    /// written in order; the tiles it reads (one output block's) stay in L2 while its 16 rows
    /// are written.
    fn unpack_rows(&self, tiles: &[f32], first: usize, dw: &mut [f32]) {
        let g = &self.geom;
        let taps = g.kernel[1] * g.kernel[2];
        let c = g.channels;
        let k = c * taps;
        for (f, row) in (first..).zip(dw.chunks_exact_mut(k)) {
            let (fb, fl) = (f / BLOCK, f % BLOCK);
            let slab = &tiles[fb * self.per_fb * TILE..][..self.per_fb * TILE];
            if self.blocked.is_some() {
                // Row entry (c, tap) is lane c % 16 of tile (c / 16, tap).
                for (ch, out) in row.chunks_exact_mut(taps).enumerate() {
                    let (cb, lane) = (ch / BLOCK, ch % BLOCK);
                    let first = cb * taps * TILE + lane * BLOCK + fl;
                    for (v, &t) in out.iter_mut().zip(slab[first..].iter().step_by(TILE)) {
                        *v = t;
                    }
                }
            } else {
                // Row entry kk is lane kk % 16 of lane group kk / 16.
                for (v, &t) in row.iter_mut().zip(slab[fl..].iter().step_by(BLOCK)) {
                    *v = t;
                }
            }
        }
    }
}

/// Pixel chunks of about [`CHUNK_BYTES`] of input: runs of whole images when one image's
/// rows (`per_row` bytes each) fit, else runs of rows of one image.
fn chunks(batch: usize, oh: usize, per_row: usize) -> Vec<[usize; 4]> {
    let per_image = per_row * oh;
    let mut out = Vec::new();
    if per_image <= CHUNK_BYTES {
        let step = (CHUNK_BYTES / per_image.max(1)).max(1);
        for n0 in (0..batch).step_by(step) {
            out.push([n0, step.min(batch - n0), 0, oh]);
        }
    } else {
        let step = (CHUNK_BYTES / per_row.max(1)).max(1);
        for n in 0..batch {
            for y0 in (0..oh).step_by(step) {
                out.push([n, 1, y0, step.min(oh - y0)]);
            }
        }
    }
    out
}

/// One output phase of the data gradient along one spatial dimension (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Phase {
    /// The first `dx` coordinate of the phase (`r`), and how many it has (`A`).
    first: usize,
    count: usize,
    /// The kernel taps that reach it, ascending.
    taps: Vec<usize>,
    /// The stride-1 correlation: padding, dilation, and the first of its outputs that is kept.
    pad: usize,
    dilate: usize,
    skip: usize,
}

/// The phases of one dimension: `size` inputs, `out` outputs, kernel `k`, stride `s`, padding
/// `p`, dilation `d`. Phases without inputs are left out; those without taps have none.
fn phases(size: usize, out: usize, k: usize, s: usize, p: usize, d: usize) -> Vec<Phase> {
    let mut v = Vec::new();
    for r in 0..s.min(size) {
        let count = (size - r).div_ceil(s);
        let taps: Vec<usize> = (0..k)
            .filter(|&t| ((t * d) as isize - p as isize - r as isize).rem_euclid(s as isize) == 0)
            .collect();
        // Output `a` of the phase reads dy[a − t_j], t_j = (tap_j·d − p − r) / s.
        let t = |tap: usize| ((tap * d) as isize - p as isize - r as isize) / s as isize;
        let (pad, dilate, skip) = match (taps.first(), taps.last()) {
            (Some(&first), Some(&last)) => {
                let (t0, tl) = (t(first), t(last));
                let right = count as isize - out as isize - t0;
                let pad = tl.max(right).max(0);
                let dilate = if taps.len() > 1 {
                    (t(taps[1]) - t0) as usize
                } else {
                    1
                };
                (pad as usize, dilate, (pad - tl) as usize)
            }
            _ => (0, 1, 0),
        };
        v.push(Phase {
            first: r,
            count,
            taps,
            pad,
            dilate,
            skip,
        });
    }
    v
}

/// The horizontal halo the blocked head gradient needs for [`data_gradient`] of `geom`: none
/// where the transposed Winograd algorithm takes it ([`super::winograd::dgrad::plan`], which
/// reads only `dy`'s own pixels), else the largest padding of its phases.
///
/// # Errors
/// [`ConvError`] for an invalid geometry.
pub fn data_gradient_halo(geom: &ConvGeom) -> Result<usize, ConvError> {
    let out = geom.output()?;
    if super::winograd::dgrad::plan(geom).is_some() {
        return Ok(0);
    }
    Ok(phases(
        geom.input[2],
        out[2],
        geom.kernel[2],
        geom.stride[2],
        geom.pad[2],
        geom.dilate[2],
    )
    .iter()
    .map(|p| p.pad)
    .max()
    .unwrap_or(0))
}

/// The data gradient `dx` (NCHW, `N × C × H × W`, overwritten) of the convolution `geom` (2-D,
/// one group, any stride, padding and dilation) from its head gradient `dy` (blocked, with a
/// halo of at least [`data_gradient_halo`]) and weights `w` (`F × C × kh × kw`), by direct
/// convolutions of `dy` (one per output phase; see the module docs) with `isa` on up to
/// `threads` threads. The result does not depend on `threads`.
///
/// # Errors
/// [`ConvError`] for a geometry these kernels do not serve, or buffers or layouts that do not
/// match it.
#[allow(clippy::too_many_arguments, reason = "the gradient's operands")]
pub fn data_gradient(
    isa: Isa,
    geom: &ConvGeom,
    dy: &[f32],
    dy_layout: &Blocked,
    w: &[f32],
    dx: &mut [f32],
    threads: usize,
) -> Result<(), ConvError> {
    let s = check_head_gradient(geom, dy, dy_layout, data_gradient_halo(geom)?)?;
    let [_, oh, ow] = s.out;
    check_len("weight", w.len(), geom.weight_len())?;
    check_len("data gradient", dx.len(), geom.data_len())?;
    let [_, ih, iw] = geom.input;
    let (kh, kw) = (geom.kernel[1], geom.kernel[2]);
    let rows = phases(ih, oh, kh, geom.stride[1], geom.pad[1], geom.dilate[1]);
    let cols = phases(iw, ow, kw, geom.stride[2], geom.pad[2], geom.dilate[2]);
    let isa = if isa.is_available() { isa } else { Isa::Scalar };
    let strides = InputStrides::blocked(dy_layout);
    let (c, f) = (geom.channels, geom.filters);
    // The kernel taps of each phase that has some, flipped (the order its correlation reads
    // them in), and where its weights start in `flipped`.
    let mut orders: Vec<Vec<usize>> = Vec::new();
    for py in rows.iter().filter(|p| !p.taps.is_empty()) {
        for px in cols.iter().filter(|p| !p.taps.is_empty()) {
            let order = py.taps.iter().rev();
            orders.push(
                order
                    .flat_map(|&ky| px.taps.iter().rev().map(move |&kx| ky * kw + kx))
                    .collect(),
            );
        }
    }
    // The stride-1 correlation of `dy` with a phase's flipped taps.
    let phase_geom = |py: &Phase, px: &Phase| {
        ConvGeom::new_2d(
            geom.batch,
            f,
            c,
            1,
            [oh, ow],
            [py.taps.len(), px.taps.len()],
            [1, 1],
            [py.pad, px.pad],
            [py.dilate, px.dilate],
        )
    };
    // Stride 1 (one phase, every tap): the flipped correlation's output is `dx` itself, and
    // Winograd takes it where it pays (as in the forward pass), packing straight from `w`.
    if let ([py], [px]) = (&rows[..], &cols[..])
        && geom.stride == [1; 3]
        && py.skip == 0
        && px.skip == 0
        && py.taps.len() == kh
        && px.taps.len() == kw
    {
        // 5×5: the transposed Winograd algorithm, on the forward pass's tiles.
        if let Some(wino) = super::winograd::dgrad::plan(geom) {
            return DGRAD_SCRATCH.with_borrow_mut(|[_, packed, out]| {
                let packed = aligned(packed, wino.packed_len());
                wino.pack_with(isa, w, packed, threads)?;
                let layout = Blocked::new(geom.batch, c, ih, iw, 0);
                resize(out, layout.len());
                wino.run(isa, dy, dy_layout, packed, out, &layout, threads)?;
                super::blocked::from_blocked_with(isa, out, &layout, dx, threads);
                Ok(())
            });
        }
        let pg = phase_geom(py, px);
        if let Some(wino) = super::winograd::plan_nchw(&pg).filter(|p| p.output_size() == [ih, iw])
        {
            return DGRAD_SCRATCH.with_borrow_mut(|[_, packed, out]| {
                let packed = aligned(packed, wino.packed_len());
                wino.pack_flipped_with(isa, w, packed, threads)?;
                let layout = wino.output_layout(0);
                resize(out, layout.len());
                let ep = Epilogue::default();
                wino.forward_with(isa, dy, &strides, packed, &ep, out, &layout, threads)?;
                super::blocked::from_blocked_with(isa, out, &layout, dx, threads);
                Ok(())
            });
        }
    }
    DGRAD_SCRATCH.with_borrow_mut(|[flipped, packed, out]| {
        // w'[c][f][a][b] = w[f][c][taps_y[jy−1−a]][taps_x[jx−1−b]], every phase in one pass.
        resize(flipped, c * f * orders.iter().map(Vec::len).sum::<usize>());
        flip_transpose(w, [f, c, kh * kw], &orders, flipped);
        let mut phase_weights = flipped.as_slice();
        for py in &rows {
            for px in &cols {
                if py.taps.is_empty() || px.taps.is_empty() {
                    scatter_zero(geom, py, px, dx);
                    continue;
                }
                let (jy, jx) = (py.taps.len(), px.taps.len());
                let pg = phase_geom(py, px);
                let (mine, rest) = phase_weights.split_at(c * f * jy * jx);
                phase_weights = rest;
                // Planned for `isa`'s tile (the AVX2 kernel packs one block per group).
                let plan =
                    DirectConv::new_for(&pg, InputLayout::Blocked, isa)?.ok_or_else(|| {
                        ConvError::Geometry(format!("data gradient: phase {pg:?} not served"))
                    })?;
                let layout = pack_and_run(
                    &plan,
                    isa,
                    dy,
                    &strides,
                    mine,
                    &Epilogue::default(),
                    [&mut *packed, &mut *out],
                    threads,
                )?;
                let whole = geom.stride[1] == 1
                    && geom.stride[2] == 1
                    && py.skip == 0
                    && px.skip == 0
                    && layout.h == ih
                    && layout.w == iw;
                if whole {
                    super::blocked::from_blocked_with(isa, out, &layout, dx, threads);
                } else {
                    scatter(geom, py, px, out, &layout, dx);
                }
            }
        }
        Ok(())
    })
}

/// The weights of the data-gradient phases, in one pass over `w` (`[f, c, taps]`): phase `p`
/// (of `orders`, its flipped taps) gets `c × f × orders[p].len()` floats of `dst`, after those
/// of the phases before it, with `dst_p[c][f][i] = w[f][c][orders[p][i]]`. The channels go in
/// blocks of 16 × 16, so that both sides are read and written a row at a time.
fn flip_transpose(w: &[f32], [f, c, taps]: [usize; 3], orders: &[Vec<usize>], dst: &mut [f32]) {
    let mut parts: Vec<&mut [f32]> = Vec::with_capacity(orders.len());
    let mut rest = dst;
    for order in orders {
        let (mine, tail) = rest.split_at_mut(c * f * order.len());
        parts.push(mine);
        rest = tail;
    }
    for f0 in (0..f).step_by(BLOCK) {
        for c0 in (0..c).step_by(BLOCK) {
            for fi in f0..(f0 + BLOCK).min(f) {
                for ci in c0..(c0 + BLOCK).min(c) {
                    let src = &w[(fi * c + ci) * taps..][..taps];
                    for (part, order) in parts.iter_mut().zip(orders) {
                        let j = order.len();
                        let out = &mut part[(ci * f + fi) * j..][..j];
                        for (d, &t) in out.iter_mut().zip(order) {
                            *d = src[t];
                        }
                    }
                }
            }
        }
    }
}

/// Writes the phase `(py, px)` of `dx` from the blocked output of its correlation.
fn scatter(geom: &ConvGeom, py: &Phase, px: &Phase, src: &[f32], layout: &Blocked, dx: &mut [f32]) {
    let [_, ih, iw] = geom.input;
    let [_, sy, sx] = geom.stride;
    for n in 0..geom.batch {
        for c in 0..geom.channels {
            let plane = &mut dx[(n * geom.channels + c) * ih * iw..][..ih * iw];
            for a in 0..py.count {
                let row = &mut plane[(py.first + a * sy) * iw..][..iw];
                let from = layout.offset(n, c, py.skip + a, px.skip);
                let srow = &src[from..from + (px.count - 1) * BLOCK + 1];
                for (d, v) in row[px.first..]
                    .iter_mut()
                    .step_by(sx)
                    .zip(srow.iter().step_by(BLOCK))
                {
                    *d = *v;
                }
            }
        }
    }
}

/// Zeroes the phase `(py, px)` of `dx` (no kernel tap reaches it).
fn scatter_zero(geom: &ConvGeom, py: &Phase, px: &Phase, dx: &mut [f32]) {
    let [_, ih, iw] = geom.input;
    let [_, sy, sx] = geom.stride;
    for plane in dx.chunks_exact_mut(ih * iw) {
        for a in 0..py.count {
            let row = &mut plane[(py.first + a * sy) * iw..][..iw];
            row[px.first..]
                .iter_mut()
                .step_by(sx)
                .for_each(|d| *d = 0.0);
        }
    }
}

thread_local! {
    /// Scratch for [`backward_nchw_with`]: the blocked input and head gradient.
    static NCHW_SCRATCH: std::cell::RefCell<[Vec<f32>; 2]> = const {
        std::cell::RefCell::new([Vec::new(), Vec::new()])
    };
    /// Scratch for [`weight_gradient`]: the padded plain input, the tiles.
    static WGRAD_SCRATCH: std::cell::RefCell<[Vec<f32>; 2]> = const {
        std::cell::RefCell::new([Vec::new(), Vec::new()])
    };
    /// Scratch for [`data_gradient`]: flipped weights, packed weights, a phase's output.
    static DGRAD_SCRATCH: std::cell::RefCell<[Vec<f32>; 3]> = const {
        std::cell::RefCell::new([Vec::new(), Vec::new(), Vec::new()])
    };
}

/// Which gradients [`backward_nchw`] computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Served {
    /// The data gradient.
    pub dx: bool,
    /// The weight gradient.
    pub dw: bool,
}

/// Output pixels (`N·oh·ow`) below which both gradients stay with im2col: converting the
/// tensors, and for the data gradient packing the weights, costs per weight about as much as
/// two hundred multiply-adds. Measured (Zen 4, 1 thread): ResNet's 3×3 layers with 512
/// channels on 7×7 win from 4 images (196 pixels) on, lose 2–3× on 1 image (49).
const MIN_PIXELS: usize = 192;

/// The shape conditions both gradients share: an AVX-512 CPU, a served geometry, enough pixels
/// ([`MIN_PIXELS`]), and not a 1×1 kernel: there im2col is a plain GEMM on the NCHW data (or
/// reads only the strided pixels it uses), which the conversions alone cost as much as
/// (pointwise layers measured at 0.3–0.7× of im2col).
fn blocked_pays(geom: &ConvGeom) -> bool {
    let Ok(out) = geom.output() else {
        return false;
    };
    let pointwise = geom.kernel[1] * geom.kernel[2] == 1;
    Isa::current() >= Isa::Avx512
        && served(geom)
        && !pointwise
        && geom.batch * out[1] * out[2] >= MIN_PIXELS
}

/// Whether [`weight_gradient`] runs `geom` (on NCHW data, conversions included) faster than
/// im2col + GEMM, by shape (measured with `benches/conv.rs` and per-call CPU time on a Zen 4):
/// the shared conditions of `blocked_pays`, and at least 60% of the tiles' lanes and output
/// channels real ([`weight_gradient_efficiency`]; LeNet's first layer, 49%, measured 0.8×).
pub fn weight_gradient_pays(geom: &ConvGeom) -> bool {
    blocked_pays(geom) && weight_gradient_efficiency(geom) >= 0.6
}

/// The fraction of the weight-gradient tiles' lanes and output channels that are real: input
/// channels (blocked) or `(channel, tap)` triples (plain) per 16 lanes, times output channels
/// per 16.
pub fn weight_gradient_efficiency(geom: &ConvGeom) -> f64 {
    let taps = geom.kernel[1] * geom.kernel[2];
    let (c, f) = (geom.channels, geom.filters);
    let lanes = if wgrad_prefers_nchw(geom) {
        (c * taps) as f64 / (c * taps).next_multiple_of(BLOCK) as f64
    } else {
        c as f64 / c.next_multiple_of(BLOCK) as f64
    };
    lanes * f as f64 / f.next_multiple_of(BLOCK) as f64
}

/// Whether [`data_gradient`] runs `geom` faster than im2col + GEMM + col2im (measured as
/// [`weight_gradient_pays`]): the shared conditions of `blocked_pays`, and at least half of
/// the direct kernels' multiply-adds useful ([`data_gradient_efficiency`]; LeNet's second
/// layer, a third, measured 0.5×), or a 5×5 layer the transposed Winograd algorithm takes
/// ([`super::winograd::dgrad::plan`]; LeNet's second layer, 1.9× the fused GEMM + col2im's
/// speed).
pub fn data_gradient_pays(geom: &ConvGeom) -> bool {
    blocked_pays(geom)
        && (data_gradient_efficiency(geom) >= 0.5 || super::winograd::dgrad::plan(geom).is_some())
}

/// The fraction of the multiply-adds of [`data_gradient`] that the data gradient needs: the
/// rest multiply the padding channels of the 16-channel blocks of `dy` and of the (16 or 32)
/// channel tiles of `dx`, or the zero columns around `dy` where a kernel tap reaches past it
/// (rows are skipped). Im2col + GEMM + col2im computes none of these.
pub fn data_gradient_efficiency(geom: &ConvGeom) -> f64 {
    let Ok(out) = geom.output() else {
        return 0.0;
    };
    let (f, c) = (geom.filters, geom.channels);
    let tile = if c > BLOCK { 2 * BLOCK } else { BLOCK };
    let channels = f as f64 / f.next_multiple_of(BLOCK) as f64;
    let filters = c as f64 / c.next_multiple_of(tile) as f64;
    let (iw, ow, k, s) = (geom.input[2], out[2], geom.kernel[2], geom.stride[2]);
    let off = |t: usize| (t * geom.dilate[2]) as isize - geom.pad[2] as isize;
    let useful: usize = (0..k)
        .map(|t| {
            let (lo, hi) = valid_range(ow, iw, s, off(t));
            hi - lo
        })
        .sum();
    let computed = (iw * k).div_ceil(s).max(1);
    channels * filters * (useful as f64 / computed as f64).min(1.0)
}

/// The backward pass of a convolution on NCHW `f32` data: the gradients the blocked kernels
/// serve faster than im2col ([`weight_gradient_pays`], [`data_gradient_pays`]; `dx` only when
/// wanted; none when `MXR_CONV_BACKWARD=im2col`), the weight gradient of a 5×5 layer by
/// Winograd where [`winograd_5x5_pays`] holds, else by the implicit GEMM where
/// [`super::implicit_wgrad::prefers`] holds, overwritten, and which they were
/// ([`Served`]); the caller computes the others, and the bias gradient. Meant for buffers
/// already checked against `geom` (as [`super::conv_backward`] does); when a gradient is
/// served they are checked again before anything is written.
///
/// # Errors
/// [`ConvError`] for a buffer of the wrong length (when a gradient is served).
#[allow(clippy::too_many_arguments, reason = "the backward pass's operands")]
pub fn backward_nchw(
    geom: &ConvGeom,
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    threads: usize,
) -> Result<Served, ConvError> {
    let enabled = blocked_enabled();
    // A 5×5 layer Winograd takes; else channel counts that would waste lanes here: the
    // implicit GEMM takes the weight gradient.
    let winograd = enabled && winograd_5x5_pays(geom);
    let implicit =
        enabled && !winograd && super::implicit_wgrad::weight_gradient(geom, dy, x, dw, threads)?;
    let done = Served {
        dx: enabled && dx.is_some() && data_gradient_pays(geom),
        dw: implicit || winograd || (enabled && weight_gradient_pays(geom)),
    };
    let blocked_dw = done.dw && !implicit;
    if done.dx || blocked_dw {
        let dx = dx.filter(|_| done.dx);
        let dw = blocked_dw.then_some(dw);
        backward_nchw_with(Isa::current(), geom, dy, x, w, dx, dw, threads)?;
    }
    Ok(done)
}

/// Whether [`weight_gradient`] runs `geom`, a 5×5 layer, through Winograd
/// ([`super::winograd::wgrad::plan`]), faster than the implicit GEMM
/// ([`super::implicit_wgrad`]) and im2col, conversions included: the shared conditions of
/// `blocked_pays` and a plan (LeNet's second layer at batch 64, one Zen 4 core: see
/// [`super::winograd::wgrad`]).
pub fn winograd_5x5_pays(geom: &ConvGeom) -> bool {
    geom.kernel[1] == 5 && blocked_pays(geom) && super::winograd::wgrad::plan(geom).is_some()
}

/// Whether [`backward_nchw`] may use the blocked kernels: not when `MXR_CONV_BACKWARD` is
/// `im2col` (case-insensitive; read once).
fn blocked_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| {
        std::env::var("MXR_CONV_BACKWARD")
            .map_or(true, |v| !v.trim().eq_ignore_ascii_case("im2col"))
    })
}

/// The blocked backward kernels on NCHW data with a chosen instruction set, whenever the
/// geometry is served (whether or not they pay; tests and benchmarks use it): converts `dy`
/// and, for the weight gradient, `x` (unless it is read plain, [`wgrad_prefers_nchw`]) to the
/// blocked layout, runs [`weight_gradient`] when `dw` is wanted and [`data_gradient`] when
/// `dx` is. `Ok(false)`, having done nothing, when the geometry is not served.
///
/// # Errors
/// [`ConvError`] for an invalid geometry or a buffer of the wrong length.
#[allow(clippy::too_many_arguments, reason = "the backward pass's operands")]
pub fn backward_nchw_with(
    isa: Isa,
    geom: &ConvGeom,
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
    threads: usize,
) -> Result<bool, ConvError> {
    geom.sizes()?;
    if !served(geom) {
        return Ok(false);
    }
    check_len("data", x.len(), geom.data_len())?;
    check_len("weight", w.len(), geom.weight_len())?;
    if let Some(dw) = &dw {
        check_len("weight gradient", dw.len(), geom.weight_len())?;
    }
    check_len("output gradient", dy.len(), geom.output_len())?;
    if let Some(dx) = &dx {
        check_len("data gradient", dx.len(), geom.data_len())?;
    }
    let [_, oh, ow] = geom.output()?;
    let [_, ih, iw] = geom.input;
    let halo = if dx.is_some() {
        data_gradient_halo(geom)?
    } else {
        0
    };
    NCHW_SCRATCH.with_borrow_mut(|[xb, dyb]| {
        let dy_layout = Blocked::new(geom.batch, geom.filters, oh, ow, halo);
        resize(dyb, dy_layout.len());
        super::blocked::to_blocked_with(isa, dy, &dy_layout, dyb, threads);
        if let Some(dw) = dw {
            // Winograd reads the input blocked, whatever the channel count.
            let winograd = super::winograd::wgrad::plan(geom).is_some();
            let input = if wgrad_prefers_nchw(geom) && !winograd {
                WgradInput::Nchw(x)
            } else {
                let layout = Blocked::new(geom.batch, geom.channels, ih, iw, 0);
                resize(xb, layout.len());
                super::blocked::to_blocked_with(isa, x, &layout, xb, threads);
                WgradInput::Blocked(xb, layout)
            };
            weight_gradient(isa, geom, input, dyb, &dy_layout, dw, threads)?;
        }
        if let Some(dx) = dx {
            data_gradient(isa, geom, dyb, &dy_layout, w, dx, threads)?;
        }
        Ok(true)
    })
}

/// Makes `v` exactly `len` long (contents unspecified; every caller overwrites it).
fn resize(v: &mut Vec<f32>, len: usize) {
    v.resize(len, 0.0);
    v.truncate(len);
}

#[cfg(test)]
mod tests;
