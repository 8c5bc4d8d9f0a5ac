//! `Embedding`: looks rows of a weight matrix up by index, and `_backward_Embedding`
//! (scatter-add of the head gradient's rows into the weight gradient; no gradient for the
//! indices).

use std::sync::Arc;

use mxr_kernels::DType;
use mxr_kernels::cpu::conv::ConvElement;

use super::common::kernel_error;
use crate::registry::attrs::AttrValue;

use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx, TensorMut,
    TensorRef, TypeCtx,
};
use crate::{Error, Result, attr_enum, float_dispatch, params};

attr_enum! {
    /// The dtype of the weight (and output).
    pub enum EmbeddingDType {
        Bfloat16 = "bfloat16", Float16 = "float16", Float32 = "float32", Float64 = "float64",
        Int32 = "int32", Int64 = "int64", Int8 = "int8", Uint8 = "uint8"
    }
}

params! {
    /// Parameters of `Embedding`.
    pub struct EmbeddingParam for "Embedding" {
        /// Vocabulary size of the input indices.
        input_dim: usize,
        /// Dimension of the embedding vectors.
        output_dim: usize,
        /// Data type of weight.
        dtype: EmbeddingDType = EmbeddingDType::Float32,
        /// Compute row sparse gradient in the backward calculation (accepted; mxr's gradient
        /// is dense).
        sparse_grad: bool = false,
    }
}

/// `Embedding`: inputs `data` (indices of any numeric dtype) and `weight`
/// (`input_dim × output_dim`); the output (`data.shape + (output_dim,)`) holds row `i` of the
/// weight for each index, where `i` is the index truncated toward zero and clipped to
/// `[0, input_dim − 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// The parameters.
    pub param: EmbeddingParam,
    /// The weight's default dtype, from `dtype`.
    pub dtype: DType,
}

/// `_backward_Embedding`: inputs `[ograd, data]`, outputs `[d data, d weight]`. The data
/// gradient is zeros (MXNet computes none, and the forward's gradient function returns no entry
/// for it); the weight gradient adds each head-gradient row to the row its index selects.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingBackward {
    /// The forward's parameters.
    pub param: EmbeddingParam,
}

/// The weight row each index selects: truncated toward zero, clipped to `[0, input_dim − 1]`
/// (NaN selects row 0).
fn rows(data: &TensorRef<'_>, input_dim: usize) -> impl Iterator<Item = usize> {
    let last = input_dim.saturating_sub(1);
    data.to_f64_vec().into_iter().map(move |v| {
        if v.is_nan() || v < 1.0 {
            0
        } else if v >= last as f64 {
            last
        } else {
            v as usize
        }
    })
}

impl Operator for Embedding {
    fn name(&self) -> &'static str {
        "Embedding"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["data".into(), "weight".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let Some(mut data) = shapes.input(0).partial_dims().map(<[_]>::to_vec) else {
            // As MXNet: nothing is inferred before the indices' rank is known.
            return Ok(());
        };
        let (n, d) = (self.param.input_dim, self.param.output_dim);
        shapes.set_input(1, Shape::known(&[n, d]))?;
        let out: Vec<Option<usize>> = data.iter().copied().chain([Some(d)]).collect();
        shapes.set_output(0, Shape::partial(out))?;
        if let Some(o) = shapes.output(0).partial_dims() {
            for (a, b) in data.iter_mut().zip(o) {
                *a = a.or(*b);
            }
        }
        shapes.set_input(0, Shape::partial(data))
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        // MXNet: the weight and the output share a dtype, from whichever is known, else the
        // `dtype` parameter; the indices may have any dtype.
        let dtype = types.input(1).or(types.output(0)).unwrap_or(self.dtype);
        types.set_input(1, dtype)?;
        types.set_output(0, dtype)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let (data, weight) = (&inputs[0], &inputs[1]);
        let out = &mut outputs[0];
        if weight.dtype != out.dtype {
            return Err(kernel_error(
                name,
                format!("weight is {}, output {}", weight.dtype, out.dtype),
            ));
        }
        let row_bytes = self.param.output_dim * weight.dtype.size();
        // Shapes were inferred: the output has one row per index, and every row index is
        // clipped below input_dim (the weight's row count).
        for (dst, row) in out
            .bytes
            .chunks_exact_mut(row_bytes.max(1))
            .zip(rows(data, self.param.input_dim))
        {
            let src = weight
                .bytes
                .get(row * row_bytes..(row + 1) * row_bytes)
                .ok_or_else(|| kernel_error(name, format!("weight has no row {row}")))?;
            dst.copy_from_slice(src);
        }
        Ok(())
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let inputs = [grad.ograds[0], grad.inputs[0]];
        let out = grad.backward_node(
            EmbeddingBackward {
                param: self.param.clone(),
            },
            &inputs,
        )?;
        let dweight = out
            .get(1)
            .copied()
            .ok_or_else(|| kernel_error(self.name(), "the backward node has no weight gradient"))?;
        Ok(vec![None, Some(dweight)])
    }
}

impl GpuForward for Embedding {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::forward(ctx, &self.param, &inputs[0], &inputs[1], &outputs[0])
    }
}

fn scatter_add<T: ConvElement>(
    op: &str,
    param: &EmbeddingParam,
    g: &TensorRef<'_>,
    data: &TensorRef<'_>,
    dw: &mut TensorMut<'_>,
) -> Result<()> {
    let d = param.output_dim;
    let g = g.slice::<T>(op)?;
    let dw = dw.slice_mut::<T>(op)?;
    dw.fill(T::ZERO);
    // Shapes were inferred: g has one row of d per index, dw has input_dim rows of d.
    for (src, row) in g.chunks_exact(d.max(1)).zip(rows(data, param.input_dim)) {
        let dst = dw
            .get_mut(row * d..(row + 1) * d)
            .ok_or_else(|| kernel_error(op, format!("weight gradient has no row {row}")))?;
        for (acc, &v) in dst.iter_mut().zip(src) {
            *acc += v;
        }
    }
    Ok(())
}

impl Operator for EmbeddingBackward {
    fn name(&self) -> &'static str {
        "_backward_Embedding"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["ograd".into(), "data".into()]
    }
    fn num_outputs(&self) -> usize {
        2
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let (n, d) = (self.param.input_dim, self.param.output_dim);
        shapes.set_output(1, Shape::known(&[n, d]))?;
        let s = shapes.input(1).clone();
        shapes.set_output(0, s)?;
        let s = shapes.output(0).clone();
        shapes.set_input(1, s)?;
        if let Some(data) = shapes.input(1).partial_dims() {
            let g: Vec<Option<usize>> = data.iter().copied().chain([Some(d)]).collect();
            shapes.set_input(0, Shape::partial(g))?;
        }
        Ok(())
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        if let Some(t) = types.input(1).or(types.output(0)) {
            types.set_input(1, t)?;
            types.set_output(0, t)?;
        }
        if let Some(t) = types.input(0).or(types.output(1)) {
            types.set_input(0, t)?;
            types.set_output(1, t)?;
        }
        Ok(())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let [ddata, dw] = outputs else {
            return Err(kernel_error(name, "expected two outputs"));
        };
        ddata.fill(0.0);
        float_dispatch!(dw.dtype, name, T => scatter_add::<T>(name, &self.param, &inputs[0], &inputs[1], dw))
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for EmbeddingBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let [ddata, dw] = outputs else {
            return Err(kernel_error(self.name(), "expected two outputs"));
        };
        gpu::backward(ctx, &self.param, &inputs[0], &inputs[1], ddata, dw)
    }
}

fn parse(op: &'static str, attrs: &[(&str, &str)]) -> Result<(EmbeddingParam, DType)> {
    let param = EmbeddingParam::parse(attrs.iter().copied())?;
    for (name, value) in [
        ("input_dim", param.input_dim),
        ("output_dim", param.output_dim),
    ] {
        if value == 0 {
            return Err(Error::BadParam {
                op: op.into(),
                name: name.into(),
                value: "0".into(),
                type_name: "int".into(),
                hint: "; must be at least 1".into(),
            });
        }
    }
    let dtype = match param.dtype {
        EmbeddingDType::Bfloat16 => {
            return Err(Error::Unsupported {
                op: op.into(),
                what: format!("dtype='{}'", param.dtype.to_attr()),
            });
        }
        EmbeddingDType::Float16 => DType::F16,
        EmbeddingDType::Float32 => DType::F32,
        EmbeddingDType::Float64 => DType::F64,
        EmbeddingDType::Int32 => DType::I32,
        EmbeddingDType::Int64 => DType::I64,
        EmbeddingDType::Int8 => DType::I8,
        EmbeddingDType::Uint8 => DType::U8,
    };
    Ok((param, dtype))
}

fn create(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let (param, dtype) = parse("Embedding", attrs)?;
    Ok(Arc::new(Embedding { param, dtype }))
}

fn create_backward(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let (param, _) = parse("_backward_Embedding", attrs)?;
    Ok(Arc::new(EmbeddingBackward { param }))
}

inventory::submit! {
    OpDef::new("Embedding", "Maps integer indices to vector representations (rows of weight).",
        EmbeddingParam::specs, create)
        .aliases(&["_npx_embedding", "_sparse_Embedding"])
}
inventory::submit! {
    OpDef::new("_backward_Embedding",
        "Gradient of Embedding: inputs [ograd, data], outputs [ddata (zeros), dweight].",
        EmbeddingParam::specs, create_backward)
}

pub(crate) mod gpu;
#[cfg(test)]
mod tests;
