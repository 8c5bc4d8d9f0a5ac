//! `Activation` and `LeakyReLU`.
//!
//! - `Activation(data, act_type)` with `act_type` ∈ {relu, sigmoid, tanh, softrelu, softsign}
//!   (required). Backward `_backward_Activation` on (g, y) for relu and (g, y, x) otherwise,
//!   as MXNet 1.9.1 builds it; the derivative comes from the output y, except softsign's from x.
//! - `LeakyReLU(data[, gamma], act_type='leaky', slope=0.25, lower_bound=0.125,
//!   upper_bound=0.334)` with `act_type` ∈ {leaky, prelu, rrelu, elu, selu, gelu}. `prelu` takes
//!   a learned per-channel slope `gamma` of shape (C,) (or (1,)) for data (N, C, ...); `rrelu`
//!   has a second output `mask` holding each element's slope: drawn from U(lower, upper) in
//!   training, (lower + upper)/2 in inference. Backward `_backward_LeakyReLU` on (g, x, y);
//!   (g, x, gamma, y) for prelu (outputs dx, dgamma); (g, g_mask, x, y, mask) for rrelu.

use std::sync::Arc;

use mxr_kernels::cpu::elementwise::{self as ew, LeakyAct, Num, UnaryGrad, UnaryOp};

use super::elemwise::two_outputs;
use super::same_shape;
use super::unary::{
    Backward, InplaceUnary, UnaryGradKernel, unary_forward, unary_grad, unary_inplace,
};

use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GpuOpContext, GpuTensor, GradCtx, OpContext, OpDef, OpRef,
    Operator, Resource, Shape, ShapeCtx, TensorMut, TensorRef,
};
use crate::{Error, Result, attr_enum, float_dispatch, params};

attr_enum! {
    /// `Activation`'s function.
    pub enum ActType {
        Relu = "relu",
        Sigmoid = "sigmoid",
        SoftRelu = "softrelu",
        SoftSign = "softsign",
        Tanh = "tanh",
    }
}

params! {
    /// Parameters of `Activation` and `_backward_Activation`.
    pub struct ActivationParam for "Activation" {
        /// The activation function.
        act_type: ActType,
    }
}

impl ActType {
    fn unary(self) -> UnaryOp {
        match self {
            ActType::Relu => UnaryOp::Relu,
            ActType::Sigmoid => UnaryOp::Sigmoid,
            ActType::SoftRelu => UnaryOp::SoftRelu,
            ActType::SoftSign => UnaryOp::SoftSign,
            ActType::Tanh => UnaryOp::Tanh,
        }
    }

    fn grad(self) -> UnaryGrad {
        match self {
            ActType::Relu => UnaryGrad::Relu,
            ActType::Sigmoid => UnaryGrad::Sigmoid,
            ActType::SoftRelu => UnaryGrad::SoftRelu,
            ActType::SoftSign => UnaryGrad::SoftSign,
            ActType::Tanh => UnaryGrad::Tanh,
        }
    }
}

/// `Activation`: an element-wise activation function.
#[derive(Debug, Clone, PartialEq)]
pub struct Activation {
    /// The parameters.
    pub param: ActivationParam,
}

impl InplaceUnary for Activation {
    fn unary_name(&self) -> &'static str {
        "Activation"
    }
    fn unary_attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn compute(&self, x: &TensorRef<'_>, y: &mut TensorMut<'_>) -> Result<()> {
        let op = self.param.act_type.unary();
        unary_forward("Activation", op, x, y)
    }
    fn compute_inplace(&self, data: &mut TensorMut<'_>) -> Result<()> {
        unary_inplace("Activation", self.param.act_type.unary(), data)
    }
    fn compute_gpu(
        &self,
        ctx: &mut GpuOpContext<'_>,
        x: &GpuTensor<'_>,
        y: &GpuTensor<'_>,
    ) -> Result<()> {
        gpu::forward(ctx, self.param.act_type, x, y)
    }
    fn unary_gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let back = Backward(self.param.clone());
        let (g, x, y) = (grad.ograds[0], grad.inputs[0], grad.outputs[0]);
        let out = if self.param.act_type == ActType::Relu {
            grad.backward_node(back, &[g, y])?
        } else {
            grad.backward_node(back, &[g, y, x])?
        };
        Ok(vec![Some(out[0])])
    }
}

/// `_backward_Activation`: inputs (g, y) for relu, (g, y, x) otherwise; output dx.
pub type ActivationBackward = Backward<ActivationParam>;

impl ActivationParam {
    /// The input `_backward_Activation`'s derivative reads: softsign's needs x (input 2); the
    /// others take y (input 1).
    fn grad_value<'a, T>(&self, inputs: &'a [T]) -> &'a T {
        if self.act_type.grad().uses_output() {
            &inputs[1]
        } else {
            &inputs[2]
        }
    }
}

/// `_backward_Activation`'s kernels, from the forward operator's parameters.
impl UnaryGradKernel for ActivationParam {
    fn grad_name(&self) -> &'static str {
        "_backward_Activation"
    }
    fn grad_attrs(&self) -> Vec<(String, String)> {
        self.to_attrs()
    }
    fn grad_inputs(&self) -> Vec<String> {
        if self.act_type == ActType::Relu {
            vec!["ograd".into(), "output".into()]
        } else {
            vec!["ograd".into(), "output".into(), "data".into()]
        }
    }
    fn compute(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, dx) = (call.inputs, &mut call.outputs[0]);
        let grad = self.act_type.grad();
        let v = self.grad_value(inputs);
        unary_grad(self.grad_name(), grad, &inputs[0], Some(v), dx)
    }
    fn compute_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, dx) = (call.ctx, call.inputs, &call.outputs[0]);
        gpu::backward(ctx, self.act_type, &inputs[0], self.grad_value(inputs), dx)
    }
}

attr_enum! {
    /// `LeakyReLU`'s function.
    pub enum LeakyActType {
        Elu = "elu",
        Gelu = "gelu",
        Leaky = "leaky",
        Prelu = "prelu",
        Rrelu = "rrelu",
        Selu = "selu",
    }
}

params! {
    /// Parameters of `LeakyReLU` and `_backward_LeakyReLU`.
    pub struct LeakyReLUParam for "LeakyReLU" {
        /// The activation function.
        act_type: LeakyActType = LeakyActType::Leaky,
        /// The slope of the negative part (leaky), or the scale of elu's negative part.
        slope: f32 = 0.25,
        /// The lower bound of rrelu's random slope.
        lower_bound: f32 = 0.125,
        /// The upper bound of rrelu's random slope.
        upper_bound: f32 = 0.334,
    }
}

impl LeakyReLUParam {
    /// Parses and validates (rrelu needs `lower_bound <= upper_bound`); errors name `op`.
    fn parse_for(op: &'static str, attrs: &[(&str, &str)]) -> Result<LeakyReLUParam> {
        let p = LeakyReLUParam::parse_as(op, attrs.iter().copied())?;
        if p.act_type == LeakyActType::Rrelu && p.lower_bound > p.upper_bound {
            return Err(Error::BadParam {
                op: op.into(),
                name: "upper_bound".into(),
                value: p.upper_bound.to_string(),
                type_name: "float".into(),
                hint: format!("; must be >= lower_bound ({})", p.lower_bound),
            });
        }
        Ok(p)
    }

    /// The fixed-slope activations (leaky, elu, selu, gelu).
    fn simple(&self) -> Option<LeakyAct> {
        match self.act_type {
            LeakyActType::Leaky => Some(LeakyAct::Leaky {
                slope: f64::from(self.slope),
            }),
            LeakyActType::Elu => Some(LeakyAct::Elu {
                slope: f64::from(self.slope),
            }),
            LeakyActType::Selu => Some(LeakyAct::Selu),
            LeakyActType::Gelu => Some(LeakyAct::Gelu),
            LeakyActType::Prelu | LeakyActType::Rrelu => None,
        }
    }

    /// rrelu's slope in inference mode.
    fn mean_slope(&self) -> f64 {
        (f64::from(self.lower_bound) + f64::from(self.upper_bound)) / 2.0
    }
}

/// PReLU's layout: elements per gamma value (the product of the dimensions after the channel
/// axis 1; everything when gamma has one value).
fn prelu_inner(data: &[usize], gamma_len: usize) -> usize {
    match (gamma_len, data.len()) {
        (1, _) => data.iter().product(),
        (_, 0 | 1) => 1,
        _ => data[2..].iter().product(),
    }
}

/// PReLU shape rule: data (N, C, ...) → gamma (C,) unless given as (1,); output = data.
/// `data`, `gamma` are input indices; `outs` the outputs with data's shape; `gamma_out` an output
/// with gamma's shape.
fn infer_prelu(
    shapes: &mut ShapeCtx<'_>,
    data: &[usize],
    gamma: usize,
    outs: &[usize],
    gamma_out: Option<usize>,
) -> Result<()> {
    let mut merged = Shape::unknown();
    for &i in data {
        merged.merge(shapes.input(i)).map_err(|reason| {
            shapes.error(format!("data and output must have one shape: {reason}"))
        })?;
    }
    for &o in outs {
        merged
            .merge(shapes.output(o))
            .map_err(|r| shapes.error(r))?;
    }
    for &i in data {
        shapes.set_input(i, merged.clone())?;
    }
    for &o in outs {
        shapes.set_output(o, merged.clone())?;
    }
    let mut g = shapes.input(gamma).clone();
    if let Some(o) = gamma_out {
        g.merge(shapes.output(o)).map_err(|r| shapes.error(r))?;
    }
    // The channel axis is 1 (axis 0 for 1-D data).
    let channel = match merged.ndim() {
        Some(0) => return Err(shapes.error("data must have at least one dimension")),
        Some(1) => merged.dim(0),
        Some(_) => merged.dim(1),
        None => None,
    };
    match (g.ndim(), g.dim(0)) {
        (Some(1), Some(1)) => {}
        (Some(1), Some(c)) if channel.is_some_and(|ch| ch != c) => {
            return Err(shapes.error(format!(
                "gamma {g} must have one value per channel ({},) or a single value (1,)",
                channel.map_or("?".to_string(), |c| c.to_string())
            )));
        }
        (Some(1), _) => {
            g.merge(&Shape::partial(vec![channel]))
                .map_err(|r| shapes.error(r))?;
        }
        (Some(n), _) => {
            return Err(shapes.error(format!("gamma must be 1-D, got {n} dimensions")));
        }
        (None, _) => {
            if merged.ndim().is_some() {
                g = Shape::partial(vec![channel]);
            }
        }
    }
    shapes.set_input(gamma, g.clone())?;
    if let Some(o) = gamma_out {
        shapes.set_output(o, g)?;
    }
    Ok(())
}

fn leaky_inplace(act: LeakyAct, data: &mut TensorMut<'_>) -> Result<()> {
    float_dispatch!(data.dtype, "LeakyReLU", T => {
        ew::leaky_inplace(act, data.slice_mut::<T>("LeakyReLU")?);
        Ok(())
    })
}

/// `LeakyReLU`: leaky, prelu, rrelu, elu, selu or gelu.
#[derive(Debug, Clone, PartialEq)]
pub struct LeakyReLU {
    /// The parameters.
    pub param: LeakyReLUParam,
}

impl Operator for LeakyReLU {
    fn name(&self) -> &'static str {
        "LeakyReLU"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        match self.param.act_type {
            LeakyActType::Prelu => vec!["data".into(), "gamma".into()],
            _ => vec!["data".into()],
        }
    }
    fn num_outputs(&self) -> usize {
        match self.param.act_type {
            LeakyActType::Rrelu => 2,
            _ => 1,
        }
    }
    fn output_names(&self) -> Vec<String> {
        match self.param.act_type {
            LeakyActType::Rrelu => vec!["output".into(), "mask".into()],
            _ => vec!["output".into()],
        }
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        match self.param.act_type {
            LeakyActType::Prelu => infer_prelu(shapes, &[0], 1, &[0], None),
            _ => same_shape(shapes),
        }
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let name = self.name();
        if let Some(act) = self.param.simple() {
            return float_dispatch!(outputs[0].dtype, name, T => {
                ew::leaky(act, inputs[0].slice::<T>(name)?, outputs[0].slice_mut::<T>(name)?);
                Ok(())
            });
        }
        if self.param.act_type == LeakyActType::Prelu {
            return float_dispatch!(outputs[0].dtype, name, T => {
                let gamma = inputs[1].slice::<T>(name)?;
                let inner = prelu_inner(inputs[0].shape, gamma.len());
                ew::prelu(inputs[0].slice::<T>(name)?, gamma, inner, outputs[0].slice_mut::<T>(name)?);
                Ok(())
            });
        }
        // rrelu: the slopes go to the mask output first.
        let (out, mask) = two_outputs(name, outputs)?;
        float_dispatch!(out.dtype, name, T => {
            let m = mask.slice_mut::<T>(name)?;
            if ctx.is_train {
                let (lo, hi) = (f64::from(self.param.lower_bound), f64::from(self.param.upper_bound));
                let rng = ctx.rng(name)?;
                for v in m.iter_mut() {
                    *v = T::from_f64(lo + (hi - lo) * rng.uniform_f64());
                }
            } else {
                m.fill(T::from_f64(self.param.mean_slope()));
            }
            ew::rrelu(inputs[0].slice::<T>(name)?, m, out.slice_mut::<T>(name)?);
            Ok(())
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn forward_inplace(
        &self,
        _ctx: &mut OpContext<'_>,
        data: &mut TensorMut<'_>,
    ) -> Option<Result<()>> {
        let act = self.param.simple()?;
        Some(leaky_inplace(act, data))
    }
    fn is_inplace_unary(&self) -> bool {
        // prelu has a second input, rrelu a second output and a random resource.
        self.param.simple().is_some()
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let back = LeakyReLUBackward {
            param: self.param.clone(),
        };
        let (g, x, y) = (grad.ograds[0], grad.inputs[0], grad.outputs[0]);
        match self.param.act_type {
            LeakyActType::Prelu => {
                let out = grad.backward_node(back, &[g, x, grad.inputs[1], y])?;
                Ok(vec![Some(out[0]), Some(out[1])])
            }
            LeakyActType::Rrelu => {
                let inputs = [g, grad.ograds[1], x, y, grad.outputs[1]];
                let out = grad.backward_node(back, &inputs)?;
                Ok(vec![Some(out[0])])
            }
            _ => {
                let out = grad.backward_node(back, &[g, x, y])?;
                Ok(vec![Some(out[0])])
            }
        }
    }
    fn inplace_option(&self) -> Vec<(usize, usize)> {
        match self.param.act_type {
            LeakyActType::Prelu | LeakyActType::Rrelu => Vec::new(),
            _ => vec![(0, 0)],
        }
    }
    fn resources(&self) -> Vec<Resource> {
        match self.param.act_type {
            LeakyActType::Rrelu => vec![Resource::Random],
            _ => Vec::new(),
        }
    }
}

impl GpuForward for LeakyReLU {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        leaky_gpu::forward(ctx, &self.param, inputs, outputs)
    }
}

/// `_backward_LeakyReLU`: inputs (g, x, y) → dx; for prelu (g, x, gamma, y) → (dx, dgamma);
/// for rrelu (g, g_mask, x, y, mask) → dx.
#[derive(Debug, Clone, PartialEq)]
pub struct LeakyReLUBackward {
    /// The forward operator's parameters.
    pub param: LeakyReLUParam,
}

impl Operator for LeakyReLUBackward {
    fn name(&self) -> &'static str {
        "_backward_LeakyReLU"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        let names: &[&str] = match self.param.act_type {
            LeakyActType::Prelu => &["ograd", "data", "gamma", "output"],
            LeakyActType::Rrelu => &["ograd", "ograd_mask", "data", "output", "mask"],
            _ => &["ograd", "data", "output"],
        };
        names.iter().map(|s| s.to_string()).collect()
    }
    fn num_outputs(&self) -> usize {
        match self.param.act_type {
            LeakyActType::Prelu => 2,
            _ => 1,
        }
    }
    fn output_names(&self) -> Vec<String> {
        match self.param.act_type {
            LeakyActType::Prelu => vec!["data_grad".into(), "gamma_grad".into()],
            _ => vec!["data_grad".into()],
        }
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        match self.param.act_type {
            LeakyActType::Prelu => infer_prelu(shapes, &[0, 1, 3], 2, &[0], Some(1)),
            _ => same_shape(shapes),
        }
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        if let Some(act) = self.param.simple() {
            return float_dispatch!(outputs[0].dtype, name, T => {
                let g = inputs[0].slice::<T>(name)?;
                let x = inputs[1].slice::<T>(name)?;
                let y = inputs[2].slice::<T>(name)?;
                ew::leaky_backward(act, g, x, y, outputs[0].slice_mut::<T>(name)?);
                Ok(())
            });
        }
        if self.param.act_type == LeakyActType::Rrelu {
            return float_dispatch!(outputs[0].dtype, name, T => {
                let g = inputs[0].slice::<T>(name)?;
                let y = inputs[3].slice::<T>(name)?;
                let mask = inputs[4].slice::<T>(name)?;
                ew::rrelu_backward(g, y, mask, outputs[0].slice_mut::<T>(name)?);
                Ok(())
            });
        }
        let (dx, dgamma) = two_outputs(name, outputs)?;
        float_dispatch!(dx.dtype, name, T => {
            let g = inputs[0].slice::<T>(name)?;
            let x = inputs[1].slice::<T>(name)?;
            let gamma = inputs[2].slice::<T>(name)?;
            let inner = prelu_inner(inputs[1].shape, gamma.len());
            ew::prelu_backward(g, x, gamma, inner, dx.slice_mut::<T>(name)?, dgamma.slice_mut::<T>(name)?);
            Ok(())
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for LeakyReLUBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        leaky_gpu::backward(ctx, &self.param, inputs, outputs)
    }
}

inventory::submit! {
    OpDef::new("Activation", "Applies an element-wise activation function.",
        ActivationParam::specs, |a| {
            Ok(Arc::new(Activation { param: ActivationParam::parse(a.iter().copied())? }) as OpRef)
        })
}
inventory::submit! {
    OpDef::new("_backward_Activation", "Gradient of Activation.", ActivationParam::specs, |a| {
        let param = ActivationParam::parse_as("_backward_Activation", a.iter().copied())?;
        Ok(Arc::new(Backward(param)) as OpRef)
    })
}
inventory::submit! {
    OpDef::new("LeakyReLU",
        "Leaky rectified linear units and relatives: leaky, prelu, rrelu, elu, selu, gelu.",
        LeakyReLUParam::specs, |a| {
            Ok(Arc::new(LeakyReLU { param: LeakyReLUParam::parse_for("LeakyReLU", a)? }) as OpRef)
        })
}
inventory::submit! {
    OpDef::new("_backward_LeakyReLU", "Gradient of LeakyReLU.", LeakyReLUParam::specs, |a| {
        let param = LeakyReLUParam::parse_for("_backward_LeakyReLU", a)?;
        Ok(Arc::new(LeakyReLUBackward { param }) as OpRef)
    })
}

mod gpu;
mod leaky_gpu;
#[cfg(test)]
mod leaky_gpu_tests;
#[cfg(test)]
mod tests;
