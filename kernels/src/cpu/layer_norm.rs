//! Layer normalisation along one axis (MXNet 1.9.1's `LayerNorm`,
//! `src/operator/nn/layer_norm-inl.h`), and its backward.
//!
//! The data is viewed as `(outer, len, inner)` around the normalised axis ([`Axis`]); every
//! lane `(o, i)` of `len` elements is normalised on its own: `mean`, `std = √(var + eps)`
//! (the biased variance), `y = (x − mean)·γ/std + β` with `γ`, `β` of length `len`. The
//! statistics are two-pass (the mean first, then the squared deviations from it), summed in
//! eight interleaved partial sums, as MXNet's `omp simd` reductions do. `mean` and `std` hold
//! one value per lane, in `(o, i)` order. Lanes along the last axis (`inner == 1`) are
//! contiguous rows; other axes are gathered into rows first. Rows run in parallel in parts of
//! about [`PART_ELEMENTS`] elements, fixed by the sizes alone, so the results do not depend
//! on the thread count.
//!
//! ```
//! use mxr_kernels::cpu::layer_norm::forward;
//! use mxr_kernels::cpu::softmax::Axis;
//! let x = [1.0f32, 2.0, 3.0, 4.0];
//! let (mut y, mut mean, mut std) = ([0.0f32; 4], [0.0f32; 1], [0.0f32; 1]);
//! forward(&x, [&[1.0; 4], &[0.0; 4]], Axis::new(1, 4, 1), 0.0, [&mut y, &mut mean, &mut std])?;
//! assert_eq!(mean, [2.5]);
//! assert!((std[0] - 1.25f32.sqrt()).abs() < 1e-6);
//! assert!((y[3] - 1.5 / 1.25f32.sqrt()).abs() < 1e-6);
//! # Ok::<(), mxr_kernels::cpu::transpose::LayoutError>(())
//! ```

use parking_lot::Mutex;

use super::parallel;
use super::softmax::{Axis, Real};
use super::transpose::{LayoutError, check_len};

/// About how many elements one parallel part normalises.
pub const PART_ELEMENTS: usize = 1 << 14;

/// Interleaved partial sums (independent chains the compiler can vectorise).
const LANES: usize = 8;

/// `Σ f(v)` over `values`, in [`LANES`] interleaved partial sums added at the end.
fn lane_sum<T: Real>(values: &[T], f: impl Fn(T) -> T) -> T {
    let mut acc = [T::ZERO; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += f(v);
        }
    }
    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *a += f(v);
    }
    acc.iter().fold(T::ZERO, |s, &a| s + a)
}

/// One row's `(mean, std)`: two passes, `std = √(mean((x − mean)²) + eps)`.
fn row_stats<T: Real>(x: &[T], eps: T) -> (T, T) {
    let n = T::from_f64(x.len() as f64);
    let mean = lane_sum(x, |v| v) / n;
    let var = lane_sum(x, |v| (v - mean) * (v - mean)) / n;
    (mean, (var + eps).sqrt())
}

/// Rows per parallel part for rows of `len` elements.
fn rows_per_part(len: usize) -> usize {
    (PART_ELEMENTS / len.max(1)).max(1)
}

/// The checks every entry point shares: `whole` buffers of `ax.size()`, `lanes` of
/// `outer × inner`, `params` (γ, β and their gradients) of `len`.
fn check(
    ax: Axis,
    whole: &[(&'static str, usize)],
    lanes: &[(&'static str, usize)],
    params: &[(&'static str, usize)],
) -> Result<(), LayoutError> {
    for &(what, n) in whole {
        check_len(what, n, &[ax.outer, ax.len, ax.inner])?;
    }
    for &(what, n) in lanes {
        check_len(what, n, &[ax.outer, ax.inner])?;
    }
    for &(what, n) in params {
        check_len(what, n, &[ax.len])?;
    }
    Ok(())
}

/// `src` (`outer × len × inner`) as rows: `(outer × inner) × len`.
fn to_rows<T: Real>(src: &[T], ax: Axis) -> Vec<T> {
    let mut rows = vec![T::ZERO; src.len()];
    let block = ax.len * ax.inner;
    for (dst, blk) in rows.chunks_exact_mut(block).zip(src.chunks_exact(block)) {
        for (i, row) in dst.chunks_exact_mut(ax.len).enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = blk[j * ax.inner + i];
            }
        }
    }
    rows
}

/// The inverse of [`to_rows`]: rows written back into `dst` (`outer × len × inner`).
fn from_rows<T: Real>(rows: &[T], ax: Axis, dst: &mut [T]) {
    let block = ax.len * ax.inner;
    for (blk, src) in dst.chunks_exact_mut(block).zip(rows.chunks_exact(block)) {
        for (i, row) in src.chunks_exact(ax.len).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                blk[j * ax.inner + i] = v;
            }
        }
    }
}

/// The forward pass: `[y, mean, std]`, `y` of `x`'s shape, `mean` and `std` one per lane
/// (see the module docs).
///
/// # Errors
/// [`LayoutError::Length`] when a buffer does not fit `ax`.
pub fn forward<T: Real>(
    x: &[T],
    [gamma, beta]: [&[T]; 2],
    ax: Axis,
    eps: T,
    [y, mean, std]: [&mut [T]; 3],
) -> Result<(), LayoutError> {
    check(
        ax,
        &[("data", x.len()), ("out", y.len())],
        &[("mean", mean.len()), ("std", std.len())],
        &[("gamma", gamma.len()), ("beta", beta.len())],
    )?;
    if ax.inner == 1 || ax.size() == 0 {
        forward_rows(x, gamma, beta, ax.len, eps, y, (mean, std));
    } else {
        let mut rows = vec![T::ZERO; x.len()];
        forward_rows(
            &to_rows(x, ax),
            gamma,
            beta,
            ax.len,
            eps,
            &mut rows,
            (mean, std),
        );
        from_rows(&rows, ax, y);
    }
    Ok(())
}

/// [`forward`] on contiguous rows of `len`.
fn forward_rows<T: Real>(
    x: &[T],
    gamma: &[T],
    beta: &[T],
    len: usize,
    eps: T,
    y: &mut [T],
    (mean, std): (&mut [T], &mut [T]),
) {
    if len == 0 {
        // Empty rows: 0/0 statistics, as MXNet computes them.
        let (m, s) = row_stats(&[], eps);
        mean.fill(m);
        std.fill(s);
        return;
    }
    let per = rows_per_part(len);
    let parts = mean.len().div_ceil(per);
    let stats: Vec<Mutex<Vec<(T, T)>>> = (0..parts).map(|_| Mutex::new(Vec::new())).collect();
    parallel::for_each_chunk_mut(y, per * len, |p, yc| {
        let xc = &x[p * per * len..][..yc.len()];
        let part = xc
            .chunks_exact(len)
            .zip(yc.chunks_exact_mut(len))
            .map(|(xr, yr)| {
                let (m, s) = row_stats(xr, eps);
                for (((yv, &xv), &g), &b) in yr.iter_mut().zip(xr).zip(gamma).zip(beta) {
                    *yv = (xv - m) * g / s + b;
                }
                (m, s)
            })
            .collect();
        *stats[p].lock() = part;
    });
    let all = stats.into_iter().flat_map(Mutex::into_inner);
    for ((m, s), (mv, sv)) in mean.iter_mut().zip(std.iter_mut()).zip(all) {
        (*m, *s) = (mv, sv);
    }
}

/// The inputs of [`backward`]: the head gradient, the data, γ, and the forward's `mean` and
/// `std` per lane.
#[derive(Debug, Clone, Copy)]
pub struct BackwardInputs<'a, T> {
    /// The head gradient of the output (the data's shape).
    pub grad: &'a [T],
    /// The forward input.
    pub data: &'a [T],
    /// The scale γ (`len`).
    pub gamma: &'a [T],
    /// The mean per lane.
    pub mean: &'a [T],
    /// The standard deviation per lane (`√(var + eps)`).
    pub std: &'a [T],
}

/// The backward pass (MXNet's formulas): with `n̂ = (x − mean)/std` and `t = g·γ/std`,
/// `dx = t − mean(t) − n̂·mean(t·n̂)` along each lane, `dγ = Σ g·n̂` and `dβ = Σ g` over the
/// lanes.
///
/// # Errors
/// [`LayoutError::Length`] when a buffer does not fit `ax`.
pub fn backward<T: Real>(
    inp: BackwardInputs<'_, T>,
    ax: Axis,
    dx: &mut [T],
    dgamma: &mut [T],
    dbeta: &mut [T],
) -> Result<(), LayoutError> {
    check(
        ax,
        &[
            ("ograd", inp.grad.len()),
            ("data", inp.data.len()),
            ("data_grad", dx.len()),
        ],
        &[("mean", inp.mean.len()), ("std", inp.std.len())],
        &[
            ("gamma", inp.gamma.len()),
            ("gamma_grad", dgamma.len()),
            ("beta_grad", dbeta.len()),
        ],
    )?;
    dgamma.fill(T::ZERO);
    dbeta.fill(T::ZERO);
    if ax.size() == 0 {
        return Ok(());
    }
    if ax.inner == 1 {
        backward_rows(inp, ax.len, dx, (dgamma, dbeta));
    } else {
        let (g, x) = (to_rows(inp.grad, ax), to_rows(inp.data, ax));
        let rows = BackwardInputs {
            grad: &g,
            data: &x,
            ..inp
        };
        let mut dx_rows = vec![T::ZERO; dx.len()];
        backward_rows(rows, ax.len, &mut dx_rows, (dgamma, dbeta));
        from_rows(&dx_rows, ax, dx);
    }
    Ok(())
}

/// [`backward`] on contiguous rows of `len > 0`; `dgamma`, `dbeta` zeroed before.
fn backward_rows<T: Real>(
    inp: BackwardInputs<'_, T>,
    len: usize,
    dx: &mut [T],
    (dgamma, dbeta): (&mut [T], &mut [T]),
) {
    let per = rows_per_part(len);
    let parts = inp.mean.len().div_ceil(per);
    // Per part: Σ g·n̂ and Σ g over its rows (2 × len), added in part order below.
    let sums: Vec<Mutex<Vec<T>>> = (0..parts).map(|_| Mutex::new(Vec::new())).collect();
    let n = T::from_f64(len as f64);
    parallel::for_each_chunk_mut(dx, per * len, |p, dxc| {
        let at = p * per * len;
        let (g, x) = (&inp.grad[at..][..dxc.len()], &inp.data[at..][..dxc.len()]);
        let mut acc = vec![T::ZERO; 2 * len];
        let (dg, db) = acc.split_at_mut(len);
        for (r, dxr) in dxc.chunks_exact_mut(len).enumerate() {
            let (gr, xr) = (&g[r * len..][..len], &x[r * len..][..len]);
            // 1/std once per row: multiplications instead of divisions per element.
            let (m, inv) = (inp.mean[p * per + r], T::ONE / inp.std[p * per + r]);
            let (mut sum_t, mut sum_tn) = (T::ZERO, T::ZERO);
            for ((((&gv, &xv), &gam), dgv), dbv) in gr
                .iter()
                .zip(xr)
                .zip(inp.gamma)
                .zip(dg.iter_mut())
                .zip(db.iter_mut())
            {
                let nh = (xv - m) * inv;
                let t = gv * gam * inv;
                sum_t += t;
                sum_tn += t * nh;
                *dgv += gv * nh;
                *dbv += gv;
            }
            let (mean_t, mean_tn) = (sum_t / n, sum_tn / n);
            for (((d, &gv), &xv), &gam) in dxr.iter_mut().zip(gr).zip(xr).zip(inp.gamma) {
                let nh = (xv - m) * inv;
                *d = gv * gam * inv - mean_t - nh * mean_tn;
            }
        }
        *sums[p].lock() = acc;
    });
    for part in sums.into_iter().map(Mutex::into_inner) {
        let (dg, db) = part.split_at(len);
        for (a, &v) in dgamma.iter_mut().zip(dg) {
            *a += v;
        }
        for (a, &v) in dbeta.iter_mut().zip(db) {
            *a += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A float64 reference: lane by lane, straight from the definitions.
    fn reference(x: &[f64], gamma: &[f64], beta: &[f64], ax: Axis, eps: f64) -> Vec<f64> {
        let mut y = vec![0.0; x.len()];
        for o in 0..ax.outer {
            for i in 0..ax.inner {
                let at = |j: usize| (o * ax.len + j) * ax.inner + i;
                let n = ax.len as f64;
                let m = (0..ax.len).map(|j| x[at(j)]).sum::<f64>() / n;
                let v = (0..ax.len).map(|j| (x[at(j)] - m).powi(2)).sum::<f64>() / n;
                for j in 0..ax.len {
                    y[at(j)] = (x[at(j)] - m) / (v + eps).sqrt() * gamma[j] + beta[j];
                }
            }
        }
        y
    }

    #[test]
    fn matches_the_definition_on_rows_and_strided_lanes() {
        for ax in [
            Axis::new(3, 7, 1),
            Axis::new(2, 5, 3),
            Axis::new(1, 2500, 1),
        ] {
            let x: Vec<f64> = (0..ax.size())
                .map(|k| ((k * 37) % 101) as f64 * 0.1 + 1e3)
                .collect();
            let gamma: Vec<f64> = (0..ax.len).map(|j| 0.5 + j as f64 * 0.01).collect();
            let beta: Vec<f64> = (0..ax.len).map(|j| j as f64 * -0.02).collect();
            let lanes = ax.outer * ax.inner;
            let (mut y, mut m, mut s) = (vec![0.0; x.len()], vec![0.0; lanes], vec![0.0; lanes]);
            forward(&x, [&gamma, &beta], ax, 1e-5, [&mut y, &mut m, &mut s]).unwrap();
            let want = reference(&x, &gamma, &beta, ax, 1e-5);
            for (a, b) in y.iter().zip(&want) {
                assert!((a - b).abs() < 1e-9, "{ax:?}: {a} vs {b}");
            }
            // float32 stays accurate for a large offset (two passes).
            let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let (gf, bf): (Vec<f32>, Vec<f32>) = (
                gamma.iter().map(|&v| v as f32).collect(),
                beta.iter().map(|&v| v as f32).collect(),
            );
            let (mut yf, mut mf, mut sf) =
                (vec![0f32; x.len()], vec![0f32; lanes], vec![0f32; lanes]);
            forward(&xf, [&gf, &bf], ax, 1e-5, [&mut yf, &mut mf, &mut sf]).unwrap();
            for (a, b) in yf.iter().zip(&want) {
                assert!((f64::from(*a) - b).abs() < 2e-3, "{ax:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn refuses_buffers_that_do_not_fit() {
        let ax = Axis::new(2, 3, 1);
        let (mut y, mut m, mut s) = ([0.0f32; 6], [0.0f32; 2], [0.0f32; 1]);
        let err = forward(
            &[0.0; 6],
            [&[1.0; 3], &[0.0; 3]],
            ax,
            1e-5,
            [&mut y, &mut m, &mut s],
        );
        assert!(matches!(err, Err(LayoutError::Length { what: "std", .. })));
    }
}
