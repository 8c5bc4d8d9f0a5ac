//! Typed constructors for common operators (MXNet's `mx.sym.FullyConnected`, ...). Each takes
//! the inputs and required parameters and returns an [`OpBuilder`] for the optional ones, the
//! name and further inputs; every other registry operator is reachable through
//! [`OpBuilder::new`] or [`Symbol::op`].
//!
//! ```
//! use mxr::sym::{Symbol, activation, fully_connected, softmax_output};
//! let data = Symbol::variable("data");
//! let fc1 = fully_connected(&data, 128).name("fc1").build()?;
//! let act1 = activation(&fc1, "relu").name("relu1").build()?;
//! let fc2 = fully_connected(&act1, 10).name("fc2").param("no_bias", true).build()?;
//! let out = softmax_output(&fc2).name("softmax").build()?;
//! assert_eq!(out.list_arguments(), ["data", "fc1_weight", "fc1_bias", "fc2_weight", "softmax_label"]);
//! # Ok::<(), mxr::Error>(())
//! ```

use super::compose::OpBuilder;
use super::symbol::Symbol;

/// `FullyConnected`: `data · weightᵀ + bias` with `num_hidden` outputs (inputs `weight`, `bias`
/// are created as `<name>_weight`, `<name>_bias` unless given).
pub fn fully_connected(data: &Symbol, num_hidden: usize) -> OpBuilder {
    OpBuilder::new("FullyConnected")
        .input("data", data)
        .param("num_hidden", num_hidden)
}

/// `Activation` with `act_type` ∈ relu, sigmoid, tanh, softrelu, softsign.
pub fn activation(data: &Symbol, act_type: &str) -> OpBuilder {
    OpBuilder::new("Activation")
        .input("data", data)
        .param("act_type", act_type)
}

/// `LeakyReLU` with `act_type` ∈ leaky, prelu, rrelu, elu, selu, gelu (prelu adds a `gamma`
/// input).
pub fn leaky_relu(data: &Symbol, act_type: &str) -> OpBuilder {
    OpBuilder::new("LeakyReLU")
        .input("data", data)
        .param("act_type", act_type)
}

/// `SoftmaxOutput`: softmax with a cross-entropy gradient against `label` (created as
/// `<name>_label` unless given).
pub fn softmax_output(data: &Symbol) -> OpBuilder {
    OpBuilder::new("SoftmaxOutput").input("data", data)
}

/// `Convolution` with a `kernel` of 1–3 dimensions and `num_filter` output channels.
pub fn convolution(data: &Symbol, kernel: &[usize], num_filter: usize) -> OpBuilder {
    OpBuilder::new("Convolution")
        .input("data", data)
        .param("kernel", kernel)
        .param("num_filter", num_filter)
}

/// `Pooling` with a `kernel` and `pool_type` ∈ max, avg, sum, lp.
pub fn pooling(data: &Symbol, kernel: &[usize], pool_type: &str) -> OpBuilder {
    OpBuilder::new("Pooling")
        .input("data", data)
        .param("kernel", kernel)
        .param("pool_type", pool_type)
}

/// `Flatten`: (N, product of the other dimensions).
pub fn flatten(data: &Symbol) -> OpBuilder {
    OpBuilder::new("Flatten").input("data", data)
}

/// `BatchNorm`: inputs `gamma`, `beta` and the auxiliary states `moving_mean`, `moving_var`
/// are created unless given.
pub fn batch_norm(data: &Symbol) -> OpBuilder {
    OpBuilder::new("BatchNorm").input("data", data)
}

/// `Dropout` with drop probability `p`.
pub fn dropout(data: &Symbol, p: f64) -> OpBuilder {
    OpBuilder::new("Dropout").input("data", data).param("p", p)
}

/// `Embedding` of `input_dim` ids into `output_dim` vectors.
pub fn embedding(data: &Symbol, input_dim: usize, output_dim: usize) -> OpBuilder {
    OpBuilder::new("Embedding")
        .input("data", data)
        .param("input_dim", input_dim)
        .param("output_dim", output_dim)
}

/// `Concat` (called as `concat`) along `dim`; `num_args` is filled in.
pub fn concat(inputs: &[&Symbol], dim: i64) -> OpBuilder {
    OpBuilder::new("Concat")
        .hint("concat")
        .args(inputs.iter().copied())
        .param("dim", dim)
}

/// `Reshape` (called as `reshape`) to `shape`, with MXNet's special values 0, -1, -2, -3, -4.
pub fn reshape(data: &Symbol, shape: &[i64]) -> OpBuilder {
    OpBuilder::new("Reshape")
        .hint("reshape")
        .input("data", data)
        .param("shape", shape)
}

/// `SliceChannel` called as `split` (node `split0`) into `num_outputs` outputs.
pub fn split(data: &Symbol, num_outputs: usize) -> OpBuilder {
    OpBuilder::new("split")
        .input("data", data)
        .param("num_outputs", num_outputs)
}

/// `SliceChannel` called by that name (node `slicechannel0`).
pub fn slice_channel(data: &Symbol, num_outputs: usize) -> OpBuilder {
    OpBuilder::new("SliceChannel")
        .input("data", data)
        .param("num_outputs", num_outputs)
}

/// `softmax` along the last axis (set `axis` for another).
pub fn softmax(data: &Symbol) -> OpBuilder {
    OpBuilder::new("softmax").input("data", data)
}

/// `pick`: the element of every lane of `data` along the last axis at the position `index`
/// gives (set `axis`, `keepdims`, `mode` for others).
///
/// ```
/// use mxr::sym::{Symbol, pick};
/// let p = pick(&Symbol::variable("data"), &Symbol::variable("label")).param("axis", 1).build()?;
/// assert_eq!(p.list_arguments(), ["data", "label"]);
/// # Ok::<(), mxr::Error>(())
/// ```
pub fn pick(data: &Symbol, index: &Symbol) -> OpBuilder {
    OpBuilder::new("pick")
        .input("data", data)
        .input("index", index)
}

/// `dot`: matrix product.
pub fn dot(lhs: &Symbol, rhs: &Symbol) -> OpBuilder {
    OpBuilder::new("dot").input("lhs", lhs).input("rhs", rhs)
}

macro_rules! unary_helpers {
    ($($(#[$doc:meta])* $name:ident => $op:literal),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(data: &Symbol) -> OpBuilder {
            OpBuilder::new($op).input("data", data)
        }
    )*};
}

unary_helpers! {
    /// `relu`: element-wise `max(x, 0)`.
    relu => "relu",
    /// `sigmoid`: element-wise `1 / (1 + e^-x)`.
    sigmoid => "sigmoid",
    /// `tanh`: element-wise hyperbolic tangent.
    tanh => "tanh",
    /// `exp`: element-wise `e^x`.
    exp => "exp",
    /// `log`: element-wise natural logarithm.
    log => "log",
    /// `sqrt`: element-wise square root.
    sqrt => "sqrt",
    /// `square`: element-wise `x²`.
    square => "square",
    /// `abs`: element-wise absolute value.
    abs => "abs",
    /// `sum` over all axes (set `axis`, `keepdims` for others).
    sum => "sum",
    /// `mean` over all axes (set `axis`, `keepdims` for others).
    mean => "mean",
}

macro_rules! binary_helpers {
    ($($(#[$doc:meta])* $name:ident => $op:literal),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(lhs: &Symbol, rhs: &Symbol) -> OpBuilder {
            OpBuilder::new($op).input("lhs", lhs).input("rhs", rhs)
        }
    )*};
}

binary_helpers! {
    /// `elemwise_add`: `lhs + rhs`, same shapes.
    elemwise_add => "elemwise_add",
    /// `elemwise_sub`: `lhs - rhs`, same shapes.
    elemwise_sub => "elemwise_sub",
    /// `elemwise_mul`: `lhs * rhs`, same shapes.
    elemwise_mul => "elemwise_mul",
    /// `elemwise_div`: `lhs / rhs`, same shapes.
    elemwise_div => "elemwise_div",
    /// `broadcast_add`: `lhs + rhs` with numpy broadcasting.
    broadcast_add => "broadcast_add",
    /// `broadcast_sub`: `lhs - rhs` with numpy broadcasting.
    broadcast_sub => "broadcast_sub",
    /// `broadcast_mul`: `lhs * rhs` with numpy broadcasting.
    broadcast_mul => "broadcast_mul",
    /// `broadcast_div`: `lhs / rhs` with numpy broadcasting.
    broadcast_div => "broadcast_div",
}
