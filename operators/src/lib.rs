//! mxr-operators: the operator registry (built-in ops through `inventory`, plugins through a C
//! ABI) and one description per MXNet operator: parameters, shape and type inference, kernels
//! per device, gradients.
//!
//! This crate is laid out by the workspace issue and filled by the operator issue: it registers
//! no operators yet.
#![deny(unsafe_code)]
