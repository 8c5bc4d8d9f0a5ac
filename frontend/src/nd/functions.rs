//! Typed helpers for common operators (MXNet's `mx.nd.dot`, `mx.nd.tanh`, ...). Each returns its
//! error at once; every other registry operator is reachable through [`invoke`](super::invoke).

use std::cell::RefCell;
use std::collections::HashMap;

use mxr_operators::registry::{self, OpRef};

use super::invoke::{Outputs, apply_inner, is_training};
use super::ndarray::NDArray;
use crate::Result;
use crate::dispatch::push_inplace;

thread_local! {
    /// Parsed scalar operators by (name, scalar bits): `a += 1.0` in a loop parses once.
    static SCALAR_OPS: RefCell<HashMap<(&'static str, u64), OpRef>> = RefCell::new(HashMap::new());
    /// The scalar operators last taken from `SCALAR_OPS` (or parsed), newest first, with their
    /// keys: a loop alternating a few (W2's `(a*5 + b)/2 + 1`) finds them without hashing.
    static RECENT_SCALAR_OPS: RefCell<Vec<((&'static str, u64), OpRef)>> =
        const { RefCell::new(Vec::new()) };
    /// Parsed parameterless two-input operators by name.
    static BINARY_OPS: RefCell<HashMap<&'static str, OpRef>> = RefCell::new(HashMap::new());
}

/// Scalar operators remembered in [`RECENT_SCALAR_OPS`].
const RECENT: usize = 4;

fn scalar_op(name: &'static str, scalar: f64) -> Result<OpRef> {
    let key = (name, scalar.to_bits());
    let same = |k: &(&'static str, u64)| std::ptr::eq(k.0, key.0) && k.1 == key.1;
    // Found in place, without reordering (moving the entries cost more than the search saved):
    // the list keeps the operators most recently parsed or looked up in `SCALAR_OPS`.
    if let Some(op) = RECENT_SCALAR_OPS.with(|c| {
        let recent = c.borrow();
        recent
            .iter()
            .find(|(k, _)| same(k))
            .map(|(_, op)| op.clone())
    }) {
        return Ok(op);
    }
    let op = match SCALAR_OPS.with(|c| c.borrow().get(&key).cloned()) {
        Some(op) => op,
        None => {
            let text = scalar.to_string();
            let op = registry::create(name, &[("scalar", &text)], Some(1))?;
            SCALAR_OPS.with(|c| {
                let mut cache = c.borrow_mut();
                if cache.len() >= 256 {
                    cache.clear();
                }
                cache.insert(key, op.clone());
            });
            op
        }
    };
    RECENT_SCALAR_OPS.with(|c| {
        let mut recent = c.borrow_mut();
        if recent.len() == RECENT {
            recent.pop();
        }
        recent.insert(0, (key, op.clone()));
    });
    Ok(op)
}

/// `x op= scalar` in place (MXNet's `_plus_scalar(x, scalar, out=x)`).
pub(crate) fn scalar_assign(name: &'static str, x: &NDArray, scalar: f64) -> Result<()> {
    let op = scalar_op(name, scalar)?;
    if op.is_inplace_unary() {
        return push_inplace(&op, x, is_training());
    }
    apply_inner(&op, &[x], Some(std::slice::from_ref(x)), is_training())?;
    Ok(())
}

/// Applies a scalar operator (`_plus_scalar`, ...) to `x`, into `out` when given.
pub(crate) fn scalar_into(
    name: &'static str,
    x: &NDArray,
    scalar: f64,
    out: Option<&NDArray>,
) -> Result<NDArray> {
    let op = scalar_op(name, scalar)?;
    let out = out.map(std::slice::from_ref);
    first_of(apply_inner(&op, &[x], out, is_training())?)
}

/// Applies a two-input operator, into `out` when given.
pub(crate) fn binary_into(
    name: &'static str,
    a: &NDArray,
    b: &NDArray,
    out: Option<&NDArray>,
) -> Result<NDArray> {
    let op = match BINARY_OPS.with(|c| c.borrow().get(name).cloned()) {
        Some(op) => op,
        None => {
            let op = registry::create(name, &[], Some(2))?;
            BINARY_OPS.with(|c| c.borrow_mut().insert(name, op.clone()));
            op
        }
    };
    let out = out.map(std::slice::from_ref);
    first_of(apply_inner(&op, &[a, b], out, is_training())?)
}

fn first(mut outputs: Vec<NDArray>) -> Result<NDArray> {
    if outputs.is_empty() {
        return Err(crate::Error::InvalidArgument {
            call: "nd",
            reason: "the operator produced no output".into(),
        });
    }
    Ok(outputs.swap_remove(0))
}

fn first_of(mut outputs: Outputs) -> Result<NDArray> {
    if outputs.is_empty() {
        return Err(crate::Error::InvalidArgument {
            call: "nd",
            reason: "the operator produced no output".into(),
        });
    }
    // Not `into_iter().next()`, which moves the whole inline array first.
    Ok(outputs.swap_remove(0))
}

/// Calls operator `name` with string parameters; returns its first output.
fn call(name: &str, inputs: &[&NDArray], params: &[(&str, &str)]) -> Result<NDArray> {
    first(super::invoke(name, inputs, params)?)
}

macro_rules! unary {
    ($($(#[$doc:meta])* $fn_name:ident => $op:literal),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $fn_name(x: &NDArray) -> Result<NDArray> {
            call($op, &[x], &[])
        }
    )*};
}

unary! {
    /// Element-wise `e^x`.
    exp => "exp",
    /// Element-wise natural logarithm.
    log => "log",
    /// Element-wise square root.
    sqrt => "sqrt",
    /// Element-wise `x²`.
    square => "square",
    /// Element-wise absolute value.
    abs => "abs",
    /// Element-wise `-x`.
    negative => "negative",
    /// Element-wise hyperbolic tangent.
    tanh => "tanh",
    /// Element-wise logistic sigmoid `1 / (1 + e^-x)`.
    sigmoid => "sigmoid",
    /// Element-wise `max(x, 0)`.
    relu => "relu",
    /// `(N, ...)` → `(N, product of the rest)`.
    flatten => "Flatten",
    /// Zeros of `x`'s shape and dtype.
    zeros_like => "zeros_like",
    /// Ones of `x`'s shape and dtype.
    ones_like => "ones_like",
}

/// Element-wise sum with broadcasting (`broadcast_add`).
pub fn add(a: &NDArray, b: &NDArray) -> Result<NDArray> {
    binary_into("broadcast_add", a, b, None)
}

/// Element-wise difference with broadcasting (`broadcast_sub`).
pub fn subtract(a: &NDArray, b: &NDArray) -> Result<NDArray> {
    binary_into("broadcast_sub", a, b, None)
}

/// Element-wise product with broadcasting (`broadcast_mul`).
pub fn multiply(a: &NDArray, b: &NDArray) -> Result<NDArray> {
    binary_into("broadcast_mul", a, b, None)
}

/// Element-wise quotient with broadcasting (`broadcast_div`).
pub fn divide(a: &NDArray, b: &NDArray) -> Result<NDArray> {
    binary_into("broadcast_div", a, b, None)
}

/// Matrix product (`dot`; N-D arrays contract the last axis of `a` with the first of `b`).
///
/// ```
/// use mxr::nd::{self, NDArray};
/// let a = NDArray::from_vec(&[2, 2], vec![1.0f32, 2.0, 3.0, 4.0])?;
/// let b = NDArray::from_vec(&[2, 1], vec![1.0f32, 1.0])?;
/// assert_eq!(nd::dot(&a, &b)?.to_vec::<f32>()?, vec![3.0, 7.0]);
/// # Ok::<(), mxr::Error>(())
/// ```
pub fn dot(a: &NDArray, b: &NDArray) -> Result<NDArray> {
    call("dot", &[a, b], &[])
}

/// `dot` with either operand transposed.
pub fn dot_t(a: &NDArray, b: &NDArray, transpose_a: bool, transpose_b: bool) -> Result<NDArray> {
    let (ta, tb) = (py_bool(transpose_a), py_bool(transpose_b));
    call("dot", &[a, b], &[("transpose_a", ta), ("transpose_b", tb)])
}

/// Batched matrix product over the last two axes (`batch_dot`).
pub fn batch_dot(a: &NDArray, b: &NDArray) -> Result<NDArray> {
    call("batch_dot", &[a, b], &[])
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn axis_attr(axis: Option<&[i64]>) -> Option<String> {
    axis.map(|a| match a {
        [one] => one.to_string(),
        many => tuple_attr(many),
    })
}

/// `(a, b, ...)`: the items as a Python tuple of two or more (or none).
fn tuple_attr<T: ToString>(items: &[T]) -> String {
    let items: Vec<String> = items.iter().map(ToString::to_string).collect();
    format!("({})", items.join(", "))
}

macro_rules! reduction {
    ($($(#[$doc:meta])* $fn_name:ident => $op:literal),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $fn_name(x: &NDArray, axis: Option<&[i64]>, keepdims: bool) -> Result<NDArray> {
            let axis = axis_attr(axis);
            let mut params = vec![("keepdims", py_bool(keepdims))];
            if let Some(a) = &axis {
                params.push(("axis", a.as_str()));
            }
            call($op, &[x], &params)
        }
    )*};
}

reduction! {
    /// Sum over `axis` (all axes when `None`).
    ///
    /// ```
    /// use mxr::nd::{self, NDArray};
    /// let x = NDArray::from_vec(&[2, 3], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?;
    /// assert_eq!(nd::sum(&x, Some(&[1]), false)?.to_vec::<f32>()?, vec![6.0, 15.0]);
    /// assert_eq!(nd::sum(&x, None, false)?.to_vec::<f32>()?, vec![21.0]);
    /// # Ok::<(), mxr::Error>(())
    /// ```
    sum => "sum",
    /// Mean over `axis` (all axes when `None`).
    mean => "mean",
    /// Maximum over `axis` (all axes when `None`).
    max => "max",
    /// Minimum over `axis` (all axes when `None`).
    min => "min",
}

/// Index of the maximum along `axis` (flattened when `None`), as float32 (MXNet's rule).
pub fn argmax(x: &NDArray, axis: Option<i64>) -> Result<NDArray> {
    match axis {
        Some(a) => call("argmax", &[x], &[("axis", &a.to_string())]),
        None => call("argmax", &[x], &[]),
    }
}

/// The element of every lane of `x` along `axis` at the position `index` gives (`pick`, in
/// `clip` mode: out-of-range positions go to the nearest end); `index` has `x`'s shape
/// without `axis`. `keepdims` and `mode='wrap'` through [`invoke`](super::invoke).
///
/// ```
/// use mxr::nd::{self, NDArray};
/// let x = NDArray::from_vec(&[3, 2], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// let index = NDArray::from_vec(&[3], vec![0.0f32, 1.0, 7.0])?;
/// assert_eq!(nd::pick(&x, &index, 1)?.to_vec::<f32>()?, vec![1.0, 4.0, 6.0]);
/// # Ok::<(), mxr::Error>(())
/// ```
pub fn pick(x: &NDArray, index: &NDArray, axis: i64) -> Result<NDArray> {
    call("pick", &[x, index], &[("axis", &axis.to_string())])
}

/// Softmax along `axis` (MXNet's default: -1, the last).
pub fn softmax(x: &NDArray, axis: i64) -> Result<NDArray> {
    call("softmax", &[x], &[("axis", &axis.to_string())])
}

/// Log-softmax along `axis`.
pub fn log_softmax(x: &NDArray, axis: i64) -> Result<NDArray> {
    call("log_softmax", &[x], &[("axis", &axis.to_string())])
}

/// Clips every element to `[a_min, a_max]`.
pub fn clip(x: &NDArray, a_min: f64, a_max: f64) -> Result<NDArray> {
    call(
        "clip",
        &[x],
        &[("a_min", &a_min.to_string()), ("a_max", &a_max.to_string())],
    )
}

/// Permutes the axes (reverses them when `axes` is empty).
pub fn transpose(x: &NDArray, axes: &[usize]) -> Result<NDArray> {
    if axes.is_empty() {
        return call("transpose", &[x], &[]);
    }
    call("transpose", &[x], &[("axes", &tuple_attr(axes))])
}

/// Joins arrays along `dim`.
pub fn concat(arrays: &[&NDArray], dim: i64) -> Result<NDArray> {
    call("Concat", arrays, &[("dim", &dim.to_string())])
}

/// `y = x·Wᵀ + b` (`FullyConnected`; `bias` may be `None`).
pub fn fully_connected(
    x: &NDArray,
    weight: &NDArray,
    bias: Option<&NDArray>,
    num_hidden: usize,
) -> Result<NDArray> {
    let n = num_hidden.to_string();
    match bias {
        Some(b) => call("FullyConnected", &[x, weight, b], &[("num_hidden", &n)]),
        None => call(
            "FullyConnected",
            &[x, weight],
            &[("num_hidden", &n), ("no_bias", "True")],
        ),
    }
}

/// `depth`-wide one-hot rows for the indices in `x`.
pub fn one_hot(x: &NDArray, depth: usize) -> Result<NDArray> {
    call("one_hot", &[x], &[("depth", &depth.to_string())])
}

fn shape_attr(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        many => tuple_attr(many),
    }
}

/// Float32 samples uniform in `[low, high)`, drawn from the default context's random state
/// (see [`random::seed`](super::random::seed)).
pub fn random_uniform(low: f64, high: f64, shape: &[usize]) -> Result<NDArray> {
    sample("_random_uniform", [("low", low), ("high", high)], shape)
}

/// Float32 samples from N(loc, scale²).
pub fn random_normal(loc: f64, scale: f64, shape: &[usize]) -> Result<NDArray> {
    sample("_random_normal", [("loc", loc), ("scale", scale)], shape)
}

/// Calls the sampler `op` with its two distribution parameters and the output shape.
fn sample(op: &str, params: [(&str, f64); 2], shape: &[usize]) -> Result<NDArray> {
    let [(k1, v1), (k2, v2)] = params.map(|(k, v)| (k, v.to_string()));
    call(
        op,
        &[],
        &[(k1, &v1), (k2, &v2), ("shape", &shape_attr(shape))],
    )
}
