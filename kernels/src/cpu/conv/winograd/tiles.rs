//! The 2-D input and output transforms of blocks of tiles ([`input_tiles`], [`output_tiles`],
//! the output transform with the epilogue), written once over 16 `f32` lanes ([`Lanes`]) and
//! instantiated per instruction set by [`lanes::run_kernel`] ([`TileSteps`], [`InputTiles`],
//! [`OutputTiles`]).

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::Range;

use super::super::blocked::BLOCK;
use super::super::lanes::{self, Kernel};
use super::{Ctx, Transform};

/// 16 lanes of `f32` (one channel block) in some instruction set's registers, as the transforms
/// use them: the operations of [`lanes::Lanes`] in method form (every implementation of it is
/// one, below).
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

/// Every [`lanes::Lanes`] implementation (AVX-512, two AVX2 registers, portable) serves the
/// transforms: the same operations, in method form, with a multiply-add by a constant.
impl<V: lanes::Lanes> Lanes for V {
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller's (the instruction set is available).
        unsafe { <V as lanes::Lanes>::splat(0.0) }
    }

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: `p` covers 16 floats and the instruction set is available (the caller's).
        unsafe { <V as lanes::Lanes>::load(p) }
    }

    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: as `load`.
        unsafe { <V as lanes::Lanes>::store(self, p) }
    }

    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: as `zero`.
        unsafe { <V as lanes::Lanes>::add(self, o) }
    }

    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        // SAFETY: as `zero`.
        unsafe { <V as lanes::Lanes>::sub(self, o) }
    }

    #[inline(always)]
    unsafe fn mul_add(self, c: f32, acc: Self) -> Self {
        // SAFETY: as `zero`.
        unsafe { <V as lanes::Lanes>::fma(self, <V as lanes::Lanes>::splat(c), acc) }
    }

    #[inline(always)]
    unsafe fn relu(self) -> Self {
        // SAFETY: as `zero`.
        unsafe { <V as lanes::Lanes>::relu(self) }
    }
}

/// The two per-tile steps of a block of tiles around its matrix products ([`Ctx::products`]):
/// the input transform into `V` and the transform of the products into the output, on vectors
/// `V` ([`Forward`]: the forward pass; the data gradient's transposed steps in
/// [`super::dgrad`]).
pub(super) trait TileSteps<const A: usize, const M: usize> {
    /// Writes the transformed inputs of `tiles` (see [`Ctx::input_block`]).
    ///
    /// # Safety
    /// As [`Ctx::input_block`]; `V`'s instruction set is available.
    unsafe fn input<V: Lanes>(c: &Ctx, tiles: Range<usize>, v: *mut f32, strides: [usize; 2]);
    /// Transforms the products `m` of output group `og` into the output (see
    /// [`Ctx::output_block`]).
    ///
    /// # Safety
    /// As [`Ctx::output_block`]; `V`'s instruction set is available.
    unsafe fn output<V: Lanes>(c: &Ctx, tiles: Range<usize>, og: usize, m: *const f32, m_xi: usize);
}

/// The forward pass's steps with the transforms `K`: [`input_tiles`] and [`output_tiles`].
pub(super) struct Forward<K>(PhantomData<K>);

impl<K: Transform<A, M>, const A: usize, const M: usize> TileSteps<A, M> for Forward<K> {
    #[inline(always)]
    unsafe fn input<V: Lanes>(c: &Ctx, tiles: Range<usize>, v: *mut f32, strides: [usize; 2]) {
        // SAFETY: forwarded (the caller's).
        unsafe { input_tiles::<V, K, A, M>(c, tiles, v, strides) }
    }

    #[inline(always)]
    unsafe fn output<V: Lanes>(
        c: &Ctx,
        tiles: Range<usize>,
        og: usize,
        m: *const f32,
        m_xi: usize,
    ) {
        // SAFETY: forwarded (the caller's).
        unsafe { output_tiles::<V, K, A, M>(c, tiles, og, m, m_xi) }
    }
}

/// [`TileSteps::input`] of `S` with its operands, as a [`Kernel`] that [`lanes::run_kernel`]
/// instantiates per instruction set.
pub(super) struct InputTiles<'a, S, const A: usize, const M: usize> {
    pub(super) c: &'a Ctx,
    pub(super) tiles: Range<usize>,
    pub(super) v: *mut f32,
    pub(super) strides: [usize; 2],
    pub(super) steps: PhantomData<S>,
}

impl<S: TileSteps<A, M>, const A: usize, const M: usize> Kernel for InputTiles<'_, S, A, M> {
    #[inline(always)]
    unsafe fn run<V: lanes::Lanes>(&self) {
        // SAFETY: forwarded (the caller's, as [`TileSteps::input`] documents).
        unsafe { S::input::<V>(self.c, self.tiles.clone(), self.v, self.strides) }
    }
}

/// [`TileSteps::output`] of `S` with its operands, as a [`Kernel`].
pub(super) struct OutputTiles<'a, S, const A: usize, const M: usize> {
    pub(super) c: &'a Ctx,
    pub(super) tiles: Range<usize>,
    pub(super) og: usize,
    pub(super) m: *const f32,
    pub(super) m_xi: usize,
    pub(super) steps: PhantomData<S>,
}

impl<S: TileSteps<A, M>, const A: usize, const M: usize> Kernel for OutputTiles<'_, S, A, M> {
    #[inline(always)]
    unsafe fn run<V: lanes::Lanes>(&self) {
        // SAFETY: forwarded (the caller's, as [`TileSteps::output`] documents).
        unsafe { S::output::<V>(self.c, self.tiles.clone(), self.og, self.m, self.m_xi) }
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
