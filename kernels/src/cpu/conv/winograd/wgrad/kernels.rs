//! The vectorised kernels of the Winograd weight gradient ([`super`]): the head-gradient
//! transform `M = A dY Aᵀ` of a block of tiles and the weight transform `dg = Gᵀ dU G` of one
//! channel block pair, for `F(M×M, R×R)` (3×3 and 5×5 kernels).

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::Range;

use super::super::super::blocked::{BLOCK, Blocked};
use super::super::super::lanes::{self, Kernel, run_kernel};
use super::super::dgrad::Adjoint;
use super::super::{F2, F2R5, F4, F4R5, G2_F32, G4_F32, G25_F32, G45_F32, Lanes, Transform};
use crate::cpu::isa::Isa;
use crate::cpu::tile;

/// The most taps of a kernel served (5×5).
const MAX_TAPS: usize = 25;

/// The transforms of the backward pass, for `F(M, R)` with `A = M + R − 1`.
pub(super) trait GradTransform<const A: usize, const M: usize, const R: usize>:
    Transform<A, M>
{
    /// `A y`: the transpose of the output transform, from `M` head-gradient values to `A`.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn output_grad<V: Lanes>(y: [V; M]) -> [V; A];
    /// `G` in `f32`: the weight transform (`A × R`).
    const G: [[f32; R]; A];

    /// `Gᵀ u`: the transpose of the weight transform, from `A` values to `R`.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    #[inline(always)]
    unsafe fn weight_grad<V: Lanes>(u: [V; A]) -> [V; R] {
        // SAFETY: the caller's.
        unsafe { g_transpose(&Self::G, u) }
    }
}

/// `Gᵀ u` for the rows of `g`, zero entries skipped, one entries added.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn g_transpose<V: Lanes, const A: usize, const R: usize>(
    g: &[[f32; R]; A],
    u: [V; A],
) -> [V; R] {
    // SAFETY: the caller's.
    unsafe {
        let mut out = [V::zero(); R];
        for (l, o) in out.iter_mut().enumerate() {
            for (row, &x) in g.iter().zip(&u) {
                let c = row[l];
                if c == 1.0 {
                    *o = o.add(x);
                } else if c != 0.0 {
                    *o = x.mul_add(c, *o);
                }
            }
        }
        out
    }
}

impl GradTransform<4, 2, 3> for F2 {
    /// `A = [1 0; 1 1; 1 −1; 0 −1]`.
    #[inline(always)]
    unsafe fn output_grad<V: Lanes>(y: [V; 2]) -> [V; 4] {
        // SAFETY: the caller's.
        unsafe { [y[0], y[0].add(y[1]), y[0].sub(y[1]), V::zero().sub(y[1])] }
    }

    const G: [[f32; 3]; 4] = G2_F32;
}

impl GradTransform<6, 4, 3> for F4 {
    /// `A = [1 0 0 0; 1 1 1 1; 1 −1 1 −1; 1 1/2 1/4 1/8; 1 −2 4 −8; 0 0 0 1]` (every entry
    /// exact in `f32`).
    #[inline(always)]
    unsafe fn output_grad<V: Lanes>(y: [V; 4]) -> [V; 6] {
        // SAFETY: the caller's.
        unsafe {
            let (e, o) = (y[0].add(y[2]), y[1].add(y[3]));
            [
                y[0],
                e.add(o),
                e.sub(o),
                y[3].mul_add(0.125, y[2].mul_add(0.25, y[1].mul_add(0.5, y[0]))),
                y[3].mul_add(-8.0, y[2].mul_add(4.0, y[1].mul_add(-2.0, y[0]))),
                y[3],
            ]
        }
    }

    const G: [[f32; 3]; 6] = G4_F32;
}

impl GradTransform<6, 2, 5> for F2R5 {
    #[inline(always)]
    unsafe fn output_grad<V: Lanes>(y: [V; 2]) -> [V; 6] {
        // SAFETY: the caller's.
        unsafe { <F2R5 as Adjoint<6, 2>>::grad_input(y) }
    }

    const G: [[f32; 5]; 6] = G25_F32;
}

impl GradTransform<8, 4, 5> for F4R5 {
    #[inline(always)]
    unsafe fn output_grad<V: Lanes>(y: [V; 4]) -> [V; 8] {
        // SAFETY: the caller's.
        unsafe { <F4R5 as Adjoint<8, 4>>::grad_input(y) }
    }

    const G: [[f32; 5]; 8] = G45_F32;
}

/// The head gradient's side of one call, shared by its threads.
pub(super) struct GradCtx {
    pub(super) isa: Isa,
    /// The blocked head gradient.
    pub(super) dy: *const f32,
    pub(super) layout: Blocked,
    /// Output height and width.
    pub(super) out: [usize; 2],
    /// Tiles down and across one image.
    pub(super) tiles: [usize; 2],
    pub(super) ic_blocks: usize,
    pub(super) oc_blocks: usize,
    pub(super) channels: usize,
    pub(super) filters: usize,
}

// SAFETY: the head gradient is only read; the buffer outlives the fork-join calls that share
// the context.
unsafe impl Sync for GradCtx {}

impl GradCtx {
    /// The head-gradient transform `M = A dY Aᵀ` of `tiles` into `m` (see
    /// [`grad_tiles`]), with the kernel of the context's instruction set.
    ///
    /// # Safety
    /// As [`grad_tiles`].
    pub(super) unsafe fn grad_block<
        K: GradTransform<A, M, R>,
        const A: usize,
        const M: usize,
        const R: usize,
    >(
        &self,
        tiles: Range<usize>,
        m: *mut f32,
        strides: [usize; 2],
    ) {
        let kernel = GradTiles::<K, A, M, R> {
            c: self,
            tiles,
            m,
            strides,
            transform: PhantomData,
        };
        // SAFETY: forwarded; the context's instruction set is available (checked by the entry).
        unsafe { run_kernel(self.isa, &kernel) }
    }

    /// `dw = Gᵀ dU G` of output block `pair / ic_blocks` and input block `pair % ic_blocks`
    /// (see [`weight_tiles`]), with the kernel of the context's instruction set.
    ///
    /// # Safety
    /// As [`weight_tiles`].
    pub(super) unsafe fn weight_pair<
        K: GradTransform<A, M, R>,
        const A: usize,
        const M: usize,
        const R: usize,
    >(
        &self,
        du: (*const f32, usize),
        pair: usize,
        dw: *mut f32,
    ) {
        let kernel = WeightTiles::<K, A, M, R> {
            c: self,
            du,
            pair,
            dw,
            transform: PhantomData,
        };
        // SAFETY: forwarded; the context's instruction set is available (checked by the entry).
        unsafe { run_kernel(self.isa, &kernel) }
    }
}

/// [`grad_tiles`] with its operands, as a [`Kernel`] that [`run_kernel`] instantiates per
/// instruction set.
struct GradTiles<'a, K, const A: usize, const M: usize, const R: usize> {
    c: &'a GradCtx,
    tiles: Range<usize>,
    m: *mut f32,
    strides: [usize; 2],
    transform: PhantomData<K>,
}

impl<K: GradTransform<A, M, R>, const A: usize, const M: usize, const R: usize> Kernel
    for GradTiles<'_, K, A, M, R>
{
    #[inline(always)]
    unsafe fn run<V: lanes::Lanes>(&self) {
        // SAFETY: forwarded (the caller's, as [`grad_tiles`] documents).
        unsafe { grad_tiles::<V, K, A, M, R>(self.c, self.tiles.clone(), self.m, self.strides) }
    }
}

/// [`weight_tiles`] with its operands, as a [`Kernel`].
struct WeightTiles<'a, K, const A: usize, const M: usize, const R: usize> {
    c: &'a GradCtx,
    du: (*const f32, usize),
    pair: usize,
    dw: *mut f32,
    transform: PhantomData<K>,
}

impl<K: GradTransform<A, M, R>, const A: usize, const M: usize, const R: usize> Kernel
    for WeightTiles<'_, K, A, M, R>
{
    #[inline(always)]
    unsafe fn run<V: lanes::Lanes>(&self) {
        // SAFETY: forwarded (the caller's, as [`weight_tiles`] documents).
        unsafe { weight_tiles::<V, K, A, M, R>(self.c, self.du, self.pair, self.dw) }
    }
}

/// The head-gradient transform of `tiles` into `m`: `M[ξ][ocb][k][16]` for position `ξ`,
/// output channel block `ocb` and the `k`-th tile of the range at
/// `ξ·m_xi + ocb·m_block + k·16`; the head gradient outside the output reads as zero.
///
/// # Safety
/// The context's head gradient was checked against its layout; `m` holds every position,
/// block and tile at those offsets; `V`'s instruction set is available.
#[inline(always)]
unsafe fn grad_tiles<
    V: Lanes,
    K: GradTransform<A, M, R>,
    const A: usize,
    const M: usize,
    const R: usize,
>(
    c: &GradCtx,
    tiles: Range<usize>,
    m: *mut f32,
    [m_xi, m_block]: [usize; 2],
) {
    let [oh, ow] = c.out;
    let [th, tw] = c.tiles;
    let l = &c.layout;
    for ocb in 0..c.oc_blocks {
        for (k, t) in tiles.clone().enumerate() {
            let (n, ty, tx) = (t / (th * tw), (t / tw) % th, t % tw);
            let (oy0, ox0) = (ty * M, tx * M);
            // At least one row and column: the tile starts inside the output.
            let (rows, cols) = (M.min(oh - oy0), M.min(ow - ox0));
            // SAFETY: pixels `(oy0 + r, ox0 + col)` with `r < rows`, `col < cols` lie inside
            // image `n`, block `ocb` of the head gradient; `m` holds position `ξ`, block
            // `ocb`, tile `k` (the caller's).
            unsafe {
                let base = c.dy.add(
                    n * l.image() + ocb * l.plane() + oy0 * l.pitch() + (l.halo + ox0) * BLOCK,
                );
                // A dY, column by column (`ad[column][i]`); then row `i` of (A dY) Aᵀ. (Plain
                // loops: closures would not inherit the caller's instruction set.)
                let mut ad = [[V::zero(); A]; M];
                for (col, out) in ad.iter_mut().enumerate().take(cols) {
                    let mut d = [V::zero(); M];
                    for (r, x) in d.iter_mut().enumerate().take(rows) {
                        *x = V::load(base.add(r * l.pitch() + col * BLOCK));
                    }
                    *out = K::output_grad(d);
                }
                #[allow(clippy::needless_range_loop, reason = "a transpose")]
                for i in 0..A {
                    let mut row = [V::zero(); M];
                    for (col, x) in row.iter_mut().enumerate() {
                        *x = ad[col][i];
                    }
                    for (j, y) in K::output_grad(row).into_iter().enumerate() {
                        y.store(m.add((i * A + j) * m_xi + ocb * m_block + k * BLOCK));
                    }
                }
            }
        }
    }
}

/// `dw = Gᵀ dU G` for the output channels of block `pair / ic_blocks` and the input channels of
/// block `pair % ic_blocks` (those inside `F` and `C`): the pair's `dU` tile at position `ξ`
/// is at `du + ξ·xi_stride`, lane (input channel) `j`'s 16 output channels at `16·j` in it;
/// `dw` is `F × C × R × R`.
///
/// # Safety
/// `du` holds the pair's `dU` tiles, `dw` `F·C·R²` floats (`R <= 5`); `V`'s instruction set is available.
#[inline(always)]
unsafe fn weight_tiles<
    V: Lanes,
    K: GradTransform<A, M, R>,
    const A: usize,
    const M: usize,
    const R: usize,
>(
    c: &GradCtx,
    (du, xi_stride): (*const f32, usize),
    pair: usize,
    dw: *mut f32,
) {
    let icb = c.ic_blocks;
    let (o, i) = (pair / icb, pair % icb);
    let (f0, c0) = (o * BLOCK, i * BLOCK);
    let nf = BLOCK.min(c.filters - f0);
    let nc = BLOCK.min(c.channels - c0);
    // `tmp[j·R² + k]`: tap `k` of input channel `c0 + j` for the block's 16 output channels
    // (`R² <= 25`: the caller's).
    let taps = R * R;
    // Uninitialised: only the `R²·nc` rows written here are read below.
    let mut tmp = MaybeUninit::<[[f32; BLOCK]; MAX_TAPS * BLOCK]>::uninit();
    let src = tmp.as_mut_ptr().cast::<f32>();
    for j in 0..nc {
        // SAFETY: the `dU` tiles read are inside `du`, 16 floats from lane `j < 16`; rows
        // `j·R² .. (j + 1)·R²` of `tmp` (16 floats each) are inside it, `(j + 1)·R² <= 16·25`
        // (the caller's contract otherwise).
        unsafe {
            // (dU G) row by row (`r[p][b]`), then column `b` of Gᵀ (dU G).
            let mut r = [[V::zero(); R]; A];
            for (p, rp) in r.iter_mut().enumerate() {
                let mut u = [V::zero(); A];
                for (q, x) in u.iter_mut().enumerate() {
                    let xi = p * A + q;
                    *x = V::load(du.add(xi * xi_stride + j * BLOCK));
                }
                *rp = K::weight_grad(u);
            }
            #[allow(clippy::needless_range_loop, reason = "a transpose")]
            for b in 0..R {
                let mut col = [V::zero(); A];
                for (p, x) in col.iter_mut().enumerate() {
                    *x = r[p][b];
                }
                for (a, y) in K::weight_grad(col).into_iter().enumerate() {
                    y.store(src.add((j * taps + a * R + b) * BLOCK));
                }
            }
        }
    }
    // `dw[f0 + f][c0 + j][k] = tmp[j·R² + k][f]`: for each output channel, the pair's `R²·nc`
    // floats are contiguous in `dw`, so `tmp` (`R²·nc` rows of 16 output channels) is
    // transposed into them 16 rows at a time.
    let src = src.cast_const();
    let dst = dw.wrapping_add((f0 * c.channels + c0) * taps);
    let len = nc * taps;
    for r0 in (0..len).step_by(BLOCK) {
        let rows = BLOCK.min(len - r0);
        // SAFETY: `tmp` holds `16·25` rows of 16 floats, of which rows `r0 .. r0 + rows` are
        // read (`nf <= 16` floats each); output channel `f0 + f < F` (`f < nf`) gets floats
        // `r0 .. r0 + rows` of its `R²·nc` floats from input channel `c0`, inside `dw` (the
        // caller's): exactly 16 through `transpose`, `rows` through `transpose_narrow`.
        unsafe {
            let (from, to) = (src.add(r0 * BLOCK), dst.add(r0));
            let ds = c.channels * taps;
            if rows == BLOCK {
                tile::transpose(c.isa, from, BLOCK, rows, nf, to, ds, nf);
            } else {
                tile::transpose_narrow(c.isa, from, BLOCK, rows, nf, to, ds, rows);
            }
        }
    }
}
