//! Loss layers: `SoftmaxOutput` (alias `Softmax`), `LinearRegressionOutput`,
//! `LogisticRegressionOutput`, `MAERegressionOutput`, `MakeLoss`; and their backward ops
//! `_backward_SoftmaxOutput`, `_backward_linear_reg_out`, `_backward_logistic_reg_out`,
//! `_backward_mae_reg_out`, `_backward_MakeLoss`.
//!
//! Loss layers ignore the head gradient: their backward ops compute the gradient of the loss
//! they stand for from the forward output and the label. As in MXNet, the label's gradient is
//! an array of zeros (the backward ops' second output). `_backward_MakeLoss` takes the data as
//! its one input (MXNet passes it only for `normalization='valid'` and no input otherwise; a
//! node needs an input to take its shape from); it reads the values only for `'valid'`.

use std::sync::Arc;

use mxr_kernels::cpu::softmax::{self as kernel, Axis, Real, SoftmaxOutputGrad};

use crate::registry::attrs::AttrValue;
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx, TensorMut,
    TensorRef,
};
use crate::{Error, Result, attr_enum, float_dispatch, params};

attr_enum! {
    /// How a loss gradient is normalised: not at all, by the batch size, or by the number of
    /// valid labels / elements.
    pub enum Normalization { Null = "null", Batch = "batch", Valid = "valid" }
}

params! {
    /// Parameters of `SoftmaxOutput`.
    pub struct SoftmaxOutputParam for "SoftmaxOutput" {
        /// Scales the gradient.
        grad_scale: f32 = 1.0,
        /// The label value ignored when `use_ignore` (and not counted by `normalization='valid'`).
        ignore_label: f32 = -1.0,
        /// Softmax over axis 1 of (N, C, ...), one label per position.
        multi_output: bool = false,
        /// Labels equal to `ignore_label` get no gradient.
        use_ignore: bool = false,
        /// Softmax over the last axis, keeping the shape.
        preserve_shape: bool = false,
        /// Gradient normalisation.
        normalization: Normalization = Normalization::Null,
        /// Multiply the gradient by the output (what MXNet 1.9.1 computes for out_grad=True).
        out_grad: bool = false,
        /// Label smoothing: the true class gets 1 − α, the others α / (classes − 1).
        smooth_alpha: f32 = 0.0,
    }
}

fn bad_value(op: &str, name: &str, value: String, type_name: &str, hint: &str) -> Error {
    Error::BadParam {
        op: op.into(),
        name: name.into(),
        value,
        type_name: type_name.into(),
        hint: hint.into(),
    }
}

fn check_finite(op: &str, name: &str, v: f32) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(bad_value(
            op,
            name,
            v.to_attr(),
            "float",
            "; must be finite",
        ))
    }
}

/// `SoftmaxOutput`: softmax forward, cross-entropy gradient backward.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxOutput(pub SoftmaxOutputParam);

impl SoftmaxOutput {
    /// Parses the attributes.
    pub fn parse(attrs: &[(&str, &str)]) -> Result<SoftmaxOutput> {
        let p = SoftmaxOutputParam::parse(attrs.iter().copied())?;
        check_finite("SoftmaxOutput", "grad_scale", p.grad_scale)?;
        if !(0.0..=1.0).contains(&p.smooth_alpha) {
            return Err(bad_value(
                "SoftmaxOutput",
                "smooth_alpha",
                p.smooth_alpha.to_attr(),
                "float",
                "; must be in [0, 1]",
            ));
        }
        Ok(SoftmaxOutput(p))
    }

    /// The softmax view of data of shape `shape`: rows of classes (default: everything but
    /// the batch axis; preserve_shape: the last axis), or classes along axis 1 (multi_output).
    fn view(&self, shape: &[usize]) -> Result<Axis> {
        let size: usize = shape.iter().product();
        let per = |n: usize| size.checked_div(n).unwrap_or(0);
        let first = shape.first().copied().unwrap_or(1);
        if self.0.multi_output {
            let [n, k, ..] = *shape else {
                return Err(Error::BadInput {
                    op: "SoftmaxOutput".into(),
                    reason: format!("multi_output needs data of rank >= 2, got {shape:?}"),
                });
            };
            Ok(Axis::new(n, k, per(n * k)))
        } else if self.0.preserve_shape {
            let last = shape.last().copied().unwrap_or(1);
            Ok(Axis::new(per(last), last, 1))
        } else {
            Ok(Axis::new(first, per(first), 1))
        }
    }
}

impl Operator for SoftmaxOutput {
    fn name(&self) -> &'static str {
        "SoftmaxOutput"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["data".into(), "label".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let data = data_shape(shapes)?;
        let Some(d) = data.partial_dims().map(<[_]>::to_vec) else {
            return Ok(()); // MXNet infers nothing from the label alone
        };
        if d.is_empty() {
            return Err(shapes.error("data must have at least one dimension"));
        }
        let label = shapes.input(1).clone();
        let lrank = label.ndim();
        let mut probability = label.clone();
        if lrank == Some(d.len()) && probability.merge(&data).is_ok() {
            // A probability distribution per sample, shaped like the data.
            return shapes.set_input(1, probability);
        }
        if !self.0.multi_output {
            return shapes.set_input(1, Shape::partial(d[..d.len() - 1].to_vec()));
        }
        if d.len() < 2 {
            return Err(shapes.error("multi_output needs data of rank >= 2"));
        }
        let rest = d[2..].iter().try_fold(1usize, |acc, v| v.map(|v| acc * v));
        let flat = Shape::partial(vec![d[0], rest]); // (N, size / N / C)
        let mut spatial = vec![d[0]]; // (N, d2, d3, ...)
        spatial.extend_from_slice(&d[2..]);
        let spatial = Shape::partial(spatial);
        let mut channel1 = d.clone(); // (N, 1, d2, ...)
        channel1[1] = Some(1);
        let channel1 = Shape::partial(channel1);
        let Some(rank) = lrank else {
            return shapes.set_input(1, flat);
        };
        for candidate in [&flat, &spatial, &channel1] {
            let mut l = label.clone();
            if candidate.ndim() == Some(rank) && l.merge(candidate).is_ok() {
                return shapes.set_input(1, l);
            }
        }
        Err(shapes.error(format!(
            "label: expecting {flat} or {spatial}, but got {label}"
        )))
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let x = &inputs[0];
        let ax = self.view(x.shape)?;
        float_dispatch!(x.dtype, name, T => {
            kernel::softmax(x.slice::<T>(name)?, outputs[0].slice_mut::<T>(name)?, ax, T::ONE, None);
            Ok(())
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let out = grad.backward_node(
            SoftmaxOutputBackward(self.clone()),
            &[grad.outputs[0], grad.inputs[1]],
        )?;
        Ok(GradCtx::all(out))
    }
    fn is_loss(&self) -> bool {
        true
    }
}

impl GpuForward for SoftmaxOutput {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::softmax_output_forward(ctx, self, &inputs[0], &outputs[0])
    }
}

/// `_backward_SoftmaxOutput`: inputs `[output, label]`, outputs `[data_grad, label_grad]`
/// (the label's gradient is zeros).
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxOutputBackward(pub SoftmaxOutput);

impl SoftmaxOutputBackward {
    fn compute<T: Real + mxr_kernels::Element>(
        &self,
        y: &TensorRef<'_>,
        label: &TensorRef<'_>,
        dx: &mut [T],
    ) -> Result<()> {
        let name = "_backward_SoftmaxOutput";
        let p = &self.0.0;
        let ys = y.slice::<T>(name)?;
        let labels = label.slice::<T>(name)?;
        let times_output = p.out_grad;
        let grad_scale = f64::from(p.grad_scale);
        if label.shape == y.shape {
            // Probability labels: (y − label) · grad_scale, no normalisation.
            let s = T::from_f64(grad_scale);
            for ((d, &yv), &l) in dx.iter_mut().zip(ys).zip(labels) {
                let v = (yv - l) * s;
                *d = if times_output { v * yv } else { v };
            }
            return Ok(());
        }
        let ax = self.0.view(y.shape)?;
        let lanes = ax.outer * ax.inner;
        if labels.len() < lanes {
            return Err(Error::BadInput {
                op: name.into(),
                reason: format!(
                    "{} labels for {lanes} predictions (label shape {:?}, output shape {:?})",
                    labels.len(),
                    label.shape,
                    y.shape
                ),
            });
        }
        let labels = &labels[..lanes];
        let ignore = p.ignore_label as i64;
        // A class label outside 0..classes would silently train towards no class (MXNet's CPU
        // kernel does that); here it is an error naming the label and its position. The
        // `ignore_label` value is exempt even without `use_ignore`: MXNet's 'valid'
        // normalization treats it as padding either way.
        let classes = ax.len as f64;
        if let Some((at, bad)) = labels.iter().enumerate().find(|(_, l)| {
            let v = l.to_f64();
            v as i64 != ignore && !(v >= 0.0 && v < classes)
        }) {
            return Err(Error::BadInput {
                op: "SoftmaxOutput".into(),
                reason: format!(
                    "label {} at position {at} is not a class index in 0..{} (output shape {:?})",
                    bad.to_f64(),
                    ax.len,
                    y.shape
                ),
            });
        }
        let norm = match p.normalization {
            Normalization::Null => 1.0,
            Normalization::Batch => ax.outer as f64,
            Normalization::Valid => {
                let valid = labels
                    .iter()
                    .filter(|l| l.to_f64() as i64 != ignore)
                    .count();
                valid.max(1) as f64
            }
        };
        // multi_output also divides by the spatial size, except for 'valid'.
        let spatial = if p.multi_output && p.normalization != Normalization::Valid {
            ax.inner as f64
        } else {
            1.0
        };
        let opts = SoftmaxOutputGrad {
            ignore_label: p.use_ignore.then_some(ignore),
            smooth_alpha: if p.multi_output {
                0.0 // MXNet smooths only the one-label-per-row case
            } else {
                f64::from(p.smooth_alpha)
            },
            scale: grad_scale / spatial / norm,
            times_output,
        };
        kernel::softmax_output_backward(ys, labels, dx, ax, &opts);
        Ok(())
    }
}

impl Operator for SoftmaxOutputBackward {
    fn name(&self) -> &'static str {
        "_backward_SoftmaxOutput"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["output".into(), "label".into()]
    }
    fn output_names(&self) -> Vec<String> {
        vec!["data_grad".into(), "label_grad".into()]
    }
    fn num_outputs(&self) -> usize {
        2
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        tie_pairs(shapes, [(0, 0), (1, 1)])
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let dx = data_grad(name, outputs)?;
        float_dispatch!(dx.dtype, name, T => self.compute::<T>(&inputs[0], &inputs[1], dx.slice_mut::<T>(name)?))
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for SoftmaxOutputBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let [dx, dlabel, ..] = outputs else {
            return Err(missing_outputs(self.name()));
        };
        gpu::softmax_output_backward(ctx, &self.0, &inputs[0], &inputs[1], dx, dlabel)
    }
}

/// Backward shape rule of the `[output-like, label] → [data_grad, label_grad]` ops: each
/// gradient has the shape of its input.
/// Gives each `(input, output)` pair one shape, each filling in the other.
fn tie_pairs(shapes: &mut ShapeCtx<'_>, pairs: [(usize, usize); 2]) -> Result<()> {
    for (input, output) in pairs {
        let mut s = shapes.input(input).clone();
        s.merge(shapes.output(output))
            .map_err(|r| shapes.error(r))?;
        shapes.set_input(input, s.clone())?;
        shapes.set_output(output, s)?;
    }
    Ok(())
}

/// The data's shape (input 0) merged with the output's, set on both.
fn data_shape(shapes: &mut ShapeCtx<'_>) -> Result<Shape> {
    let mut data = shapes.input(0).clone();
    data.merge(shapes.output(0))
        .map_err(|reason| shapes.error(format!("data and output: {reason}")))?;
    shapes.set_input(0, data.clone())?;
    shapes.set_output(0, data.clone())?;
    Ok(data)
}

/// The data's gradient (output 0) of a loss layer's backward, after zeroing the label's
/// (output 1).
fn data_grad<'a, 't>(op: &str, outputs: &'a mut [TensorMut<'t>]) -> Result<&'a mut TensorMut<'t>> {
    let [dx, dlabel, ..] = outputs else {
        return Err(missing_outputs(op));
    };
    dlabel.fill(0.0);
    Ok(dx)
}

fn missing_outputs(op: &str) -> Error {
    Error::BadInput {
        op: op.into(),
        reason: "too few output buffers".into(),
    }
}

/// The kind of a regression output layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegressionKind {
    /// `LinearRegressionOutput`: identity, gradient `out − label`.
    Linear,
    /// `LogisticRegressionOutput`: sigmoid, gradient `out − label`.
    Logistic,
    /// `MAERegressionOutput`: identity, gradient `sign(out − label)` (−1 on a tie, as MXNet).
    Mae,
}

impl RegressionKind {
    fn name(self) -> &'static str {
        match self {
            RegressionKind::Linear => "LinearRegressionOutput",
            RegressionKind::Logistic => "LogisticRegressionOutput",
            RegressionKind::Mae => "MAERegressionOutput",
        }
    }

    fn backward_name(self) -> &'static str {
        match self {
            RegressionKind::Linear => "_backward_linear_reg_out",
            RegressionKind::Logistic => "_backward_logistic_reg_out",
            RegressionKind::Mae => "_backward_mae_reg_out",
        }
    }
}

params! {
    /// Parameters of `LinearRegressionOutput`.
    pub struct LinearRegressionParam for "LinearRegressionOutput" {
        /// Scales the gradient.
        grad_scale: f32 = 1.0,
    }
}

params! {
    /// Parameters of `LogisticRegressionOutput`.
    pub struct LogisticRegressionParam for "LogisticRegressionOutput" {
        /// Scales the gradient.
        grad_scale: f32 = 1.0,
    }
}

params! {
    /// Parameters of `MAERegressionOutput`.
    pub struct MaeRegressionParam for "MAERegressionOutput" {
        /// Scales the gradient.
        grad_scale: f32 = 1.0,
    }
}

/// A regression output layer: identity or sigmoid forward; backward
/// `f(out − label) · grad_scale / num_output` with `num_output = label.size / label.shape[0]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regression {
    /// Which layer.
    pub kind: RegressionKind,
    /// Scales the gradient.
    pub grad_scale: f32,
}

impl Regression {
    /// Parses the attributes of the layer `kind`.
    pub fn parse(kind: RegressionKind, attrs: &[(&str, &str)]) -> Result<Regression> {
        let it = attrs.iter().copied();
        let grad_scale = match kind {
            RegressionKind::Linear => LinearRegressionParam::parse(it)?.grad_scale,
            RegressionKind::Logistic => LogisticRegressionParam::parse(it)?.grad_scale,
            RegressionKind::Mae => MaeRegressionParam::parse(it)?.grad_scale,
        };
        check_finite(kind.name(), "grad_scale", grad_scale)?;
        Ok(Regression { kind, grad_scale })
    }
}

impl Operator for Regression {
    fn name(&self) -> &'static str {
        self.kind.name()
    }
    fn attrs(&self) -> Vec<(String, String)> {
        LinearRegressionParam {
            grad_scale: self.grad_scale,
        }
        .to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["data".into(), "label".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let data = data_shape(shapes)?;
        let Some(d) = data.partial_dims().map(<[_]>::to_vec) else {
            return Ok(());
        };
        let label = shapes.input(1).clone();
        let Some(l) = label.partial_dims() else {
            // Default label: the data's shape, except (N, 1) data takes an (N,) label.
            let default = if d.len() == 2 && d[1] == Some(1) {
                Shape::partial(vec![d[0]])
            } else {
                data
            };
            return shapes.set_input(1, default);
        };
        let first_differs =
            matches!((l.first(), d.first()), (Some(Some(a)), Some(Some(b))) if a != b);
        let size_differs = matches!((label.size(), data.size()), (Some(a), Some(b)) if a != b);
        if l.is_empty() || first_differs || size_differs {
            return Err(shapes.error(format!(
                "label shape {label} is inconsistent with the data shape {data} (the first \
                 dimension and the size must match)"
            )));
        }
        Ok(())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let kind = self.kind;
        float_dispatch!(inputs[0].dtype, name, T => {
            let x = inputs[0].slice::<T>(name)?;
            let y = outputs[0].slice_mut::<T>(name)?;
            match kind {
                RegressionKind::Logistic => {
                    for (o, &v) in y.iter_mut().zip(x) {
                        *o = T::ONE / (T::ONE + (-v).exp());
                    }
                }
                RegressionKind::Linear | RegressionKind::Mae => y.copy_from_slice(x),
            }
            Ok(())
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let out = grad.backward_node(
            RegressionBackward(*self),
            &[grad.inputs[1], grad.outputs[0]],
        )?;
        Ok(GradCtx::all(out))
    }
    fn is_loss(&self) -> bool {
        true
    }
}

impl GpuForward for Regression {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::regression_forward(ctx, self.kind, &inputs[0], &outputs[0])
    }
}

/// `_backward_linear_reg_out` / `_backward_logistic_reg_out` / `_backward_mae_reg_out`:
/// inputs `[label, output]`, outputs `[data_grad, label_grad]` (the label's gradient is zeros).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegressionBackward(pub Regression);

impl Operator for RegressionBackward {
    fn name(&self) -> &'static str {
        self.0.kind.backward_name()
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["label".into(), "output".into()]
    }
    fn output_names(&self) -> Vec<String> {
        vec!["data_grad".into(), "label_grad".into()]
    }
    fn num_outputs(&self) -> usize {
        2
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        // data_grad ↔ output, label_grad ↔ label.
        tie_pairs(shapes, [(1, 0), (0, 1)])
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let dx = data_grad(name, outputs)?;
        let (label, out) = (&inputs[0], &inputs[1]);
        if label.size() != out.size() {
            return Err(Error::BadInput {
                op: name.into(),
                reason: format!(
                    "label shape {:?} does not match the output shape {:?}",
                    label.shape, out.shape
                ),
            });
        }
        let rows = label.shape.first().copied().unwrap_or(1).max(1);
        let num_output = (label.size() / rows).max(1);
        let scale = f64::from(self.0.grad_scale) / num_output as f64;
        let mae = self.0.kind == RegressionKind::Mae;
        float_dispatch!(out.dtype, name, T => {
            let (l, y) = (label.slice::<T>(name)?, out.slice::<T>(name)?);
            let s = T::from_f64(scale);
            for ((d, &yv), &lv) in dx.slice_mut::<T>(name)?.iter_mut().zip(y).zip(l) {
                let diff = yv - lv;
                // MXNet's minus_sign: 1 when out > label, else −1 (a tie gives −1 too).
                let diff = if !mae {
                    diff
                } else if diff > T::ZERO {
                    T::ONE
                } else {
                    -T::ONE
                };
                *d = diff * s;
            }
            Ok(())
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for RegressionBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::regression_backward(ctx, self.0.kind, self.0.grad_scale, inputs, outputs)
    }
}

fn create_softmax_output(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(SoftmaxOutput::parse(attrs)?))
}

fn create_backward_softmax_output(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(SoftmaxOutputBackward(SoftmaxOutput::parse(
        attrs,
    )?)))
}

fn create_linear(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Regression::parse(RegressionKind::Linear, attrs)?))
}

fn create_logistic(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Regression::parse(
        RegressionKind::Logistic,
        attrs,
    )?))
}

fn create_mae(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Regression::parse(RegressionKind::Mae, attrs)?))
}

fn create_backward_linear(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(RegressionBackward(Regression::parse(
        RegressionKind::Linear,
        attrs,
    )?)))
}

fn create_backward_logistic(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(RegressionBackward(Regression::parse(
        RegressionKind::Logistic,
        attrs,
    )?)))
}

fn create_backward_mae(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(RegressionBackward(Regression::parse(
        RegressionKind::Mae,
        attrs,
    )?)))
}

inventory::submit! {
    OpDef::new("SoftmaxOutput",
        "Softmax forward; backward the cross-entropy gradient (softmax − onehot(label)), \
         ignoring the head gradient.",
        SoftmaxOutputParam::specs, create_softmax_output).aliases(&["Softmax"])
}
inventory::submit! {
    OpDef::new("_backward_SoftmaxOutput", "The gradient of SoftmaxOutput.",
        SoftmaxOutputParam::specs, create_backward_softmax_output)
}
inventory::submit! {
    OpDef::new("LinearRegressionOutput",
        "Identity forward; backward (out − label)·grad_scale/num_output (squared loss).",
        LinearRegressionParam::specs, create_linear)
}
inventory::submit! {
    OpDef::new("LogisticRegressionOutput",
        "Sigmoid forward; backward (out − label)·grad_scale/num_output (logistic loss).",
        LogisticRegressionParam::specs, create_logistic)
}
inventory::submit! {
    OpDef::new("MAERegressionOutput",
        "Identity forward; backward sign(out − label)·grad_scale/num_output (absolute loss).",
        MaeRegressionParam::specs, create_mae)
}
inventory::submit! {
    OpDef::new("_backward_linear_reg_out", "The gradient of LinearRegressionOutput.",
        LinearRegressionParam::specs, create_backward_linear)
}
inventory::submit! {
    OpDef::new("_backward_logistic_reg_out", "The gradient of LogisticRegressionOutput.",
        LogisticRegressionParam::specs, create_backward_logistic)
}
inventory::submit! {
    OpDef::new("_backward_mae_reg_out", "The gradient of MAERegressionOutput.",
        MaeRegressionParam::specs, create_backward_mae)
}

mod gpu;
mod make_loss;

pub use make_loss::{MakeLoss, MakeLossBackward, MakeLossParam};
#[cfg(test)]
mod tests;
