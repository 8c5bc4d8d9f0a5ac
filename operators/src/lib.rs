//! mxr-operators: the operator registry (built-in ops through `inventory`, plugins through a C
//! ABI) and one description per MXNet operator: parameters, shape and type inference, kernels
//! per device, gradients.
//!
//! So far it provides typed operator parameters with MXNet's attribute-string rules
//! ([`registry::attrs`], the [`params!`] and [`attr_enum!`] macros); the registry and the
//! operators are being built by the operator issue.
#![deny(unsafe_code)]

mod error;
pub mod registry;

pub use error::{Error, Result};
