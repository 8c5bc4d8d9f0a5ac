//! [`Backward`]: the backward operators of the one-input element-wise operators
//! (`_backward_log`, `_backward_clip`, `_backward_hard_sigmoid`, `_backward_Activation`,
//! `_backward_mul_scalar`, ...), one [`Operator`] for all of them.

use crate::Result;
use crate::ops::same_shape;
use crate::registry::{Call, GpuCall, GpuForward, Operator, ShapeCtx};

/// The gradient of a one-input element-wise operator: its inputs are the head gradient and
/// what the derivative reads (the forward input or output, or nothing), its one output the
/// input's gradient, of the head gradient's shape. It gives its name, parameters, inputs and
/// kernels; [`Backward`] makes it an [`Operator`].
pub trait UnaryGradKernel: std::fmt::Debug + Send + Sync + 'static {
    /// The canonical MXNet name ([`Operator::name`]).
    fn grad_name(&self) -> &'static str;
    /// The parameters in MXNet's string form ([`Operator::attrs`]).
    fn grad_attrs(&self) -> Vec<(String, String)>;
    /// The input names, the head gradient (`ograd`) first ([`Operator::input_names`]).
    fn grad_inputs(&self) -> Vec<String>;
    /// The CPU kernel: the input gradient (output 0) from the inputs.
    fn compute(&self, call: Call<'_, '_, '_>) -> Result<()>;
    /// The GPU kernel: the input gradient (output 0) from the inputs.
    fn compute_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()>;
    /// Which inputs the gradient may overwrite ([`Operator::inplace_option`]): the head
    /// gradient.
    fn grad_inplace_option(&self) -> Vec<(usize, usize)> {
        vec![(0, 0)]
    }
}

/// The backward operator of the gradient `K`: the output has the inputs' shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backward<K>(pub K);

impl<K: UnaryGradKernel> Operator for Backward<K> {
    fn name(&self) -> &'static str {
        self.0.grad_name()
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.grad_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        self.0.grad_inputs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        same_shape(shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        self.0.compute(call)
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn inplace_option(&self) -> Vec<(usize, usize)> {
        self.0.grad_inplace_option()
    }
}

impl<K: UnaryGradKernel> GpuForward for Backward<K> {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        self.0.compute_gpu(call)
    }
}
