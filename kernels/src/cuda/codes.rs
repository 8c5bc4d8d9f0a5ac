//! Codes shared by Rust launchers and CUDA sources, defined here once: every source is compiled
//! after [`header`], which `#define`s each code (`MXR_ACT_RELU`), and the sources switch on
//! those names, so the two sides cannot drift apart. A launcher passes the value of the same
//! Rust item: an enum here, or the CPU kernels' own enum where it has no fields
//! ([`UnaryOp`], [`ScalarOp`], [`Reducer`], whose discriminants are the codes).

use std::fmt::Write as _;
use std::sync::OnceLock;

use crate::cpu::elementwise::{ScalarOp, UnaryGrad, UnaryOp};
use crate::cpu::reduce::Reducer;

/// An activation function of `activation.cu` (MXNet's `act_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ActCode {
    /// `max(x, 0)`.
    Relu = 0,
    /// `1 / (1 + exp(-x))`.
    Sigmoid = 1,
    /// `tanh(x)`.
    Tanh = 2,
    /// `log(1 + exp(x))`.
    SoftRelu = 3,
    /// `x / (1 + |x|)`.
    SoftSign = 4,
}

/// A binary arithmetic operation of `elemwise.cu` and `broadcast.cu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum BinaryCode {
    /// `a + b`.
    Add = 0,
    /// `a - b`.
    Sub = 1,
    /// `a * b`.
    Mul = 2,
    /// `a / b`.
    Div = 3,
    /// The larger, NaN when either is (MXNet's `maximum`).
    Max = 4,
    /// The smaller, NaN when either is (MXNet's `minimum`).
    Min = 5,
}

/// A fixed-slope activation of `leaky_relu.cu` (the forward and backward kernels' `act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum LeakyCode {
    /// `x > 0 ? x : p·x`.
    Leaky = 0,
    /// `x > 0 ? x : p·(eˣ − 1)`.
    Elu = 1,
    /// `x > 0 ? p·x : q·(eˣ − 1)`.
    Selu = 2,
    /// `x·Φ(x)`.
    Gelu = 3,
}

/// A window reduction of `pooling.cu` (the kernels' `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum PoolCode {
    /// The maximum.
    Max = 0,
    /// The mean.
    Avg = 1,
    /// The sum.
    Sum = 2,
}

/// The code of a unary function of `unary.cu`: the forward op's discriminant, which the
/// gradient of the same name shares (checked when [`CODES`] is evaluated, at compile time).
const fn unary(op: UnaryOp, grad: UnaryGrad) -> i32 {
    assert!(
        op as i32 == grad as i32,
        "UnaryOp and UnaryGrad in one order"
    );
    op as i32
}

/// Every code as (C name, value).
const CODES: &[(&str, i32)] = &[
    ("MXR_ACT_RELU", ActCode::Relu as i32),
    ("MXR_ACT_SIGMOID", ActCode::Sigmoid as i32),
    ("MXR_ACT_TANH", ActCode::Tanh as i32),
    ("MXR_ACT_SOFTRELU", ActCode::SoftRelu as i32),
    ("MXR_ACT_SOFTSIGN", ActCode::SoftSign as i32),
    ("MXR_BINARY_ADD", BinaryCode::Add as i32),
    ("MXR_BINARY_SUB", BinaryCode::Sub as i32),
    ("MXR_BINARY_MUL", BinaryCode::Mul as i32),
    ("MXR_BINARY_DIV", BinaryCode::Div as i32),
    ("MXR_BINARY_MAX", BinaryCode::Max as i32),
    ("MXR_BINARY_MIN", BinaryCode::Min as i32),
    ("MXR_LEAKY_LEAKY", LeakyCode::Leaky as i32),
    ("MXR_LEAKY_ELU", LeakyCode::Elu as i32),
    ("MXR_LEAKY_SELU", LeakyCode::Selu as i32),
    ("MXR_LEAKY_GELU", LeakyCode::Gelu as i32),
    ("MXR_POOL_MAX", PoolCode::Max as i32),
    ("MXR_POOL_AVG", PoolCode::Avg as i32),
    ("MXR_POOL_SUM", PoolCode::Sum as i32),
    ("MXR_REDUCE_SUM", Reducer::Sum as i32),
    ("MXR_REDUCE_MEAN", Reducer::Mean as i32),
    ("MXR_REDUCE_MAX", Reducer::Max as i32),
    ("MXR_REDUCE_MIN", Reducer::Min as i32),
    ("MXR_SCALAR_PLUS", ScalarOp::Plus as i32),
    ("MXR_SCALAR_MINUS", ScalarOp::Minus as i32),
    ("MXR_SCALAR_RMINUS", ScalarOp::RMinus as i32),
    ("MXR_SCALAR_MUL", ScalarOp::Mul as i32),
    ("MXR_SCALAR_DIV", ScalarOp::Div as i32),
    ("MXR_SCALAR_RDIV", ScalarOp::RDiv as i32),
    ("MXR_SCALAR_POWER", ScalarOp::Power as i32),
    (
        "MXR_UNARY_NEGATIVE",
        unary(UnaryOp::Negative, UnaryGrad::Negative),
    ),
    ("MXR_UNARY_EXP", unary(UnaryOp::Exp, UnaryGrad::Exp)),
    ("MXR_UNARY_LOG", unary(UnaryOp::Log, UnaryGrad::Log)),
    ("MXR_UNARY_SQRT", unary(UnaryOp::Sqrt, UnaryGrad::Sqrt)),
    (
        "MXR_UNARY_SQUARE",
        unary(UnaryOp::Square, UnaryGrad::Square),
    ),
    ("MXR_UNARY_ABS", unary(UnaryOp::Abs, UnaryGrad::Abs)),
    ("MXR_UNARY_TANH", unary(UnaryOp::Tanh, UnaryGrad::Tanh)),
    (
        "MXR_UNARY_SIGMOID",
        unary(UnaryOp::Sigmoid, UnaryGrad::Sigmoid),
    ),
    ("MXR_UNARY_RELU", unary(UnaryOp::Relu, UnaryGrad::Relu)),
    (
        "MXR_UNARY_SOFTRELU",
        unary(UnaryOp::SoftRelu, UnaryGrad::SoftRelu),
    ),
    (
        "MXR_UNARY_SOFTSIGN",
        unary(UnaryOp::SoftSign, UnaryGrad::SoftSign),
    ),
];

/// The C header of the codes, one `#define NAME VALUE` a line (compiled before every source,
/// after the prelude).
pub fn header() -> &'static str {
    static HEADER: OnceLock<String> = OnceLock::new();
    HEADER.get_or_init(|| {
        let mut text = String::from("// mxr: generated from kernels/src/cuda/codes.rs\n");
        for (name, value) in CODES {
            writeln!(text, "#define {name} {value}").expect("writing to a String");
        }
        text
    })
}
