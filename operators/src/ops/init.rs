//! Creation and copy operators: `zeros_like`, `ones_like`, `_copy`, `_random_uniform`,
//! `_random_normal`.
//!
//! On the GPU: `zeros_like` and `_copy` for any dtype (memset, copy), `ones_like` and the
//! samplers for float32 (the samples are drawn on the host in the CPU kernel's order).

use std::sync::Arc;

use mxr_kernels::DType;

use super::{no_params, parse_no_params, same_shape};
use crate::registry::attrs::AttrValue;
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpContext, OpDef, OpRef, Operator, Resource, Shape,
    ShapeCtx, TensorMut, TypeCtx,
};
use crate::{Error, Result, attr_enum, float_dispatch, params};

/// `zeros_like` / `ones_like`: an array of the input's shape and dtype filled with a constant.
#[derive(Debug, Clone, Copy)]
pub struct FillLike {
    name: &'static str,
    value: f64,
}

impl FillLike {
    /// `zeros_like`.
    pub const ZEROS: FillLike = FillLike {
        name: "zeros_like",
        value: 0.0,
    };
    /// `ones_like`.
    pub const ONES: FillLike = FillLike {
        name: "ones_like",
        value: 1.0,
    };
}

impl Operator for FillLike {
    fn name(&self) -> &'static str {
        self.name
    }
    fn attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        same_shape(shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let outputs = call.outputs;
        outputs[0].fill(self.value);
        Ok(())
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn is_inplace_unary(&self) -> bool {
        true
    }
    fn forward_inplace(
        &self,
        _ctx: &mut OpContext<'_>,
        data: &mut TensorMut<'_>,
    ) -> Option<Result<()>> {
        data.fill(self.value);
        Some(Ok(()))
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let zeros = grad.backward_node(FillLike::ZEROS, &[grad.inputs[0]])?;
        Ok(vec![Some(zeros[0])])
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        vec![0]
    }
}

impl GpuForward for FillLike {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let _ = inputs;
        gpu::fill(ctx, self.name, self.value, &outputs[0])
    }
}

/// `_copy`: the identity, into new storage.
#[derive(Debug, Clone, Copy)]
pub struct Copy;

impl Operator for Copy {
    fn name(&self) -> &'static str {
        "_copy"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        same_shape(shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        outputs[0].bytes.copy_from_slice(inputs[0].bytes);
        Ok(())
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn is_inplace_unary(&self) -> bool {
        true
    }
    fn forward_inplace(
        &self,
        _ctx: &mut OpContext<'_>,
        _data: &mut TensorMut<'_>,
    ) -> Option<Result<()>> {
        Some(Ok(()))
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let g = grad.backward_node(Copy, &[grad.ograds[0]])?;
        Ok(vec![Some(g[0])])
    }
    fn inplace_option(&self) -> Vec<(usize, usize)> {
        vec![(0, 0)]
    }
    fn inplace_identity(&self) -> bool {
        true
    }
}

impl GpuForward for Copy {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::copy(ctx, &inputs[0], &outputs[0])
    }
}

attr_enum! {
    /// The output dtype of a random sampler (`None` = float32).
    pub enum SampleDType { None = "None", Float16 = "float16", Float32 = "float32", Float64 = "float64" }
}

params! {
    /// Parameters of `_random_uniform`.
    pub struct UniformParam for "_random_uniform" {
        /// Lower bound of the distribution.
        low: f64 = 0.0,
        /// Upper bound of the distribution.
        high: f64 = 1.0,
        /// Shape of the output.
        shape: Vec<usize> = vec![],
        /// Context of the output (the frontend's concern).
        ctx: String = String::new(),
        /// Output dtype.
        dtype: SampleDType = SampleDType::None,
    }
}

params! {
    /// Parameters of `_random_normal`.
    pub struct NormalParam for "_random_normal" {
        /// Mean of the distribution.
        loc: f64 = 0.0,
        /// Standard deviation of the distribution.
        scale: f64 = 1.0,
        /// Shape of the output.
        shape: Vec<usize> = vec![],
        /// Context of the output (the frontend's concern).
        ctx: String = String::new(),
        /// Output dtype.
        dtype: SampleDType = SampleDType::None,
    }
}

/// The distribution of a [`Sample`] operator.
#[derive(Debug, Clone)]
pub enum Distribution {
    /// `_random_uniform`.
    Uniform(UniformParam),
    /// `_random_normal`.
    Normal(NormalParam),
}

/// `_random_uniform` / `_random_normal`: no inputs; samples of the given shape drawn from the
/// device's random state.
#[derive(Debug, Clone)]
pub struct Sample(pub Distribution);

impl Sample {
    fn shape_and_dtype(&self) -> (&[usize], SampleDType) {
        match &self.0 {
            Distribution::Uniform(p) => (&p.shape, p.dtype),
            Distribution::Normal(p) => (&p.shape, p.dtype),
        }
    }
}

impl Operator for Sample {
    fn name(&self) -> &'static str {
        match self.0 {
            Distribution::Uniform(_) => "_random_uniform",
            Distribution::Normal(_) => "_random_normal",
        }
    }
    fn attrs(&self) -> Vec<(String, String)> {
        match &self.0 {
            Distribution::Uniform(p) => p.to_attrs(),
            Distribution::Normal(p) => p.to_attrs(),
        }
    }
    fn input_names(&self) -> Vec<String> {
        Vec::new()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let (shape, _) = self.shape_and_dtype();
        if shape.is_empty() {
            // MXNet's legacy default `()` means "unknown": the output may say.
            return Ok(());
        }
        shapes.set_output(0, Shape::known(shape))
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        let dtype = match self.shape_and_dtype().1 {
            SampleDType::None | SampleDType::Float32 => DType::F32,
            SampleDType::Float16 => DType::F16,
            SampleDType::Float64 => DType::F64,
        };
        types.set_output(0, dtype)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (ctx, outputs) = (call.ctx, call.outputs);
        let name = self.name();
        let rng = ctx.rng(name)?;
        let out = &mut outputs[0];
        float_dispatch!(out.dtype, name, T => {
            let values = out.slice_mut::<T>(name)?;
            for v in values.iter_mut() {
                *v = match &self.0 {
                    Distribution::Uniform(p) => (p.low + (p.high - p.low) * rng.uniform_f64()) as T,
                    Distribution::Normal(p) => (p.loc + p.scale * rng.normal_f64()) as T,
                };
            }
            Ok(())
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, _grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        Ok(Vec::new())
    }
    fn resources(&self) -> Vec<Resource> {
        vec![Resource::Random]
    }
}

impl GpuForward for Sample {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let _ = inputs;
        let name = self.name();
        let out = &outputs[0];
        // Float32 only (the GPU kernels' dtype); checked before drawing.
        out.f32(name)?;
        let rng = ctx.rng(name)?;
        let values: Vec<f32> = (0..out.size())
            .map(|_| match &self.0 {
                Distribution::Uniform(p) => (p.low + (p.high - p.low) * rng.uniform_f64()) as f32,
                Distribution::Normal(p) => (p.loc + p.scale * rng.normal_f64()) as f32,
            })
            .collect();
        gpu::write_values(ctx, name, &values, out)
    }
}

fn create_zeros_like(attrs: &[(&str, &str)]) -> Result<OpRef> {
    parse_no_params("zeros_like", attrs)?;
    Ok(Arc::new(FillLike::ZEROS))
}

fn create_ones_like(attrs: &[(&str, &str)]) -> Result<OpRef> {
    parse_no_params("ones_like", attrs)?;
    Ok(Arc::new(FillLike::ONES))
}

fn create_copy(attrs: &[(&str, &str)]) -> Result<OpRef> {
    parse_no_params("_copy", attrs)?;
    Ok(Arc::new(Copy))
}

fn create_uniform(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let p = UniformParam::parse(attrs.iter().copied())?;
    if p.low > p.high {
        return Err(Error::BadParam {
            op: "_random_uniform".into(),
            name: "high".into(),
            value: p.high.to_attr(),
            type_name: "float".into(),
            hint: format!("; must be >= low ({})", p.low),
        });
    }
    Ok(Arc::new(Sample(Distribution::Uniform(p))))
}

fn create_normal(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let p = NormalParam::parse(attrs.iter().copied())?;
    if p.scale < 0.0 {
        return Err(Error::BadParam {
            op: "_random_normal".into(),
            name: "scale".into(),
            value: p.scale.to_attr(),
            type_name: "float".into(),
            hint: "; must be >= 0".into(),
        });
    }
    Ok(Arc::new(Sample(Distribution::Normal(p))))
}

inventory::submit! {
    OpDef::new("zeros_like", "An array of zeros with the input's shape and dtype.", no_params, create_zeros_like)
}
inventory::submit! {
    OpDef::new("ones_like", "An array of ones with the input's shape and dtype.", no_params, create_ones_like)
}
inventory::submit! {
    OpDef::new("_copy", "Copies the input.", no_params, create_copy).aliases(&["identity"])
}
inventory::submit! {
    OpDef::new("_random_uniform", "Samples from a uniform distribution on [low, high).",
        UniformParam::specs, create_uniform).aliases(&["uniform", "random_uniform"])
}
inventory::submit! {
    OpDef::new("_random_normal", "Samples from a normal distribution N(loc, scale²).",
        NormalParam::specs, create_normal).aliases(&["normal", "random_normal"])
}

mod gpu;
#[cfg(test)]
mod tests;
