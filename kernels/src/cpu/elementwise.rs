//! Element-wise kernels (unary maps, binary maps, scalar forms) and their gradients.
//!
//! Every kernel is a plain function on slices, generic over [`Num`] (`f32`, `f64`, `i32`,
//! `i64`, `u8`, `i8`) and written as one tight loop per operation so that LLVM vectorises it.
//! The operation is chosen once, outside the loop. Inputs and outputs of one call have the same
//! length (the operators guarantee it through shape inference); where they differ, only the
//! common prefix is processed, never out of bounds.
//!
//! Numerics follow MXNet 1.9.1 (`mshadow_op.h`): integer arithmetic wraps, integer division
//! truncates (division by zero gives 0, as numpy does, where MXNet would trap), transcendental
//! functions of integers are computed in `f64` and cast back, and a scalar operand is first
//! cast to the element type (`int32 [1, 2] + 1.5` is `[2, 3]`).
//!
//! ```
//! use mxr_kernels::cpu::elementwise::{scalar_inplace, unary, ScalarOp, UnaryOp};
//! let mut x = [1.0f32, -2.0, 3.0];
//! scalar_inplace(ScalarOp::Plus, &mut x, 1.0);
//! assert_eq!(x, [2.0, -1.0, 4.0]);
//! let mut y = [0.0f32; 3];
//! unary(UnaryOp::Relu, &x, &mut y);
//! assert_eq!(y, [2.0, 0.0, 4.0]);
//! ```

use std::fmt;

use super::parallel::for_each_chunk_mut;

mod binary;
mod cast;
mod hard_sigmoid;
mod leaky;
mod special;
pub use binary::{BinaryOp, binary, binary_backward, binary_inplace, extreme_grad};
pub use cast::cast;
pub use hard_sigmoid::{hard_sigmoid, hard_sigmoid_backward, hard_sigmoid_inplace};
pub use leaky::{
    LeakyAct, SELU_ALPHA, SELU_LAMBDA, leaky, leaky_backward, leaky_inplace, prelu, prelu_backward,
    rrelu, rrelu_backward,
};
pub use special::{erf, tanh_f32};

/// A numeric element type the element-wise kernels compute on: `f32`, `f64`, `i32`, `i64`, `u8`
/// and `i8`. Integer arithmetic wraps; functions without an integer meaning (`exp`, `tanh`, ...)
/// go through `f64` and are cast back with [`Num::from_f64`].
pub trait Num: Copy + PartialOrd + Send + Sync + fmt::Debug + 'static {
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// C's cast from `f64` (`DType(x)` in MXNet): truncation toward zero for integers,
    /// saturating at the type's bounds (NaN gives 0).
    fn from_f64(v: f64) -> Self;
    /// The value as `f64`.
    fn to_f64(self) -> f64;
    /// `self + rhs` (wrapping for integers).
    fn plus(self, rhs: Self) -> Self;
    /// `self - rhs` (wrapping for integers).
    fn minus(self, rhs: Self) -> Self;
    /// `self * rhs` (wrapping for integers).
    fn times(self, rhs: Self) -> Self;
    /// `self / rhs`; integers truncate, and an integer division by zero gives 0.
    fn divide(self, rhs: Self) -> Self;
    /// `-self` (wrapping for integers).
    fn negate(self) -> Self;
    /// `|self|` (wrapping for integers).
    fn absolute(self) -> Self;
    /// `self` raised to `e` (`pow`); integers through `f64`.
    fn power(self, e: Self) -> Self;
    /// `e^self`.
    fn exp(self) -> Self;
    /// The natural logarithm.
    fn ln(self) -> Self;
    /// The square root.
    fn sqrt(self) -> Self;
    /// The hyperbolic tangent.
    fn tanh(self) -> Self;
    /// `1 / (1 + e^-self)`.
    fn sigmoid(self) -> Self;
    /// `e^self - 1`, precise near 0.
    fn exp_m1(self) -> Self;
    /// `ln(1 + self)`, precise near 0.
    fn ln_1p(self) -> Self;
}

macro_rules! float_num {
    ($($t:ident),*) => {$(
        impl Num for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn plus(self, rhs: Self) -> Self {
                self + rhs
            }
            #[inline(always)]
            fn minus(self, rhs: Self) -> Self {
                self - rhs
            }
            #[inline(always)]
            fn times(self, rhs: Self) -> Self {
                self * rhs
            }
            #[inline(always)]
            fn divide(self, rhs: Self) -> Self {
                self / rhs
            }
            #[inline(always)]
            fn negate(self) -> Self {
                -self
            }
            #[inline(always)]
            fn absolute(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn power(self, e: Self) -> Self {
                <$t>::powf(self, e)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                // f32: a branch-free rational approximation that vectorizes (libm's is scalar);
                // f64 keeps libm. The size test is a constant the compiler folds.
                if std::mem::size_of::<$t>() == 4 {
                    tanh_f32(self as f32) as $t
                } else {
                    <$t>::tanh(self)
                }
            }
            #[inline(always)]
            fn sigmoid(self) -> Self {
                1.0 / (1.0 + <$t>::exp(-self))
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                <$t>::exp_m1(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
        }
    )*};
}

float_num!(f32, f64);

macro_rules! int_num {
    ($($t:ident),*) => {$(
        impl Num for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn plus(self, rhs: Self) -> Self {
                self.wrapping_add(rhs)
            }
            #[inline(always)]
            fn minus(self, rhs: Self) -> Self {
                self.wrapping_sub(rhs)
            }
            #[inline(always)]
            fn times(self, rhs: Self) -> Self {
                self.wrapping_mul(rhs)
            }
            #[inline(always)]
            fn divide(self, rhs: Self) -> Self {
                if rhs == 0 { 0 } else { self.wrapping_div(rhs) }
            }
            #[inline(always)]
            fn negate(self) -> Self {
                self.wrapping_neg()
            }
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn absolute(self) -> Self {
                if self < 0 { self.wrapping_neg() } else { self }
            }
            #[inline(always)]
            fn power(self, e: Self) -> Self {
                Self::from_f64(self.to_f64().powf(e.to_f64()))
            }
            #[inline(always)]
            fn exp(self) -> Self {
                Self::from_f64(self.to_f64().exp())
            }
            #[inline(always)]
            fn ln(self) -> Self {
                Self::from_f64(self.to_f64().ln())
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                Self::from_f64(self.to_f64().sqrt())
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                Self::from_f64(self.to_f64().tanh())
            }
            #[inline(always)]
            fn sigmoid(self) -> Self {
                Self::from_f64(1.0 / (1.0 + (-self.to_f64()).exp()))
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                Self::from_f64(self.to_f64().exp_m1())
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                Self::from_f64(self.to_f64().ln_1p())
            }
        }
    )*};
}

int_num!(i32, i64, u8, i8);

/// `out[i] = f(x[i])`.
#[inline(always)]
fn map<T: Copy + Sync, U: Send>(x: &[T], out: &mut [U], f: impl Fn(T) -> U + Sync + Copy) {
    match parallel_chunk(out.len()) {
        Some(per) => for_each_chunk_mut(out, per, |i, o| {
            map_seq(&x[part(i, per, o.len(), x.len())], o, f);
        }),
        None => map_seq(x, out, f),
    }
}

#[inline(always)]
fn map_seq<T: Copy, U>(x: &[T], out: &mut [U], f: impl Fn(T) -> U + Copy) {
    // `move`: the loop gets `f` (and its captured scalars) by value, so that the compiler
    // knows the stores to `out` cannot change them and vectorises.
    vectorized(move || {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = f(v);
        }
    });
}

/// Runs `f` (an elementwise loop, inlined into it) compiled for the widest vectors this CPU
/// has, AVX-512 or AVX2, instead of the baseline target's SSE2. Each element's arithmetic is
/// the same (no reductions, and Rust does not contract multiply-adds), so the results are the
/// same bits.
#[inline(always)]
fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        use super::isa::Isa;
        let isa = Isa::current();
        if isa >= Isa::Avx512 {
            // SAFETY: AVX-512F is available (the current instruction set includes it).
            return unsafe { with_avx512(f) };
        }
        if isa >= Isa::Avx2 {
            // SAFETY: AVX2 is available (the current instruction set includes it).
            return unsafe { with_avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Arrays at least this long are split across threads (elementwise results do not depend on it).
const PARALLEL_MIN_LEN: usize = 1 << 17;

/// The chunk length for a parallel pass over `len` elements, or `None` to stay on one thread.
fn parallel_chunk(len: usize) -> Option<usize> {
    let parts = super::parallel::num_threads().min(len / PARALLEL_MIN_LEN);
    (parts > 1).then(|| len.div_ceil(parts))
}

/// The elements of an input of `len` that chunk `i` (of `per`, this one `n` long) of the output
/// reads: as the sequential loops zip, an input shorter than the output is read as far as it
/// goes.
fn part(i: usize, per: usize, n: usize, len: usize) -> std::ops::Range<usize> {
    (i * per).min(len)..(i * per + n).min(len)
}

/// `data[i] = f(data[i])`.
#[inline(always)]
fn map_inplace<T: Copy + Send>(data: &mut [T], f: impl Fn(T) -> T + Sync + Copy) {
    match parallel_chunk(data.len()) {
        Some(per) => for_each_chunk_mut(data, per, |_, d| {
            vectorized(move || d.iter_mut().for_each(|v| *v = f(*v)));
        }),
        None => vectorized(move || data.iter_mut().for_each(|v| *v = f(*v))),
    }
}

/// Where a function is applied element by element: from an input into an output
/// ([`map`]) or in place ([`map_inplace`]), so that one `match` over an operation serves both.
trait Apply<T> {
    /// Applies `f` to every element.
    fn apply(self, f: impl Fn(T) -> T + Sync + Copy);
}

/// `(x, out)`: `out[i] = f(x[i])`.
struct Into<'a, T>(&'a [T], &'a mut [T]);

impl<T: Copy + Send + Sync> Apply<T> for Into<'_, T> {
    #[inline(always)]
    fn apply(self, f: impl Fn(T) -> T + Sync + Copy) {
        map(self.0, self.1, f);
    }
}

/// `data[i] = f(data[i])`.
struct InPlace<'a, T>(&'a mut [T]);

impl<T: Copy + Send> Apply<T> for InPlace<'_, T> {
    #[inline(always)]
    fn apply(self, f: impl Fn(T) -> T + Sync + Copy) {
        map_inplace(self.0, f);
    }
}

/// `out[i] = f(a[i], b[i])`.
#[inline(always)]
fn zip_map<A: Copy + Sync, B: Copy + Sync, U: Send>(
    a: &[A],
    b: &[B],
    out: &mut [U],
    f: impl Fn(A, B) -> U + Sync + Copy,
) {
    let seq = |a: &[A], b: &[B], out: &mut [U]| {
        vectorized(move || {
            for (o, (&u, &v)) in out.iter_mut().zip(a.iter().zip(b)) {
                *o = f(u, v);
            }
        });
    };
    match parallel_chunk(out.len()) {
        Some(per) => for_each_chunk_mut(out, per, |i, o| {
            seq(
                &a[part(i, per, o.len(), a.len())],
                &b[part(i, per, o.len(), b.len())],
                o,
            );
        }),
        None => seq(a, b, out),
    }
}

// ---------------------------------------------------------------------------------------------
// Scalar

/// An operation between an array and a scalar (`_plus_scalar`, ...). The declaration order is
/// the GPU code ([`crate::cuda::codes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarOp {
    /// `x + s`.
    Plus,
    /// `x - s`.
    Minus,
    /// `s - x`.
    RMinus,
    /// `x * s`.
    Mul,
    /// `x / s`.
    Div,
    /// `s / x`.
    RDiv,
    /// `x ^ s`.
    Power,
}

impl ScalarOp {
    /// The operation on one value.
    #[inline(always)]
    pub fn apply<T: Num>(self, x: T, s: T) -> T {
        match self {
            ScalarOp::Plus => x.plus(s),
            ScalarOp::Minus => x.minus(s),
            ScalarOp::RMinus => s.minus(x),
            ScalarOp::Mul => x.times(s),
            ScalarOp::Div => x.divide(s),
            ScalarOp::RDiv => s.divide(x),
            ScalarOp::Power => x.power(s),
        }
    }
}

/// `out = x ∘ s` element by element (`s` already cast to the element type).
pub fn scalar<T: Num>(op: ScalarOp, x: &[T], s: T, out: &mut [T]) {
    scalar_to(op, s, Into(x, out));
}

/// `data = data ∘ s` in place.
pub fn scalar_inplace<T: Num>(op: ScalarOp, data: &mut [T], s: T) {
    scalar_to(op, s, InPlace(data));
}

/// `∘ s` applied at `to`, with one loop per operation.
#[inline(always)]
fn scalar_to<T: Num>(op: ScalarOp, s: T, to: impl Apply<T>) {
    match op {
        ScalarOp::Plus => to.apply(move |v| v.plus(s)),
        ScalarOp::Minus => to.apply(move |v| v.minus(s)),
        ScalarOp::RMinus => to.apply(move |v| s.minus(v)),
        ScalarOp::Mul => to.apply(move |v| v.times(s)),
        ScalarOp::Div => to.apply(move |v| v.divide(s)),
        ScalarOp::RDiv => to.apply(move |v| s.divide(v)),
        ScalarOp::Power => to.apply(move |v| v.power(s)),
    }
}

/// The gradient of a scalar operation with head gradient `g` and forward input `x`
/// (`_backward_mul_scalar` g·s, `_backward_div_scalar` g/s, `_backward_rdiv_scalar` g·(−s/x²),
/// `_backward_power_scalar` g·s·x^(s−1)); plus and minus give `g`, rminus `−g`. Only rdiv and
/// power read `x` (it may be empty otherwise).
pub fn scalar_backward<T: Num>(op: ScalarOp, g: &[T], x: &[T], s: T, out: &mut [T]) {
    match op {
        ScalarOp::Plus | ScalarOp::Minus => map(g, out, move |v| v),
        ScalarOp::RMinus => map(g, out, T::negate),
        ScalarOp::Mul => map(g, out, move |v| v.times(s)),
        ScalarOp::Div => map(g, out, move |v| v.divide(s)),
        ScalarOp::RDiv => zip_map(g, x, out, move |gv, xv| {
            gv.times(s.negate().divide(xv.times(xv)))
        }),
        ScalarOp::Power => {
            let s1 = s.minus(T::ONE);
            zip_map(g, x, out, move |gv, xv| gv.times(xv.power(s1).times(s)));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Unary

/// A unary math function (the `negative`, `exp`, ... operators and `Activation`'s functions).
/// The declaration order is the GPU code ([`crate::cuda::codes`]), shared with [`UnaryGrad`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`.
    Negative,
    /// `eˣ`.
    Exp,
    /// `ln x`.
    Log,
    /// `√x`.
    Sqrt,
    /// `x²`.
    Square,
    /// `|x|`.
    Abs,
    /// `tanh x`.
    Tanh,
    /// `1 / (1 + e⁻ˣ)`.
    Sigmoid,
    /// `max(x, 0)`; NaN passes through.
    Relu,
    /// `ln(1 + eˣ)`, or `x` when `x > 20`.
    SoftRelu,
    /// `x / (1 + |x|)`.
    SoftSign,
}

/// `max(x, 0)` with NaN passed through (MXNet's `relu`).
#[inline(always)]
fn relu<T: Num>(v: T) -> T {
    // NaN fails `<=`, so it is kept.
    if v <= T::ZERO { T::ZERO } else { v }
}

#[inline(always)]
fn softrelu<T: Num>(v: T) -> T {
    if v > T::from_f64(20.0) {
        v
    } else {
        v.exp().ln_1p()
    }
}

#[inline(always)]
fn softsign<T: Num>(v: T) -> T {
    v.divide(T::ONE.plus(v.absolute()))
}

/// `out = f(x)` element by element.
pub fn unary<T: Num>(op: UnaryOp, x: &[T], out: &mut [T]) {
    unary_to(op, Into(x, out));
}

/// `data = f(data)` in place.
pub fn unary_inplace<T: Num>(op: UnaryOp, data: &mut [T]) {
    unary_to(op, InPlace(data));
}

/// `f` applied at `to`, with one loop per function.
#[inline(always)]
fn unary_to<T: Num>(op: UnaryOp, to: impl Apply<T>) {
    match op {
        UnaryOp::Negative => to.apply(T::negate),
        UnaryOp::Exp => to.apply(T::exp),
        UnaryOp::Log => to.apply(T::ln),
        UnaryOp::Sqrt => to.apply(T::sqrt),
        UnaryOp::Square => to.apply(move |v| v.times(v)),
        UnaryOp::Abs => to.apply(T::absolute),
        UnaryOp::Tanh => to.apply(T::tanh),
        UnaryOp::Sigmoid => to.apply(T::sigmoid),
        UnaryOp::Relu => to.apply(relu),
        UnaryOp::SoftRelu => to.apply(softrelu),
        UnaryOp::SoftSign => to.apply(softsign),
    }
}

/// The derivative of a unary function, and which forward value it is computed from. In
/// [`UnaryOp`]'s order (the GPU codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryGrad {
    /// `negative`: `−g` (reads nothing).
    Negative,
    /// `exp` from the output `y`: `g·y`.
    Exp,
    /// `log` from the input: `g / x`.
    Log,
    /// `sqrt` from the output: `g / (2y)`.
    Sqrt,
    /// `square` from the input: `g·2x`.
    Square,
    /// `abs` from the input: `g·sign(x)` (0 at 0).
    Abs,
    /// `tanh` from the output: `g·(1 − y²)`.
    Tanh,
    /// `sigmoid` from the output: `g·y·(1 − y)`.
    Sigmoid,
    /// `relu` from the output: `g` where `y > 0`, else 0.
    Relu,
    /// `softrelu` from the output: `g·(1 − e⁻ʸ)`.
    SoftRelu,
    /// `softsign` from the input: `g / (1 + |x|)²`.
    SoftSign,
}

impl UnaryGrad {
    /// Whether the derivative is computed from the forward output (else from the input).
    pub fn uses_output(self) -> bool {
        matches!(
            self,
            UnaryGrad::Exp
                | UnaryGrad::Sqrt
                | UnaryGrad::Tanh
                | UnaryGrad::Sigmoid
                | UnaryGrad::Relu
                | UnaryGrad::SoftRelu
        )
    }
}

/// `out = g·f'(...)`, with `v` the forward input or output as [`UnaryGrad`] documents
/// (`Negative` does not read `v`).
pub fn unary_backward<T: Num>(op: UnaryGrad, g: &[T], v: &[T], out: &mut [T]) {
    let two = T::from_f64(2.0);
    match op {
        UnaryGrad::Negative => map(g, out, T::negate),
        UnaryGrad::Exp => zip_map(g, v, out, T::times),
        UnaryGrad::Log => zip_map(g, v, out, T::divide),
        UnaryGrad::Sqrt => zip_map(g, v, out, move |gv, y| gv.divide(two.times(y))),
        UnaryGrad::Square => zip_map(g, v, out, move |gv, x| gv.times(two.times(x))),
        UnaryGrad::Abs => zip_map(g, v, out, move |gv, x| {
            if x > T::ZERO {
                gv
            } else if x < T::ZERO {
                gv.negate()
            } else {
                T::ZERO
            }
        }),
        UnaryGrad::Tanh => zip_map(g, v, out, move |gv, y| gv.times(T::ONE.minus(y.times(y)))),
        UnaryGrad::Sigmoid => zip_map(g, v, out, move |gv, y| gv.times(y.times(T::ONE.minus(y)))),
        UnaryGrad::Relu => zip_map(
            g,
            v,
            out,
            move |gv, y| if y > T::ZERO { gv } else { T::ZERO },
        ),
        UnaryGrad::SoftRelu => zip_map(g, v, out, move |gv, y| {
            gv.times(y.negate().exp_m1().negate())
        }),
        UnaryGrad::SoftSign => zip_map(g, v, out, move |gv, x| {
            let d = T::ONE.plus(x.absolute());
            gv.divide(d.times(d))
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// clip

#[inline(always)]
fn clip_one<T: Num>(v: T, lo: T, hi: T) -> T {
    // NaN fails both comparisons and passes through, as in MXNet.
    if v > hi {
        hi
    } else if v < lo {
        lo
    } else {
        v
    }
}

/// `out = clip(x, lo, hi)`: `hi` above `hi`, `lo` below `lo`.
pub fn clip<T: Num>(x: &[T], lo: T, hi: T, out: &mut [T]) {
    map(x, out, move |v| clip_one(v, lo, hi));
}

/// [`clip`] in place.
pub fn clip_inplace<T: Num>(data: &mut [T], lo: T, hi: T) {
    map_inplace(data, move |v| clip_one(v, lo, hi));
}

/// `_backward_clip`: `g` where `lo <= x <= hi`, else 0.
pub fn clip_backward<T: Num>(g: &[T], x: &[T], lo: T, hi: T, out: &mut [T]) {
    zip_map(
        g,
        x,
        out,
        |gv, v| {
            if v > hi || v < lo { T::ZERO } else { gv }
        },
    );
}

// ---------------------------------------------------------------------------------------------
// where

/// `out = cond != 0 ? x : y`. `cond` has one value per element when `row == 1`, or one per
/// row of `row` elements (the 1-D condition of MXNet's `where`).
pub fn select<C: Num, T: Num>(cond: &[C], x: &[T], y: &[T], row: usize, out: &mut [T]) {
    if row == 1 {
        for (o, (&c, (&a, &b))) in out.iter_mut().zip(cond.iter().zip(x.iter().zip(y))) {
            *o = if c != C::ZERO { a } else { b };
        }
        return;
    }
    let rows = out
        .chunks_mut(row.max(1))
        .zip(x.chunks(row.max(1)).zip(y.chunks(row.max(1))));
    for (&c, (o, (a, b))) in cond.iter().zip(rows) {
        o.copy_from_slice(if c != C::ZERO { a } else { b });
    }
}

/// `_backward_where`: `dx = cond != 0 ? g : 0`, `dy = cond != 0 ? 0 : g` (rows as in
/// [`select`]).
pub fn select_backward<C: Num, T: Num>(
    g: &[T],
    cond: &[C],
    row: usize,
    dx: &mut [T],
    dy: &mut [T],
) {
    if row == 1 {
        for ((&c, &gv), (a, b)) in cond.iter().zip(g).zip(dx.iter_mut().zip(dy.iter_mut())) {
            let keep = c != C::ZERO;
            *a = if keep { gv } else { T::ZERO };
            *b = if keep { T::ZERO } else { gv };
        }
        return;
    }
    let n = row.max(1);
    let rows = g.chunks(n).zip(dx.chunks_mut(n).zip(dy.chunks_mut(n)));
    for (&c, (gr, (a, b))) in cond.iter().zip(rows) {
        let (to, zero) = if c != C::ZERO { (a, b) } else { (b, a) };
        to.copy_from_slice(gr);
        zero.fill(T::ZERO);
    }
}

#[cfg(test)]
mod tests;
