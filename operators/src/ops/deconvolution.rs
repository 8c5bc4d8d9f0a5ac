//! `Deconvolution` (MXNet's transposed convolution, 1-D, 2-D and 3-D, channels first; Gluon's
//! `Conv1DTranspose` / `Conv2DTranspose` / `Conv3DTranspose`, ONNX's `ConvTranspose`) and
//! `_backward_Deconvolution`.
//!
//! A deconvolution is the adjoint of the convolution with the same kernel, stride, dilation,
//! padding and weights: its forward pass is that convolution's data gradient, its data gradient
//! that convolution's forward pass ([`mxr_kernels::cpu::conv::transposed`] has the numeric
//! bodies). Inputs `data` (`N × C × spatial`), `weight` (`C × num_filter/num_group × kernel`)
//! and `bias` (`num_filter`, only with `no_bias=False`: MXNet's default is `no_bias=True`);
//! output `N × num_filter × out`, per dimension
//! `out = stride·(x−1) + dilate·(kernel−1) + 1 − 2·pad + adj`, where `adj < stride`.
//! A non-zero `target_shape` replaces `pad` and `adj` (MXNet's `InferPad`): with
//! `full = stride·(x−1) + dilate·(kernel−1) + 1`, `pad = ⌈(full − target)/2⌉` and
//! `adj = (full − target) mod 2`, so the output is `target`.
//!
//! Gradient graph (MXNet's `DeconvolutionGrad`): one `_backward_Deconvolution` node on
//! `[ograd, data, weight, (bias)]` giving `[d data, d weight, (d bias)]`.

use std::sync::Arc;

use mxr_kernels::cpu::conv::{ConvElement, ConvGeom, transposed};

use super::common::{bad_tuple, check_kernel, check_positive, expand_window, kernel_error};
use super::convolution::{ConvLayout, CudnnTune, check_filters, check_layout};
use crate::registry::attrs::AttrValue;
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Resource, Shape, ShapeCtx,
    TensorMut, TensorRef,
};
use crate::{Error, Result, float_dispatch, params};

params! {
    /// Parameters of `Deconvolution`.
    pub struct DeconvolutionParam for "Deconvolution" {
        /// Deconvolution kernel size: (w,), (h, w) or (d, h, w). This is same as the kernel size
        /// used for the corresponding convolution.
        kernel: Vec<usize>,
        /// The stride used for the corresponding convolution: (w,), (h, w) or (d, h, w).
        /// Defaults to 1 for each dimension.
        stride: Vec<usize> = vec![],
        /// Dilation factor for each dimension of the input: (w,), (h, w) or (d, h, w).
        /// Defaults to 1 for each dimension.
        dilate: Vec<usize> = vec![],
        /// The amount of implicit zero padding added during convolution for each dimension of
        /// the input: (w,), (h, w) or (d, h, w). Ignored when `target_shape` is set. Defaults to
        /// no padding.
        pad: Vec<usize> = vec![],
        /// Adjustment for output shape: (w,), (h, w) or (d, h, w); each smaller than the
        /// stride. Ignored when `target_shape` is set.
        adj: Vec<usize> = vec![],
        /// Shape of the output tensor: (w,), (h, w) or (d, h, w); all zeros or empty: unused.
        target_shape: Vec<usize> = vec![],
        /// Number of output filters.
        num_filter: usize,
        /// Number of groups partition.
        num_group: usize = 1,
        /// Maximum temporary workspace allowed (MB) in deconvolution; no effect on the result.
        workspace: usize = 512,
        /// Whether to disable bias parameter.
        no_bias: bool = true,
        /// Whether to pick convolution algorithm by running performance test (cuDNN only).
        cudnn_tune: Option<CudnnTune> = None,
        /// Turn off cudnn for this layer.
        cudnn_off: bool = false,
        /// Set layout for input, output and weight: NCW / NCHW / NCDHW by kernel rank.
        layout: Option<ConvLayout> = None,
    }
}

/// A parsed, checked deconvolution: the parameters with stride, dilation, padding and
/// adjustment expanded to one value per kernel dimension, and the target shape when it is used.
#[derive(Debug, Clone, PartialEq)]
pub struct DeconvSpec {
    /// The parameters as given.
    pub param: DeconvolutionParam,
    /// Stride per kernel dimension.
    pub stride: Vec<usize>,
    /// Dilation per kernel dimension.
    pub dilate: Vec<usize>,
    /// Padding per kernel dimension (without a target shape).
    pub pad: Vec<usize>,
    /// Output adjustment per kernel dimension (without a target shape).
    pub adj: Vec<usize>,
    /// The output's spatial size, when `target_shape` has a non-zero entry.
    pub target: Option<Vec<usize>>,
}

/// `Deconvolution`: see the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Deconvolution(pub DeconvSpec);

/// `_backward_Deconvolution`: inputs `[ograd, data, weight]` (+ `bias` unless `no_bias`),
/// outputs `[d data, d weight]` (+ `d bias`).
#[derive(Debug, Clone, PartialEq)]
pub struct DeconvolutionBackward(pub DeconvSpec);

impl DeconvSpec {
    fn parse(op: &'static str, attrs: &[(&str, &str)]) -> Result<DeconvSpec> {
        let param = DeconvolutionParam::parse_as(op, attrs.iter().copied())?;
        let kernel = &param.kernel;
        check_kernel(op, kernel, "; must have 1, 2 or 3 dimensions")?;
        let stride = expand_window(op, "stride", &param.stride, kernel, 1)?;
        check_positive(op, "stride", &stride)?;
        let dilate = expand_window(op, "dilate", &param.dilate, kernel, 1)?;
        check_positive(op, "dilate", &dilate)?;
        let pad = expand_window(op, "pad", &param.pad, kernel, 0)?;
        let adj = expand_window(op, "adj", &param.adj, kernel, 0)?;
        let target = if param.target_shape.iter().any(|&t| t != 0) {
            Some(expand_window(
                op,
                "target_shape",
                &param.target_shape,
                kernel,
                0,
            )?)
        } else {
            None
        };
        if target.is_none() && adj.iter().zip(&stride).any(|(a, s)| a >= s) {
            let hint = format!(
                "; each must be smaller than the stride {}",
                stride.to_attr()
            );
            return Err(bad_tuple(op, "adj", &adj, hint));
        }
        check_filters(op, param.num_filter, param.num_group)?;
        check_layout(op, param.layout, kernel)?;
        Ok(DeconvSpec {
            param,
            stride,
            dilate,
            pad,
            adj,
            target,
        })
    }

    fn input_names(&self) -> Vec<String> {
        let mut names = vec!["data".to_string(), "weight".to_string()];
        if !self.param.no_bias {
            names.push("bias".into());
        }
        names
    }

    /// The padding and output size of kernel dimension `d` for an input of `x` positions:
    /// MXNet's `InferPad` and output rule, with its checks (`adj < stride`, a positive output,
    /// a reachable target) and a positive `x`.
    fn pad_and_out(&self, d: usize, x: usize) -> std::result::Result<(usize, usize), String> {
        if x == 0 {
            return Err(format!("the data has no positions on axis {}", d + 2));
        }
        let overflow = || format!("the output size on axis {} overflows", d + 2);
        let full = self
            .span(d)
            .and_then(|span| self.stride[d].checked_mul(x - 1)?.checked_add(span))
            .ok_or_else(overflow)?;
        let (pad, adj) = match &self.target {
            Some(target) => {
                let t = target[d];
                let Some(extra) = full.checked_sub(t) else {
                    return Err(format!(
                        "target_shape {} is too big: at most {full} on axis {} for an input of \
                         {x}",
                        target.to_attr(),
                        d + 2
                    ));
                };
                (extra.div_ceil(2), extra % 2)
            }
            None => (self.pad[d], self.adj[d]),
        };
        if adj >= self.stride[d] {
            return Err(format!(
                "target_shape {} needs an output adjustment of {adj} on axis {}, which must be \
                 smaller than the stride {}",
                self.param.target_shape.to_attr(),
                d + 2,
                self.stride[d]
            ));
        }
        // adj < stride, so `full + adj` fits where `stride · (x − 1)` does.
        let unpadded = full.checked_add(adj).ok_or_else(overflow)?;
        match pad.checked_mul(2).and_then(|p| unpadded.checked_sub(p)) {
            Some(out) if out > 0 => Ok((pad, out)),
            _ => Err(format!(
                "pad {pad} on both sides of axis {} leaves no output ({unpadded} positions \
                 before padding)",
                d + 2,
            )),
        }
    }

    /// The dilated kernel's extent along kernel dimension `d`, `dilate·(kernel−1) + 1` (`None`
    /// when it overflows).
    fn span(&self, d: usize) -> Option<usize> {
        self.dilate[d]
            .checked_mul(self.param.kernel[d] - 1)?
            .checked_add(1)
    }

    /// The geometry of the convolution this deconvolution transposes, for data of shape `data`
    /// (rank `2 + kernel dims`, checked by shape inference): its input is the deconvolution's
    /// output and its filters the data's channels.
    ///
    /// # Errors
    /// The shape errors of [`Self::pad_and_out`], naming `op`.
    pub fn geom(&self, op: &str, data: &[usize]) -> Result<ConvGeom> {
        let nd = self.param.kernel.len();
        let (mut pad, mut input) = ([0; 3], [1; 3]);
        for d in 0..nd {
            let x = data.get(2 + d).copied().unwrap_or(0);
            let (p, out) = self.pad_and_out(d, x).map_err(|reason| Error::Shape {
                op: op.into(),
                reason,
                inputs: format!("data={}", data.to_vec().to_attr()),
            })?;
            (pad[3 - nd + d], input[3 - nd + d]) = (p, out);
        }
        let lift = |v: &[usize]| {
            let mut a = [1; 3];
            a[3 - nd..].copy_from_slice(v);
            a
        };
        Ok(ConvGeom {
            batch: data.first().copied().unwrap_or(0),
            channels: self.param.num_filter,
            filters: data.get(1).copied().unwrap_or(0),
            groups: self.param.num_group,
            input,
            kernel: lift(&self.param.kernel),
            stride: lift(&self.stride),
            pad,
            dilate: lift(&self.dilate),
        })
    }

    /// MXNet's shape rule, in both directions: weight and bias from the data and parameters,
    /// the output from the data; the data's channels from the weight, its batch from the
    /// output, and its spatial sizes from the output where the rule inverts exactly.
    fn infer(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let Some(mut data) = shapes.input(0).partial_dims().map(<[_]>::to_vec) else {
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
        data[1] = data[1].or(shapes.input(1).dim(0));
        if let Some(c) = data[1]
            && !c.is_multiple_of(g)
        {
            return Err(shapes.error(format!(
                "the {c} input channels must be divisible by num_group = {g}"
            )));
        }
        let mut weight = vec![data[1], Some(f / g)];
        weight.extend(self.param.kernel.iter().map(|&k| Some(k)));
        shapes.set_input(1, Shape::partial(weight))?;
        if !self.param.no_bias {
            shapes.set_input(2, Shape::known(&[f]))?;
        }
        let mut out = vec![data[0], Some(f)];
        for d in 0..nd {
            out.push(match data[2 + d] {
                Some(x) => Some(self.pad_and_out(d, x).map_err(|r| shapes.error(r))?.1),
                None => None,
            });
        }
        shapes.set_output(0, Shape::partial(out))?;
        if let Some(o) = shapes.output(0).partial_dims().map(<[_]>::to_vec) {
            data[0] = data[0].or(o[0]);
            for d in 0..nd {
                if data[2 + d].is_none()
                    && self.target.is_none()
                    && let Some(o) = o[2 + d]
                {
                    data[2 + d] = self.input_for(d, o);
                }
            }
        }
        shapes.set_input(0, Shape::partial(data))
    }

    /// The input size of kernel dimension `d` whose output (without a target shape) is `out`,
    /// when there is one.
    fn input_for(&self, d: usize, out: usize) -> Option<usize> {
        let padded = out.checked_add(self.pad[d].checked_mul(2)?)?;
        let scaled = padded.checked_sub(self.span(d)?.checked_add(self.adj[d])?)?;
        scaled
            .is_multiple_of(self.stride[d])
            .then(|| scaled / self.stride[d] + 1)
    }
}

fn forward_typed<T: ConvElement>(
    spec: &DeconvSpec,
    name: &str,
    inputs: &[TensorRef<'_>],
    out: &mut TensorMut<'_>,
) -> Result<()> {
    let geom = spec.geom(name, inputs[0].shape)?;
    let x = inputs[0].slice::<T>(name)?;
    let w = inputs[1].slice::<T>(name)?;
    let b = match inputs.get(2) {
        Some(b) if !spec.param.no_bias => Some(b.slice::<T>(name)?),
        _ => None,
    };
    transposed::forward(&geom, x, w, b, out.slice_mut::<T>(name)?)
        .map_err(|e| kernel_error(name, e))
}

fn backward_typed<T: ConvElement>(
    spec: &DeconvSpec,
    name: &str,
    inputs: &[TensorRef<'_>],
    outputs: &mut [TensorMut<'_>],
    dx_needed: bool,
) -> Result<()> {
    let geom = spec.geom(name, inputs[1].shape)?;
    let g = inputs[0].slice::<T>(name)?;
    let x = inputs[1].slice::<T>(name)?;
    let w = inputs[2].slice::<T>(name)?;
    let [dx, dw, rest @ ..] = outputs else {
        return Err(kernel_error(name, "fewer than two outputs"));
    };
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
    transposed::backward(&geom, g, x, w, dx, dw.slice_mut::<T>(name)?, db)
        .map_err(|e| kernel_error(name, e))
}

impl Operator for Deconvolution {
    fn name(&self) -> &'static str {
        "Deconvolution"
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
        let out = grad.backward_node_per_input(DeconvolutionBackward(self.0.clone()), &inputs)?;
        Ok(GradCtx::all(out))
    }
    fn resources(&self) -> Vec<Resource> {
        vec![Resource::TempSpace]
    }
}

impl GpuForward for Deconvolution {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let geom = self.0.geom(self.name(), inputs[0].shape)?;
        let b = inputs.get(2).filter(|_| !self.0.param.no_bias);
        gpu::forward(ctx, &geom, &inputs[0], &inputs[1], b, &outputs[0])
    }
}

impl Operator for DeconvolutionBackward {
    fn name(&self) -> &'static str {
        "_backward_Deconvolution"
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
        (0..self.num_outputs()).try_for_each(|i| shapes.tie(i + 1, i))
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let name = self.name();
        let dx_needed = ctx.output_needed(0);
        float_dispatch!(inputs[0].dtype, name, T => backward_typed::<T>(&self.0, name, inputs, outputs, dx_needed))
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn resources(&self) -> Vec<Resource> {
        vec![Resource::TempSpace]
    }
}

impl GpuForward for DeconvolutionBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let geom = self.0.geom(self.name(), inputs[1].shape)?;
        // The data gradient of a first layer (the data needs none) is skipped, as on the CPU.
        let dx = ctx.output_needed(0).then_some(&outputs[0]);
        let ins = [&inputs[0], &inputs[1], &inputs[2]];
        gpu::backward(ctx, &geom, ins, dx, &outputs[1], outputs.get(2))
    }
}

fn create(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Deconvolution(DeconvSpec::parse(
        "Deconvolution",
        attrs,
    )?)))
}

fn create_backward(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(DeconvolutionBackward(DeconvSpec::parse(
        "_backward_Deconvolution",
        attrs,
    )?)))
}

inventory::submit! {
    OpDef::new("Deconvolution", "Compute 1-D, 2-D or 3-D transposed convolution (the gradient of \
        Convolution with respect to its input) on (N+2)-D input (channels first), with optional \
        groups, stride, padding, dilation, output adjustment and target shape.",
        DeconvolutionParam::specs, create)
        .aliases(&["_npx_deconvolution"])
}
inventory::submit! {
    OpDef::new("_backward_Deconvolution",
        "Gradient of Deconvolution: inputs [ograd, data, weight, (bias)], outputs [ddata, dweight, (dbias)].",
        DeconvolutionParam::specs, create_backward)
}

mod gpu;
#[cfg(test)]
mod tests;
