//! `Dropout` and `_backward_Dropout`.
//!
//! Outputs `output, mask` (the mask hidden). Active when training (or `mode='always'`) and
//! `p > 0`: each mask value is `1/(1 − p)` with probability `1 − p` and 0 otherwise, drawn from
//! the device's random state; `output = data · mask`. Inactive: the identity with a mask of
//! ones. With `axes`, one mask value is drawn per position of the other axes and shared along
//! the listed ones; the hidden mask output is stored broadcast to the data's shape, so the
//! backward op (`dx = g · mask`) needs no broadcasting. `p = 1` drops everything (MXNet 1.9.1
//! produces NaN there, 0 · ∞).

use std::sync::Arc;

use mxr_kernels::cpu::random::Rng;
use mxr_kernels::cpu::softmax::Real;

use crate::registry::attrs::AttrValue;

use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Resource, ShapeCtx,
};
use crate::{Error, Result, attr_enum, float_dispatch, params};

attr_enum! {
    /// When dropout is applied.
    pub enum DropoutMode { Training = "training", Always = "always" }
}

params! {
    /// Parameters of `Dropout`.
    pub struct DropoutParam for "Dropout" {
        /// The fraction of the input dropped during training.
        p: f32 = 0.5,
        /// Apply only in training, or always.
        mode: DropoutMode = DropoutMode::Training,
        /// Axes along which one mask value is shared (variational dropout).
        axes: Vec<usize> = vec![],
        /// Do not use cuDNN (no effect on CPU).
        cudnn_off: Option<bool> = Some(false),
    }
}

/// `Dropout` with parsed parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropout(pub DropoutParam);

impl Dropout {
    /// Parses and validates the attributes.
    pub fn parse(attrs: &[(&str, &str)]) -> Result<Dropout> {
        let p = DropoutParam::parse(attrs.iter().copied())?;
        if !(0.0..=1.0).contains(&p.p) {
            return Err(Error::BadParam {
                op: "Dropout".into(),
                name: "p".into(),
                value: p.p.to_attr(),
                type_name: "float".into(),
                hint: "; must be in [0, 1]".into(),
            });
        }
        Ok(Dropout(p))
    }

    /// Fills `mask` (shaped `shape`) with `1/(1 − p)` or 0, one draw per position of the
    /// non-shared axes.
    fn draw_mask<T: Real>(&self, rng: &mut Rng, shape: &[usize], mask: &mut [T]) -> Result<()> {
        let keep = 1.0 - f64::from(self.0.p);
        let kept = if keep > 0.0 {
            T::from_f64(1.0 / keep)
        } else {
            T::ZERO
        };
        let mut draw = || {
            if rng.uniform_f64() < keep {
                kept
            } else {
                T::ZERO
            }
        };
        if self.0.axes.is_empty() {
            mask.iter_mut().for_each(|m| *m = draw());
            return Ok(());
        }
        // Strides of the reduced mask (shared axes have extent 1, stride 0).
        let mut reduced = shape.to_vec();
        for &a in &self.0.axes {
            match reduced.get_mut(a) {
                Some(d) => *d = 1,
                None => return Err(self.axes_error(shape.len())),
            }
        }
        let values: Vec<T> = (0..reduced.iter().product::<usize>())
            .map(|_| draw())
            .collect();
        let mut strides = vec![0usize; shape.len()];
        let mut acc = 1;
        for d in (0..shape.len()).rev() {
            strides[d] = if reduced[d] == 1 { 0 } else { acc };
            acc *= reduced[d];
        }
        // Walk the full index with a counter, tracking the reduced offset.
        let mut index = vec![0usize; shape.len()];
        let mut offset = 0usize;
        for m in mask.iter_mut() {
            *m = values.get(offset).copied().unwrap_or(T::ZERO);
            for d in (0..shape.len()).rev() {
                index[d] += 1;
                offset += strides[d];
                if index[d] < shape[d] {
                    break;
                }
                offset -= strides[d] * index[d];
                index[d] = 0;
            }
        }
        Ok(())
    }

    fn axes_error(&self, ndim: usize) -> Error {
        Error::BadParam {
            op: "Dropout".into(),
            name: "axes".into(),
            value: self.0.axes.to_attr(),
            type_name: "Shape(tuple)".into(),
            hint: format!("; every axis must be < {ndim}, the data's rank"),
        }
    }
}

impl Operator for Dropout {
    fn name(&self) -> &'static str {
        "Dropout"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn output_names(&self) -> Vec<String> {
        vec!["output".into(), "mask".into()]
    }
    fn num_outputs(&self) -> usize {
        2
    }
    fn num_visible_outputs(&self) -> usize {
        1
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        super::same_shape(shapes)?;
        if let Some(ndim) = shapes.input(0).ndim()
            && self.0.axes.iter().any(|&a| a >= ndim)
        {
            return Err(shapes.error(format!(
                "axes {} out of range for {ndim}-dimensional data",
                self.0.axes.to_attr()
            )));
        }
        Ok(())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let name = self.name();
        let active = self.0.p > 0.0 && (ctx.is_train || self.0.mode == DropoutMode::Always);
        let x = &inputs[0];
        let [out, mask, ..] = outputs else {
            return Err(Error::BadInput {
                op: name.into(),
                reason: "too few output buffers".into(),
            });
        };
        if !active {
            out.bytes.copy_from_slice(x.bytes);
            mask.fill(1.0);
            return Ok(());
        }
        let rng = ctx.rng(name)?;
        float_dispatch!(x.dtype, name, T => {
            let m = mask.slice_mut::<T>(name)?;
            self.draw_mask(rng, x.shape, m)?;
            for ((o, &v), &k) in out.slice_mut::<T>(name)?.iter_mut().zip(x.slice::<T>(name)?).zip(m.iter()) {
                *o = v * k;
            }
            Ok(())
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let out = grad.backward_node(
            DropoutBackward(self.clone()),
            &[grad.ograds[0], grad.outputs[1]],
        )?;
        Ok(vec![Some(out[0])])
    }
    fn resources(&self) -> Vec<Resource> {
        vec![Resource::Random]
    }
}

impl GpuForward for Dropout {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let [out, mask, ..] = outputs else {
            return Err(Error::BadInput {
                op: self.name().into(),
                reason: "too few output buffers".into(),
            });
        };
        gpu::forward(ctx, self, &inputs[0], out, mask)
    }
}

/// `_backward_Dropout`: inputs `[ograd, mask]`, output `data_grad = ograd · mask`.
#[derive(Debug, Clone, PartialEq)]
pub struct DropoutBackward(pub Dropout);

impl Operator for DropoutBackward {
    fn name(&self) -> &'static str {
        "_backward_Dropout"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["ograd".into(), "mask".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        super::same_shape(shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let (g, mask) = (&inputs[0], &inputs[1]);
        float_dispatch!(g.dtype, name, T => {
            let (g, m) = (g.slice::<T>(name)?, mask.slice::<T>(name)?);
            for ((d, &gv), &mv) in outputs[0].slice_mut::<T>(name)?.iter_mut().zip(g).zip(m) {
                *d = gv * mv;
            }
            Ok(())
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for DropoutBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::backward(ctx, &inputs[0], &inputs[1], &outputs[0])
    }
}

fn create_dropout(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Dropout::parse(attrs)?))
}

fn create_backward_dropout(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(DropoutBackward(Dropout::parse(attrs)?)))
}

inventory::submit! {
    OpDef::new("Dropout",
        "Randomly zeroes a fraction p of the input in training, scaling the rest by 1/(1 − p).",
        DropoutParam::specs, create_dropout)
}
inventory::submit! {
    OpDef::new("_backward_Dropout", "The gradient of Dropout: the head gradient times the mask.",
        DropoutParam::specs, create_backward_dropout)
}

mod gpu;
#[cfg(test)]
mod tests;
