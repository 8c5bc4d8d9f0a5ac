//! The forward pass of a planned Winograd convolution ([`WinogradConv::forward`]): the split
//! of the tiles (or output groups) across threads, the blocks of tiles sized for L2, and per
//! block the input transform, the matrix products with the direct kernel's register tile and
//! the output transform ([`Ctx`]).

use std::cell::Cell;
use std::marker::PhantomData;
use std::ops::Range;

use super::super::ConvError;
use super::super::blocked::BLOCK;
use super::super::direct::{
    ConvOperands, InputLayout, Shared, Tap, TileJob, check_input, max_tile_pixels, run_tile,
};
use super::super::lanes::run_kernel;
use super::tiles::{Forward, InputTiles, OutputTiles, TileSteps};
use super::{
    BLOCK_BYTES, CACHED_WEIGHT_BYTES, Ctx, F2, F2R5, F4, F4R5, MIN_WORK_PER_THREAD, SPLIT_TILES,
    STREAMED_WEIGHT_TILES, SUM_BLOCKS, Variant, WinogradConv,
};
use crate::cpu::isa::Isa;
use crate::cpu::parallel;

impl WinogradConv {
    /// Runs the convolution with the current instruction set ([`Isa::current`]) on up to
    /// `threads` threads into `out`: the input blocked as `op.in_layout` says (its halo at
    /// least [`WinogradConv::input_halo`]), `op.packed` from [`WinogradConv::pack_weights`],
    /// the output written in `op.out_layout`, with the epilogue as
    /// [`super::super::direct::DirectConv::forward`] applies it.
    ///
    /// # Errors
    /// [`ConvError`] when a buffer does not match the plan or the layouts.
    pub fn forward(
        &self,
        op: &ConvOperands<'_>,
        out: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        self.forward_with(Isa::current(), op, out, threads)
    }

    /// [`WinogradConv::forward`] with a chosen instruction set (tests compare them). An
    /// instruction set this CPU lacks runs the portable code. The AVX2 path transforms with
    /// AVX2 and multiplies with the direct kernel's tile for AVX2 when there is one (else its
    /// portable tile).
    ///
    /// # Errors
    /// As [`WinogradConv::forward`].
    pub fn forward_with(
        &self,
        isa: Isa,
        op: &ConvOperands<'_>,
        out: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        const WHO: &str = "Winograd convolution";
        let g = &self.geom;
        let bias = op.check_output(WHO, self, out, self.out_groups() * self.nv * BLOCK)?;
        let (input, in_strides) = (op.input, op.in_layout);
        check_input(
            WHO,
            g,
            InputLayout::Blocked,
            self.input_halo(),
            input,
            in_strides,
        )?;
        if out.is_empty() {
            return Ok(());
        }
        let [th, tw] = self.tiles;
        let tiles = g.batch * th * tw;
        let groups = self.out_groups();
        let parts = self.parts(tiles, threads);
        // Threads split the tiles; with too few tiles for that, the output channel groups
        // instead (each thread then transforms every tile's input, but streams only its share
        // of the transformed weights, which dominate such layers).
        let by_groups = tiles < parts * SPLIT_TILES && groups > 1;
        let work_parts: Vec<(Range<usize>, Range<usize>)> = if by_groups {
            let ranges = parallel::split_range(groups, parts, 1);
            ranges.into_iter().map(|g| (0..tiles, g)).collect()
        } else {
            let ranges = parallel::split_range(tiles, parts, 1);
            ranges.into_iter().map(|t| (t, 0..groups)).collect()
        };
        let isa = if isa.is_available() { isa } else { Isa::Scalar };
        let (residual, res_layout) = match &op.epilogue.residual {
            Some((r, l)) => (r.as_ptr(), *l),
            None => (std::ptr::null(), *op.out_layout),
        };
        let ctx = Ctx {
            isa,
            input: input.as_ptr(),
            s: *in_strides,
            in_size: [g.input[1], g.input[2]],
            pad: [g.pad[1], g.pad[2]],
            out_size: self.out,
            tiles: self.tiles,
            ic_blocks: self.ic_blocks,
            nv: self.nv,
            out_blocks: op.out_layout.blocks(),
            packed: op.packed.as_ptr(),
            w_position: self.w_position(),
            bias: bias.as_ptr(),
            residual,
            res_layout,
            relu: op.epilogue.relu,
            out: Shared {
                out: out.as_mut_ptr(),
            },
            out_layout: *op.out_layout,
        };
        let block_tiles = self.block_tiles();
        let run = |p: usize| {
            let (range, groups) = work_parts[p].clone();
            for_each_block(range, block_tiles, |block| {
                // SAFETY: the buffers were checked against the plan above; threads get
                // disjoint tile ranges or disjoint output groups, so they write disjoint
                // output elements.
                unsafe {
                    let (groups, c) = (groups.clone(), g.channels);
                    match (self.kernel, self.variant) {
                        (5, Variant::F2x2) => {
                            ctx.run_block::<Forward<F2R5>, 6, 2>(block, groups, c)
                        }
                        (5, Variant::F4x4) => {
                            ctx.run_block::<Forward<F4R5>, 8, 4>(block, groups, c)
                        }
                        (_, Variant::F2x2) => ctx.run_block::<Forward<F2>, 4, 2>(block, groups, c),
                        (_, Variant::F4x4) => ctx.run_block::<Forward<F4>, 6, 4>(block, groups, c),
                    }
                }
            });
        };
        parallel::for_each_part(work_parts.len(), run);
        Ok(())
    }
}

impl WinogradConv {
    /// The threads worth using on `tiles` tiles, up to `threads`: one per
    /// `MIN_WORK_PER_THREAD` multiply-adds of the matrix products, at least one.
    pub(super) fn parts(&self, tiles: usize, threads: usize) -> usize {
        let work = tiles
            * self.positions()
            * self.ic_blocks
            * self.out_groups()
            * (self.nv * BLOCK * BLOCK);
        threads.min(work / MIN_WORK_PER_THREAD).max(1)
    }

    /// Tiles per block: the transformed inputs and one output group's products in L2; but
    /// when the transformed weights are too large to stay in the last-level cache, enough
    /// tiles that streaming them once per block costs less than the block's products.
    pub(super) fn block_tiles(&self) -> usize {
        let per_tile =
            self.positions() * BLOCK * (self.ic_blocks + self.nv) * std::mem::size_of::<f32>();
        let mut block_tiles = (BLOCK_BYTES / per_tile).max(1);
        if self.packed_len() * std::mem::size_of::<f32>() > CACHED_WEIGHT_BYTES {
            block_tiles = block_tiles.max(STREAMED_WEIGHT_TILES);
        }
        block_tiles
    }
}

/// Runs `f` on consecutive blocks of `range`, as many as blocks of `block_tiles` tiles need,
/// of lengths as equal as they split into.
pub(super) fn for_each_block(
    range: Range<usize>,
    block_tiles: usize,
    mut f: impl FnMut(Range<usize>),
) {
    let blocks = range.len().div_ceil(block_tiles);
    let mut start = range.start;
    for b in 0..blocks {
        let len = (range.end - start).div_ceil(blocks - b);
        f(start..start + len);
        start += len;
    }
}

/// `lines` cache lines of floats, rounded up to an odd number of lines.
pub(super) fn odd_lines(lines: usize) -> usize {
    (lines | 1) * BLOCK
}

thread_local! {
    /// Per-thread scratch: the transformed inputs and the products of one block of tiles.
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

impl Ctx {
    /// Image, tile row and tile column of tile `t`.
    pub(super) fn tile_pos(&self, t: usize) -> (usize, usize, usize) {
        let [th, tw] = self.tiles;
        (t / (th * tw), (t / tw) % th, t % tw)
    }

    /// Computes the output channel groups `groups` of the tiles `tiles` (for `F(M×M, r×r)`,
    /// `A = M + r − 1`, per-tile steps `S`), with the matrix products over the first `channels`
    /// input channels only (the true count: the rest of the last block is padding).
    ///
    /// # Safety
    /// The context's buffers were checked against the plan, `groups` are output groups,
    /// `channels <= 16·ic_blocks`; no other thread writes these groups of these tiles.
    pub(super) unsafe fn run_block<S: TileSteps<A, M>, const A: usize, const M: usize>(
        &self,
        tiles: Range<usize>,
        groups: Range<usize>,
        channels: usize,
    ) {
        // SAFETY: the caller's; the transforms get the buffers `products` documents for them.
        unsafe {
            self.products::<A>(
                tiles.len(),
                groups,
                channels,
                |v, strides| self.input_block::<S, A, M>(tiles.clone(), v, strides),
                |og, m, m_xi| self.output_block::<S, A, M>(tiles.clone(), og, m, m_xi),
            );
        }
    }

    /// The steps of [`Ctx::run_block`] for a block of `nt` tiles and `α = A`: `input` writes
    /// the transformed inputs (`V[ξ][icb][k][16]` at `ξ·v_xi + icb·v_block + k·16`, given a
    /// pointer and `[v_xi, v_block]`), then, per output group `og`, the matrix products over
    /// the first `channels` input channels into `M[ξ][v][k][16]` (at `ξ·m_xi + (v·nt + k)·16`)
    /// and `output(og, m, m_xi)` transforms them.
    ///
    /// # Safety
    /// As [`Ctx::run_block`]; `input` writes every element it is given (for `ic_blocks`
    /// blocks), `output` reads only `nv` blocks of `nt` tiles at each position.
    pub(super) unsafe fn products<const A: usize>(
        &self,
        nt: usize,
        groups: Range<usize>,
        channels: usize,
        input: impl FnOnce(*mut f32, [usize; 2]),
        mut output: impl FnMut(usize, *const f32, usize),
    ) {
        let t = A * A;
        let nv = self.nv;
        // Floats per transform position: an odd number of cache lines, so that the α² vectors
        // one tile reads or writes (one per position) fall into different L1 sets.
        let (v_xi, m_xi) = (odd_lines(self.ic_blocks * nt), odd_lines(nv * nt));
        let (v_len, m_len) = (t * v_xi, t * m_xi);
        let mut scratch = SCRATCH.take();
        // 64-byte aligned vectors: one cache line each.
        if scratch.len() < v_len + m_len + BLOCK {
            scratch.resize(v_len + m_len + BLOCK, 0.0);
        }
        let off = scratch.as_ptr().align_offset(64).min(BLOCK);
        let (v, m) = scratch[off..].split_at_mut(v_len);
        let (v, m) = (v.as_mut_ptr(), m.as_mut_ptr());
        let tap = [Tap {
            input: 0,
            weight: 0,
        }];
        let chunks = nt.div_ceil(max_tile_pixels(self.isa));
        let w_block = BLOCK * nv * BLOCK;
        // SAFETY: `v` and `m` hold `v_len` and `m_len` floats, laid out as `input_block` and
        // `output_block` document; the tile jobs read blocks `c0..` of `V[ξ]` (`ic_blocks`
        // blocks of `nt` tiles) and the packed weights of group `og` at position `ξ` (checked
        // length), and read (as the residual, after the first run of blocks) and write `M[ξ]`
        // (`nv` blocks of `nt` tiles), each element read before it is written.
        unsafe {
            input(v, [v_xi, nt * BLOCK]);
            for og in groups {
                for xi in 0..t {
                    let mut r0 = 0;
                    for ch in 0..chunks {
                        let rows = (nt - r0).div_ceil(chunks - ch);
                        let out = m.add(xi * m_xi + r0 * BLOCK);
                        // Blocked summation: each run of `SUM_BLOCKS` input blocks starts from
                        // zero in registers and is added to the sum so far as it is stored
                        // (through the residual), not chained onto it. A partial last block
                        // (`tail` channels) runs on its own, added the same way.
                        for c0 in (0..self.ic_blocks).step_by(SUM_BLOCKS) {
                            let n = SUM_BLOCKS.min(self.ic_blocks - c0);
                            let last = (c0 + n) * BLOCK;
                            let tail = if last > channels {
                                BLOCK - (last - channels)
                            } else {
                                BLOCK
                            };
                            let full = if tail < BLOCK { n - 1 } else { n };
                            let parts = [(c0, full, BLOCK), (c0 + full, n - full, tail)];
                            for (b0, blocks, ch) in parts {
                                if blocks == 0 || ch == 0 {
                                    continue;
                                }
                                let job = TileJob {
                                    inp: v.add(xi * v_xi + (b0 * nt + r0) * BLOCK),
                                    in_block: nt * BLOCK,
                                    in_ic: 1,
                                    pixel_step: BLOCK,
                                    channels: ch,
                                    blocks,
                                    w: self
                                        .packed
                                        .add((og * t + xi) * self.w_position + b0 * w_block),
                                    w_block,
                                    out,
                                    out_block: nt * BLOCK,
                                    nv_store: nv,
                                    rows,
                                    bias: std::ptr::null(),
                                    residual: if b0 == 0 { std::ptr::null() } else { out },
                                    res_block: nt * BLOCK,
                                    accumulate: false,
                                    relu: false,
                                };
                                run_tile(self.isa, nv, &job, &tap);
                            }
                        }
                        r0 += rows;
                    }
                }
                output(og, m, m_xi);
            }
        }
        SCRATCH.set(scratch);
    }

    /// The input transform of `tiles` into `v`: `V[ξ][icb][k][16]` for position `ξ`, channel
    /// block `icb` and the `k`-th tile of the range, at `ξ·v_xi + icb·v_block + k·16`, where
    /// `[v_xi, v_block] = strides` (the forward pass: `v_block = nt·16`).
    ///
    /// # Safety
    /// As [`Ctx::run_block`]; `v` holds every position, block and tile at those offsets.
    pub(super) unsafe fn input_block<S: TileSteps<A, M>, const A: usize, const M: usize>(
        &self,
        tiles: Range<usize>,
        v: *mut f32,
        strides: [usize; 2],
    ) {
        let kernel = InputTiles::<S, A, M> {
            c: self,
            tiles,
            v,
            strides,
            steps: PhantomData,
        };
        // SAFETY: forwarded; the context's instruction set is available (checked by the entry).
        unsafe { run_kernel(self.isa, &kernel) }
    }

    /// The output transform of the products `m` of output group `og` for `tiles`, with the
    /// epilogue, into the output. `m` is `M[ξ][v][k][16]` at `ξ·m_xi + (v·nt + k)·16`.
    ///
    /// # Safety
    /// As [`Ctx::run_block`]; `m` holds `α²` positions of `m_xi >= nv·nt·16` floats.
    pub(super) unsafe fn output_block<S: TileSteps<A, M>, const A: usize, const M: usize>(
        &self,
        tiles: Range<usize>,
        og: usize,
        m: *const f32,
        m_xi: usize,
    ) {
        let kernel = OutputTiles::<S, A, M> {
            c: self,
            tiles,
            og,
            m,
            m_xi,
            steps: PhantomData,
        };
        // SAFETY: forwarded; the context's instruction set is available (checked by the entry).
        unsafe { run_kernel(self.isa, &kernel) }
    }
}
