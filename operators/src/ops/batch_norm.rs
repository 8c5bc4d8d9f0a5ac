//! `BatchNorm` and `_backward_BatchNorm`.
//!
//! Inputs `data, gamma, beta, moving_mean, moving_var`; the moving statistics (inputs 3 and 4)
//! are mutated (auxiliary states). Outputs `output, mean, var`, the last two hidden unless
//! `output_mean_var`; `var` holds the **inverse** standard deviation `1/√(σ² + eps)`, as in
//! MXNet.
//!
//! Training (`is_train` and not `use_global_stats`) normalises with the batch statistics (biased
//! variance) and, unlike MXNet 1.9.1 on CPU which does it in the backward pass, updates the
//! moving statistics in this forward pass: `moving = moving·momentum + batch·(1 − momentum)`.
//! After a training step (forward + backward) the values are the same. Otherwise the moving
//! statistics are used, and the hidden outputs hold them (`mean = moving_mean`,
//! `var = 1/√(moving_var + eps)`), so the backward op always finds the statistics the forward
//! normalised with in its `mean`/`var` inputs.
//!
//! `fix_gamma` treats gamma as ones and gives it a zero gradient (MXNet also overwrites the
//! gamma array with ones; here gamma is not a mutated input, so it is left as it is).

use std::sync::Arc;

use mxr_kernels::cpu::batch_norm::{self as kernel, BackwardInputs};
use mxr_kernels::cpu::softmax::{Axis, Real};

use super::common::{check_eps, normalize_axis};
use crate::registry::attrs::AttrValue;

use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx, TensorMut,
    TensorRef,
};
use crate::{Error, Result, float_dispatch, params};

params! {
    /// Parameters of `BatchNorm`.
    pub struct BatchNormParam for "BatchNorm" {
        /// Added to the variance before the square root.
        eps: f64 = 1e-3,
        /// Decay of the moving statistics.
        momentum: f32 = 0.9,
        /// Treat gamma as ones (and give it no gradient).
        fix_gamma: bool = true,
        /// Normalise with the moving statistics in training too.
        use_global_stats: bool = false,
        /// Make the `mean` and `var` (inverse std) outputs visible.
        output_mean_var: bool = false,
        /// The channel axis (negative counts from the end).
        axis: i64 = 1,
        /// Do not use cuDNN (no effect on CPU).
        cudnn_off: bool = false,
        /// Calibration minimum for quantisation (unused by the float kernel).
        min_calib_range: Option<f32> = None,
        /// Calibration maximum for quantisation (unused by the float kernel).
        max_calib_range: Option<f32> = None,
    }
}

/// `BatchNorm` with parsed parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm(pub BatchNormParam);

impl BatchNorm {
    /// Parses and validates the attributes.
    pub fn parse(attrs: &[(&str, &str)]) -> Result<BatchNorm> {
        let p = BatchNormParam::parse(attrs.iter().copied())?;
        check_eps("BatchNorm", "eps", p.eps, "double")?;
        if !p.momentum.is_finite() {
            return Err(Error::BadParam {
                op: "BatchNorm".into(),
                name: "momentum".into(),
                value: p.momentum.to_attr(),
                type_name: "float".into(),
                hint: "; must be finite".into(),
            });
        }
        Ok(BatchNorm(p))
    }

    /// The view of data of shape `shape` around the channel axis.
    fn view(&self, op: &str, shape: &[usize]) -> Result<Axis> {
        normalize_axis(self.0.axis, shape.len())
            .and_then(|a| Axis::of(shape, a))
            .ok_or_else(|| Error::BadParam {
                op: op.into(),
                name: "axis".into(),
                value: self.0.axis.to_string(),
                type_name: "int".into(),
                hint: format!("; out of range for {}-dimensional data", shape.len()),
            })
    }

    /// Shape inference shared by the forward and backward ops: `data_slots` (inputs) and
    /// `data_outputs` share the data's shape; `channel_slots` (inputs) and `channel_outputs`
    /// are `(C,)` vectors of the channel dimension.
    fn infer(
        &self,
        shapes: &mut ShapeCtx<'_>,
        data_slots: &[usize],
        data_outputs: &[usize],
        channel_slots: &[usize],
        channel_outputs: &[usize],
    ) -> Result<()> {
        let mut data = Shape::unknown();
        for &i in data_slots {
            data.merge(shapes.input(i))
                .map_err(|r| shapes.error(format!("data-shaped inputs: {r}")))?;
        }
        for &o in data_outputs {
            data.merge(shapes.output(o))
                .map_err(|r| shapes.error(format!("data-shaped outputs: {r}")))?;
        }
        let mut channel = Shape::of_rank(1);
        for &i in channel_slots {
            channel
                .merge(shapes.input(i))
                .map_err(|r| shapes.error(format!("per-channel inputs must be (C,): {r}")))?;
        }
        for &o in channel_outputs {
            channel
                .merge(shapes.output(o))
                .map_err(|r| shapes.error(format!("per-channel outputs must be (C,): {r}")))?;
        }
        if let Some(dims) = data.partial_dims() {
            let axis = normalize_axis(self.0.axis, dims.len()).ok_or_else(|| {
                shapes.error(format!(
                    "channel axis {} is out of range for {}-dimensional data",
                    self.0.axis,
                    dims.len()
                ))
            })?;
            let c = dims[axis]; // axis < dims.len()
            channel
                .merge(&Shape::partial(vec![c]))
                .map_err(|r| shapes.error(format!("the channel dimension (axis {axis}): {r}")))?;
            let mut filled = dims.to_vec();
            filled[axis] = channel.dim(0);
            data = Shape::partial(filled);
        }
        for &i in data_slots {
            shapes.set_input(i, data.clone())?;
        }
        for &o in data_outputs {
            shapes.set_output(o, data.clone())?;
        }
        for &i in channel_slots {
            shapes.set_input(i, channel.clone())?;
        }
        for &o in channel_outputs {
            shapes.set_output(o, channel.clone())?;
        }
        Ok(())
    }

    fn forward_typed<T: Real + mxr_kernels::Element>(
        &self,
        training: bool,
        inputs: &[TensorRef<'_>],
        outputs: &mut [TensorMut<'_>],
    ) -> Result<()> {
        let name = "BatchNorm";
        let p = &self.0;
        let [data, gamma, beta, moving_mean, moving_var, ..] = inputs else {
            return Err(Error::BadInput {
                op: name.into(),
                reason: "expected 5 inputs".into(),
            });
        };
        let [out, mean_out, var_out, rest @ ..] = outputs else {
            return Err(missing_outputs(name));
        };
        let ax = self.view(name, data.shape)?;
        let x = data.slice::<T>(name)?;
        let gamma = (!p.fix_gamma).then(|| gamma.slice::<T>(name)).transpose()?;
        let beta = beta.slice::<T>(name)?;
        let mean = mean_out.slice_mut::<T>(name)?;
        let invstd = var_out.slice_mut::<T>(name)?;
        if training {
            let mut var = vec![T::ZERO; ax.len];
            kernel::batch_stats(x, ax, mean, &mut var);
            kernel::inverse_std(&var, p.eps, invstd);
            kernel::normalize(x, out.slice_mut::<T>(name)?, ax, mean, invstd, gamma, beta);
            let [mm, mv, ..] = rest else {
                return Err(missing_outputs(name));
            };
            let momentum = f64::from(p.momentum);
            kernel::update_moving(mm.slice_mut::<T>(name)?, mean, momentum);
            kernel::update_moving(mv.slice_mut::<T>(name)?, &var, momentum);
        } else {
            mean.copy_from_slice(moving_mean.slice::<T>(name)?);
            kernel::inverse_std(moving_var.slice::<T>(name)?, p.eps, invstd);
            kernel::normalize(x, out.slice_mut::<T>(name)?, ax, mean, invstd, gamma, beta);
        }
        Ok(())
    }
}

fn missing_outputs(op: &str) -> Error {
    Error::BadInput {
        op: op.into(),
        reason: "too few output buffers".into(),
    }
}

impl Operator for BatchNorm {
    fn name(&self) -> &'static str {
        "BatchNorm"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        ["data", "gamma", "beta", "moving_mean", "moving_var"]
            .map(String::from)
            .to_vec()
    }
    fn output_names(&self) -> Vec<String> {
        ["output", "mean", "var"].map(String::from).to_vec()
    }
    fn num_outputs(&self) -> usize {
        3
    }
    fn num_visible_outputs(&self) -> usize {
        if self.0.output_mean_var { 3 } else { 1 }
    }
    fn mutate_inputs(&self) -> Vec<usize> {
        vec![3, 4]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        self.infer(shapes, &[0], &[0], &[1, 2, 3, 4], &[1, 2])
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let training = ctx.is_train && !self.0.use_global_stats;
        float_dispatch!(inputs[0].dtype, "BatchNorm", T => self.forward_typed::<T>(training, inputs, outputs))
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let mut ins = vec![grad.ograds[0], grad.outputs[1], grad.outputs[2]];
        ins.extend_from_slice(grad.inputs);
        let out = grad.backward_node(BatchNormBackward(self.clone()), &ins)?;
        // The moving statistics get no gradient.
        Ok(vec![Some(out[0]), Some(out[1]), Some(out[2]), None, None])
    }
}

impl GpuForward for BatchNorm {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let p = &self.0;
        let ax = self.view("BatchNorm", inputs[0].shape)?;
        let training = ctx.is_train && !p.use_global_stats;
        let flags = (p.eps, f64::from(p.momentum), p.fix_gamma, training);
        gpu::forward(ctx, ax, flags, inputs, outputs)
    }
}

/// `_backward_BatchNorm`: inputs `[ograd, mean, var, data, gamma, beta, moving_mean,
/// moving_var]` (MXNet's order; `mean`/`var` are the forward's hidden outputs, `var` the inverse
/// std), outputs `[data_grad, gamma_grad, beta_grad]`. Uses the batch-statistics formula when
/// run in training mode without `use_global_stats`, the fixed-statistics one otherwise. It does
/// not touch the moving statistics (the forward updated them).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormBackward(pub BatchNorm);

impl Operator for BatchNormBackward {
    fn name(&self) -> &'static str {
        "_backward_BatchNorm"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.attrs()
    }
    fn input_names(&self) -> Vec<String> {
        [
            "ograd",
            "mean",
            "var",
            "data",
            "gamma",
            "beta",
            "moving_mean",
            "moving_var",
        ]
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
        self.0
            .infer(shapes, &[0, 3], &[0], &[1, 2, 4, 5, 6, 7], &[1, 2])
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let name = self.name();
        let p = &self.0.0;
        let batch_stats = ctx.is_train && !p.use_global_stats;
        let [g, mean, invstd, data, gamma, ..] = inputs else {
            return Err(Error::BadInput {
                op: name.into(),
                reason: "expected 8 inputs".into(),
            });
        };
        let [dx, dgamma, dbeta, ..] = outputs else {
            return Err(missing_outputs(name));
        };
        let ax = self.0.view(name, data.shape)?;
        float_dispatch!(data.dtype, name, T => {
            let inp = BackwardInputs {
                grad: g.slice::<T>(name)?,
                data: data.slice::<T>(name)?,
                mean: mean.slice::<T>(name)?,
                invstd: invstd.slice::<T>(name)?,
                gamma: (!p.fix_gamma).then(|| gamma.slice::<T>(name)).transpose()?,
            };
            let dg = dgamma.slice_mut::<T>(name)?;
            kernel::backward(
                inp,
                ax,
                batch_stats,
                dx.slice_mut::<T>(name)?,
                dg,
                dbeta.slice_mut::<T>(name)?,
            );
            if p.fix_gamma {
                dg.fill(T::ZERO);
            }
            Ok(())
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        if self.0.0.fix_gamma {
            vec![4, 5, 6, 7]
        } else {
            vec![5, 6, 7]
        }
    }
}

impl GpuForward for BatchNormBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let p = &self.0.0;
        let ax = self.0.view(self.name(), inputs[3].shape)?;
        let batch_stats = ctx.is_train && !p.use_global_stats;
        gpu::backward(ctx, ax, (p.fix_gamma, batch_stats), inputs, outputs)
    }
}

fn create_batch_norm(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(BatchNorm::parse(attrs)?))
}

fn create_backward_batch_norm(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(BatchNormBackward(BatchNorm::parse(attrs)?)))
}

inventory::submit! {
    OpDef::new("BatchNorm",
        "Batch normalisation per channel: (x − μ)/√(σ² + eps)·γ + β, batch statistics in \
         training (updating the moving ones), moving statistics otherwise.",
        BatchNormParam::specs, create_batch_norm)
}
inventory::submit! {
    OpDef::new("_backward_BatchNorm", "The gradient of BatchNorm.",
        BatchNormParam::specs, create_backward_batch_norm)
}

mod gpu;
#[cfg(test)]
mod tests;
