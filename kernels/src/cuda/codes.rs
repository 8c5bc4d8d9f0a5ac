//! Codes shared by Rust launchers and CUDA sources, defined here once: every source is compiled
//! after [`header`], which `#define`s each code (`MXR_ACT_RELU`), and the sources switch on
//! those names, so the two sides cannot drift apart.

use std::fmt::Write as _;
use std::sync::OnceLock;

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
