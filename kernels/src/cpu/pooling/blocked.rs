//! 2-D pooling on the channel-blocked layout ([`crate::cpu::conv::blocked`]), `f32`.
//!
//! The semantics are [`super::pool_forward`]'s (MXNet's): windows clipped to the input, the
//! maximum ignoring the padding, averages dividing by the padded or the real window area,
//! sums, an empty window giving the lowest value for max and 0 otherwise, and the output size
//! the caller gives (`valid` or `full` convention; global pooling is a kernel of the whole
//! input). The input is read in place with any halo — its halo columns are never read as data,
//! since windows are clipped (the padding of a max is not zero) — and the output is written
//! with a requested halo, zeroed. Each output is reduced in [`super::pool_forward`]'s order
//! (window rows, then columns, from the lowest value or 0, divided by the count at the end),
//! so results are bit-identical to it, on every instruction set.
//!
//! Vectorised over the 16 channels of a block: a tile of up to 14 outputs (7 with AVX2)
//! sharing one window shape — neighbouring pixels of a row, or for a 1×1 output (global
//! pooling) the same pixel of neighbouring channel blocks — is reduced in registers, window
//! element by element. Work is split across threads by output rows (image, block, row),
//! statically.
//!
//! ```
//! use mxr_kernels::cpu::conv::blocked::{Blocked, from_blocked, to_blocked};
//! use mxr_kernels::cpu::pooling::blocked::BlockedPool;
//! use mxr_kernels::cpu::pooling::{PoolGeom, PoolType};
//! // Global average pooling of two 2×2 channels.
//! let geom = PoolGeom::new_2d(2, [2, 2], [1, 1], [2, 2], [1, 1], [0, 0]);
//! let pool = BlockedPool::new(&geom, PoolType::Avg { count_include_pad: true })?.unwrap();
//! let in_layout = Blocked::new(1, 2, 2, 2, 1);
//! let mut x = vec![0.0; in_layout.len()];
//! to_blocked(&[1.0, 2.0, 3.0, 4.0, -1.0, -1.0, 0.0, 6.0], &in_layout, &mut x);
//! let out_layout = pool.output_layout(1, 2, 0);
//! let mut y = vec![0.0; out_layout.len()];
//! pool.forward(&x, &in_layout, &mut y, &out_layout, 1)?;
//! let mut nchw = [0.0; 2];
//! from_blocked(&y, &out_layout, &mut nchw);
//! assert_eq!(nchw, [2.5, 1.0]);
//! # Ok::<(), mxr_kernels::cpu::pooling::PoolError>(())
//! ```

use super::{PoolError, PoolGeom, PoolType, Window, divisor};
use crate::cpu::conv::blocked::{BLOCK, Blocked};
use crate::cpu::conv::blocked_ops::{for_row_parts, row_of, row_start, usable};
use crate::cpu::conv::lanes::{Kernel, Lanes, run_kernel};
use crate::cpu::isa::Isa;

/// The most outputs in a tile (AVX-512 and the portable code).
const MAX_TILE: usize = 14;
/// The most outputs in a tile with AVX2 (two registers per output, 16 registers).
const MAX_TILE_AVX2: usize = 7;
/// Poolings below this many input reads (floats) per thread run on one thread.
const MIN_READS_PER_THREAD: usize = 1 << 18;

/// A run of output columns whose windows have one shape: `len` columns from `x0`, the first
/// one's window `first`, each next window `stride` columns further.
#[derive(Debug, Clone, Copy)]
struct Segment {
    x0: usize,
    len: usize,
    first: Window,
}

/// A planned 2-D pooling on blocked activations.
#[derive(Debug, Clone)]
pub struct BlockedPool {
    geom: PoolGeom,
    kind: PoolType,
    /// The window of every output row.
    rows: Vec<Window>,
    /// The output columns, in runs of one window shape.
    segments: Vec<Segment>,
    /// Whether some window is empty (a max then yields the lowest value, in padding channels
    /// too, which are set back to zero).
    has_empty: bool,
}

impl BlockedPool {
    /// Plans `geom` (`planes` = `N·C`) with `kind`; `None` for a 3-D pooling, an error for a
    /// zero kernel or stride.
    pub fn new(geom: &PoolGeom, kind: PoolType) -> Result<Option<BlockedPool>, PoolError> {
        let [_, rows, cols] = geom.windows()?;
        let two_d =
            geom.input[0] == 1 && geom.output[0] == 1 && geom.kernel[0] == 1 && geom.pad[0] == 0;
        if !two_d {
            return Ok(None);
        }
        let stride = geom.stride[2];
        let mut segments: Vec<Segment> = Vec::new();
        for (x, w) in cols.iter().enumerate() {
            match segments.last_mut() {
                Some(s)
                    if w.hi - w.lo == s.first.hi - s.first.lo
                        && w.padded == s.first.padded
                        && w.lo == s.first.lo + s.len * stride =>
                {
                    s.len += 1
                }
                _ => segments.push(Segment {
                    x0: x,
                    len: 1,
                    first: *w,
                }),
            }
        }
        let has_empty = rows.iter().chain(&cols).any(|w| w.hi == w.lo);
        Ok(Some(BlockedPool {
            geom: *geom,
            kind,
            rows,
            segments,
            has_empty,
        }))
    }

    /// The geometry.
    pub fn geom(&self) -> &PoolGeom {
        &self.geom
    }

    /// The blocked layout of the input of `n` images of `c` channels (`n·c` must be the
    /// geometry's planes), with `halo` columns.
    pub fn input_layout(&self, n: usize, c: usize, halo: usize) -> Blocked {
        Blocked::new(n, c, self.geom.input[1], self.geom.input[2], halo)
    }

    /// The blocked layout of the output of `n` images of `c` channels, with `halo` zero
    /// columns.
    pub fn output_layout(&self, n: usize, c: usize, halo: usize) -> Blocked {
        Blocked::new(n, c, self.geom.output[1], self.geom.output[2], halo)
    }

    /// Pools `input` (in `in_layout`: the geometry's input with `in_layout.n ·
    /// in_layout.c` planes and any halo) into `out` (in `out_layout`: the matching output
    /// layout, any halo; halo columns are zeroed) with the current instruction set
    /// ([`Isa::current`]) on up to `threads` threads.
    ///
    /// # Errors
    /// [`PoolError`] when a buffer does not match its layout or a layout the geometry.
    pub fn forward(
        &self,
        input: &[f32],
        in_layout: &Blocked,
        out: &mut [f32],
        out_layout: &Blocked,
        threads: usize,
    ) -> Result<(), PoolError> {
        self.forward_with(Isa::current(), input, in_layout, out, out_layout, threads)
    }

    /// [`BlockedPool::forward`] with a chosen instruction set (tests compare them); one this
    /// CPU lacks runs the portable code.
    ///
    /// # Errors
    /// As [`BlockedPool::forward`].
    pub fn forward_with(
        &self,
        isa: Isa,
        input: &[f32],
        in_layout: &Blocked,
        out: &mut [f32],
        out_layout: &Blocked,
        threads: usize,
    ) -> Result<(), PoolError> {
        let (n, c) = (in_layout.n, in_layout.c);
        if n * c != self.geom.planes || *in_layout != self.input_layout(n, c, in_layout.halo) {
            return Err(PoolError::Geometry(format!(
                "blocked pooling: input layout {in_layout:?} does not hold {} planes of {:?}",
                self.geom.planes,
                &self.geom.input[1..]
            )));
        }
        let want = self.output_layout(n, c, out_layout.halo);
        if *out_layout != want {
            return Err(PoolError::Geometry(format!(
                "blocked pooling: output layout {out_layout:?}, the pooling makes {want:?}"
            )));
        }
        check_len("input", input.len(), in_layout.len())?;
        check_len("output", out.len(), out_layout.len())?;
        if in_layout.h == 0 || in_layout.w == 0 {
            // No input element: 0 everywhere, as `pool_forward` gives.
            out.fill(0.0);
            return Ok(());
        }
        let isa = usable(isa);
        let window: usize = self.geom.kernel.iter().product();
        let reads = out_layout.n * out_layout.blocks() * out_layout.h * out_layout.w * window;
        let parts = threads.min(reads * BLOCK / MIN_READS_PER_THREAD).max(1);
        let fix_padding = self.kind == PoolType::Max && self.has_empty && c % BLOCK != 0;
        for_row_parts(out, out_layout, parts, |units, chunk| {
            let kernel = Rows {
                plan: self,
                input,
                in_layout,
                units: units.clone(),
                out: chunk.as_mut_ptr(),
                out_layout,
                max_tile: if isa == Isa::Avx2 {
                    MAX_TILE_AVX2
                } else {
                    MAX_TILE
                },
            };
            // SAFETY: `isa` is available; the layouts were checked against the plan, and
            // `chunk` holds exactly the output rows `units` (see `Rows`).
            unsafe { run_kernel(isa, &kernel) };
            if fix_padding {
                for (unit, row) in units.zip(chunk.chunks_exact_mut(out_layout.pitch())) {
                    if row_of(unit, out_layout).1 + 1 == out_layout.blocks() {
                        for px in row.chunks_exact_mut(BLOCK) {
                            px[c % BLOCK..].fill(0.0);
                        }
                    }
                }
            }
        });
        Ok(())
    }
}

fn check_len(what: &'static str, len: usize, needed: usize) -> Result<(), PoolError> {
    if len == needed {
        Ok(())
    } else {
        Err(PoolError::Length { what, len, needed })
    }
}

/// Output rows `units` of one pooling; `out` points at the first of them (of `out_layout`),
/// and the layouts were checked against the plan.
#[derive(Debug)]
struct Rows<'a> {
    plan: &'a BlockedPool,
    input: &'a [f32],
    in_layout: &'a Blocked,
    units: std::ops::Range<usize>,
    out: *mut f32,
    out_layout: &'a Blocked,
    max_tile: usize,
}

/// A tile of outputs with one window shape: output `r` reduces the window of `rows × cols`
/// input pixels at `inp + r·in_step` (`pitch` floats between rows, 16 between columns) and is
/// stored at `out + r·out_step`, divided by `divisor` when given.
#[derive(Debug)]
struct Tile {
    inp: *const f32,
    in_step: usize,
    pitch: usize,
    rows: usize,
    cols: usize,
    out: *mut f32,
    out_step: usize,
    divisor: Option<f32>,
}

impl Kernel for Rows<'_> {
    #[inline(always)]
    unsafe fn run<V: Lanes>(&self) {
        let plan = self.plan;
        let (il, ol) = (self.in_layout, self.out_layout);
        let max = plan.kind == PoolType::Max;
        let stride = plan.geom.stride[2];
        let depth = Window {
            lo: 0,
            hi: 1,
            padded: 1,
        };
        // The divisor of an average over `rows × cols` (`None` for max and sum, and for an
        // empty window, whose sum 0 is the result).
        let divisor = |wr: &Window, wc: &Window| match plan.kind {
            PoolType::Avg { count_include_pad } => {
                let count = divisor(&depth, wr, wc, count_include_pad);
                (count > 0).then_some(count as f32)
            }
            _ => None,
        };
        // Global pooling: tiles over channel blocks (consecutive output rows of one image).
        if ol.h == 1 && ol.w == 1 {
            let (wr, wc) = (&plan.rows[0], &plan.segments[0].first);
            let mut unit = self.units.start;
            while unit < self.units.end {
                let (n, cb, _) = row_of(unit, ol);
                let len = (ol.blocks() - cb)
                    .min(self.units.end - unit)
                    .min(self.max_tile);
                let tile = Tile {
                    // Pixel `(wr.lo, wc.lo)` of block `cb` of image `n` (read only when the
                    // window is not empty, and then inside the input).
                    inp: self
                        .input
                        .as_ptr()
                        .wrapping_add(row_start(il, n, cb, wr.lo) + wc.lo * BLOCK),
                    in_step: il.plane(),
                    pitch: il.pitch(),
                    rows: wr.hi - wr.lo,
                    cols: wc.hi - wc.lo,
                    // SAFETY: row `unit` of the chunk, past its halo.
                    out: unsafe {
                        self.out
                            .add((unit - self.units.start) * ol.pitch() + ol.halo * BLOCK)
                    },
                    out_step: ol.pitch(),
                    divisor: divisor(wr, wc),
                };
                // SAFETY: the tile's `len` outputs are blocks `cb .. cb + len` of image `n`,
                // all inside the input and in this chunk (one output row each).
                unsafe { run_tile::<V>(&tile, len, max) };
                unit += len;
            }
            return;
        }
        for (i, unit) in self.units.clone().enumerate() {
            let (n, cb, y) = row_of(unit, ol);
            let wr = &plan.rows[y];
            let in_row = row_start(il, n, cb, wr.lo);
            // SAFETY: row `i` of the chunk, past its halo.
            let out_row = unsafe { self.out.add(i * ol.pitch() + ol.halo * BLOCK) };
            for seg in &plan.segments {
                let wc = &seg.first;
                let tiles = seg.len.div_ceil(self.max_tile);
                let mut x = 0;
                for t in 0..tiles {
                    let len = (seg.len - x).div_ceil(tiles - t);
                    let tile = Tile {
                        // The window's first pixel, `(wr.lo, wc.lo + x·stride)` (read only when
                        // the window is not empty, and then inside the input: the segment's
                        // windows are `stride` columns apart and clipped to it).
                        inp: self
                            .input
                            .as_ptr()
                            .wrapping_add(in_row + (wc.lo + x * stride) * BLOCK),
                        in_step: stride * BLOCK,
                        pitch: il.pitch(),
                        rows: wr.hi - wr.lo,
                        cols: wc.hi - wc.lo,
                        // SAFETY: pixel `seg.x0 + x` of the output row.
                        out: unsafe { out_row.add((seg.x0 + x) * BLOCK) },
                        out_step: BLOCK,
                        divisor: divisor(wr, wc),
                    };
                    // SAFETY: the tile's windows are inside the input and its outputs inside
                    // the row (`x + len <= seg.len`).
                    unsafe { run_tile::<V>(&tile, len, max) };
                    x += len;
                }
            }
        }
    }
}

/// Runs `tile` with `len` outputs.
///
/// # Safety
/// `V`'s instruction set is available, `1 <= len <= 14` (7 for [`crate::cpu::conv::lanes`]'s
/// AVX2 lanes, by the caller's choice of tile width), and the tile's pointers cover what
/// [`Tile`] documents for `len` outputs.
#[inline(always)]
unsafe fn run_tile<V: Lanes>(tile: &Tile, len: usize, max: bool) {
    macro_rules! by_len {
        ($max:literal, $($r:literal)*) => {
            match len {
                // SAFETY: the caller's contract, with `R == len`.
                $($r => unsafe { fixed_tile::<V, $r, $max>(tile) },)*
                _ => unreachable!("a pooling tile of {len} outputs"),
            }
        };
    }
    if max {
        by_len!(true, 1 2 3 4 5 6 7 8 9 10 11 12 13 14)
    } else {
        by_len!(false, 1 2 3 4 5 6 7 8 9 10 11 12 13 14)
    }
}

/// A tile of `R` outputs; a maximum when `MAX`, else a sum (divided by the divisor).
///
/// # Safety
/// As [`run_tile`].
#[inline(always)]
unsafe fn fixed_tile<V: Lanes, const R: usize, const MAX: bool>(t: &Tile) {
    // SAFETY: (the whole body) the pointers cover what `Tile` documents; the instruction set
    // is available.
    unsafe {
        let mut acc = [V::splat(if MAX { f32::MIN } else { 0.0 }); R];
        for row in 0..t.rows {
            let rp = t.inp.add(row * t.pitch);
            for col in 0..t.cols {
                let p = rp.add(col * BLOCK);
                for (r, a) in acc.iter_mut().enumerate() {
                    let v = V::load(p.add(r * t.in_step));
                    *a = if MAX { V::max(v, *a) } else { V::add(*a, v) };
                }
            }
        }
        let d = t.divisor.map(|d| V::splat(d));
        for (r, a) in acc.into_iter().enumerate() {
            let y = match d {
                Some(d) => V::div(a, d),
                None => a,
            };
            y.store(t.out.add(r * t.out_step));
        }
    }
}

#[cfg(test)]
mod tests;
