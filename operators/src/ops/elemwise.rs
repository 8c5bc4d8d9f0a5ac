//! Same-shape binary element-wise operators (elemwise_add/sub/mul/div, _maximum/_minimum) and
//! `where`.
//!
//! - `elemwise_add` (`_plus`, `_Plus`, `_add`), `elemwise_sub` (`_minus`, `_Minus`, `_sub`),
//!   `elemwise_mul` (`_mul`, `_Mul`), `elemwise_div` (`_div`, `_Div`), `_maximum`
//!   (`_Maximum`), `_minimum` (`_Minimum`): inputs `lhs`, `rhs` of one shape. Gradients through
//!   `_backward_add`, `_backward_sub` (head gradient only) and `_backward_mul`,
//!   `_backward_div`, `_backward_maximum`, `_backward_minimum` (head gradient and both inputs;
//!   the maximum's and minimum's go to the operand picked, the left one on ties, as MXNet's).
//! - `where(condition, x, y)`: `condition != 0 ? x : y`, the condition either of x's shape or
//!   1-D with one value per row of x. Gradients to x and y through `_backward_where`
//!   (head gradient and condition); none to the condition.
//!
//! Kernels: [`mxr_kernels::cpu::elementwise`], for f32, f64, i32, i64, u8 and i8; on the GPU
//! `kernels/cuda/elemwise.cu`, float32 data (a `where` condition of any of those dtypes).

use std::sync::Arc;

use mxr_kernels::cpu::elementwise::{self as ew, BinaryOp};

use super::{no_params, parse_no_params, same_shape};
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx, TensorMut,
    TypeCtx,
};
use crate::{Error, Result};

/// Runs `$body` with `$t` bound to the Rust type of a numeric dtype the element-wise kernels
/// support (`f32`, `f64`, `i32`, `i64`, `u8`, `i8`); `float16` gives [`Error::Unsupported`]
/// naming `$op`.
macro_rules! num_dispatch {
    ($dtype:expr, $op:expr, $t:ident => $body:expr) => {
        match $dtype {
            mxr_kernels::DType::F32 => {
                type $t = f32;
                $body
            }
            mxr_kernels::DType::F64 => {
                type $t = f64;
                $body
            }
            mxr_kernels::DType::I32 => {
                type $t = i32;
                $body
            }
            mxr_kernels::DType::I64 => {
                type $t = i64;
                $body
            }
            mxr_kernels::DType::U8 => {
                type $t = u8;
                $body
            }
            mxr_kernels::DType::I8 => {
                type $t = i8;
                $body
            }
            other => Err($crate::Error::Unsupported {
                op: ($op).to_string(),
                what: format!("dtype {other}"),
            }),
        }
    };
}
pub(crate) use num_dispatch;

/// The two outputs of a two-output kernel (the views are distinct, so both can be written).
pub(crate) fn two_outputs<'a, 'b>(
    op: &str,
    outputs: &'a mut [TensorMut<'b>],
) -> Result<(&'a mut TensorMut<'b>, &'a mut TensorMut<'b>)> {
    match outputs {
        [a, b, ..] => Ok((a, b)),
        _ => Err(Error::BadInput {
            op: op.to_string(),
            reason: format!("expected 2 outputs, got {}", outputs.len()),
        }),
    }
}

fn binary_name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "elemwise_add",
        BinaryOp::Sub => "elemwise_sub",
        BinaryOp::Mul => "elemwise_mul",
        BinaryOp::Div => "elemwise_div",
        BinaryOp::Max => "_maximum",
        BinaryOp::Min => "_minimum",
    }
}

/// `elemwise_add/sub/mul/div`: `lhs ∘ rhs` for inputs of one shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElemwiseBinary {
    /// The operation.
    pub op: BinaryOp,
}

impl Operator for ElemwiseBinary {
    fn name(&self) -> &'static str {
        binary_name(self.op)
    }
    fn attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["lhs".into(), "rhs".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        same_shape(shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        num_dispatch!(outputs[0].dtype, name, T => {
            let lhs = inputs[0].slice::<T>(name)?;
            let rhs = inputs[1].slice::<T>(name)?;
            ew::binary(self.op, lhs, rhs, outputs[0].slice_mut::<T>(name)?);
            Ok(())
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let back = BinaryBackward { op: self.op };
        let inputs = match self.op {
            BinaryOp::Add | BinaryOp::Sub => vec![grad.ograds[0]],
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Max | BinaryOp::Min => {
                vec![grad.ograds[0], grad.inputs[0], grad.inputs[1]]
            }
        };
        let out = grad.backward_node(back, &inputs)?;
        Ok(GradCtx::all(out))
    }
    fn inplace_option(&self) -> Vec<(usize, usize)> {
        vec![(0, 0), (1, 0)]
    }
}

impl GpuForward for ElemwiseBinary {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::binary(
            ctx,
            self.name(),
            self.op,
            &inputs[0],
            &inputs[1],
            &outputs[0],
        )
    }
}

/// `_backward_add`, `_backward_sub` (input: the head gradient) and `_backward_mul`,
/// `_backward_div` (inputs: head gradient, lhs, rhs): the gradients of both operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinaryBackward {
    /// The forward operation.
    pub op: BinaryOp,
}

impl BinaryBackward {
    fn reads_operands(&self) -> bool {
        !matches!(self.op, BinaryOp::Add | BinaryOp::Sub)
    }
}

impl Operator for BinaryBackward {
    fn name(&self) -> &'static str {
        match self.op {
            BinaryOp::Add => "_backward_add",
            BinaryOp::Sub => "_backward_sub",
            BinaryOp::Mul => "_backward_mul",
            BinaryOp::Div => "_backward_div",
            BinaryOp::Max => "_backward_maximum",
            BinaryOp::Min => "_backward_minimum",
        }
    }
    fn attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn input_names(&self) -> Vec<String> {
        if self.reads_operands() {
            vec!["ograd".into(), "lhs".into(), "rhs".into()]
        } else {
            vec!["ograd".into()]
        }
    }
    fn num_outputs(&self) -> usize {
        2
    }
    fn output_names(&self) -> Vec<String> {
        vec!["lhs_grad".into(), "rhs_grad".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        same_shape(shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let (dl, dr) = two_outputs(name, outputs)?;
        num_dispatch!(dl.dtype, name, T => {
            let g = inputs[0].slice::<T>(name)?;
            let (lhs, rhs): (&[T], &[T]) = if self.reads_operands() {
                (inputs[1].slice::<T>(name)?, inputs[2].slice::<T>(name)?)
            } else {
                (&[], &[])
            };
            ew::binary_backward(self.op, g, lhs, rhs, dl.slice_mut::<T>(name)?, dr.slice_mut::<T>(name)?);
            Ok(())
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for BinaryBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let operands = self.reads_operands().then(|| (&inputs[1], &inputs[2]));
        gpu::binary_backward(
            ctx,
            self.name(),
            self.op,
            &inputs[0],
            operands,
            &outputs[0],
            &outputs[1],
        )
    }
}

/// The shape rule of `where` and `_backward_where`: the `data` inputs and `outs` outputs share
/// one shape; input `cond` has that shape, or is 1-D with one value per row (axis 0).
fn infer_where(
    shapes: &mut ShapeCtx<'_>,
    cond: usize,
    data: &[usize],
    outs: &[usize],
) -> Result<()> {
    let mut merged = Shape::unknown();
    for &i in data {
        merged
            .merge(shapes.input(i))
            .map_err(|reason| shapes.error(format!("x and y must have one shape: {reason}")))?;
    }
    for &o in outs {
        merged
            .merge(shapes.output(o))
            .map_err(|reason| shapes.error(reason))?;
    }
    let c = shapes.input(cond).clone();
    let mismatch = |shapes: &ShapeCtx<'_>, merged: &Shape| {
        shapes.error(format!(
            "condition {c} must have the shape of x {merged} or be 1-D with one value per row \
             (length x.shape[0])"
        ))
    };
    match (c.ndim(), merged.ndim()) {
        (Some(cn), Some(n)) if cn == n => {
            merged.merge(&c).map_err(|_| mismatch(shapes, &merged))?;
            shapes.set_input(cond, merged.clone())?;
        }
        (Some(1), Some(_)) => {
            let mut rows = Shape::partial(vec![merged.dim(0)]);
            rows.merge(&c).map_err(|_| mismatch(shapes, &merged))?;
            if let (Some(d0), Some(dims)) = (rows.dim(0), merged.partial_dims()) {
                let mut dims = dims.to_vec();
                dims[0] = Some(d0);
                merged = Shape::partial(dims);
            }
        }
        (Some(_), Some(_)) => return Err(mismatch(shapes, &merged)),
        // A condition of rank other than 1 must be x's shape; a 1-D one could be either.
        (Some(cn), None) if cn != 1 => merged = c.clone(),
        _ => {}
    }
    for &i in data {
        shapes.set_input(i, merged.clone())?;
    }
    for &o in outs {
        shapes.set_output(o, merged.clone())?;
    }
    Ok(())
}

/// The dtype rule of `where`: x, y and the output share one dtype; the condition may have any.
fn infer_where_type(types: &mut TypeCtx<'_>) -> Result<()> {
    let known = types
        .input(1)
        .or_else(|| types.input(2))
        .or_else(|| types.output(0));
    if let Some(dtype) = known {
        types.set_input(1, dtype)?;
        types.set_input(2, dtype)?;
        types.set_output(0, dtype)?;
    }
    Ok(())
}

/// Elements per condition value: 1 when the condition has x's shape, else the size of one row.
fn where_row(cond: &[usize], x: &[usize]) -> usize {
    if cond == x {
        1
    } else {
        x.iter().skip(1).product()
    }
}

/// `where(condition, x, y)`: `condition != 0 ? x : y` element by element (or row by row for a
/// 1-D condition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Where;

impl Operator for Where {
    fn name(&self) -> &'static str {
        "where"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["condition".into(), "x".into(), "y".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        infer_where(shapes, 0, &[1, 2], &[0])
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        infer_where_type(types)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let row = where_row(inputs[0].shape, inputs[1].shape);
        num_dispatch!(inputs[0].dtype, name, C => {
            let cond = inputs[0].slice::<C>(name)?;
            num_dispatch!(outputs[0].dtype, name, T => {
                let x = inputs[1].slice::<T>(name)?;
                let y = inputs[2].slice::<T>(name)?;
                ew::select(cond, x, y, row, outputs[0].slice_mut::<T>(name)?);
                Ok(())
            })
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let out = grad.backward_node(WhereBackward, &[grad.ograds[0], grad.inputs[0]])?;
        Ok(vec![None, Some(out[0]), Some(out[1])])
    }
}

impl GpuForward for Where {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let row = where_row(inputs[0].shape, inputs[1].shape);
        gpu::select(ctx, &inputs[0], &inputs[1], &inputs[2], &outputs[0], row)
    }
}

/// `_backward_where`: inputs head gradient and condition; outputs the gradients of x and y.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhereBackward;

impl Operator for WhereBackward {
    fn name(&self) -> &'static str {
        "_backward_where"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["ograd".into(), "condition".into()]
    }
    fn num_outputs(&self) -> usize {
        2
    }
    fn output_names(&self) -> Vec<String> {
        vec!["x_grad".into(), "y_grad".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        infer_where(shapes, 1, &[0], &[0, 1])
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        let known = types
            .input(0)
            .or_else(|| types.output(0))
            .or_else(|| types.output(1));
        if let Some(dtype) = known {
            types.set_input(0, dtype)?;
            types.set_output(0, dtype)?;
            types.set_output(1, dtype)?;
        }
        Ok(())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let row = where_row(inputs[1].shape, inputs[0].shape);
        let (dx, dy) = two_outputs(name, outputs)?;
        num_dispatch!(inputs[1].dtype, name, C => {
            let cond = inputs[1].slice::<C>(name)?;
            num_dispatch!(dx.dtype, name, T => {
                let g = inputs[0].slice::<T>(name)?;
                ew::select_backward(g, cond, row, dx.slice_mut::<T>(name)?, dy.slice_mut::<T>(name)?);
                Ok(())
            })
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for WhereBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let row = where_row(inputs[1].shape, inputs[0].shape);
        gpu::select_backward(ctx, &inputs[0], &inputs[1], &outputs[0], &outputs[1], row)
    }
}

fn create_binary(name: &'static str, op: BinaryOp, attrs: &[(&str, &str)]) -> Result<OpRef> {
    parse_no_params(name, attrs)?;
    Ok(Arc::new(ElemwiseBinary { op }))
}

fn create_binary_backward(
    name: &'static str,
    op: BinaryOp,
    attrs: &[(&str, &str)],
) -> Result<OpRef> {
    parse_no_params(name, attrs)?;
    Ok(Arc::new(BinaryBackward { op }))
}

inventory::submit! {
    OpDef::new("elemwise_add", "Adds two arrays of one shape element by element.", no_params,
        |a| create_binary("elemwise_add", BinaryOp::Add, a))
        .aliases(&["_plus", "_Plus", "_add"])
}
inventory::submit! {
    OpDef::new("elemwise_sub", "Subtracts two arrays of one shape element by element.",
        no_params, |a| create_binary("elemwise_sub", BinaryOp::Sub, a))
        .aliases(&["_minus", "_Minus", "_sub"])
}
inventory::submit! {
    OpDef::new("elemwise_mul", "Multiplies two arrays of one shape element by element.",
        no_params, |a| create_binary("elemwise_mul", BinaryOp::Mul, a))
        .aliases(&["_mul", "_Mul"])
}
inventory::submit! {
    OpDef::new("elemwise_div", "Divides two arrays of one shape element by element.",
        no_params, |a| create_binary("elemwise_div", BinaryOp::Div, a))
        .aliases(&["_div", "_Div"])
}
inventory::submit! {
    OpDef::new("_maximum", "The larger of two arrays of one shape, element by element.",
        no_params, |a| create_binary("_maximum", BinaryOp::Max, a))
        .aliases(&["_Maximum"])
}
inventory::submit! {
    OpDef::new("_minimum", "The smaller of two arrays of one shape, element by element.",
        no_params, |a| create_binary("_minimum", BinaryOp::Min, a))
        .aliases(&["_Minimum"])
}
inventory::submit! {
    OpDef::new("_backward_add", "Gradient of elemwise_add: the head gradient, twice.",
        no_params, |a| create_binary_backward("_backward_add", BinaryOp::Add, a))
}
inventory::submit! {
    OpDef::new("_backward_sub", "Gradient of elemwise_sub: the head gradient and its negation.",
        no_params, |a| create_binary_backward("_backward_sub", BinaryOp::Sub, a))
}
inventory::submit! {
    OpDef::new("_backward_mul", "Gradient of elemwise_mul: (g·rhs, g·lhs).",
        no_params, |a| create_binary_backward("_backward_mul", BinaryOp::Mul, a))
}
inventory::submit! {
    OpDef::new("_backward_div", "Gradient of elemwise_div: (g/rhs, −g·lhs/rhs²).",
        no_params, |a| create_binary_backward("_backward_div", BinaryOp::Div, a))
}
inventory::submit! {
    OpDef::new("_backward_maximum", "Gradient of _maximum: g to the larger operand (lhs on ties).",
        no_params, |a| create_binary_backward("_backward_maximum", BinaryOp::Max, a))
}
inventory::submit! {
    OpDef::new("_backward_minimum", "Gradient of _minimum: g to the smaller operand (lhs on ties).",
        no_params, |a| create_binary_backward("_backward_minimum", BinaryOp::Min, a))
}
inventory::submit! {
    OpDef::new("where", "Takes x where the condition is non-zero, else y.", no_params, |a| {
        parse_no_params("where", a)?;
        Ok(Arc::new(Where) as OpRef)
    })
}
inventory::submit! {
    OpDef::new("_backward_where", "Gradient of where: the head gradient split by the condition.",
        no_params, |a| {
            parse_no_params("_backward_where", a)?;
            Ok(Arc::new(WhereBackward) as OpRef)
        })
}

pub(crate) mod gpu;
#[cfg(test)]
mod tests;
