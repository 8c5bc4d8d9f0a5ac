//! `Cast` (alias `cast`) and its gradient `_backward_cast`: the elements converted to `dtype`.
//!
//! MXNet 1.9.1 (`src/operator/tensor/elemwise_unary_op_basic.cc`) converts with `static_cast`
//! (floats to integers truncate toward zero, integers to narrower integers wrap; the kernel is
//! `mxr_kernels::cpu::elementwise::cast`). Its gradient `_backward_cast` casts the head
//! gradient back to the input's dtype; ours takes `[ograd, data]` (MXNet takes only the head
//! gradient and gets the dtype from the graph; `data` lends its dtype, its bytes are not read).
//! Every dtype but MXNet's `bfloat16` / `bool` (which mxr has not) is accepted; float16 goes
//! through float32 as MXNet's `half_t` does.
//! The GPU path is float32 to float32 (a device copy), as every GPU kernel is float32.

use std::sync::Arc;

use half::f16;
use mxr_kernels::DType;
use mxr_kernels::cpu::elementwise::cast;

use super::elemwise::num_dispatch;
use super::same_shape;
use crate::registry::attrs::AttrValue;
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, ShapeCtx, TensorMut,
    TensorRef, TypeCtx,
};
use crate::{Error, Result, attr_enum, params};

attr_enum! {
    /// The output dtype of `Cast` (MXNet's list; `bfloat16` and `bool` are refused).
    pub enum CastDType {
        Bfloat16 = "bfloat16", Bool = "bool", Float16 = "float16", Float32 = "float32",
        Float64 = "float64", Int32 = "int32", Int64 = "int64", Int8 = "int8", Uint8 = "uint8"
    }
}

impl CastDType {
    /// The element type, or `None` for a dtype mxr has not.
    pub fn dtype(self) -> Option<DType> {
        match self {
            CastDType::Bfloat16 | CastDType::Bool => None,
            CastDType::Float16 => Some(DType::F16),
            CastDType::Float32 => Some(DType::F32),
            CastDType::Float64 => Some(DType::F64),
            CastDType::Int32 => Some(DType::I32),
            CastDType::Int64 => Some(DType::I64),
            CastDType::Int8 => Some(DType::I8),
            CastDType::Uint8 => Some(DType::U8),
        }
    }
}

params! {
    /// Parameters of `Cast`.
    pub struct CastParam for "Cast" {
        /// The output dtype.
        dtype: CastDType,
    }
}

/// Converts `x` into `out`; `op` names the operator in errors.
fn convert(op: &str, x: &TensorRef<'_>, out: &mut TensorMut<'_>) -> Result<()> {
    if x.bytes.len() / x.dtype.size() != out.bytes.len() / out.dtype.size() {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "input {:?} and output {:?} differ in size",
                x.shape, out.shape
            ),
        });
    }
    if x.dtype == out.dtype {
        out.bytes.copy_from_slice(x.bytes);
        return Ok(());
    }
    if x.dtype == DType::F16 || out.dtype == DType::F16 {
        return convert_half(op, x, out);
    }
    num_dispatch!(x.dtype, op, S => {
        let src = x.slice::<S>(op)?;
        num_dispatch!(out.dtype, op, D => {
            cast(src, out.slice_mut::<D>(op)?);
            Ok(())
        })
    })
}

/// A cast to or from float16, through float32 as MXNet's `half_t` converts (its constructor
/// from a double or an integer goes through `float`; to an integer it goes through `float`
/// too): round to nearest even, values beyond 65504 to infinity.
fn convert_half(op: &str, x: &TensorRef<'_>, out: &mut TensorMut<'_>) -> Result<()> {
    let wide: Vec<f32> = if x.dtype == DType::F16 {
        x.slice::<f16>(op)?.iter().map(|h| h.to_f32()).collect()
    } else {
        num_dispatch!(x.dtype, op, S => {
            let src = x.slice::<S>(op)?;
            let mut wide = vec![0.0f32; src.len()];
            cast(src, &mut wide);
            Ok(wide)
        })?
    };
    if out.dtype == DType::F16 {
        let dst = out.slice_mut::<f16>(op)?;
        for (o, &w) in dst.iter_mut().zip(&wide) {
            *o = f16::from_f32(w);
        }
        return Ok(());
    }
    num_dispatch!(out.dtype, op, D => {
        cast(&wide, out.slice_mut::<D>(op)?);
        Ok(())
    })
}

/// A float32-to-float32 cast on the GPU (a copy); other dtypes are refused.
fn convert_gpu(call: GpuCall<'_, '_, '_>, op: &str) -> Result<()> {
    let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
    let (x, out) = (&inputs[0], &outputs[0]);
    ctx.copy(op, out.f32(op)?, x.f32(op)?)
}

/// `Cast`: the elements converted to `dtype`.
#[derive(Debug, Clone)]
pub struct Cast {
    /// The parameters.
    pub param: CastParam,
    /// The output dtype.
    pub dtype: DType,
}

impl Operator for Cast {
    fn name(&self) -> &'static str {
        "Cast"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        same_shape(shapes)
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        types.set_output(0, self.dtype)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        convert("Cast", &call.inputs[0], &mut call.outputs[0])
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let g = grad.backward_node(BackwardCast, &[grad.ograds[0], grad.inputs[0]])?;
        Ok(vec![Some(g[0])])
    }
}

impl GpuForward for Cast {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        convert_gpu(call, "Cast")
    }
}

/// `_backward_cast`: inputs `[ograd, data]`; the head gradient cast to data's dtype.
#[derive(Debug, Clone, Copy)]
pub struct BackwardCast;

impl Operator for BackwardCast {
    fn name(&self) -> &'static str {
        "_backward_cast"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["ograd".into(), "data".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        same_shape(shapes)
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        if let Some(d) = types.input(1).or(types.output(0)) {
            types.set_input(1, d)?;
            types.set_output(0, d)?;
        }
        Ok(())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        convert("_backward_cast", &call.inputs[0], &mut call.outputs[0])
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        vec![1]
    }
}

impl GpuForward for BackwardCast {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        convert_gpu(call, "_backward_cast")
    }
}

fn create_cast(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let param = CastParam::parse(attrs.iter().copied())?;
    let Some(dtype) = param.dtype.dtype() else {
        return Err(Error::Unsupported {
            op: "Cast".into(),
            what: format!("dtype={} (mxr has no such dtype)", param.dtype.to_attr()),
        });
    };
    Ok(Arc::new(Cast { param, dtype }))
}

fn create_backward_cast(attrs: &[(&str, &str)]) -> Result<OpRef> {
    super::parse_no_params("_backward_cast", attrs)?;
    Ok(Arc::new(BackwardCast))
}

inventory::submit! {
    OpDef::new("Cast", "The elements converted to `dtype` (floats to integers truncate, integers wrap).",
        CastParam::specs, create_cast).aliases(&["cast"])
}

inventory::submit! {
    OpDef::new("_backward_cast", "Gradient of Cast: the head gradient cast to the input's dtype (inputs: ograd, data).",
        super::no_params, create_backward_cast)
}

#[cfg(test)]
mod tests;
