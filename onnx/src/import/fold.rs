//! Operators on values known at import time: `Constant`, and the shape arithmetic exporters
//! write for dynamic reshapes (PyTorch's `Shape → Gather → Unsqueeze → Concat → Reshape`),
//! folded to constants when the shapes are known. Reshape, Concat, Unsqueeze and Squeeze of
//! computed values become registry operators.

use mxr_frontend::sym::Symbol;

use super::node::{Node, axis};
use super::ops::{build, tuple};
use super::{Importer, Value};
use crate::error::Result;
use crate::proto::tensor_proto::DataType;
use crate::tensor::{Tensor, Values, checked_product};

/// Constant: one of `value`, `value_float(s)`, `value_int(s)`.
pub(super) fn constant(n: &Node<'_>) -> Result<Tensor> {
    n.check_attrs(&[
        "value",
        "value_float",
        "value_floats",
        "value_int",
        "value_ints",
    ])?;
    if let Some(t) = n.tensor("value")? {
        return Ok(t);
    }
    let names = n.attr_names();
    let scalar = |values| Tensor {
        dims: Vec::new(),
        values,
    };
    let list = |values: Values| Tensor {
        dims: vec![values.len()],
        values,
    };
    Ok(match names.first().copied() {
        Some("value_float") => scalar(Values::F32(vec![n.float("value_float", 0.0)?])),
        Some("value_int") => scalar(Values::I64(vec![n.int("value_int", 0)?])),
        Some("value_ints") => list(Values::I64(n.ints("value_ints")?.unwrap_or_default())),
        Some("value_floats") => {
            let floats = n
                .proto
                .attribute
                .iter()
                .find(|a| a.name() == "value_floats")
                .map(|a| a.floats.clone())
                .unwrap_or_default();
            list(Values::F32(floats))
        }
        _ => return Err(n.error("has no value attribute")),
    })
}

/// Shape: the input's dims (sliced by `start`/`end`, opset 15), when known.
pub(super) fn shape(imp: &Importer<'_>, n: &Node<'_>) -> Result<Value> {
    n.check_attrs(&["start", "end"])?;
    let dims = imp.shape(n, 0)?.ok_or_else(|| {
        n.error(
            "the input's shape is not known at import, so Shape cannot be folded (mxr has no \
             dynamic shapes); give the graph input a static shape",
        )
    })?;
    let r = dims.len() as i64;
    let clamp = |x: i64| (if x < 0 { x + r } else { x }).clamp(0, r) as usize;
    let start = clamp(n.int("start", 0)?);
    let end = clamp(n.int("end", r)?).max(start);
    let values: Vec<i64> = dims[start..end].iter().map(|&d| d as i64).collect();
    Ok(Value::Const(Tensor {
        dims: vec![values.len()],
        values: Values::I64(values),
    }))
}

/// Gather: folded when data and indices are constants, else [`gather_computed`].
pub(super) fn gather(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Value> {
    n.check_attrs(&["axis"])?;
    let (Some(data), Some(indices)) = (imp.constant(n, 0)?, imp.constant(n, 1)?) else {
        return gather_computed(imp, n).map(Value::Symbol);
    };
    let idx = indices
        .as_i64()
        .ok_or_else(|| n.error("indices (input 1) must be integers"))?;
    let a = axis(n, "axis", n.int("axis", 0)?, data.dims.len())?;
    let size = data.dims[a] as i64;
    let overflow = || n.error(format!("dims {:?} overflow", data.dims));
    let inner = checked_product(&data.dims[a + 1..]).ok_or_else(overflow)?;
    let outer = checked_product(&data.dims[..a]).ok_or_else(overflow)?;
    let mut picked = Vec::new();
    for o in 0..outer {
        for &i in &idx {
            if i < -size || i >= size {
                return Err(n.error(format!(
                    "index {i} is out of range for axis {a} of dims {:?}",
                    data.dims
                )));
            }
            let i = if i < 0 { i + size } else { i } as usize;
            let start = (o * data.dims[a] + i) * inner;
            picked.extend(start..start + inner);
        }
    }
    let mut dims = data.dims[..a].to_vec();
    dims.extend(&indices.dims);
    dims.extend(&data.dims[a + 1..]);
    Ok(Value::Const(Tensor {
        dims,
        values: data.values.select(&picked),
    }))
}

/// Gather on computed data or indices: mxr's `take` in mode `raise`, which refuses an index
/// out of range as ONNX does. ONNX also counts negative indices in `[-size, -1]` from the end:
/// constant indices are wrapped here (with the data's shape known, else a negative one is an
/// error), as float32 (take's index dtype in mxr's executors, exact below 2^24); a negative
/// computed index is refused by `take` where ONNX would count it from the end.
fn gather_computed(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    let at = n.int("axis", 0)?;
    let indices = match imp.constant(n, 1)? {
        Some(t) => {
            let idx = t
                .as_i64()
                .ok_or_else(|| n.error("indices (input 1) must be integers"))?;
            let dims = t.dims.clone();
            let size = match imp.shape(n, 0)? {
                Some(s) => Some(s[axis(n, "axis", at, s.len())?] as i64),
                None => None,
            };
            let wrapped = idx
                .iter()
                .map(|&i| match size {
                    Some(s) if i < -s || i >= s => {
                        Err(n.error(format!("index {i} is out of range for an axis of size {s}")))
                    }
                    Some(s) if i < 0 => Ok((i + s) as f32),
                    None if i < 0 => Err(n.error(format!(
                        "negative index {i} needs the data's shape, unknown at import"
                    ))),
                    _ => Ok(i as f32),
                })
                .collect::<Result<Vec<_>>>()?;
            let t = Tensor {
                dims,
                values: Values::F32(wrapped),
            };
            imp.param(n.required_input(1)?, t)?
        }
        None => imp.symbol(n, 1)?,
    };
    let data = imp.symbol(n, 0)?;
    let params = [("axis", at.to_string()), ("mode", "raise".to_string())];
    build(imp, n, "take", &[data, indices], &params, "")
}

/// The axes of Unsqueeze or Squeeze: the `axes` attribute before opset 13, input 1 after.
fn axes(imp: &Importer<'_>, n: &Node<'_>) -> Result<Option<Vec<i64>>> {
    if n.opset < 13 {
        n.check_attrs(&["axes"])?;
        return n.ints("axes");
    }
    n.check_attrs(&[])?;
    imp.int_list(n, 1, "axes")
}

/// Unsqueeze and Squeeze: new dims for the same values, folded on a constant, a Reshape where
/// the input's shape is known, else mxr's `squeeze` or `expand_dims` (see [`squeeze_unknown`]).
pub(super) fn squeeze(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Value> {
    let axes = axes(imp, n)?;
    let Some(dims) = imp.shape(n, 0)? else {
        return squeeze_unknown(imp, n, axes);
    };
    let mut out = Vec::new();
    if n.op == "Unsqueeze" {
        let axes = axes.ok_or_else(|| n.attr_error("axes", "is required"))?;
        let rank = dims.len() + axes.len();
        let mut at = axes
            .iter()
            .map(|&x| axis(n, "axes", x, rank))
            .collect::<Result<Vec<_>, _>>()?;
        at.sort_unstable();
        at.dedup();
        if at.len() != axes.len() {
            return Err(n.attr_error("axes", format!("{axes:?} repeats an axis")));
        }
        let mut rest = dims.iter();
        for i in 0..rank {
            // `at` holds axes.len() distinct positions below rank; the others take the
            // input's dims in order, exactly dims.len() of them.
            out.push(if at.contains(&i) {
                1
            } else {
                *rest.next().expect("a dim left")
            });
        }
    } else {
        let at = match &axes {
            None => (0..dims.len()).filter(|&i| dims[i] == 1).collect(),
            Some(axes) => axes
                .iter()
                .map(|&x| axis(n, "axes", x, dims.len()))
                .collect::<Result<Vec<_>, _>>()?,
        };
        for (i, &d) in dims.iter().enumerate() {
            if !at.contains(&i) {
                out.push(d);
            } else if d != 1 {
                return Err(n.error(format!("cannot squeeze axis {i} of dims {dims:?}")));
            }
        }
    }
    if let Some(t) = imp.constant(n, 0)? {
        return Ok(Value::Const(Tensor {
            dims: out,
            values: t.values.clone(),
        }));
    }
    let x = imp.symbol(n, 0)?;
    let shape = tuple(&out);
    Ok(Value::Symbol(build(
        imp,
        n,
        "Reshape",
        &[x],
        &[("shape", shape)],
        "",
    )?))
}

/// Cast: folded on a constant; on a computed value mxr's `Cast` to the same dtype.
pub(super) fn cast(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Value> {
    n.check_attrs(&["to", "saturate"])?;
    let to = n.int("to", 0)?;
    let to = i32::try_from(to)
        .ok()
        .and_then(|t| DataType::try_from(t).ok())
        .ok_or_else(|| n.attr_error("to", format!("{to} is not an ONNX data type")))?;
    let Some(t) = imp.constant(n, 0)? else {
        let dtype = match to {
            DataType::Float => "float32",
            DataType::Double => "float64",
            DataType::Float16 => "float16",
            DataType::Int64 => "int64",
            DataType::Int32 => "int32",
            DataType::Uint8 => "uint8",
            DataType::Int8 => "int8",
            DataType::Bool => {
                // mxr has no bool: the value stays as it is, nonzero meaning true, which only
                // Where's condition reads that way (Importer::symbol refuses other readers).
                imp.truthy
                    .insert(n.proto.output.first().cloned().unwrap_or_default());
                return Ok(imp.value(n, n.required_input(0)?)?.clone());
            }
            other => {
                return Err(n.attr_error(
                    "to",
                    format!("{} is not a data type mxr computes", other.as_str_name()),
                ));
            }
        };
        let x = imp.symbol(n, 0)?;
        return Ok(Value::Symbol(build(
            imp,
            n,
            "Cast",
            &[x],
            &[("dtype", dtype.into())],
            "",
        )?));
    };
    let ints = || {
        t.as_i64()
            .unwrap_or_else(|| t.as_f64().iter().map(|&x| x as i64).collect())
    };
    let values = match to {
        DataType::Float => Values::F32(t.as_f64().iter().map(|&x| x as f32).collect()),
        DataType::Double => Values::F64(t.as_f64()),
        DataType::Int64 => Values::I64(ints()),
        DataType::Int32 => Values::I32(ints().iter().map(|&x| x as i32).collect()),
        DataType::Uint8 => Values::U8(ints().iter().map(|&x| x as u8).collect()),
        DataType::Int8 => Values::I8(ints().iter().map(|&x| x as i8).collect()),
        DataType::Bool => Values::U8(t.as_f64().iter().map(|&x| u8::from(x != 0.0)).collect()),
        other => {
            return Err(n.attr_error(
                "to",
                format!("{} is not a data type mxr reads", other.as_str_name()),
            ));
        }
    };
    Ok(Value::Const(Tensor {
        dims: t.dims.clone(),
        values,
    }))
}

/// Squeeze and Unsqueeze of an input whose shape import does not know: `squeeze` with the
/// axes (without axes it keeps one axis where ONNX would give a scalar), or one `expand_dims`
/// per axis in increasing order (negative Unsqueeze axes need the rank: refused).
fn squeeze_unknown(imp: &mut Importer<'_>, n: &Node<'_>, axes: Option<Vec<i64>>) -> Result<Value> {
    let mut x = imp.symbol(n, 0)?;
    if n.op != "Unsqueeze" {
        let params: Vec<(&str, String)> = axes.iter().map(|a| ("axis", tuple(a))).collect();
        return Ok(Value::Symbol(build(imp, n, "squeeze", &[x], &params, "")?));
    }
    let mut axes = axes.ok_or_else(|| n.attr_error("axes", "is required"))?;
    if axes.iter().any(|&a| a < 0) {
        return Err(n.error(format!(
            "Unsqueeze with negative axes {axes:?} needs the input's shape, unknown at import"
        )));
    }
    axes.sort_unstable();
    for (k, a) in axes.iter().enumerate() {
        let suffix = if k + 1 == axes.len() {
            String::new()
        } else {
            format!("_{k}")
        };
        x = build(
            imp,
            n,
            "expand_dims",
            &[x],
            &[("axis", a.to_string())],
            &suffix,
        )?;
    }
    Ok(Value::Symbol(x))
}

/// Reshape to a constant shape (`0` copies the input's dim unless `allowzero`, `-1` is
/// inferred: MXNet's own codes), folded on a constant input.
pub(super) fn reshape(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Value> {
    n.check_attrs(&["allowzero"])?;
    let target = imp
        .constant(n, 1)?
        .ok_or_else(|| {
            n.error(
                "the target shape (input 1) must be a constant: an initializer, a Constant, \
                 or a Shape/Gather/Concat chain on known shapes",
            )
        })?
        .as_i64()
        .ok_or_else(|| n.error("the target shape (input 1) must be integers"))?;
    if n.int("allowzero", 0)? != 0 && target.contains(&0) {
        return Err(n.attr_error(
            "allowzero",
            format!("a zero-sized dim in shape {target:?} is not supported"),
        ));
    }
    if target.iter().any(|&d| d < -1) || target.iter().filter(|&&d| d == -1).count() > 1 {
        return Err(n.error(format!("invalid target shape {target:?}")));
    }
    if let Some(t) = imp.constant(n, 0)? {
        let dims = resolve(&t.dims, &target)
            .ok_or_else(|| n.error(format!("cannot reshape dims {:?} to {target:?}", t.dims)))?;
        return Ok(Value::Const(Tensor {
            dims,
            values: t.values.clone(),
        }));
    }
    let x = imp.symbol(n, 0)?;
    Ok(Value::Symbol(build(
        imp,
        n,
        "Reshape",
        &[x],
        &[("shape", tuple(&target))],
        "",
    )?))
}

/// ONNX's reshape rules on known dims: `0` copies, `-1` takes what is left.
fn resolve(dims: &[usize], target: &[i64]) -> Option<Vec<usize>> {
    let total = checked_product(dims)?;
    let mut out: Vec<usize> = target
        .iter()
        .enumerate()
        .map(|(i, &d)| match d {
            0 => dims.get(i).copied(),
            -1 => Some(1),
            d => usize::try_from(d).ok(),
        })
        .collect::<Option<_>>()?;
    if let Some(free) = target.iter().position(|&d| d == -1) {
        let known = checked_product(&out)?;
        if known == 0 || !total.is_multiple_of(known) {
            return None;
        }
        out[free] = total / known;
    }
    (checked_product(&out)? == total).then_some(out)
}

/// Concat: folded when every input is a constant vector (a shape being assembled), else
/// MXNet's Concat.
pub(super) fn concat(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Value> {
    n.check_attrs(&["axis"])?;
    let at = n.int("axis", i64::MIN)?;
    if at == i64::MIN {
        return Err(n.attr_error("axis", "is required"));
    }
    let count = n.num_inputs();
    let consts: Vec<Option<&Tensor>> = (0..count)
        .map(|i| imp.constant(n, i))
        .collect::<Result<_>>()?;
    if let Some(parts) = consts.iter().copied().collect::<Option<Vec<&Tensor>>>()
        && parts.iter().all(|t| t.dims.len() == 1)
    {
        let ints: Option<Vec<i64>> = parts.iter().try_fold(Vec::new(), |mut acc, t| {
            acc.extend(t.as_i64()?);
            Some(acc)
        });
        if let Some(ints) = ints {
            return Ok(Value::Const(Tensor {
                dims: vec![ints.len()],
                values: Values::I64(ints),
            }));
        }
    }
    let dim = if at < 0 {
        let rank = imp.known_shape(n, 0, "resolve a negative axis")?.len();
        axis(n, "axis", at, rank)? as i64
    } else {
        at
    };
    let inputs = (0..count)
        .map(|i| imp.symbol(n, i))
        .collect::<Result<Vec<_>>>()?;
    let params = [("dim", dim.to_string()), ("num_args", count.to_string())];
    Ok(Value::Symbol(build(
        imp, n, "Concat", &inputs, &params, "",
    )?))
}

/// Add, Sub, Mul, Div, Mod of two constants (shape arithmetic, indices bounded by a
/// modulus), elementwise with one side possibly a single value; `None` when either input is
/// computed.
pub(super) fn arithmetic(imp: &Importer<'_>, n: &Node<'_>) -> Result<Option<Value>> {
    // Mod's remainder takes the dividend's sign with fmod=1 (C's fmod), the divisor's with
    // fmod=0 (Python's %, integers only in ONNX).
    let fmod = if n.op == "Mod" {
        n.check_attrs(&["fmod"])?;
        n.int("fmod", 0)? != 0
    } else {
        false
    };
    let (Some(a), Some(b)) = (imp.constant(n, 0)?, imp.constant(n, 1)?) else {
        return Ok(None);
    };
    let (la, lb) = (a.values.len(), b.values.len());
    let dims = match (la, lb) {
        _ if a.dims == b.dims => a.dims.clone(),
        (_, 1) if b.dims.len() <= a.dims.len() => a.dims.clone(),
        (1, _) if a.dims.len() <= b.dims.len() => b.dims.clone(),
        _ => {
            return Err(n.error(format!(
                "folding constants of dims {:?} and {:?} is not supported",
                a.dims, b.dims
            )));
        }
    };
    let len = la.max(lb);
    let pick = |v: &[f64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
    let values = match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => {
            let mut out = Vec::with_capacity(len);
            for i in 0..len {
                let (p, q) = (
                    x[if la == 1 { 0 } else { i }],
                    y[if lb == 1 { 0 } else { i }],
                );
                out.push(
                    match n.op {
                        "Add" => p.checked_add(q),
                        "Sub" => p.checked_sub(q),
                        "Mul" => p.checked_mul(q),
                        "Mod" if fmod => p.checked_rem(q),
                        "Mod" => p.checked_rem(q).map(|r| {
                            if r != 0 && (r < 0) != (q < 0) {
                                r + q
                            } else {
                                r
                            }
                        }),
                        // ONNX's integer Div truncates, as Rust's does.
                        _ => p.checked_div(q),
                    }
                    .ok_or_else(|| {
                        n.error(format!("{p} {} {q} overflows or divides by 0", n.op))
                    })?,
                );
            }
            Values::I64(out)
        }
        _ => {
            let (x, y) = (a.as_f64(), b.as_f64());
            let op = |p: f64, q: f64| match n.op {
                "Add" => p + q,
                "Sub" => p - q,
                "Mul" => p * q,
                "Mod" if fmod => p % q,
                "Mod" => p - q * (p / q).floor(),
                _ => p / q,
            };
            Values::F32(
                (0..len)
                    .map(|i| op(pick(&x, i), pick(&y, i)) as f32)
                    .collect(),
            )
        }
    };
    Ok(Some(Value::Const(Tensor { dims, values })))
}

/// Slice of a constant vector (a shape being cut), by constant starts, ends, axes, steps
/// (a computed input slices through `slice_axis` instead).
pub(super) fn slice(imp: &Importer<'_>, n: &Node<'_>) -> Result<Value> {
    n.check_attrs(&[])?;
    let data = imp
        .constant(n, 0)?
        .ok_or_else(|| n.error("input 0 must be a constant to fold"))?;
    let starts = imp.int_list(n, 1, "starts")?.unwrap_or_default();
    let ends = imp.int_list(n, 2, "ends")?.unwrap_or_default();
    let axes = imp.int_list(n, 3, "axes")?.unwrap_or_else(|| vec![0]);
    let steps = imp.int_list(n, 4, "steps")?.unwrap_or_else(|| vec![1]);
    if data.dims.len() != 1
        || starts.len() != 1
        || ends.len() != 1
        || axes[..] != [0] && axes[..] != [-1]
        || steps[..] != [1]
    {
        return Err(n.error(format!(
            "folding Slice is supported on one vector with step 1 (dims {:?}, starts {starts:?}, \
             ends {ends:?}, axes {axes:?}, steps {steps:?})",
            data.dims
        )));
    }
    let len = data.dims[0] as i64;
    let clamp = |x: i64| (if x < 0 { x + len } else { x }).clamp(0, len) as usize;
    let (s, e) = (clamp(starts[0]), clamp(ends[0]));
    let picked: Vec<usize> = (s..e.max(s)).collect();
    Ok(Value::Const(Tensor {
        dims: vec![picked.len()],
        values: data.values.select(&picked),
    }))
}

/// ConstantOfShape of a constant shape (folded from `Shape`): the `value` tensor's one
/// element (float32 0 when absent) repeated over the shape, a constant.
pub(super) fn constant_of_shape(imp: &Importer<'_>, n: &Node<'_>) -> Result<Value> {
    n.check_attrs(&["value"])?;
    let dims = imp.int_list(n, 0, "shape")?.ok_or_else(|| {
        n.error("the shape (input 0) must be a constant (mxr has no dynamic shapes)")
    })?;
    let dims = dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| n.error(format!("shape {dims:?} has a negative dimension")))?;
    let value = n.tensor("value")?.unwrap_or(Tensor {
        dims: vec![1],
        values: Values::F32(vec![0.0]),
    });
    if value.values.len() != 1 {
        return Err(n.attr_error("value", "must hold one element"));
    }
    let count = checked_product(&dims).ok_or_else(|| n.error(format!("dims {dims:?} overflow")))?;
    Ok(Value::Const(Tensor {
        dims,
        values: value.values.select(&vec![0; count]),
    }))
}
