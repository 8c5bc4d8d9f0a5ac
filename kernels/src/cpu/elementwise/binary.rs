//! Same-shape binary operations (`elemwise_*`, the broadcasting kernels' element-wise fast
//! path): add, sub, mul, div, MXNet's maximum and minimum, and their gradients.

use super::{Num, map, zip_map};

/// A same-shape binary operation (`elemwise_*`, `broadcast_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `lhs + rhs`.
    Add,
    /// `lhs - rhs`.
    Sub,
    /// `lhs * rhs`.
    Mul,
    /// `lhs / rhs`.
    Div,
    /// The larger of `lhs` and `rhs`, NaN when either is (MXNet's `maximum`).
    Max,
    /// The smaller of `lhs` and `rhs`, NaN when either is (MXNet's `minimum`).
    Min,
}

/// MXNet's `maximum`: `a` when it is larger or NaN, else `b` (so a NaN on either side wins).
#[inline(always)]
fn larger<T: Num>(a: T, b: T) -> T {
    #[allow(clippy::eq_op)] // a != a: NaN, for any Num
    let nan = a != a;
    if nan || a > b { a } else { b }
}

/// MXNet's `minimum`: `a` when it is smaller or NaN, else `b`.
#[inline(always)]
fn smaller<T: Num>(a: T, b: T) -> T {
    #[allow(clippy::eq_op)] // a != a: NaN, for any Num
    let nan = a != a;
    if nan || a < b { a } else { b }
}

/// The gradient share of the operand a `maximum` (`max`) or `minimum` picked, as MXNet routes
/// it: the left operand takes ties (`a >= b`, `a <= b`), the right one the strict rest; neither
/// takes it where a NaN made the comparison false.
#[inline(always)]
pub fn extreme_grad<T: Num>(max: bool, left: bool, g: T, a: T, b: T) -> T {
    let picked = match (max, left) {
        (true, true) => a >= b,
        (true, false) => a < b,
        (false, true) => a <= b,
        (false, false) => a > b,
    };
    if picked { g } else { T::ZERO }
}

impl BinaryOp {
    /// The operation on one pair of values.
    #[inline(always)]
    pub fn apply<T: Num>(self, a: T, b: T) -> T {
        match self {
            BinaryOp::Add => a.plus(b),
            BinaryOp::Sub => a.minus(b),
            BinaryOp::Mul => a.times(b),
            BinaryOp::Div => a.divide(b),
            BinaryOp::Max => larger(a, b),
            BinaryOp::Min => smaller(a, b),
        }
    }
}

/// `out = lhs ∘ rhs` element by element.
pub fn binary<T: Num>(op: BinaryOp, lhs: &[T], rhs: &[T], out: &mut [T]) {
    match op {
        BinaryOp::Add => zip_map(lhs, rhs, out, T::plus),
        BinaryOp::Sub => zip_map(lhs, rhs, out, T::minus),
        BinaryOp::Mul => zip_map(lhs, rhs, out, T::times),
        BinaryOp::Div => zip_map(lhs, rhs, out, T::divide),
        BinaryOp::Max => zip_map(lhs, rhs, out, larger),
        BinaryOp::Min => zip_map(lhs, rhs, out, smaller),
    }
}

/// `lhs ∘= rhs` element by element, in place.
pub fn binary_inplace<T: Num>(op: BinaryOp, lhs: &mut [T], rhs: &[T]) {
    match op {
        BinaryOp::Add => lhs.iter_mut().zip(rhs).for_each(|(a, &b)| *a = a.plus(b)),
        BinaryOp::Sub => lhs.iter_mut().zip(rhs).for_each(|(a, &b)| *a = a.minus(b)),
        BinaryOp::Mul => lhs.iter_mut().zip(rhs).for_each(|(a, &b)| *a = a.times(b)),
        BinaryOp::Div => lhs.iter_mut().zip(rhs).for_each(|(a, &b)| *a = a.divide(b)),
        BinaryOp::Max => lhs
            .iter_mut()
            .zip(rhs)
            .for_each(|(a, &b)| *a = larger(*a, b)),
        BinaryOp::Min => lhs
            .iter_mut()
            .zip(rhs)
            .for_each(|(a, &b)| *a = smaller(*a, b)),
    }
}

/// The gradient of a binary operation with head gradient `g` (`_backward_add`, `_backward_sub`,
/// `_backward_mul`, `_backward_div`, and the maximum's and minimum's): `dlhs =
/// g·∂(lhs∘rhs)/∂lhs`, `drhs` likewise. Add and sub do not read `lhs` and `rhs` (they may be
/// empty).
pub fn binary_backward<T: Num>(
    op: BinaryOp,
    g: &[T],
    lhs: &[T],
    rhs: &[T],
    dlhs: &mut [T],
    drhs: &mut [T],
) {
    match op {
        BinaryOp::Add => {
            map(g, dlhs, move |v| v);
            map(g, drhs, move |v| v);
        }
        BinaryOp::Sub => {
            map(g, dlhs, move |v| v);
            map(g, drhs, T::negate);
        }
        BinaryOp::Mul => {
            zip_map(g, rhs, dlhs, T::times);
            zip_map(g, lhs, drhs, T::times);
        }
        BinaryOp::Div => {
            zip_map(g, rhs, dlhs, T::divide);
            // d(a/b)/db = -a / b²
            for (d, (&gv, (&a, &b))) in drhs.iter_mut().zip(g.iter().zip(lhs.iter().zip(rhs))) {
                *d = gv.times(a.negate().divide(b.times(b)));
            }
        }
        BinaryOp::Max | BinaryOp::Min => {
            let max = op == BinaryOp::Max;
            for (i, &gv) in g.iter().enumerate() {
                let (a, b) = (lhs[i], rhs[i]);
                dlhs[i] = extreme_grad(max, true, gv, a, b);
                drhs[i] = extreme_grad(max, false, gv, a, b);
            }
        }
    }
}
