//! Softmax and log-softmax along an axis, and their backward; the gradient of MXNet's
//! `SoftmaxOutput` loss layer.
//!
//! Arrays are row-major and viewed as `(outer, len, inner)` around the reduced axis (see
//! [`Axis`]): element `(o, j, i)` sits at `(o * len + j) * inner + i`. Every function overwrites
//! its output completely. Slices shorter than the view describes are not an error: the loops
//! zip over whole rows and stop at the shorter slice (callers pass slices of the right size).
//!
//! ```
//! use mxr_kernels::cpu::softmax::{Axis, softmax};
//! let x = [1.0f32, 2.0, 3.0];
//! let mut y = [0.0f32; 3];
//! softmax(&x, &mut y, Axis::new(1, 3, 1), 1.0, None);
//! assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-6);
//! assert!((y[2] - 0.665_240_9).abs() < 1e-6);
//! ```

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// The floating-point element types the softmax and normalisation kernels are generic over
/// (`f32` and `f64`).
pub trait Real:
    Copy
    + Debug
    + Default
    + PartialOrd
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// e^self.
    fn exp(self) -> Self;
    /// The natural logarithm.
    fn ln(self) -> Self;
    /// The square root.
    fn sqrt(self) -> Self;
    /// The larger of two values (the other one when either is NaN).
    fn max(self, other: Self) -> Self;
    /// Conversion from `f64` (rounding for `f32`).
    fn from_f64(v: f64) -> Self;
    /// Conversion to `f64` (exact).
    fn to_f64(self) -> f64;
}

macro_rules! real {
    ($t:ty) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
        }
    };
}

real!(f32);
real!(f64);

/// A row-major array viewed around one axis: `outer` blocks of `len` rows of `inner` elements;
/// the reduction runs over the `len` axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Axis {
    /// The product of the dimensions before the axis.
    pub outer: usize,
    /// The axis' own length.
    pub len: usize,
    /// The product of the dimensions after the axis.
    pub inner: usize,
}

impl Axis {
    /// A view of `outer × len × inner` elements.
    pub const fn new(outer: usize, len: usize, inner: usize) -> Axis {
        Axis { outer, len, inner }
    }

    /// The view of an array of shape `shape` around axis `axis` (which must be `< shape.len()`;
    /// `None` otherwise).
    pub fn of(shape: &[usize], axis: usize) -> Option<Axis> {
        let len = *shape.get(axis)?;
        Some(Axis {
            outer: shape[..axis].iter().product(),
            len,
            inner: shape[axis + 1..].iter().product(),
        })
    }

    /// The number of elements.
    pub fn size(&self) -> usize {
        self.outer * self.len * self.inner
    }

    /// Elements per outer block.
    fn block(&self) -> usize {
        self.len * self.inner
    }
}

/// `y = exp(x/t − max) / Σ exp(x/t − max)` along the axis (MXNet's max-subtracted softmax with
/// temperature `t`). With `lengths` (one per `(outer, inner)` pair, `outer * inner` of them),
/// only the first `lengths[k]` positions of each lane take part and the others are set to 0.
pub fn softmax<T: Real>(x: &[T], y: &mut [T], ax: Axis, t: T, lengths: Option<&[usize]>) {
    softmax_impl(x, y, ax, t, lengths, false);
}

/// `y = x/t − max − log Σ exp(x/t − max)` along the axis.
pub fn log_softmax<T: Real>(x: &[T], y: &mut [T], ax: Axis, t: T) {
    softmax_impl(x, y, ax, t, None, true);
}

fn softmax_impl<T: Real>(
    x: &[T],
    y: &mut [T],
    ax: Axis,
    t: T,
    lengths: Option<&[usize]>,
    log: bool,
) {
    let block = ax.block();
    if block == 0 {
        return;
    }
    if ax.inner == 1 {
        for (o, (xr, yr)) in x
            .chunks_exact(block)
            .zip(y.chunks_exact_mut(block))
            .enumerate()
        {
            let n = lengths.map_or(ax.len, |l| l.get(o).copied().unwrap_or(0).min(ax.len));
            // n <= len = the row length.
            let (yv, masked) = yr.split_at_mut(n);
            masked.iter_mut().for_each(|v| *v = T::ZERO);
            softmax_row(&xr[..n], yv, t, log);
        }
        return;
    }
    // Strided lanes: work on whole rows of `inner` elements so the loops vectorise.
    let inner = ax.inner;
    let mut max = vec![T::ZERO; inner];
    let mut sum = vec![T::ZERO; inner];
    for (o, (xb, yb)) in x
        .chunks_exact(block)
        .zip(y.chunks_exact_mut(block))
        .enumerate()
    {
        let lens = lengths.map(|l| l.get(o * inner..(o + 1) * inner).unwrap_or(&[]));
        max.fill(T::ZERO);
        sum.fill(T::ZERO);
        let mut rows = xb.chunks_exact(inner);
        if let Some(first) = rows.next() {
            max.copy_from_slice(first);
        }
        for row in rows {
            for (m, &v) in max.iter_mut().zip(row) {
                *m = m.max(v);
            }
        }
        if let Some(lens) = lens {
            // Lane maxima over the valid prefix only.
            for (i, m) in max.iter_mut().enumerate() {
                let n = lens.get(i).copied().unwrap_or(0).min(ax.len);
                *m = (0..n)
                    .map(|j| xb[j * inner + i])
                    .fold(None, |acc: Option<T>, v| Some(acc.map_or(v, |a| a.max(v))))
                    .unwrap_or(T::ZERO);
            }
        }
        for (xrow, yrow) in xb.chunks_exact(inner).zip(yb.chunks_exact_mut(inner)) {
            for (((yv, &xv), &m), s) in yrow.iter_mut().zip(xrow).zip(&max).zip(sum.iter_mut()) {
                let z = (xv - m) / t;
                let e = z.exp();
                *s += e;
                *yv = if log { z } else { e };
            }
        }
        if let Some(lens) = lens {
            // Redo the sums over the valid prefix and zero the masked positions.
            sum.fill(T::ZERO);
            for (j, yrow) in yb.chunks_exact_mut(inner).enumerate() {
                for (i, (yv, s)) in yrow.iter_mut().zip(sum.iter_mut()).enumerate() {
                    if j < lens.get(i).copied().unwrap_or(0) {
                        *s += if log { yv.exp() } else { *yv };
                    } else {
                        *yv = T::ZERO;
                    }
                }
            }
        }
        if log {
            for s in sum.iter_mut() {
                *s = s.ln();
            }
            for yrow in yb.chunks_exact_mut(inner) {
                for (yv, &s) in yrow.iter_mut().zip(&sum) {
                    *yv -= s;
                }
            }
        } else {
            for yrow in yb.chunks_exact_mut(inner) {
                for (yv, &s) in yrow.iter_mut().zip(&sum) {
                    // Masked positions hold 0 and stay 0; an empty lane (sum 0) stays 0 too.
                    if s > T::ZERO {
                        *yv /= s;
                    }
                }
            }
        }
    }
}

/// One contiguous lane.
fn softmax_row<T: Real>(x: &[T], y: &mut [T], t: T, log: bool) {
    let Some(&first) = x.first() else {
        return;
    };
    let m = x.iter().fold(first, |a, &b| a.max(b));
    let mut sum = T::ZERO;
    if log {
        for (yv, &xv) in y.iter_mut().zip(x) {
            let z = (xv - m) / t;
            sum += z.exp();
            *yv = z;
        }
        let ls = sum.ln();
        y.iter_mut().for_each(|v| *v -= ls);
    } else {
        for (yv, &xv) in y.iter_mut().zip(x) {
            let e = ((xv - m) / t).exp();
            sum += e;
            *yv = e;
        }
        y.iter_mut().for_each(|v| *v /= sum);
    }
}

/// The backward of [`softmax`]: `dx = y · (g − Σ g·y) / t` along the axis, from the head
/// gradient `g` and the forward output `y` (masked positions, where `y` is 0, get 0).
pub fn softmax_backward<T: Real>(g: &[T], y: &[T], dx: &mut [T], ax: Axis, t: T) {
    backward_impl(g, y, dx, ax, t, false);
}

/// The backward of [`log_softmax`]: `dx = (g − exp(y) · Σ g) / t` along the axis.
pub fn log_softmax_backward<T: Real>(g: &[T], y: &[T], dx: &mut [T], ax: Axis, t: T) {
    backward_impl(g, y, dx, ax, t, true);
}

fn backward_impl<T: Real>(g: &[T], y: &[T], dx: &mut [T], ax: Axis, t: T, log: bool) {
    let block = ax.block();
    if block == 0 {
        return;
    }
    let inner = ax.inner;
    let mut sum = vec![T::ZERO; inner];
    for ((gb, yb), db) in g
        .chunks_exact(block)
        .zip(y.chunks_exact(block))
        .zip(dx.chunks_exact_mut(block))
    {
        sum.fill(T::ZERO);
        for (grow, yrow) in gb.chunks_exact(inner).zip(yb.chunks_exact(inner)) {
            for ((s, &gv), &yv) in sum.iter_mut().zip(grow).zip(yrow) {
                *s += if log { gv } else { gv * yv };
            }
        }
        for ((grow, yrow), drow) in gb
            .chunks_exact(inner)
            .zip(yb.chunks_exact(inner))
            .zip(db.chunks_exact_mut(inner))
        {
            for (((d, &gv), &yv), &s) in drow.iter_mut().zip(grow).zip(yrow).zip(&sum) {
                *d = if log {
                    (gv - yv.exp() * s) / t
                } else {
                    yv * (gv - s) / t
                };
            }
        }
    }
}

/// How `SoftmaxOutput` turns labels into a gradient (see [`softmax_output_backward`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftmaxOutputGrad {
    /// Labels equal to this (after truncation to an integer) get a zero gradient, when set.
    pub ignore_label: Option<i64>,
    /// Label smoothing: the true class gets `1 − α`, the others `α / (classes − 1)`.
    pub smooth_alpha: f64,
    /// The factor applied to every element (`grad_scale / normalisation`).
    pub scale: f64,
    /// MXNet 1.9.1's `out_grad`: the gradient is further multiplied by the output.
    pub times_output: bool,
}

/// The gradient of `SoftmaxOutput` with class-index labels: `(y − onehot(label)) · scale`,
/// classes along the axis of `ax` (one label per `(outer, inner)` lane, `label[o * inner + i]`).
/// A label is truncated to an integer (as MXNet's `static_cast<int>`); one outside
/// `[0, classes)` subtracts nothing.
pub fn softmax_output_backward<T: Real>(
    y: &[T],
    label: &[T],
    dx: &mut [T],
    ax: Axis,
    opts: &SoftmaxOutputGrad,
) {
    let block = ax.block();
    if block == 0 {
        return;
    }
    let inner = ax.inner;
    let classes = ax.len;
    let off = if classes > 1 {
        opts.smooth_alpha / (classes - 1) as f64
    } else {
        0.0
    };
    let scale = T::from_f64(opts.scale);
    let hit = T::from_f64(1.0 - opts.smooth_alpha);
    let miss = T::from_f64(off);
    for (o, (yb, db)) in y
        .chunks_exact(block)
        .zip(dx.chunks_exact_mut(block))
        .enumerate()
    {
        for i in 0..inner {
            let raw = label.get(o * inner + i).copied().unwrap_or(T::ZERO);
            // `as` saturates (NaN → 0), like a C cast on sane values.
            let k = raw.to_f64() as i64;
            let ignored = opts.ignore_label == Some(k);
            for j in 0..classes {
                // In bounds: j < len, i < inner, the block has len * inner elements.
                let at = j * inner + i;
                let yv = yb[at];
                let target = if i64::try_from(j).is_ok_and(|j| j == k) {
                    hit
                } else {
                    miss
                };
                let mut v = if ignored {
                    T::ZERO
                } else {
                    (yv - target) * scale
                };
                if opts.times_output {
                    v *= yv;
                }
                db[at] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests;
