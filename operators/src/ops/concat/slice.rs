//! `slice` (alias `crop`) and its gradient `_backward_slice`: a strided box of the input, with
//! `begin`, `end` and `step` per leading axis (numpy's `x[b0:e0:s0, b1:e1:s1, ..]`).
//!
//! MXNet 1.9.1 clamps like numpy: a begin or end past either side of an axis is moved to the
//! side (an empty slice where nothing is left); `None` is the start or the end of the axis in
//! the step's direction; a step of 0 is an error. Axes after those in `begin` are kept whole.
//! `_backward_slice` takes `[ograd, data]` (MXNet takes only the head gradient and copies the
//! shape from the forward node; `data` lends its shape) and writes the head gradient into zeros.

use std::sync::Arc;

use super::super::common::{
    for_each_index, gpu_gather, gpu_scatter_add, infer_pair, infer_pair_backward, row_major_strides,
};
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx,
};
use crate::{Error, Result, params};

params! {
    /// Parameters of `slice`.
    pub struct SliceParam for "slice" {
        /// The first index on each leading axis (negative counts from the end; None = the
        /// start in the step's direction).
        begin: Vec<Option<i64>>,
        /// The index one past the last on each leading axis (negative counts from the end;
        /// None = the end in the step's direction).
        end: Vec<Option<i64>>,
        /// The step on each leading axis (None = 1; negative walks backwards); empty = all 1.
        step: Vec<Option<i64>> = vec![],
    }
}

/// The elements an axis keeps: `count` of them, from `start`, `step` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AxisRange {
    /// The first index kept.
    start: i64,
    /// The distance between kept indices.
    step: i64,
    /// How many are kept.
    count: usize,
}

impl SliceParam {
    /// Checks the lengths of the tuples and the steps, for an input of `rank` axes.
    fn check(&self, rank: Option<usize>) -> std::result::Result<(), String> {
        if self.begin.len() != self.end.len() {
            return Err(format!(
                "begin has {} entries but end has {}",
                self.begin.len(),
                self.end.len()
            ));
        }
        if !self.step.is_empty() && self.step.len() != self.begin.len() {
            return Err(format!(
                "step has {} entries but begin has {}",
                self.step.len(),
                self.begin.len()
            ));
        }
        if let Some(k) = self.step.iter().position(|s| *s == Some(0)) {
            return Err(format!("step[{k}] is 0"));
        }
        match rank {
            Some(r) if self.begin.len() > r => Err(format!(
                "begin has {} entries but the input has only {r} axes",
                self.begin.len()
            )),
            _ => Ok(()),
        }
    }

    /// The range axis `k` keeps of its `len` indices (MXNet's `GetIndexRange`).
    fn range(&self, k: usize, len: usize) -> AxisRange {
        let len = len as i64;
        if k >= self.begin.len() {
            return AxisRange {
                start: 0,
                step: 1,
                count: len as usize,
            };
        }
        let step = self.step.get(k).copied().flatten().unwrap_or(1);
        let wrap = |v: i64| if v < 0 { v + len } else { v };
        let mut b = match self.begin[k] {
            Some(v) => wrap(v),
            None if step < 0 => len - 1,
            None => 0,
        };
        let mut e = match self.end[k] {
            Some(v) => wrap(v),
            None if step < 0 => -1,
            None => len,
        };
        if b < 0 && step > 0 {
            b = 0;
        }
        if b > len - 1 && step < 0 {
            b = len - 1;
        }
        if b < 0 || b > len - 1 {
            b = -1;
        }
        e = e.clamp(-1, len);
        let count = if b < 0 || e == b {
            0
        } else if step > 0 {
            if e > b { (e - b - 1) / step + 1 } else { 0 }
        } else if e < b {
            (b - e - 1) / (-step) + 1
        } else {
            0
        };
        AxisRange {
            start: b.max(0),
            step,
            count: count as usize,
        }
    }

    /// The ranges of every axis of `whole`.
    pub(super) fn ranges(&self, op: &str, whole: &[usize]) -> Result<Vec<AxisRange>> {
        self.check(Some(whole.len()))
            .map_err(|reason| bad_input(op, format!("{reason} (input {whole:?})")))?;
        Ok((0..whole.len()).map(|k| self.range(k, whole[k])).collect())
    }
}

/// An error naming `op` (the parameters or the shapes are at fault).
fn bad_input(op: &str, reason: String) -> Error {
    Error::BadInput {
        op: op.into(),
        reason,
    }
}

/// The element offsets in `whole` (row-major) of the slice's elements, in the slice's order.
pub(super) fn source_offsets(whole: &[usize], ranges: &[AxisRange]) -> Vec<usize> {
    let strides = row_major_strides(whole);
    let counts: Vec<usize> = ranges.iter().map(|r| r.count).collect();
    let mut out = Vec::with_capacity(counts.iter().product());
    for_each_index(&counts, |index| {
        let at: i64 = ranges
            .iter()
            .zip(index)
            .zip(&strides)
            .map(|((r, &i), &s)| (r.start + r.step * i as i64) * s as i64)
            .sum();
        out.push(at as usize); // every kept index lies in [0, len) (see `range`)
    });
    out
}

/// Shape inference between the whole array and its slice: the slice from a known input, the
/// rank and the whole trailing axes in both directions.
fn infer_slice(
    shapes: &mut ShapeCtx<'_>,
    p: &SliceParam,
    whole: Shape,
    part: Shape,
) -> Result<(Shape, Shape)> {
    let rank = whole.ndim().or(part.ndim());
    p.check(rank).map_err(|r| shapes.error(r))?;
    let Some(rank) = rank else {
        return Ok((whole, part));
    };
    let mut w: Vec<Option<usize>> = vec![None; rank];
    let mut s: Vec<Option<usize>> = vec![None; rank];
    for k in 0..rank {
        let (wd, sd) = (whole.dim(k), part.dim(k));
        if k >= p.begin.len() {
            w[k] = wd.or(sd);
            s[k] = w[k];
        } else {
            w[k] = wd;
            s[k] = wd.map(|d| p.range(k, d).count);
        }
    }
    let (mut whole, mut part) = (whole, part);
    whole
        .merge(&Shape::partial(w))
        .map_err(|r| shapes.error(r))?;
    part.merge(&Shape::partial(s))
        .map_err(|r| shapes.error(r))?;
    Ok((whole, part))
}

/// `slice`: a strided box of the input.
#[derive(Debug, Clone)]
pub struct Slice(pub SliceParam);

impl Operator for Slice {
    fn name(&self) -> &'static str {
        "slice"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        infer_pair(shapes, |s, x, y| infer_slice(s, &self.0, x, y))
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let x = &inputs[0];
        let offsets = source_offsets(x.shape, &self.0.ranges("slice", x.shape)?);
        let out = &mut outputs[0];
        let w = x.dtype.size();
        if out.bytes.len() != offsets.len() * w
            || x.bytes.len() != x.shape.iter().product::<usize>() * w
        {
            let reason = format!("output {:?} does not fit input {:?}", out.shape, x.shape);
            return Err(bad_input("slice", reason));
        }
        for (o, &at) in out.bytes.chunks_exact_mut(w).zip(&offsets) {
            o.copy_from_slice(&x.bytes[at * w..(at + 1) * w]);
        }
        Ok(())
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let g = grad.backward_node(
            BackwardSlice(self.0.clone()),
            &[grad.ograds[0], grad.inputs[0]],
        )?;
        Ok(vec![Some(g[0])])
    }
}

/// `_backward_slice`: inputs `[ograd, data]`; the head gradient written into zeros of data's
/// shape at the slice's elements.
#[derive(Debug, Clone)]
pub struct BackwardSlice(pub SliceParam);

impl Operator for BackwardSlice {
    fn name(&self) -> &'static str {
        "_backward_slice"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["ograd".into(), "data".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        infer_pair_backward(shapes, |s, x, y| infer_slice(s, &self.0, x, y))
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let op = "_backward_slice";
        let g = &inputs[0];
        let out = &mut outputs[0];
        let offsets = source_offsets(out.shape, &self.0.ranges(op, out.shape)?);
        let w = out.dtype.size();
        if g.bytes.len() != offsets.len() * w
            || out.bytes.len() != out.shape.iter().product::<usize>() * w
        {
            let reason = format!("gradient {:?} does not fit {:?}", g.shape, out.shape);
            return Err(bad_input(op, reason));
        }
        out.bytes.fill(0); // zero bytes are 0 in every dtype
        for (s, &at) in g.bytes.chunks_exact(w).zip(&offsets) {
            out.bytes[at * w..(at + 1) * w].copy_from_slice(s);
        }
        Ok(())
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        vec![1]
    }
}

/// The slice's element offsets in `whole`, as the GPU table.
fn gpu_offsets(op: &str, p: &SliceParam, whole: &[usize]) -> Result<Vec<i64>> {
    let offsets = source_offsets(whole, &p.ranges(op, whole)?);
    Ok(offsets.into_iter().map(|o| o as i64).collect())
}

impl GpuForward for Slice {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let x = &inputs[0];
        let offsets = gpu_offsets("slice", &self.0, x.shape)?;
        gpu_gather(
            ctx,
            "slice",
            x.f32("slice")?,
            outputs[0].f32("slice")?,
            &offsets,
        )
    }
}

impl GpuForward for BackwardSlice {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let op = "_backward_slice";
        let out = &outputs[0];
        let offsets = gpu_offsets(op, &self.0, out.shape)?;
        gpu_scatter_add(ctx, op, inputs[0].f32(op)?, out.f32(op)?, &offsets)
    }
}

fn create_slice(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let p = SliceParam::parse(attrs.iter().copied())?;
    p.check(None).map_err(|reason| bad_input("slice", reason))?;
    Ok(Arc::new(Slice(p)))
}

fn create_backward_slice(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let p = SliceParam::parse_as("_backward_slice", attrs.iter().copied())?;
    p.check(None)
        .map_err(|reason| bad_input("_backward_slice", reason))?;
    Ok(Arc::new(BackwardSlice(p)))
}

inventory::submit! {
    OpDef::new("slice", "A strided box of the input: begin, end and step per leading axis (numpy's x[b:e:s, ..], clamped).",
        SliceParam::specs, create_slice).aliases(&["crop"])
}

inventory::submit! {
    OpDef::new("_backward_slice", "Gradient of slice: the head gradient placed into zeros of the input's shape (inputs: ograd, data).",
        SliceParam::specs, create_backward_slice)
}

#[cfg(test)]
mod tests;
