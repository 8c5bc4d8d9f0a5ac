//! Calling registry operators on NDArrays (MXNet's `MXImperativeInvoke`).
//!
//! An invocation infers the output shapes and dtypes, allocates the outputs (or checks the
//! given `out` arrays), and pushes one engine operation through the dispatch room
//! ([`crate::dispatch`]) that reads the inputs' vars and writes the outputs' (plus mutated
//! inputs and, for random operators, the random state's var). It returns before the kernel
//! runs.

use std::cell::Cell;
use std::sync::Arc;

use mxr_operators::registry::{self, OpRef, Shape};
use smallvec::SmallVec;

use super::context::current_context;
use super::ndarray::NDArray;
use crate::{Error, Result, dispatch};

thread_local! {
    static TRAINING: Cell<bool> = const { Cell::new(false) };
}

/// Whether operators invoked on this thread run in training mode (Dropout active, BatchNorm
/// on batch statistics). Off by default, as in MXNet outside `autograd.record(train_mode=True)`.
pub fn is_training() -> bool {
    TRAINING.with(Cell::get)
}

/// Sets training mode for operators invoked on this thread until the guard is dropped.
///
/// ```
/// use mxr::nd::{is_training, train_mode};
/// {
///     let _train = train_mode(true);
///     assert!(is_training());
/// }
/// assert!(!is_training());
/// ```
pub fn train_mode(on: bool) -> TrainModeScope {
    let previous = TRAINING.with(|t| t.replace(on));
    TrainModeScope {
        previous,
        _not_send: std::marker::PhantomData,
    }
}

/// Restores the previous training mode when dropped.
#[derive(Debug)]
pub struct TrainModeScope {
    previous: bool,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for TrainModeScope {
    fn drop(&mut self) {
        TRAINING.with(|t| t.set(self.previous));
    }
}

/// Calls the registry operator `name` (an MXNet name or alias) on `inputs` with MXNet's
/// attribute strings as parameters; returns its visible outputs. Asynchronous: the values are
/// computed by the engine.
///
/// ```
/// use mxr::nd::{NDArray, invoke};
/// let x = NDArray::from_vec(&[2, 2], vec![1.0f32, -2.0, 3.0, -4.0])?;
/// let y = invoke("Activation", &[&x], &[("act_type", "relu")])?;
/// assert_eq!(y[0].to_vec::<f32>()?, vec![1.0, 0.0, 3.0, 0.0]);
/// let err = invoke("Activation", &[&x], &[("act_type", "ReLU")]).unwrap_err();
/// assert!(err.to_string().contains("act_type"));
/// # Ok::<(), mxr::Error>(())
/// ```
pub fn invoke(name: &str, inputs: &[&NDArray], params: &[(&str, &str)]) -> Result<Vec<NDArray>> {
    let op = registry::create(name, params, Some(inputs.len()))?;
    let mut outputs = apply(&op, inputs, None, is_training())?;
    outputs.truncate(op.num_visible_outputs());
    Ok(outputs)
}

/// [`invoke`] writing into existing arrays (MXNet's `out=`): one per visible output, with the
/// inferred shapes and dtypes. An output may be one of the inputs (an in-place call).
pub fn invoke_into(
    name: &str,
    inputs: &[&NDArray],
    params: &[(&str, &str)],
    out: &[&NDArray],
) -> Result<()> {
    let op = registry::create(name, params, Some(inputs.len()))?;
    let out: Vec<NDArray> = out.iter().map(|a| (*a).clone()).collect();
    apply(&op, inputs, Some(&out), is_training())?;
    Ok(())
}

/// Applies a parsed operator; returns every output, hidden ones included. `out` may give the
/// first outputs (at least the visible ones); the others are allocated.
pub fn apply(
    op: &OpRef,
    inputs: &[&NDArray],
    out: Option<&[NDArray]>,
    is_train: bool,
) -> Result<Vec<NDArray>> {
    Ok(apply_inner(op, inputs, out, is_train)?.into_vec())
}

/// The outputs of one application (inline for up to two).
pub(crate) type Outputs = SmallVec<[NDArray; 2]>;

/// [`apply`] without a heap vector for the outputs.
pub(crate) fn apply_inner(
    op: &OpRef,
    inputs: &[&NDArray],
    out: Option<&[NDArray]>,
    is_train: bool,
) -> Result<Outputs> {
    apply_needed(op, inputs, out, is_train, None)
}

/// [`apply_inner`] where only the outputs marked in `needed` (when given) will be read: the
/// kernel may skip the others, whose values are then unspecified (the imperative tape's
/// backward, for gradients nobody asked for).
pub(crate) fn apply_needed(
    op: &OpRef,
    inputs: &[&NDArray],
    out: Option<&[NDArray]>,
    is_train: bool,
    needed: Option<&[bool]>,
) -> Result<Outputs> {
    if let ([x], Some([o])) = (inputs, out)
        && op.is_inplace_unary()
        && x.shares_storage_with(o)
        && x.offset == o.offset
        && x.shape == o.shape
        && x.dtype == o.dtype
    {
        dispatch::push_inplace(op, o, is_train)?;
        return Ok(smallvec::smallvec![o.clone()]);
    }
    let name = op.name();
    let given = out.unwrap_or(&[]);
    let context = match inputs.first() {
        Some(first) => first.context(),
        None => given.first().map_or_else(current_context, NDArray::context),
    };
    if let Some(other) = inputs.iter().find(|a| a.context() != context) {
        return Err(Error::InvalidArgument {
            call: "nd::apply",
            reason: format!(
                "operator {name}: inputs on different contexts ({context} and {})",
                other.context()
            ),
        });
    }
    let signature = match out {
        None => dispatch::cached_signature(op, inputs)?,
        Some(given) => Arc::from(dispatch::infer_signature(op, inputs, given)?),
    };
    let mut outputs = Outputs::new();
    for (k, (dims, dtype)) in signature.iter().enumerate() {
        match given.get(k) {
            Some(a) if a.shape() == dims.as_slice() && a.dtype() == *dtype => {
                outputs.push(a.clone());
            }
            Some(a) => {
                return Err(Error::InvalidArgument {
                    call: "nd::apply",
                    reason: format!(
                        "operator {name}: output {k} is {} of {dtype}, the `out` array {} of {}",
                        Shape::known(dims),
                        Shape::known(a.shape()),
                        a.dtype()
                    ),
                });
            }
            None => outputs.push(NDArray::for_output(dims, *dtype, context)?),
        }
    }
    dispatch::push(op, inputs, &outputs, is_train, context, needed)?;
    Ok(outputs)
}
