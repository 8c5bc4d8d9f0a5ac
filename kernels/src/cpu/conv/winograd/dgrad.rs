//! The data gradient of 5×5 Winograd layers as the transpose of the forward algorithm, on the
//! channel-blocked layout ([`super::super::blocked`]), `f32`.
//!
//! The forward pass computes, per output tile, `Y = Aᵀ [Σ_c U ⊙ (Bᵀ d B)] A`. Its transpose
//! with respect to the input tile `d` is `dd = B [Σ_f U ⊙ (A dY Aᵀ)] Bᵀ`, and the data gradient
//! is the sum of the `α × α` tiles `dd` over the (overlapping) input windows of the forward
//! tiles. Against the other way of using Winograd for it (the correlation of the padded `dy`
//! with the flipped weights, [`super::WinogradConv::pack_flipped_with`]), its tiles are the
//! forward pass's, which cover the smaller map: on LeNet's second layer (8×8 outputs, 12×12
//! inputs, 5×5 kernel) `F(4×4, 5×5)` needs 4 tiles per image where the correlation needs 9.
//!
//! Each block of tiles goes as in the forward pass (`Ctx::run_block`): the transform
//! `A dY Aᵀ` of every tile's `m × m` head gradient (16 channels at a time, reading the blocked
//! `dy` in place, zeros past its edges), the `α²` matrix products over the output channels
//! with the direct kernel's register tile (the weights packed transposed, not flipped), then
//! `B M Bᵀ` per tile, added onto the blocked `dx` (zeroed first) inside the image.
//!
//! Every `dx` element receives its tiles' contributions in tile order; threads take whole
//! images (or, with fewer images than threads, whole output channel groups), so the result does
//! not depend on the thread count.

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::Range;

use super::super::blocked::{BLOCK, Blocked};
use super::super::direct::{InputStrides, Shared};
use super::super::{ConvError, ConvGeom, check_len};
use super::{
    Ctx, F2R5, F4R5, Lanes, Order, PACK_COST, TileSteps, Transform, Variant, WinogradConv,
    for_each_block,
};
use crate::cpu::isa::Isa;
use crate::cpu::parallel;

/// The transposed 1-D transforms of `F(M, r)`.
pub(super) trait Adjoint<const A: usize, const M: usize>: Transform<A, M> {
    /// `A x` (the transpose of the output transform).
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn grad_input<V: Lanes>(x: [V; M]) -> [V; A];
    /// `B x` (the transpose of the input transform).
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn grad_output<V: Lanes>(x: [V; A]) -> [V; A];
}

impl Adjoint<6, 2> for F2R5 {
    #[inline(always)]
    unsafe fn grad_input<V: Lanes>(x: [V; 2]) -> [V; 6] {
        // SAFETY: the caller's.
        unsafe {
            [
                x[0],
                x[0].add(x[1]),
                x[0].sub(x[1]),
                x[1].mul_add(0.5, x[0]),
                x[1].mul_add(-2.0, x[0]),
                x[1],
            ]
        }
    }

    #[inline(always)]
    unsafe fn grad_output<V: Lanes>(x: [V; 6]) -> [V; 6] {
        // SAFETY: the caller's.
        unsafe {
            // The columns of `F4`'s `Bᵀ` (see [`super::F4`]).
            let s = x[2].sub(x[1]);
            [
                x[0],
                x[5].add(x[4].mul_add(0.5, x[3].mul_add(-2.0, x[0].mul_add(-1.5, s)))),
                x[5].mul_add(
                    -1.5,
                    x[4].add(x[3]).mul_add(
                        -1.0,
                        x[2].mul_add(-2.5, x[1].mul_add(0.5, x[0].mul_add(-2.0, V::zero()))),
                    ),
                ),
                x[5].mul_add(
                    -2.0,
                    x[4].mul_add(
                        -0.5,
                        x[3].mul_add(
                            2.0,
                            x[2].mul_add(0.5, x[1].mul_add(2.5, x[0].mul_add(1.5, V::zero()))),
                        ),
                    ),
                ),
                x[5].mul_add(1.5, x[0].add(x[1]).add(x[2].add(x[3])).add(x[4])),
                x[5],
            ]
        }
    }
}

impl Adjoint<8, 4> for F4R5 {
    #[inline(always)]
    unsafe fn grad_input<V: Lanes>(x: [V; 4]) -> [V; 8] {
        // SAFETY: the caller's.
        unsafe {
            let (e1, o1) = (x[0].add(x[2]), x[1].add(x[3]));
            let e2 = x[2].mul_add(4.0, x[0]);
            let o2 = x[3].mul_add(8.0, x[1].mul_add(2.0, V::zero()));
            let e3 = x[2].mul_add(0.25, x[0]);
            let o3 = x[3].mul_add(0.125, x[1].mul_add(0.5, V::zero()));
            [
                x[0],
                e1.add(o1),
                e1.sub(o1),
                e2.add(o2),
                e2.sub(o2),
                e3.add(o3),
                e3.sub(o3),
                x[3],
            ]
        }
    }

    #[inline(always)]
    unsafe fn grad_output<V: Lanes>(x: [V; 8]) -> [V; 8] {
        // SAFETY: the caller's.
        unsafe {
            let (a1, b1) = (x[1].add(x[2]), x[1].sub(x[2]));
            let (a2, b2) = (x[3].add(x[4]), x[3].sub(x[4]));
            let (a3, b3) = (x[5].add(x[6]), x[5].sub(x[6]));
            [
                x[0],
                b3.mul_add(2.0, b2.mul_add(0.5, b1)).sub(x[7]),
                a3.mul_add(4.0, a2.mul_add(0.25, x[0].mul_add(-5.25, a1))),
                x[7].mul_add(
                    5.25,
                    b3.mul_add(-2.5, b2.mul_add(-2.5, b1.mul_add(-4.25, V::zero()))),
                ),
                a3.mul_add(
                    -5.0,
                    a2.mul_add(-1.25, a1.mul_add(-4.25, x[0].mul_add(5.25, V::zero()))),
                ),
                x[7].mul_add(-5.25, b3.mul_add(0.5, b2.mul_add(2.0, b1))),
                a1.add(a2).add(a3).sub(x[0]),
                x[7],
            ]
        }
    }
}

/// A planned transposed-Winograd data gradient: the forward geometry, and the Winograd plan
/// of the geometry with its channels and filters swapped (whose matrix products it runs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WinogradDgrad {
    geom: ConvGeom,
    swapped: WinogradConv,
}

/// The transposed-Winograd plan for the data gradient of `geom` when it is served (a 5×5
/// kernel, as [`WinogradConv::with_kernel_variant`] serves), allowed ([`super::enabled`]) and
/// pays, on the conditions of [`super::plan_nchw`] (outputs of 4×4 and more, at least 256
/// output pixels, 16 channels each side), with the variant of the lower estimated cost
/// (products and weight packing, as [`super::plan_nchw`] counts them).
pub fn plan(geom: &ConvGeom) -> Option<WinogradDgrad> {
    if !super::nchw_pays(geom) || !super::enabled() {
        return None;
    }
    let cost = |p: &WinogradDgrad| p.swapped.cost() + PACK_COST * p.packed_len() as f64;
    let f4 = WinogradDgrad::with_variant(geom, Variant::F4x4).ok()??;
    let f2 = WinogradDgrad::with_variant(geom, Variant::F2x2).ok()??;
    Some(if cost(&f2) < cost(&f4) { f2 } else { f4 })
}

impl WinogradDgrad {
    /// Plans the data gradient of `geom` (the forward convolution) with `variant`: 5×5
    /// kernels only (stride 1, dilation 1, one group, padding 0 to 4); `None` otherwise, an
    /// error when the geometry is invalid.
    ///
    /// # Errors
    /// [`ConvError`] for an invalid geometry.
    pub fn with_variant(
        geom: &ConvGeom,
        variant: Variant,
    ) -> Result<Option<WinogradDgrad>, ConvError> {
        let mut g = *geom;
        (g.channels, g.filters) = (geom.filters, geom.channels);
        let Some(swapped) = WinogradConv::with_kernel_variant(&g, variant)? else {
            return Ok(None);
        };
        if swapped.kernel != 5 {
            return Ok(None);
        }
        Ok(Some(WinogradDgrad {
            geom: *geom,
            swapped,
        }))
    }

    /// The forward geometry.
    pub fn geom(&self) -> &ConvGeom {
        &self.geom
    }

    /// The variant.
    pub fn variant(&self) -> Variant {
        self.swapped.variant
    }

    /// Floats of the packed (transformed) weights.
    pub fn packed_len(&self) -> usize {
        self.swapped.packed_len()
    }

    /// Transforms and packs the forward weights `w` (`F × C × 5 × 5`) into `dst`
    /// ([`WinogradDgrad::packed_len`] floats) on up to `threads` threads with `isa`; the bits
    /// do not depend on either.
    ///
    /// # Errors
    /// [`ConvError::Length`] when `w` or `dst` do not match the geometry.
    pub fn pack_with(
        &self,
        isa: Isa,
        w: &[f32],
        dst: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        self.swapped
            .pack_with(isa, w, None, Order::Transposed, dst, threads)
    }

    /// The data gradient `dx` (blocked in `dx_layout`, any halo; overwritten, halo columns
    /// zero) from the head gradient `dy` (blocked in `dy_layout`, any halo) and the packed
    /// weights, with `isa` (the portable code if this CPU lacks it) on up to `threads`
    /// threads. The result does not depend on `threads`.
    ///
    /// # Errors
    /// [`ConvError`] when a layout does not match the geometry or a buffer its layout.
    #[allow(clippy::too_many_arguments, reason = "the gradient's operands")]
    pub fn run(
        &self,
        isa: Isa,
        dy: &[f32],
        dy_layout: &Blocked,
        packed: &[f32],
        dx: &mut [f32],
        dx_layout: &Blocked,
        threads: usize,
    ) -> Result<(), ConvError> {
        let g = &self.geom;
        let p = &self.swapped;
        let [_, ih, iw] = g.input;
        let [oh, ow] = p.out;
        let want = Blocked::new(g.batch, g.filters, oh, ow, dy_layout.halo);
        if *dy_layout != want {
            return Err(ConvError::Geometry(format!(
                "Winograd data gradient: head gradient layout {dy_layout:?}, the geometry \
                 needs {want:?}"
            )));
        }
        let want = Blocked::new(g.batch, g.channels, ih, iw, dx_layout.halo);
        if *dx_layout != want {
            return Err(ConvError::Geometry(format!(
                "Winograd data gradient: data gradient layout {dx_layout:?}, the geometry \
                 needs {want:?}"
            )));
        }
        check_len("output gradient", dy.len(), dy_layout.len())?;
        check_len("data gradient", dx.len(), dx_layout.len())?;
        check_len("packed weight", packed.len(), p.packed_len())?;
        dx.fill(0.0);
        let [th, tw] = p.tiles;
        let per_image = th * tw;
        let tiles = g.batch * per_image;
        if tiles == 0 || dx.is_empty() {
            return Ok(());
        }
        let groups = p.out_groups();
        let parts = p.parts(tiles, threads);
        // Whole images per thread (tiles of one image overlap in `dx`), or whole output
        // channel groups when there are too few images.
        let by_groups = g.batch < parts && groups > 1;
        let work_parts: Vec<(Range<usize>, Range<usize>)> = if by_groups {
            let ranges = parallel::split_range(groups, parts, 1);
            ranges.into_iter().map(|r| (0..tiles, r)).collect()
        } else {
            let ranges = parallel::split_range(g.batch, parts, 1);
            ranges
                .into_iter()
                .map(|r| (r.start * per_image..r.end * per_image, 0..groups))
                .collect()
        };
        let isa = if isa.is_available() { isa } else { Isa::Scalar };
        let ctx = Ctx {
            isa,
            input: dy.as_ptr(),
            s: InputStrides::blocked(dy_layout),
            in_size: [oh, ow],
            pad: [g.pad[1], g.pad[2]],
            out_size: [ih, iw],
            tiles: p.tiles,
            ic_blocks: p.ic_blocks,
            nv: p.nv,
            out_blocks: dx_layout.blocks(),
            packed: packed.as_ptr(),
            w_position: p.w_position(),
            bias: std::ptr::null(),
            residual: std::ptr::null(),
            res_layout: *dx_layout,
            relu: false,
            out: Shared {
                out: dx.as_mut_ptr(),
            },
            out_layout: *dx_layout,
        };
        let block_tiles = p.block_tiles();
        let variant = p.variant;
        let channels = g.filters;
        let run = |part: usize| {
            let (range, groups) = work_parts[part].clone();
            for_each_block(range, block_tiles, |block| {
                // SAFETY: the buffers were checked against the plan above; threads get
                // disjoint images or disjoint output groups, so they write disjoint `dx`
                // elements; `channels` is the plan's input channel count.
                unsafe {
                    match variant {
                        Variant::F2x2 => {
                            ctx.run_block::<Transposed<F2R5>, 6, 2>(block, groups.clone(), channels)
                        }
                        Variant::F4x4 => {
                            ctx.run_block::<Transposed<F4R5>, 8, 4>(block, groups.clone(), channels)
                        }
                    }
                }
            });
        };
        parallel::for_each_part(work_parts.len(), run);
        Ok(())
    }
}

/// The steps of one block of tiles of the data gradient ([`Ctx::run_block`] on the transposed
/// context [`WinogradDgrad::run`] builds): the transforms of `dy` ([`input_tiles`]) before the
/// products, the transposed output transform added onto `dx` ([`output_tiles`]) after; no
/// other thread may write the `dx` pixels of a block's images in its groups.
struct Transposed<K>(PhantomData<K>);

impl<K: Adjoint<A, M>, const A: usize, const M: usize> TileSteps<A, M> for Transposed<K> {
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

/// `A dY Aᵀ` of the `M × M` head gradient of each tile of `tiles`, into `v` (as
/// [`Ctx::input_block`] lays it out: `[v_xi, v_block]` = `strides`), on vectors `V`.
///
/// # Safety
/// As [`Ctx::input_block`] for the transposed context; `V`'s instruction set is available.
#[inline(always)]
unsafe fn input_tiles<V: Lanes, K: Adjoint<A, M>, const A: usize, const M: usize>(
    c: &Ctx,
    tiles: Range<usize>,
    v: *mut f32,
    [v_xi, v_block]: [usize; 2],
) {
    let s = &c.s;
    let [oh, ow] = c.in_size;
    for icb in 0..c.ic_blocks {
        for (k, t) in tiles.clone().enumerate() {
            let (n, ty, tx) = c.tile_pos(t);
            let (oy0, ox0) = (ty * M, tx * M);
            let (rows, cols) = (M.min(oh - oy0), M.min(ow - ox0));
            // SAFETY: rows `oy0 + r` (`r < rows`) and columns `ox0 + col` (`col < cols`) lie
            // inside the head gradient, whose blocked buffer (checked against its layout)
            // holds them at `n·image + icb·block + row·(oy0 + r) + (halo + ox0 + col)·16`; `v`
            // holds position `ξ`, block `icb`, tile `k`; every element of `ad` is written (the
            // first loop) before it is read.
            unsafe {
                let base = c
                    .input
                    .add(n * s.image + icb * s.block + oy0 * s.row + (s.halo + ox0) * BLOCK);
                let mut ad = [[MaybeUninit::<V>::uninit(); A]; M];
                for (col, out) in ad.iter_mut().enumerate() {
                    let mut d = [V::zero(); M];
                    if col < cols {
                        for (r, x) in d.iter_mut().enumerate().take(rows) {
                            *x = V::load(base.add(r * s.row + col * BLOCK));
                        }
                    }
                    *out = K::grad_input(d).map(MaybeUninit::new);
                }
                #[allow(clippy::needless_range_loop, reason = "a transpose")]
                for i in 0..A {
                    let mut row = [V::zero(); M];
                    for (col, x) in row.iter_mut().enumerate() {
                        *x = ad[col][i].assume_init();
                    }
                    for (j, y) in K::grad_input(row).into_iter().enumerate() {
                        y.store(v.add((i * A + j) * v_xi + icb * v_block + k * BLOCK));
                    }
                }
            }
        }
    }
}

/// `B M Bᵀ` of the products `m` of output group `og` for each tile of `tiles` (as
/// [`Ctx::output_block`] reads them), added onto `dx` inside the image, on vectors `V`.
///
/// # Safety
/// As [`Ctx::output_block`] for the transposed context; `V`'s instruction set is available.
#[inline(always)]
unsafe fn output_tiles<V: Lanes, K: Adjoint<A, M>, const A: usize, const M: usize>(
    c: &Ctx,
    tiles: Range<usize>,
    og: usize,
    m: *const f32,
    m_xi: usize,
) {
    let nt = tiles.len();
    let nv = c.nv;
    let [ih, iw] = c.out_size;
    let ol = &c.out_layout;
    let nv_store = nv.min(c.out_blocks - og * nv);
    // The tile's rows or columns inside the image, from its first (negative in the padding).
    let inside = |x0: isize, size: usize| {
        let lo = (-x0).clamp(0, A as isize) as usize;
        let hi = (size as isize - x0).clamp(lo as isize, A as isize) as usize;
        lo..hi
    };
    for (k, t) in tiles.enumerate() {
        let (n, ty, tx) = c.tile_pos(t);
        let iy0 = (ty * M) as isize - c.pad[0] as isize;
        let ix0 = (tx * M) as isize - c.pad[1] as isize;
        let (rows, cols) = (inside(iy0, ih), inside(ix0, iw));
        for vb in 0..nv_store {
            let ocb = og * nv + vb;
            // SAFETY: `m` holds position `ξ`, block `vb`, tile `k`; `dx` pixels
            // `(iy0 + p, ix0 + q)` for `p` in `rows`, `q` in `cols` lie inside the checked
            // `dx` of image `n`, block `ocb < out_blocks`; every element of `bm` is written
            // (the first loop) before it is read.
            unsafe {
                let mut bm = [[MaybeUninit::<V>::uninit(); A]; A];
                for (j, out) in bm.iter_mut().enumerate() {
                    let mut col = [V::zero(); A];
                    for (i, x) in col.iter_mut().enumerate() {
                        *x = V::load(m.add((i * A + j) * m_xi + (vb * nt + k) * BLOCK));
                    }
                    *out = K::grad_output(col).map(MaybeUninit::new);
                }
                // Wrapping: in the padding, `base` itself lies outside the buffer.
                let base = c
                    .out
                    .get()
                    .add(n * ol.image() + ocb * ol.plane())
                    .wrapping_offset(
                        iy0 * ol.pitch() as isize + (ix0 + ol.halo as isize) * BLOCK as isize,
                    );
                for p in rows.clone() {
                    let mut row = [V::zero(); A];
                    for (j, x) in row.iter_mut().enumerate() {
                        *x = bm[j][p].assume_init();
                    }
                    let y = K::grad_output(row);
                    let orow = base.wrapping_add(p * ol.pitch());
                    for q in cols.clone() {
                        let o = orow.wrapping_add(q * BLOCK);
                        V::load(o).add(y[q]).store(o);
                    }
                }
            }
        }
    }
}
