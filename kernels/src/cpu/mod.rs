//! CPU kernels.

pub mod batch_norm;
pub mod broadcast;
pub mod conv;
pub mod elementwise;
pub mod gemm;
pub mod isa;
pub mod parallel;
pub mod pick;
pub mod pooling;
pub mod random;
pub mod reduce;
pub(crate) mod scratch;
pub mod softmax;
pub mod sum;
#[cfg(test)]
pub(crate) mod test_util;
pub(crate) mod tile;
pub mod transpose;
