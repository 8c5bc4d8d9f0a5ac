//! The weight gradient of the blocked backward pass (see [`super`]'s module docs): the
//! micro-kernel's job ([`WgradJob`]) and its portable version, the entries
//! ([`weight_gradient`], [`weight_gradient_direct`]) and the driver ([`WgradPlan`]) that tiles
//! the gradient and walks the pixels in chunks.

use super::super::blocked::{BLOCK, Blocked};
use super::super::{ConvError, ConvGeom, check_len, valid_range};
use super::{WGRAD_SCRATCH, WgradJob, resize};
#[cfg(target_arch = "x86_64")]
use super::{avx2, avx512};
use crate::cpu::isa::Isa;
use crate::cpu::parallel;

/// Input bytes (for every block) one pixel chunk of the weight gradient may read: half of a
/// core's L2 (1 MiB on Zen 4, 2 MiB on recent Intel), so that each tile's pass over the chunk
/// finds it there.
const CHUNK_BYTES: usize = 512 << 10;
/// Weight-gradient work (multiply-adds) below which one thread does it all.
pub(super) const MIN_WORK_PER_THREAD: usize = 1 << 20;
/// Weight-gradient floats per thread, at least, when the tiles are written out.
const MIN_UNPACK_PER_THREAD: usize = 1 << 16;
/// Floats of one weight-gradient tile: 16 lanes × 16 output channels.
pub(super) const TILE: usize = BLOCK * BLOCK;

/// Where the weight gradient reads the convolution's input.
#[derive(Debug, Clone, Copy)]
pub enum WgradInput<'a> {
    /// Channel-blocked, in this layout (any halo).
    Blocked(&'a [f32], Blocked),
    /// Plain NCHW (`N·C·H·W` floats); the lanes of a tile are 16 consecutive
    /// `(channel, ky, kx)` of the weight. For layers with few input channels.
    Nchw(&'a [f32]),
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
/// Winograd weight gradient's matrix products, [`super::super::winograd::wgrad`]): for `p < pixels`,
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
pub(super) fn served(geom: &ConvGeom) -> bool {
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
/// on up to `threads` threads: by Winograd ([`super::super::winograd::wgrad`]) where
/// [`super::super::winograd::wgrad::plan`] takes the layer (3×3 or 5×5, stride 1, blocked input; not
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
        && let Some(wino) = super::super::winograd::wgrad::plan(geom)
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
pub(super) fn check_head_gradient(
    geom: &ConvGeom,
    dy: &[f32],
    dy_layout: &Blocked,
    halo: usize,
) -> Result<super::super::Sizes, ConvError> {
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
        s: &super::super::Sizes,
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
        s: &super::super::Sizes,
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
