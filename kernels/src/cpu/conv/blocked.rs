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

/// Writes the NCHW activation `src` (`n·c·h·w` floats) into `dst` in `layout`, padding
/// channels and halo columns included. Panics if a length does not match the layout (callers
/// check; this is a programming error).
pub fn to_blocked(src: &[f32], layout: &Blocked, dst: &mut [f32]) {
    let Blocked { n, c, h, w, halo } = *layout;
    assert_eq!(src.len(), n * c * h * w, "to_blocked: source length");
    assert_eq!(dst.len(), layout.len(), "to_blocked: destination length");
    let pitch = layout.pitch();
    for (img, dst_img) in dst.chunks_exact_mut(layout.image().max(1)).enumerate() {
        if layout.image() == 0 {
            break;
        }
        for (cb, dst_plane) in dst_img.chunks_exact_mut(layout.plane()).enumerate() {
            let lanes = BLOCK.min(c - cb * BLOCK);
            for (y, row) in dst_plane.chunks_exact_mut(pitch).enumerate() {
                row[..halo * BLOCK].fill(0.0);
                row[(halo + w) * BLOCK..].fill(0.0);
                let body = &mut row[halo * BLOCK..(halo + w) * BLOCK];
                if lanes < BLOCK {
                    body.fill(0.0);
                }
                for lane in 0..lanes {
                    let ch = cb * BLOCK + lane;
                    let start = ((img * c + ch) * h + y) * w;
                    for (x, &v) in src[start..start + w].iter().enumerate() {
                        body[x * BLOCK + lane] = v;
                    }
                }
            }
        }
    }
}

/// Reads the blocked activation `src` (in `layout`) back into NCHW `dst` (`n·c·h·w` floats).
/// Panics if a length does not match the layout.
pub fn from_blocked(src: &[f32], layout: &Blocked, dst: &mut [f32]) {
    let Blocked { n, c, h, w, halo } = *layout;
    assert_eq!(dst.len(), n * c * h * w, "from_blocked: destination length");
    assert_eq!(src.len(), layout.len(), "from_blocked: source length");
    let pitch = layout.pitch();
    for img in 0..n {
        for ch in 0..c {
            let (cb, lane) = (ch / BLOCK, ch % BLOCK);
            for y in 0..h {
                let row = img * layout.image() + cb * layout.plane() + y * pitch + halo * BLOCK;
                let start = ((img * c + ch) * h + y) * w;
                for (x, d) in dst[start..start + w].iter_mut().enumerate() {
                    *d = src[row + x * BLOCK + lane];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_padding_channels_and_halo() {
        for (c, halo) in [(1, 0), (16, 0), (17, 2), (35, 1)] {
            let layout = Blocked::new(2, c, 3, 5, halo);
            let x: Vec<f32> = (0..2 * c * 15).map(|v| v as f32 + 0.5).collect();
            let mut b = vec![f32::NAN; layout.len()];
            to_blocked(&x, &layout, &mut b);
            assert!(b.iter().all(|v| !v.is_nan()), "every element written");
            for img in 0..2 {
                for ch in 0..layout.blocks() * BLOCK {
                    for y in 0..3 {
                        for x_ in 0..5 {
                            let got = b[layout.offset(img, ch, y, x_)];
                            let want = if ch < c {
                                x[((img * c + ch) * 3 + y) * 5 + x_]
                            } else {
                                0.0
                            };
                            assert_eq!(got, want, "c={c} ({img},{ch},{y},{x_})");
                        }
                    }
                }
            }
            let halo_sum: f32 = (0..2)
                .flat_map(|img| (0..3).map(move |y| (img, y)))
                .map(|(img, y)| {
                    let row = img * layout.image() + y * layout.pitch();
                    b[row..row + halo * BLOCK]
                        .iter()
                        .map(|v| v.abs())
                        .sum::<f32>()
                })
                .sum();
            assert_eq!(halo_sum, 0.0);
            let mut back = vec![0.0; x.len()];
            from_blocked(&b, &layout, &mut back);
            assert_eq!(back, x);
        }
    }
}
