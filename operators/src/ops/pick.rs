//! `pick` and its gradient `_backward_pick`: one element of every lane of `data` along
//! `axis`, at the position `index` gives (MXNet 1.9.1, `src/operator/tensor/
//! broadcast_reduce_op_index.cc`).
//!
//! The index and the output have `data`'s shape without `axis` (with it as size 1 when
//! `keepdims`). An index is truncated to an integer, then `mode` brings it into the axis:
//! `clip` to the nearest end, `wrap` modulo its length. `axis=None` is an error, as in MXNet
//! ("not supported by pick yet"). The gradient puts the head gradient at the picked positions
//! of zeros of `data`'s shape; `index` gets none (MXNet gives it `zeros_like`).
//! `_backward_pick` takes `[ograd, index, data]` and gives `[d_data]` (MXNet takes
//! `[ograd, index]` and copies `data`'s shape from the forward node; here `data` lends its
//! shape, its bytes are not read). On the GPU: float32 data, both modes.

use std::sync::Arc;

use mxr_kernels::cpu::pick::{pick, pick_backward};
use mxr_kernels::cpu::softmax::Axis;
use mxr_kernels::cuda::pick as kernels;

use super::common::{Slot, axis_out_of_range, axis_view, kernel_error, normalize_axis, tie_dtype};
use super::elemwise::num_dispatch;
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GpuTensor, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx,
    TypeCtx, check_sizes, gpu_error,
};
use crate::{Error, Result, attr_enum, float_dispatch, params};

attr_enum! {
    /// What an index outside the axis does.
    pub enum PickMode { Clip = "clip", Wrap = "wrap" }
}

params! {
    /// Parameters of `pick`.
    pub struct PickParam for "pick" {
        /// The axis to pick along (negative counts from the end); None (the flattened input)
        /// is refused, as by MXNet 1.9.1.
        axis: Option<i64> = Some(-1),
        /// Keep the picked axis in the result as size 1.
        keepdims: bool = false,
        /// What an index outside the axis does: `clip` to the nearest end, or `wrap` around.
        mode: PickMode = PickMode::Clip,
    }
}

/// `pick` with parsed parameters (an axis given).
#[derive(Debug, Clone)]
pub struct Pick {
    param: PickParam,
    axis: i64,
}

impl Pick {
    /// Checks the parameters for operator `op` (`pick` or `_backward_pick`).
    fn new(op: &str, param: PickParam) -> Result<Pick> {
        let Some(axis) = param.axis else {
            return Err(Error::BadParam {
                op: op.into(),
                name: "axis".into(),
                value: "None".into(),
                type_name: "int or None".into(),
                hint: "; pick needs an axis (MXNet 1.9.1: axis=None is not supported)".into(),
            });
        };
        Ok(Pick { param, axis })
    }

    fn wrap(&self) -> bool {
        self.param.mode == PickMode::Wrap
    }

    /// The view of `data` (shape `shape`) around the axis.
    fn view(&self, op: &str, shape: &[usize]) -> Result<Axis> {
        axis_view(op, self.axis, shape)
    }

    /// Shape inference: `data` holds the input's shape, `out` the output's (the data's
    /// without `axis`, or with it as 1 under `keepdims`) and `index` the index's, which may
    /// take either form whatever `keepdims` says (MXNet accepts both and infers the one
    /// without the axis). Works from the data and from the output; unknown dimensions stay
    /// unknown.
    fn infer(&self, shapes: &mut ShapeCtx<'_>, data: Slot, out: Slot, index: Slot) -> Result<()> {
        let keepdims = self.param.keepdims;
        let mut lane = out.get(shapes);
        let whole = data.get(shapes);
        let from_out = lane.ndim().map(|r| r + usize::from(!keepdims));
        let Some(rank) = whole.ndim().or(from_out) else {
            return Ok(());
        };
        let Some(axis) = normalize_axis(self.axis, rank) else {
            return Err(shapes.error(axis_out_of_range(self.axis, rank, "")));
        };
        // The index's dims, in the output's form, say as much as the output's.
        let given = index.get(shapes);
        if let Some(idx) = given.partial_dims() {
            let mut as_out = idx.to_vec();
            match (idx.len() == rank, keepdims) {
                (true, false) => _ = as_out.remove(axis),
                (false, true) if idx.len() + 1 == rank => as_out.insert(axis, Some(1)),
                _ => {}
            }
            lane.merge(&Shape::partial(as_out)).map_err(|r| {
                shapes.error(format!(
                    "the index must have the data's shape without axis {axis}, or with it as \
                     1: {r}"
                ))
            })?;
        }
        let dims = whole
            .partial_dims()
            .map_or_else(|| vec![None; rank], <[_]>::to_vec);
        let mut kept = dims.clone();
        kept[axis] = Some(1);
        let mut dropped = dims.clone();
        dropped.remove(axis);
        let picked = if keepdims { &kept } else { &dropped };
        lane.merge(&Shape::partial(picked.clone())).map_err(|r| {
            shapes.error(format!(
                "the output must have the data's shape without axis {axis}{}: {r}",
                if keepdims { " (kept as 1)" } else { "" }
            ))
        })?;
        let mut back = lane.partial_dims().map_or_else(Vec::new, <[_]>::to_vec);
        if keepdims {
            back[axis] = dims[axis]; // `lane` has rank `rank` after the merge
        } else {
            back.insert(axis, dims[axis]); // `lane` has rank `rank - 1`
        }
        data.set(shapes, Shape::partial(back.clone()))?;
        out.set(shapes, lane)?;
        // The index: the data's shape without the axis, or with it as 1.
        let mut without = back.clone();
        without.remove(axis);
        let mut with = back;
        with[axis] = Some(1);
        let form = if given.ndim() == Some(rank) {
            with
        } else {
            without
        };
        let mut idx = given;
        idx.merge(&Shape::partial(form)).map_err(|r| {
            shapes.error(format!(
                "the index must have the data's shape without axis {axis}, or with it as 1: {r}"
            ))
        })?;
        index.set(shapes, idx)
    }
}

/// The GPU launch shared by both directions: checks sizes, then `launch(lanes, idx, whole)`.
fn gpu_pick(
    op: &str,
    ax: Axis,
    (index, lanes, whole): (&GpuTensor<'_>, &GpuTensor<'_>, &GpuTensor<'_>),
    launch: impl FnOnce(
        mxr_kernels::cuda::DeviceSlice<'_, f32>,
        mxr_kernels::cuda::AnySlice<'_>,
        mxr_kernels::cuda::DeviceSlice<'_, f32>,
    ) -> std::result::Result<(), mxr_kernels::cuda::GpuError>,
) -> Result<()> {
    check_sizes(op, ax.outer * ax.inner, &[index, lanes])?;
    check_sizes(op, ax.size(), &[whole])?;
    launch(lanes.f32(op)?, index.any(op)?, whole.f32(op)?).map_err(|e| gpu_error(op, e))
}

impl Operator for Pick {
    fn name(&self) -> &'static str {
        "pick"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["data".into(), "index".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        self.infer(shapes, Slot::In(0), Slot::Out(0), Slot::In(1))
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        tie_dtype(types, 0)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let op = "pick";
        let (x, index) = (&inputs[0], &inputs[1]);
        let ax = self.view(op, x.shape)?;
        let idx = index.to_f64_vec();
        let y = &mut outputs[0];
        num_dispatch!(x.dtype, op, T => {
            pick(x.slice::<T>(op)?, &idx, ax, self.wrap(), y.slice_mut::<T>(op)?)
                .map_err(|e| kernel_error(op, e))
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let g = grad.backward_node(
            BackwardPick(self.clone()),
            &[grad.ograds[0], grad.inputs[1], grad.inputs[0]],
        )?;
        Ok(vec![Some(g[0]), None]) // the index gets no gradient (MXNet: zeros)
    }
}

impl GpuForward for Pick {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let op = "pick";
        let (x, index, y) = (&inputs[0], &inputs[1], &outputs[0]);
        let ax = self.view(op, x.shape)?;
        gpu_pick(op, ax, (index, y, x), |y, idx, x| {
            kernels::forward(ctx.device, y, idx, x, ax, self.wrap())
        })
    }
}

/// `_backward_pick`: inputs `[ograd, index, data]`, output `[d_data]`: zeros of `data`'s shape
/// holding the head gradient at the picked positions.
#[derive(Debug, Clone)]
pub struct BackwardPick(pub Pick);

impl Operator for BackwardPick {
    fn name(&self) -> &'static str {
        "_backward_pick"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["ograd".into(), "index".into(), "data".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        shapes.tie(2, 0)?;
        self.0
            .infer(shapes, Slot::Out(0), Slot::In(0), Slot::In(1))?;
        shapes.tie(2, 0)
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        tie_dtype(types, 0)?;
        tie_dtype(types, 2)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let op = "_backward_pick";
        let (g, index) = (&inputs[0], &inputs[1]);
        let dx = &mut outputs[0];
        let ax = self.0.view(op, dx.shape)?;
        let idx = index.to_f64_vec();
        float_dispatch!(dx.dtype, op, T => {
            let (g, dx) = (g.slice::<T>(op)?, dx.slice_mut::<T>(op)?);
            pick_backward(g, &idx, ax, self.0.wrap(), 0.0 as T, dx)
                .map_err(|e| kernel_error(op, e))
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        vec![2]
    }
}

impl GpuForward for BackwardPick {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let op = "_backward_pick";
        let (g, index, dx) = (&inputs[0], &inputs[1], &outputs[0]);
        let ax = self.0.view(op, dx.shape)?;
        ctx.zero(op, dx.bytes(op)?)?;
        gpu_pick(op, ax, (index, g, dx), |g, idx, dx| {
            kernels::backward(ctx.device, dx, idx, g, ax, self.0.wrap())
        })
    }
}

fn create_pick(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Pick::new(
        "pick",
        PickParam::parse(attrs.iter().copied())?,
    )?))
}

fn create_backward_pick(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let op = "_backward_pick";
    let p = PickParam::parse_as(op, attrs.iter().copied())?;
    Ok(Arc::new(BackwardPick(Pick::new(op, p)?)))
}

inventory::submit! {
    OpDef::new("pick", "One element of every lane of `data` along `axis`, at the position `index` gives (out-of-range indices: clip or wrap).",
        PickParam::specs, create_pick)
}

inventory::submit! {
    OpDef::new("_backward_pick", "Gradient of pick: zeros of data's shape holding the head gradient at the picked positions (inputs: ograd, index, data).",
        PickParam::specs, create_backward_pick)
}

#[cfg(test)]
mod tests;
