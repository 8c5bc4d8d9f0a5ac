//! The channel-blocked activation layout (NCHW16c) of the direct convolution kernels.
//!
//! An `N × C × H × W` activation is stored as `N × ⌈C/16⌉ × H × (W + 2·halo) × 16`: channels in
//! blocks of [`BLOCK`] (one AVX-512 register), the 16 channels of one pixel next to each other.
//! Channels past `C` in the last block are zero, and so are `halo` zero columns on each side of
//! every row: a convolution with horizontal padding up to `halo` then reads its input in place,
//! without bounds checks. oneDNN (`nChw16c`) and onnxruntime (NCHWc) keep convolutional
//! networks in this layout; mxr's inference executor does too between the operators that
//! understand it, converting once at the graph's edges.
//!
//! ```
//! use mxr_kernels::cpu::conv::blocked::{Blocked, from_blocked, to_blocked};
//! let layout = Blocked::new(1, 3, 2, 2, 1); // 3 channels, 2×2, one zero column each side
//! let x: Vec<f32> = (0..12).map(|v| v as f32).collect(); // NCHW
//! let mut b = vec![f32::NAN; layout.len()];
//! to_blocked(&x, &layout, &mut b);
//! assert_eq!(b[layout.offset(0, 2, 1, 0)], 10.0); // channel 2, row 1, column 0
//! assert_eq!(b[layout.offset(0, 5, 0, 0)], 0.0); // a padding channel
//! let mut back = vec![0.0; 12];
//! from_blocked(&b, &layout, &mut back);
//! assert_eq!(back, x);
//! ```

use super::ConvGeom;
use crate::cpu::isa::Isa;
use crate::cpu::parallel;
use crate::cpu::tile;

/// Channels per block: one 512-bit vector of `f32`.
pub const BLOCK: usize = 16;

/// The shape of a blocked activation (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Blocked {
    /// Batch size `N`.
    pub n: usize,
    /// Channels `C` (the last block is zero-padded to [`BLOCK`]).
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width (without the halo).
    pub w: usize,
    /// Zero columns on each side of every row.
    pub halo: usize,
}

impl Blocked {
    /// The layout of an `n × c × h × w` activation with `halo` zero columns each side.
    pub fn new(n: usize, c: usize, h: usize, w: usize, halo: usize) -> Blocked {
        Blocked { n, c, h, w, halo }
    }

    /// The layout of a 2-D convolution's output: `geom`'s images and filters, `out` (height,
    /// width) pixels, `halo` zero columns.
    pub fn conv_output(geom: &ConvGeom, out: [usize; 2], halo: usize) -> Blocked {
        Blocked::new(geom.batch, geom.filters, out[0], out[1], halo)
    }

    /// Channel blocks: `⌈c / 16⌉`.
    pub fn blocks(&self) -> usize {
        self.c.div_ceil(BLOCK)
    }

    /// Floats between two rows: `(w + 2·halo) · 16`.
    pub fn pitch(&self) -> usize {
        (self.w + 2 * self.halo) * BLOCK
    }

    /// Floats between two channel blocks: `h · pitch`.
    pub fn plane(&self) -> usize {
        self.h * self.pitch()
    }

    /// Floats between two images.
    pub fn image(&self) -> usize {
        self.blocks() * self.plane()
    }

    /// Floats in all: `n · image`.
    pub fn len(&self) -> usize {
        self.n * self.image()
    }

    /// Whether the layout holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The index of element `(n, c, y, x)` (`x` without the halo).
    pub fn offset(&self, n: usize, c: usize, y: usize, x: usize) -> usize {
        n * self.image()
            + (c / BLOCK) * self.plane()
            + y * self.pitch()
            + (x + self.halo) * BLOCK
            + c % BLOCK
    }

    /// The same activation with another halo.
    pub fn with_halo(&self, halo: usize) -> Blocked {
        Blocked { halo, ..*self }
    }
}

/// Floats a conversion moves per thread, at least, before it is split across threads.
const MIN_PARALLEL_FLOATS: usize = 1 << 16;

/// Writes the NCHW activation `src` (`n·c·h·w` floats) into `dst` in `layout`, padding
/// channels and halo columns included, with the current instruction set ([`Isa::current`])
/// on up to [`parallel::num_threads`] threads. Panics if a length does not match the layout
/// (callers check; this is a programming error).
pub fn to_blocked(src: &[f32], layout: &Blocked, dst: &mut [f32]) {
    to_blocked_with(Isa::current(), src, layout, dst, parallel::num_threads());
}

/// [`to_blocked`] with a chosen instruction set (one this CPU lacks runs the portable code)
/// and on up to `threads` threads (a large conversion is split by rows, statically; the
/// result is the same for every choice).
pub fn to_blocked_with(isa: Isa, src: &[f32], layout: &Blocked, dst: &mut [f32], threads: usize) {
    let Blocked { n, c, h, w, .. } = *layout;
    assert_eq!(src.len(), n * c * h * w, "to_blocked: source length");
    assert_eq!(dst.len(), layout.len(), "to_blocked: destination length");
    let dst = parallel::SharedMut::new(dst.as_mut_ptr());
    convert(isa, layout, threads, |seg| {
        // SAFETY: `convert` hands each part disjoint segments inside the checked buffers.
        unsafe { seg.write_blocked(src.as_ptr(), dst.get()) }
    });
}

/// Reads the blocked activation `src` (in `layout`) back into NCHW `dst` (`n·c·h·w` floats),
/// with the current instruction set on up to [`parallel::num_threads`] threads. Panics if a
/// length does not match the layout.
pub fn from_blocked(src: &[f32], layout: &Blocked, dst: &mut [f32]) {
    from_blocked_with(Isa::current(), src, layout, dst, parallel::num_threads());
}

/// [`from_blocked`] with a chosen instruction set and on up to `threads` threads (as
/// [`to_blocked_with`]).
pub fn from_blocked_with(isa: Isa, src: &[f32], layout: &Blocked, dst: &mut [f32], threads: usize) {
    let Blocked { n, c, h, w, .. } = *layout;
    assert_eq!(dst.len(), n * c * h * w, "from_blocked: destination length");
    assert_eq!(src.len(), layout.len(), "from_blocked: source length");
    let dst = parallel::SharedMut::new(dst.as_mut_ptr());
    convert(isa, layout, threads, |seg| {
        // SAFETY: as in `to_blocked_with`.
        unsafe { seg.read_blocked(src.as_ptr(), dst.get()) }
    });
}

/// A run of pixels of one channel block that is contiguous in both layouts: one row, or, when
/// there is no halo, several consecutive rows.
#[derive(Debug, Clone, Copy)]
struct Segment {
    isa: Isa,
    layout: Blocked,
    /// Image.
    img: usize,
    /// Channel block.
    cb: usize,
    /// First row.
    y: usize,
    /// Rows (more than one only without a halo).
    rows: usize,
}

impl Segment {
    /// Channels of the block that exist in NCHW.
    fn lanes(&self) -> usize {
        BLOCK.min(self.layout.c - self.cb * BLOCK)
    }

    /// Pixels of the segment.
    fn len(&self) -> usize {
        self.rows * self.layout.w
    }

    /// `(NCHW offset of the first channel's first pixel, its channel stride, blocked offset of
    /// the first pixel)`.
    fn offsets(&self) -> (usize, usize, usize) {
        let l = &self.layout;
        let nchw = ((self.img * l.c + self.cb * BLOCK) * l.h + self.y) * l.w;
        let blocked =
            self.img * l.image() + self.cb * l.plane() + self.y * l.pitch() + l.halo * BLOCK;
        (nchw, l.h * l.w, blocked)
    }

    /// Writes the segment's pixels (and its rows' halo columns) of `dst`, blocked.
    ///
    /// # Safety
    /// `src` holds the layout's NCHW activation, `dst` its blocked one, and nobody else
    /// touches the rows of this segment meanwhile.
    unsafe fn write_blocked(&self, src: *const f32, dst: *mut f32) {
        let (nchw, ss, blocked) = self.offsets();
        let (lanes, len, halo) = (self.lanes(), self.len(), self.layout.halo);
        // SAFETY: every offset is inside the layouts (the segment's rows of its block), and
        // `isa` is available (checked by `convert`).
        unsafe {
            if halo > 0 {
                let row = dst.add(blocked - halo * BLOCK);
                std::ptr::write_bytes(row, 0, halo * BLOCK);
                std::ptr::write_bytes(row.add((halo + len) * BLOCK), 0, halo * BLOCK);
            }
            let (src, dst) = (src.add(nchw), dst.add(blocked));
            if len < tile::T {
                tile::transpose(self.isa, src, ss, lanes, len, dst, BLOCK, len);
                return;
            }
            // Whole tiles; the last one overlaps its neighbour when the length is not a
            // multiple (it writes the same values again).
            for x in (0..len).step_by(tile::T) {
                let x0 = x.min(len - tile::T);
                let (s, d) = (src.add(x0), dst.add(x0 * BLOCK));
                tile::transpose(self.isa, s, ss, lanes, tile::T, d, BLOCK, tile::T);
            }
        }
    }

    /// Reads the segment's pixels from blocked `src` into NCHW `dst`.
    ///
    /// # Safety
    /// As [`Segment::write_blocked`], the other way round.
    unsafe fn read_blocked(&self, src: *const f32, dst: *mut f32) {
        let (nchw, ds, blocked) = self.offsets();
        let (lanes, len) = (self.lanes(), self.len());
        // SAFETY: as in `write_blocked`.
        unsafe {
            let (src, dst) = (src.add(blocked), dst.add(nchw));
            if len < tile::T {
                tile::transpose_narrow(self.isa, src, BLOCK, len, lanes, dst, ds, len);
                return;
            }
            for x in (0..len).step_by(tile::T) {
                let x0 = x.min(len - tile::T);
                let (s, d) = (src.add(x0 * BLOCK), dst.add(x0));
                tile::transpose(self.isa, s, BLOCK, tile::T, lanes, d, ds, lanes);
            }
        }
    }
}

/// Runs `each` on every segment of `layout`, on up to `threads` threads: the rows
/// (image, block, row) are split into contiguous ranges, and each range into segments.
fn convert(isa: Isa, layout: &Blocked, threads: usize, each: impl Fn(Segment) + Sync) {
    let isa = if isa.is_available() { isa } else { Isa::Scalar };
    let units = layout.n * layout.blocks() * layout.h;
    if units == 0 {
        return;
    }
    let parts = threads
        .min(layout.len() / MIN_PARALLEL_FLOATS)
        .clamp(1, units);
    let ranges = parallel::split_range(units, parts, 1);
    parallel::for_each_part(ranges.len(), |p| {
        let mut u = ranges[p].start;
        while u < ranges[p].end {
            let (y, plane) = (u % layout.h, u / layout.h);
            // Without a halo, the rest of the block's rows in this range are contiguous.
            let rows = if layout.halo == 0 {
                (layout.h - y).min(ranges[p].end - u)
            } else {
                1
            };
            each(Segment {
                isa,
                layout: *layout,
                img: plane / layout.blocks(),
                cb: plane % layout.blocks(),
                y,
                rows,
            });
            u += rows;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `b` against the definition: every (image, channel, row, column) of `x` where
    /// [`Blocked::offset`] says, padding channels and halo columns zero.
    fn check_blocked(x: &[f32], layout: &Blocked, b: &[f32], what: &str) {
        let Blocked { n, c, h, w, halo } = *layout;
        for img in 0..n {
            for ch in 0..layout.blocks() * BLOCK {
                for y in 0..h {
                    for x_ in 0..w {
                        let got = b[layout.offset(img, ch, y, x_)];
                        let want = if ch < c {
                            x[((img * c + ch) * h + y) * w + x_]
                        } else {
                            0.0
                        };
                        assert_eq!(got, want, "{what} {layout:?} ({img},{ch},{y},{x_})");
                    }
                    let row =
                        img * layout.image() + (ch / BLOCK) * layout.plane() + y * layout.pitch();
                    let lane = ch % BLOCK;
                    for col in (0..halo).chain(halo + w..w + 2 * halo) {
                        assert_eq!(b[row + col * BLOCK + lane], 0.0, "{what} {layout:?}: halo");
                    }
                }
            }
        }
    }

    #[test]
    fn round_trip_with_padding_channels_and_halo() {
        // Rows narrower than a tile, exactly one, wider and not a multiple; with and without a
        // halo (without, several rows convert as one run); odd channel counts; several images.
        let shapes = [
            (2, 1, 3, 5, 0),
            (2, 16, 3, 5, 0),
            (2, 17, 3, 5, 2),
            (2, 35, 3, 5, 1),
            (3, 20, 4, 16, 0),
            (1, 33, 5, 16, 1),
            (2, 48, 3, 37, 1),
            (1, 7, 9, 23, 0),
            (2, 19, 7, 7, 3),
            (1, 16, 1, 1, 0),
            (1, 5, 2, 0, 1),
        ];
        for (n, c, h, w, halo) in shapes {
            let layout = Blocked::new(n, c, h, w, halo);
            let x: Vec<f32> = (0..n * c * h * w).map(|v| v as f32 + 0.5).collect();
            let mut reference = None;
            for isa in Isa::available() {
                for threads in [1, 3] {
                    let what = format!("{isa}, {threads} threads");
                    let mut b = vec![f32::NAN; layout.len()];
                    to_blocked_with(isa, &x, &layout, &mut b, threads);
                    assert!(
                        b.iter().all(|v| !v.is_nan()),
                        "{what}: every element written"
                    );
                    check_blocked(&x, &layout, &b, &what);
                    let mut back = vec![f32::NAN; x.len()];
                    from_blocked_with(isa, &b, &layout, &mut back, threads);
                    assert_eq!(back, x, "{what} {layout:?}");
                    // Every instruction set gives the scalar result, bit for bit.
                    match &reference {
                        None => reference = Some(b),
                        Some(r) => assert_eq!(
                            r.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                            "{what}"
                        ),
                    }
                }
            }
        }
    }

    #[test]
    fn large_conversions_split_across_threads() {
        // More than `MIN_PARALLEL_FLOATS` per thread: the split really happens.
        let layout = Blocked::new(2, 40, 30, 45, 1);
        let x: Vec<f32> = (0..2 * 40 * 30 * 45).map(|v| v as f32).collect();
        for isa in Isa::available() {
            for threads in [1, 2, 4] {
                let mut b = vec![f32::NAN; layout.len()];
                to_blocked_with(isa, &x, &layout, &mut b, threads);
                check_blocked(&x, &layout, &b, "large");
                let mut back = vec![0.0; x.len()];
                from_blocked_with(isa, &b, &layout, &mut back, threads);
                assert_eq!(back, x);
                let without = layout.with_halo(0);
                let mut b0 = vec![f32::NAN; without.len()];
                to_blocked_with(isa, &x, &without, &mut b0, threads);
                check_blocked(&x, &without, &b0, "large, no halo");
                from_blocked_with(isa, &b0, &without, &mut back, threads);
                assert_eq!(back, x);
            }
        }
    }
}
