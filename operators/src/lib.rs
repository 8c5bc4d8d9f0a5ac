//! mxr-operators: the operator registry (built-in ops through `inventory`, plugins through a C
//! ABI) and one description per MXNet operator: parameters, shape and type inference, kernels
//! per device, gradients.
//!
//! - [`registry`]: registration, look-up, the [`Operator`](registry::Operator) trait, shapes,
//!   tensors, gradients as graph nodes, typed parameters ([`params!`], [`attr_enum!`]).
//! - [`ops`]: the built-in operators, one file per family.
//! - [`check`]: running an operator on host data and checking its gradient against finite
//!   differences — for tests of built-in operators and of plugins.
#![forbid(unsafe_code)]

pub mod check;
mod error;
pub mod ops;
pub mod registry;

#[doc(hidden)]
pub mod __private {
    pub use mxr_kernels::DType;
}

pub use error::{Error, Result};
