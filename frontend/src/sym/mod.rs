//! Symbol, the declarative frontend (MXNet's `mx.sym`): graphs of registry operators built from
//! variables, with MXNet's naming rules, composition, queries, shape and type inference, and
//! JSON that MXNet 1.9.1 writes and reads byte for byte. Binding a symbol to arrays is the
//! executor's job ([`crate::exec`]).
//!
//! - Variables: [`Symbol::variable`], [`Symbol::var`] (shape, dtype, lr_mult, init hints).
//! - Operators: [`Symbol::op`] / [`OpBuilder`] for any registry operator, typed helpers
//!   ([`fully_connected`], [`activation`], [`convolution`], ...), and `+ - * /` with symbols and
//!   scalars ([`arith`](self#arithmetic)).
//! - Naming: [`NameManager`] (per-thread counters, `Prefix`), attributes: [`AttrScope`].
//! - Composition: [`Symbol::group`], [`Symbol::output`], [`Symbol::get_internals`],
//!   [`Symbol::compose`].
//! - Queries: [`Symbol::list_arguments`], [`Symbol::list_outputs`],
//!   [`Symbol::list_auxiliary_states`], [`Symbol::list_inputs`], [`Symbol::attr`].
//! - Inference: [`Symbol::infer_shape`], [`Symbol::infer_shape_partial`],
//!   [`Symbol::infer_type`].
//! - Files: [`Symbol::to_json`], [`Symbol::from_json`], [`Symbol::save`], [`Symbol::load`];
//!   [`Symbol::to_dot`] for Graphviz; [`Symbol::to_graph`] for the executor.
//!
//! # Arithmetic
//!
//! `&a + &b`, `&a * 5`, `2 / &a`, `-&a` build MXNet's nodes with MXNet's names (`_plus0`,
//! `_mulscalar0`, `_rdivscalar0`); an operand that does not fit gives a failed symbol whose
//! error surfaces at [`Symbol::check`] or at the next fallible call.
//!
//! ```
//! use mxr::sym::{NameManager, Symbol, fully_connected, activation, softmax_output};
//! let _names = NameManager::scope();
//! let data = Symbol::variable("data");
//! let fc1 = fully_connected(&data, 128).name("fc1").build()?;
//! let act = activation(&fc1, "relu").build()?;
//! let fc2 = fully_connected(&act, 10).build()?;
//! let net = softmax_output(&fc2).build()?;
//! assert_eq!(
//!     net.list_arguments(),
//!     ["data", "fc1_weight", "fc1_bias", "fullyconnected0_weight", "fullyconnected0_bias",
//!      "softmaxoutput0_label"]
//! );
//! let (args, outs, _) = net.infer_shape(&[("data", &[32, 784])])?;
//! assert_eq!(args[1], [128, 784]);
//! assert_eq!(outs[0], [32, 10]);
//! # Ok::<(), mxr::Error>(())
//! ```

mod arith;
mod attrs;
mod bind;
mod checkpoint;
mod compose;
mod dot;
mod infer;
mod json;
mod jsonfile;
mod jsonwriter;
mod naming;
mod node;
mod ops;
mod symbol;

pub use attrs::{AttrScope, ParamValue, Scalar};
pub use checkpoint::{NamedArrays, load_checkpoint, save_checkpoint};
pub use compose::OpBuilder;
pub use infer::{ShapeLists, TypeLists};
pub use naming::NameManager;
pub use ops::{
    abs, activation, batch_norm, broadcast_add, broadcast_div, broadcast_mul, broadcast_sub,
    concat, convolution, dot, dropout, elemwise_add, elemwise_div, elemwise_mul, elemwise_sub,
    embedding, exp, flatten, fully_connected, leaky_relu, log, mean, pick, pooling, relu, reshape,
    sigmoid, slice_channel, softmax, softmax_output, split, sqrt, square, sum, tanh,
};
pub use symbol::{Symbol, VarBuilder};

#[cfg(test)]
mod tests;
