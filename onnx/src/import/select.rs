//! Selecting and broadcasting: Where, ArgMax/ArgMin, Expand, OneHot, and the variadic
//! element-wise Sum, Mean, Max and Min, GatherElements (as `pick`), with ONNX's NumPy broadcasting made explicit where
//! MXNet's operator does not broadcast.

use mxr_frontend::sym::Symbol;

use super::node::{Node, axis};
use super::ops::{build, fmt_f64, tuple};
use super::{Importer, Value};
use crate::error::Result;
use crate::tensor::{Tensor, Values};

/// NumPy's broadcast of `shapes` (right-aligned; each dimension equal or 1), or an error
/// naming the node and the shapes.
fn broadcast_shapes(n: &Node<'_>, shapes: &[Vec<usize>]) -> Result<Vec<usize>> {
    let rank = shapes.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = vec![1; rank];
    for s in shapes {
        let pad = rank - s.len();
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[pad + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return Err(n.error(format!(
                    "shapes {shapes:?} do not broadcast together (axis {} of {rank}: {d} vs {o})",
                    pad + i
                )));
            }
        }
    }
    Ok(out)
}

/// Input `i` of `n` (of known `shape`) brought to `target` by MXNet's `broadcast_to`, after a
/// Reshape that prepends ones when its rank is lower (broadcast_to keeps the rank).
fn broadcast_input(
    imp: &mut Importer<'_>,
    n: &Node<'_>,
    i: usize,
    shape: &[usize],
    target: &[usize],
) -> Result<Symbol> {
    let mut x = imp.symbol(n, i)?;
    if shape == target {
        return Ok(x);
    }
    if shape.len() < target.len() {
        let mut full = vec![1; target.len() - shape.len()];
        full.extend(shape);
        let params = [("shape", tuple(&full))];
        x = build(imp, n, "Reshape", &[x], &params, &format!("_rank{i}"))?;
    }
    let suffix = if n.op == "Expand" {
        String::new()
    } else {
        format!("_broadcast{i}")
    };
    build(
        imp,
        n,
        "broadcast_to",
        &[x],
        &[("shape", tuple(target))],
        &suffix,
    )
}

/// Where: MXNet's `where`, which takes operands of one shape; with every input's shape known,
/// those that differ from the broadcast shape first go through `broadcast_to`. With a shape
/// unknown the operands go as they are (binding checks that they agree). A constant condition
/// becomes a float32 parameter (nonzero is true).
pub(super) fn where_(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&[])?;
    if let Some(t) = imp.constant(n, 0)? {
        // A constant condition (BOOL, read as uint8) becomes a float32 parameter, the dtype
        // binding gives a parameter without a value.
        let values = Values::F32(t.as_f64().iter().map(|&x| x as f32).collect());
        let t = Tensor {
            dims: t.dims.clone(),
            values,
        };
        imp.param(n.required_input(0)?, t)?;
    }
    let shapes = (0..3)
        .map(|i| imp.shape(n, i))
        .collect::<Result<Option<Vec<_>>>>()?;
    let inputs = match shapes {
        Some(shapes) => {
            let target = broadcast_shapes(n, &shapes)?;
            (0..3)
                .map(|i| broadcast_input(imp, n, i, &shapes[i], &target))
                .collect::<Result<Vec<_>>>()?
        }
        None => (0..3)
            .map(|i| imp.symbol(n, i))
            .collect::<Result<Vec<_>>>()?,
    };
    build(imp, n, "where", &inputs, &[], "")
}

/// ArgMax, ArgMin: MXNet's `argmax`/`argmin` (the first extreme; `select_last_index=1` is
/// refused), whose float index is cast to ONNX's int64.
pub(super) fn arg_reduce(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&["axis", "keepdims", "select_last_index"])?;
    if n.int("select_last_index", 0)? != 0 {
        return Err(n.attr_error(
            "select_last_index",
            "1 (the last of equal extremes) cannot be expressed: MXNet's argmax and argmin \
             pick the first",
        ));
    }
    let op = if n.op == "ArgMax" { "argmax" } else { "argmin" };
    let keep = n.int("keepdims", 1)? != 0;
    let params = [
        ("axis", n.int("axis", 0)?.to_string()),
        ("keepdims", if keep { "True" } else { "False" }.into()),
    ];
    let x = imp.symbol(n, 0)?;
    let index = build(imp, n, op, &[x], &params, "_index")?;
    build(imp, n, "Cast", &[index], &[("dtype", "int64".into())], "")
}

/// Expand: ONNX broadcasts the input and the shape both ways; the output shape comes from the
/// input's known shape and the constant `shape`, then MXNet's `broadcast_to`.
pub(super) fn expand(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Value> {
    n.check_attrs(&[])?;
    let to = imp
        .int_list(n, 1, "shape")?
        .ok_or_else(|| n.error("shape (input 1) is required"))?;
    let to = to
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| n.error(format!("shape {to:?} has a negative dimension")))?;
    let shape = imp.known_shape(n, 0, "compute Expand's output shape")?;
    let target = broadcast_shapes(n, &[shape.clone(), to])?;
    if target == shape {
        return Ok(imp.value(n, n.required_input(0)?)?.clone());
    }
    Ok(Value::Symbol(broadcast_input(imp, n, 0, &shape, &target)?))
}

/// OneHot: MXNet's `one_hot`, which adds the new axis last, so `axis` must be -1 or the
/// indices' rank. `depth` and `values` (`[off, on]`) must be constants; the output takes
/// `values`' dtype. Constant indices count from the end when negative, as in ONNX; computed
/// negative indices give rows of `off` (MXNet's rule).
pub(super) fn one_hot(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&["axis"])?;
    let at = n.int("axis", -1)?;
    if at != -1 {
        let rank = imp.known_shape(n, 0, "place OneHot's axis")?.len() as i64;
        if at != rank {
            return Err(n.attr_error(
                "axis",
                format!(
                    "{at} cannot be expressed: MXNet's one_hot adds the new axis last (-1 or \
                     {rank} for indices of rank {rank})"
                ),
            ));
        }
    }
    let depth = imp
        .constant(n, 1)?
        .map(|t| t.as_f64())
        .ok_or_else(|| n.error("depth (input 1) must be a constant"))?;
    let depth = match depth[..] {
        [d] if d >= 1.0 => d as usize,
        _ => return Err(n.error(format!("depth {depth:?} must be one positive number"))),
    };
    let values = imp
        .constant(n, 2)?
        .ok_or_else(|| n.error("values (input 2) must be a constant"))?;
    let dtype = match values.values {
        Values::F32(_) => "float32",
        Values::F64(_) => "float64",
        Values::I64(_) => "int64",
        Values::I32(_) => "int32",
        Values::U8(_) => "uint8",
        Values::I8(_) => "int8",
    };
    let (off, on) = match values.as_f64()[..] {
        [off, on] => (off, on),
        ref v => return Err(n.error(format!("values {v:?} must be [off, on]"))),
    };
    let indices = match imp.constant(n, 0)? {
        Some(t) => {
            let d = depth as f64;
            let wrapped = t
                .as_f64()
                .iter()
                .map(|&i| if i < 0.0 && i >= -d { i + d } else { i })
                .map(|i| i as f32)
                .collect();
            let t = Tensor {
                dims: t.dims.clone(),
                values: Values::F32(wrapped),
            };
            imp.param(n.required_input(0)?, t)?
        }
        None => imp.symbol(n, 0)?,
    };
    let params = [
        ("depth", depth.to_string()),
        ("on_value", fmt_f64(on)),
        ("off_value", fmt_f64(off)),
        ("dtype", dtype.into()),
    ];
    build(imp, n, "one_hot", &[indices], &params, "")
}

/// Sum, Mean, Max, Min of any number of inputs with NumPy broadcasting: a chain of
/// `broadcast_add` (Mean: then divided by the count), `broadcast_maximum`,
/// `broadcast_minimum`; one input is the input itself.
pub(super) fn variadic(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Value> {
    n.check_attrs(&[])?;
    let count = n.num_inputs();
    if count == 0 {
        return Err(n.error("needs at least one input"));
    }
    if count == 1 {
        return Ok(imp.value(n, n.required_input(0)?)?.clone());
    }
    let op = match n.op {
        "Max" => "broadcast_maximum",
        "Min" => "broadcast_minimum",
        _ => "broadcast_add",
    };
    let mean = n.op == "Mean";
    let mut acc = imp.symbol(n, 0)?;
    for i in 1..count {
        let x = imp.symbol(n, i)?;
        let last = i + 1 == count && !mean;
        let suffix = if last { String::new() } else { format!("_{i}") };
        acc = build(imp, n, op, &[acc, x], &[], &suffix)?;
    }
    if mean {
        let params = [("scalar", fmt_f64(count as f64))];
        acc = build(imp, n, "_div_scalar", &[acc], &params, "")?;
    }
    Ok(Value::Symbol(acc))
}

/// GatherElements as mxr's `pick` (`keepdims`, mode `wrap`, which counts ONNX's negative
/// indices from the end): only where the indices have the data's shape with size 1 on the
/// axis, the one shape `pick` reads. Constant indices become a float32 parameter (range
/// checked); computed ones are cast to float32, pick's index dtype.
pub(super) fn gather_elements(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&["axis"])?;
    let why = "GatherElements converts to pick only with known shapes";
    let dims = imp.known_shape(n, 0, why)?;
    let idx_dims = imp.known_shape(n, 1, why)?;
    let a = axis(n, "axis", n.int("axis", 0)?, dims.len())?;
    let mut lane = dims.clone();
    lane[a] = 1;
    if idx_dims != lane {
        return Err(n.error(format!(
            "indices of dims {idx_dims:?} do not convert: mxr's pick reads indices of the \
             data's dims {dims:?} with size 1 on axis {a}, i.e. {lane:?}"
        )));
    }
    let size = dims[a] as i64;
    let index = match imp.constant(n, 1)? {
        Some(t) => {
            let idx = t
                .as_i64()
                .ok_or_else(|| n.error("indices (input 1) must be integers"))?;
            if let Some(i) = idx.iter().find(|&&i| i < -size || i >= size) {
                return Err(n.error(format!(
                    "index {i} is out of range for axis {a} of size {size}"
                )));
            }
            let t = Tensor {
                dims: t.dims.clone(),
                values: Values::F32(idx.iter().map(|&i| i as f32).collect()),
            };
            imp.param(n.required_input(1)?, t)?
        }
        None => {
            let idx = imp.symbol(n, 1)?;
            let params = [("dtype", "float32".to_string())];
            build(imp, n, "Cast", &[idx], &params, "_index")?
        }
    };
    let data = imp.symbol(n, 0)?;
    let params = [
        ("axis", a.to_string()),
        ("keepdims", "True".to_string()),
        ("mode", "wrap".to_string()),
    ];
    build(imp, n, "pick", &[data, index], &params, "")
}
