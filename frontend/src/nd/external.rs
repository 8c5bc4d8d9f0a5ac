//! Nodes of the imperative tape computed outside it (a bound graph run as one step, as
//! MXNet's `CachedOp` is one node of its autograd graph), with their own backward.
//!
//! Such a node stands in the tape's graph as an operator without a kernel
//! ([`External`]): only its gradient is ever asked for, and that adds one
//! [`ExternalBackward`] node, which the tape runs by calling [`ExternalNode::backward`]
//! instead of dispatching a kernel.

use std::fmt;
use std::sync::Arc;

use mxr_operators::registry::{Call, Entry, GradCtx, Operator, ShapeCtx};

use super::ndarray::NDArray;
use crate::Result;

/// The backward of a node computed outside the tape.
pub trait ExternalNode: Send + Sync + fmt::Debug {
    /// Given one gradient per output of the node, the gradient of each of its inputs (`None`
    /// where none flows: zeros are used).
    fn backward(&self, ograds: &[NDArray]) -> Result<Vec<Option<NDArray>>>;
}

fn no_kernel(op: &str) -> mxr_operators::Error {
    mxr_operators::Error::Unsupported {
        op: op.into(),
        what: "running outside the imperative tape (the node was computed by its owner)".into(),
    }
}

/// The forward node: `num_inputs` inputs, `num_outputs` outputs, computed by its owner.
#[derive(Debug)]
pub(crate) struct External {
    pub(crate) node: Arc<dyn ExternalNode>,
    pub(crate) input_shapes: Vec<(Vec<usize>, mxr_kernels::DType)>,
    pub(crate) num_outputs: usize,
}

impl Operator for External {
    fn name(&self) -> &'static str {
        "_tape_external"
    }

    fn attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn num_inputs(&self) -> usize {
        self.input_shapes.len()
    }

    fn num_outputs(&self) -> usize {
        self.num_outputs
    }

    fn infer_shape(&self, _shapes: &mut ShapeCtx<'_>) -> mxr_operators::Result<()> {
        Err(no_kernel(self.name()))
    }

    fn forward(&self, _call: Call<'_, '_, '_>) -> mxr_operators::Result<()> {
        Err(no_kernel(self.name()))
    }

    fn gradient(&self, grad: &mut GradCtx<'_>) -> mxr_operators::Result<Vec<Option<Entry>>> {
        let backward = Arc::new(ExternalBackward {
            node: Arc::clone(&self.node),
            input_shapes: self.input_shapes.clone(),
            num_ograds: self.num_outputs,
        });
        let name = format!("{}_backward", grad.name);
        let outs = grad.builder.add_node(backward, &name, grad.ograds)?;
        Ok(outs.into_iter().map(Some).collect())
    }
}

/// The backward node: the output gradients in, one gradient per forward input out.
#[derive(Debug)]
pub(crate) struct ExternalBackward {
    node: Arc<dyn ExternalNode>,
    input_shapes: Vec<(Vec<usize>, mxr_kernels::DType)>,
    num_ograds: usize,
}

impl ExternalBackward {
    /// Runs the owner's backward on `ograds`: one array per forward input (zeros where the
    /// owner gives none).
    pub(crate) fn run(&self, ograds: &[NDArray]) -> Result<Vec<NDArray>> {
        let grads = self.node.backward(ograds)?;
        self.input_shapes
            .iter()
            .enumerate()
            .map(|(i, (shape, dtype))| match grads.get(i) {
                Some(Some(g)) => Ok(g.clone()),
                _ => {
                    let context = ograds
                        .first()
                        .map_or_else(super::current_context, NDArray::context);
                    NDArray::new(shape, *dtype, context)
                }
            })
            .collect()
    }
}

impl Operator for ExternalBackward {
    fn name(&self) -> &'static str {
        "_tape_external_backward"
    }

    fn attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn num_inputs(&self) -> usize {
        self.num_ograds
    }

    fn num_outputs(&self) -> usize {
        self.input_shapes.len()
    }

    fn infer_shape(&self, _shapes: &mut ShapeCtx<'_>) -> mxr_operators::Result<()> {
        Err(no_kernel(self.name()))
    }

    fn forward(&self, _call: Call<'_, '_, '_>) -> mxr_operators::Result<()> {
        Err(no_kernel(self.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nd::tape::Tape;

    /// `y = 3 x` computed outside the tape; its backward gives `3 dy`.
    #[derive(Debug)]
    struct Triple;

    impl ExternalNode for Triple {
        fn backward(&self, ograds: &[NDArray]) -> Result<Vec<Option<NDArray>>> {
            let g = crate::nd::invoke("_mul_scalar", &[&ograds[0]], &[("scalar", "3")])?;
            Ok(vec![g.into_iter().next()])
        }
    }

    #[test]
    fn an_external_node_takes_part_in_backward() {
        let mut tape = Tape::new(true);
        let x = tape.variable("x", NDArray::from_vec(&[2], vec![1.0f32, 2.0]).unwrap());
        let sq = mxr_operators::registry::create("square", &[], None).unwrap();
        let x2 = tape.apply(sq, "sq", &[x]).unwrap()[0];
        let value = crate::nd::invoke("_mul_scalar", &[tape.value(x2)], &[("scalar", "3")])
            .unwrap()
            .remove(0);
        let y = tape.apply_external(Arc::new(Triple), "triple", &[x2], vec![value]);
        assert_eq!(tape.value(y[0]).to_vec::<f32>().unwrap(), vec![3.0, 12.0]);
        let grads = tape.backward(&[(y[0], None)]).unwrap();
        // d(3 x^2)/dx = 6 x
        let dx = grads[x.node].as_ref().unwrap().to_vec::<f32>().unwrap();
        assert_eq!(dx, vec![6.0, 12.0]);
    }
}
