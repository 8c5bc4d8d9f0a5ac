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

use super::parallel;
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
    backward_with(
        inp,
        ax,
        batch_stats,
        dx,
        dgamma,
        dbeta,
        parallel::num_threads(),
    );
}

/// [`backward`] on up to `threads` threads (whole channels each; the same bits for every
/// count).
pub fn backward_with<T: Real>(
    inp: BackwardInputs<'_, T>,
    ax: Axis,
    batch_stats: bool,
    dx: &mut [T],
    dgamma: &mut [T],
    dbeta: &mut [T],
    threads: usize,
) {
    // Channels are independent: split them over the threads, each channel's sums in the
    // same order whatever the split.
    let work = ax.outer * ax.len * ax.inner;
    let parts = threads
        .min(ax.len)
        .min(work / MIN_BACKWARD_PER_THREAD)
        .max(1);
    let ranges = parallel::split_range(ax.len, parts, 1);
    let out = BackwardOutputs {
        dx: parallel::SharedMut::new(dx.as_mut_ptr()),
        dx_len: dx.len(),
        dgamma: parallel::SharedMut::new(dgamma.as_mut_ptr()),
        dbeta: parallel::SharedMut::new(dbeta.as_mut_ptr()),
    };
    assert!(
        dgamma.len() >= ax.len && dbeta.len() >= ax.len && dx.len() >= inp.grad.len(),
        "batch norm backward: outputs shorter than the channels and the gradient"
    );
    parallel::for_each_part(ranges.len(), |p| {
        for c in ranges[p].clone() {
            // SAFETY: every output element written for channel `c` (its rows of `dx`, its
            // `dgamma` and `dbeta`) belongs to `c` alone, and the parts get disjoint channels;
            // the lengths were checked above.
            unsafe { backward_channel(&inp, ax, batch_stats, c, &out) };
        }
    });
}

/// Work (elements) per thread, at least, in [`backward`].
const MIN_BACKWARD_PER_THREAD: usize = 1 << 15;

/// Where [`backward`] writes, shared by its threads (each writes its own channels).
struct BackwardOutputs<T> {
    dx: parallel::SharedMut<T>,
    dx_len: usize,
    dgamma: parallel::SharedMut<T>,
    dbeta: parallel::SharedMut<T>,
}

/// [`backward`] for channel `c`: its sums over the batch (image by image), `dγ`, `dβ`, and
/// its rows of `dx`.
///
/// # Safety
/// `out`'s pointers hold `dx_len >= outer · len · inner` and `len` elements, and no other
/// thread writes channel `c`'s elements meanwhile.
unsafe fn backward_channel<T: Real>(
    inp: &BackwardInputs<'_, T>,
    ax: Axis,
    batch_stats: bool,
    c: usize,
    out: &BackwardOutputs<T>,
) {
    let count = (ax.outer * ax.inner) as f64;
    let m = inp.mean[c];
    let row = |n: usize| (n * ax.len + c) * ax.inner..(n * ax.len + c + 1) * ax.inner;
    let (mut sg, mut sgx) = (0.0f64, 0.0f64);
    for n in 0..ax.outer {
        let (a, b) = grad_sums(&inp.grad[row(n)], &inp.data[row(n)], m.to_f64());
        sg += a;
        sgx += b;
    }
    let is = inp.invstd[c].to_f64();
    // SAFETY: element `c` of `dgamma` and `dbeta` (the caller's contract).
    unsafe {
        *out.dbeta.get().add(c) = T::from_f64(sg);
        *out.dgamma.get().add(c) = T::from_f64(sgx * is);
    }
    // dx = g·a + (x − μ)·b + c.
    let gm = inp.gamma.map_or(1.0, |g| g[c].to_f64());
    let a = is * gm;
    let (a, b, k) = if batch_stats && count > 0.0 {
        let (mean_g, mean_gx) = (sg / count, sgx / count);
        (
            T::from_f64(a),
            T::from_f64(-is * is * mean_gx * a),
            T::from_f64(-mean_g * a),
        )
    } else {
        (T::from_f64(a), T::ZERO, T::ZERO)
    };
    debug_assert!(ax.outer * ax.len * ax.inner <= out.dx_len);
    for n in 0..ax.outer {
        let r = row(n);
        // SAFETY: channel `c`'s row of image `n`, inside `dx` (the caller's contract).
        let dr = unsafe { std::slice::from_raw_parts_mut(out.dx.get().add(r.start), ax.inner) };
        for ((d, &g), &x) in dr.iter_mut().zip(&inp.grad[r.clone()]).zip(&inp.data[r]) {
            *d = g * a + (x - m) * b + k;
        }
    }
}

#[cfg(test)]
mod tests;
