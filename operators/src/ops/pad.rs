//! `Pad` (alias `pad`) and its gradient `_backward_Pad`: a 4-D or 5-D array padded on its
//! spatial axes (MXNet 1.9.1, `src/operator/pad.cc`).
//!
//! `pad_width` is `(before_1, after_1, .., before_N, after_N)`, zero on the first two axes.
//! `constant` fills with `constant_value`, `edge` repeats the border element, `reflect`
//! mirrors about the border element (numpy's `reflect`; MXNet refuses widths not smaller than
//! the axis). Each output element is a copy of one input element or the constant, so the
//! gradient adds the head gradient's elements into the input elements they copy (the constant
//! gets none). `_backward_Pad` takes `[ograd, data]` (MXNet takes only the head gradient;
//! `data` lends its shape). On the GPU (float32) the moves go through offset tables.

use std::sync::Arc;

use mxr_kernels::cpu::elementwise::Num;
use mxr_kernels::cuda::DeviceSlice;

use super::common::{
    for_each_index, gpu_gather, gpu_scatter_add, infer_pair, infer_pair_backward, row_major_strides,
};
use super::elemwise::num_dispatch;
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx, gpu_error,
};
use crate::{Error, Result, attr_enum, float_dispatch, params};

attr_enum! {
    /// How `Pad` fills the border.
    pub enum PadMode { Constant = "constant", Edge = "edge", Reflect = "reflect" }
}

params! {
    /// Parameters of `Pad`.
    pub struct PadParam for "Pad" {
        /// How to fill: `constant` with `constant_value`, `edge` with the border elements,
        /// `reflect` with the elements mirrored about the border.
        mode: PadMode,
        /// `(before_1, after_1, .., before_N, after_N)`: the widths added on each side of
        /// each axis (zero on the first two).
        pad_width: Vec<usize>,
        /// The value of the padding in `constant` mode.
        constant_value: f64 = 0.0,
    }
}

fn bad_input(op: &str, reason: String) -> Error {
    Error::BadInput {
        op: op.into(),
        reason,
    }
}

impl PadParam {
    /// Checks the padding against an input of `dims` (MXNet's checks).
    fn check(&self, dims: &[Option<usize>]) -> std::result::Result<(), String> {
        let r = dims.len();
        if r != 4 && r != 5 {
            return Err(format!("only 4-D or 5-D input is supported, got {r}-D"));
        }
        if self.pad_width.len() != 2 * r {
            return Err(format!(
                "pad_width has {} entries but a {r}-D input needs {}",
                self.pad_width.len(),
                2 * r
            ));
        }
        if self.pad_width[..4].iter().any(|&w| w != 0) {
            return Err(format!(
                "padding on the first two axes must be zero, got pad_width={:?}",
                self.pad_width
            ));
        }
        if matches!(self.mode, PadMode::Reflect) {
            for (k, d) in dims.iter().enumerate() {
                let (b, a) = (self.pad_width[2 * k], self.pad_width[2 * k + 1]);
                if let Some(d) = *d
                    && (b >= d || a >= d)
                    && (b, a) != (0, 0)
                {
                    return Err(format!(
                        "reflect padding ({b}, {a}) on axis {k} must be smaller than its size {d}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The input element each output element copies (`None` = the constant), row-major.
    fn sources(&self, op: &str, whole: &[usize]) -> Result<Vec<Option<usize>>> {
        let known: Vec<Option<usize>> = whole.iter().copied().map(Some).collect();
        self.check(&known)
            .map_err(|r| bad_input(op, format!("{r} (input {whole:?})")))?;
        let out: Vec<usize> = (0..whole.len())
            .map(|k| whole[k] + self.pad_width[2 * k] + self.pad_width[2 * k + 1])
            .collect();
        let strides = row_major_strides(whole);
        let mut table = Vec::with_capacity(out.iter().product());
        for_each_index(&out, |index| {
            let mut at = Some(0usize);
            for k in 0..whole.len() {
                let (len, j) = (
                    whole[k] as i64,
                    index[k] as i64 - self.pad_width[2 * k] as i64,
                );
                let src = match self.mode {
                    PadMode::Constant => (0..len).contains(&j).then_some(j),
                    _ if len == 0 => None,
                    PadMode::Edge => Some(j.clamp(0, len - 1)),
                    PadMode::Reflect if j < 0 => Some(-j),
                    PadMode::Reflect if j >= len => Some(2 * (len - 1) - j),
                    PadMode::Reflect => Some(j),
                };
                at = at.zip(src).map(|(a, s)| a + s as usize * strides[k]);
            }
            table.push(at);
        });
        Ok(table)
    }
}

/// Shape inference in both directions: each axis grows by its two widths.
fn infer_pad(
    shapes: &mut ShapeCtx<'_>,
    p: &PadParam,
    data: Shape,
    padded: Shape,
) -> Result<(Shape, Shape)> {
    let Some(rank) = data.ndim().or(padded.ndim()) else {
        return Ok((data, padded));
    };
    let d: Vec<Option<usize>> = (0..rank).map(|k| data.dim(k)).collect();
    p.check(&d).map_err(|r| shapes.error(r))?;
    let grow = |k: usize| p.pad_width[2 * k] + p.pad_width[2 * k + 1];
    let mut w = d.clone();
    let mut s: Vec<Option<usize>> = vec![None; rank];
    for k in 0..rank {
        s[k] = d[k].map(|x| x + grow(k));
        if w[k].is_none() {
            w[k] = padded.dim(k).and_then(|x| x.checked_sub(grow(k)));
        }
    }
    let (mut data, mut padded) = (data, padded);
    data.merge(&Shape::partial(w))
        .map_err(|r| shapes.error(r))?;
    padded
        .merge(&Shape::partial(s))
        .map_err(|r| shapes.error(r))?;
    Ok((data, padded))
}

/// `Pad`: the input with borders added on its spatial axes.
#[derive(Debug, Clone)]
pub struct Pad(pub PadParam);

impl Operator for Pad {
    fn name(&self) -> &'static str {
        "Pad"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        infer_pair(shapes, |s, x, y| infer_pad(s, &self.0, x, y))
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let (x, out) = (&inputs[0], &mut outputs[0]);
        let table = self.0.sources("Pad", x.shape)?;
        let c = self.0.constant_value;
        num_dispatch!(x.dtype, "Pad", T => {
            let (src, dst) = (x.slice::<T>("Pad")?, out.slice_mut::<T>("Pad")?);
            if dst.len() != table.len() {
                return Err(bad_input("Pad", format!("output {:?} does not fit input {:?}", out.shape, x.shape)));
            }
            for (o, at) in dst.iter_mut().zip(&table) {
                *o = at.map_or(T::from_f64(c), |i| src[i]);
            }
            Ok(())
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let g = grad.backward_node(
            BackwardPad(self.0.clone()),
            &[grad.ograds[0], grad.inputs[0]],
        )?;
        Ok(vec![Some(g[0])])
    }
}

/// The table for the GPU: the constant at `n` (one past the input's elements).
fn gpu_table(table: &[Option<usize>], n: usize) -> Vec<i64> {
    table.iter().map(|t| t.unwrap_or(n) as i64).collect()
}

impl GpuForward for Pad {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let op = "Pad";
        let (x, out) = (&inputs[0], &outputs[0]);
        let table = self.0.sources(op, x.shape)?;
        let n = x.size();
        // The input followed by the constant, so that one gather fills every element.
        let ext = ctx.temp(op, (n + 1) * 4)?;
        let ext = DeviceSlice::<f32>::of_buffer(&ext);
        let fail = |e| gpu_error(op, e);
        ctx.copy(op, ext.range(0, n).map_err(fail)?, x.f32(op)?)?;
        let c = self.0.constant_value as f32;
        mxr_kernels::cuda::init::fill(ctx.device, ext.range(n, 1).map_err(fail)?, c)
            .map_err(fail)?;
        gpu_gather(
            ctx,
            op,
            ext.range(0, n + 1).map_err(fail)?,
            out.f32(op)?,
            &gpu_table(&table, n),
        )
    }
}

/// `_backward_Pad`: inputs `[ograd, data]`; the head gradient's elements added into zeros of
/// data's shape at the elements they copy.
#[derive(Debug, Clone)]
pub struct BackwardPad(pub PadParam);

impl Operator for BackwardPad {
    fn name(&self) -> &'static str {
        "_backward_Pad"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["ograd".into(), "data".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        infer_pair_backward(shapes, |s, x, y| infer_pad(s, &self.0, x, y))
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let op = "_backward_Pad";
        let (g, out) = (&inputs[0], &mut outputs[0]);
        let table = self.0.sources(op, out.shape)?;
        float_dispatch!(out.dtype, op, T => {
            let (src, dst) = (g.slice::<T>(op)?, out.slice_mut::<T>(op)?);
            if src.len() != table.len() {
                return Err(bad_input(op, format!("gradient {:?} does not fit {:?}", g.shape, out.shape)));
            }
            dst.fill(T::ZERO);
            for (&v, at) in src.iter().zip(&table) {
                if let Some(i) = *at {
                    dst[i] = dst[i].plus(v);
                }
            }
            Ok(())
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        vec![1]
    }
}

impl GpuForward for BackwardPad {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let op = "_backward_Pad";
        let out = &outputs[0];
        let table = self.0.sources(op, out.shape)?;
        let n = out.size();
        // The constant's gradient goes to one extra element, then the rest is copied out.
        let ext = ctx.temp(op, (n + 1) * 4)?;
        let ext = DeviceSlice::<f32>::of_buffer(&ext);
        let fail = |e| gpu_error(op, e);
        let ext = ext.range(0, n + 1).map_err(fail)?;
        gpu_scatter_add(ctx, op, inputs[0].f32(op)?, ext, &gpu_table(&table, n))?;
        ctx.copy(op, out.f32(op)?, ext.range(0, n).map_err(fail)?)
    }
}

fn create_pad(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Pad(PadParam::parse(attrs.iter().copied())?)))
}

fn create_backward_pad(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let p = PadParam::parse_as("_backward_Pad", attrs.iter().copied())?;
    Ok(Arc::new(BackwardPad(p)))
}

inventory::submit! {
    OpDef::new("Pad", "Pads a 4-D or 5-D array on its spatial axes (constant, edge or reflect).",
        PadParam::specs, create_pad).aliases(&["pad"])
}

inventory::submit! {
    OpDef::new("_backward_Pad", "Gradient of Pad: the head gradient added into the input elements each output element copies (inputs: ograd, data).",
        PadParam::specs, create_backward_pad)
}

#[cfg(test)]
mod tests;
