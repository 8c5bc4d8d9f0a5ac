//! Max pooling with overlapping 3×3 windows at stride 2 and padding 1 (ResNet's stem
//! pooling), forward and backward, on whole planes.
//!
//! The forward is separable: each input row's column maxima (three columns at stride 2) go to
//! a scratch plane (`ih × ow`), then each output row is the maximum of its window's (up to
//! three) scratch rows. Both passes use the general path's select
//! `if v > m { v } else { m }` from the lowest value, so the result is the first element in window scan order equal to the
//! window's maximum — bit-identical to the general fold (NaN never wins; of `0.0` and `-0.0`
//! the first one does).
//!
//! The backward runs one window row at a time: the position of each window's first element
//! (row-major) equal to its output is found with branch-free selects (for the windows inside
//! the plane, all nine positions in registers in one pass), then the head gradients are added
//! to the window row's (up to) three rows of `dx` so that every element receives its windows'
//! gradients in output order, as in the general path: overlapping windows accumulate and the
//! sums are bit-identical. Padding is never a candidate.
//!
//! Both are written as plain loops and compiled twice: portable, and with AVX2 enabled (where
//! the compiler vectorises the stride-2 loops); the results are the same.

use super::{PoolElement, Window};
use crate::cpu::isa::Isa;

/// The windows of a 3×3 / stride 2 / pad 1 max pooling of 2-D planes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Overlap3 {
    ih: usize,
    iw: usize,
    oh: usize,
    ow: usize,
}

impl Overlap3 {
    /// The pooling, when its geometry is 3×3 windows at stride 2 with padding 1 on 2-D planes
    /// (`wd`, `wh`, `ww` are the windows of [`super::PoolGeom`]).
    pub(super) fn of(
        geom: &super::PoolGeom,
        wd: &[Window],
        wh: &[Window],
        ww: &[Window],
    ) -> Option<Overlap3> {
        let plain = geom.kernel == [1, 3, 3] && geom.stride == [1, 2, 2] && geom.pad == [0, 1, 1];
        let flat = wd.len() == 1 && wd[0].lo == 0 && wd[0].hi == 1;
        (plain && flat && !wh.is_empty() && !ww.is_empty()).then_some(Overlap3 {
            ih: geom.input[1],
            iw: geom.input[2],
            oh: wh.len(),
            ow: ww.len(),
        })
    }

    /// The outputs `1..end` along a dimension whose windows are whole (`[2o − 1, 2o + 2)`).
    fn whole_end(w: &[Window]) -> usize {
        let mut end = 1;
        while end < w.len() && w[end].hi == 2 * end + 2 {
            end += 1;
        }
        end.max(1)
    }

    /// Max pooling of the planes of `x` (`ih × iw` each) into `y` (`oh × ow` each), with
    /// `isa`'s vector code where it has some.
    pub(super) fn forward<T: PoolElement>(
        &self,
        isa: Isa,
        wh: &[Window],
        ww: &[Window],
        x: &[T],
        y: &mut [T],
    ) {
        #[cfg(target_arch = "x86_64")]
        if isa.min(Isa::detected()) >= Isa::Avx2 {
            // SAFETY: AVX2 is available (the CPU's instruction set includes it, checked just
            // above through `Isa::detected`).
            return unsafe { self.forward_avx2(wh, ww, x, y) };
        }
        let _ = isa;
        self.forward_body(wh, ww, x, y);
    }

    /// [`Overlap3::forward`] compiled with AVX2.
    ///
    /// # Safety
    /// AVX2 is available.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn forward_avx2<T: PoolElement>(
        &self,
        wh: &[Window],
        ww: &[Window],
        x: &[T],
        y: &mut [T],
    ) {
        self.forward_body(wh, ww, x, y);
    }

    #[inline(always)]
    fn forward_body<T: PoolElement>(&self, wh: &[Window], ww: &[Window], x: &[T], y: &mut [T]) {
        let (ih, iw, ow) = (self.ih, self.iw, self.ow);
        let pick = |m: T, v: T| if v > m { v } else { m };
        let end = Self::whole_end(ww);
        let mut cols = vec![T::LOWEST; ih * ow];
        for (plane, out) in x
            .chunks_exact(ih * iw)
            .zip(y.chunks_exact_mut(self.oh * ow))
        {
            // Column maxima of every row.
            for (row, c) in plane.chunks_exact(iw).zip(cols.chunks_exact_mut(ow)) {
                for o in std::iter::once(0).chain(end..ow) {
                    let w = ww[o];
                    c[o] = row[w.lo..w.hi].iter().fold(T::LOWEST, |m, &v| pick(m, v));
                }
                // Whole windows 1..end read row[2o − 1 ..= 2o + 1], inside the row (window
                // end − 1 is whole: 2·end <= iw), so `r` holds 2·(end − 1) + 1 elements.
                let inner = &mut c[1..end];
                let r = &row[1..(2 * end).min(iw).max(1)];
                assert!(inner.is_empty() || r.len() > 2 * inner.len());
                for (i, c) in inner.iter_mut().enumerate() {
                    let (a, b, d) = (r[2 * i], r[2 * i + 1], r[2 * i + 2]);
                    *c = pick(pick(pick(T::LOWEST, a), b), d);
                }
            }
            // Row maxima of the column maxima.
            for (orow, w) in out.chunks_exact_mut(ow).zip(wh) {
                orow.fill(T::LOWEST);
                for r in w.lo..w.hi {
                    let c = &cols[r * ow..][..ow];
                    for (o, &v) in orow.iter_mut().zip(c) {
                        *o = pick(*o, v);
                    }
                }
            }
        }
    }

    /// The gradient of [`Overlap3::forward`] on whole planes (`g`, `y` like the output, `x`,
    /// `dx` like the input), overwriting `dx`: each output's gradient added to the first
    /// element of its window equal to it, in output order; with `isa`'s vector code where it
    /// has some.
    pub(super) fn backward<T: PoolElement>(
        &self,
        isa: Isa,
        ww: &[Window],
        g: &[T],
        x: &[T],
        y: &[T],
        dx: &mut [T],
    ) {
        #[cfg(target_arch = "x86_64")]
        if isa.min(Isa::detected()) >= Isa::Avx2 {
            // SAFETY: AVX2 is available (the CPU's instruction set includes it, checked just
            // above through `Isa::detected`).
            return unsafe { self.backward_avx2(ww, g, x, y, dx) };
        }
        let _ = isa;
        self.backward_body(ww, g, x, y, dx);
    }

    /// [`Overlap3::backward`] compiled with AVX2.
    ///
    /// # Safety
    /// AVX2 is available.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn backward_avx2<T: PoolElement>(
        &self,
        ww: &[Window],
        g: &[T],
        x: &[T],
        y: &[T],
        dx: &mut [T],
    ) {
        self.backward_body(ww, g, x, y, dx);
    }

    /// The backward, one window row at a time: first the position (0..9 in scan order, 9 for
    /// none) of each window's first match, found by visiting the nine positions in reverse
    /// scan order for all windows of the row at once (stride-2 loops that vectorise); then
    /// the row's (up to) three rows of `dx` are updated, each element by its windows in output
    /// order (an odd column by window `ox` then `ox + 1`) — where the general path adds
    /// nothing this adds `+0.0`, which leaves the sums unchanged (they start at `+0.0`, so are
    /// never `-0.0`).
    #[inline(always)]
    fn backward_body<T: PoolElement>(
        &self,
        ww: &[Window],
        g: &[T],
        x: &[T],
        y: &[T],
        dx: &mut [T],
    ) {
        const NONE: u32 = 9;
        let (ih, iw, oh, ow) = (self.ih, self.iw, self.oh, self.ow);
        let endw = Self::whole_end(ww);
        dx.fill(T::ZERO);
        let mut first = vec![NONE; ow];
        let planes = x
            .chunks_exact(ih * iw)
            .zip(dx.chunks_exact_mut(ih * iw))
            .zip(y.chunks_exact(oh * ow).zip(g.chunks_exact(oh * ow)));
        for ((xp, dxp), (yp, gp)) in planes {
            for ((oy, t), grad) in yp.chunks_exact(ow).enumerate().zip(gp.chunks_exact(ow)) {
                // Input rows 2oy − 1 + kr that exist.
                let rows = (0..3usize).filter(|&kr| (1..=ih).contains(&(2 * oy + kr)));
                first.fill(NONE);
                // `p` where `v == t`, else `k`: a mask, not a branch (matches are data-dependent).
                let sel = |v: T, t: T, p: u32, k: u32| {
                    let hit = 0u32.wrapping_sub(u32::from(v == t));
                    (p & hit) | (k & !hit)
                };
                let whole = oy >= 1 && 2 * oy + 1 < ih;
                if whole {
                    // All three rows exist: the whole windows 1..endw in one pass, the nine
                    // positions in registers. Window ox = i + 1 reads columns 2i + 1 (`left`)
                    // and 2i + 2, 2i + 3 (`right`) of each row: inside it, as 2·endw <= iw.
                    let row = |kr: usize| &xp[(2 * oy + kr - 1) * iw..][..iw];
                    let (r0, r1, r2) = (row(0), row(1), row(2));
                    fn from<T>(r: &[T], at: usize) -> std::slice::ChunksExact<'_, T> {
                        r.get(at..).unwrap_or(&[]).chunks_exact(2)
                    }
                    let left = |r| from(r, 1);
                    let right = |r| from(r, 2);
                    let rows3 = (left(r0).zip(right(r0)))
                        .zip(left(r1).zip(right(r1)))
                        .zip(left(r2).zip(right(r2)));
                    let fi = first[1..endw].iter_mut().zip(&t[1..endw]);
                    for ((f, &t), (((a0, b0), (a1, b1)), (a2, b2))) in fi.zip(rows3) {
                        let mut k = sel(b2[1], t, 8, NONE);
                        k = sel(b2[0], t, 7, k);
                        k = sel(a2[0], t, 6, k);
                        k = sel(b1[1], t, 5, k);
                        k = sel(b1[0], t, 4, k);
                        k = sel(a1[0], t, 3, k);
                        k = sel(b0[1], t, 2, k);
                        k = sel(b0[0], t, 1, k);
                        *f = sel(a0[0], t, 0, k);
                    }
                }
                for kr in rows.clone().rev() {
                    let row = &xp[(2 * oy + kr - 1) * iw..][..iw];
                    for kc in (0..3).rev() {
                        let p = (3 * kr + kc) as u32;
                        // Whole windows 1..endw: column 2ox − 1 + kc is inside the row.
                        let r = row.get(kc..).unwrap_or(&[]);
                        let (fi, ti) = if whole {
                            (&mut first[..0], &t[..0])
                        } else {
                            (&mut first[1..endw], &t[1..endw])
                        };
                        assert!(r.len() >= 2 * ti.len());
                        for ((f, &t), pair) in fi.iter_mut().zip(ti).zip(r.chunks_exact(2)) {
                            *f = sel(pair[1], t, p, *f);
                        }
                        // Clipped windows: 0 and endw..ow.
                        for ox in std::iter::once(0).chain(endw..ow) {
                            let col = 2 * ox + kc;
                            if (1..=iw).contains(&col) && row[col - 1] == t[ox] {
                                first[ox] = p;
                            }
                        }
                    }
                }
                for kr in rows {
                    let d = &mut dxp[(2 * oy + kr - 1) * iw..][..iw];
                    let at = |f: u32, kc: u32, grad: T| {
                        if f == 3 * kr as u32 + kc {
                            grad
                        } else {
                            T::ZERO
                        }
                    };
                    // Window ox covers columns 2ox − 1 (shared with ox − 1), 2ox, 2ox + 1.
                    // Pairs (2ox, 2ox + 1) for the windows whose right column and right
                    // neighbour exist: ox + 1 < ow and 2ox + 1 < iw.
                    let pairs = (ow - 1).min(iw / 2);
                    for (ox, dd) in d.chunks_exact_mut(2).take(pairs).enumerate() {
                        let (f0, f1) = (first[ox], first[ox + 1]);
                        dd[0] += at(f0, 1, grad[ox]);
                        dd[1] = (dd[1] + at(f0, 2, grad[ox])) + at(f1, 0, grad[ox + 1]);
                    }
                    // The rest, element by element in output order (bounds checked).
                    for ox in pairs..ow {
                        for kc in 0..3 {
                            let col = 2 * ox + kc;
                            if (1..=iw).contains(&col) && (ox > pairs || kc > 0) {
                                d[col - 1] += at(first[ox], kc as u32, grad[ox]);
                            }
                        }
                    }
                }
            }
        }
    }
}
