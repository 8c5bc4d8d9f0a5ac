//! Unary math operators (negative, exp, log, sqrt, square, abs, tanh, sigmoid, relu, clip,
//! hard_sigmoid).
//!
//! One input `data`, one output of its shape; every one computes in place
//! ([`Operator::forward_inplace`]): they are [`InplaceUnary`] operators, as are `Activation`
//! and the scalar operators, which share one [`Operator`] implementation. Integer arrays work as in MXNet (functions without an
//! integer meaning are computed in `f64` and truncated back: `exp(int32 2) = 7`).
//!
//! Gradients follow MXNet's graphs: `negative` of the head gradient for `negative`;
//! `elemwise_mul(g, y)` for `exp`; `_backward_log`, `_backward_square`, `_backward_abs`,
//! `_backward_clip` on (g, input); `_backward_sqrt`, `_backward_tanh`, `_backward_sigmoid`,
//! `_backward_relu` on (g, output). `clip` (params `a_min`, `a_max`, both required) passes the
//! gradient where `a_min <= x <= a_max`. `hard_sigmoid` (params `alpha` = 0.2, `beta` = 0.5:
//! `max(0, min(1, alpha·x + beta))`, float dtypes only) has `_backward_hard_sigmoid` on
//! (g, x, y), as MXNet's `ElemwiseGradUseInOut` builds it: `g·alpha` where the line is strictly
//! inside (0, 1). GPU kernels (float32): `kernels/cuda/unary.cu`, launched through
//! [`mxr_kernels::cuda::unary`].

use std::sync::Arc;

use mxr_kernels::cpu::elementwise::{self as ew, BinaryOp, Num, UnaryGrad, UnaryOp};
use mxr_kernels::cuda::unary as kernels;

use super::elemwise::{ElemwiseBinary, num_dispatch};
use super::{no_params, parse_no_params};
use crate::registry::{
    Call, Entry, GpuCall, GpuOpContext, GpuTensor, GradCtx, OpDef, OpRef, Operator, TensorMut,
    TensorRef,
};
use crate::{Result, float_dispatch, params};

/// A unary math operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unary {
    /// The function.
    pub op: UnaryOp,
}

impl Unary {
    /// `negative`.
    pub const NEGATIVE: Unary = Unary {
        op: UnaryOp::Negative,
    };

    /// The MXNet operator computing `op` (the functions only `Activation` offers have none).
    pub fn op_name(op: UnaryOp) -> &'static str {
        match op {
            UnaryOp::Negative => "negative",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Square => "square",
            UnaryOp::Abs => "abs",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Relu => "relu",
            UnaryOp::SoftRelu => "softrelu",
            UnaryOp::SoftSign => "softsign",
        }
    }
}

/// Runs a unary kernel from `input` into `output`.
pub(crate) fn unary_forward(
    name: &'static str,
    op: UnaryOp,
    input: &TensorRef<'_>,
    output: &mut TensorMut<'_>,
) -> Result<()> {
    num_dispatch!(output.dtype, name, T => {
        ew::unary(op, input.slice::<T>(name)?, output.slice_mut::<T>(name)?);
        Ok(())
    })
}

/// Runs a unary kernel in place.
pub(crate) fn unary_inplace(
    name: &'static str,
    op: UnaryOp,
    data: &mut TensorMut<'_>,
) -> Result<()> {
    num_dispatch!(data.dtype, name, T => {
        ew::unary_inplace(op, data.slice_mut::<T>(name)?);
        Ok(())
    })
}

/// Runs a unary gradient kernel: `out = g·f'(v)`.
pub(crate) fn unary_grad(
    name: &'static str,
    op: UnaryGrad,
    g: &TensorRef<'_>,
    v: Option<&TensorRef<'_>>,
    out: &mut TensorMut<'_>,
) -> Result<()> {
    num_dispatch!(out.dtype, name, T => {
        let v: &[T] = match v {
            Some(v) => v.slice::<T>(name)?,
            None => &[],
        };
        ew::unary_backward(op, g.slice::<T>(name)?, v, out.slice_mut::<T>(name)?);
        Ok(())
    })
}

impl InplaceUnary for Unary {
    fn unary_name(&self) -> &'static str {
        Unary::op_name(self.op)
    }
    fn unary_attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn compute(&self, x: &TensorRef<'_>, y: &mut TensorMut<'_>) -> Result<()> {
        unary_forward(self.name(), self.op, x, y)
    }
    fn compute_inplace(&self, data: &mut TensorMut<'_>) -> Result<()> {
        unary_inplace(self.name(), self.op, data)
    }
    fn compute_gpu(
        &self,
        ctx: &mut GpuOpContext<'_>,
        x: &GpuTensor<'_>,
        y: &GpuTensor<'_>,
    ) -> Result<()> {
        ctx.elementwise(self.name(), [y, x], |dev, s, n| {
            kernels::forward(dev, self.op, s, n)
        })
    }
    fn unary_gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let g = grad.ograds[0];
        let (x, y) = (grad.inputs[0], grad.outputs[0]);
        let backward = Backward::<UnaryGrad>;
        let out = match self.op {
            UnaryOp::Negative => grad.backward_node(Unary::NEGATIVE, &[g])?,
            UnaryOp::Exp => grad.backward_node(ElemwiseBinary { op: BinaryOp::Mul }, &[g, y])?,
            UnaryOp::Log => grad.backward_node(backward(UnaryGrad::Log), &[g, x])?,
            UnaryOp::Sqrt => grad.backward_node(backward(UnaryGrad::Sqrt), &[g, y])?,
            UnaryOp::Square => grad.backward_node(backward(UnaryGrad::Square), &[g, x])?,
            UnaryOp::Abs => grad.backward_node(backward(UnaryGrad::Abs), &[g, x])?,
            UnaryOp::Tanh => grad.backward_node(backward(UnaryGrad::Tanh), &[g, y])?,
            UnaryOp::Sigmoid => grad.backward_node(backward(UnaryGrad::Sigmoid), &[g, y])?,
            UnaryOp::Relu => grad.backward_node(backward(UnaryGrad::Relu), &[g, y])?,
            UnaryOp::SoftRelu => grad.backward_node(backward(UnaryGrad::SoftRelu), &[g, y])?,
            UnaryOp::SoftSign => grad.backward_node(backward(UnaryGrad::SoftSign), &[g, x])?,
        };
        Ok(vec![Some(out[0])])
    }
}

/// `_backward_log`, `_backward_sqrt`, `_backward_square`, `_backward_abs`, `_backward_tanh`,
/// `_backward_sigmoid`, `_backward_relu`: inputs the head gradient and the forward input (log,
/// square, abs) or output (sqrt, tanh, sigmoid, relu); output the input's gradient.
pub type UnaryBackward = Backward<UnaryGrad>;

impl UnaryGradKernel for UnaryGrad {
    fn grad_name(&self) -> &'static str {
        match self {
            UnaryGrad::Negative => "_backward_negative",
            UnaryGrad::Exp => "_backward_exp",
            UnaryGrad::Log => "_backward_log",
            UnaryGrad::Sqrt => "_backward_sqrt",
            UnaryGrad::Square => "_backward_square",
            UnaryGrad::Abs => "_backward_abs",
            UnaryGrad::Tanh => "_backward_tanh",
            UnaryGrad::Sigmoid => "_backward_sigmoid",
            UnaryGrad::Relu => "_backward_relu",
            UnaryGrad::SoftRelu => "_backward_softrelu",
            UnaryGrad::SoftSign => "_backward_softsign",
        }
    }
    fn grad_attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn grad_inputs(&self) -> Vec<String> {
        let value = if self.uses_output() { "output" } else { "data" };
        vec!["ograd".into(), value.into()]
    }
    fn compute(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, dx) = (call.inputs, &mut call.outputs[0]);
        unary_grad(self.grad_name(), *self, &inputs[0], Some(&inputs[1]), dx)
    }
    fn compute_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, dx) = (call.ctx, call.inputs, &call.outputs[0]);
        let (g, v) = (&inputs[0], &inputs[1]);
        ctx.elementwise(self.grad_name(), [dx, g, v], |dev, s, n| {
            kernels::backward(dev, *self, s, n)
        })
    }
}

params! {
    /// Parameters of `clip` and `_backward_clip`.
    pub struct ClipParam for "clip" {
        /// Minimum value.
        a_min: f64,
        /// Maximum value.
        a_max: f64,
    }
}

/// `clip(data, a_min, a_max)`: values above `a_max` become `a_max`, below `a_min` `a_min`
/// (NaN passes through; the bounds are cast to the dtype first).
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// The bounds.
    pub param: ClipParam,
}

impl InplaceUnary for Clip {
    fn unary_name(&self) -> &'static str {
        "clip"
    }
    fn unary_attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn compute(&self, x: &TensorRef<'_>, y: &mut TensorMut<'_>) -> Result<()> {
        let name = self.name();
        num_dispatch!(y.dtype, name, T => {
            let (lo, hi) = (T::from_f64(self.param.a_min), T::from_f64(self.param.a_max));
            ew::clip(x.slice::<T>(name)?, lo, hi, y.slice_mut::<T>(name)?);
            Ok(())
        })
    }
    fn compute_inplace(&self, data: &mut TensorMut<'_>) -> Result<()> {
        let name = self.name();
        num_dispatch!(data.dtype, name, T => {
            let (lo, hi) = (T::from_f64(self.param.a_min), T::from_f64(self.param.a_max));
            ew::clip_inplace(data.slice_mut::<T>(name)?, lo, hi);
            Ok(())
        })
    }
    fn compute_gpu(
        &self,
        ctx: &mut GpuOpContext<'_>,
        x: &GpuTensor<'_>,
        y: &GpuTensor<'_>,
    ) -> Result<()> {
        // The bounds cast to float32.
        let bounds = (self.param.a_min as f32, self.param.a_max as f32);
        ctx.elementwise("clip", [y, x], |dev, s, n| kernels::clip(dev, bounds, s, n))
    }
    fn unary_gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let back = Backward(self.param.clone());
        let out = grad.backward_node(back, &[grad.ograds[0], grad.inputs[0]])?;
        Ok(vec![Some(out[0])])
    }
}

/// `_backward_clip`: inputs the head gradient and the forward input; the gradient passes where
/// `a_min <= x <= a_max`, else 0.
pub type ClipBackward = Backward<ClipParam>;

/// `_backward_clip`'s kernels, from the forward operator's bounds.
impl UnaryGradKernel for ClipParam {
    fn grad_name(&self) -> &'static str {
        "_backward_clip"
    }
    fn grad_attrs(&self) -> Vec<(String, String)> {
        self.to_attrs()
    }
    fn grad_inputs(&self) -> Vec<String> {
        vec!["ograd".into(), "data".into()]
    }
    fn compute(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, dx) = (call.inputs, &mut call.outputs[0]);
        let name = self.grad_name();
        num_dispatch!(dx.dtype, name, T => {
            let (lo, hi) = (T::from_f64(self.a_min), T::from_f64(self.a_max));
            let g = inputs[0].slice::<T>(name)?;
            let x = inputs[1].slice::<T>(name)?;
            ew::clip_backward(g, x, lo, hi, dx.slice_mut::<T>(name)?);
            Ok(())
        })
    }
    fn compute_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, dx) = (call.ctx, call.inputs, &call.outputs[0]);
        let bounds = (self.a_min as f32, self.a_max as f32);
        let (g, x) = (&inputs[0], &inputs[1]);
        ctx.elementwise(self.grad_name(), [dx, g, x], |dev, s, n| {
            kernels::clip_backward(dev, bounds, s, n)
        })
    }
}

params! {
    /// Parameters of `hard_sigmoid` and `_backward_hard_sigmoid`.
    pub struct HardSigmoidParam for "hard_sigmoid" {
        /// Slope of hard sigmoid.
        alpha: f32 = 0.2,
        /// Bias of hard sigmoid.
        beta: f32 = 0.5,
    }
}

impl HardSigmoidParam {
    /// `alpha` and `beta` cast to the element type (MXNet computes `DType(alpha) * x`).
    fn coefficients<T: Num>(&self) -> (T, T) {
        let cast = |v: f32| T::from_f64(f64::from(v));
        (cast(self.alpha), cast(self.beta))
    }
}

/// `hard_sigmoid(data, alpha=0.2, beta=0.5)`: `max(0, min(1, alpha·x + beta))` (NaN passes
/// through). Float dtypes only, as in MXNet; `alpha` and `beta` are `float` parameters, cast to
/// the element type.
#[derive(Debug, Clone, PartialEq)]
pub struct HardSigmoid {
    /// The slope and bias.
    pub param: HardSigmoidParam,
}

impl InplaceUnary for HardSigmoid {
    fn unary_name(&self) -> &'static str {
        "hard_sigmoid"
    }
    fn unary_attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn compute(&self, x: &TensorRef<'_>, y: &mut TensorMut<'_>) -> Result<()> {
        let name = self.name();
        float_dispatch!(y.dtype, name, T => {
            let (alpha, beta) = self.param.coefficients::<T>();
            ew::hard_sigmoid(x.slice::<T>(name)?, alpha, beta, y.slice_mut::<T>(name)?);
            Ok(())
        })
    }
    fn compute_inplace(&self, data: &mut TensorMut<'_>) -> Result<()> {
        let name = self.name();
        float_dispatch!(data.dtype, name, T => {
            let (alpha, beta) = self.param.coefficients::<T>();
            ew::hard_sigmoid_inplace(data.slice_mut::<T>(name)?, alpha, beta);
            Ok(())
        })
    }
    fn compute_gpu(
        &self,
        ctx: &mut GpuOpContext<'_>,
        x: &GpuTensor<'_>,
        y: &GpuTensor<'_>,
    ) -> Result<()> {
        let coefficients = (self.param.alpha, self.param.beta);
        ctx.elementwise("hard_sigmoid", [y, x], |dev, s, n| {
            kernels::hard_sigmoid(dev, coefficients, s, n)
        })
    }
    fn unary_gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let back = Backward(self.param.clone());
        let inputs = [grad.ograds[0], grad.inputs[0], grad.outputs[0]];
        let out = grad.backward_node(back, &inputs)?;
        Ok(vec![Some(out[0])])
    }
}

/// `_backward_hard_sigmoid`: inputs the head gradient, the forward input and output (the
/// output is not read); `g·alpha` where `0 < alpha·x + beta < 1`, else 0.
pub type HardSigmoidBackward = Backward<HardSigmoidParam>;

/// `_backward_hard_sigmoid`'s kernels, from the forward operator's slope and bias.
impl UnaryGradKernel for HardSigmoidParam {
    fn grad_name(&self) -> &'static str {
        "_backward_hard_sigmoid"
    }
    fn grad_attrs(&self) -> Vec<(String, String)> {
        self.to_attrs()
    }
    fn grad_inputs(&self) -> Vec<String> {
        vec!["ograd".into(), "data".into(), "output".into()]
    }
    fn compute(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, dx) = (call.inputs, &mut call.outputs[0]);
        let name = self.grad_name();
        float_dispatch!(dx.dtype, name, T => {
            let (alpha, beta) = self.coefficients::<T>();
            let g = inputs[0].slice::<T>(name)?;
            let x = inputs[1].slice::<T>(name)?;
            ew::hard_sigmoid_backward(g, x, alpha, beta, dx.slice_mut::<T>(name)?);
            Ok(())
        })
    }
    fn compute_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, dx) = (call.ctx, call.inputs, &call.outputs[0]);
        let coefficients = (self.alpha, self.beta);
        let (g, x) = (&inputs[0], &inputs[1]);
        ctx.elementwise(self.grad_name(), [dx, g, x], |dev, s, n| {
            kernels::hard_sigmoid_backward(dev, coefficients, s, n)
        })
    }
    fn grad_inplace_option(&self) -> Vec<(usize, usize)> {
        vec![(0, 0), (1, 0)]
    }
}

fn create_unary(op: UnaryOp, attrs: &[(&str, &str)]) -> Result<OpRef> {
    parse_no_params(Unary::op_name(op), attrs)?;
    Ok(Arc::new(Unary { op }))
}

fn create_unary_backward(op: UnaryGrad, attrs: &[(&str, &str)]) -> Result<OpRef> {
    parse_no_params(op.grad_name(), attrs)?;
    Ok(Arc::new(Backward(op)))
}

inventory::submit! {
    OpDef::new("negative", "Numerical negative: −x.", no_params,
        |a| create_unary(UnaryOp::Negative, a))
}
inventory::submit! {
    OpDef::new("exp", "Exponential: eˣ.", no_params, |a| create_unary(UnaryOp::Exp, a))
}
inventory::submit! {
    OpDef::new("log", "Natural logarithm: ln x.", no_params, |a| create_unary(UnaryOp::Log, a))
}
inventory::submit! {
    OpDef::new("sqrt", "Square root: √x.", no_params, |a| create_unary(UnaryOp::Sqrt, a))
}
inventory::submit! {
    OpDef::new("square", "Square: x².", no_params, |a| create_unary(UnaryOp::Square, a))
}
inventory::submit! {
    OpDef::new("abs", "Absolute value: |x|.", no_params, |a| create_unary(UnaryOp::Abs, a))
}
inventory::submit! {
    OpDef::new("tanh", "Hyperbolic tangent.", no_params, |a| create_unary(UnaryOp::Tanh, a))
}
inventory::submit! {
    OpDef::new("sigmoid", "Logistic sigmoid: 1 / (1 + e⁻ˣ).", no_params,
        |a| create_unary(UnaryOp::Sigmoid, a))
}
inventory::submit! {
    OpDef::new("relu", "Rectified linear unit: max(x, 0).", no_params,
        |a| create_unary(UnaryOp::Relu, a))
}
inventory::submit! {
    OpDef::new("clip", "Clips values to [a_min, a_max].", ClipParam::specs, |a| {
        Ok(Arc::new(Clip { param: ClipParam::parse(a.iter().copied())? }) as OpRef)
    })
}
inventory::submit! {
    OpDef::new("_backward_log", "Gradient of log: g / x.", no_params,
        |a| create_unary_backward(UnaryGrad::Log, a))
}
inventory::submit! {
    OpDef::new("_backward_sqrt", "Gradient of sqrt from the output: g / (2y).", no_params,
        |a| create_unary_backward(UnaryGrad::Sqrt, a))
}
inventory::submit! {
    OpDef::new("_backward_square", "Gradient of square: 2x·g.", no_params,
        |a| create_unary_backward(UnaryGrad::Square, a))
}
inventory::submit! {
    OpDef::new("_backward_abs", "Gradient of abs: sign(x)·g.", no_params,
        |a| create_unary_backward(UnaryGrad::Abs, a))
}
inventory::submit! {
    OpDef::new("_backward_tanh", "Gradient of tanh from the output: (1 − y²)·g.", no_params,
        |a| create_unary_backward(UnaryGrad::Tanh, a))
}
inventory::submit! {
    OpDef::new("_backward_sigmoid", "Gradient of sigmoid from the output: y(1 − y)·g.",
        no_params, |a| create_unary_backward(UnaryGrad::Sigmoid, a))
}
inventory::submit! {
    OpDef::new("_backward_relu", "Gradient of relu from the output: g where y > 0.", no_params,
        |a| create_unary_backward(UnaryGrad::Relu, a))
}
inventory::submit! {
    OpDef::new("_backward_clip", "Gradient of clip: g where a_min <= x <= a_max.",
        ClipParam::specs, |a| {
            let param = ClipParam::parse_as("_backward_clip", a.iter().copied())?;
            Ok(Arc::new(Backward(param)) as OpRef)
        })
}

inventory::submit! {
    OpDef::new("hard_sigmoid", "Hard sigmoid: max(0, min(1, alpha·x + beta)).",
        HardSigmoidParam::specs, |a| {
            Ok(Arc::new(HardSigmoid { param: HardSigmoidParam::parse(a.iter().copied())? }) as OpRef)
        })
}
inventory::submit! {
    OpDef::new("_backward_hard_sigmoid",
        "Gradient of hard_sigmoid: g·alpha where 0 < alpha·x + beta < 1.",
        HardSigmoidParam::specs, |a| {
            let param = HardSigmoidParam::parse_as("_backward_hard_sigmoid", a.iter().copied())?;
            Ok(Arc::new(Backward(param)) as OpRef)
        })
}

mod backward;
mod inplace;
#[cfg(test)]
mod tests;

pub use backward::{Backward, UnaryGradKernel};
pub use inplace::InplaceUnary;
