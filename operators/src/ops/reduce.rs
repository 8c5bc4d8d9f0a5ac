//! Reductions `sum`, `mean`, `max`, `min` (over chosen axes), `argmax`/`argmin`, and
//! `broadcast_to`, with their gradients.
//!
//! Backward ops and their inputs (MXNet copies shapes from the forward node instead; our graph
//! builder needs them as inputs):
//! - `_backward_sum`, `_backward_mean`: `[ograd, data]` → the head gradient broadcast back over
//!   the reduced axes (divided by the count for mean); `data` only lends its shape.
//! - `_backward_max`, `_backward_min`: `[ograd, data, output]` → the head gradient sent to every
//!   element equal to the result (ties all receive it, as in MXNet).
//! - `_broadcast_backward` (gradient of `broadcast_to`): `[ograd, data]` → the head gradient
//!   summed over the broadcast axes; `data` only lends its shape.
//! - `argmax`/`argmin` have a zero gradient (`zeros_like`, as MXNet's `MakeZeroGradNodes`).
//!
//! Numeric kernels: [`mxr_kernels::cpu::reduce`] (float32/float64; `broadcast_to` moves bytes,
//! so it takes any dtype).

use std::sync::Arc;

use mxr_kernels::cpu::reduce::{Reducer, arg_extreme, broadcast, extreme_grad, reduce};

use super::common::kernel_error;
use super::common::normalize_axis;
use super::init::FillLike;
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx,
};
use crate::{Error, Result, float_dispatch, params};

/// Gives a parameter error the name of the operator that parsed it (the parameter structs
/// below are shared by several operators).
fn renamed(e: Error, op: &str) -> Error {
    match e {
        Error::UnknownParam { name, valid, .. } => Error::UnknownParam {
            op: op.into(),
            name,
            valid,
        },
        Error::MissingParam {
            name, type_name, ..
        } => Error::MissingParam {
            op: op.into(),
            name,
            type_name,
        },
        Error::BadParam {
            name,
            value,
            type_name,
            hint,
            ..
        } => Error::BadParam {
            op: op.into(),
            name,
            value,
            type_name,
            hint,
        },
        other => other,
    }
}

params! {
    /// Parameters of `sum`, `mean`, `max`, `min`.
    pub struct ReduceAxesParam for "sum" {
        /// The axes to reduce (negative counts from the end); None or () reduces all.
        axis: Option<Vec<i64>> = None,
        /// Keep the reduced axes as size 1.
        keepdims: bool = false,
        /// Reduce every axis except those in `axis`.
        exclude: bool = false,
    }
}

impl ReduceAxesParam {
    /// [`ReduceAxesParam::mask`] for a kernel of `op`: a bad axis is a bad-input error.
    fn kernel_mask(&self, op: &str, rank: usize) -> Result<Vec<bool>> {
        self.mask(rank).map_err(|reason| Error::BadInput {
            op: op.into(),
            reason,
        })
    }

    /// Which axes of a `rank`-D input are reduced.
    fn mask(&self, rank: usize) -> std::result::Result<Vec<bool>, String> {
        let axes = match &self.axis {
            None => return Ok(vec![true; rank]),
            Some(a) if a.is_empty() => return Ok(vec![true; rank]),
            Some(a) => a,
        };
        let mut mask = vec![false; rank];
        for &a in axes {
            let Some(k) = normalize_axis(a, rank) else {
                return Err(format!(
                    "reduction axis {a} is out of range for a {rank}-D input (allowed [-{rank}, {rank}))"
                ));
            };
            if mask[k] {
                return Err(format!("reduction axes {axes:?} have duplicates"));
            }
            mask[k] = true;
        }
        if self.exclude {
            for m in &mut mask {
                *m = !*m;
            }
        }
        Ok(mask)
    }

    /// Whether the output shape is known without the input's rank: everything reduced into
    /// `(1,)`.
    fn reduces_to_one(&self) -> bool {
        !self.keepdims && self.axis.as_ref().is_none_or(Vec::is_empty)
    }
}

/// The output dims of a reduction of `input` with `mask` (legacy: reducing everything without
/// keepdims gives `(1,)`).
fn reduced_dims(input: &[Option<usize>], mask: &[bool], keepdims: bool) -> Vec<Option<usize>> {
    if keepdims {
        return input
            .iter()
            .zip(mask)
            .map(|(&d, &m)| if m { Some(1) } else { d })
            .collect();
    }
    let kept: Vec<Option<usize>> = input
        .iter()
        .zip(mask)
        .filter(|(_, m)| !**m)
        .map(|(&d, _)| d)
        .collect();
    if kept.is_empty() { vec![Some(1)] } else { kept }
}

/// Shape inference between a reduction's input (`full`) and output (`part`).
fn infer_reduce(
    shapes: &ShapeCtx<'_>,
    p: &ReduceAxesParam,
    full: &Shape,
    part: &Shape,
) -> Result<(Shape, Shape)> {
    let Some(rank) = full.ndim() else {
        let part = if p.reduces_to_one() {
            Shape::known(&[1])
        } else {
            part.clone()
        };
        return Ok((full.clone(), part));
    };
    let mask = p.mask(rank).map_err(|r| shapes.error(r))?;
    let mut full_dims = full.partial_dims().map_or(vec![None; rank], <[_]>::to_vec);
    let mut part_shape = part.clone();
    part_shape
        .merge(&Shape::partial(reduced_dims(&full_dims, &mask, p.keepdims)))
        .map_err(|r| shapes.error(format!("output: {r}")))?;
    // Back: the kept axes of the input from the output.
    if let Some(out) = part_shape.partial_dims() {
        let kept = mask.iter().filter(|m| !**m).count();
        if p.keepdims {
            for (k, d) in full_dims.iter_mut().enumerate() {
                if !mask[k] && d.is_none() {
                    *d = out[k];
                }
            }
        } else if kept > 0 {
            let mut out = out.iter();
            for (k, d) in full_dims.iter_mut().enumerate() {
                if !mask[k] {
                    let o = out.next().copied().flatten();
                    if d.is_none() {
                        *d = o;
                    }
                }
            }
        }
    }
    Ok((Shape::partial(full_dims), part_shape))
}

/// Which reduction a [`Reduce`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceKind {
    /// `sum`.
    Sum,
    /// `mean`.
    Mean,
    /// `max`.
    Max,
    /// `min`.
    Min,
}

impl ReduceKind {
    fn name(self) -> &'static str {
        match self {
            ReduceKind::Sum => "sum",
            ReduceKind::Mean => "mean",
            ReduceKind::Max => "max",
            ReduceKind::Min => "min",
        }
    }
    fn backward_name(self) -> &'static str {
        match self {
            ReduceKind::Sum => "_backward_sum",
            ReduceKind::Mean => "_backward_mean",
            ReduceKind::Max => "_backward_max",
            ReduceKind::Min => "_backward_min",
        }
    }
    fn reducer(self) -> Reducer {
        match self {
            ReduceKind::Sum => Reducer::Sum,
            ReduceKind::Mean => Reducer::Mean,
            ReduceKind::Max => Reducer::Max,
            ReduceKind::Min => Reducer::Min,
        }
    }
    /// Whether the gradient needs the forward input's values and the output.
    fn uses_values(self) -> bool {
        matches!(self, ReduceKind::Max | ReduceKind::Min)
    }
}

/// `sum`, `mean`, `max`, `min` over the chosen axes.
#[derive(Debug, Clone)]
pub struct Reduce {
    kind: ReduceKind,
    param: ReduceAxesParam,
}

impl Reduce {
    /// A reduction of `kind` with `param`.
    pub fn new(kind: ReduceKind, param: ReduceAxesParam) -> Reduce {
        Reduce { kind, param }
    }
}

impl Operator for Reduce {
    fn name(&self) -> &'static str {
        self.kind.name()
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let (full, part) = (shapes.input(0).clone(), shapes.output(0).clone());
        let (full, part) = infer_reduce(shapes, &self.param, &full, &part)?;
        shapes.set_input(0, full)?;
        shapes.set_output(0, part)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let op = self.name();
        let x = &inputs[0];
        let mask = self.param.kernel_mask(op, x.shape.len())?;
        let out = &mut outputs[0];
        float_dispatch!(x.dtype, op, T => {
            reduce(x.slice::<T>(op)?, x.shape, &mask, self.kind.reducer(), out.slice_mut::<T>(op)?)
                .map_err(|e| kernel_error(op, e))
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let back = BackwardReduce(self.clone());
        let g = if self.kind.uses_values() {
            grad.backward_node(back, &[grad.ograds[0], grad.inputs[0], grad.outputs[0]])?
        } else {
            grad.backward_node(back, &[grad.ograds[0], grad.inputs[0]])?
        };
        Ok(vec![Some(g[0])])
    }
}

impl GpuForward for Reduce {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let op = self.name();
        let x = &inputs[0];
        let mask = self.param.kernel_mask(op, x.shape.len())?;
        gpu::reduce(ctx, op, self.kind, x, &mask, &outputs[0])
    }
}

/// `_backward_sum`, `_backward_mean` (inputs `[ograd, data]`), `_backward_max`,
/// `_backward_min` (inputs `[ograd, data, output]`): the gradient of a reduction with respect
/// to its input.
#[derive(Debug, Clone)]
pub struct BackwardReduce(Reduce);

impl BackwardReduce {
    /// The gradient of a reduction of `kind` with `param`.
    pub fn new(kind: ReduceKind, param: ReduceAxesParam) -> BackwardReduce {
        BackwardReduce(Reduce::new(kind, param))
    }
}

impl Operator for BackwardReduce {
    fn name(&self) -> &'static str {
        self.0.kind.backward_name()
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        let mut names = vec!["ograd".to_string(), "data".to_string()];
        if self.0.kind.uses_values() {
            names.push("output".into());
        }
        names
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let data = shapes.input(1).clone();
        shapes.set_output(0, data)?;
        let full = shapes.output(0).clone();
        let mut part = shapes.input(0).clone();
        if self.0.kind.uses_values() {
            part.merge(shapes.input(2)).map_err(|r| shapes.error(r))?;
        }
        let (full, part) = infer_reduce(shapes, &self.0.param, &full, &part)?;
        shapes.set_input(1, full.clone())?;
        shapes.set_output(0, full)?;
        shapes.set_input(0, part.clone())?;
        if self.0.kind.uses_values() {
            shapes.set_input(2, part)?;
        }
        Ok(())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let op = self.name();
        let (g, x) = (&inputs[0], &inputs[1]);
        let mask = self.0.param.kernel_mask(op, x.shape.len())?;
        let out = &mut outputs[0];
        float_dispatch!(x.dtype, op, T => {
            let dx = out.slice_mut::<T>(op)?;
            let gs = g.slice::<T>(op)?;
            match self.0.kind {
                ReduceKind::Sum => broadcast(gs, x.shape, &mask, dx).map_err(|e| kernel_error(op, e)),
                ReduceKind::Mean => {
                    broadcast(gs, x.shape, &mask, dx).map_err(|e| kernel_error(op, e))?;
                    let count: usize = x
                        .shape
                        .iter()
                        .zip(&mask)
                        .filter(|(_, m)| **m)
                        .map(|(d, _)| d)
                        .product();
                    let count = count as T;
                    for v in dx.iter_mut() {
                        *v /= count;
                    }
                    Ok(())
                }
                ReduceKind::Max | ReduceKind::Min => {
                    let y = inputs.get(2).ok_or_else(|| Error::BadInput {
                        op: op.into(),
                        reason: "the forward output (input 2) is missing".into(),
                    })?;
                    extreme_grad(x.slice::<T>(op)?, x.shape, &mask, y.slice::<T>(op)?, gs, dx)
                        .map_err(|e| kernel_error(op, e))
                }
            }
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        if self.0.kind.uses_values() {
            Vec::new()
        } else {
            vec![1]
        }
    }
}

impl GpuForward for BackwardReduce {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let op = self.name();
        let (g, x) = (&inputs[0], &inputs[1]);
        let mask = self.0.param.kernel_mask(op, x.shape.len())?;
        let dx = &outputs[0];
        match self.0.kind {
            ReduceKind::Sum => gpu::broadcast(ctx, op, g, x.shape, &mask, None, dx),
            ReduceKind::Mean => {
                let count: usize = x
                    .shape
                    .iter()
                    .zip(&mask)
                    .filter(|(_, m)| **m)
                    .map(|(d, _)| d)
                    .product();
                gpu::broadcast(ctx, op, g, x.shape, &mask, Some(count as f32), dx)
            }
            ReduceKind::Max | ReduceKind::Min => {
                let y = inputs.get(2).ok_or_else(|| Error::BadInput {
                    op: op.into(),
                    reason: "the forward output (input 2) is missing".into(),
                })?;
                gpu::extreme_grad(ctx, op, x, &mask, y, g, dx)
            }
        }
    }
}

params! {
    /// Parameters of `argmax` and `argmin`.
    pub struct ArgReduceParam for "argmax" {
        /// The axis to search along (negative counts from the end); None searches the
        /// flattened array.
        axis: Option<i64> = None,
        /// Keep the reduced axis (or, with axis None, every axis) as size 1.
        keepdims: bool = false,
    }
}

/// `argmax` / `argmin`: the index of the first largest / smallest element, as a value of the
/// input's dtype (float32 for float32 input, as in MXNet). A NaN counts as the extreme.
#[derive(Debug, Clone)]
pub struct ArgReduce {
    largest: bool,
    param: ArgReduceParam,
}

impl ArgReduce {
    /// `argmax` (`largest`) or `argmin`.
    pub fn new(largest: bool, param: ArgReduceParam) -> ArgReduce {
        ArgReduce { largest, param }
    }
}

impl Operator for ArgReduce {
    fn name(&self) -> &'static str {
        if self.largest { "argmax" } else { "argmin" }
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let input = shapes
            .input(0)
            .partial_dims()
            .map(<[Option<usize>]>::to_vec);
        let out = match (self.param.axis, input) {
            (None, _) if !self.param.keepdims => Some(vec![Some(1)]),
            (None, Some(dims)) => Some(vec![Some(1); dims.len()]),
            (Some(axis), Some(dims)) => {
                let Some(k) = normalize_axis(axis, dims.len()) else {
                    let rank = dims.len();
                    return Err(shapes.error(format!(
                        "axis {axis} is out of range for a {rank}-D input (allowed [-{rank}, {rank}))"
                    )));
                };
                let mask: Vec<bool> = (0..dims.len()).map(|i| i == k).collect();
                Some(reduced_dims(&dims, &mask, self.param.keepdims))
            }
            (_, None) => None,
        };
        if let Some(out) = out {
            shapes.set_output(0, Shape::partial(out))?;
        }
        Ok(())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let op = self.name();
        let x = &inputs[0];
        let out = &mut outputs[0];
        let size = x.size();
        let (shape, axis) = match self.param.axis {
            None => (vec![size], 0),
            Some(a) => {
                let k = normalize_axis(a, x.shape.len()).ok_or_else(|| Error::BadInput {
                    op: op.into(),
                    reason: format!("axis {a} is out of range for {:?}", x.shape),
                })?;
                (x.shape.to_vec(), k)
            }
        };
        float_dispatch!(x.dtype, op, T => {
            arg_extreme(x.slice::<T>(op)?, &shape, axis, self.largest, out.slice_mut::<T>(op)?)
                .map_err(|e| kernel_error(op, e))
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let zeros = grad.backward_node(FillLike::ZEROS, &[grad.inputs[0]])?;
        Ok(vec![Some(zeros[0])])
    }
}

impl GpuForward for ArgReduce {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let op = self.name();
        let x = &inputs[0];
        let split = match self.param.axis {
            None => (1, x.size(), 1),
            Some(a) => {
                let k = normalize_axis(a, x.shape.len()).ok_or_else(|| Error::BadInput {
                    op: op.into(),
                    reason: format!("axis {a} is out of range for {:?}", x.shape),
                })?;
                (
                    x.shape[..k].iter().product(),
                    x.shape[k],
                    x.shape[k + 1..].iter().product(),
                )
            }
        };
        gpu::arg_extreme(ctx, op, x, split, self.largest, &outputs[0])
    }
}

fn parse_reduce(op: &str, attrs: &[(&str, &str)]) -> Result<ReduceAxesParam> {
    ReduceAxesParam::parse(attrs.iter().copied()).map_err(|e| renamed(e, op))
}

fn create_reduce(kind: ReduceKind, attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Reduce::new(
        kind,
        parse_reduce(kind.name(), attrs)?,
    )))
}

fn create_backward_reduce(kind: ReduceKind, attrs: &[(&str, &str)]) -> Result<OpRef> {
    let param = parse_reduce(kind.backward_name(), attrs)?;
    Ok(Arc::new(BackwardReduce::new(kind, param)))
}

fn create_arg(largest: bool, attrs: &[(&str, &str)]) -> Result<OpRef> {
    let op = if largest { "argmax" } else { "argmin" };
    let param = ArgReduceParam::parse(attrs.iter().copied()).map_err(|e| renamed(e, op))?;
    Ok(Arc::new(ArgReduce::new(largest, param)))
}

inventory::submit! {
    OpDef::new("sum", "The sum over the given axes (all by default).",
        ReduceAxesParam::specs, |a| create_reduce(ReduceKind::Sum, a)).aliases(&["sum_axis"])
}
inventory::submit! {
    OpDef::new("mean", "The mean over the given axes (all by default).",
        ReduceAxesParam::specs, |a| create_reduce(ReduceKind::Mean, a))
}
inventory::submit! {
    OpDef::new("max", "The maximum over the given axes (all by default); NaN propagates.",
        ReduceAxesParam::specs, |a| create_reduce(ReduceKind::Max, a)).aliases(&["max_axis"])
}
inventory::submit! {
    OpDef::new("min", "The minimum over the given axes (all by default); NaN propagates.",
        ReduceAxesParam::specs, |a| create_reduce(ReduceKind::Min, a)).aliases(&["min_axis"])
}
inventory::submit! {
    OpDef::new("_backward_sum", "Gradient of sum (inputs: ograd, data).",
        ReduceAxesParam::specs, |a| create_backward_reduce(ReduceKind::Sum, a))
}
inventory::submit! {
    OpDef::new("_backward_mean", "Gradient of mean (inputs: ograd, data).",
        ReduceAxesParam::specs, |a| create_backward_reduce(ReduceKind::Mean, a))
}
inventory::submit! {
    OpDef::new("_backward_max", "Gradient of max (inputs: ograd, data, output).",
        ReduceAxesParam::specs, |a| create_backward_reduce(ReduceKind::Max, a))
}
inventory::submit! {
    OpDef::new("_backward_min", "Gradient of min (inputs: ograd, data, output).",
        ReduceAxesParam::specs, |a| create_backward_reduce(ReduceKind::Min, a))
}
inventory::submit! {
    OpDef::new("argmax", "The index of the first largest element along an axis (or of the flattened array).",
        ArgReduceParam::specs, |a| create_arg(true, a))
}
inventory::submit! {
    OpDef::new("argmin", "The index of the first smallest element along an axis (or of the flattened array).",
        ArgReduceParam::specs, |a| create_arg(false, a))
}

mod broadcast_to;
mod gpu;

pub use broadcast_to::{BroadcastBackward, BroadcastTo, BroadcastToParam};
#[cfg(test)]
mod tests;
