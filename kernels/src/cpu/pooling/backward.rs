//! The gradient of pooling ([`pool_backward`]): 2×2 max windows branch-free (AVX2 or
//! portable), overlapping max windows in one pass ([`super::overlap`]), and the general loop.

use super::{Plan, in_plane_groups};
use super::{PoolElement, PoolError, PoolGeom, PoolType, Window, divisor};
use crate::cpu::isa::Isa;

/// The gradient of [`super::pool_forward`]: given the head gradient `g` and the forward's input `x`
/// and output `y` (all as in the forward), overwrites `dx` (like `x`). For max, each output's
/// gradient goes to the first window element equal to the output (nowhere if none is, as for
/// an empty window); `x` and `y` are not read for avg and sum.
///
/// # Errors
/// [`PoolError`] for a zero kernel or stride, or buffers of the wrong length.
pub fn pool_backward<T: PoolElement>(
    geom: &PoolGeom,
    kind: PoolType,
    g: &[T],
    x: &[T],
    y: &[T],
    dx: &mut [T],
) -> Result<(), PoolError> {
    pool_backward_with(Isa::current(), geom, kind, g, x, y, dx)
}

/// [`pool_backward`] with the vector code of `isa` (capped at what the CPU has), for tests and
/// benchmarks that compare instruction sets; the results are the same on every one.
///
/// # Errors
/// As [`pool_backward`].
pub fn pool_backward_with<T: PoolElement>(
    isa: Isa,
    geom: &PoolGeom,
    kind: PoolType,
    g: &[T],
    x: &[T],
    y: &[T],
    dx: &mut [T],
) -> Result<(), PoolError> {
    let windows = geom.windows()?;
    geom.check("output gradient", g.len(), false)?;
    geom.check("input gradient", dx.len(), true)?;
    if kind == PoolType::Max {
        geom.check_forward(x.len(), y.len())?;
    }
    let Some(plan) = Plan::or_zero(geom, kind, windows, dx) else {
        return Ok(());
    };
    let ([wd, wh, ww], [_, ih, iw]) = (&plan.windows, geom.input);
    let (spatial, out_spatial) = (plan.spatial, plan.out_spatial);
    // The planes of one group: `first` is the group's first plane (for `x` and `y`).
    let planes = |first: usize, g: &[T], dx: &mut [T]| {
        let count = dx.len() / spatial;
        let (xg, yg) = if kind == PoolType::Max {
            (
                &x[first * spatial..(first + count) * spatial],
                &y[first * out_spatial..(first + count) * out_spatial],
            )
        } else {
            (&[][..], &[][..])
        };
        if let Some(t) = plan.tiles.filter(|t| (t.kh, t.kw) == (2, 2)) {
            // Writes every element of `dx`.
            t.max_backward_2x2(isa, ih, iw, xg, yg, g, dx);
            return;
        }
        if let Some(o) = plan.overlap {
            // Writes every element of `dx`.
            o.backward(isa, ww, g, xg, yg, dx);
            return;
        }
        dx.fill(T::ZERO);
        for (p, (gp, dxp)) in g
            .chunks_exact(out_spatial)
            .zip(dx.chunks_exact_mut(spatial))
            .enumerate()
        {
            let (xp, yp) = if kind == PoolType::Max {
                (
                    &xg[p * spatial..(p + 1) * spatial],
                    &yg[p * out_spatial..(p + 1) * out_spatial],
                )
            } else {
                (&[][..], &[][..])
            };
            match plan.tiles {
                Some(t) => t.max_backward(iw, gp, xp, yp, dxp),
                None => backward_plane(kind, wd, wh, ww, ih, iw, gp, xp, yp, dxp),
            }
        }
    };
    in_plane_groups(dx, spatial, spatial, |first, dx| {
        let g = &g[first * out_spatial..(first + dx.len() / spatial) * out_spatial];
        planes(first, g, dx);
    });
    Ok(())
}

/// The portable 2×2 max-pool gradient of `bands` window rows (as
/// [`PoolElement::max_backward_2x2`]): band `b` is the input rows `2b` and `2b + 1` of `x` and
/// `dx` (`iw` wide) and the outputs `b·ow .. (b + 1)·ow` of `y` and `g`.
pub(super) fn max_backward_2x2_bands<T: PoolElement>(
    bands: usize,
    iw: usize,
    ow: usize,
    x: &[T],
    y: &[T],
    g: &[T],
    dx: &mut [T],
) {
    let rows = dx.chunks_exact_mut(2 * iw).zip(x.chunks_exact(2 * iw));
    let outs = y.chunks_exact(ow).zip(g.chunks_exact(ow));
    for ((d, x), (y, g)) in rows.zip(outs).take(bands) {
        let (d0, d1) = d.split_at_mut(iw);
        let (x0, x1) = x.split_at(iw);
        max_backward_2x2_row(0, ow, x0, x1, y, g, d0, d1);
    }
}

/// The 2×2 max-pool gradient of windows `from..ow` of one band: window `i` reads `x0[2i..2i+2]`
/// and `x1[2i..2i+2]` (the two input rows), its output `y[i]` and head gradient `g[i]`, and
/// writes `d0[2i..2i+2]`, `d1[2i..2i+2]`: `g[i]` at the first of `x0[2i], x0[2i+1], x1[2i],
/// x1[2i+1]` equal to `y[i]`, zero at the others. Then zeroes the columns `2·ow..` of `d0` and
/// `d1`, which no window covers. Branch-free selects (no search).
#[allow(
    clippy::too_many_arguments,
    reason = "the window range and the six rows of one band"
)]
pub(super) fn max_backward_2x2_row<T: PoolElement>(
    from: usize,
    ow: usize,
    x0: &[T],
    x1: &[T],
    y: &[T],
    g: &[T],
    d0: &mut [T],
    d1: &mut [T],
) {
    let (lo, hi) = (2 * from, 2 * ow);
    let windows = d0[lo..hi]
        .chunks_exact_mut(2)
        .zip(d1[lo..hi].chunks_exact_mut(2))
        .zip(x0[lo..hi].chunks_exact(2).zip(x1[lo..hi].chunks_exact(2)));
    for ((((d0, d1), (a, b)), &g), &t) in windows.zip(&g[from..ow]).zip(&y[from..ow]) {
        // Non-short-circuit `&`: no branches.
        let e0 = a[0] == t;
        let e1 = !e0 & (a[1] == t);
        let e2 = !(e0 | e1) & (b[0] == t);
        let e3 = !(e0 | e1 | e2) & (b[1] == t);
        let at = |hit: bool| if hit { g } else { T::ZERO };
        d0[0] = at(e0);
        d0[1] = at(e1);
        d1[0] = at(e2);
        d1[1] = at(e3);
    }
    d0[hi..].fill(T::ZERO);
    d1[hi..].fill(T::ZERO);
}

/// One plane of [`pool_backward`]: `xp` and `yp` are the plane's input and output (read for
/// max only).
#[allow(
    clippy::too_many_arguments,
    reason = "the windows, sizes and buffers of one plane"
)]
pub(super) fn backward_plane<T: PoolElement>(
    kind: PoolType,
    wd: &[Window],
    wh: &[Window],
    ww: &[Window],
    ih: usize,
    iw: usize,
    gp: &[T],
    xp: &[T],
    yp: &[T],
    dxp: &mut [T],
) {
    {
        let mut index = 0;
        for a in wd {
            for b in wh {
                for c in ww {
                    let o = index;
                    index += 1;
                    let grad = gp[o];
                    match kind {
                        PoolType::Max => {
                            let plane = xp;
                            let target = yp[o];
                            'scan: for d in a.lo..a.hi {
                                for h in b.lo..b.hi {
                                    let base = (d * ih + h) * iw;
                                    if let Some(w) = plane[base + c.lo..base + c.hi]
                                        .iter()
                                        .position(|&v| v == target)
                                    {
                                        dxp[base + c.lo + w] += grad;
                                        break 'scan;
                                    }
                                }
                            }
                        }
                        PoolType::Sum | PoolType::Avg { .. } => {
                            let share = match kind {
                                PoolType::Avg { count_include_pad } => {
                                    let count = divisor(a, b, c, count_include_pad);
                                    if count == 0 {
                                        continue;
                                    }
                                    grad / T::from_usize(count)
                                }
                                _ => grad,
                            };
                            for d in a.lo..a.hi {
                                for h in b.lo..b.hi {
                                    let base = (d * ih + h) * iw;
                                    for v in &mut dxp[base + c.lo..base + c.hi] {
                                        *v += share;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
