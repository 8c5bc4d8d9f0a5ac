//! The built-in operators, one file per family; each registers its [`OpDef`](crate::registry::OpDef)s with
//! `inventory::submit!`. Names, parameters and numerics follow MXNet 1.9.1
//! (shared/spec/operators.md).

use crate::Result;
use crate::registry::attrs::{AttrParser, ParamSpec};

pub mod activation;
pub mod batch_norm;
pub mod broadcast;
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
pub mod pooling;
pub mod reduce;
pub mod reshape;
pub mod scalar;
pub mod softmax;
pub mod transpose;
pub mod unary;

/// The parameter listing of an operator without parameters.
pub(crate) fn no_params() -> Vec<ParamSpec> {
    Vec::new()
}

/// Checks that an operator without parameters was given none (user `__attrs__` excepted).
pub(crate) fn parse_no_params(op: &'static str, attrs: &[(&str, &str)]) -> Result<()> {
    AttrParser::new(op, attrs.iter().copied()).finish()
}

/// Shape inference of element-wise operators: every input and output has one shape, taken
/// from whichever is known (in both directions).
pub(crate) fn same_shape(shapes: &mut crate::registry::ShapeCtx<'_>) -> Result<()> {
    let mut merged = crate::registry::Shape::unknown();
    for i in 0..shapes.num_inputs() {
        merged
            .merge(shapes.input(i))
            .map_err(|reason| shapes.error(format!("inputs must have one shape: {reason}")))?;
    }
    for i in 0..shapes.num_outputs() {
        merged
            .merge(shapes.output(i))
            .map_err(|reason| shapes.error(reason))?;
    }
    for i in 0..shapes.num_inputs() {
        shapes.set_input(i, merged.clone())?;
    }
    for i in 0..shapes.num_outputs() {
        shapes.set_output(i, merged.clone())?;
    }
    Ok(())
}
