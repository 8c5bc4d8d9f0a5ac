//! `LayerNorm` and `_backward_LayerNorm` (MXNet 1.9.1, `src/operator/nn/layer_norm.cc`).
//!
//! Inputs `data, gamma, beta`; outputs `output, mean, std`, the last two hidden unless
//! `output_mean_var`. Every lane of `data` along `axis` is normalised on its own:
//! `output = (data − mean)/std·gamma + beta` with `std = √(var + eps)` (the biased variance);
//! `gamma` and `beta` have the axis's length, `mean` and `std` the data's shape with the axis
//! as 1. The gradient (MXNet's `FGradient`) is one `_backward_LayerNorm` on
//! `[ograd, data, gamma, mean, std]` giving `[data_grad, gamma_grad, beta_grad]`; no
//! gradient flows through the `mean` and `std` outputs. The kernels are
//! [`mxr_kernels::cpu::layer_norm`] and `kernels/cuda/layer_norm.cu` (float32 on the GPU).

use std::sync::Arc;

use mxr_kernels::cpu::layer_norm::{self as kernel, BackwardInputs};
use mxr_kernels::cpu::softmax::Axis;
use mxr_kernels::cuda::layer_norm as kernels;

use super::common::{Slot, axis_out_of_range, axis_view, check_eps, kernel_error, normalize_axis};
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx,
    check_sizes, gpu_error,
};
use crate::{Error, Result, float_dispatch, params};

params! {
    /// Parameters of `LayerNorm`.
    pub struct LayerNormParam for "LayerNorm" {
        /// The axis to normalise along (negative counts from the end).
        axis: i64 = -1,
        /// Added to the variance before the square root.
        eps: f32 = 1e-5,
        /// Make the `mean` and `std` outputs visible.
        output_mean_var: bool = false,
    }
}

/// `LayerNorm` with parsed parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNorm(pub LayerNormParam);

impl LayerNorm {
    /// Parses and checks the attributes for operator `op` (`LayerNorm` or its backward).
    fn parse(op: &'static str, attrs: &[(&str, &str)]) -> Result<LayerNorm> {
        let p = LayerNormParam::parse_as(op, attrs.iter().copied())?;
        check_eps(op, "eps", f64::from(p.eps), "float")?;
        Ok(LayerNorm(p))
    }

    /// The view of data of shape `shape` around the normalised axis.
    fn view(&self, op: &str, shape: &[usize]) -> Result<Axis> {
        axis_view(op, self.0.axis, shape)
    }

    /// Shape inference shared by the forward and backward ops: `data` slots have the data's
    /// shape, `params` the axis's length `(len,)`, `moments` the data's shape with the axis
    /// as 1. Works in both directions.
    fn infer(
        &self,
        shapes: &mut ShapeCtx<'_>,
        data: &[Slot],
        params: &[Slot],
        moments: &[Slot],
    ) -> Result<()> {
        let mut whole = Shape::unknown();
        for &s in data {
            whole
                .merge(&s.get(shapes))
                .map_err(|r| shapes.error(format!("data-shaped inputs and outputs: {r}")))?;
        }
        let mut moment = Shape::unknown();
        for &s in moments {
            moment
                .merge(&s.get(shapes))
                .map_err(|r| shapes.error(format!("mean and std: {r}")))?;
        }
        let mut param = Shape::of_rank(1);
        for &s in params {
            param
                .merge(&s.get(shapes))
                .map_err(|r| shapes.error(format!("gamma and beta must be (len,): {r}")))?;
        }
        let Some(rank) = whole.ndim().or(moment.ndim()) else {
            return Self::set_all(shapes, params, &param);
        };
        let Some(axis) = normalize_axis(self.0.axis, rank) else {
            return Err(shapes.error(axis_out_of_range(self.0.axis, rank, "")));
        };
        let mut dims = vec![None; rank];
        dims[axis] = param.dim(0);
        let reason = |what: &str, r: String| format!("{what} (axis {axis}): {r}");
        whole
            .merge(&Shape::partial(dims))
            .map_err(|r| shapes.error(reason("gamma and beta have the length of the axis", r)))?;
        let mut around = match moment.partial_dims() {
            Some(d) if d.len() == rank => d.to_vec(),
            Some(d) => {
                return Err(shapes.error(format!(
                    "mean and std have rank {} where the data has rank {rank}",
                    d.len()
                )));
            }
            None => vec![None; rank],
        };
        around[axis] = whole.dim(axis);
        whole
            .merge(&Shape::partial(around))
            .map_err(|r| shapes.error(reason("mean and std have the data's shape", r)))?;
        let mut dims = whole.partial_dims().map_or_else(Vec::new, <[_]>::to_vec);
        param = Shape::partial(vec![dims[axis]]); // `whole` has rank `rank` after the merges
        dims[axis] = Some(1);
        moment
            .merge(&Shape::partial(dims))
            .map_err(|r| shapes.error(reason("mean and std have the axis as 1", r)))?;
        Self::set_all(shapes, data, &whole)?;
        Self::set_all(shapes, moments, &moment)?;
        Self::set_all(shapes, params, &param)
    }

    fn set_all(shapes: &mut ShapeCtx<'_>, slots: &[Slot], shape: &Shape) -> Result<()> {
        slots.iter().try_for_each(|s| s.set(shapes, shape.clone()))
    }
}

/// The error for a call with other than `inputs` inputs and 3 outputs.
fn arity(op: &str, inputs: usize) -> Error {
    Error::BadInput {
        op: op.into(),
        reason: format!("expected {inputs} inputs and 3 outputs"),
    }
}

impl Operator for LayerNorm {
    fn name(&self) -> &'static str {
        "LayerNorm"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        ["data", "gamma", "beta"].map(String::from).to_vec()
    }
    fn output_names(&self) -> Vec<String> {
        ["output", "mean", "std"].map(String::from).to_vec()
    }
    fn num_outputs(&self) -> usize {
        3
    }
    fn num_visible_outputs(&self) -> usize {
        if self.0.output_mean_var { 3 } else { 1 }
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let (data, params) = ([Slot::In(0), Slot::Out(0)], [Slot::In(1), Slot::In(2)]);
        self.infer(shapes, &data, &params, &[Slot::Out(1), Slot::Out(2)])
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let op = "LayerNorm";
        let ([x, gamma, beta], [y, mean, std]) = (inputs, outputs) else {
            return Err(arity(op, 3));
        };
        let ax = self.view(op, x.shape)?;
        float_dispatch!(x.dtype, op, T => {
            let params = [gamma.slice::<T>(op)?, beta.slice::<T>(op)?];
            let outs = [y.slice_mut::<T>(op)?, mean.slice_mut::<T>(op)?, std.slice_mut::<T>(op)?];
            let eps = self.0.eps as T;
            kernel::forward(x.slice::<T>(op)?, params, ax, eps, outs)
                .map_err(|e| kernel_error(op, e))
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let ins = [
            grad.ograds[0],
            grad.inputs[0],
            grad.inputs[1],
            grad.outputs[1],
            grad.outputs[2],
        ];
        let g = grad.backward_node(LayerNormBackward(self.clone()), &ins)?;
        Ok(vec![Some(g[0]), Some(g[1]), Some(g[2])])
    }
}

impl GpuForward for LayerNorm {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let op = "LayerNorm";
        let ([x, gamma, beta], [y, mean, std]) = (inputs, outputs) else {
            return Err(arity(op, 3));
        };
        let ax = self.view(op, x.shape)?;
        check_sizes(op, ax.size(), &[x, y])?;
        check_sizes(op, ax.outer * ax.inner, &[mean, std])?;
        check_sizes(op, ax.len, &[gamma, beta])?;
        let outs = [y.f32(op)?, mean.f32(op)?, std.f32(op)?];
        let ins = [x.f32(op)?, gamma.f32(op)?, beta.f32(op)?];
        kernels::forward(ctx.device, ax, self.0.eps, outs, ins).map_err(|e| gpu_error(op, e))
    }
}

/// `_backward_LayerNorm`: inputs `[ograd, data, gamma, mean, std]` (MXNet's order; `mean` and
/// `std` the forward's hidden outputs), outputs `[data_grad, gamma_grad, beta_grad]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNormBackward(pub LayerNorm);

impl Operator for LayerNormBackward {
    fn name(&self) -> &'static str {
        "_backward_LayerNorm"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.attrs()
    }
    fn input_names(&self) -> Vec<String> {
        ["ograd", "data", "gamma", "mean", "std"]
            .map(String::from)
            .to_vec()
    }
    fn output_names(&self) -> Vec<String> {
        ["data_grad", "gamma_grad", "beta_grad"]
            .map(String::from)
            .to_vec()
    }
    fn num_outputs(&self) -> usize {
        3
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let data = [Slot::In(0), Slot::In(1), Slot::Out(0)];
        let params = [Slot::In(2), Slot::Out(1), Slot::Out(2)];
        self.0
            .infer(shapes, &data, &params, &[Slot::In(3), Slot::In(4)])
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let op = "_backward_LayerNorm";
        let ([g, x, gamma, mean, std], [dx, dgamma, dbeta]) = (inputs, outputs) else {
            return Err(arity(op, 5));
        };
        let ax = self.0.view(op, x.shape)?;
        float_dispatch!(x.dtype, op, T => {
            let inp = BackwardInputs {
                grad: g.slice::<T>(op)?,
                data: x.slice::<T>(op)?,
                gamma: gamma.slice::<T>(op)?,
                mean: mean.slice::<T>(op)?,
                std: std.slice::<T>(op)?,
            };
            let (dg, db) = (dgamma.slice_mut::<T>(op)?, dbeta.slice_mut::<T>(op)?);
            kernel::backward(inp, ax, dx.slice_mut::<T>(op)?, dg, db)
                .map_err(|e| kernel_error(op, e))
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for LayerNormBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let op = "_backward_LayerNorm";
        let ([g, x, gamma, mean, std], [dx, dgamma, dbeta]) = (inputs, outputs) else {
            return Err(arity(op, 5));
        };
        let ax = self.0.view(op, x.shape)?;
        check_sizes(op, ax.size(), &[g, x, dx])?;
        check_sizes(op, ax.outer * ax.inner, &[mean, std])?;
        check_sizes(op, ax.len, &[gamma, dgamma, dbeta])?;
        let params = [dx.f32(op)?, dgamma.f32(op)?, dbeta.f32(op)?];
        if ax.size() == 0 {
            ctx.zero(op, params[1])?;
            return ctx.zero(op, params[2]);
        }
        let ins = [g.f32(op)?, x.f32(op)?, gamma.f32(op)?];
        let moments = [mean.f32(op)?, std.f32(op)?];
        kernels::backward(ctx.device, ax, params, ins, moments).map_err(|e| gpu_error(op, e))
    }
}

fn create_layer_norm(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(LayerNorm::parse("LayerNorm", attrs)?))
}

fn create_backward_layer_norm(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let op = "_backward_LayerNorm";
    Ok(Arc::new(LayerNormBackward(LayerNorm::parse(op, attrs)?)))
}

inventory::submit! {
    OpDef::new("LayerNorm",
        "Layer normalisation along an axis: (x − mean)/√(var + eps)·γ + β per lane, with the \
         lane's mean and std as hidden outputs.",
        LayerNormParam::specs, create_layer_norm)
}
inventory::submit! {
    OpDef::new("_backward_LayerNorm",
        "Gradient of LayerNorm (inputs: ograd, data, gamma, mean, std; outputs: data, gamma and \
         beta gradients).",
        LayerNormParam::specs, create_backward_layer_norm)
}

#[cfg(test)]
mod tests;
