//! Packing the weights of a Winograd convolution: `U = G g Gᵀ` per channel pair (with a
//! per-output-channel scale folded in), of the weights as `Convolution` stores them, of their
//! flipped transpose (the data gradient) or of their transpose ([`Order`]), vectorised across
//! the output channels of a group and split across threads by output groups.

use super::super::blocked::BLOCK;
use super::super::direct::Shared;
use super::super::{ConvError, check_pack};
use super::{G2_F32, G4_F32, G25_F32, G45_F32, Variant, WinogradConv};
use crate::cpu::isa::Isa;
use crate::cpu::parallel;

impl WinogradConv {
    /// Transforms and packs `w` (`F × C × r × r`, as `Convolution` stores it) into `dst`
    /// ([`WinogradConv::packed_len`] floats): `U = G g Gᵀ` per channel pair, computed in `f64`
    /// and multiplied by `scale[f]` for output channel `f` when given (BatchNorm folding),
    /// rounded once. Padding channels are zero. One thread, the current instruction set
    /// ([`WinogradConv::pack_weights_with`]).
    ///
    /// # Errors
    /// [`ConvError::Length`] when `w`, `scale` or `dst` do not match the geometry.
    pub fn pack_weights(
        &self,
        w: &[f32],
        scale: Option<&[f32]>,
        dst: &mut [f32],
    ) -> Result<(), ConvError> {
        self.pack_weights_with(Isa::current(), w, scale, dst, 1)
    }

    /// [`WinogradConv::pack_weights`] with a chosen instruction set on up to `threads` threads
    /// (whole output channel groups each); the result is the same bits whatever the
    /// instruction set and the thread count. Training packs the weights at every call, so this
    /// is vectorised across the output channels of a group and allocates nothing.
    ///
    /// # Errors
    /// As [`WinogradConv::pack_weights`].
    pub fn pack_weights_with(
        &self,
        isa: Isa,
        w: &[f32],
        scale: Option<&[f32]>,
        dst: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        self.pack_with(isa, w, scale, Order::Plain, dst, threads)
    }

    /// Packs the weights of a data gradient's convolution straight from the forward pass's:
    /// this plan is the correlation of `dy` with `w` (`C × F × r × r` here, the forward
    /// convolution's `F' × C'` with `F' = ` this plan's input channels) flipped in both spatial
    /// axes with its two channel axes swapped, `w'[f][c][k] = w[c][f][r² − 1 − k]`; the same
    /// bits as [`WinogradConv::pack_weights_with`] of that `w'`, without making it.
    ///
    /// # Errors
    /// As [`WinogradConv::pack_weights`].
    pub fn pack_flipped_with(
        &self,
        isa: Isa,
        w: &[f32],
        dst: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        self.pack_with(isa, w, None, Order::Flipped, dst, threads)
    }

    /// [`WinogradConv::pack_weights_with`], of `w`, of its flipped transpose or of its
    /// transpose, as `order` says.
    pub(super) fn pack_with(
        &self,
        isa: Isa,
        w: &[f32],
        scale: Option<&[f32]>,
        order: Order,
        dst: &mut [f32],
        threads: usize,
    ) -> Result<(), ConvError> {
        let (c, f) = (self.geom.channels, self.geom.filters);
        let taps = self.kernel * self.kernel;
        check_pack(w, scale, dst, f * c * taps, self.packed_len(), f)?;
        let groups = self.out_groups();
        let per_group = self.packed_len() / groups.max(1);
        let parts = threads
            .min(groups)
            .min(f * c * self.positions() / MIN_PACK_WORK_PER_THREAD)
            .max(1);
        let ranges = parallel::split_range(groups, parts, 1);
        let stream = isa >= Isa::Avx512
            && Isa::Avx512.is_available()
            && self.packed_len() * 4 >= STREAM_MIN_BYTES
            && dst.as_ptr().align_offset(64) == 0;
        let job = PackJob {
            w,
            scale,
            order,
            c,
            f,
            lanes: self.nv * BLOCK,
            ic_blocks: self.ic_blocks,
            variant: self.variant,
            kernel: self.kernel,
            stream,
        };
        let dst = Shared {
            out: dst.as_mut_ptr(),
        };
        parallel::for_each_part(ranges.len(), |p| {
            for og in ranges[p].clone() {
                // SAFETY: `dst` holds `groups · per_group` floats (checked above) and the
                // threads get disjoint ranges of groups, so these slices do not overlap.
                let part = unsafe {
                    std::slice::from_raw_parts_mut(dst.get().add(og * per_group), per_group)
                };
                job.pack_group(isa, og, part);
            }
        });
        Ok(())
    }
}

/// Transformed weights per thread, at least (in products `U` computed): smaller packs run on
/// one thread.
const MIN_PACK_WORK_PER_THREAD: usize = 1 << 18;

/// How [`PackJob`] reads the weights `w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    /// `F × C × r × r`, as `Convolution` stores them.
    Plain,
    /// `C × F × r × r`: the weights are `w`'s flipped transpose (see
    /// [`WinogradConv::pack_flipped_with`]).
    Flipped,
    /// `C × F × r × r`: the weights are `w`'s transpose, `w'[f][c][k] = w[c][f][k]` (the
    /// transposed data gradient, [`dgrad`](super::dgrad)).
    Transposed,
}

/// The operands of [`WinogradConv::pack_weights_with`].
struct PackJob<'a> {
    w: &'a [f32],
    scale: Option<&'a [f32]>,
    /// How the weights are read from `w`.
    order: Order,
    c: usize,
    f: usize,
    /// Output channels per group (`nv · 16`).
    lanes: usize,
    ic_blocks: usize,
    variant: Variant,
    /// The kernel's side `r` (3 or 5).
    kernel: usize,
    /// Store with non-temporal (streaming) stores: AVX-512 is available, the packed weights
    /// are at least [`STREAM_MIN_BYTES`] and 64-byte aligned.
    stream: bool,
}

/// Packed weights from which the transform stores them with non-temporal stores. A larger
/// pack does not stay in the caches for the product that reads it anyway, and ordinary stores
/// first read every line they fill (ResNet-18's 512-channel layers: 38 MB written at 6 GB/s;
/// streamed, at the memory's write speed).
pub(super) const STREAM_MIN_BYTES: usize = 8 << 20;

/// The most output channels of one group.
const MAX_LANES: usize = 2 * BLOCK;

impl PackJob<'_> {
    /// Packs output group `og` into `dst` (its `positions · ic_blocks · 16 · lanes` floats), with
    /// the code vectorised for `isa` when this CPU has it.
    fn pack_group(&self, isa: Isa, og: usize, dst: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            if isa >= Isa::Avx512 && Isa::Avx512.is_available() {
                // SAFETY: AVX-512F is available (checked just above).
                unsafe { self.pack_group_avx512(og, dst) };
                if self.stream {
                    // SAFETY: SSE is part of x86-64. Orders the streaming stores before the
                    // fork-join's completion signal, so that the threads reading the packed
                    // weights next see them.
                    unsafe { std::arch::x86_64::_mm_sfence() };
                }
                return;
            }
            if isa >= Isa::Avx2 && Isa::Avx2.is_available() {
                // SAFETY: AVX2 is available (checked just above).
                return unsafe { self.pack_group_avx2(og, dst) };
            }
        }
        let _ = isa;
        self.pack_group_any(Isa::Scalar, og, dst);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn pack_group_avx512(&self, og: usize, dst: &mut [f32]) {
        self.pack_group_any(Isa::Avx512, og, dst);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn pack_group_avx2(&self, og: usize, dst: &mut [f32]) {
        self.pack_group_any(Isa::Avx2, og, dst);
    }

    #[inline(always)]
    fn pack_group_any(&self, isa: Isa, og: usize, dst: &mut [f32]) {
        const L2: usize = MAX_LANES;
        match (self.kernel, self.variant, self.lanes) {
            (5, Variant::F2x2, BLOCK) => self.pack::<6, 5, 25, BLOCK>(isa, &G25_F32, og, dst),
            (5, Variant::F2x2, _) => self.pack::<6, 5, 25, L2>(isa, &G25_F32, og, dst),
            (5, Variant::F4x4, BLOCK) => self.pack::<8, 5, 25, BLOCK>(isa, &G45_F32, og, dst),
            (5, Variant::F4x4, _) => self.pack::<8, 5, 25, L2>(isa, &G45_F32, og, dst),
            (_, Variant::F2x2, BLOCK) => self.pack::<4, 3, 9, BLOCK>(isa, &G2_F32, og, dst),
            (_, Variant::F2x2, _) => self.pack::<4, 3, 9, L2>(isa, &G2_F32, og, dst),
            (_, Variant::F4x4, BLOCK) => self.pack::<6, 3, 9, BLOCK>(isa, &G4_F32, og, dst),
            (_, Variant::F4x4, _) => self.pack::<6, 3, 9, L2>(isa, &G4_F32, og, dst),
        }
    }

    /// `U = G g Gᵀ · scale` for every input channel and the `L` output channels of group `og`,
    /// all lanes at once (lanes past `F` are zero); the same `f32` operations in the same order
    /// as a scalar loop (multiplications and additions, never fused), so the bits do not depend
    /// on the vector width. (In `f64` the transform took 9.6 ms for ResNet-18's 512-channel
    /// layers, five times what writing its 38 MB costs: spilled registers, half-width vectors.)
    /// `R` is the kernel's side, `KK = R²` its taps.
    #[inline(always)]
    fn pack<const A: usize, const R: usize, const KK: usize, const L: usize>(
        &self,
        isa: Isa,
        gm: &[[f32; R]; A],
        og: usize,
        dst: &mut [f32],
    ) {
        let c = self.c;
        let oc0 = og * L;
        let n = L.min(self.f - oc0);
        let scale: [f32; L] = std::array::from_fn(|j| match self.scale {
            _ if j >= n => 0.0,
            Some(s) => s[oc0 + j],
            None => 1.0,
        });
        let row = self.ic_blocks * BLOCK * L;
        // The group's weights of 16 input channels at a time, transposed so that one
        // (channel, tap) row holds the L output channels' values (zero past F): `taps[i][k][j]`
        // is tap k of input channel ic0 + i, output channel oc0 + j (flipped: tap KK − 1 − k).
        let mut taps = [[[0.0f32; L]; KK]; BLOCK];
        for ic0 in (0..c).step_by(BLOCK) {
            let cic = BLOCK.min(c - ic0);
            for h in 0..L / BLOCK {
                let rows = BLOCK.min(n.saturating_sub(h * BLOCK));
                if self.order != Order::Plain {
                    // Input channel ic's weights for output channels oc0 + 16h.. are `rows`
                    // rows of KK taps, one after the other (transposed 16 taps at a time).
                    for (i, t) in taps.iter_mut().enumerate().take(cic) {
                        for k0 in (0..KK).step_by(BLOCK) {
                            let cols = BLOCK.min(KK - k0);
                            let src = ((ic0 + i) * self.f + oc0 + h * BLOCK) * KK + k0;
                            // SAFETY: `isa` is available (the caller's dispatch); rows `r <
                            // rows` read `src + KK·r .. + cols`, taps `k0 .. k0 + cols <= KK`
                            // of output channel oc0 + 16h + r < F of input channel ic0 + i < C
                            // in `w` (`C × F × KK`), when there are rows; the tile writes
                            // `cols` rows of 16 floats of `t` from row k0, lane 16h.
                            unsafe {
                                crate::cpu::tile::transpose(
                                    isa,
                                    self.w.as_ptr().wrapping_add(src),
                                    KK,
                                    rows,
                                    cols,
                                    t.as_mut_ptr().cast::<f32>().add(k0 * L + h * BLOCK),
                                    L,
                                    cols,
                                );
                            }
                        }
                    }
                    continue;
                }
                let width = cic * KK;
                for cb in (0..width).step_by(BLOCK) {
                    let cols = BLOCK.min(width - cb);
                    let src = ((oc0 + h * BLOCK) * c + ic0) * KK + cb;
                    // SAFETY: `isa` is available (the caller's dispatch); rows `i < rows` read
                    // `src + i·KK·c .. + cols`, inside output channel oc0 + 16h + i < F's
                    // weights (`cb + cols <= KK·cic` floats from input channel ic0,
                    // `ic0 + cic <= C`), when there are rows at all; the tile writes
                    // `cols <= 16` rows of `taps` from `(cb)·L + 16h`, 16 floats each, inside
                    // its `16·KK·L` floats.
                    unsafe {
                        crate::cpu::tile::transpose(
                            isa,
                            self.w.as_ptr().wrapping_add(src),
                            KK * c,
                            rows,
                            cols,
                            taps.as_mut_ptr().cast::<f32>().add(cb * L + h * BLOCK),
                            L,
                            cols,
                        );
                    }
                }
            }
            for (i, t) in taps.iter().enumerate().take(cic) {
                let flip = self.order == Order::Flipped;
                let tap = |k: usize| if flip { KK - 1 - k } else { k };
                let g: [[f32; L]; KK] = std::array::from_fn(|k| t[tap(k)]);
                self.transform::<A, R, KK, L>(gm, &g, &scale, ic0 + i, dst);
            }
        }
        // The padding input channels of the last block.
        for xi in 0..A * A {
            let at = xi * row;
            dst[at + c * L..at + row].fill(0.0);
        }
    }

    /// `U = G g Gᵀ · scale` of input channel `ic` for the `L` lanes of `g` (`g[k][j]`: tap `k`
    /// of lane `j`), into `dst` at each transform position. The sums run left to right, each
    /// product rounded (never fused).
    #[inline(always)]
    fn transform<const A: usize, const R: usize, const KK: usize, const L: usize>(
        &self,
        gm: &[[f32; R]; A],
        g: &[[f32; L]; KK],
        scale: &[f32; L],
        ic: usize,
        dst: &mut [f32],
    ) {
        // Row p of G g (R values per lane), then row p of (G g) Gᵀ (α values per lane).
        for (p, grow) in gm.iter().enumerate() {
            let mut gg = [[0.0f32; L]; R];
            for (l, ggl) in gg.iter_mut().enumerate() {
                for j in 0..L {
                    let mut acc = grow[0] * g[l][j];
                    for k in 1..R {
                        acc += grow[k] * g[k * R + l][j];
                    }
                    ggl[j] = acc;
                }
            }
            for (q, gq) in gm.iter().enumerate() {
                let at = ((p * A + q) * self.ic_blocks * BLOCK + ic) * L;
                // The range is L floats long, so the conversion cannot fail.
                let out: &mut [f32; L] = (&mut dst[at..at + L])
                    .try_into()
                    .expect("a slice of L floats");
                let mut u = [0.0f32; L];
                for j in 0..L {
                    let mut acc = gg[0][j] * gq[0];
                    for k in 1..R {
                        acc += gg[k][j] * gq[k];
                    }
                    u[j] = acc * scale[j];
                }
                #[cfg(target_arch = "x86_64")]
                if self.stream {
                    for (d, v) in out.chunks_exact_mut(BLOCK).zip(u.chunks_exact(BLOCK)) {
                        // SAFETY: `stream` is set only with AVX-512F available and `dst`
                        // 64-byte aligned; `at` is a multiple of `L` (16 or 32 floats), so
                        // every 16-float chunk of `out` is 64-byte aligned and 16 floats long,
                        // as is `v`.
                        unsafe { stream16(d.as_mut_ptr(), v.as_ptr()) };
                    }
                    continue;
                }
                *out = u;
            }
        }
    }
}

/// Stores the 16 floats at `src` to `dst` with a non-temporal store.
///
/// # Safety
/// AVX-512F is available, `src` is readable and `dst` writable for 16 floats, and `dst` is
/// 64-byte aligned.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn stream16(dst: *mut f32, src: *const f32) {
    use std::arch::x86_64::{_mm512_loadu_ps, _mm512_stream_ps};
    // SAFETY: the caller's contract.
    unsafe { _mm512_stream_ps(dst, _mm512_loadu_ps(src)) };
}
