//! `softmax` and `log_softmax` along an axis (MXNet's max-subtracted numerics, optional
//! temperature, output dtype override, `softmax`'s length mask), and their backward ops
//! `_backward_softmax` / `_backward_log_softmax`.
//!
//! The backward op's inputs follow MXNet: `[ograd, output]`, or `[ograd, data, (length,)
//! output]` when the forward has a dtype override or a length input (MXNet's `UseInOut`); the
//! data and length inputs are only there for their dtype and shape.

use std::sync::Arc;

use mxr_kernels::DType;
use mxr_kernels::cpu::softmax::{self as kernel, Axis, Real};

use super::common::normalize_axis;
use crate::registry::attrs::AttrValue;
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpContext, OpDef, OpRef, Operator, Shape, ShapeCtx,
    TensorMut, TensorRef, TypeCtx, fill,
};
use crate::{Error, Result, attr_enum, float_dispatch, params};

attr_enum! {
    /// The output dtype of `softmax` / `log_softmax`.
    pub enum SoftmaxDType { Float16 = "float16", Float32 = "float32", Float64 = "float64" }
}

impl SoftmaxDType {
    fn dtype(self) -> DType {
        match self {
            SoftmaxDType::Float16 => DType::F16,
            SoftmaxDType::Float32 => DType::F32,
            SoftmaxDType::Float64 => DType::F64,
        }
    }
}

params! {
    /// Parameters of `softmax`.
    pub struct SoftmaxParam for "softmax" {
        /// The axis along which to compute softmax (negative counts from the end).
        axis: i64 = -1,
        /// Temperature: the input is divided by it (None = 1).
        temperature: Option<f64> = None,
        /// The output dtype (None = the input's).
        dtype: Option<SoftmaxDType> = None,
        /// Take a second input `length` masking each lane to its first `length` positions.
        use_length: Option<bool> = Some(false),
    }
}

params! {
    /// Parameters of `log_softmax`.
    pub struct LogSoftmaxParam for "log_softmax" {
        /// The axis along which to compute log-softmax (negative counts from the end).
        axis: i64 = -1,
        /// Temperature: the input is divided by it (None = 1).
        temperature: Option<f64> = None,
        /// The output dtype (None = the input's).
        dtype: Option<SoftmaxDType> = None,
        /// Not supported by `log_softmax` (it takes no length input); must be false.
        use_length: Option<bool> = Some(false),
    }
}

/// `softmax` or `log_softmax` with parsed parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Softmax {
    log: bool,
    axis: i64,
    temperature: Option<f64>,
    dtype: Option<SoftmaxDType>,
    use_length: bool,
}

fn bad_param(op: &str, name: &str, value: String, type_name: &str, hint: &str) -> Error {
    Error::BadParam {
        op: op.into(),
        name: name.into(),
        value,
        type_name: type_name.into(),
        hint: hint.into(),
    }
}

impl Softmax {
    fn from_parts(
        log: bool,
        axis: i64,
        temperature: Option<f64>,
        dtype: Option<SoftmaxDType>,
        use_length: Option<bool>,
    ) -> Result<Softmax> {
        let op = if log { "log_softmax" } else { "softmax" };
        if let Some(t) = temperature
            && (t == 0.0 || !t.is_finite())
        {
            return Err(bad_param(
                op,
                "temperature",
                t.to_attr(),
                "double or None",
                "; must be finite and non-zero",
            ));
        }
        let use_length = use_length.unwrap_or(false);
        if log && use_length {
            return Err(Error::Unsupported {
                op: op.into(),
                what: "use_length=True (log_softmax takes no length input)".into(),
            });
        }
        Ok(Softmax {
            log,
            axis,
            temperature,
            dtype,
            use_length,
        })
    }

    /// Parses `softmax`'s attributes.
    pub fn parse_softmax(attrs: &[(&str, &str)]) -> Result<Softmax> {
        let p = SoftmaxParam::parse(attrs.iter().copied())?;
        Softmax::from_parts(false, p.axis, p.temperature, p.dtype, p.use_length)
    }

    /// Parses `log_softmax`'s attributes.
    pub fn parse_log_softmax(attrs: &[(&str, &str)]) -> Result<Softmax> {
        let p = LogSoftmaxParam::parse(attrs.iter().copied())?;
        Softmax::from_parts(true, p.axis, p.temperature, p.dtype, p.use_length)
    }

    fn op_name(&self) -> &'static str {
        if self.log { "log_softmax" } else { "softmax" }
    }

    fn attr_strings(&self) -> Vec<(String, String)> {
        let use_length = Some(self.use_length);
        if self.log {
            LogSoftmaxParam {
                axis: self.axis,
                temperature: self.temperature,
                dtype: self.dtype,
                use_length,
            }
            .to_attrs()
        } else {
            SoftmaxParam {
                axis: self.axis,
                temperature: self.temperature,
                dtype: self.dtype,
                use_length,
            }
            .to_attrs()
        }
    }

    fn t(&self) -> f64 {
        self.temperature.unwrap_or(1.0)
    }

    /// The backward op needs the data input (MXNet's `UseInOut`).
    fn backward_uses_data(&self) -> bool {
        self.dtype.is_some() || self.use_length
    }

    /// The view of `shape` around the axis; a shape error naming `axis` when out of range.
    fn view(&self, shape: &[usize]) -> Result<Axis> {
        normalize_axis(self.axis, shape.len())
            .and_then(|a| Axis::of(shape, a))
            .ok_or_else(|| self.axis_error(shape.len()))
    }

    fn axis_error(&self, ndim: usize) -> Error {
        bad_param(
            self.op_name(),
            "axis",
            self.axis.to_string(),
            "int",
            &format!("; out of range for a {ndim}-dimensional input"),
        )
    }

    /// Shape inference of the data-like slots (`data` and outputs) plus the length.
    fn infer(
        &self,
        shapes: &mut ShapeCtx<'_>,
        data_slots: &[usize],
        length: Option<usize>,
    ) -> Result<()> {
        let mut merged = Shape::unknown();
        for &i in data_slots {
            merged
                .merge(shapes.input(i))
                .map_err(|reason| shapes.error(format!("inputs must have one shape: {reason}")))?;
        }
        merged
            .merge(shapes.output(0))
            .map_err(|reason| shapes.error(reason))?;
        for &i in data_slots {
            shapes.set_input(i, merged.clone())?;
        }
        shapes.set_output(0, merged.clone())?;
        let Some(dims) = merged.partial_dims() else {
            return Ok(());
        };
        let axis = normalize_axis(self.axis, dims.len()).ok_or_else(|| {
            shapes.error(format!(
                "axis {} is out of range for a {}-dimensional input",
                self.axis,
                dims.len()
            ))
        })?;
        if let Some(l) = length {
            let mut lshape: Vec<Option<usize>> = dims.to_vec();
            lshape.remove(axis);
            shapes.set_input(l, Shape::partial(lshape))?;
        }
        Ok(())
    }
}

/// Reads a length input as non-negative counts (negative and NaN lengths count as 0).
fn lengths(t: &TensorRef<'_>) -> Vec<usize> {
    t.to_f64_vec()
        .into_iter()
        .map(|v| if v > 0.0 { v as usize } else { 0 })
        .collect()
}

/// Writes `values` into `out` converted to its dtype.
fn write_f64(out: &mut TensorMut<'_>, values: &[f64]) {
    let size = out.dtype.size();
    let dtype = out.dtype;
    for (chunk, &v) in out.bytes.chunks_exact_mut(size).zip(values) {
        fill(dtype, chunk, v);
    }
}

fn check_float(op: &str, dtype: DType) -> Result<()> {
    if dtype.is_float() {
        Ok(())
    } else {
        Err(Error::Unsupported {
            op: op.into(),
            what: format!("dtype {dtype}"),
        })
    }
}

fn forward_typed<T: Real + mxr_kernels::Element>(
    sm: &Softmax,
    x: &[T],
    y: &mut [T],
    ax: Axis,
    lens: Option<&[usize]>,
) {
    let t = T::from_f64(sm.t());
    if sm.log {
        kernel::log_softmax(x, y, ax, t);
    } else {
        kernel::softmax(x, y, ax, t, lens);
    }
}

impl Operator for Softmax {
    fn name(&self) -> &'static str {
        self.op_name()
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.attr_strings()
    }
    fn input_names(&self) -> Vec<String> {
        if self.use_length {
            vec!["data".into(), "length".into()]
        } else {
            vec!["data".into()]
        }
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        self.infer(shapes, &[0], self.use_length.then_some(1))
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        match self.dtype {
            Some(d) => types.set_output(0, d.dtype()),
            None => {
                if let Some(d) = types.input(0).or(types.output(0)) {
                    types.set_input(0, d)?;
                    types.set_output(0, d)?;
                }
                Ok(())
            }
        }
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.op_name();
        let x = &inputs[0];
        let ax = self.view(x.shape)?;
        let lens = if self.use_length {
            Some(lengths(&inputs[1]))
        } else {
            None
        };
        let out = &mut outputs[0];
        if out.dtype == x.dtype {
            return float_dispatch!(x.dtype, name, T => {
                forward_typed::<T>(self, x.slice::<T>(name)?, out.slice_mut::<T>(name)?, ax, lens.as_deref());
                Ok(())
            });
        }
        // A dtype override: compute in f64 and convert.
        check_float(name, x.dtype)?;
        check_float(name, out.dtype)?;
        let xs = x.to_f64_vec();
        let mut ys = vec![0.0f64; xs.len()];
        forward_typed::<f64>(self, &xs, &mut ys, ax, lens.as_deref());
        write_f64(out, &ys);
        Ok(())
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn is_inplace_unary(&self) -> bool {
        self.dtype.is_none() && !self.use_length
    }
    fn forward_inplace(
        &self,
        _ctx: &mut OpContext<'_>,
        data: &mut TensorMut<'_>,
    ) -> Option<Result<()>> {
        if !self.is_inplace_unary() {
            return None;
        }
        let name = self.op_name();
        let mut run = || -> Result<()> {
            let ax = self.view(data.shape)?;
            float_dispatch!(data.dtype, name, T => {
                let y = data.slice_mut::<T>(name)?;
                let x = y.to_vec();
                forward_typed::<T>(self, &x, y, ax, None);
                Ok(())
            })
        };
        Some(run())
    }
    fn inplace_option(&self) -> Vec<(usize, usize)> {
        if self.is_inplace_unary() {
            vec![(0, 0)]
        } else {
            Vec::new()
        }
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let mut ins = vec![grad.ograds[0]];
        if self.backward_uses_data() {
            ins.extend_from_slice(grad.inputs);
        }
        ins.push(grad.outputs[0]);
        let out = grad.backward_node(SoftmaxBackward(self.clone()), &ins)?;
        let mut result = vec![Some(out[0])];
        if self.use_length {
            result.push(None); // lengths are integers: no gradient
        }
        Ok(result)
    }
}

impl GpuForward for Softmax {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let x = &inputs[0];
        let ax = self.view(x.shape)?;
        let lengths = if self.use_length { inputs.get(1) } else { None };
        let t = self.t() as f32;
        gpu::forward(
            ctx,
            self.op_name(),
            ax,
            (t, self.log),
            x,
            lengths,
            &outputs[0],
        )
    }
}

/// `_backward_softmax` / `_backward_log_softmax`: inputs `[ograd, output]`, or
/// `[ograd, data, (length,) output]` with a dtype override or a length input (see the module
/// docs); outputs `[ddata]` (plus zeros `dlength` with a length input).
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxBackward(pub Softmax);

impl SoftmaxBackward {
    fn output_slot(&self) -> usize {
        self.num_inputs() - 1
    }
}

impl Operator for SoftmaxBackward {
    fn name(&self) -> &'static str {
        if self.0.log {
            "_backward_log_softmax"
        } else {
            "_backward_softmax"
        }
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.attr_strings()
    }
    fn input_names(&self) -> Vec<String> {
        let mut names = vec!["ograd".to_string()];
        if self.0.backward_uses_data() {
            names.push("data".into());
            if self.0.use_length {
                names.push("length".into());
            }
        }
        names.push("output".into());
        names
    }
    fn output_names(&self) -> Vec<String> {
        if self.0.use_length {
            vec!["data_grad".into(), "length_grad".into()]
        } else {
            vec!["data_grad".into()]
        }
    }
    fn num_outputs(&self) -> usize {
        if self.0.use_length { 2 } else { 1 }
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let out = self.output_slot();
        let mut slots = vec![0, out];
        if self.0.backward_uses_data() {
            slots.push(1);
        }
        // ograd, data, output and data_grad share one shape.
        self.0
            .infer(shapes, &slots, self.0.use_length.then_some(2))?;
        if self.0.use_length {
            let l = shapes.input(2).clone();
            shapes.set_output(1, l)?;
        }
        Ok(())
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        let out = self.output_slot();
        if let Some(d) = types.input(0).or(types.input(out)) {
            types.set_input(0, d)?;
            types.set_input(out, d)?;
        }
        if self.0.backward_uses_data() {
            if let Some(d) = types.input(1).or(types.output(0)) {
                types.set_input(1, d)?;
                types.set_output(0, d)?;
            }
            if self.0.use_length
                && let Some(d) = types.input(2).or(types.output(1))
            {
                types.set_input(2, d)?;
                types.set_output(1, d)?;
            }
        } else if let Some(d) = types.input(0) {
            types.set_output(0, d)?;
        }
        Ok(())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let g = &inputs[0];
        let y = &inputs[self.output_slot()];
        let ax = self.0.view(y.shape)?;
        let t = self.0.t();
        let log = self.0.log;
        if let Some(dl) = outputs.get_mut(1) {
            dl.fill(0.0);
        }
        let dx = &mut outputs[0];
        if g.dtype == y.dtype && dx.dtype == y.dtype {
            return float_dispatch!(y.dtype, name, T => {
                let (g, y, dx) = (g.slice::<T>(name)?, y.slice::<T>(name)?, dx.slice_mut::<T>(name)?);
                if log {
                    kernel::log_softmax_backward(g, y, dx, ax, T::from_f64(t));
                } else {
                    kernel::softmax_backward(g, y, dx, ax, T::from_f64(t));
                }
                Ok(())
            });
        }
        check_float(name, y.dtype)?;
        check_float(name, dx.dtype)?;
        let (gs, ys) = (g.to_f64_vec(), y.to_f64_vec());
        let mut ds = vec![0.0f64; ys.len()];
        if log {
            kernel::log_softmax_backward(&gs, &ys, &mut ds, ax, t);
        } else {
            kernel::softmax_backward(&gs, &ys, &mut ds, ax, t);
        }
        write_f64(dx, &ds);
        Ok(())
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        if self.0.use_length {
            vec![1, 2]
        } else if self.0.backward_uses_data() {
            vec![1]
        } else {
            Vec::new()
        }
    }
}

impl GpuForward for SoftmaxBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let name = self.name();
        let (g, y) = (&inputs[0], &inputs[self.output_slot()]);
        let ax = self.0.view(y.shape)?;
        if let Some(dl) = outputs.get(1) {
            gpu::zero(ctx, name, dl)?;
        }
        let t = self.0.t() as f32;
        gpu::backward(ctx, name, ax, (t, self.0.log), g, y, &outputs[0])
    }
}

fn create_softmax(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Softmax::parse_softmax(attrs)?))
}

fn create_log_softmax(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Softmax::parse_log_softmax(attrs)?))
}

fn create_backward_softmax(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(SoftmaxBackward(Softmax::parse_softmax(attrs)?)))
}

fn create_backward_log_softmax(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(SoftmaxBackward(Softmax::parse_log_softmax(
        attrs,
    )?)))
}

inventory::submit! {
    OpDef::new("softmax", "Softmax along an axis: exp(x/T) / Σ exp(x/T) (max-subtracted).",
        SoftmaxParam::specs, create_softmax)
}
inventory::submit! {
    OpDef::new("log_softmax", "Log-softmax along an axis: x/T − log Σ exp(x/T) (max-subtracted).",
        LogSoftmaxParam::specs, create_log_softmax)
}
inventory::submit! {
    OpDef::new("_backward_softmax", "The gradient of softmax: y·(g − Σ g·y)/T.",
        SoftmaxParam::specs, create_backward_softmax)
}
inventory::submit! {
    OpDef::new("_backward_log_softmax", "The gradient of log_softmax: (g − exp(y)·Σ g)/T.",
        LogSoftmaxParam::specs, create_backward_log_softmax)
}

pub(crate) mod gpu;
#[cfg(test)]
mod tests;
