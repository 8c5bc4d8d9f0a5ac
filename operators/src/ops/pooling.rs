//! `Pooling` (max / avg / sum over 1-D, 2-D or 3-D windows, channels first, or global) and
//! `_backward_Pooling`. The numeric bodies are in [`mxr_kernels::cpu::pooling`].

use std::sync::Arc;

use mxr_kernels::cpu::pooling::{
    PoolElement, PoolGeom, PoolType, pool_backward, pool_forward, pool_output_size,
};

use super::common::{check_kernel, check_positive, expand_window, kernel_error, wrong_layout};
use crate::registry::attrs::AttrValue;

use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx, TensorMut,
    TensorRef,
};
use crate::{Error, Result, attr_enum, float_dispatch, params};

attr_enum! {
    /// The reduction over each window (`lp` is not supported).
    pub enum PoolingType { Avg = "avg", Lp = "lp", Max = "max", Sum = "sum" }
}

attr_enum! {
    /// How the output size rounds: `valid` floors, `full` ceils (`same` is not supported).
    pub enum PoolingConvention { Full = "full", Same = "same", Valid = "valid" }
}

attr_enum! {
    /// The data layout of a pooling (only channels-first ones are supported).
    pub enum PoolingLayout {
        Ncdhw = "NCDHW", Nchw = "NCHW", Ncw = "NCW", Ndhwc = "NDHWC", Nhwc = "NHWC", Nwc = "NWC"
    }
}

params! {
    /// Parameters of `Pooling`.
    pub struct PoolingParam for "Pooling" {
        /// Pooling kernel size: (y, x) or (d, y, x).
        kernel: Vec<usize> = vec![],
        /// Pooling type to be applied.
        pool_type: PoolingType = PoolingType::Max,
        /// Ignore kernel size, do global pooling based on current input feature map.
        global_pool: bool = false,
        /// Turn off cudnn pooling and use MXNet pooling operator (no effect on the CPU).
        cudnn_off: bool = false,
        /// Pooling convention to be applied.
        pooling_convention: PoolingConvention = PoolingConvention::Valid,
        /// Stride: for pooling (y, x) or (d, y, x). Defaults to 1 for each dimension.
        stride: Vec<usize> = vec![],
        /// Pad for pooling: (y, x) or (d, y, x). Defaults to no padding.
        pad: Vec<usize> = vec![],
        /// Value of p for Lp pooling, can be 1 or 2, required for Lp Pooling.
        p_value: Option<i32> = None,
        /// Only used for AvgPool: whether to count padding elements in the divisor (default
        /// true).
        count_include_pad: Option<bool> = None,
        /// Set layout for input and output: NCW for 1d, NCHW for 2d and NCDHW for 3d.
        layout: Option<PoolingLayout> = None,
    }
}

/// A parsed, checked pooling: stride and padding expanded to one value per kernel dimension
/// (empty for global pooling).
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    /// The parameters as given.
    pub param: PoolingParam,
    /// Stride per kernel dimension.
    pub stride: Vec<usize>,
    /// Padding per kernel dimension.
    pub pad: Vec<usize>,
    /// The kernels' reduction.
    pub kind: PoolType,
}

/// `Pooling`: reduces each window of each `(n, c)` plane of `data` (`N × C × spatial`).
/// `valid`: `out = ⌊(x + 2·pad − kernel) / stride⌋ + 1`; `full`: the same with ⌈⌉;
/// `global_pool`: every spatial axis to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Pooling(pub PoolSpec);

/// `_backward_Pooling`: inputs `[ograd, data, output]`, output `d data`.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolingBackward(pub PoolSpec);

impl PoolSpec {
    fn parse(op: &'static str, attrs: &[(&str, &str)]) -> Result<PoolSpec> {
        let param = PoolingParam::parse(attrs.iter().copied())?;
        let unsupported = |what: String| Error::Unsupported {
            op: op.into(),
            what,
        };
        let kind = match param.pool_type {
            PoolingType::Max => PoolType::Max,
            PoolingType::Sum => PoolType::Sum,
            PoolingType::Avg => PoolType::Avg {
                count_include_pad: param.count_include_pad.unwrap_or(true),
            },
            PoolingType::Lp => return Err(unsupported("pool_type='lp'".into())),
        };
        if param.pooling_convention == PoolingConvention::Same {
            return Err(unsupported("pooling_convention='same'".into()));
        }
        if let Some(l @ (PoolingLayout::Nwc | PoolingLayout::Nhwc | PoolingLayout::Ndhwc)) =
            param.layout
        {
            return Err(unsupported(format!(
                "layout='{}' (channels-last; only NCW, NCHW, NCDHW are)",
                l.to_attr()
            )));
        }
        if param.global_pool {
            return Ok(PoolSpec {
                param,
                stride: Vec::new(),
                pad: Vec::new(),
                kind,
            });
        }
        let rank_hint = "; must have 1, 2 or 3 dimensions unless global_pool=True";
        let nd = check_kernel(op, &param.kernel, rank_hint)?;
        if let Some(layout) = param.layout {
            let expected = [
                PoolingLayout::Ncw,
                PoolingLayout::Nchw,
                PoolingLayout::Ncdhw,
            ][nd - 1];
            if layout != expected {
                let layout = (layout.to_attr(), PoolingLayout::type_name());
                return Err(wrong_layout(op, layout, &param.kernel, expected.to_attr()));
            }
        }
        let stride = expand_window(op, "stride", &param.stride, &param.kernel, 1)?;
        let pad = expand_window(op, "pad", &param.pad, &param.kernel, 0)?;
        check_positive(op, "stride", &param.stride)?;
        Ok(PoolSpec {
            param,
            stride,
            pad,
            kind,
        })
    }

    /// The kernels' geometry for data of shape `data` (checked by shape inference).
    pub fn geom(&self, data: &[usize]) -> PoolGeom {
        let spatial = data.get(2..).unwrap_or(&[]);
        let lift = |v: &[usize], fill: usize| {
            let mut a = [fill; 3];
            let n = v.len().min(3);
            a[3 - n..].copy_from_slice(&v[v.len() - n..]);
            a
        };
        let planes = data.iter().take(2).product();
        let input = lift(spatial, 1);
        if self.param.global_pool {
            return PoolGeom {
                planes,
                input,
                output: [1; 3],
                kernel: input,
                stride: [1; 3],
                pad: [0; 3],
            };
        }
        let full = self.param.pooling_convention == PoolingConvention::Full;
        let (kernel, stride, pad) = (
            lift(&self.param.kernel, 1),
            lift(&self.stride, 1),
            lift(&self.pad, 0),
        );
        let output = std::array::from_fn(|d| {
            pool_output_size(input[d], kernel[d], stride[d], pad[d], full).unwrap_or(0)
        });
        PoolGeom {
            planes,
            input,
            output,
            kernel,
            stride,
            pad,
        }
    }

    /// MXNet's shape rule; the batch and channel axes also come back from a known output.
    fn infer(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let Some(mut data) = shapes.input(0).partial_dims().map(<[_]>::to_vec) else {
            return Ok(());
        };
        let out_spatial: Vec<Option<usize>> = if self.param.global_pool {
            if !(3..=5).contains(&data.len()) {
                return Err(
                    shapes.error("global pooling needs 3-D, 4-D or 5-D data (N, C, spatial...)")
                );
            }
            vec![Some(1); data.len() - 2]
        } else {
            let nd = self.param.kernel.len();
            if data.len() != nd + 2 {
                let layout = ["(N, C, W)", "(N, C, H, W)", "(N, C, D, H, W)"][nd - 1];
                return Err(shapes.error(format!(
                    "data must be {}-D {layout} for the {nd}-D kernel {}",
                    nd + 2,
                    self.param.kernel.to_attr()
                )));
            }
            let full = self.param.pooling_convention == PoolingConvention::Full;
            let mut out = Vec::with_capacity(nd);
            for d in 0..nd {
                let (k, s, p) = (self.param.kernel[d], self.stride[d], self.pad[d]);
                out.push(match data[2 + d] {
                    None => None,
                    Some(x) => Some(pool_output_size(x, k, s, p, full).ok_or_else(|| {
                        shapes.error(format!(
                            "kernel size ({k}) exceeds input ({x} padded to {}) on axis {}",
                            x + 2 * p,
                            2 + d
                        ))
                    })?),
                });
            }
            out
        };
        let out: Vec<Option<usize>> = data[..2].iter().copied().chain(out_spatial).collect();
        shapes.set_output(0, Shape::partial(out))?;
        if let Some(o) = shapes.output(0).partial_dims() {
            for (d, known) in data.iter_mut().zip(o).take(2) {
                *d = d.or(*known);
            }
        }
        shapes.set_input(0, Shape::partial(data))
    }
}

fn backward_typed<T: PoolElement>(
    spec: &PoolSpec,
    name: &str,
    inputs: &[TensorRef<'_>],
    dx: &mut TensorMut<'_>,
) -> Result<()> {
    let geom = spec.geom(inputs[1].shape);
    let g = inputs[0].slice::<T>(name)?;
    let x = inputs[1].slice::<T>(name)?;
    let y = inputs[2].slice::<T>(name)?;
    pool_backward(&geom, spec.kind, g, x, y, dx.slice_mut::<T>(name)?)
        .map_err(|e| kernel_error(name, e))
}

impl Operator for Pooling {
    fn name(&self) -> &'static str {
        "Pooling"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.param.to_attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        self.0.infer(shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let geom = self.0.geom(inputs[0].shape);
        let out = &mut outputs[0];
        float_dispatch!(out.dtype, name, T => {
            let x = inputs[0].slice::<T>(name)?;
            pool_forward(&geom, self.0.kind, x, out.slice_mut::<T>(name)?)
                .map_err(|e| kernel_error(name, e))
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let inputs = [grad.ograds[0], grad.inputs[0], grad.outputs[0]];
        let out = grad.backward_node(PoolingBackward(self.0.clone()), &inputs)?;
        Ok(GradCtx::all(out))
    }
}

impl GpuForward for Pooling {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let geom = self.0.geom(inputs[0].shape);
        gpu::forward(ctx, &geom, self.0.kind, &inputs[0], &outputs[0])
    }
}

impl Operator for PoolingBackward {
    fn name(&self) -> &'static str {
        "_backward_Pooling"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["ograd".into(), "data".into(), "output".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        // d data has the data's shape; the head gradient has the output's.
        let s = shapes.input(1).clone();
        shapes.set_output(0, s)?;
        let s = shapes.output(0).clone();
        shapes.set_input(1, s)?;
        let s = shapes.input(2).clone();
        shapes.set_input(0, s)?;
        let s = shapes.input(0).clone();
        shapes.set_input(2, s)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let dx = &mut outputs[0];
        float_dispatch!(dx.dtype, name, T => backward_typed::<T>(&self.0, name, inputs, dx))
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for PoolingBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let geom = self.0.geom(inputs[1].shape);
        let ins = [&inputs[0], &inputs[1], &inputs[2]];
        gpu::backward(ctx, &geom, self.0.kind, ins, &outputs[0])
    }
}

fn create(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Pooling(PoolSpec::parse("Pooling", attrs)?)))
}

fn create_backward(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(PoolingBackward(PoolSpec::parse(
        "_backward_Pooling",
        attrs,
    )?)))
}

inventory::submit! {
    OpDef::new("Pooling", "Performs max, average or sum pooling on the input (1-D, 2-D, 3-D or \
        global, channels first).", PoolingParam::specs, create)
        .aliases(&["_npx_pooling"])
}
inventory::submit! {
    OpDef::new("_backward_Pooling",
        "Gradient of Pooling: inputs [ograd, data, output], output ddata.",
        PoolingParam::specs, create_backward)
}

mod gpu;
#[cfg(test)]
mod tests;
