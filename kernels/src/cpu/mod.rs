//! CPU kernels.

pub mod gemm;
pub mod random;
