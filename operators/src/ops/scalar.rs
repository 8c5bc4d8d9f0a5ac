//! Operators with a scalar parameter (_plus_scalar, _minus_scalar, _rminus_scalar, _mul_scalar,
//! _div_scalar, _rdiv_scalar, _power_scalar).
//!
//! Each takes one input `data` and the parameters `scalar` (float, default 1) and `is_int`
//! (boolean, default True; MXNet's numpy frontend uses it for type promotion, the legacy
//! operators ignore it). The scalar is cast to the array's dtype before use, as MXNet does:
//! `int32 [1, 2, 3] + 1.5` is `[2, 3, 4]`. Python's operators on symbols map here
//! (`x + s` → `_PlusScalar`, `s / x` → `_RDivScalar`, ...).
//!
//! Gradients follow MXNet's graphs: `_copy` of the head gradient for plus and minus, `negative`
//! for rminus, `_backward_mul_scalar` / `_backward_div_scalar` (head gradient only) and
//! `_backward_rdiv_scalar` / `_backward_power_scalar` (head gradient and the input).
//!
//! Every operator computes in place ([`Operator::forward_inplace`]) without allocating.
//! GPU kernels (float32): `kernels/cuda/scalar.cu`.

use std::sync::Arc;

use mxr_kernels::cpu::elementwise::{self as ew, Num, ScalarOp};
use mxr_kernels::cuda::scalar as kernels;

use super::elemwise::num_dispatch;
use super::init::Copy as CopyOp;
use super::unary::{Backward, InplaceUnary, Unary, UnaryGradKernel};
use crate::registry::attrs::AttrParser;
use crate::registry::{
    Call, Entry, GpuCall, GpuOpContext, GpuTensor, GradCtx, OpDef, OpRef, Operator, TensorMut,
    TensorRef,
};
use crate::{Result, params};

params! {
    /// Parameters of the scalar operators and their backward operators.
    pub struct ScalarParam for "_plus_scalar" {
        /// The scalar operand.
        scalar: f64 = 1.0,
        /// Whether the scalar is an integer (type promotion in MXNet's numpy frontend only).
        is_int: bool = true,
    }
}

impl ScalarParam {
    /// Parses the parameters of operator `op` (errors name `op`).
    pub fn parse_for(op: &'static str, attrs: &[(&str, &str)]) -> Result<ScalarParam> {
        let mut parser = AttrParser::new(op, attrs.iter().copied());
        let scalar = parser.or_default("scalar", 1.0)?;
        let is_int = parser.or_default("is_int", true)?;
        parser.finish()?;
        Ok(ScalarParam { scalar, is_int })
    }
}

fn scalar_name(op: ScalarOp) -> &'static str {
    match op {
        ScalarOp::Plus => "_plus_scalar",
        ScalarOp::Minus => "_minus_scalar",
        ScalarOp::RMinus => "_rminus_scalar",
        ScalarOp::Mul => "_mul_scalar",
        ScalarOp::Div => "_div_scalar",
        ScalarOp::RDiv => "_rdiv_scalar",
        ScalarOp::Power => "_power_scalar",
    }
}

/// `_plus_scalar` and friends: `data ∘ scalar` element by element.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarOperator {
    /// The operation.
    pub op: ScalarOp,
    /// The parameters.
    pub param: ScalarParam,
}

impl InplaceUnary for ScalarOperator {
    fn unary_name(&self) -> &'static str {
        scalar_name(self.op)
    }
    fn unary_attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn compute(&self, x: &TensorRef<'_>, y: &mut TensorMut<'_>) -> Result<()> {
        let name = self.name();
        num_dispatch!(y.dtype, name, T => {
            let x = x.slice::<T>(name)?;
            let s = T::from_f64(self.param.scalar);
            ew::scalar(self.op, x, s, y.slice_mut::<T>(name)?);
            Ok(())
        })
    }
    fn compute_inplace(&self, data: &mut TensorMut<'_>) -> Result<()> {
        let name = self.name();
        num_dispatch!(data.dtype, name, T => {
            let s = T::from_f64(self.param.scalar);
            ew::scalar_inplace(self.op, data.slice_mut::<T>(name)?, s);
            Ok(())
        })
    }
    fn compute_gpu(
        &self,
        ctx: &mut GpuOpContext<'_>,
        x: &GpuTensor<'_>,
        y: &GpuTensor<'_>,
    ) -> Result<()> {
        // The scalar cast to float32 first, as the CPU kernel does.
        let scalar = self.param.scalar as f32;
        ctx.elementwise(self.name(), [y, x], |dev, s, n| {
            kernels::forward(dev, self.op, scalar, s, n)
        })
    }
    fn unary_gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let g = grad.ograds[0];
        let out = match self.op {
            ScalarOp::Plus | ScalarOp::Minus => grad.backward_node(CopyOp, &[g])?,
            ScalarOp::RMinus => grad.backward_node(Unary::NEGATIVE, &[g])?,
            ScalarOp::Mul | ScalarOp::Div => grad.backward_node(self.backward(), &[g])?,
            ScalarOp::RDiv | ScalarOp::Power => {
                grad.backward_node(self.backward(), &[g, grad.inputs[0]])?
            }
        };
        Ok(vec![Some(out[0])])
    }
}

impl ScalarOperator {
    fn backward(&self) -> ScalarBackward {
        let op = match self.op {
            ScalarOp::Div => ScalarGrad::Div,
            ScalarOp::RDiv => ScalarGrad::RDiv,
            ScalarOp::Power => ScalarGrad::Power,
            _ => ScalarGrad::Mul,
        };
        Backward(ScalarGradient {
            op,
            param: self.param.clone(),
        })
    }
}

/// The scalar operators with a backward operator of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarGrad {
    /// `_backward_mul_scalar`.
    Mul,
    /// `_backward_div_scalar`.
    Div,
    /// `_backward_rdiv_scalar`.
    RDiv,
    /// `_backward_power_scalar`.
    Power,
}

impl ScalarGrad {
    fn forward_op(self) -> ScalarOp {
        match self {
            ScalarGrad::Mul => ScalarOp::Mul,
            ScalarGrad::Div => ScalarOp::Div,
            ScalarGrad::RDiv => ScalarOp::RDiv,
            ScalarGrad::Power => ScalarOp::Power,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ScalarGrad::Mul => "_backward_mul_scalar",
            ScalarGrad::Div => "_backward_div_scalar",
            ScalarGrad::RDiv => "_backward_rdiv_scalar",
            ScalarGrad::Power => "_backward_power_scalar",
        }
    }
}

/// `_backward_mul_scalar` (g·s), `_backward_div_scalar` (g/s) — input the head gradient — and
/// `_backward_rdiv_scalar` (−g·s/x²), `_backward_power_scalar` (g·s·x^(s−1)) — inputs the head
/// gradient and the forward input.
pub type ScalarBackward = Backward<ScalarGradient>;

/// The gradient of a scalar operator: the kernels of [`ScalarBackward`].
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarGradient {
    /// The forward operation.
    pub op: ScalarGrad,
    /// The forward operator's parameters.
    pub param: ScalarParam,
}

impl ScalarGradient {
    fn reads_input(&self) -> bool {
        matches!(self.op, ScalarGrad::RDiv | ScalarGrad::Power)
    }
}

impl UnaryGradKernel for ScalarGradient {
    fn grad_name(&self) -> &'static str {
        self.op.name()
    }
    fn grad_attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn grad_inputs(&self) -> Vec<String> {
        if self.reads_input() {
            vec!["ograd".into(), "data".into()]
        } else {
            vec!["ograd".into()]
        }
    }
    fn compute(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, dx) = (call.inputs, &mut call.outputs[0]);
        let name = self.grad_name();
        num_dispatch!(dx.dtype, name, T => {
            let g = inputs[0].slice::<T>(name)?;
            let x: &[T] = if self.reads_input() { inputs[1].slice::<T>(name)? } else { &[] };
            let s = T::from_f64(self.param.scalar);
            ew::scalar_backward(self.op.forward_op(), g, x, s, dx.slice_mut::<T>(name)?);
            Ok(())
        })
    }
    fn compute_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, dx) = (call.ctx, call.inputs, &call.outputs[0]);
        let x = self.reads_input().then(|| &inputs[1]);
        let s = self.param.scalar;
        gpu::backward(ctx, self.grad_name(), self.op, s, &inputs[0], x, dx)
    }
}

fn create_scalar(op: ScalarOp, attrs: &[(&str, &str)]) -> Result<OpRef> {
    let param = ScalarParam::parse_for(scalar_name(op), attrs)?;
    Ok(Arc::new(ScalarOperator { op, param }))
}

fn create_backward(op: ScalarGrad, attrs: &[(&str, &str)]) -> Result<OpRef> {
    let param = ScalarParam::parse_for(op.name(), attrs)?;
    Ok(Arc::new(Backward(ScalarGradient { op, param })))
}

inventory::submit! {
    OpDef::new("_plus_scalar", "Adds a scalar: data + scalar.", ScalarParam::specs,
        |a| create_scalar(ScalarOp::Plus, a)).aliases(&["_PlusScalar"])
}
inventory::submit! {
    OpDef::new("_minus_scalar", "Subtracts a scalar: data − scalar.", ScalarParam::specs,
        |a| create_scalar(ScalarOp::Minus, a)).aliases(&["_MinusScalar"])
}
inventory::submit! {
    OpDef::new("_rminus_scalar", "Subtracts from a scalar: scalar − data.", ScalarParam::specs,
        |a| create_scalar(ScalarOp::RMinus, a)).aliases(&["_RMinusScalar"])
}
inventory::submit! {
    OpDef::new("_mul_scalar", "Multiplies by a scalar: data · scalar.", ScalarParam::specs,
        |a| create_scalar(ScalarOp::Mul, a)).aliases(&["_MulScalar"])
}
inventory::submit! {
    OpDef::new("_div_scalar", "Divides by a scalar: data / scalar.", ScalarParam::specs,
        |a| create_scalar(ScalarOp::Div, a)).aliases(&["_DivScalar"])
}
inventory::submit! {
    OpDef::new("_rdiv_scalar", "Divides a scalar: scalar / data.", ScalarParam::specs,
        |a| create_scalar(ScalarOp::RDiv, a)).aliases(&["_RDivScalar"])
}
inventory::submit! {
    OpDef::new("_power_scalar", "Raises to a scalar power: data ^ scalar.", ScalarParam::specs,
        |a| create_scalar(ScalarOp::Power, a)).aliases(&["_PowerScalar"])
}
inventory::submit! {
    OpDef::new("_backward_mul_scalar", "Gradient of _mul_scalar: g · scalar.",
        ScalarParam::specs, |a| create_backward(ScalarGrad::Mul, a))
}
inventory::submit! {
    OpDef::new("_backward_div_scalar", "Gradient of _div_scalar: g / scalar.",
        ScalarParam::specs, |a| create_backward(ScalarGrad::Div, a))
}
inventory::submit! {
    OpDef::new("_backward_rdiv_scalar", "Gradient of _rdiv_scalar: −g · scalar / data².",
        ScalarParam::specs, |a| create_backward(ScalarGrad::RDiv, a))
}
inventory::submit! {
    OpDef::new("_backward_power_scalar",
        "Gradient of _power_scalar: g · scalar · data^(scalar − 1).",
        ScalarParam::specs, |a| create_backward(ScalarGrad::Power, a))
}

mod gpu;
#[cfg(test)]
mod tests;
