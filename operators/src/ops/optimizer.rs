//! Optimizer update operators (`sgd_update`, `sgd_mom_update`, `multi_sgd_update`,
//! `multi_sgd_mom_update`, `adam_update`) with MXNet 1.9.1 semantics.
//!
//! Each takes the weight, its gradient and (for the stateful ones) the optimizer state, writes
//! the new weight to its one output and updates the state inputs in place
//! ([`Operator::mutate_inputs`]). MXNet's Python optimizers call them with `out=weight`; the
//! frontends' in-place path handles that aliasing. None has a gradient.
//!
//! The parameters are float32 (as in MXNet's `dmlc::Parameter` structs) and are converted to the
//! array's dtype before use; every formula keeps MXNet's order of operations, so float32 and
//! float64 results match MXNet's bit for bit. With `c = clip_gradient` (clipping to `[-c, c]`
//! when `c >= 0`, so `0` clips every gradient to zero and a negative value turns clipping off):
//!
//! - `sgd_update`: `w ← (1 − lr·wd)·w − lr·clip(rescale_grad·g)`.
//! - `sgd_mom_update`: `mom ← momentum·mom − lr·wd·w − lr·clip(rescale_grad·g)`,
//!   `w ← w + mom`.
//! - `multi_sgd_update` / `multi_sgd_mom_update`: the same for several weights at once (inputs
//!   `weight_i, grad_i[, mom_i]`, outputs the new weights, `lrs` / `wds` one per weight), in
//!   the form `mom' = momentum·mom − lr·wd·w − lr·clip(rescale_grad·g)`, `w ← w + mom'` (with
//!   no momentum for `multi_sgd_update`). MXNet's Python `SGD` optimizer updates dense weights
//!   through these.
//! - `adam_update`: `g' = clip(rescale_grad·g + wd·w)` (clipped *after* the weight decay is
//!   added), `mean ← β1·mean + (1 − β1)·g'`, `var ← β2·var + (1 − β2)·g'²`,
//!   `w ← w − lr·mean / (√var + ε)`. Bias correction is the caller's (MXNet's `Adam` optimizer
//!   folds it into `lr`).
//!
//! `lazy_update` is accepted for compatibility; it only matters for row-sparse gradients, which
//! mxr does not have.
//!
//! ```
//! use mxr_operators::check::{HostTensor, run};
//! let op = mxr_operators::registry::create("sgd_mom_update", &[("lr", "0.1"), ("momentum", "0.9")], None)?;
//! let mut inputs = [
//!     HostTensor::from_f32(&[2], vec![1.0, -2.0]), // weight
//!     HostTensor::from_f32(&[2], vec![0.5, 3.0]),  // grad
//!     HostTensor::from_f32(&[2], vec![0.0, 0.0]),  // mom (updated in place)
//! ];
//! let out = run(op.as_ref(), &mut inputs, false)?;
//! assert_eq!(out[0].to_f32(), vec![0.95, -2.3]);
//! assert_eq!(inputs[2].to_f32(), vec![-0.05, -0.3]);
//! # Ok::<(), mxr_operators::Error>(())
//! ```

use std::ops::{Add, Div, Mul, Neg, Sub};
use std::sync::Arc;

use super::same_shape;
use crate::registry::{
    Call, GpuCall, GpuForward, OpDef, OpRef, Operator, Shape, ShapeCtx, TensorMut, TensorRef,
    TypeCtx,
};
use crate::{Error, Result, float_dispatch, params};

params! {
    /// Parameters of `sgd_update`.
    pub struct SgdParam for "sgd_update" {
        /// Learning rate.
        lr: f32,
        /// Weight decay: adds `wd·w` to the gradient.
        wd: f32 = 0.0,
        /// Rescale gradient to grad = rescale_grad*grad.
        rescale_grad: f32 = 1.0,
        /// Clip the rescaled gradient to [-clip_gradient, clip_gradient]; negative: no clipping.
        clip_gradient: f32 = -1.0,
        /// Lazy updates for row-sparse gradients (no effect on dense arrays).
        lazy_update: bool = true,
    }
}

params! {
    /// Parameters of `sgd_mom_update`.
    pub struct SgdMomParam for "sgd_mom_update" {
        /// Learning rate.
        lr: f32,
        /// The decay rate of momentum estimates at each epoch.
        momentum: f32 = 0.0,
        /// Weight decay: adds `wd·w` to the gradient.
        wd: f32 = 0.0,
        /// Rescale gradient to grad = rescale_grad*grad.
        rescale_grad: f32 = 1.0,
        /// Clip the rescaled gradient to [-clip_gradient, clip_gradient]; negative: no clipping.
        clip_gradient: f32 = -1.0,
        /// Lazy updates for row-sparse gradients (no effect on dense arrays).
        lazy_update: bool = true,
    }
}

params! {
    /// Parameters of `adam_update`.
    pub struct AdamParam for "adam_update" {
        /// Learning rate (bias correction included by the caller).
        lr: f32,
        /// The decay rate for the 1st moment estimates.
        beta1: f32 = 0.9,
        /// The decay rate for the 2nd moment estimates.
        beta2: f32 = 0.999,
        /// A small constant for numerical stability.
        epsilon: f32 = 1e-8,
        /// Weight decay: adds `wd·w` to the gradient.
        wd: f32 = 0.0,
        /// Rescale gradient to grad = rescale_grad*grad.
        rescale_grad: f32 = 1.0,
        /// Clip the gradient (after weight decay) to [-clip_gradient, clip_gradient]; negative:
        /// no clipping.
        clip_gradient: f32 = -1.0,
        /// Lazy updates for row-sparse gradients (no effect on dense arrays).
        lazy_update: bool = true,
    }
}

/// The floating types the update kernels compute in.
trait Real:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    const ONE: Self;
    const ZERO: Self;
    fn of(v: f32) -> Self;
    fn sqrt(self) -> Self;
}

impl Real for f32 {
    const ONE: f32 = 1.0;
    const ZERO: f32 = 0.0;
    fn of(v: f32) -> f32 {
        v
    }
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
}

impl Real for f64 {
    const ONE: f64 = 1.0;
    const ZERO: f64 = 0.0;
    fn of(v: f32) -> f64 {
        f64::from(v)
    }
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
}

/// MXNet's `mshadow_op::clip`: NaN passes through.
fn clip<T: Real>(x: T, bound: T) -> T {
    if x > bound {
        bound
    } else if x < -bound {
        -bound
    } else {
        x
    }
}

fn missing(op: &str, what: &str) -> Error {
    Error::BadInput {
        op: op.into(),
        reason: format!("missing {what} buffer"),
    }
}

/// `sgd_update(weight, grad)`: plain SGD with weight decay.
#[derive(Debug, Clone, PartialEq)]
pub struct SgdUpdate(pub SgdParam);

impl SgdUpdate {
    fn compute<T: Real + mxr_kernels::Element>(
        &self,
        inputs: &[TensorRef<'_>],
        outputs: &mut [TensorMut<'_>],
    ) -> Result<()> {
        let name = "sgd_update";
        let p = &self.0;
        let [weight, grad, ..] = inputs else {
            return Err(missing(name, "input"));
        };
        let w = weight.slice::<T>(name)?;
        let g = grad.slice::<T>(name)?;
        let out = outputs
            .first_mut()
            .ok_or_else(|| missing(name, "output"))?
            .slice_mut::<T>(name)?;
        let (lr, wd, rescale, c) = (
            T::of(p.lr),
            T::of(p.wd),
            T::of(p.rescale_grad),
            T::of(p.clip_gradient),
        );
        let decay = T::ONE - lr * wd;
        if c >= T::ZERO {
            for ((o, &w), &g) in out.iter_mut().zip(w).zip(g) {
                *o = decay * w - lr * clip(rescale * g, c);
            }
        } else {
            let step = lr * rescale;
            for ((o, &w), &g) in out.iter_mut().zip(w).zip(g) {
                *o = decay * w - step * g;
            }
        }
        Ok(())
    }
}

impl Operator for SgdUpdate {
    fn name(&self) -> &'static str {
        "sgd_update"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["weight".into(), "grad".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        same_shape(shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        float_dispatch!(inputs[0].dtype, "sgd_update", T => self.compute::<T>(inputs, outputs))
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for SgdUpdate {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::sgd(ctx, &self.0, inputs, outputs)
    }
}

/// `sgd_mom_update(weight, grad, mom)`: SGD with momentum; `mom` is updated in place.
#[derive(Debug, Clone, PartialEq)]
pub struct SgdMomUpdate(pub SgdMomParam);

impl SgdMomUpdate {
    fn compute<T: Real + mxr_kernels::Element>(
        &self,
        inputs: &[TensorRef<'_>],
        outputs: &mut [TensorMut<'_>],
    ) -> Result<()> {
        let name = "sgd_mom_update";
        let p = &self.0;
        let [weight, grad, ..] = inputs else {
            return Err(missing(name, "input"));
        };
        let w = weight.slice::<T>(name)?;
        let g = grad.slice::<T>(name)?;
        let [out, mom, ..] = outputs else {
            return Err(missing(name, "output or momentum"));
        };
        let out = out.slice_mut::<T>(name)?;
        let mom = mom.slice_mut::<T>(name)?;
        let (lr, wd, rescale, c) = (
            T::of(p.lr),
            T::of(p.wd),
            T::of(p.rescale_grad),
            T::of(p.clip_gradient),
        );
        let momentum = T::of(p.momentum);
        let lr_wd = lr * wd;
        if c >= T::ZERO {
            for (((o, m), &w), &g) in out.iter_mut().zip(mom.iter_mut()).zip(w).zip(g) {
                *m = momentum * *m - lr_wd * w - lr * clip(rescale * g, c);
                *o = w + *m;
            }
        } else {
            let step = lr * rescale;
            for (((o, m), &w), &g) in out.iter_mut().zip(mom.iter_mut()).zip(w).zip(g) {
                *m = momentum * *m - lr_wd * w - step * g;
                *o = w + *m;
            }
        }
        Ok(())
    }
}

impl Operator for SgdMomUpdate {
    fn name(&self) -> &'static str {
        "sgd_mom_update"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["weight".into(), "grad".into(), "mom".into()]
    }
    fn mutate_inputs(&self) -> Vec<usize> {
        vec![2]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        same_shape(shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        float_dispatch!(inputs[0].dtype, "sgd_mom_update", T => self.compute::<T>(inputs, outputs))
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for SgdMomUpdate {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let op = self.name();
        let p = &self.0;
        let ([w, g, ..], [out, mom, ..]) = (inputs, outputs) else {
            return Err(missing(op, "input or output"));
        };
        let s = gpu::Mom {
            lr: p.lr,
            wd: p.wd,
            momentum: p.momentum,
            rescale_grad: p.rescale_grad,
            clip_gradient: p.clip_gradient,
        };
        gpu::sgd_mom(ctx, op, &s, w, g, Some(mom), out)
    }
}

/// `adam_update(weight, grad, mean, var)`: Adam without bias correction; `mean` and `var` are
/// updated in place.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamUpdate(pub AdamParam);

impl AdamUpdate {
    fn compute<T: Real + mxr_kernels::Element>(
        &self,
        inputs: &[TensorRef<'_>],
        outputs: &mut [TensorMut<'_>],
    ) -> Result<()> {
        let name = "adam_update";
        let p = &self.0;
        let [weight, grad, ..] = inputs else {
            return Err(missing(name, "input"));
        };
        let w = weight.slice::<T>(name)?;
        let g = grad.slice::<T>(name)?;
        let [out, mean, var, ..] = outputs else {
            return Err(missing(name, "output, mean or var"));
        };
        let out = out.slice_mut::<T>(name)?;
        let mean = mean.slice_mut::<T>(name)?;
        let var = var.slice_mut::<T>(name)?;
        let (lr, wd, rescale, c) = (
            T::of(p.lr),
            T::of(p.wd),
            T::of(p.rescale_grad),
            T::of(p.clip_gradient),
        );
        let (beta1, beta2, eps) = (T::of(p.beta1), T::of(p.beta2), T::of(p.epsilon));
        let (one_minus_beta1, one_minus_beta2) = (T::ONE - beta1, T::ONE - beta2);
        let clipping = c >= T::ZERO;
        for i in 0..out.len() {
            let mut g = g[i] * rescale + w[i] * wd;
            if clipping {
                g = clip(g, c);
            }
            mean[i] = beta1 * mean[i] + one_minus_beta1 * g;
            var[i] = beta2 * var[i] + one_minus_beta2 * g * g;
            out[i] = w[i] - lr * mean[i] / (var[i].sqrt() + eps);
        }
        Ok(())
    }
}

impl Operator for AdamUpdate {
    fn name(&self) -> &'static str {
        "adam_update"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["weight".into(), "grad".into(), "mean".into(), "var".into()]
    }
    fn mutate_inputs(&self) -> Vec<usize> {
        vec![2, 3]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        same_shape(shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        float_dispatch!(inputs[0].dtype, "adam_update", T => self.compute::<T>(inputs, outputs))
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for AdamUpdate {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::adam(ctx, &self.0, inputs, outputs)
    }
}

params! {
    /// Parameters of `multi_sgd_update`.
    pub struct MultiSgdParam for "multi_sgd_update" {
        /// Learning rates, one per weight.
        lrs: Vec<f32>,
        /// Weight decays, one per weight.
        wds: Vec<f32>,
        /// Rescale gradient to grad = rescale_grad*grad.
        rescale_grad: f32 = 1.0,
        /// Clip the rescaled gradient to [-clip_gradient, clip_gradient]; negative: no clipping.
        clip_gradient: f32 = -1.0,
        /// Number of updated weights.
        num_weights: usize = 1,
    }
}

params! {
    /// Parameters of `multi_sgd_mom_update`.
    pub struct MultiSgdMomParam for "multi_sgd_mom_update" {
        /// Learning rates, one per weight.
        lrs: Vec<f32>,
        /// Weight decays, one per weight.
        wds: Vec<f32>,
        /// The decay rate of momentum estimates at each epoch.
        momentum: f32 = 0.0,
        /// Rescale gradient to grad = rescale_grad*grad.
        rescale_grad: f32 = 1.0,
        /// Clip the rescaled gradient to [-clip_gradient, clip_gradient]; negative: no clipping.
        clip_gradient: f32 = -1.0,
        /// Number of updated weights.
        num_weights: usize = 1,
    }
}

/// The parameters of either multi-weight SGD operator.
#[derive(Debug, Clone, PartialEq)]
pub enum MultiSgdParams {
    /// `multi_sgd_update`.
    Plain(MultiSgdParam),
    /// `multi_sgd_mom_update`.
    Momentum(MultiSgdMomParam),
}

/// `multi_sgd_update(weight_0, grad_0, weight_1, grad_1, ...)` and
/// `multi_sgd_mom_update(weight_0, grad_0, mom_0, ...)`: SGD on `num_weights` weights at once,
/// each with its own learning rate and weight decay; output `i` is the new weight `i`, and the
/// momenta are updated in place. The kernel (MXNet's `MultiSGDKernel`, which MXNet's Python `SGD`
/// optimizer uses for dense arrays) computes
/// `mom' = momentum·mom − lr·wd·w − lr·clip(rescale_grad·g)`, `w ← w + mom'` — with
/// `momentum = 0` and `mom = 0` for `multi_sgd_update`, which rounds differently from
/// `sgd_update`'s `(1 − lr·wd)·w − lr·g` when `wd ≠ 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiSgdUpdate(pub MultiSgdParams);

impl MultiSgdUpdate {
    fn has_momentum(&self) -> bool {
        matches!(self.0, MultiSgdParams::Momentum(_))
    }

    fn stride(&self) -> usize {
        if self.has_momentum() { 3 } else { 2 }
    }

    fn num_weights(&self) -> usize {
        match &self.0 {
            MultiSgdParams::Plain(p) => p.num_weights,
            MultiSgdParams::Momentum(p) => p.num_weights,
        }
    }

    /// `(lrs, wds, momentum, rescale_grad, clip_gradient)`.
    fn settings(&self) -> (&[f32], &[f32], f32, f32, f32) {
        match &self.0 {
            MultiSgdParams::Plain(p) => (&p.lrs, &p.wds, 0.0, p.rescale_grad, p.clip_gradient),
            MultiSgdParams::Momentum(p) => {
                (&p.lrs, &p.wds, p.momentum, p.rescale_grad, p.clip_gradient)
            }
        }
    }

    fn compute<T: Real + mxr_kernels::Element>(
        &self,
        k: usize,
        inputs: &[TensorRef<'_>],
        out: &mut TensorMut<'_>,
        mom: Option<&mut TensorMut<'_>>,
    ) -> Result<()> {
        let name = self.name();
        let (lrs, wds, momentum, rescale, c) = self.settings();
        let s = self.stride();
        let w = inputs[k * s].slice::<T>(name)?;
        let g = inputs[k * s + 1].slice::<T>(name)?;
        let out = out.slice_mut::<T>(name)?;
        let (lr, wd) = (T::of(lrs[k]), T::of(wds[k]));
        let (momentum, rescale, c) = (T::of(momentum), T::of(rescale), T::of(c));
        let lr_wd = lr * wd;
        let step = lr * rescale;
        let clipping = c >= T::ZERO;
        let update = |m: T, w: T, g: T| {
            if clipping {
                momentum * m - lr_wd * w - lr * clip(rescale * g, c)
            } else {
                momentum * m - lr_wd * w - step * g
            }
        };
        match mom {
            Some(mom) => {
                let mom = mom.slice_mut::<T>(name)?;
                for (((o, m), &w), &g) in out.iter_mut().zip(mom.iter_mut()).zip(w).zip(g) {
                    *m = update(*m, w, g);
                    *o = w + *m;
                }
            }
            None => {
                for ((o, &w), &g) in out.iter_mut().zip(w).zip(g) {
                    *o = w + update(T::ZERO, w, g);
                }
            }
        }
        Ok(())
    }
}

impl Operator for MultiSgdUpdate {
    fn name(&self) -> &'static str {
        if self.has_momentum() {
            "multi_sgd_mom_update"
        } else {
            "multi_sgd_update"
        }
    }
    fn attrs(&self) -> Vec<(String, String)> {
        match &self.0 {
            MultiSgdParams::Plain(p) => p.to_attrs(),
            MultiSgdParams::Momentum(p) => p.to_attrs(),
        }
    }
    fn input_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for i in 0..self.num_weights() {
            names.push(format!("weight_{i}"));
            names.push(format!("grad_{i}"));
            if self.has_momentum() {
                names.push(format!("mom_{i}"));
            }
        }
        names
    }
    fn num_outputs(&self) -> usize {
        self.num_weights()
    }
    fn mutate_inputs(&self) -> Vec<usize> {
        if self.has_momentum() {
            (0..self.num_weights()).map(|i| 3 * i + 2).collect()
        } else {
            Vec::new()
        }
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let s = self.stride();
        for k in 0..self.num_weights() {
            let mut merged = Shape::unknown();
            for i in k * s..(k + 1) * s {
                merged.merge(shapes.input(i)).map_err(|reason| {
                    shapes.error(format!(
                        "the inputs of weight {k} must have one shape: {reason}"
                    ))
                })?;
            }
            merged
                .merge(shapes.output(k))
                .map_err(|reason| shapes.error(reason))?;
            for i in k * s..(k + 1) * s {
                shapes.set_input(i, merged.clone())?;
            }
            shapes.set_output(k, merged)?;
        }
        Ok(())
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        let s = self.stride();
        for k in 0..self.num_weights() {
            let mut dtype = types.output(k);
            for i in k * s..(k + 1) * s {
                match (dtype, types.input(i)) {
                    (Some(a), Some(b)) if a != b => {
                        return Err(types.error(format!(
                            "the arrays of weight {k} must have one dtype ({a} and {b})"
                        )));
                    }
                    (None, b) => dtype = b,
                    _ => {}
                }
            }
            if let Some(dtype) = dtype {
                for i in k * s..(k + 1) * s {
                    types.set_input(i, dtype)?;
                }
                types.set_output(k, dtype)?;
            }
        }
        Ok(())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let n = self.num_weights();
        let s = self.stride();
        if inputs.len() < n * s || outputs.len() < n + if self.has_momentum() { n } else { 0 } {
            return Err(missing(name, "input or output"));
        }
        let (outs, moms) = outputs.split_at_mut(n);
        for (k, out) in outs.iter_mut().enumerate() {
            let mom = if self.has_momentum() {
                moms.get_mut(k)
            } else {
                None
            };
            float_dispatch!(inputs[k * s].dtype, name, T => self.compute::<T>(k, inputs, out, mom))?;
        }
        Ok(())
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for MultiSgdUpdate {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let name = self.name();
        let n = self.num_weights();
        let s = self.stride();
        let mom = self.has_momentum();
        if inputs.len() < n * s || outputs.len() < n + if mom { n } else { 0 } {
            return Err(missing(name, "input or output"));
        }
        let (lrs, wds, momentum, rescale_grad, clip_gradient) = self.settings();
        for k in 0..n {
            let settings = gpu::Mom {
                lr: lrs[k],
                wd: wds[k],
                momentum,
                rescale_grad,
                clip_gradient,
            };
            let m = if mom { outputs.get(n + k) } else { None };
            let (w, g) = (&inputs[k * s], &inputs[k * s + 1]);
            gpu::sgd_mom(ctx, name, &settings, w, g, m, &outputs[k])?;
        }
        Ok(())
    }
}

fn check_multi(op: &'static str, n: usize, lrs: &[f32], wds: &[f32]) -> Result<()> {
    let bad = |name: &str, value: String, hint: String| Error::BadParam {
        op: op.into(),
        name: name.into(),
        value,
        type_name: if name == "num_weights" {
            "int".into()
        } else {
            "tuple of <float>".into()
        },
        hint,
    };
    if n == 0 {
        return Err(bad(
            "num_weights",
            "0".into(),
            "; at least one weight".into(),
        ));
    }
    for (name, values) in [("lrs", lrs), ("wds", wds)] {
        if values.len() != n {
            return Err(bad(
                name,
                format!("{values:?}"),
                format!("; {} values for num_weights = {n}", values.len()),
            ));
        }
    }
    Ok(())
}

fn create_multi_sgd(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let p = MultiSgdParam::parse(attrs.iter().copied())?;
    check_multi("multi_sgd_update", p.num_weights, &p.lrs, &p.wds)?;
    Ok(Arc::new(MultiSgdUpdate(MultiSgdParams::Plain(p))))
}

fn create_multi_sgd_mom(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let p = MultiSgdMomParam::parse(attrs.iter().copied())?;
    check_multi("multi_sgd_mom_update", p.num_weights, &p.lrs, &p.wds)?;
    Ok(Arc::new(MultiSgdUpdate(MultiSgdParams::Momentum(p))))
}

fn create_sgd(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(SgdUpdate(SgdParam::parse(attrs.iter().copied())?)))
}

fn create_sgd_mom(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(SgdMomUpdate(SgdMomParam::parse(
        attrs.iter().copied(),
    )?)))
}

fn create_adam(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(AdamUpdate(AdamParam::parse(
        attrs.iter().copied(),
    )?)))
}

// The updates are applied to weights, never differentiated (MXNet registers no FGradient).
inventory::submit! {
    OpDef::new("sgd_update",
        "Update function for Stochastic Gradient Descent (SGD): \
         weight = (1 - lr·wd)·weight - lr·clip(rescale_grad·grad).",
        SgdParam::specs, create_sgd)
    .no_gradient()
}
inventory::submit! {
    OpDef::new("sgd_mom_update",
        "Momentum update function for SGD: mom = momentum·mom - lr·wd·weight - \
         lr·clip(rescale_grad·grad); weight = weight + mom. Updates mom in place.",
        SgdMomParam::specs, create_sgd_mom)
    .no_gradient()
}
inventory::submit! {
    OpDef::new("multi_sgd_update",
        "SGD on num_weights weights at once (inputs weight_0, grad_0, weight_1, grad_1, ...): \
         weight_i = weight_i - lrs[i]·wds[i]·weight_i - lrs[i]·clip(rescale_grad·grad_i).",
        MultiSgdParam::specs, create_multi_sgd)
    .no_gradient()
}
inventory::submit! {
    OpDef::new("multi_sgd_mom_update",
        "Momentum SGD on num_weights weights at once (inputs weight_0, grad_0, mom_0, ...): \
         mom_i = momentum·mom_i - lrs[i]·wds[i]·weight_i - lrs[i]·clip(rescale_grad·grad_i); \
         weight_i = weight_i + mom_i. Updates the momenta in place.",
        MultiSgdMomParam::specs, create_multi_sgd_mom)
    .no_gradient()
}
inventory::submit! {
    OpDef::new("adam_update",
        "Update function for the Adam optimizer: g = clip(rescale_grad·grad + wd·weight); \
         mean = beta1·mean + (1-beta1)·g; var = beta2·var + (1-beta2)·g²; \
         weight = weight - lr·mean/(sqrt(var) + epsilon). Updates mean and var in place.",
        AdamParam::specs, create_adam)
    .no_gradient()
}

mod gpu;
#[cfg(test)]
mod tests;
