//! Running operators on host data, and the finite-difference gradient checker.
//!
//! [`run`] infers shapes, allocates outputs and calls the CPU kernel directly (no engine): the
//! quickest way to test an operator. [`gradients`] builds an operator's gradient graph and
//! evaluates it eagerly. [`check_gradient`] compares those gradients with central finite
//! differences of `Σ head·output`, in float64.
//!
//! ```
//! use mxr_operators::check::{HostTensor, run, check_gradient, GradCheck};
//! let op = mxr_operators::registry::create("_copy", &[], None)?;
//! let x = HostTensor::from_f32(&[2], vec![1.0, -2.0]);
//! let out = run(op.as_ref(), &mut [x.clone()], false)?;
//! assert_eq!(out[0].to_f64(), vec![1.0, -2.0]);
//! check_gradient(&op, &[x], &GradCheck::default())?;
//! # Ok::<(), mxr_operators::Error>(())
//! ```

pub mod gpu;

use std::sync::Arc;

use mxr_engine::Context;
use mxr_kernels::cpu::random::Rng;
use mxr_kernels::{DType, Element};

use crate::registry::{
    Call, Entry, GradCtx, GraphBuilder, OpContext, OpRef, Operator, Resource, Shape, ShapeCtx,
    TensorMut, TensorRef, TypeCtx,
};
use crate::{Error, Result};

/// An array in host memory, aligned for every dtype.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    shape: Vec<usize>,
    dtype: DType,
    words: Vec<u64>,
    bytes: usize,
}

impl HostTensor {
    /// Zeros of `shape` and `dtype`.
    pub fn zeros(shape: &[usize], dtype: DType) -> HostTensor {
        let bytes = shape.iter().product::<usize>() * dtype.size();
        HostTensor {
            shape: shape.to_vec(),
            dtype,
            words: vec![0; bytes.div_ceil(8)],
            bytes,
        }
    }

    /// From values of any element type (`values.len()` must be the shape's size).
    ///
    /// # Panics
    /// When the length does not match the shape (a test-data mistake).
    pub fn from_vec<T: Element>(shape: &[usize], values: Vec<T>) -> HostTensor {
        assert_eq!(
            values.len(),
            shape.iter().product::<usize>(),
            "HostTensor::from_vec: {} values for shape {shape:?}",
            values.len()
        );
        let mut t = HostTensor::zeros(shape, T::DTYPE);
        t.bytes_mut().copy_from_slice(bytemuck::cast_slice(&values));
        t
    }

    /// From float32 values.
    pub fn from_f32(shape: &[usize], values: Vec<f32>) -> HostTensor {
        HostTensor::from_vec(shape, values)
    }

    /// From float64 values converted to `dtype`.
    pub fn from_f64_as(shape: &[usize], values: &[f64], dtype: DType) -> HostTensor {
        let mut t = HostTensor::zeros(shape, dtype);
        let size = dtype.size();
        for (i, &v) in values.iter().enumerate() {
            crate::registry::fill(dtype, &mut t.bytes_mut()[i * size..(i + 1) * size], v);
        }
        t
    }

    /// The dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The number of elements.
    pub fn size(&self) -> usize {
        self.shape.iter().product()
    }

    /// The raw element bytes.
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.bytes]
    }

    /// The raw element bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.bytes]
    }

    /// The values converted to f64.
    pub fn to_f64(&self) -> Vec<f64> {
        crate::registry::TensorRef::to_f64_vec(&self.view())
    }

    /// The values converted to f32.
    pub fn to_f32(&self) -> Vec<f32> {
        self.to_f64().into_iter().map(|v| v as f32).collect()
    }

    /// The same values as `dtype`.
    pub fn cast(&self, dtype: DType) -> HostTensor {
        HostTensor::from_f64_as(&self.shape, &self.to_f64(), dtype)
    }

    /// A read-only kernel view.
    pub fn view(&self) -> TensorRef<'_> {
        TensorRef {
            shape: &self.shape,
            dtype: self.dtype,
            bytes: self.bytes(),
        }
    }

    /// A writable kernel view.
    pub fn view_mut(&mut self) -> TensorMut<'_> {
        let bytes = self.bytes;
        TensorMut {
            shape: &self.shape,
            dtype: self.dtype,
            bytes: &mut bytemuck::cast_slice_mut(&mut self.words)[..bytes],
        }
    }
}

/// Infers every input and output shape of `op` from the given input shapes (unknown ones
/// allowed); returns `(inputs, outputs)`.
pub fn infer_shapes(op: &dyn Operator, inputs: &[Shape]) -> Result<(Vec<Shape>, Vec<Shape>)> {
    let names = op.input_names();
    if inputs.len() != names.len() {
        return Err(input_count(op, inputs.len()));
    }
    let mut ins = inputs.to_vec();
    let mut outs = vec![Shape::unknown(); op.num_outputs()];
    // Inference may need two rounds when outputs feed back to inputs.
    for _ in 0..2 {
        let mut ctx = ShapeCtx::new(op.name(), &names, &mut ins, &mut outs);
        ctx.check_sizes()?;
        op.infer_shape(&mut ctx)?;
    }
    Ok((ins, outs))
}

/// Known-or-unknown dtypes of a node's inputs or outputs.
pub type Dtypes = Vec<Option<DType>>;

/// Infers dtypes from the given input dtypes; returns `(inputs, outputs)`.
pub fn infer_types(op: &dyn Operator, inputs: &[Option<DType>]) -> Result<(Dtypes, Dtypes)> {
    let names = op.input_names();
    let mut ins = inputs.to_vec();
    let mut outs = vec![None; op.num_outputs()];
    op.infer_type(&mut TypeCtx::new(op.name(), &names, &mut ins, &mut outs))?;
    Ok((ins, outs))
}

fn input_count(op: &dyn Operator, got: usize) -> Error {
    let names = op.input_names();
    Error::InputCount {
        op: op.name().into(),
        expected: names.len(),
        names: names.join(", "),
        got,
    }
}

/// Runs `op`'s CPU kernel on `inputs` (mutated inputs, such as BatchNorm's moving statistics in
/// its backward op, are updated in place); returns every output, hidden ones included. Random
/// operators draw from a generator seeded with 0.
pub fn run(
    op: &dyn Operator,
    inputs: &mut [HostTensor],
    is_train: bool,
) -> Result<Vec<HostTensor>> {
    run_seeded(op, inputs, is_train, 0)
}

/// [`run`] with the random state seeded from `seed`.
pub fn run_seeded(
    op: &dyn Operator,
    inputs: &mut [HostTensor],
    is_train: bool,
    seed: u64,
) -> Result<Vec<HostTensor>> {
    let shapes: Vec<Shape> = inputs.iter().map(|t| Shape::known(&t.shape)).collect();
    let (in_shapes, out_shapes) = infer_shapes(op, &shapes)?;
    let types: Vec<Option<DType>> = inputs.iter().map(|t| Some(t.dtype)).collect();
    let (_, out_types) = infer_types(op, &types)?;
    for (i, (inferred, given)) in in_shapes.iter().zip(inputs.iter()).enumerate() {
        if inferred.dims().as_deref() != Some(&given.shape[..]) {
            return Err(Error::Shape {
                op: op.name().into(),
                reason: format!("input {i} was inferred as {inferred}"),
                inputs: format!("{:?}", inputs.iter().map(|t| &t.shape).collect::<Vec<_>>()),
            });
        }
    }
    let mut outputs = Vec::with_capacity(out_shapes.len());
    for (i, (shape, dtype)) in out_shapes.iter().zip(&out_types).enumerate() {
        let (Some(dims), Some(dtype)) = (shape.dims(), dtype) else {
            return Err(Error::Shape {
                op: op.name().into(),
                reason: format!("output {i} could not be inferred ({shape})"),
                inputs: format!("{:?}", inputs.iter().map(|t| &t.shape).collect::<Vec<_>>()),
            });
        };
        outputs.push(HostTensor::zeros(&dims, *dtype));
    }
    let mutated = op.mutate_inputs();
    let mut mutated_values: Vec<HostTensor> = mutated.iter().map(|&i| inputs[i].clone()).collect();
    let mut rng = Rng::seed(seed);
    let wants_rng = op.resources().contains(&Resource::Random);
    let mut ctx = OpContext {
        is_train,
        context: Context::cpu(0),
        rng: wants_rng.then_some(&mut rng),
        needed: None,
    };
    {
        let views: Vec<TensorRef<'_>> = inputs.iter().map(HostTensor::view).collect();
        let mut outs: Vec<TensorMut<'_>> = outputs
            .iter_mut()
            .chain(mutated_values.iter_mut())
            .map(HostTensor::view_mut)
            .collect();
        op.forward(Call::new(&mut ctx, &views, &mut outs))?;
    }
    for (&i, value) in mutated.iter().zip(mutated_values) {
        inputs[i] = value;
    }
    Ok(outputs)
}

/// A graph evaluated as it is built: the values of every node's outputs.
#[derive(Debug, Default)]
pub struct EagerGraph {
    values: Vec<Vec<HostTensor>>,
    /// Training mode for the nodes run.
    pub is_train: bool,
    /// Seed for random operators.
    pub seed: u64,
}

impl EagerGraph {
    /// Adds a constant (a one-output node holding `value`).
    pub fn constant(&mut self, value: HostTensor) -> Entry {
        self.values.push(vec![value]);
        Entry {
            node: self.values.len() - 1,
            output: 0,
        }
    }

    /// The value of an entry.
    pub fn value(&self, e: Entry) -> &HostTensor {
        &self.values[e.node][e.output]
    }
}

impl GraphBuilder for EagerGraph {
    fn add_node(&mut self, op: OpRef, _name: &str, inputs: &[Entry]) -> Result<Vec<Entry>> {
        let mut values: Vec<HostTensor> = inputs.iter().map(|e| self.value(*e).clone()).collect();
        let outputs = run_seeded(op.as_ref(), &mut values, self.is_train, self.seed)?;
        for &i in &op.mutate_inputs() {
            let e = inputs[i];
            self.values[e.node][e.output] = values[i].clone();
        }
        let node = self.values.len();
        let n = outputs.len();
        self.values.push(outputs);
        Ok((0..n).map(|output| Entry { node, output }).collect())
    }
}

/// Runs `op` forward on `inputs` and its gradient graph with head gradients `ograds` (one per
/// output; hidden outputs may be given as zeros); returns one gradient per input.
pub fn gradients(
    op: &OpRef,
    inputs: &[HostTensor],
    ograds: &[HostTensor],
    is_train: bool,
    seed: u64,
) -> Result<Vec<Option<HostTensor>>> {
    let mut graph = EagerGraph {
        is_train,
        seed,
        ..EagerGraph::default()
    };
    let in_entries: Vec<Entry> = inputs.iter().map(|t| graph.constant(t.clone())).collect();
    let outputs = graph.add_node(Arc::clone(op), "node", &in_entries)?;
    let og: Vec<Entry> = ograds.iter().map(|t| graph.constant(t.clone())).collect();
    let mut ctx = GradCtx {
        builder: &mut graph,
        name: "node",
        inputs: &in_entries,
        outputs: &outputs,
        ograds: &og,
        needed: &[],
    };
    let grads = op.gradient(&mut ctx)?;
    if grads.len() != inputs.len() {
        return Err(Error::BadInput {
            op: op.name().into(),
            reason: format!(
                "gradient returned {} entries for {} inputs",
                grads.len(),
                inputs.len()
            ),
        });
    }
    Ok(grads
        .into_iter()
        .map(|g| g.map(|e| graph.value(e).clone()))
        .collect())
}

/// Options of [`check_gradient`].
#[derive(Debug, Clone)]
pub struct GradCheck {
    /// Finite-difference step.
    pub eps: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Inputs not checked (labels, indices, auxiliary states).
    pub skip: Vec<usize>,
    /// Training mode.
    pub is_train: bool,
    /// Seed for the head gradients and random operators.
    pub seed: u64,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck {
            eps: 1e-6,
            rtol: 1e-5,
            atol: 1e-7,
            skip: Vec::new(),
            is_train: true,
            seed: 1,
        }
    }
}

/// Checks `op`'s gradient graph against central finite differences of `Σ head·output` over its
/// visible outputs, computed in float64 (float inputs are converted). Inputs in `opts.skip`
/// are held fixed. Loss operators (which ignore the head gradient) cannot be checked this way.
pub fn check_gradient(op: &OpRef, inputs: &[HostTensor], opts: &GradCheck) -> Result<()> {
    if op.is_loss() {
        return Err(Error::Unsupported {
            op: op.name().into(),
            what: "finite-difference checking of a loss layer".into(),
        });
    }
    let inputs: Vec<HostTensor> = inputs
        .iter()
        .map(|t| {
            if t.dtype.is_float() {
                t.cast(DType::F64)
            } else {
                t.clone()
            }
        })
        .collect();
    let outputs = run_seeded(op.as_ref(), &mut inputs.clone(), opts.is_train, opts.seed)?;
    let visible = op.num_visible_outputs();
    let mut head_rng = Rng::seed(opts.seed ^ 0x5eed);
    let ograds: Vec<HostTensor> = outputs
        .iter()
        .enumerate()
        .map(|(k, o)| {
            let values: Vec<f64> = (0..o.size())
                .map(|_| {
                    if k < visible {
                        head_rng.uniform_f64() * 2.0 - 1.0
                    } else {
                        0.0
                    }
                })
                .collect();
            HostTensor::from_f64_as(&o.shape, &values, o.dtype)
        })
        .collect();
    let analytic = gradients(op, &inputs, &ograds, opts.is_train, opts.seed)?;
    let objective = |xs: &[HostTensor]| -> Result<f64> {
        let outs = run_seeded(op.as_ref(), &mut xs.to_vec(), opts.is_train, opts.seed)?;
        Ok(outs
            .iter()
            .zip(&ograds)
            .take(visible)
            .map(|(o, h)| {
                o.to_f64()
                    .iter()
                    .zip(h.to_f64())
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
            })
            .sum())
    };
    for (i, input) in inputs.iter().enumerate() {
        if opts.skip.contains(&i) {
            continue;
        }
        let Some(grad) = &analytic[i] else {
            return Err(Error::BadInput {
                op: op.name().into(),
                reason: format!("no gradient for input {i} ({})", op.input_names()[i]),
            });
        };
        if grad.shape != input.shape {
            return Err(Error::BadInput {
                op: op.name().into(),
                reason: format!(
                    "gradient of input {i} has shape {:?}, the input {:?}",
                    grad.shape, input.shape
                ),
            });
        }
        let g = grad.to_f64();
        let base = input.to_f64();
        for j in 0..input.size() {
            let mut xs = inputs.clone();
            let mut plus = base.clone();
            plus[j] += opts.eps;
            xs[i] = HostTensor::from_f64_as(&input.shape, &plus, input.dtype);
            let f_plus = objective(&xs)?;
            let mut minus = base.clone();
            minus[j] -= opts.eps;
            xs[i] = HostTensor::from_f64_as(&input.shape, &minus, input.dtype);
            let f_minus = objective(&xs)?;
            let numeric = (f_plus - f_minus) / (2.0 * opts.eps);
            if (g[j] - numeric).abs() > opts.atol + opts.rtol * numeric.abs().max(g[j].abs()) {
                return Err(Error::BadInput {
                    op: op.name().into(),
                    reason: format!(
                        "gradient of input {i} ({}) at element {j}: analytic {} vs numeric {numeric}",
                        op.input_names()[i],
                        g[j]
                    ),
                });
            }
        }
    }
    Ok(())
}

/// `(String, String)` pairs as `(&str, &str)`, for [`OpDef::create`](crate::registry::OpDef).
pub fn borrow(attrs: &[(String, String)]) -> Vec<(&str, &str)> {
    attrs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}
