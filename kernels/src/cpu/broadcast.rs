//! Broadcasting binary kernels and the reduction of a gradient back to an input shape.
//!
//! NumPy's rule: shapes are right-aligned (the shorter one padded with leading 1s) and every
//! pair of dimensions is equal or contains a 1. A [`Plan`] collapses the output's dimensions into
//! runs where each operand either advances or stays put, so the inner loops are plain slices:
//! `(2, 3, 4) + (1, 3, 1)` becomes three runs, `(1000,) + (1000,)` a single one.
//!
//! ```
//! use mxr_kernels::cpu::broadcast::{broadcast_binary, reduce_to};
//! use mxr_kernels::cpu::elementwise::BinaryOp;
//! let a = [1.0f32, 2.0]; // (2, 1)
//! let b = [10.0f32, 20.0, 30.0]; // (3,)
//! let mut out = [0.0f32; 6];
//! broadcast_binary(BinaryOp::Add, &a, &[2, 1], &b, &[3], &mut out)?;
//! assert_eq!(out, [11.0, 21.0, 31.0, 12.0, 22.0, 32.0]);
//! let mut back = [0.0f32; 3];
//! reduce_to(&out, &[2, 3], &mut back, &[3])?;
//! assert_eq!(back, [23.0, 43.0, 63.0]);
//! # Ok::<(), mxr_kernels::cpu::broadcast::BroadcastError>(())
//! ```

use super::elementwise::{BinaryOp, Num, extreme_grad};

/// Shapes or buffers that do not fit a broadcast.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BroadcastError {
    /// Two dimensions differ and neither is 1.
    #[error(
        "shapes {lhs:?} and {rhs:?} cannot be broadcast together \
         (right-aligned dimension {axis}: {l} vs {r})"
    )]
    Incompatible {
        /// The left shape.
        lhs: Vec<usize>,
        /// The right shape.
        rhs: Vec<usize>,
        /// The axis of the broadcast result where they conflict.
        axis: usize,
        /// The left dimension there.
        l: usize,
        /// The right dimension there.
        r: usize,
    },
    /// A buffer's length does not match its shape.
    #[error("{what} has {got} elements, but its shape {shape:?} needs {want}")]
    Length {
        /// Which buffer.
        what: &'static str,
        /// Its shape.
        shape: Vec<usize>,
        /// Its length.
        got: usize,
        /// The shape's size.
        want: usize,
    },
    /// A gradient cannot be reduced to a shape that does not broadcast to it.
    #[error("shape {shape:?} does not broadcast to {target:?}")]
    NotReducible {
        /// The shape to reduce to.
        shape: Vec<usize>,
        /// The gradient's shape.
        target: Vec<usize>,
    },
}

/// The broadcast of two shapes (NumPy's rule).
///
/// ```
/// use mxr_kernels::cpu::broadcast::broadcast_shape;
/// assert_eq!(broadcast_shape(&[2, 1, 3], &[1, 4, 1]).unwrap(), vec![2, 4, 3]);
/// assert_eq!(broadcast_shape(&[2, 3], &[3]).unwrap(), vec![2, 3]);
/// assert!(broadcast_shape(&[2, 3], &[4]).is_err());
/// ```
pub fn broadcast_shape(lhs: &[usize], rhs: &[usize]) -> Result<Vec<usize>, BroadcastError> {
    let n = lhs.len().max(rhs.len());
    (0..n)
        .map(|axis| {
            let l = padded_dim(lhs, n, axis);
            let r = padded_dim(rhs, n, axis);
            match (l, r) {
                _ if l == r => Ok(l),
                (1, _) => Ok(r),
                (_, 1) => Ok(l),
                _ => Err(BroadcastError::Incompatible {
                    lhs: lhs.to_vec(),
                    rhs: rhs.to_vec(),
                    axis,
                    l,
                    r,
                }),
            }
        })
        .collect()
}

/// Dimension `axis` of `shape` right-aligned to `n` dimensions (1 in the padding).
fn padded_dim(shape: &[usize], n: usize, axis: usize) -> usize {
    let pad = n - shape.len();
    if axis < pad { 1 } else { shape[axis - pad] }
}

/// How to walk a broadcast: the output's dimensions collapsed into runs, with each operand's
/// element stride per run (0 where it is broadcast).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    out_shape: Vec<usize>,
    out_size: usize,
    dims: Vec<usize>,
    lhs_strides: Vec<usize>,
    rhs_strides: Vec<usize>,
}

impl Plan {
    /// Plans `lhs ∘ rhs`; an error when the shapes do not broadcast.
    pub fn new(lhs: &[usize], rhs: &[usize]) -> Result<Plan, BroadcastError> {
        let out_shape = broadcast_shape(lhs, rhs)?;
        let n = out_shape.len();
        let mut dims: Vec<usize> = Vec::with_capacity(n);
        let mut pattern: Vec<(bool, bool)> = Vec::with_capacity(n);
        for (axis, &d) in out_shape.iter().enumerate() {
            if d == 1 {
                continue;
            }
            let p = (padded_dim(lhs, n, axis) == d, padded_dim(rhs, n, axis) == d);
            match (dims.last_mut(), pattern.last()) {
                (Some(last), Some(&q)) if q == p => *last *= d,
                _ => {
                    dims.push(d);
                    pattern.push(p);
                }
            }
        }
        let strides = |has: &dyn Fn(&(bool, bool)) -> bool| {
            let mut acc = 1;
            let mut s = vec![0; dims.len()];
            for j in (0..dims.len()).rev() {
                if has(&pattern[j]) {
                    s[j] = acc;
                    acc *= dims[j];
                }
            }
            s
        };
        let lhs_strides = strides(&|p| p.0);
        let rhs_strides = strides(&|p| p.1);
        Ok(Plan {
            out_size: out_shape.iter().product(),
            out_shape,
            dims,
            lhs_strides,
            rhs_strides,
        })
    }

    /// The broadcast shape.
    pub fn out_shape(&self) -> &[usize] {
        &self.out_shape
    }

    /// The number of output elements.
    pub fn out_size(&self) -> usize {
        self.out_size
    }

    /// Whether neither operand is broadcast (both have the output's elements in order).
    pub fn is_elementwise(&self) -> bool {
        self.lhs_strides.iter().all(|&s| s != 0) && self.rhs_strides.iter().all(|&s| s != 0)
    }

    /// Calls `f(out_offset, lhs_offset, rhs_offset, len, lhs_step, rhs_step)` for each run of
    /// `len` contiguous output elements, in output order; the steps are 0 or 1.
    fn walk(&self, mut f: impl FnMut(usize, usize, usize, usize, usize, usize)) {
        if self.out_size == 0 {
            return;
        }
        let Some((&inner, outer)) = self.dims.split_last() else {
            f(0, 0, 0, 1, 0, 0); // every dimension is 1: one element
            return;
        };
        let k = outer.len();
        let (ls, rs) = (self.lhs_strides[k], self.rhs_strides[k]);
        let mut index = vec![0usize; k];
        let (mut lo, mut ro) = (0usize, 0usize);
        let mut o = 0;
        loop {
            f(o, lo, ro, inner, ls, rs);
            o += inner;
            // Advance the odometer over the outer runs.
            let mut j = k;
            loop {
                if j == 0 {
                    return;
                }
                j -= 1;
                index[j] += 1;
                lo += self.lhs_strides[j];
                ro += self.rhs_strides[j];
                if index[j] < outer[j] {
                    break;
                }
                lo -= self.lhs_strides[j] * outer[j];
                ro -= self.rhs_strides[j] * outer[j];
                index[j] = 0;
            }
        }
    }
}

fn check_len<T>(
    what: &'static str,
    buf: &[T],
    shape: &[usize],
    want: usize,
) -> Result<(), BroadcastError> {
    if buf.len() == want {
        Ok(())
    } else {
        Err(BroadcastError::Length {
            what,
            shape: shape.to_vec(),
            got: buf.len(),
            want,
        })
    }
}

/// `out[o] = f(g[o], lhs[l], rhs[r])` over a plan's runs (`g` has the output's shape).
#[inline(always)]
fn apply3<T: Num>(
    plan: &Plan,
    g: &[T],
    lhs: &[T],
    rhs: &[T],
    out: &mut [T],
    f: impl Fn(T, T, T) -> T + Copy,
) {
    // Every offset + len stays within the buffers: the plan's strides come from the shapes, and
    // the callers checked each buffer's length against its shape.
    plan.walk(|o, l, r, n, ls, rs| {
        let out = &mut out[o..o + n];
        let g = &g[o..o + n];
        match (ls, rs) {
            (1, 1) => {
                for (d, ((&gv, &a), &b)) in out
                    .iter_mut()
                    .zip(g.iter().zip(&lhs[l..l + n]).zip(&rhs[r..r + n]))
                {
                    *d = f(gv, a, b);
                }
            }
            (1, _) => {
                let b = rhs[r];
                for (d, (&gv, &a)) in out.iter_mut().zip(g.iter().zip(&lhs[l..l + n])) {
                    *d = f(gv, a, b);
                }
            }
            (_, 1) => {
                let a = lhs[l];
                for (d, (&gv, &b)) in out.iter_mut().zip(g.iter().zip(&rhs[r..r + n])) {
                    *d = f(gv, a, b);
                }
            }
            _ => {
                let (a, b) = (lhs[l], rhs[r]);
                for (d, &gv) in out.iter_mut().zip(g) {
                    *d = f(gv, a, b);
                }
            }
        }
    });
}

/// `out = lhs ∘ rhs` with broadcasting; `out` has [`broadcast_shape`]`(lhs_shape, rhs_shape)`.
pub fn broadcast_binary<T: Num>(
    op: BinaryOp,
    lhs: &[T],
    lhs_shape: &[usize],
    rhs: &[T],
    rhs_shape: &[usize],
    out: &mut [T],
) -> Result<(), BroadcastError> {
    let plan = Plan::new(lhs_shape, rhs_shape)?;
    check_len("lhs", lhs, lhs_shape, lhs_shape.iter().product())?;
    check_len("rhs", rhs, rhs_shape, rhs_shape.iter().product())?;
    check_len("out", out, plan.out_shape(), plan.out_size())?;
    if plan.is_elementwise() {
        super::elementwise::binary(op, lhs, rhs, out);
        return Ok(());
    }
    match op {
        BinaryOp::Add => apply2(&plan, lhs, rhs, out, T::plus),
        BinaryOp::Sub => apply2(&plan, lhs, rhs, out, T::minus),
        BinaryOp::Mul => apply2(&plan, lhs, rhs, out, T::times),
        BinaryOp::Div => apply2(&plan, lhs, rhs, out, T::divide),
        BinaryOp::Max | BinaryOp::Min => apply2(&plan, lhs, rhs, out, |a, b| op.apply(a, b)),
    }
    Ok(())
}

/// `out[o] = f(lhs[l], rhs[r])` over a plan's runs.
#[inline(always)]
fn apply2<T: Num>(plan: &Plan, lhs: &[T], rhs: &[T], out: &mut [T], f: impl Fn(T, T) -> T + Copy) {
    // In bounds for the reasons given in `apply3`.
    plan.walk(|o, l, r, n, ls, rs| {
        let out = &mut out[o..o + n];
        match (ls, rs) {
            (1, 1) => {
                for (d, (&a, &b)) in out.iter_mut().zip(lhs[l..l + n].iter().zip(&rhs[r..r + n])) {
                    *d = f(a, b);
                }
            }
            (1, _) => {
                let b = rhs[r];
                for (d, &a) in out.iter_mut().zip(&lhs[l..l + n]) {
                    *d = f(a, b);
                }
            }
            (_, 1) => {
                let a = lhs[l];
                for (d, &b) in out.iter_mut().zip(&rhs[r..r + n]) {
                    *d = f(a, b);
                }
            }
            _ => out.fill(f(lhs[l], rhs[r])),
        }
    });
}

/// A sum with eight partial accumulators (vectorisable, and more precise than one chain).
fn sum<T: Num>(xs: &[T]) -> T {
    let mut acc = [T::ZERO; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = a.plus(v);
        }
    }
    let mut total = T::ZERO;
    for v in rest {
        total = total.plus(*v);
    }
    let pairs = [
        acc[0].plus(acc[4]),
        acc[1].plus(acc[5]),
        acc[2].plus(acc[6]),
        acc[3].plus(acc[7]),
    ];
    pairs[0]
        .plus(pairs[2])
        .plus(pairs[1].plus(pairs[3]))
        .plus(total)
}

/// Sums `g` (of shape `g_shape`) over the axes along which `shape` is broadcast to `g_shape`,
/// into `out` (of `shape`): the gradient of a broadcast input.
pub fn reduce_to<T: Num>(
    g: &[T],
    g_shape: &[usize],
    out: &mut [T],
    shape: &[usize],
) -> Result<(), BroadcastError> {
    let plan = Plan::new(shape, g_shape)?;
    if plan.out_shape() != g_shape {
        return Err(BroadcastError::NotReducible {
            shape: shape.to_vec(),
            target: g_shape.to_vec(),
        });
    }
    check_len("gradient", g, g_shape, plan.out_size())?;
    check_len("out", out, shape, shape.iter().product())?;
    if plan.is_elementwise() {
        out.copy_from_slice(g);
        return Ok(());
    }
    out.fill(T::ZERO);
    // In bounds: `l` walks `shape`'s elements and `o` the gradient's, as in `apply3`.
    plan.walk(|o, l, _, n, ls, _| {
        let g = &g[o..o + n];
        if ls == 1 {
            for (d, &v) in out[l..l + n].iter_mut().zip(g) {
                *d = d.plus(v);
            }
        } else {
            out[l] = out[l].plus(sum(g));
        }
    });
    Ok(())
}

/// The gradients of `lhs ∘ rhs` with broadcasting (`_backward_broadcast_add` etc.): the
/// element-wise gradients for head gradient `g` (of the broadcast shape), each summed back to its
/// input's shape. Add and sub read only the shapes of `lhs` and `rhs`.
#[allow(clippy::too_many_arguments)] // two operands and two gradients, each with its shape
pub fn broadcast_backward<T: Num>(
    op: BinaryOp,
    g: &[T],
    lhs: &[T],
    lhs_shape: &[usize],
    rhs: &[T],
    rhs_shape: &[usize],
    dlhs: &mut [T],
    drhs: &mut [T],
) -> Result<(), BroadcastError> {
    let plan = Plan::new(lhs_shape, rhs_shape)?;
    let out_shape = plan.out_shape().to_vec();
    check_len("head gradient", g, &out_shape, plan.out_size())?;
    check_len("lhs gradient", dlhs, lhs_shape, lhs_shape.iter().product())?;
    check_len("rhs gradient", drhs, rhs_shape, rhs_shape.iter().product())?;
    match op {
        BinaryOp::Add | BinaryOp::Sub => {
            reduce_to(g, &out_shape, dlhs, lhs_shape)?;
            reduce_to(g, &out_shape, drhs, rhs_shape)?;
            if op == BinaryOp::Sub {
                drhs.iter_mut().for_each(|v| *v = v.negate());
            }
            Ok(())
        }
        BinaryOp::Mul | BinaryOp::Div => {
            check_len("lhs", lhs, lhs_shape, lhs_shape.iter().product())?;
            check_len("rhs", rhs, rhs_shape, rhs_shape.iter().product())?;
            let mut tmp = vec![T::ZERO; plan.out_size()];
            if op == BinaryOp::Mul {
                apply3(&plan, g, lhs, rhs, &mut tmp, |gv, _, b| gv.times(b));
                reduce_to(&tmp, &out_shape, dlhs, lhs_shape)?;
                apply3(&plan, g, lhs, rhs, &mut tmp, |gv, a, _| gv.times(a));
            } else {
                apply3(&plan, g, lhs, rhs, &mut tmp, |gv, _, b| gv.divide(b));
                reduce_to(&tmp, &out_shape, dlhs, lhs_shape)?;
                apply3(&plan, g, lhs, rhs, &mut tmp, |gv, a, b| {
                    gv.times(a.negate().divide(b.times(b)))
                });
            }
            reduce_to(&tmp, &out_shape, drhs, rhs_shape)
        }
        BinaryOp::Max | BinaryOp::Min => {
            check_len("lhs", lhs, lhs_shape, lhs_shape.iter().product())?;
            check_len("rhs", rhs, rhs_shape, rhs_shape.iter().product())?;
            let max = op == BinaryOp::Max;
            let mut tmp = vec![T::ZERO; plan.out_size()];
            apply3(&plan, g, lhs, rhs, &mut tmp, |gv, a, b| {
                extreme_grad(max, true, gv, a, b)
            });
            reduce_to(&tmp, &out_shape, dlhs, lhs_shape)?;
            apply3(&plan, g, lhs, rhs, &mut tmp, |gv, a, b| {
                extreme_grad(max, false, gv, a, b)
            });
            reduce_to(&tmp, &out_shape, drhs, rhs_shape)
        }
    }
}

#[cfg(test)]
mod tests;
