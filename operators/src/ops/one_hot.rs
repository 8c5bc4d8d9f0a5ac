//! `one_hot`: indices → one-hot vectors along a new last axis of size `depth`.
//!
//! Indices of any dtype are truncated toward zero (`2.7` → 2, `-0.5` → 0, as MXNet's cast to
//! int); an index outside `[0, depth)` gives a row of `off_value`. The gradient is zero for the
//! indices (a `zeros_like` node, as MXNet's `MakeZeroGradNodes`).

use std::sync::Arc;

use mxr_kernels::DType;

use super::init::FillLike;

use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx, TypeCtx,
    fill,
};
use crate::{Error, Result, attr_enum, params};

attr_enum! {
    /// The output dtype of `one_hot`.
    pub enum OneHotDType {
        Float16 = "float16", Float32 = "float32", Float64 = "float64", Int32 = "int32",
        Int64 = "int64", Int8 = "int8", Uint8 = "uint8"
    }
}

impl OneHotDType {
    /// The element type.
    pub fn dtype(self) -> DType {
        match self {
            OneHotDType::Float16 => DType::F16,
            OneHotDType::Float32 => DType::F32,
            OneHotDType::Float64 => DType::F64,
            OneHotDType::Int32 => DType::I32,
            OneHotDType::Int64 => DType::I64,
            OneHotDType::Int8 => DType::I8,
            OneHotDType::Uint8 => DType::U8,
        }
    }
}

params! {
    /// Parameters of `one_hot`.
    pub struct OneHotParam for "one_hot" {
        /// The size of the one-hot axis.
        depth: usize,
        /// The value at the index.
        on_value: f64 = 1.0,
        /// The value elsewhere.
        off_value: f64 = 0.0,
        /// The output dtype.
        dtype: OneHotDType = OneHotDType::Float32,
    }
}

/// `one_hot`: output shape = the indices' shape + `(depth,)`.
#[derive(Debug, Clone)]
pub struct OneHot(pub OneHotParam);

impl Operator for OneHot {
    fn name(&self) -> &'static str {
        "one_hot"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["indices".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let depth = self.0.depth;
        if let Some(dims) = shapes.input(0).partial_dims() {
            let mut out = dims.to_vec();
            out.push(Some(depth));
            shapes.set_output(0, Shape::partial(out))?;
        }
        if let Some(out) = shapes
            .output(0)
            .partial_dims()
            .map(<[Option<usize>]>::to_vec)
        {
            let Some((last, dims)) = out.split_last() else {
                return Err(shapes.error("the output cannot be 0-D"));
            };
            if let Some(last) = last
                && *last != depth
            {
                let reason = format!("the output's last axis is {last}, not depth={depth}");
                return Err(shapes.error(reason));
            }
            shapes.set_input(0, Shape::partial(dims.to_vec()))?;
        }
        Ok(())
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        types.set_output(0, self.0.dtype.dtype())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let depth = self.0.depth;
        let indices = inputs[0].to_f64_vec();
        let out = &mut outputs[0];
        let width = out.dtype.size();
        if out.bytes.len() != indices.len() * depth * width {
            return Err(Error::BadInput {
                op: "one_hot".into(),
                reason: format!(
                    "output {:?} does not fit {} indices of depth {depth}",
                    out.shape,
                    indices.len()
                ),
            });
        }
        out.fill(self.0.off_value);
        if depth == 0 {
            return Ok(());
        }
        let mut on = [0u8; 8];
        let on = &mut on[..width];
        fill(out.dtype, on, self.0.on_value);
        for (row, &index) in out.bytes.chunks_exact_mut(depth * width).zip(&indices) {
            let i = index.trunc();
            if i >= 0.0 && i < depth as f64 {
                let at = i as usize * width;
                // In bounds: at + width <= depth * width, the row's length.
                row[at..at + width].copy_from_slice(on);
            }
        }
        Ok(())
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let zeros = grad.backward_node(FillLike::ZEROS, &[grad.inputs[0]])?;
        Ok(vec![Some(zeros[0])])
    }
}

impl GpuForward for OneHot {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::forward(ctx, &self.0, &inputs[0], &outputs[0])
    }
}

fn create_one_hot(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(OneHot(OneHotParam::parse(attrs.iter().copied())?)))
}

inventory::submit! {
    OpDef::new("one_hot", "One-hot vectors of length `depth` for the indices (a new last axis).",
        OneHotParam::specs, create_one_hot)
}

mod gpu;
#[cfg(test)]
mod tests;
