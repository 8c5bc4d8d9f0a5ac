//! Reductions over axes (sum, mean, max, min, argmax/argmin) of row-major arrays, and their
//! companions: broadcasting a reduced array back over the reduced axes (the gradient of a sum,
//! and `broadcast_to`) and the gradient of max/min.
//!
//! Every function takes the full array's `shape` and a mask of the reduced axes; the reduced
//! array is the full one with those axes dropped (or kept as 1: the same elements in the same
//! order). Internally adjacent axes with the same role are merged and size-1 axes dropped, so
//! every case becomes a walk over the outer axes with a contiguous inner run: either a run
//! folded into one value (the innermost axis is reduced) or a run combined element-wise into a
//! run of the output (it is kept). Both inner loops are plain slice loops LLVM vectorises.
//!
//! ```
//! use mxr_kernels::cpu::reduce::{Reducer, reduce};
//! // Sum over axis 1 of a (2, 3) array.
//! let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let mut y = [0.0f32; 2];
//! reduce(&x, &[2, 3], &[false, true], Reducer::Sum, &mut y)?;
//! assert_eq!(y, [6.0, 15.0]);
//! # Ok::<(), mxr_kernels::cpu::transpose::LayoutError>(())
//! ```

use std::ops::{Add, Div, Mul, Sub};

use super::transpose::{LayoutError, by_width, check_len};
use crate::Element;

/// A floating-point element type the reductions support: `f32` and `f64`.
pub trait Real:
    Element
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
{
    /// Zero.
    const ZERO: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// Negative infinity.
    const NEG_INFINITY: Self;
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;
    /// The nearest value to `n`.
    fn from_usize(n: usize) -> Self;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const INFINITY: Self = f32::INFINITY;
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn from_usize(n: usize) -> Self {
        n as f32
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const INFINITY: Self = f64::INFINITY;
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn from_usize(n: usize) -> Self {
        n as f64
    }
}

/// What a reduction computes. The declaration order is the GPU code ([`crate::cuda::codes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reducer {
    /// The sum (0 for no elements).
    Sum,
    /// The sum divided by the number of reduced elements.
    Mean,
    /// The largest element; NaN if any element is NaN (−∞ for no elements).
    Max,
    /// The smallest element; NaN if any element is NaN (+∞ for no elements).
    Min,
}

/// The shape of the reduced array with the reduced axes kept as 1 (MXNet's `keepdims=True`).
///
/// # Panics
/// Never; extra mask entries are ignored and missing ones count as kept.
pub fn kept_shape(shape: &[usize], reduced: &[bool]) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if reduced.get(i) == Some(&true) { 1 } else { d })
        .collect()
}

fn check_mask(shape: &[usize], reduced: &[bool]) -> Result<(), LayoutError> {
    if shape.len() == reduced.len() {
        Ok(())
    } else {
        Err(LayoutError::Mismatch(format!(
            "the reduction mask has {} entries for the {} axes of {shape:?}",
            reduced.len(),
            shape.len()
        )))
    }
}

/// Reduces the row-major array `src` of `shape` over the axes where `reduced` is true into
/// `dst` (the kept axes, in order). Max and min propagate NaN.
///
/// # Errors
/// [`LayoutError::Mismatch`] if the mask's length is not the rank, [`LayoutError::Length`] if a
/// buffer's length does not match. `dst` is untouched then.
pub fn reduce<T: Real>(
    src: &[T],
    shape: &[usize],
    reduced: &[bool],
    reducer: Reducer,
    dst: &mut [T],
) -> Result<(), LayoutError> {
    check_mask(shape, reduced)?;
    check_len("src", src.len(), shape)?;
    check_len("dst", dst.len(), &kept_shape(shape, reduced))?;
    match reducer {
        Reducer::Sum | Reducer::Mean => {
            compensated_sum(src, shape, reduced, dst);
            if reducer == Reducer::Mean {
                let count: usize = shape
                    .iter()
                    .zip(reduced)
                    .filter(|(_, r)| **r)
                    .map(|(d, _)| d)
                    .product();
                let count = T::from_usize(count);
                for v in dst.iter_mut() {
                    *v = *v / count;
                }
            }
        }
        Reducer::Max => reduce_with(src, shape, reduced, dst, T::NEG_INFINITY, max, |s| {
            lane_fold(s, T::NEG_INFINITY, max)
        }),
        Reducer::Min => reduce_with(src, shape, reduced, dst, T::INFINITY, min, |s| {
            lane_fold(s, T::INFINITY, min)
        }),
    }
    Ok(())
}

/// NaN-propagating maximum.
#[inline]
fn max<T: Real>(a: T, b: T) -> T {
    if a.is_nan() || a >= b { a } else { b }
}

/// NaN-propagating minimum.
#[inline]
fn min<T: Real>(a: T, b: T) -> T {
    if a.is_nan() || a <= b { a } else { b }
}

/// Folds `s` with `combine` over eight independent lanes (vectorisable), then the lanes.
/// `combine` must be associative and commutative up to NaN propagation (max, min).
#[inline]
fn lane_fold<T: Real>(s: &[T], init: T, combine: impl Fn(T, T) -> T) -> T {
    let mut acc = [init; 8];
    let chunks = s.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = combine(*a, v);
        }
    }
    let lanes = acc.iter().fold(init, |a, &b| combine(a, b));
    rest.iter().fold(lanes, |a, &b| combine(a, b))
}

/// Adds `v` to `sum` with Kahan compensation `comp`.
#[inline]
fn kahan<T: Real>(sum: &mut T, comp: &mut T, v: T) {
    let y = v - *comp;
    let t = *sum + y;
    *comp = (t - *sum) - y;
    *sum = t;
}

/// A compensated sum over eight independent lanes (vectorisable: no reassociation needed).
/// Returns the sum and its remaining compensation.
fn lane_sum<T: Real>(s: &[T]) -> (T, T) {
    let mut acc = [T::ZERO; 8];
    let mut comp = [T::ZERO; 8];
    let chunks = s.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for ((a, e), &v) in acc.iter_mut().zip(comp.iter_mut()).zip(c) {
            kahan(a, e, v);
        }
    }
    let (mut total, mut total_comp) = (T::ZERO, T::ZERO);
    for (&a, &e) in acc.iter().zip(&comp) {
        kahan(&mut total, &mut total_comp, a);
        kahan(&mut total, &mut total_comp, T::ZERO - e);
    }
    for &v in rest {
        kahan(&mut total, &mut total_comp, v);
    }
    (total, total_comp)
}

/// Sums with Kahan compensation everywhere (as MXNet's `red::sum` does), so long sums in
/// float32 keep their accuracy whichever axes are reduced.
fn compensated_sum<T: Real>(src: &[T], shape: &[usize], reduced: &[bool], dst: &mut [T]) {
    dst.fill(T::ZERO);
    let mut comp = vec![T::ZERO; dst.len()];
    walk(shape, reduced, |i, o, len, run_reduced| {
        // In bounds: `walk` yields offsets within the validated full and reduced sizes.
        let s = &src[i..i + len];
        if run_reduced {
            let (part, part_comp) = lane_sum(s);
            kahan(&mut dst[o], &mut comp[o], part);
            kahan(&mut dst[o], &mut comp[o], T::ZERO - part_comp);
        } else {
            for ((d, e), &v) in dst[o..o + len].iter_mut().zip(&mut comp[o..o + len]).zip(s) {
                kahan(d, e, v);
            }
        }
    });
}

fn reduce_with<T: Real>(
    src: &[T],
    shape: &[usize],
    reduced: &[bool],
    dst: &mut [T],
    init: T,
    combine: impl Fn(T, T) -> T,
    fold: impl Fn(&[T]) -> T,
) {
    dst.fill(init);
    walk(shape, reduced, |i, o, len, run_reduced| {
        // In bounds: `walk` yields offsets within the validated full and reduced sizes.
        let s = &src[i..i + len];
        if run_reduced {
            dst[o] = combine(dst[o], fold(s));
        } else {
            for (d, &v) in dst[o..o + len].iter_mut().zip(s) {
                *d = combine(*d, v);
            }
        }
    });
}

/// Broadcasts the reduced array `src` (the kept axes of `shape`) over the reduced axes into the
/// full array `dst` of `shape`: every element of `dst` gets the value of the `src` element it
/// reduces to. This is `broadcast_to` and the gradient of a sum.
///
/// # Errors
/// As [`reduce`].
pub fn broadcast<T: Copy>(
    src: &[T],
    shape: &[usize],
    reduced: &[bool],
    dst: &mut [T],
) -> Result<(), LayoutError> {
    check_mask(shape, reduced)?;
    check_len("src", src.len(), &kept_shape(shape, reduced))?;
    check_len("dst", dst.len(), shape)?;
    walk(shape, reduced, |i, o, len, run_reduced| {
        // In bounds: as in `reduce_with`.
        let d = &mut dst[i..i + len];
        if run_reduced {
            d.fill(src[o]);
        } else {
            d.copy_from_slice(&src[o..o + len]);
        }
    });
    Ok(())
}

/// [`broadcast`] on raw element bytes of `width` bytes each (1, 2, 4 or 8; aligned for it).
///
/// # Errors
/// As [`broadcast`], plus [`LayoutError::Width`].
pub fn broadcast_bytes(
    src: &[u8],
    width: usize,
    shape: &[usize],
    reduced: &[bool],
    dst: &mut [u8],
) -> Result<(), LayoutError> {
    by_width!(width, src, dst => broadcast(src, shape, reduced, dst))
}

/// The gradient of max/min: `dx[i] = g[o]` where `x[i] == y[o]` (every tied element gets it),
/// else 0, `o` being the reduced element `i` belongs to. `x` and `dx` have `shape`; `y` and
/// `g` the kept axes.
///
/// # Errors
/// As [`reduce`].
pub fn extreme_grad<T: Real>(
    x: &[T],
    shape: &[usize],
    reduced: &[bool],
    y: &[T],
    g: &[T],
    dx: &mut [T],
) -> Result<(), LayoutError> {
    check_mask(shape, reduced)?;
    let small = kept_shape(shape, reduced);
    check_len("x", x.len(), shape)?;
    check_len("y", y.len(), &small)?;
    check_len("g", g.len(), &small)?;
    check_len("dx", dx.len(), shape)?;
    walk(shape, reduced, |i, o, len, run_reduced| {
        // In bounds: as in `reduce_with`.
        let xs = &x[i..i + len];
        let d = &mut dx[i..i + len];
        if run_reduced {
            let (yo, go) = (y[o], g[o]);
            for (d, &v) in d.iter_mut().zip(xs) {
                *d = if v == yo { go } else { T::ZERO };
            }
        } else {
            for (((d, &v), &yo), &go) in
                d.iter_mut().zip(xs).zip(&y[o..o + len]).zip(&g[o..o + len])
            {
                *d = if v == yo { go } else { T::ZERO };
            }
        }
    });
    Ok(())
}

/// The index of the first largest (`largest`) or smallest element along `axis` of the row-major
/// array `src` of `shape`, written as a float into `dst` (the shape without `axis`). A NaN counts
/// as more extreme than any number (the first NaN wins). An empty axis gives index 0.
///
/// # Errors
/// [`LayoutError::Mismatch`] if `axis` is not below the rank, [`LayoutError::Length`] if a
/// buffer's length does not match.
pub fn arg_extreme<T: Real>(
    src: &[T],
    shape: &[usize],
    axis: usize,
    largest: bool,
    dst: &mut [T],
) -> Result<(), LayoutError> {
    let Some(&n) = shape.get(axis) else {
        return Err(LayoutError::Mismatch(format!(
            "axis {axis} is out of range for shape {shape:?}"
        )));
    };
    check_len("src", src.len(), shape)?;
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    check_len("dst", dst.len(), &[outer, inner])?;
    if dst.is_empty() {
        return Ok(());
    }
    dst.fill(T::ZERO);
    if n == 0 {
        return Ok(());
    }
    let better = |v: T, best: T| {
        if best.is_nan() {
            false
        } else if v.is_nan() {
            true
        } else if largest {
            v > best
        } else {
            v < best
        }
    };
    let mut best = vec![T::ZERO; inner];
    for (block, out) in src.chunks_exact(n * inner).zip(dst.chunks_exact_mut(inner)) {
        let mut rows = block.chunks_exact(inner);
        if let Some(first) = rows.next() {
            best.copy_from_slice(first);
        }
        for (k, row) in rows.enumerate() {
            let index = T::from_usize(k + 1);
            for ((b, o), &v) in best.iter_mut().zip(out.iter_mut()).zip(row) {
                if better(v, *b) {
                    *b = v;
                    *o = index;
                }
            }
        }
    }
    Ok(())
}

/// Merged axes of `shape` with their role: `(extent, reduced)`, size-1 axes dropped and adjacent
/// axes with the same role merged.
pub(crate) fn segments(shape: &[usize], reduced: &[bool]) -> Vec<(usize, bool)> {
    let mut segs: Vec<(usize, bool)> = Vec::new();
    for (&d, &r) in shape.iter().zip(reduced) {
        if d == 1 {
            continue;
        }
        match segs.last_mut() {
            Some((n, last)) if *last == r => *n *= d,
            _ => segs.push((d, r)),
        }
    }
    segs
}

/// Walks the full array of `shape` in row-major order, one innermost run at a time: calls
/// `f(full_offset, reduced_offset, len, run_reduced)`. A reduced run's `len` elements all reduce
/// to the element at `reduced_offset`; a kept run's elements map one-to-one to the `len`
/// elements from `reduced_offset`. Nothing is called for an empty array.
fn walk(shape: &[usize], reduced: &[bool], mut f: impl FnMut(usize, usize, usize, bool)) {
    if shape.contains(&0) {
        return;
    }
    let segs = segments(shape, reduced);
    let Some((&(len, last_reduced), outer)) = segs.split_last() else {
        f(0, 0, 1, false); // a single element
        return;
    };
    // Strides into the reduced array of the outer segments (0 for reduced ones).
    let mut stride = vec![0; outer.len()];
    let mut acc = if last_reduced { 1 } else { len };
    for (k, &(n, r)) in outer.iter().enumerate().rev() {
        if !r {
            stride[k] = acc;
            acc *= n;
        }
    }
    let count: usize = outer.iter().map(|s| s.0).product();
    let mut index = vec![0usize; outer.len()];
    let mut small = 0;
    for step in 0..count {
        f(step * len, small, len, last_reduced);
        for k in (0..outer.len()).rev() {
            index[k] += 1;
            small += stride[k];
            if index[k] < outer[k].0 {
                break;
            }
            small -= stride[k] * outer[k].0;
            index[k] = 0;
        }
    }
}

#[cfg(test)]
mod tests;
