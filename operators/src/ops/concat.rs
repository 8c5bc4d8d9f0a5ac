//! `Concat`, `SliceChannel`, `slice_axis`, `slice`: joining and cutting arrays, with their
//! gradients `_backward_Concat`, `_backward_SliceChannel`, `_backward_slice_axis`,
//! `_backward_slice` (`slice` is in its own file, `concat/slice.rs`).
//!
//! The kernels move element bytes, so every dtype works. Backward-op inputs (MXNet copies
//! shapes from the forward node instead; our graph builder needs them as inputs):
//! - `_backward_Concat`: `[ograd, arg0, .., argN-1]` (as MXNet's MKLDNN build) → one gradient per
//!   input; the forward inputs only lend their shapes.
//! - `_backward_SliceChannel`: `[ograd0, .., ogradN-1]` → the gradient of `data` (the ograds
//!   joined along the axis).
//! - `_backward_slice_axis`: `[ograd, data]` → the ograd written into zeros of data's shape;
//!   `data` only lends its shape.

use std::sync::Arc;

use super::common::normalize_axis;
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx,
};
use crate::{Error, Result, params};

/// An error for an axis out of range.
fn axis_error(shapes: &ShapeCtx<'_>, name: &str, axis: i64, rank: usize) -> Error {
    shapes.error(format!(
        "{name}={axis} is out of range for {rank}-D arrays (allowed [-{rank}, {rank}))"
    ))
}

/// The rank every known input and output has; an error when two disagree.
fn common_rank(shapes: &ShapeCtx<'_>) -> Result<Option<usize>> {
    let mut rank: Option<usize> = None;
    let ins = (0..shapes.num_inputs()).map(|i| shapes.input(i).ndim());
    let outs = (0..shapes.num_outputs()).map(|i| shapes.output(i).ndim());
    for r in ins.chain(outs).flatten() {
        match rank {
            Some(q) if q != r => {
                return Err(shapes.error(format!("ranks differ ({q} and {r})")));
            }
            _ => rank = Some(r),
        }
    }
    Ok(rank)
}

/// The byte length of one "row" (all axes from `axis` on) and the number of rows (the axes
/// before it) of an array of `shape` with `width`-byte elements.
fn rows(shape: &[usize], axis: usize, width: usize) -> (usize, usize) {
    let outer = shape[..axis].iter().product();
    let row = shape[axis..].iter().product::<usize>() * width;
    (outer, row)
}

/// The length of a whole row, `outer` rows of which fill `whole` bytes, made of parts whose
/// `(bytes, row length)` are `parts`; an error naming `op` when a size does not fit.
fn check_rows(
    op: &str,
    whole: usize,
    mut parts: impl Iterator<Item = (usize, usize)> + Clone,
    outer: usize,
) -> Result<usize> {
    let row: usize = parts.clone().map(|(_, r)| r).sum();
    if whole != outer * row || parts.any(|(len, r)| len != outer * r) {
        return Err(Error::BadInput {
            op: op.into(),
            reason: "buffer sizes do not match the shapes".into(),
        });
    }
    Ok(row)
}

/// Joins `parts` row by row into `out`: row `o` of `out` is row `o` of every part, in order.
fn join_rows(op: &str, parts: &[(&[u8], usize)], out: &mut [u8], outer: usize) -> Result<()> {
    let sizes = parts.iter().map(|(b, r)| (b.len(), *r));
    let row = check_rows(op, out.len(), sizes, outer)?;
    if row == 0 {
        return Ok(());
    }
    for (o, out_row) in out.chunks_exact_mut(row).enumerate() {
        let mut at = 0;
        for &(bytes, r) in parts {
            // In bounds: the lengths were checked above.
            out_row[at..at + r].copy_from_slice(&bytes[o * r..(o + 1) * r]);
            at += r;
        }
    }
    Ok(())
}

/// The inverse of [`join_rows`]: cuts every row of `input` into consecutive pieces, one per
/// part (`(buffer, row length)`).
fn split_rows(
    op: &str,
    input: &[u8],
    parts: &mut [(&mut [u8], usize)],
    outer: usize,
) -> Result<()> {
    let sizes = parts.iter().map(|(b, r)| (b.len(), *r));
    let row = check_rows(op, input.len(), sizes, outer)?;
    if row == 0 {
        return Ok(());
    }
    for (o, in_row) in input.chunks_exact(row).enumerate() {
        let mut at = 0;
        for (bytes, r) in parts.iter_mut() {
            let r = *r;
            // In bounds: the lengths were checked above.
            bytes[o * r..(o + 1) * r].copy_from_slice(&in_row[at..at + r]);
            at += r;
        }
    }
    Ok(())
}

params! {
    /// Parameters of `Concat`.
    pub struct ConcatParam for "Concat" {
        /// The number of inputs (filled in by the frontends).
        num_args: usize,
        /// The axis to join along (negative counts from the end).
        dim: i64 = 1,
    }
}

fn check_count(op: &str, name: &str, n: usize) -> Result<()> {
    let max = crate::registry::attrs::MAX_COUNT;
    if n == 0 || n > max {
        return Err(Error::BadParam {
            op: op.into(),
            name: name.into(),
            value: n.to_string(),
            type_name: "int (non-negative)".into(),
            hint: format!("; must be between 1 and {max}"),
        });
    }
    Ok(())
}

/// `Concat`: joins its inputs `arg0, arg1, ...` along `dim`; every other dimension must agree.
#[derive(Debug, Clone)]
pub struct Concat(pub ConcatParam);

impl Concat {
    /// Validates `num_args >= 1`.
    pub fn new(param: ConcatParam) -> Result<Concat> {
        check_count("Concat", "num_args", param.num_args)?;
        Ok(Concat(param))
    }
}

/// Shape inference of a concatenation: inputs `first..first+n` joined along `dim` into output
/// `out`.
fn infer_concat(shapes: &mut ShapeCtx<'_>, dim: i64, inputs: Vec<usize>, out: usize) -> Result<()> {
    let mut rank: Option<usize> = shapes.output(out).ndim();
    for &i in &inputs {
        match (rank, shapes.input(i).ndim()) {
            (Some(q), Some(r)) if q != r => {
                let reason = format!("all inputs must have the same rank, got {q} and {r}");
                return Err(shapes.error(reason));
            }
            (None, r) => rank = r,
            _ => {}
        }
    }
    let Some(rank) = rank else {
        return Ok(());
    };
    let Some(axis) = normalize_axis(dim, rank) else {
        return Err(axis_error(shapes, "dim", dim, rank));
    };
    // The dimensions other than `axis`, from whichever shape knows them.
    let mut common: Vec<Option<usize>> = vec![None; rank];
    let known = inputs
        .iter()
        .map(|&i| shapes.input(i).clone())
        .chain(std::iter::once(shapes.output(out).clone()));
    for s in known {
        if let Some(d) = s.partial_dims() {
            for (c, &x) in common.iter_mut().zip(d) {
                if c.is_none() {
                    *c = x;
                }
            }
        }
    }
    let along: Vec<Option<usize>> = inputs.iter().map(|&i| shapes.input(i).dim(axis)).collect();
    let mut total_along = shapes.output(out).dim(axis);
    let sum: Option<usize> = along.iter().copied().sum();
    match (sum, total_along) {
        (Some(s), _) => total_along = Some(s),
        (None, Some(t)) if along.iter().filter(|d| d.is_none()).count() == 1 => {
            let rest: usize = along.iter().flatten().sum();
            let Some(missing) = t.checked_sub(rest) else {
                let reason =
                    format!("the inputs are larger along axis {axis} than the output ({t})");
                return Err(shapes.error(reason));
            };
            let k = along.iter().position(Option::is_none).unwrap_or(0);
            let mut dims = common.clone();
            dims[axis] = Some(missing);
            shapes.set_input(inputs[k], Shape::partial(dims))?;
        }
        _ => {}
    }
    for (&i, &a) in inputs.iter().zip(&along) {
        let mut dims = common.clone();
        dims[axis] = a;
        shapes.set_input(i, Shape::partial(dims))?;
    }
    let mut dims = common;
    dims[axis] = total_along;
    shapes.set_output(out, Shape::partial(dims))
}

/// The axis `dim` names in `shape`; an error naming `op` when it is out of range.
fn join_axis(op: &str, dim: i64, shape: &[usize]) -> Result<usize> {
    normalize_axis(dim, shape.len()).ok_or_else(|| Error::BadInput {
        op: op.into(),
        reason: format!("dim {dim} is out of range for {shape:?}"),
    })
}

impl Operator for Concat {
    fn name(&self) -> &'static str {
        "Concat"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        (0..self.0.num_args).map(|i| format!("arg{i}")).collect()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        infer_concat(shapes, self.0.dim, (0..self.0.num_args).collect(), 0)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let out = &mut outputs[0];
        let width = out.dtype.size();
        let axis = join_axis("Concat", self.0.dim, out.shape)?;
        let (outer, _) = rows(out.shape, axis, width);
        let parts: Vec<(&[u8], usize)> = inputs
            .iter()
            .map(|x| (x.bytes, rows(x.shape, axis.min(x.shape.len()), width).1))
            .collect();
        join_rows("Concat", &parts, out.bytes, outer)
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let mut inputs = vec![grad.ograds[0]];
        inputs.extend_from_slice(grad.inputs);
        let g = grad.backward_node(BackwardConcat(self.0.clone()), &inputs)?;
        Ok(GradCtx::all(g))
    }
}

impl GpuForward for Concat {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let out = &outputs[0];
        let axis = join_axis("Concat", self.0.dim, out.shape)?;
        let (outer, _) = rows(out.shape, axis, 1);
        let part_rows: Vec<usize> = inputs
            .iter()
            .map(|x| rows(x.shape, axis.min(x.shape.len()), 1).1)
            .collect();
        gpu::join(ctx, "Concat", inputs, &part_rows, out, outer)
    }
}

/// `_backward_Concat`: inputs `[ograd, arg0, ..]`; cuts the head gradient into one piece per
/// forward input, each of that input's shape.
#[derive(Debug, Clone)]
pub struct BackwardConcat(pub ConcatParam);

impl Operator for BackwardConcat {
    fn name(&self) -> &'static str {
        "_backward_Concat"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        let args = (0..self.0.num_args).map(|i| format!("arg{i}"));
        std::iter::once("ograd".to_string()).chain(args).collect()
    }
    fn num_outputs(&self) -> usize {
        self.0.num_args
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        for k in 0..self.0.num_args {
            let arg = shapes.input(k + 1).clone();
            shapes.set_output(k, arg)?;
            let out = shapes.output(k).clone();
            shapes.set_input(k + 1, out)?;
        }
        // The head gradient has the forward output's shape: the args joined.
        let mut joined = Shape::unknown();
        let rank = common_rank(shapes)?;
        if let Some(rank) = rank {
            let Some(axis) = normalize_axis(self.0.dim, rank) else {
                return Err(axis_error(shapes, "dim", self.0.dim, rank));
            };
            let args: Vec<Shape> = (1..=self.0.num_args)
                .map(|i| shapes.input(i).clone())
                .collect();
            if let Some(dims) = args.iter().map(Shape::dims).collect::<Option<Vec<_>>>()
                && let Some(first) = dims.first()
            {
                let mut d = first.clone();
                d[axis] = dims.iter().map(|x| x[axis]).sum();
                joined = Shape::known(&d);
            }
        }
        shapes.set_input(0, joined)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let g = &inputs[0];
        let width = g.dtype.size();
        let axis = join_axis("_backward_Concat", self.0.dim, g.shape)?;
        let (outer, _) = rows(g.shape, axis, width);
        let mut parts: Vec<(&mut [u8], usize)> = outputs
            .iter_mut()
            .map(|o| {
                let r = rows(o.shape, axis.min(o.shape.len()), width).1;
                (&mut *o.bytes, r)
            })
            .collect();
        split_rows("_backward_Concat", g.bytes, &mut parts, outer)
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        (1..=self.0.num_args).collect()
    }
}

impl GpuForward for BackwardConcat {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let g = &inputs[0];
        let op = "_backward_Concat";
        let axis = join_axis(op, self.0.dim, g.shape)?;
        let (outer, _) = rows(g.shape, axis, 1);
        let part_rows: Vec<usize> = outputs
            .iter()
            .map(|o| rows(o.shape, axis.min(o.shape.len()), 1).1)
            .collect();
        gpu::split(ctx, op, g, outputs, &part_rows, outer)
    }
}

params! {
    /// Parameters of `SliceChannel`.
    pub struct SliceChannelParam for "SliceChannel" {
        /// The number of equal pieces.
        num_outputs: usize,
        /// The axis to cut along (negative counts from the end).
        axis: i64 = 1,
        /// Drop the axis from the outputs (its size must then equal `num_outputs`).
        squeeze_axis: bool = false,
    }
}

/// `SliceChannel`: cuts the input into `num_outputs` equal pieces along `axis`.
#[derive(Debug, Clone)]
pub struct SliceChannel(pub SliceChannelParam);

impl SliceChannel {
    /// Validates `num_outputs >= 1`.
    pub fn new(param: SliceChannelParam) -> Result<SliceChannel> {
        check_count("SliceChannel", "num_outputs", param.num_outputs)?;
        Ok(SliceChannel(param))
    }
}

/// Shape inference of a split operator: the unsplit array is input 0 and the pieces are the
/// outputs when `whole_is_input` (`SliceChannel`), else the other way round (its backward).
fn infer_split_sides(
    shapes: &mut ShapeCtx<'_>,
    p: &SliceChannelParam,
    whole_is_input: bool,
) -> Result<()> {
    let n = p.num_outputs;
    let (whole, pieces) = if whole_is_input {
        let pieces = (0..n).map(|i| shapes.output(i).clone()).collect();
        (shapes.input(0).clone(), pieces)
    } else {
        let pieces = (0..n).map(|i| shapes.input(i).clone()).collect();
        (shapes.output(0).clone(), pieces)
    };
    let (whole, piece) = infer_split(shapes, p, whole, pieces)?;
    if whole_is_input {
        shapes.set_input(0, whole)?;
        (0..n).try_for_each(|i| shapes.set_output(i, piece.clone()))
    } else {
        shapes.set_output(0, whole)?;
        (0..n).try_for_each(|i| shapes.set_input(i, piece.clone()))
    }
}

/// Shape inference between an unsplit array (`whole`, an input or an output) and its equal
/// pieces.
fn infer_split(
    shapes: &mut ShapeCtx<'_>,
    p: &SliceChannelParam,
    whole: Shape,
    pieces: Vec<Shape>,
) -> Result<(Shape, Shape)> {
    let n = p.num_outputs;
    let squeeze = usize::from(p.squeeze_axis);
    let mut piece = Shape::unknown();
    for s in &pieces {
        piece
            .merge(s)
            .map_err(|r| shapes.error(format!("the pieces must have one shape: {r}")))?;
    }
    let rank = match (whole.ndim(), piece.ndim()) {
        (Some(r), Some(q)) if r != q + squeeze => {
            let reason = format!("the input is {r}-D but the pieces are {q}-D");
            return Err(shapes.error(reason));
        }
        (Some(r), _) => r,
        (None, Some(q)) => q + squeeze,
        (None, None) => return Ok((whole, piece)),
    };
    let Some(axis) = normalize_axis(p.axis, rank) else {
        return Err(axis_error(shapes, "axis", p.axis, rank));
    };
    let mut whole_dims = whole.partial_dims().map_or(vec![None; rank], <[_]>::to_vec);
    if let Some(d) = whole_dims[axis] {
        if p.squeeze_axis && d != n {
            let reason = format!(
                "with squeeze_axis the size of axis {axis} ({d}) must equal num_outputs ({n})"
            );
            return Err(shapes.error(reason));
        }
        if d % n != 0 {
            let reason = format!("axis {axis} of size {d} cannot be split into {n} equal pieces");
            return Err(shapes.error(reason));
        }
    }
    let mut piece_dims = whole_dims.clone();
    if p.squeeze_axis {
        piece_dims.remove(axis);
    } else {
        piece_dims[axis] = piece_dims[axis].map(|d| d / n);
    }
    piece
        .merge(&Shape::partial(piece_dims))
        .map_err(|r| shapes.error(r))?;
    // Back from the pieces.
    if let Some(pd) = piece.partial_dims() {
        let mut from_piece = pd.to_vec();
        if p.squeeze_axis {
            from_piece.insert(axis, Some(n));
        } else {
            from_piece[axis] = from_piece[axis].map(|d| d * n);
        }
        for (w, f) in whole_dims.iter_mut().zip(from_piece) {
            if w.is_none() {
                *w = f;
            }
        }
    }
    Ok((Shape::partial(whole_dims), piece))
}

impl Operator for SliceChannel {
    fn name(&self) -> &'static str {
        "SliceChannel"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn num_outputs(&self) -> usize {
        self.0.num_outputs
    }
    fn output_names(&self) -> Vec<String> {
        (0..self.0.num_outputs)
            .map(|i| format!("output{i}"))
            .collect()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        infer_split_sides(shapes, &self.0, true)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let x = &inputs[0];
        let (outer, piece_row) = split_geometry("SliceChannel", &self.0, x.shape, x.dtype.size())?;
        let mut parts: Vec<(&mut [u8], usize)> = outputs
            .iter_mut()
            .map(|o| (&mut *o.bytes, piece_row))
            .collect();
        split_rows("SliceChannel", x.bytes, &mut parts, outer)
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let g = grad.backward_node(BackwardSliceChannel(self.0.clone()), grad.ograds)?;
        Ok(vec![Some(g[0])])
    }
}

impl GpuForward for SliceChannel {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let x = &inputs[0];
        let (outer, piece_row) = split_geometry("SliceChannel", &self.0, x.shape, 1)?;
        let part_rows = vec![piece_row; outputs.len()];
        gpu::split(ctx, "SliceChannel", x, outputs, &part_rows, outer)
    }
}

/// The number of rows and the byte length of one piece's row when `whole` is cut into
/// `num_outputs` pieces along `axis`.
fn split_geometry(
    op: &str,
    p: &SliceChannelParam,
    whole: &[usize],
    width: usize,
) -> Result<(usize, usize)> {
    let axis = normalize_axis(p.axis, whole.len()).ok_or_else(|| Error::BadInput {
        op: op.into(),
        reason: format!("axis {} is out of range for {whole:?}", p.axis),
    })?;
    let (outer, row) = rows(whole, axis, width);
    Ok((outer, row / p.num_outputs))
}

/// `_backward_SliceChannel`: inputs `[ograd0, ..]`; joins the head gradients of the pieces
/// along the axis into the gradient of the input.
#[derive(Debug, Clone)]
pub struct BackwardSliceChannel(pub SliceChannelParam);

impl Operator for BackwardSliceChannel {
    fn name(&self) -> &'static str {
        "_backward_SliceChannel"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        (0..self.0.num_outputs)
            .map(|i| format!("ograd{i}"))
            .collect()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        infer_split_sides(shapes, &self.0, false)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let out = &mut outputs[0];
        let (outer, piece_row) = split_geometry(
            "_backward_SliceChannel",
            &self.0,
            out.shape,
            out.dtype.size(),
        )?;
        let parts: Vec<(&[u8], usize)> = inputs.iter().map(|g| (g.bytes, piece_row)).collect();
        join_rows("_backward_SliceChannel", &parts, out.bytes, outer)
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for BackwardSliceChannel {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let out = &outputs[0];
        let op = "_backward_SliceChannel";
        let (outer, piece_row) = split_geometry(op, &self.0, out.shape, 1)?;
        let part_rows = vec![piece_row; inputs.len()];
        gpu::join(ctx, op, inputs, &part_rows, out, outer)
    }
}

fn create_concat(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Concat::new(ConcatParam::parse(
        attrs.iter().copied(),
    )?)?))
}

fn create_backward_concat(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let p = ConcatParam::parse(attrs.iter().copied())?;
    check_count("_backward_Concat", "num_args", p.num_args)?;
    Ok(Arc::new(BackwardConcat(p)))
}

fn create_slice_channel(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(SliceChannel::new(SliceChannelParam::parse(
        attrs.iter().copied(),
    )?)?))
}

fn create_backward_slice_channel(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let p = SliceChannelParam::parse(attrs.iter().copied())?;
    check_count("_backward_SliceChannel", "num_outputs", p.num_outputs)?;
    Ok(Arc::new(BackwardSliceChannel(p)))
}

inventory::submit! {
    OpDef::new("Concat", "Joins the inputs along `dim`; all other dimensions must agree.",
        ConcatParam::specs, create_concat).aliases(&["concat"]).var_num_args("num_args")
}
inventory::submit! {
    OpDef::new("_backward_Concat", "Gradient of Concat: the head gradient cut into one piece per input (inputs: ograd, arg0, ..).",
        ConcatParam::specs, create_backward_concat)
}
inventory::submit! {
    OpDef::new("SliceChannel", "Cuts the input into `num_outputs` equal pieces along `axis`.",
        SliceChannelParam::specs, create_slice_channel).aliases(&["split"])
}
inventory::submit! {
    OpDef::new("_backward_SliceChannel", "Gradient of SliceChannel: the pieces' head gradients joined (inputs: ograd0, ..).",
        SliceChannelParam::specs, create_backward_slice_channel)
}

mod gpu;
mod slice;
mod slice_axis;

pub use slice::{BackwardSlice, Slice, SliceParam};
pub use slice_axis::{BackwardSliceAxis, SliceAxis, SliceAxisParam};
#[cfg(test)]
mod tests;
