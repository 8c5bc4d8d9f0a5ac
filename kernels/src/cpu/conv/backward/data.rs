//! The data gradient of the blocked backward pass (see [`super`]'s module docs): the output
//! phases of a strided layer ([`Phase`]), each a stride-1 convolution of `dy` with the
//! flipped, transposed taps through [`DirectConv`] (or Winograd), scattered into `dx`.

use super::super::blocked::{BLOCK, Blocked};
use super::super::direct::{
    ConvOperands, DirectConv, Epilogue, InputLayout, InputStrides, aligned, pack_and_run,
};
use super::super::{ConvError, ConvGeom, check_len};
use super::weight::check_head_gradient;
use super::{DGRAD_SCRATCH, resize};
use crate::cpu::isa::Isa;

/// One output phase of the data gradient along one spatial dimension (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Phase {
    /// The first `dx` coordinate of the phase (`r`), and how many it has (`A`).
    pub(super) first: usize,
    pub(super) count: usize,
    /// The kernel taps that reach it, ascending.
    pub(super) taps: Vec<usize>,
    /// The stride-1 correlation: padding, dilation, and the first of its outputs that is kept.
    pub(super) pad: usize,
    pub(super) dilate: usize,
    pub(super) skip: usize,
}

/// The phases of one dimension: `size` inputs, `out` outputs, kernel `k`, stride `s`, padding
/// `p`, dilation `d`. Phases without inputs are left out; those without taps have none.
pub(super) fn phases(
    size: usize,
    out: usize,
    k: usize,
    s: usize,
    p: usize,
    d: usize,
) -> Vec<Phase> {
    let mut v = Vec::new();
    for r in 0..s.min(size) {
        let count = (size - r).div_ceil(s);
        let taps: Vec<usize> = (0..k)
            .filter(|&t| ((t * d) as isize - p as isize - r as isize).rem_euclid(s as isize) == 0)
            .collect();
        // Output `a` of the phase reads dy[a − t_j], t_j = (tap_j·d − p − r) / s.
        let t = |tap: usize| ((tap * d) as isize - p as isize - r as isize) / s as isize;
        let (pad, dilate, skip) = match (taps.first(), taps.last()) {
            (Some(&first), Some(&last)) => {
                let (t0, tl) = (t(first), t(last));
                let right = count as isize - out as isize - t0;
                let pad = tl.max(right).max(0);
                let dilate = if taps.len() > 1 {
                    (t(taps[1]) - t0) as usize
                } else {
                    1
                };
                (pad as usize, dilate, (pad - tl) as usize)
            }
            _ => (0, 1, 0),
        };
        v.push(Phase {
            first: r,
            count,
            taps,
            pad,
            dilate,
            skip,
        });
    }
    v
}

/// The horizontal halo the blocked head gradient needs for [`data_gradient`] of `geom`: none
/// where the transposed Winograd algorithm takes it ([`super::super::winograd::dgrad::plan`], which
/// reads only `dy`'s own pixels), else the largest padding of its phases.
///
/// # Errors
/// [`ConvError`] for an invalid geometry.
pub fn data_gradient_halo(geom: &ConvGeom) -> Result<usize, ConvError> {
    let out = geom.output()?;
    if super::super::winograd::dgrad::plan(geom).is_some() {
        return Ok(0);
    }
    Ok(phases(
        geom.input[2],
        out[2],
        geom.kernel[2],
        geom.stride[2],
        geom.pad[2],
        geom.dilate[2],
    )
    .iter()
    .map(|p| p.pad)
    .max()
    .unwrap_or(0))
}

/// The data gradient `dx` (NCHW, `N × C × H × W`, overwritten) of the convolution `geom` (2-D,
/// one group, any stride, padding and dilation) from its head gradient `dy` (blocked, with a
/// halo of at least [`data_gradient_halo`]) and weights `w` (`F × C × kh × kw`), by direct
/// convolutions of `dy` (one per output phase; see the module docs) with `isa` on up to
/// `threads` threads. The result does not depend on `threads`.
///
/// # Errors
/// [`ConvError`] for a geometry these kernels do not serve, or buffers or layouts that do not
/// match it.
#[allow(clippy::too_many_arguments, reason = "the gradient's operands")]
pub fn data_gradient(
    isa: Isa,
    geom: &ConvGeom,
    dy: &[f32],
    dy_layout: &Blocked,
    w: &[f32],
    dx: &mut [f32],
    threads: usize,
) -> Result<(), ConvError> {
    let s = check_head_gradient(geom, dy, dy_layout, data_gradient_halo(geom)?)?;
    let [_, oh, ow] = s.out;
    check_len("weight", w.len(), geom.weight_len())?;
    check_len("data gradient", dx.len(), geom.data_len())?;
    let [_, ih, iw] = geom.input;
    let (kh, kw) = (geom.kernel[1], geom.kernel[2]);
    let rows = phases(ih, oh, kh, geom.stride[1], geom.pad[1], geom.dilate[1]);
    let cols = phases(iw, ow, kw, geom.stride[2], geom.pad[2], geom.dilate[2]);
    let isa = if isa.is_available() { isa } else { Isa::Scalar };
    let strides = InputStrides::blocked(dy_layout);
    let (c, f) = (geom.channels, geom.filters);
    // The kernel taps of each phase that has some, flipped (the order its correlation reads
    // them in), and where its weights start in `flipped`.
    let mut orders: Vec<Vec<usize>> = Vec::new();
    for py in rows.iter().filter(|p| !p.taps.is_empty()) {
        for px in cols.iter().filter(|p| !p.taps.is_empty()) {
            let order = py.taps.iter().rev();
            orders.push(
                order
                    .flat_map(|&ky| px.taps.iter().rev().map(move |&kx| ky * kw + kx))
                    .collect(),
            );
        }
    }
    // The stride-1 correlation of `dy` with a phase's flipped taps.
    let phase_geom = |py: &Phase, px: &Phase| {
        ConvGeom::new_2d(
            geom.batch,
            f,
            c,
            1,
            [oh, ow],
            [py.taps.len(), px.taps.len()],
            [1, 1],
            [py.pad, px.pad],
            [py.dilate, px.dilate],
        )
    };
    // Stride 1 (one phase, every tap): the flipped correlation's output is `dx` itself, and
    // Winograd takes it where it pays (as in the forward pass), packing straight from `w`.
    if let ([py], [px]) = (&rows[..], &cols[..])
        && geom.stride == [1; 3]
        && py.skip == 0
        && px.skip == 0
        && py.taps.len() == kh
        && px.taps.len() == kw
    {
        // 5×5: the transposed Winograd algorithm, on the forward pass's tiles.
        if let Some(wino) = super::super::winograd::dgrad::plan(geom) {
            return DGRAD_SCRATCH.with_borrow_mut(|[_, packed, out]| {
                let packed = aligned(packed, wino.packed_len());
                wino.pack_with(isa, w, packed, threads)?;
                let layout = Blocked::new(geom.batch, c, ih, iw, 0);
                resize(out, layout.len());
                wino.run(isa, dy, dy_layout, packed, out, &layout, threads)?;
                super::super::blocked::from_blocked_with(isa, out, &layout, dx, threads);
                Ok(())
            });
        }
        let pg = phase_geom(py, px);
        if let Some(wino) =
            super::super::winograd::plan_nchw(&pg).filter(|p| p.output_size() == [ih, iw])
        {
            return DGRAD_SCRATCH.with_borrow_mut(|[_, packed, out]| {
                let packed = aligned(packed, wino.packed_len());
                wino.pack_flipped_with(isa, w, packed, threads)?;
                let layout = wino.output_layout(0);
                resize(out, layout.len());
                let ep = Epilogue::default();
                let op = ConvOperands::new(dy, &strides, packed, &ep, &layout);
                wino.forward_with(isa, &op, out, threads)?;
                super::super::blocked::from_blocked_with(isa, out, &layout, dx, threads);
                Ok(())
            });
        }
    }
    DGRAD_SCRATCH.with_borrow_mut(|[flipped, packed, out]| {
        // w'[c][f][a][b] = w[f][c][taps_y[jy−1−a]][taps_x[jx−1−b]], every phase in one pass.
        resize(flipped, c * f * orders.iter().map(Vec::len).sum::<usize>());
        flip_transpose(w, [f, c, kh * kw], &orders, flipped);
        let mut phase_weights = flipped.as_slice();
        for py in &rows {
            for px in &cols {
                if py.taps.is_empty() || px.taps.is_empty() {
                    scatter_zero(geom, py, px, dx);
                    continue;
                }
                let (jy, jx) = (py.taps.len(), px.taps.len());
                let pg = phase_geom(py, px);
                let (mine, rest) = phase_weights.split_at(c * f * jy * jx);
                phase_weights = rest;
                // Planned for `isa`'s tile (the AVX2 kernel packs one block per group).
                let plan =
                    DirectConv::new_for(&pg, InputLayout::Blocked, isa)?.ok_or_else(|| {
                        ConvError::Geometry(format!("data gradient: phase {pg:?} not served"))
                    })?;
                let layout = pack_and_run(
                    &plan,
                    isa,
                    dy,
                    &strides,
                    mine,
                    &Epilogue::default(),
                    [&mut *packed, &mut *out],
                    threads,
                )?;
                let whole = geom.stride[1] == 1
                    && geom.stride[2] == 1
                    && py.skip == 0
                    && px.skip == 0
                    && layout.h == ih
                    && layout.w == iw;
                if whole {
                    super::super::blocked::from_blocked_with(isa, out, &layout, dx, threads);
                } else {
                    scatter(geom, py, px, out, &layout, dx);
                }
            }
        }
        Ok(())
    })
}

/// The weights of the data-gradient phases, in one pass over `w` (`[f, c, taps]`): phase `p`
/// (of `orders`, its flipped taps) gets `c × f × orders[p].len()` floats of `dst`, after those
/// of the phases before it, with `dst_p[c][f][i] = w[f][c][orders[p][i]]`. The channels go in
/// blocks of 16 × 16, so that both sides are read and written a row at a time.
fn flip_transpose(w: &[f32], [f, c, taps]: [usize; 3], orders: &[Vec<usize>], dst: &mut [f32]) {
    let mut parts: Vec<&mut [f32]> = Vec::with_capacity(orders.len());
    let mut rest = dst;
    for order in orders {
        let (mine, tail) = rest.split_at_mut(c * f * order.len());
        parts.push(mine);
        rest = tail;
    }
    for f0 in (0..f).step_by(BLOCK) {
        for c0 in (0..c).step_by(BLOCK) {
            for fi in f0..(f0 + BLOCK).min(f) {
                for ci in c0..(c0 + BLOCK).min(c) {
                    let src = &w[(fi * c + ci) * taps..][..taps];
                    for (part, order) in parts.iter_mut().zip(orders) {
                        let j = order.len();
                        let out = &mut part[(ci * f + fi) * j..][..j];
                        for (d, &t) in out.iter_mut().zip(order) {
                            *d = src[t];
                        }
                    }
                }
            }
        }
    }
}

/// Writes the phase `(py, px)` of `dx` from the blocked output of its correlation.
fn scatter(geom: &ConvGeom, py: &Phase, px: &Phase, src: &[f32], layout: &Blocked, dx: &mut [f32]) {
    let [_, ih, iw] = geom.input;
    let [_, sy, sx] = geom.stride;
    for n in 0..geom.batch {
        for c in 0..geom.channels {
            let plane = &mut dx[(n * geom.channels + c) * ih * iw..][..ih * iw];
            for a in 0..py.count {
                let row = &mut plane[(py.first + a * sy) * iw..][..iw];
                let from = layout.offset(n, c, py.skip + a, px.skip);
                let srow = &src[from..from + (px.count - 1) * BLOCK + 1];
                for (d, v) in row[px.first..]
                    .iter_mut()
                    .step_by(sx)
                    .zip(srow.iter().step_by(BLOCK))
                {
                    *d = *v;
                }
            }
        }
    }
}

/// Zeroes the phase `(py, px)` of `dx` (no kernel tap reaches it).
fn scatter_zero(geom: &ConvGeom, py: &Phase, px: &Phase, dx: &mut [f32]) {
    let [_, ih, iw] = geom.input;
    let [_, sy, sx] = geom.stride;
    for plane in dx.chunks_exact_mut(ih * iw) {
        for a in 0..py.count {
            let row = &mut plane[(py.first + a * sy) * iw..][..iw];
            row[px.first..]
                .iter_mut()
                .step_by(sx)
                .for_each(|d| *d = 0.0);
        }
    }
}
