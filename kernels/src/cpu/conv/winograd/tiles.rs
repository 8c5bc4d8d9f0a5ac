//! The 2-D input and output transforms of blocks of tiles ([`input_tiles`], [`output_tiles`],
//! the output transform with the epilogue), written once over 16 `f32` lanes ([`Lanes`]) and
//! instantiated per instruction set (the portable lanes here, the x86 ones in [`super::x86`]).

use std::mem::MaybeUninit;
use std::ops::Range;

use super::super::blocked::BLOCK;
use super::{Ctx, Transform};

/// 16 lanes of `f32` (one channel block) in some instruction set's registers.
pub(super) trait Lanes: Copy {
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
pub(super) unsafe fn input_tiles<V: Lanes, K: Transform<A, M>, const A: usize, const M: usize>(
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
pub(super) unsafe fn output_tiles<V: Lanes, K: Transform<A, M>, const A: usize, const M: usize>(
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
