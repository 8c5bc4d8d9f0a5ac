//! Batch normalisation forward and backward.
//!
//! The data is viewed as `(outer, channels, inner)` around the channel axis (an
//! [`Axis`] whose `len` is the channel count); per-channel vectors have
//! `channels` elements. Statistics are accumulated in `f64`. Every function overwrites its
//! outputs; slices shorter than the view describes make the loops stop early rather than panic.
//!
//! ```
//! use mxr_kernels::cpu::batch_norm::{batch_stats, normalize};
//! use mxr_kernels::cpu::softmax::Axis;
//! // Two samples, one channel, two positions.
//! let x = [1.0f32, 3.0, 5.0, 7.0];
//! let ax = Axis::new(2, 1, 2);
//! let (mut mean, mut var) = ([0.0f32], [0.0f32]);
//! batch_stats(&x, ax, &mut mean, &mut var);
//! assert_eq!((mean[0], var[0]), (4.0, 5.0));
//! let mut y = [0.0f32; 4];
//! normalize(&x, &mut y, ax, &mean, &[0.5], Some(&[2.0]), &[1.0]);
//! assert_eq!(y, [-2.0, 0.0, 2.0, 4.0]);
//! ```

use super::softmax::{Axis, Real};

/// Σ f(x) over `xs` in `f64`, with eight independent accumulators so the loop pipelines
/// (and vectorises) instead of forming one serial chain of additions.
fn lane_sum<T: Real>(xs: &[T], f: impl Fn(T) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    acc.iter().sum::<f64>() + rest.iter().map(|&v| f(v)).sum::<f64>()
}

/// `(Σ g, Σ g·(x − m))` over paired slices, in `f64`, eight accumulators each.
fn grad_sums<T: Real>(g: &[T], x: &[T], m: f64) -> (f64, f64) {
    let mut sg = [0.0f64; 8];
    let mut sgx = [0.0f64; 8];
    let (gc, xc) = (g.chunks_exact(8), x.chunks_exact(8));
    let (gr, xr) = (gc.remainder(), xc.remainder());
    for (gs, xs) in gc.zip(xc) {
        for (((a, b), &gv), &xv) in sg.iter_mut().zip(sgx.iter_mut()).zip(gs).zip(xs) {
            let gv = gv.to_f64();
            *a += gv;
            *b += gv * (xv.to_f64() - m);
        }
    }
    let mut total = (sg.iter().sum::<f64>(), sgx.iter().sum::<f64>());
    for (&gv, &xv) in gr.iter().zip(xr) {
        let gv = gv.to_f64();
        total.0 += gv;
        total.1 += gv * (xv.to_f64() - m);
    }
    total
}

/// Per-channel batch mean and **biased** variance (`Σ(x − μ)² / M`, M = `outer * inner`).
pub fn batch_stats<T: Real>(x: &[T], ax: Axis, mean: &mut [T], var: &mut [T]) {
    let count = (ax.outer * ax.inner) as f64;
    let block = ax.len * ax.inner;
    let mut sums = vec![0.0f64; ax.len];
    let mut sq = vec![0.0f64; ax.len];
    if block > 0 {
        for xb in x.chunks_exact(block) {
            for (s, row) in sums.iter_mut().zip(xb.chunks_exact(ax.inner)) {
                *s += lane_sum(row, |v| v.to_f64());
            }
        }
    }
    let mu: Vec<f64> = sums
        .iter()
        .map(|s| if count > 0.0 { s / count } else { 0.0 })
        .collect();
    if block > 0 {
        for xb in x.chunks_exact(block) {
            for ((s, &m), row) in sq.iter_mut().zip(&mu).zip(xb.chunks_exact(ax.inner)) {
                *s += lane_sum(row, |v| {
                    let d = v.to_f64() - m;
                    d * d
                });
            }
        }
    }
    for (((out_m, out_v), &m), &s) in mean.iter_mut().zip(var.iter_mut()).zip(&mu).zip(&sq) {
        *out_m = T::from_f64(m);
        *out_v = T::from_f64(if count > 0.0 { s / count } else { 0.0 });
    }
}

/// `invstd = 1 / √(var + eps)`, per channel.
pub fn inverse_std<T: Real>(var: &[T], eps: f64, invstd: &mut [T]) {
    for (i, &v) in invstd.iter_mut().zip(var) {
        *i = T::from_f64(1.0 / (v.to_f64() + eps).sqrt());
    }
}

/// `y = (x − mean) · invstd · gamma + beta` per channel; `gamma = None` is all ones
/// (`fix_gamma`).
pub fn normalize<T: Real>(
    x: &[T],
    y: &mut [T],
    ax: Axis,
    mean: &[T],
    invstd: &[T],
    gamma: Option<&[T]>,
    beta: &[T],
) {
    let block = ax.len * ax.inner;
    if block == 0 {
        return;
    }
    let scale: Vec<T> = match gamma {
        Some(g) => invstd.iter().zip(g).map(|(&i, &g)| i * g).collect(),
        None => invstd.to_vec(),
    };
    for (xb, yb) in x.chunks_exact(block).zip(y.chunks_exact_mut(block)) {
        for ((((xr, yr), &m), &a), &b) in xb
            .chunks_exact(ax.inner)
            .zip(yb.chunks_exact_mut(ax.inner))
            .zip(mean)
            .zip(&scale)
            .zip(beta)
        {
            for (yv, &xv) in yr.iter_mut().zip(xr) {
                *yv = (xv - m) * a + b;
            }
        }
    }
}

/// `moving = moving · momentum + batch · (1 − momentum)`, element-wise.
pub fn update_moving<T: Real>(moving: &mut [T], batch: &[T], momentum: f64) {
    let keep = T::from_f64(momentum);
    let take = T::from_f64(1.0 - momentum);
    for (m, &b) in moving.iter_mut().zip(batch) {
        *m = *m * keep + b * take;
    }
}

/// The inputs of [`backward`].
#[derive(Debug, Clone, Copy)]
pub struct BackwardInputs<'a, T> {
    /// The head gradient, shaped like the data.
    pub grad: &'a [T],
    /// The forward input.
    pub data: &'a [T],
    /// The mean the forward normalised with, per channel.
    pub mean: &'a [T],
    /// The inverse standard deviation the forward normalised with, per channel.
    pub invstd: &'a [T],
    /// The scale, per channel; `None` = ones (`fix_gamma`).
    pub gamma: Option<&'a [T]>,
}

/// The gradients of batch normalisation, per channel `c` over its M = `outer * inner` elements:
/// `dβ = Σ g`, `dγ = Σ g·(x − μ)·invstd`, and
/// - `batch_stats = true` (the statistics came from this batch):
///   `dx = (g − Σg/M − (x − μ)·invstd²·Σ(g·(x − μ))/M) · invstd · γ`;
/// - `false` (fixed statistics): `dx = g · γ · invstd`.
pub fn backward<T: Real>(
    inp: BackwardInputs<'_, T>,
    ax: Axis,
    batch_stats: bool,
    dx: &mut [T],
    dgamma: &mut [T],
    dbeta: &mut [T],
) {
    let block = ax.len * ax.inner;
    let count = (ax.outer * ax.inner) as f64;
    let mut sum_g = vec![0.0f64; ax.len];
    let mut sum_gx = vec![0.0f64; ax.len];
    if block > 0 {
        for (gb, xb) in inp
            .grad
            .chunks_exact(block)
            .zip(inp.data.chunks_exact(block))
        {
            for ((((gr, xr), &m), sg), sgx) in gb
                .chunks_exact(ax.inner)
                .zip(xb.chunks_exact(ax.inner))
                .zip(inp.mean)
                .zip(sum_g.iter_mut())
                .zip(sum_gx.iter_mut())
            {
                let (a, b) = grad_sums(gr, xr, m.to_f64());
                *sg += a;
                *sgx += b;
            }
        }
    }
    for ((((db, dg), &sg), &sgx), &is) in dbeta
        .iter_mut()
        .zip(dgamma.iter_mut())
        .zip(&sum_g)
        .zip(&sum_gx)
        .zip(inp.invstd)
    {
        *db = T::from_f64(sg);
        *dg = T::from_f64(sgx * is.to_f64());
    }
    if block == 0 {
        return;
    }
    // Per channel: dx = g·a + (x − μ)·b + c.
    let ones = vec![T::ONE; ax.len];
    let gamma = inp.gamma.unwrap_or(&ones);
    let coef: Vec<(T, T, T)> = (0..ax.len)
        .map(|c| {
            let is = inp.invstd.get(c).map_or(0.0, |v| v.to_f64());
            let gm = gamma.get(c).map_or(1.0, |v| v.to_f64());
            let a = is * gm;
            if batch_stats && count > 0.0 {
                let mean_g = sum_g[c] / count;
                let mean_gx = sum_gx[c] / count;
                let b = -is * is * mean_gx * a;
                (T::from_f64(a), T::from_f64(b), T::from_f64(-mean_g * a))
            } else {
                (T::from_f64(a), T::ZERO, T::ZERO)
            }
        })
        .collect();
    for ((gb, xb), db) in inp
        .grad
        .chunks_exact(block)
        .zip(inp.data.chunks_exact(block))
        .zip(dx.chunks_exact_mut(block))
    {
        for ((((gr, xr), dr), &m), &(a, b, c)) in gb
            .chunks_exact(ax.inner)
            .zip(xb.chunks_exact(ax.inner))
            .zip(db.chunks_exact_mut(ax.inner))
            .zip(inp.mean)
            .zip(&coef)
        {
            for ((d, &g), &x) in dr.iter_mut().zip(gr).zip(xr) {
                *d = g * a + (x - m) * b + c;
            }
        }
    }
}

#[cfg(test)]
mod tests;
