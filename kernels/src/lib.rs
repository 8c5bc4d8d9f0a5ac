//! mxr-kernels: the compute bodies of mxr's operators — `cpu/` in Rust, `cuda/` as CUDA C
//! sources compiled by NVRTC. Kernels know nothing about graphs or the registry; they may use only
//! the engine's device and buffer types.
//!
//! This crate is laid out by the workspace issue and filled by the operator issue: it holds no
//! kernels yet.
#![forbid(unsafe_op_in_unsafe_fn)]
