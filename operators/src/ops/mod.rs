//! The built-in operators, one file per family; each registers its [`OpDef`](crate::registry::OpDef)s with
//! `inventory::submit!`. Names, parameters and numerics follow MXNet 1.9.1
//! (shared/spec/operators.md).

pub mod activation;
pub mod batch_norm;
pub mod broadcast;
pub mod cast;
pub(crate) mod common;
pub mod concat;
pub mod convolution;
pub mod dot;
pub mod dropout;
pub mod elemwise;
pub mod embedding;
pub mod fully_connected;
pub mod fused;
pub mod init;
pub mod loss;
pub mod one_hot;
pub mod optimizer;
pub mod pad;
pub mod pick;
pub mod pooling;
pub mod reduce;
pub mod reshape;
pub mod scalar;
pub mod softmax;
pub mod take;
pub mod transpose;
pub mod unary;

#[cfg(test)]
pub(crate) mod test_util;

pub(crate) use common::{no_params, parse_no_params, same_shape};
