//! [`InplaceUnary`]: the one-input element-wise operators that can overwrite their input, and
//! the [`Operator`] they all share.

use crate::Result;
use crate::ops::same_shape;
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GpuOpContext, GpuTensor, GradCtx, OpContext, Operator,
    ShapeCtx, TensorMut, TensorRef,
};

/// A one-input, one-output element-wise operator that can also compute in place (`a += 1`):
/// the unary math functions, `clip`, `hard_sigmoid`, `Activation` and the scalar operators. It
/// gives its name, parameters, kernels and gradient; everything else is the same for all of
/// them, so [`Operator`] (the output has the input's shape; in place, input 0 on output 0) and
/// [`GpuForward`] are implemented once for every such type.
pub trait InplaceUnary: std::fmt::Debug + Send + Sync + 'static {
    /// The canonical MXNet name ([`Operator::name`]).
    fn unary_name(&self) -> &'static str;
    /// The parameters in MXNet's string form ([`Operator::attrs`]).
    fn unary_attrs(&self) -> Vec<(String, String)>;
    /// The CPU kernel: `y = f(x)`.
    fn compute(&self, x: &TensorRef<'_>, y: &mut TensorMut<'_>) -> Result<()>;
    /// The CPU kernel in place: `data = f(data)`.
    fn compute_inplace(&self, data: &mut TensorMut<'_>) -> Result<()>;
    /// The GPU kernel: `y = f(x)` (`y` may be `x`).
    fn compute_gpu(
        &self,
        ctx: &mut GpuOpContext<'_>,
        x: &GpuTensor<'_>,
        y: &GpuTensor<'_>,
    ) -> Result<()>;
    /// The gradient nodes ([`Operator::gradient`]).
    fn unary_gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>>;
}

impl<U: InplaceUnary> Operator for U {
    fn name(&self) -> &'static str {
        self.unary_name()
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.unary_attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        same_shape(shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        self.compute(&inputs[0], &mut outputs[0])
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn is_inplace_unary(&self) -> bool {
        true
    }
    fn forward_inplace(
        &self,
        _ctx: &mut OpContext<'_>,
        data: &mut TensorMut<'_>,
    ) -> Option<Result<()>> {
        Some(self.compute_inplace(data))
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        self.unary_gradient(grad)
    }
    fn inplace_option(&self) -> Vec<(usize, usize)> {
        vec![(0, 0)]
    }
}

impl<U: InplaceUnary> GpuForward for U {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        self.compute_gpu(ctx, &inputs[0], &outputs[0])
    }
}
