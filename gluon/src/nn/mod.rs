//! Layers (MXNet's `gluon.nn`), each a [`HybridForward`](crate::HybridForward) with Gluon's
//! names, parameters and operator attributes.

mod activation;
mod basic;
mod conv;
mod norm;
mod pool;
mod sequential;

pub use activation::{Activation, LeakyReLU};
pub use basic::{Dense, Dropout, Embedding, Flatten};
pub use conv::{Conv, Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D, Conv3DTranspose};
pub use norm::{BatchNorm, LayerNorm};
pub use pool::{
    AvgPool1D, AvgPool2D, GlobalAvgPool2D, GlobalMaxPool2D, MaxPool1D, MaxPool2D, Pool,
};
pub use sequential::{HybridLambda, HybridSequential, Sequential};

use mxr_frontend::sym::Scalar;

use crate::Result;
use crate::block::Block;
use crate::naming::name_scope;
use crate::parameter::Parameter;
use crate::tensor::Tensor;

/// The activation child of a Dense or convolution layer: prefix `<act>_` in the layer's scope.
pub(crate) fn child_activation(layer_prefix: &str, act_type: &str) -> Activation {
    let prefix = format!("{act_type}_");
    name_scope(layer_prefix, || {
        Activation::with_prefix(act_type, Some(&prefix))
    })
}

/// The children of a layer with an optional activation child.
pub(crate) fn activation_child(act: &Option<Activation>) -> Vec<(String, &dyn Block)> {
    match act {
        Some(act) => vec![("act".to_owned(), act as &dyn Block)],
        None => Vec::new(),
    }
}

/// `op(x, weight[, bias])` named `fwd`, then the activation child if any: the body of Dense
/// and the convolutions.
pub(crate) fn weighted<F: Tensor>(
    op: &str,
    x: &F,
    weight: &Parameter,
    bias: Option<&Parameter>,
    attrs: &[(&str, &str)],
    act: Option<&Activation>,
) -> Result<Vec<F>> {
    let w = F::param(weight)?;
    let y = match bias {
        Some(b) => F::invoke1(op, Some("fwd"), &[x, &w, &F::param(b)?], attrs)?,
        None => F::invoke1(op, Some("fwd"), &[x, &w], attrs)?,
    };
    match act {
        Some(act) => F::call_block(act, &[y]),
        None => Ok(vec![y]),
    }
}

/// A tuple as Python's `str` writes it: `(3, 3)`, `(3,)`, `()`.
pub(crate) fn py_tuple(values: &[usize]) -> String {
    match values {
        [v] => format!("({v},)"),
        _ => {
            let parts: Vec<String> = values.iter().map(usize::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// A bool as Python's `str` writes it.
pub(crate) fn py_bool(v: bool) -> &'static str {
    if v { "True" } else { "False" }
}

/// A float as Python's `str` writes it (`0.9`, `1e-05`).
pub(crate) fn py_float(v: f64) -> String {
    Scalar::from(v).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_forms() {
        assert_eq!(py_tuple(&[3, 3]), "(3, 3)");
        assert_eq!(py_tuple(&[2]), "(2,)");
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(0.9), "0.9");
        assert_eq!(py_bool(false), "False");
    }
}
