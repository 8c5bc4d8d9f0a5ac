//! `Convolution` (1-D, 2-D and 3-D, channels first) by im2col + GEMM, and
//! `_backward_Convolution` via col2im. The numeric bodies are in
//! [`mxr_kernels::cpu::conv`].

use std::sync::Arc;

use mxr_kernels::cpu::conv::{ConvElement, ConvGeom, conv_backward, conv_forward};

use super::common::{check_kernel, check_positive, expand_window, kernel_error, wrong_layout};
use crate::registry::attrs::AttrValue;

use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Resource, Shape, ShapeCtx,
    TensorMut, TensorRef,
};
use crate::{Error, Result, attr_enum, float_dispatch, params};

attr_enum! {
    /// cuDNN's algorithm choice (accepted, no effect on the CPU).
    pub enum CudnnTune { Fastest = "fastest", LimitedWorkspace = "limited_workspace", Off = "off" }
}

attr_enum! {
    /// The data layout of a convolution.
    pub enum ConvLayout { Ncdhw = "NCDHW", Nchw = "NCHW", Ncw = "NCW", Ndhwc = "NDHWC", Nhwc = "NHWC" }
}

params! {
    /// Parameters of `Convolution`.
    pub struct ConvolutionParam for "Convolution" {
        /// Convolution kernel size: (w,), (h, w) or (d, h, w).
        kernel: Vec<usize>,
        /// Convolution stride: (w,), (h, w) or (d, h, w). Defaults to 1 for each dimension.
        stride: Vec<usize> = vec![],
        /// Convolution dilate: (w,), (h, w) or (d, h, w). Defaults to 1 for each dimension.
        dilate: Vec<usize> = vec![],
        /// Zero pad for convolution: (w,), (h, w) or (d, h, w). Defaults to no padding.
        pad: Vec<usize> = vec![],
        /// Convolution filter (channel) number.
        num_filter: usize,
        /// Number of group partitions.
        num_group: usize = 1,
        /// Maximum temporary workspace allowed (MB); no effect on the result.
        workspace: usize = 1024,
        /// Whether to disable bias parameter.
        no_bias: bool = false,
        /// Whether to pick convolution algo by running performance test (cuDNN only).
        cudnn_tune: Option<CudnnTune> = None,
        /// Turn off cudnn for this layer.
        cudnn_off: bool = false,
        /// Set layout for input, output and weight: NCW / NCHW / NCDHW by kernel rank.
        layout: Option<ConvLayout> = None,
    }
}

/// A parsed, checked convolution: the parameters with stride, dilation and padding expanded to
/// one value per kernel dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvSpec {
    /// The parameters as given.
    pub param: ConvolutionParam,
    /// Stride per kernel dimension.
    pub stride: Vec<usize>,
    /// Dilation per kernel dimension.
    pub dilate: Vec<usize>,
    /// Padding per kernel dimension.
    pub pad: Vec<usize>,
}

/// `Convolution`: inputs `data` (`N × C × spatial`), `weight` (`F × C/G × kernel`) and `bias`
/// (`F`, absent with `no_bias`); output `N × F × out_spatial` with
/// `out = ⌊(x + 2·pad − (dilate·(kernel−1)+1)) / stride⌋ + 1`. Cross-correlation (no kernel
/// flip); `num_group` splits the channels into independent convolutions.
#[derive(Debug, Clone, PartialEq)]
pub struct Convolution(pub ConvSpec);

/// `_backward_Convolution`: inputs `[ograd, data, weight]` (+ `bias` unless `no_bias`), outputs
/// `[d data, d weight]` (+ `d bias`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConvolutionBackward(pub ConvSpec);

/// Checks a (transposed) convolution's `num_filter` and `num_group`: both at least 1, the
/// filters divisible by the groups.
pub(crate) fn check_filters(op: &str, num_filter: usize, num_group: usize) -> Result<()> {
    let int = |name: &str, value: usize, hint: &str| Error::BadParam {
        op: op.into(),
        name: name.into(),
        value: value.to_string(),
        type_name: "int (non-negative)".into(),
        hint: hint.into(),
    };
    if num_filter == 0 {
        return Err(int("num_filter", 0, "; must be at least 1"));
    }
    if num_group == 0 {
        return Err(int("num_group", 0, "; must be at least 1"));
    }
    if !num_filter.is_multiple_of(num_group) {
        return Err(int(
            "num_filter",
            num_filter,
            &format!("; must be divisible by num_group = {num_group}"),
        ));
    }
    Ok(())
}

/// Checks a (transposed) convolution's `layout` against its `kernel` (1, 2 or 3 dimensions,
/// checked): absent or the channels-first layout of that rank; channels-last ones are
/// unsupported.
pub(crate) fn check_layout(op: &str, layout: Option<ConvLayout>, kernel: &[usize]) -> Result<()> {
    let expected = [ConvLayout::Ncw, ConvLayout::Nchw, ConvLayout::Ncdhw][kernel.len() - 1];
    match layout {
        None => Ok(()),
        Some(l) if l == expected => Ok(()),
        Some(l @ (ConvLayout::Nhwc | ConvLayout::Ndhwc)) => Err(Error::Unsupported {
            op: op.into(),
            what: format!(
                "layout='{}' (channels-last; only {})",
                l.to_attr(),
                expected.to_attr()
            ),
        }),
        Some(l) => {
            let layout = (l.to_attr(), ConvLayout::type_name());
            Err(wrong_layout(op, layout, kernel, expected.to_attr()))
        }
    }
}

impl ConvSpec {
    fn parse(op: &'static str, attrs: &[(&str, &str)]) -> Result<ConvSpec> {
        let param = ConvolutionParam::parse(attrs.iter().copied())?;
        check_kernel(op, &param.kernel, "; must have 1, 2 or 3 dimensions")?;
        let stride = expand_window(op, "stride", &param.stride, &param.kernel, 1)?;
        check_positive(op, "stride", &stride)?;
        let dilate = expand_window(op, "dilate", &param.dilate, &param.kernel, 1)?;
        check_positive(op, "dilate", &dilate)?;
        let pad = expand_window(op, "pad", &param.pad, &param.kernel, 0)?;
        check_filters(op, param.num_filter, param.num_group)?;
        check_layout(op, param.layout, &param.kernel)?;
        Ok(ConvSpec {
            param,
            stride,
            dilate,
            pad,
        })
    }

    fn input_names(&self) -> Vec<String> {
        let mut names = vec!["data".to_string(), "weight".to_string()];
        if !self.param.no_bias {
            names.push("bias".into());
        }
        names
    }

    /// The kernels' geometry for data of shape `data` (checked by shape inference: rank
    /// `2 + kernel dims`).
    pub fn geom(&self, data: &[usize]) -> ConvGeom {
        let nd = self.param.kernel.len();
        let lift = |v: &[usize], fill: usize| {
            let mut a = [fill; 3];
            for (dst, src) in a[3 - nd..].iter_mut().zip(v) {
                *dst = *src;
            }
            a
        };
        ConvGeom {
            batch: data.first().copied().unwrap_or(0),
            channels: data.get(1).copied().unwrap_or(0),
            filters: self.param.num_filter,
            groups: self.param.num_group,
            input: lift(data.get(2..).unwrap_or(&[]), 1),
            kernel: lift(&self.param.kernel, 1),
            stride: lift(&self.stride, 1),
            pad: lift(&self.pad, 0),
            dilate: lift(&self.dilate, 1),
        }
    }

    /// MXNet's shape rule, in both directions: weight and bias from the data and parameters,
    /// the output from the data; the data's batch from the output, and its spatial sizes where
    /// the stride is 1.
    fn infer(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let Some(data) = shapes.input(0).partial_dims().map(<[_]>::to_vec) else {
            return Ok(());
        };
        let nd = self.param.kernel.len();
        if data.len() != nd + 2 {
            let layout = ["(N, C, W)", "(N, C, H, W)", "(N, C, D, H, W)"][nd - 1];
            return Err(shapes.error(format!(
                "data must be {}-D {layout} for the {nd}-D kernel {}",
                nd + 2,
                self.param.kernel.to_attr()
            )));
        }
        let (f, g) = (self.param.num_filter, self.param.num_group);
        let mut data = data;
        // The channel count follows from the weight when only it is known.
        if data[1].is_none()
            && let Some(cg) = shapes.input(1).dim(1)
        {
            data[1] = Some(cg * g);
        }
        if let Some(c) = data[1]
            && !c.is_multiple_of(g)
        {
            return Err(shapes.error(format!(
                "the {c} input channels must be divisible by num_group = {g}"
            )));
        }
        let mut weight = vec![Some(f), data[1].map(|c| c / g)];
        weight.extend(self.param.kernel.iter().map(|&k| Some(k)));
        shapes.set_input(1, Shape::partial(weight))?;
        if !self.param.no_bias {
            shapes.set_input(2, Shape::known(&[f]))?;
        }
        let mut out = vec![data[0], Some(f)];
        for d in 0..nd {
            let span = self.dilate[d] * (self.param.kernel[d] - 1) + 1;
            out.push(match data[2 + d] {
                Some(x) => {
                    let padded = x + 2 * self.pad[d];
                    if span > padded {
                        return Err(shapes.error(format!(
                            "the dilated kernel size {span} exceeds the padded input size \
                             {padded} (axis {})",
                            2 + d
                        )));
                    }
                    Some((padded - span) / self.stride[d] + 1)
                }
                None => None,
            });
        }
        shapes.set_output(0, Shape::partial(out))?;
        if let Some(o) = shapes.output(0).partial_dims().map(<[_]>::to_vec) {
            data[0] = data[0].or(o[0]);
            for d in 0..nd {
                let span = self.dilate[d] * (self.param.kernel[d] - 1) + 1;
                if data[2 + d].is_none()
                    && self.stride[d] == 1
                    && let Some(x) = (o[2 + d].map(|o| o + span - 1))
                        .and_then(|v| v.checked_sub(2 * self.pad[d]))
                {
                    data[2 + d] = Some(x);
                }
            }
        }
        shapes.set_input(0, Shape::partial(data))
    }
}

fn forward_typed<T: ConvElement>(
    spec: &ConvSpec,
    name: &str,
    inputs: &[TensorRef<'_>],
    out: &mut TensorMut<'_>,
) -> Result<()> {
    let geom = spec.geom(inputs[0].shape);
    let x = inputs[0].slice::<T>(name)?;
    let w = inputs[1].slice::<T>(name)?;
    let b = match inputs.get(2) {
        Some(b) if !spec.param.no_bias => Some(b.slice::<T>(name)?),
        _ => None,
    };
    conv_forward(&geom, x, w, b, out.slice_mut::<T>(name)?).map_err(|e| kernel_error(name, e))
}

fn backward_typed<T: ConvElement>(
    spec: &ConvSpec,
    name: &str,
    inputs: &[TensorRef<'_>],
    outputs: &mut [TensorMut<'_>],
    dx_needed: bool,
) -> Result<()> {
    let geom = spec.geom(inputs[1].shape);
    let g = inputs[0].slice::<T>(name)?;
    let x = inputs[1].slice::<T>(name)?;
    let w = inputs[2].slice::<T>(name)?;
    let (dx, rest) = outputs
        .split_first_mut()
        .ok_or_else(|| kernel_error(name, "no outputs"))?;
    let (dw, rest) = rest
        .split_first_mut()
        .ok_or_else(|| kernel_error(name, "no weight gradient output"))?;
    let db = match rest.first_mut() {
        Some(db) => Some(db.slice_mut::<T>(name)?),
        None => None,
    };
    // The data gradient of a first layer (the data needs none) is skipped (MXNet's kNullOp).
    let dx = if dx_needed {
        Some(dx.slice_mut::<T>(name)?)
    } else {
        None
    };
    conv_backward(&geom, g, x, w, dx, dw.slice_mut::<T>(name)?, db)
        .map_err(|e| kernel_error(name, e))
}

impl Operator for Convolution {
    fn name(&self) -> &'static str {
        "Convolution"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        self.0.input_names()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        self.0.infer(shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let out = &mut outputs[0];
        float_dispatch!(out.dtype, name, T => forward_typed::<T>(&self.0, name, inputs, out))
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let mut inputs = vec![grad.ograds[0]];
        inputs.extend_from_slice(grad.inputs);
        let out = grad.backward_node_per_input(ConvolutionBackward(self.0.clone()), &inputs)?;
        Ok(GradCtx::all(out))
    }
    fn resources(&self) -> Vec<Resource> {
        vec![Resource::TempSpace]
    }
}

impl GpuForward for Convolution {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let geom = self.0.geom(inputs[0].shape);
        let b = inputs.get(2).filter(|_| !self.0.param.no_bias);
        gpu::forward(
            ctx,
            self.name(),
            &geom,
            &inputs[0],
            &inputs[1],
            b,
            &outputs[0],
        )
    }
}

impl Operator for ConvolutionBackward {
    fn name(&self) -> &'static str {
        "_backward_Convolution"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        let mut names = vec!["ograd".to_string()];
        names.extend(self.0.input_names());
        names
    }
    fn num_outputs(&self) -> usize {
        if self.0.param.no_bias { 2 } else { 3 }
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        // Each gradient has the shape of the input it belongs to.
        for i in 0..self.num_outputs() {
            let s = shapes.input(i + 1).clone();
            shapes.set_output(i, s)?;
            let s = shapes.output(i).clone();
            shapes.set_input(i + 1, s)?;
        }
        Ok(())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let name = self.name();
        let dtype = inputs[0].dtype;
        let dx_needed = ctx.output_needed(0);
        float_dispatch!(dtype, name, T => backward_typed::<T>(&self.0, name, inputs, outputs, dx_needed))
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn resources(&self) -> Vec<Resource> {
        vec![Resource::TempSpace]
    }
}

impl GpuForward for ConvolutionBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let geom = self.0.geom(inputs[1].shape);
        // The data gradient of a first layer (the data needs none) is skipped, as on the CPU.
        let dx = ctx.output_needed(0).then_some(&outputs[0]);
        let ins = [&inputs[0], &inputs[1], &inputs[2]];
        gpu::backward(
            ctx,
            self.name(),
            &geom,
            ins,
            dx,
            &outputs[1],
            outputs.get(2),
        )
    }
}

fn create(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Convolution(ConvSpec::parse(
        "Convolution",
        attrs,
    )?)))
}

fn create_backward(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(ConvolutionBackward(ConvSpec::parse(
        "_backward_Convolution",
        attrs,
    )?)))
}

inventory::submit! {
    OpDef::new("Convolution", "Compute N-D convolution on (N+2)-D input (channels first), \
        cross-correlation with optional groups, stride, padding and dilation.",
        ConvolutionParam::specs, create)
        .aliases(&["_npx_convolution"])
}
inventory::submit! {
    OpDef::new("_backward_Convolution",
        "Gradient of Convolution: inputs [ograd, data, weight, (bias)], outputs [ddata, dweight, (dbias)].",
        ConvolutionParam::specs, create_backward)
}

pub(crate) mod gpu;
#[cfg(test)]
mod tests;
