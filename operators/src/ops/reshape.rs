//! `Reshape`, `Flatten`, `expand_dims`, `squeeze` (and `reshape_like`, in `reshape_like.rs`):
//! new shapes for the same row-major elements; and their gradient `_backward_reshape` (alias `_backward_squeeze`), which gives the head
//! gradient the forward input's shape.
//!
//! All four are in-place identities (the output may share the input's memory): one operator,
//! [`ReshapeLike`], with a [`ReshapeRule`] each for its name, parameters and shapes. Their
//! backward op takes `[ograd, data]` — MXNet's `_backward_reshape` takes only the head gradient and copies
//! its output shape from the forward node, which our graph builder cannot do, so the forward
//! input is passed along for its shape; its bytes are never read (`ignore_inputs`). MXNet gives
//! `Flatten` a `_backward_copy`; the reshape-back is the same computation.

use std::sync::Arc;

use super::common::tie_dtype;
use super::{no_params, parse_no_params};
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx, TensorMut,
    TensorRef, TypeCtx,
};
use crate::{Error, Result, params};

params! {
    /// Parameters of `Reshape`.
    pub struct ReshapeParam for "Reshape" {
        /// The target shape. Besides sizes it may hold special values, processed left to right
        /// while walking the input's dimensions: 0 copies the current input dimension, -1 is
        /// inferred from the remaining size (at most one), -2 copies all remaining input
        /// dimensions, -3 multiplies the next two input dimensions, -4 splits the current input
        /// dimension into the next two values (one of which may be -1).
        shape: Vec<i64> = vec![],
        /// Process the special values right to left.
        reverse: bool = false,
        /// (Deprecated: use `shape`.) The target shape; one 0 is inferred from the rest.
        target_shape: Vec<usize> = vec![],
        /// (Deprecated: use `shape`.) Keep the input's first dimension (the first value of
        /// `target_shape` is ignored).
        keep_highest: bool = false,
    }
}

/// One entry of a `Reshape` shape, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    /// A size (consumes one input dimension).
    Dim(usize),
    /// `0`: copy the current input dimension.
    Copy,
    /// `-1`: inferred (consumes one input dimension).
    Infer,
    /// `-2`: copy every remaining input dimension.
    CopyRest,
    /// `-3`: the product of the next two input dimensions.
    Merge,
    /// `-4 a b`: split the current input dimension into `a × b` (`None` = inferred).
    Split(Option<usize>, Option<usize>),
}

/// Decodes `shape` in processing order (reversed when `reverse`).
fn decode(shape: &[i64], reverse: bool) -> std::result::Result<Vec<Code>, String> {
    let mut values = shape.to_vec();
    if reverse {
        values.reverse();
    }
    let mut codes = Vec::new();
    let mut inferred = false;
    let mut i = 0;
    while i < values.len() {
        let code = match values[i] {
            0 => Code::Copy,
            -1 if inferred => return Err("at most one dimension can be -1 (inferred)".into()),
            -1 => {
                inferred = true;
                Code::Infer
            }
            -2 => Code::CopyRest,
            -3 => Code::Merge,
            -4 => {
                let (Some(&a), Some(&b)) = (values.get(i + 1), values.get(i + 2)) else {
                    return Err("-4 must be followed by the two sizes to split into".into());
                };
                i += 2;
                let size = |v: i64| match v {
                    -1 => Ok(None),
                    v if v > 0 => Ok(Some(v as usize)),
                    v => Err(format!(
                        "the sizes after -4 must be positive or -1, got {v}"
                    )),
                };
                match (size(a)?, size(b)?) {
                    (None, None) => return Err("the sizes after -4 cannot both be -1".into()),
                    (a, b) => Code::Split(a, b),
                }
            }
            v if v > 0 => Code::Dim(v as usize),
            v => {
                return Err(format!(
                    "{v} is not a size or one of the special values 0, -1, -2, -3, -4"
                ));
            }
        };
        codes.push(code);
        i += 1;
    }
    Ok(codes)
}

/// Applies decoded codes to the input dimensions (both in processing order).
fn apply(
    codes: &[Code],
    input: &[Option<usize>],
) -> std::result::Result<Vec<Option<usize>>, String> {
    let mut out: Vec<Option<usize>> = Vec::new();
    let mut src = 0;
    let mut infer_at = None;
    let next = |src: usize, what: &str| {
        input.get(src).copied().ok_or_else(|| {
            format!(
                "{what} needs input dimension {src}, but the input has only {}",
                input.len()
            )
        })
    };
    for &code in codes {
        match code {
            Code::Dim(d) => {
                out.push(Some(d));
                src += 1;
            }
            Code::Copy => {
                out.push(next(src, "0 (copy)")?);
                src += 1;
            }
            Code::Infer => {
                infer_at = Some(out.len());
                out.push(Some(1));
                src += 1;
            }
            Code::CopyRest => {
                out.extend(input.iter().skip(src));
                src = src.max(input.len());
            }
            Code::Merge => {
                let a = next(src, "-3 (merge)")?;
                let b = next(src + 1, "-3 (merge)")?;
                out.push(a.zip(b).map(|(a, b)| a * b));
                src += 2;
            }
            Code::Split(a, b) => {
                let d = next(src, "-4 (split)")?;
                src += 1;
                let (a, b) = match (a, b, d) {
                    (Some(a), None, Some(d)) => (Some(a), Some(d / a)),
                    (None, Some(b), Some(d)) => (Some(d / b), Some(b)),
                    other => (other.0, other.1),
                };
                if let (Some(a), Some(b), Some(d)) = (a, b, d)
                    && a * b != d
                {
                    return Err(format!(
                        "-4 cannot split input dimension {d} into {a} × {b}"
                    ));
                }
                out.push(a);
                out.push(b);
            }
        }
    }
    if let Some(k) = infer_at {
        out[k] = match total(input) {
            Some(size) => Some(fill_dim(size, &out, k)?),
            None => None,
        };
    }
    Ok(out)
}

/// The number of elements, if every dimension is known.
fn total(dims: &[Option<usize>]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, d| d.map(|d| acc * d))
}

/// The size dimension `k` of `dims` needs for `size` elements in all (the others known).
fn fill_dim(size: usize, dims: &[Option<usize>], k: usize) -> std::result::Result<usize, String> {
    let rest: usize = dims
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != k)
        .map(|(_, d)| d.unwrap_or(1))
        .product();
    if rest == 0 || !size.is_multiple_of(rest) {
        return Err(format!(
            "cannot infer a dimension: {size} elements do not divide into parts of {rest}"
        ));
    }
    Ok(size / rest)
}

/// Where one side of a reshape-like op is fully known and the other has exactly one unknown
/// dimension, infers it; where both are known, checks that the sizes agree.
pub(crate) fn reshape_sizes(shapes: &mut ShapeCtx<'_>, input: usize, output: usize) -> Result<()> {
    let (i, o) = (shapes.input(input).clone(), shapes.output(output).clone());
    let one_unknown = |s: &Shape| {
        s.partial_dims()
            .filter(|d| d.iter().filter(|x| x.is_none()).count() == 1)
            .map(<[Option<usize>]>::to_vec)
    };
    if let (Some(size), Some(dims)) = (o.size(), one_unknown(&i)) {
        let k = dims.iter().position(Option::is_none).unwrap_or(0);
        let mut dims = dims;
        dims[k] = Some(fill_dim(size, &dims, k).map_err(|r| shapes.error(r))?);
        shapes.set_input(input, Shape::partial(dims))?;
    }
    if let (Some(size), Some(dims)) = (i.size(), one_unknown(&o)) {
        let k = dims.iter().position(Option::is_none).unwrap_or(0);
        let mut dims = dims;
        dims[k] = Some(fill_dim(size, &dims, k).map_err(|r| shapes.error(r))?);
        shapes.set_output(output, Shape::partial(dims))?;
    }
    let (i, o) = (shapes.input(input), shapes.output(output));
    if let (Some(a), Some(b)) = (i.size(), o.size())
        && a != b
    {
        let reason = format!("the output shape {o} has {b} elements but the input has {a}");
        return Err(shapes.error(reason));
    }
    Ok(())
}

/// Copies the input's bytes to the output (the kernel of every reshape-like op).
fn copy_bytes(op: &str, input: &TensorRef<'_>, output: &mut TensorMut<'_>) -> Result<()> {
    if input.bytes.len() != output.bytes.len() {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "input {:?} and output {:?} differ in size",
                input.shape, output.shape
            ),
        });
    }
    output.bytes.copy_from_slice(input.bytes);
    Ok(())
}

/// What tells one reshape-like operator (`Reshape`, `Flatten`, `expand_dims`) from another: its
/// name, parameters and shape inference. What they share (the kernel, a copy of the bytes or
/// nothing in place; the GPU kernel; the gradient; the in-place hints) is [`ReshapeLike`]'s.
pub trait ReshapeRule: std::fmt::Debug + Send + Sync + 'static {
    /// The canonical MXNet name.
    fn name(&self) -> &'static str;
    /// The parameters in MXNet's string form.
    fn attrs(&self) -> Vec<(String, String)>;
    /// Fills in the output's shape from the input's and back ([`Operator::infer_shape`]).
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()>;
    /// The inputs: the reshaped one first, then any that only lend their shape
    /// (`reshape_like`'s `rhs`).
    fn input_names(&self) -> Vec<String> {
        vec!["data".into()]
    }
}

/// A reshape-like operator: the output holds the input's elements in a new shape given by the
/// rule `R`, and may share the input's memory.
#[derive(Debug, Clone)]
pub struct ReshapeLike<R>(pub R);

impl<R: ReshapeRule> Operator for ReshapeLike<R> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.attrs()
    }
    fn input_names(&self) -> Vec<String> {
        self.0.input_names()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        self.0.infer_shape(shapes)
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        tie_dtype(types, 0) // inputs after the first may have any dtype
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        copy_bytes(self.name(), &inputs[0], &mut outputs[0])
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        reshape_back(grad)
    }
    fn inplace_option(&self) -> Vec<(usize, usize)> {
        vec![(0, 0)]
    }
    fn inplace_identity(&self) -> bool {
        true
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        (1..self.num_inputs()).collect()
    }
}

impl<R: ReshapeRule> GpuForward for ReshapeLike<R> {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::copy(ctx, self.name(), &inputs[0], &outputs[0])
    }
}

/// How a [`Reshape`] computes its output shape.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// From `shape` (codes in processing order).
    Codes(Vec<Code>),
    /// From the deprecated `target_shape` (0 = inferred), keeping the first input dimension if
    /// `keep_highest`.
    Legacy(Vec<usize>, bool),
    /// Neither given: the output shape must come from elsewhere.
    None,
}

/// `Reshape`: the same elements in a new shape (see [`ReshapeParam`] for the special values).
#[derive(Debug, Clone)]
pub struct Reshape {
    param: ReshapeParam,
    target: Target,
}

impl Reshape {
    /// Parses and validates the parameters.
    pub fn new(param: ReshapeParam) -> Result<Reshape> {
        let bad = |name: &str, value: String, hint: String| Error::BadParam {
            op: "Reshape".into(),
            name: name.into(),
            value,
            type_name: "Shape(tuple)".into(),
            hint: format!("; {hint}"),
        };
        let target = if !param.shape.is_empty() {
            let codes = decode(&param.shape, param.reverse)
                .map_err(|hint| bad("shape", format_tuple(&param.shape), hint))?;
            Target::Codes(codes)
        } else if !param.target_shape.is_empty() {
            let start = usize::from(param.keep_highest);
            let zeros = param
                .target_shape
                .iter()
                .skip(start)
                .filter(|&&d| d == 0)
                .count();
            if zeros > 1 {
                return Err(bad(
                    "target_shape",
                    format_tuple(&param.target_shape),
                    "at most one dimension can be 0 (inferred)".into(),
                ));
            }
            Target::Legacy(param.target_shape.clone(), param.keep_highest)
        } else {
            Target::None
        };
        Ok(Reshape { param, target })
    }

    /// The output shape for input dimensions `input`, or `None` when no target is given.
    fn output_dims(
        &self,
        input: &[Option<usize>],
    ) -> std::result::Result<Option<Vec<Option<usize>>>, String> {
        match &self.target {
            Target::None => Ok(None),
            Target::Codes(codes) => {
                if self.param.reverse {
                    let reversed: Vec<Option<usize>> = input.iter().rev().copied().collect();
                    let mut out = apply(codes, &reversed)?;
                    out.reverse();
                    Ok(Some(out))
                } else {
                    apply(codes, input).map(Some)
                }
            }
            Target::Legacy(target, keep_highest) => {
                let mut out: Vec<Option<usize>> = target.iter().map(|&d| Some(d)).collect();
                if *keep_highest {
                    out[0] = input.first().copied().flatten();
                }
                let start = usize::from(*keep_highest);
                if let Some(k) = (start..out.len()).find(|&k| out[k] == Some(0)) {
                    out[k] = match total(input) {
                        Some(size) => Some(fill_dim(size, &out, k)?),
                        None => None,
                    };
                }
                Ok(Some(out))
            }
        }
    }
}

fn format_tuple(v: &[impl ToString]) -> String {
    let parts: Vec<String> = v.iter().map(ToString::to_string).collect();
    format!("({})", parts.join(", "))
}

impl ReshapeRule for Reshape {
    fn name(&self) -> &'static str {
        "Reshape"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        if let Some(input) = shapes
            .input(0)
            .partial_dims()
            .map(<[Option<usize>]>::to_vec)
        {
            let out = self.output_dims(&input).map_err(|r| shapes.error(r))?;
            if let Some(out) = out {
                shapes.set_output(0, Shape::partial(out))?;
            }
        }
        reshape_sizes(shapes, 0, 0)
    }
}

/// The gradient of a reshape-like op: `_backward_reshape` on `[ograd, data]`; inputs that
/// only lend their shape get none (MXNet: zeros).
fn reshape_back(grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
    let g = grad.backward_node(BackwardReshape, &[grad.ograds[0], grad.inputs[0]])?;
    let mut grads = vec![None; grad.inputs.len()];
    grads[0] = Some(g[0]); // a reshape-like op has its data input first
    Ok(grads)
}

/// `Flatten`: `(N, d1, d2, ...)` → `(N, d1·d2·...)`; a 1-D `(N,)` becomes `(N, 1)`.
#[derive(Debug, Clone, Copy)]
pub struct Flatten;

impl ReshapeRule for Flatten {
    fn name(&self) -> &'static str {
        "Flatten"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        if let Some(dims) = shapes
            .input(0)
            .partial_dims()
            .map(<[Option<usize>]>::to_vec)
        {
            let Some((&first, rest)) = dims.split_first() else {
                return Err(shapes.error("cannot flatten a 0-D array"));
            };
            shapes.set_output(0, Shape::partial(vec![first, total(rest)]))?;
        }
        if let Some(out) = shapes
            .output(0)
            .partial_dims()
            .map(<[Option<usize>]>::to_vec)
        {
            if out.len() != 2 {
                let reason = format!("the output must be 2-D, got {}", shapes.output(0));
                return Err(shapes.error(reason));
            }
            if let Some(rank) = shapes.input(0).ndim() {
                let mut dims = vec![None; rank];
                dims[0] = out[0];
                shapes.set_input(0, Shape::partial(dims))?;
            }
        }
        reshape_sizes(shapes, 0, 0)
    }
}

params! {
    /// Parameters of `expand_dims`.
    pub struct ExpandDimsParam for "expand_dims" {
        /// Where the new axis of size 1 goes, in `[-ndim-1, ndim]` (negative counts from the
        /// end of the output).
        axis: i64,
    }
}

/// `expand_dims`: inserts an axis of size 1.
#[derive(Debug, Clone)]
pub struct ExpandDims(pub ExpandDimsParam);

impl ReshapeRule for ExpandDims {
    fn name(&self) -> &'static str {
        "expand_dims"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let rank = match (shapes.input(0).ndim(), shapes.output(0).ndim()) {
            (Some(r), _) => r,
            (None, Some(r)) if r >= 1 => r - 1,
            (None, Some(_)) => return Err(shapes.error("the output cannot be 0-D")),
            (None, None) => return Ok(()),
        };
        let axis = self.0.axis;
        let r = rank as i64;
        if axis < -r - 1 || axis > r {
            let reason = format!(
                "axis {axis} is out of range for a {rank}-D input: allowed [{}, {r}]",
                -r - 1
            );
            return Err(shapes.error(reason));
        }
        let at = if axis < 0 { axis + r + 1 } else { axis } as usize;
        if let Some(dims) = shapes.input(0).partial_dims() {
            let mut out = dims.to_vec();
            out.insert(at, Some(1));
            shapes.set_output(0, Shape::partial(out))?;
        }
        let mut out = shapes
            .output(0)
            .partial_dims()
            .map(<[Option<usize>]>::to_vec);
        if let Some(dims) = out.as_mut() {
            dims.remove(at);
            shapes.set_input(0, Shape::partial(dims.clone()))?;
        }
        Ok(())
    }
}

params! {
    /// Parameters of `squeeze`.
    pub struct SqueezeParam for "squeeze" {
        /// The axes of size 1 to remove (negative counts from the end); None removes every
        /// axis of size 1. Selecting an axis whose size is not 1 is an error.
        axis: Option<Vec<i64>> = None,
    }
}

/// `squeeze`: removes axes of size 1, keeping at least one axis (`(1, 1)` becomes `(1,)`).
#[derive(Debug, Clone)]
pub struct Squeeze(pub SqueezeParam);

impl Squeeze {
    /// Which axes of an input of `rank` axes the parameter selects (sorted, unique), or `None`
    /// when it selects every axis of size 1.
    fn selected(&self, rank: usize) -> std::result::Result<Option<Vec<usize>>, String> {
        let Some(axes) = &self.0.axis else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(axes.len());
        for &a in axes {
            let at = super::common::normalize_axis(a, rank).ok_or_else(|| {
                format!("axis {a} is out of range for a {rank}-D input (allowed [-{rank}, {rank}))")
            })?;
            if out.contains(&at) {
                return Err(format!("axis {a} appears twice in {axes:?}"));
            }
            out.push(at);
        }
        out.sort_unstable();
        Ok(Some(out))
    }
}

impl ReshapeRule for Squeeze {
    fn name(&self) -> &'static str {
        "squeeze"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let Some(dims) = shapes
            .input(0)
            .partial_dims()
            .map(<[Option<usize>]>::to_vec)
        else {
            return Ok(());
        };
        let selected = self.selected(dims.len()).map_err(|r| shapes.error(r))?;
        let mut out = Vec::with_capacity(dims.len());
        for (k, &d) in dims.iter().enumerate() {
            let remove = match &selected {
                Some(axes) if axes.contains(&k) => match d {
                    Some(1) | None => true,
                    Some(n) => {
                        let reason = format!(
                            "axis {k} of the input {} has size {n}, not 1, so it cannot be squeezed",
                            shapes.input(0)
                        );
                        return Err(shapes.error(reason));
                    }
                },
                Some(_) => false,
                None if d.is_none() => return Ok(()), // unknown whether it is removed
                None => d == Some(1),
            };
            if !remove {
                out.push(d);
            }
        }
        if out.is_empty() {
            out.push(Some(1));
        }
        shapes.set_output(0, Shape::partial(out))?;
        reshape_sizes(shapes, 0, 0)
    }
}

/// `_backward_reshape`: inputs `[ograd, data]`; the head gradient with the forward input's
/// shape. `data` only lends its shape (its bytes are not read).
#[derive(Debug, Clone, Copy)]
pub struct BackwardReshape;

impl Operator for BackwardReshape {
    fn name(&self) -> &'static str {
        "_backward_reshape"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["ograd".into(), "data".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        shapes.tie(1, 0)?;
        reshape_sizes(shapes, 0, 0)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        copy_bytes("_backward_reshape", &inputs[0], &mut outputs[0])
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn inplace_option(&self) -> Vec<(usize, usize)> {
        vec![(0, 0)]
    }
    fn inplace_identity(&self) -> bool {
        true
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        vec![1]
    }
}

impl GpuForward for BackwardReshape {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::copy(ctx, "_backward_reshape", &inputs[0], &outputs[0])
    }
}

fn create_reshape(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let param = ReshapeParam::parse(attrs.iter().copied())?;
    Ok(Arc::new(ReshapeLike(Reshape::new(param)?)))
}

fn create_flatten(attrs: &[(&str, &str)]) -> Result<OpRef> {
    parse_no_params("Flatten", attrs)?;
    Ok(Arc::new(ReshapeLike(Flatten)))
}

fn create_expand_dims(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let param = ExpandDimsParam::parse(attrs.iter().copied())?;
    Ok(Arc::new(ReshapeLike(ExpandDims(param))))
}

fn create_squeeze(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let param = SqueezeParam::parse(attrs.iter().copied())?;
    Ok(Arc::new(ReshapeLike(Squeeze(param))))
}

fn create_backward_reshape(attrs: &[(&str, &str)]) -> Result<OpRef> {
    parse_no_params("_backward_reshape", attrs)?;
    Ok(Arc::new(BackwardReshape))
}

inventory::submit! {
    OpDef::new("Reshape", "Gives the input a new shape with the same elements (special values 0, -1, -2, -3, -4).",
        ReshapeParam::specs, create_reshape).aliases(&["reshape"])
}
inventory::submit! {
    OpDef::new("Flatten", "Flattens every axis but the first: (N, ...) -> (N, product of the rest).",
        no_params, create_flatten).aliases(&["flatten"])
}
inventory::submit! {
    OpDef::new("expand_dims", "Inserts an axis of size 1 at `axis`.",
        ExpandDimsParam::specs, create_expand_dims)
}
inventory::submit! {
    OpDef::new("squeeze", "Removes axes of size 1 (all of them, or those in `axis`), keeping at least one axis.",
        SqueezeParam::specs, create_squeeze)
}
inventory::submit! {
    OpDef::new("_backward_reshape", "Gradient of Reshape, Flatten, expand_dims and squeeze: the head gradient in the input's shape (inputs: ograd, data).",
        no_params, create_backward_reshape).aliases(&["_backward_squeeze"])
}

mod gpu;
mod reshape_like;
#[cfg(test)]
mod tests;

pub use reshape_like::{ReshapeAs, ReshapeLikeParam};
