//! `slice_axis` and its gradient `_backward_slice_axis`: the elements `begin..end` along one axis.

use std::sync::Arc;

use super::super::common::{infer_pair, infer_pair_backward, normalize_axis};
use super::{axis_error, gpu, rows};
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx,
};
use crate::{Error, Result, params};

params! {
    /// Parameters of `slice_axis`.
    pub struct SliceAxisParam for "slice_axis" {
        /// The axis to slice (negative counts from the end).
        axis: i64,
        /// The first index (negative counts from the end).
        begin: i64,
        /// One past the last index (negative counts from the end; None = the end).
        end: Option<i64>,
    }
}

impl SliceAxisParam {
    /// The `[begin, end)` range on an axis of size `dim`.
    fn range(&self, dim: usize) -> std::result::Result<(usize, usize), String> {
        if dim == 0 {
            return Ok((0, 0));
        }
        let d = dim as i64;
        let begin = if self.begin < 0 {
            self.begin + d
        } else {
            self.begin
        };
        let end = match self.end {
            None => d,
            Some(e) if e < 0 => e + d,
            Some(e) => e,
        };
        let end_text = self.end.map_or("None".to_string(), |e| e.to_string());
        if begin < 0 {
            return Err(format!(
                "begin={} is out of range for an axis of size {dim}",
                self.begin
            ));
        }
        if end > d || end < 0 {
            return Err(format!(
                "end={end_text} is out of range for an axis of size {dim}"
            ));
        }
        if begin >= end {
            return Err(format!(
                "begin={} must come before end={end_text} (axis of size {dim})",
                self.begin
            ));
        }
        Ok((begin as usize, end as usize))
    }
}

/// `slice_axis`: the elements `begin..end` along `axis`.
#[derive(Debug, Clone)]
pub struct SliceAxis(pub SliceAxisParam);

/// Shape inference between a whole array and its slice.
fn infer_slice(
    shapes: &mut ShapeCtx<'_>,
    p: &SliceAxisParam,
    whole: Shape,
    part: Shape,
) -> Result<(Shape, Shape)> {
    let rank = match (whole.ndim(), part.ndim()) {
        (Some(r), Some(q)) if r != q => {
            return Err(shapes.error(format!("the input is {r}-D but the slice is {q}-D")));
        }
        (Some(r), _) | (None, Some(r)) => r,
        (None, None) => return Ok((whole, part)),
    };
    let Some(axis) = normalize_axis(p.axis, rank) else {
        return Err(axis_error(shapes, "axis", p.axis, rank));
    };
    let mut common: Vec<Option<usize>> = vec![None; rank];
    for s in [&whole, &part] {
        if let Some(d) = s.partial_dims() {
            for (c, &x) in common.iter_mut().zip(d) {
                if c.is_none() {
                    *c = x;
                }
            }
        }
    }
    let whole_along = whole.dim(axis);
    let part_along = match whole_along {
        Some(d) => {
            let (b, e) = p.range(d).map_err(|r| shapes.error(r))?;
            Some(e - b)
        }
        None => match p.end {
            Some(e) if p.begin >= 0 && e > p.begin => Some((e - p.begin) as usize),
            _ => None,
        },
    };
    let mut w = common.clone();
    w[axis] = whole_along;
    let mut s = common;
    s[axis] = part_along.or(part.dim(axis));
    let mut whole = whole;
    whole
        .merge(&Shape::partial(w))
        .map_err(|r| shapes.error(r))?;
    let mut part = part;
    part.merge(&Shape::partial(s))
        .map_err(|r| shapes.error(r))?;
    Ok((whole, part))
}

/// The rows and the `[begin, end)` byte range within a row for slicing `whole`.
fn slice_geometry(
    op: &str,
    p: &SliceAxisParam,
    whole: &[usize],
    width: usize,
) -> Result<(usize, usize, usize, usize)> {
    let bad = |reason: String| Error::BadInput {
        op: op.into(),
        reason,
    };
    let axis = normalize_axis(p.axis, whole.len())
        .ok_or_else(|| bad(format!("axis {} is out of range for {whole:?}", p.axis)))?;
    let (begin, end) = p.range(whole[axis]).map_err(bad)?;
    let (outer, row) = rows(whole, axis, width);
    let inner = row / whole[axis].max(1);
    Ok((outer, row, begin * inner, end * inner))
}

impl Operator for SliceAxis {
    fn name(&self) -> &'static str {
        "slice_axis"
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
        let (outer, row, b, e) = slice_geometry("slice_axis", &self.0, x.shape, x.dtype.size())?;
        let out = &mut outputs[0];
        if out.bytes.len() != outer * (e - b) || x.bytes.len() != outer * row {
            return Err(Error::BadInput {
                op: "slice_axis".into(),
                reason: format!("output {:?} does not fit input {:?}", out.shape, x.shape),
            });
        }
        if e > b && row > 0 {
            for (o, r) in out
                .bytes
                .chunks_exact_mut(e - b)
                .zip(x.bytes.chunks_exact(row))
            {
                o.copy_from_slice(&r[b..e]);
            }
        }
        Ok(())
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let g = grad.backward_node(
            BackwardSliceAxis(self.0.clone()),
            &[grad.ograds[0], grad.inputs[0]],
        )?;
        Ok(vec![Some(g[0])])
    }
}

impl GpuForward for SliceAxis {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let x = &inputs[0];
        let geometry = slice_geometry("slice_axis", &self.0, x.shape, 1)?;
        gpu::slice(ctx, "slice_axis", x, &outputs[0], geometry)
    }
}

/// `_backward_slice_axis`: inputs `[ograd, data]`; the head gradient written into zeros of
/// data's shape at `begin..end` along the axis.
#[derive(Debug, Clone)]
pub struct BackwardSliceAxis(pub SliceAxisParam);

impl Operator for BackwardSliceAxis {
    fn name(&self) -> &'static str {
        "_backward_slice_axis"
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
        let g = &inputs[0];
        let out = &mut outputs[0];
        let (outer, row, b, e) =
            slice_geometry("_backward_slice_axis", &self.0, out.shape, out.dtype.size())?;
        if g.bytes.len() != outer * (e - b) || out.bytes.len() != outer * row {
            return Err(Error::BadInput {
                op: "_backward_slice_axis".into(),
                reason: format!("gradient {:?} does not fit {:?}", g.shape, out.shape),
            });
        }
        out.bytes.fill(0); // zero bytes are 0 in every dtype
        if e > b && row > 0 {
            for (r, s) in out
                .bytes
                .chunks_exact_mut(row)
                .zip(g.bytes.chunks_exact(e - b))
            {
                r[b..e].copy_from_slice(s);
            }
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

impl GpuForward for BackwardSliceAxis {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let out = &outputs[0];
        let op = "_backward_slice_axis";
        let geometry = slice_geometry(op, &self.0, out.shape, 1)?;
        gpu::unslice(ctx, op, &inputs[0], out, geometry)
    }
}

fn create_slice_axis(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(SliceAxis(SliceAxisParam::parse(
        attrs.iter().copied(),
    )?)))
}

fn create_backward_slice_axis(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(BackwardSliceAxis(SliceAxisParam::parse(
        attrs.iter().copied(),
    )?)))
}

inventory::submit! {
    OpDef::new("slice_axis", "The elements begin..end along one axis.",
        SliceAxisParam::specs, create_slice_axis)
}

inventory::submit! {
    OpDef::new("_backward_slice_axis", "Gradient of slice_axis: the head gradient placed into zeros of the input's shape (inputs: ograd, data).",
        SliceAxisParam::specs, create_backward_slice_axis)
}
