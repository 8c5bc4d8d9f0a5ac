//! mxr-kernels: the compute bodies of mxr's operators — `cpu/` in Rust, `cuda/` as CUDA C
//! sources compiled by NVRTC. Kernels know nothing about graphs or the registry; they may use only
//! the engine's device and buffer types.
//!
//! So far it holds the element types ([`DType`], [`Element`]); the operator issue adds the
//! kernels.
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod cpu;
pub mod cuda;
mod element;

pub use element::{DType, Element};
pub use half::f16;
