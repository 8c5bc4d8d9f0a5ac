//! Shapes with unknown parts, and the context shape inference runs in.

use std::fmt;

use mxr_kernels::DType;

use crate::{Error, Result};

/// The most elements an array may have: MXNet's 64-bit index type (`index_t`) counts up to
/// `i64::MAX`. Shape inference rejects a shape with more elements, or whose element count
/// overflows, wherever it meets one ([`ShapeCtx::check_sizes`], [`ShapeCtx::set_input`],
/// [`ShapeCtx::set_output`]), so no operator multiplies absurd dimensions.
pub const MAX_ELEMENTS: u64 = i64::MAX as u64;

/// A shape during inference: the rank may be unknown, and so may each dimension.
///
/// MXNet's legacy API writes an unknown shape as `()` and an unknown dimension as `0`;
/// [`Shape::from_legacy`] and [`Shape::to_legacy`] convert at that boundary.
///
/// ```
/// use mxr_operators::registry::Shape;
/// let s = Shape::from_legacy(&[0, 3]);
/// assert_eq!(s.ndim(), Some(2));
/// assert_eq!(s.dim(0), None);
/// assert_eq!(s.to_string(), "(?, 3)");
/// assert!(!s.is_known());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Shape(Option<Vec<Option<usize>>>);

impl Shape {
    /// Nothing known, not even the rank.
    pub fn unknown() -> Shape {
        Shape(None)
    }

    /// A fully known shape.
    pub fn known(dims: &[usize]) -> Shape {
        Shape(Some(dims.iter().map(|&d| Some(d)).collect()))
    }

    /// A shape of known rank with every dimension unknown.
    pub fn of_rank(ndim: usize) -> Shape {
        Shape(Some(vec![None; ndim]))
    }

    /// A shape from per-dimension knowledge.
    pub fn partial(dims: Vec<Option<usize>>) -> Shape {
        Shape(Some(dims))
    }

    /// MXNet's legacy form: `[]` is unknown, a `0` dimension is unknown.
    pub fn from_legacy(dims: &[usize]) -> Shape {
        if dims.is_empty() {
            return Shape::unknown();
        }
        Shape(Some(dims.iter().map(|&d| (d != 0).then_some(d)).collect()))
    }

    /// Back to MXNet's legacy form (unknown → `[]`, unknown dimension → `0`).
    pub fn to_legacy(&self) -> Vec<usize> {
        match &self.0 {
            None => vec![],
            Some(dims) => dims.iter().map(|d| d.unwrap_or(0)).collect(),
        }
    }

    /// The rank, if known.
    pub fn ndim(&self) -> Option<usize> {
        self.0.as_ref().map(Vec::len)
    }

    /// Dimension `i`, if the rank and that dimension are known (`None` past the rank).
    pub fn dim(&self, i: usize) -> Option<usize> {
        self.0.as_ref().and_then(|d| d.get(i).copied().flatten())
    }

    /// Per-dimension knowledge, if the rank is known.
    pub fn partial_dims(&self) -> Option<&[Option<usize>]> {
        self.0.as_deref()
    }

    /// The dimensions, if every one is known.
    pub fn dims(&self) -> Option<Vec<usize>> {
        self.0.as_ref()?.iter().copied().collect()
    }

    /// Whether the rank and every dimension are known.
    pub fn is_known(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|d| d.iter().all(Option::is_some))
    }

    /// The number of elements, if known (`None` also when it overflows `usize`).
    pub fn size(&self) -> Option<usize> {
        self.dims()?
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// Checks that the known dimensions multiply to at most [`MAX_ELEMENTS`] (unknown
    /// dimensions count as 1, a known 0 makes the array empty); the error says why not.
    ///
    /// ```
    /// use mxr_operators::registry::Shape;
    /// assert!(Shape::known(&[1 << 31, 1 << 31]).check_size().is_ok());
    /// let e = Shape::partial(vec![Some(1 << 40), None, Some(1 << 40)]).check_size();
    /// assert!(e.unwrap_err().contains("more than 9223372036854775807 elements"));
    /// ```
    pub fn check_size(&self) -> Result<(), String> {
        let Some(dims) = &self.0 else {
            return Ok(());
        };
        let known = || dims.iter().flatten();
        if known().any(|&d| d == 0) {
            return Ok(());
        }
        let mut n: u64 = 1;
        for &d in known() {
            match u64::try_from(d).ok().and_then(|d| n.checked_mul(d)) {
                Some(m) if m <= MAX_ELEMENTS => n = m,
                _ => {
                    return Err(format!(
                        "shape {self} has more than {MAX_ELEMENTS} elements"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Merges what `other` knows into `self`. Returns an error describing the conflict when the
    /// two disagree on the rank or a known dimension.
    pub fn merge(&mut self, other: &Shape) -> Result<(), String> {
        let Some(theirs) = &other.0 else {
            return Ok(());
        };
        match &mut self.0 {
            None => {
                self.0 = Some(theirs.clone());
                Ok(())
            }
            Some(ours) if ours.len() != theirs.len() => {
                Err(format!("shape {self} conflicts with {other}"))
            }
            Some(ours) => {
                for (a, b) in ours.iter().zip(theirs) {
                    if let (Some(a), Some(b)) = (a, b)
                        && a != b
                    {
                        return Err(format!("shape {self} conflicts with {other}"));
                    }
                }
                for (a, b) in ours.iter_mut().zip(theirs) {
                    if a.is_none() {
                        *a = *b;
                    }
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Shape {
    /// `(2, 3)`, `(?, 3)`, `(5,)`, or `?` when the rank is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(dims) = &self.0 else {
            return f.write_str("?");
        };
        let parts: Vec<String> = dims
            .iter()
            .map(|d| d.map_or("?".to_string(), |d| d.to_string()))
            .collect();
        if parts.len() == 1 {
            write!(f, "({},)", parts[0])
        } else {
            write!(f, "({})", parts.join(", "))
        }
    }
}

impl From<&[usize]> for Shape {
    fn from(dims: &[usize]) -> Shape {
        Shape::known(dims)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(dims: Vec<usize>) -> Shape {
        Shape::known(&dims)
    }
}

/// What an operator's shape inference sees: the shapes of its inputs and outputs as known so
/// far, which it fills in (in both directions) with [`ShapeCtx::set_input`] and
/// [`ShapeCtx::set_output`]. A conflict is an error naming the operator and every input's shape.
#[derive(Debug)]
pub struct ShapeCtx<'a> {
    op: &'a str,
    input_names: &'a [String],
    inputs: &'a mut [Shape],
    outputs: &'a mut [Shape],
}

impl<'a> ShapeCtx<'a> {
    /// Wraps the slots of one node: `inputs` parallel to `input_names`.
    pub fn new(
        op: &'a str,
        input_names: &'a [String],
        inputs: &'a mut [Shape],
        outputs: &'a mut [Shape],
    ) -> ShapeCtx<'a> {
        ShapeCtx {
            op,
            input_names,
            inputs,
            outputs,
        }
    }

    /// Input `i` as known.
    pub fn input(&self, i: usize) -> &Shape {
        &self.inputs[i]
    }

    /// Output `i` as known.
    pub fn output(&self, i: usize) -> &Shape {
        &self.outputs[i]
    }

    /// The number of inputs.
    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// The number of outputs.
    pub fn num_outputs(&self) -> usize {
        self.outputs.len()
    }

    /// Input `i`'s dimensions, if all known.
    pub fn input_dims(&self, i: usize) -> Option<Vec<usize>> {
        self.inputs[i].dims()
    }

    /// Merges `shape` into input `i`; an error on a conflict or a shape over [`MAX_ELEMENTS`].
    pub fn set_input(&mut self, i: usize, shape: impl Into<Shape>) -> Result<()> {
        let shape = shape.into();
        let name = self
            .input_names
            .get(i)
            .cloned()
            .unwrap_or_else(|| i.to_string());
        shape
            .check_size()
            .and_then(|()| self.inputs[i].merge(&shape))
            .map_err(|reason| self.error(format!("input `{name}`: {reason}")))
    }

    /// Merges `shape` into output `i`; an error on a conflict or a shape over
    /// [`MAX_ELEMENTS`].
    pub fn set_output(&mut self, i: usize, shape: impl Into<Shape>) -> Result<()> {
        let shape = shape.into();
        shape
            .check_size()
            .and_then(|()| self.outputs[i].merge(&shape))
            .map_err(|reason| self.error(format!("output {i}: {reason}")))
    }

    /// Gives input `input` and output `output` one shape, each filling in the other (a
    /// backward operator's gradient has its forward input's shape).
    pub fn tie(&mut self, input: usize, output: usize) -> Result<()> {
        let data = self.inputs[input].clone();
        self.set_output(output, data)?;
        let out = self.outputs[output].clone();
        self.set_input(input, out)
    }

    /// Checks every input and output shape with [`Shape::check_size`]. Inference drivers call
    /// it before [`Operator::infer_shape`](super::Operator::infer_shape), so that shapes given
    /// from outside (a `__shape__` attribute, a caller's argument) cannot make an operator
    /// overflow while it computes with them.
    pub fn check_sizes(&self) -> Result<()> {
        for (i, shape) in self.inputs.iter().enumerate() {
            shape.check_size().map_err(|reason| {
                let name = self
                    .input_names
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| i.to_string());
                self.error(format!("input `{name}`: {reason}"))
            })?;
        }
        for (i, shape) in self.outputs.iter().enumerate() {
            shape
                .check_size()
                .map_err(|reason| self.error(format!("output {i}: {reason}")))?;
        }
        Ok(())
    }

    /// An error naming the operator, `reason`, and every input with its shape.
    pub fn error(&self, reason: impl Into<String>) -> Error {
        Error::Shape {
            op: self.op.to_string(),
            reason: reason.into(),
            inputs: describe(
                self.input_names,
                self.inputs.iter().map(ToString::to_string),
            ),
        }
    }
}

/// What an operator's type inference sees, like [`ShapeCtx`] for dtypes (`None` = unknown).
#[derive(Debug)]
pub struct TypeCtx<'a> {
    op: &'a str,
    input_names: &'a [String],
    inputs: &'a mut [Option<DType>],
    outputs: &'a mut [Option<DType>],
}

impl<'a> TypeCtx<'a> {
    /// Wraps the slots of one node.
    pub fn new(
        op: &'a str,
        input_names: &'a [String],
        inputs: &'a mut [Option<DType>],
        outputs: &'a mut [Option<DType>],
    ) -> TypeCtx<'a> {
        TypeCtx {
            op,
            input_names,
            inputs,
            outputs,
        }
    }

    /// Input `i` as known.
    pub fn input(&self, i: usize) -> Option<DType> {
        self.inputs[i]
    }

    /// Output `i` as known.
    pub fn output(&self, i: usize) -> Option<DType> {
        self.outputs[i]
    }

    /// Sets input `i` (an error if it is known as another type).
    pub fn set_input(&mut self, i: usize, dtype: DType) -> Result<()> {
        match self.inputs[i] {
            Some(d) if d != dtype => {
                let name = self
                    .input_names
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| i.to_string());
                Err(self.error(format!("input `{name}` is {d}, expected {dtype}")))
            }
            _ => {
                self.inputs[i] = Some(dtype);
                Ok(())
            }
        }
    }

    /// Sets output `i` (an error if it is known as another type).
    pub fn set_output(&mut self, i: usize, dtype: DType) -> Result<()> {
        match self.outputs[i] {
            Some(d) if d != dtype => {
                Err(self.error(format!("output {i} is {d}, expected {dtype}")))
            }
            _ => {
                self.outputs[i] = Some(dtype);
                Ok(())
            }
        }
    }

    /// MXNet's default rule: every input and output has one dtype, taken from whichever is known.
    pub fn all_same(&mut self) -> Result<()> {
        let Some(dtype) = self
            .inputs
            .iter()
            .chain(self.outputs.iter())
            .find_map(|d| *d)
        else {
            return Ok(());
        };
        for i in 0..self.inputs.len() {
            self.set_input(i, dtype)?;
        }
        for i in 0..self.outputs.len() {
            self.set_output(i, dtype)?;
        }
        Ok(())
    }

    /// An error naming the operator, `reason`, and every input with its dtype.
    pub fn error(&self, reason: impl Into<String>) -> Error {
        Error::Type {
            op: self.op.to_string(),
            reason: reason.into(),
            inputs: describe(
                self.input_names,
                self.inputs
                    .iter()
                    .map(|d| d.map_or("?".to_string(), |d| d.to_string())),
            ),
        }
    }
}

/// `name=value, name=value` for an error message.
fn describe(names: &[String], values: impl Iterator<Item = String>) -> String {
    let parts: Vec<String> = values
        .enumerate()
        .map(|(i, v)| match names.get(i) {
            Some(n) => format!("{n}={v}"),
            None => format!("#{i}={v}"),
        })
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}
