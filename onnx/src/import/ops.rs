//! The conversions, one function per ONNX operator family: each reads the node's inputs and
//! attributes, converts ONNX's semantics to MXNet's, and builds the registry operators.

use mxr_frontend::sym::{OpBuilder, Symbol};

use super::node::{Node, axis};
use super::{Importer, Value, fold, layer_norm, reduce, select, spatial};
use crate::error::Result;
use crate::tensor::{Tensor, Values, checked_product};

/// The operators import converts (the `Shape`/`Gather`/`Slice`/`Unsqueeze`/`Squeeze`/`Cast`
/// family only as far as it folds to constants, `Mod` only on constants).
pub const IMPORTED_OPS: &[&str] = &[
    "Abs",
    "Add",
    "ArgMax",
    "ArgMin",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "ConvTranspose",
    "Div",
    "Dropout",
    "Elu",
    "Exp",
    "Expand",
    "Flatten",
    "Gather",
    "GatherElements",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "HardSigmoid",
    "Identity",
    "LayerNormalization",
    "LeakyRelu",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "MaxPool",
    "Mean",
    "Min",
    "Mod",
    "Mul",
    "Neg",
    "OneHot",
    "Pad",
    "Pow",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Shape",
    "Sigmoid",
    "Slice",
    "Softmax",
    "Softplus",
    "Softsign",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
    "Unsqueeze",
    "Where",
];

/// Converts `n`, returning its outputs in order.
pub(super) fn convert(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Vec<Value>> {
    let domain = n.proto.domain();
    if !matches!(domain, "" | "ai.onnx") {
        return Err(n.error(format!(
            "operators of domain {domain:?} are not supported (only the default ai.onnx)"
        )));
    }
    let one = |s: Symbol| vec![Value::Symbol(s)];
    Ok(match n.op {
        "Conv" => one(spatial::conv(imp, n)?),
        "ConvTranspose" => one(spatial::conv_transpose(imp, n)?),
        "LayerNormalization" => one(layer_norm::layer_norm(imp, n)?),
        "BatchNormalization" => one(batch_norm(imp, n)?),
        "Relu" => one(activation(imp, n, "relu")?),
        "Sigmoid" => one(activation(imp, n, "sigmoid")?),
        "Tanh" => one(activation(imp, n, "tanh")?),
        "Softplus" => one(activation(imp, n, "softrelu")?),
        "Softsign" => one(activation(imp, n, "softsign")?),
        "LeakyRelu" => one(leaky(imp, n, "leaky", 0.01)?),
        "Elu" => one(leaky(imp, n, "elu", 1.0)?),
        "Exp" => one(unary(imp, n, "exp")?),
        "Log" => one(unary(imp, n, "log")?),
        "Sqrt" => one(unary(imp, n, "sqrt")?),
        "Abs" => one(unary(imp, n, "abs")?),
        "Neg" => one(unary(imp, n, "negative")?),
        "Clip" => vec![clip(imp, n)?],
        "MaxPool" | "AveragePool" => one(spatial::pool(imp, n)?),
        "GlobalAveragePool" => one(spatial::global_pool(imp, n, "avg")?),
        "GlobalMaxPool" => one(spatial::global_pool(imp, n, "max")?),
        "Gemm" => one(gemm(imp, n)?),
        "MatMul" => one(matmul(imp, n)?),
        "Flatten" => one(flatten(imp, n)?),
        "Add" | "Sub" | "Mul" | "Div" => match fold::arithmetic(imp, n)? {
            Some(folded) => vec![folded],
            None => one(binary(imp, n)?),
        },
        "Mod" => vec![fold::arithmetic(imp, n)?.ok_or_else(|| {
            n.error("Mod of computed values does not convert: mxr's registry has no modulo")
        })?],
        "Slice" => match imp.constant(n, 0)? {
            Some(_) => vec![fold::slice(imp, n)?],
            None => vec![reduce::slice(imp, n)?],
        },
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" => one(reduce::reduce(imp, n)?),
        "Split" => reduce::split(imp, n)?,
        "HardSigmoid" => one(hard_sigmoid(imp, n)?),
        "Pow" => one(pow(imp, n)?),
        "Pad" => one(pad(imp, n)?),
        "Dropout" => one(dropout(imp, n)?),
        "Softmax" | "LogSoftmax" => one(softmax(imp, n)?),
        "Transpose" => one(transpose(imp, n)?),
        "Reshape" => vec![fold::reshape(imp, n)?],
        "Concat" => vec![fold::concat(imp, n)?],
        "Identity" => {
            n.check_attrs(&[])?;
            vec![imp.value(n, n.required_input(0)?)?.clone()]
        }
        "Constant" => vec![Value::Const(fold::constant(n)?)],
        "Shape" => vec![fold::shape(imp, n)?],
        "ConstantOfShape" => vec![fold::constant_of_shape(imp, n)?],
        "Gather" => vec![fold::gather(imp, n)?],
        "GatherElements" => one(select::gather_elements(imp, n)?),
        "Unsqueeze" | "Squeeze" => vec![fold::squeeze(imp, n)?],
        "Cast" => vec![fold::cast(imp, n)?],
        "Where" => one(select::where_(imp, n)?),
        "ArgMax" | "ArgMin" => one(select::arg_reduce(imp, n)?),
        "Expand" => vec![select::expand(imp, n)?],
        "OneHot" => one(select::one_hot(imp, n)?),
        "Sum" | "Mean" | "Max" | "Min" => vec![select::variadic(imp, n)?],
        other => {
            return Err(n.error(format!(
                "operator {other} is not supported by mxr's ONNX import (it converts {})",
                IMPORTED_OPS.join(", ")
            )));
        }
    })
}

/// MXNet's tuple parameter (Python's `str(tuple)`): `(3, 3)`, `(2,)`, `()`.
pub(super) fn tuple<T: std::fmt::Display>(values: &[T]) -> String {
    match values {
        [one] => format!("({one},)"),
        _ => {
            let items: Vec<String> = values.iter().map(ToString::to_string).collect();
            format!("({})", items.join(", "))
        }
    }
}

/// Builds registry operator `op` on `inputs` for node `n`; `suffix` tells a helper node of a
/// conversion that takes several operators (`""`: the node's own name).
pub(super) fn build(
    imp: &mut Importer<'_>,
    n: &Node<'_>,
    op: &str,
    inputs: &[Symbol],
    params: &[(&str, String)],
    suffix: &str,
) -> Result<Symbol> {
    let mut b = OpBuilder::new(op).args(inputs);
    for (k, v) in params {
        b = b.param(k, v);
    }
    b.name(&imp.node_name(n, suffix))
        .build()
        .map_err(|e| n.error(format!("building mxr's {op}: {e}")))
}

fn activation(imp: &mut Importer<'_>, n: &Node<'_>, act: &str) -> Result<Symbol> {
    n.check_attrs(&[])?;
    let x = imp.symbol(n, 0)?;
    build(imp, n, "Activation", &[x], &[("act_type", act.into())], "")
}

fn leaky(imp: &mut Importer<'_>, n: &Node<'_>, act: &str, default: f32) -> Result<Symbol> {
    n.check_attrs(&["alpha"])?;
    let slope = n.float("alpha", default)?;
    let x = imp.symbol(n, 0)?;
    let params = [("act_type", act.into()), ("slope", fmt_f32(slope))];
    build(imp, n, "LeakyReLU", &[x], &params, "")
}

fn unary(imp: &mut Importer<'_>, n: &Node<'_>, op: &str) -> Result<Symbol> {
    n.check_attrs(&[])?;
    let x = imp.symbol(n, 0)?;
    build(imp, n, op, &[x], &[], "")
}

/// Pad: mxr's `Pad` (4-D or 5-D, padding on the spatial axes only; constant, edge or
/// reflect). ONNX's `pads` is `[begin_1.., end_1..]`, MXNet's `pad_width` `(begin_1, end_1, ..)`.
fn pad(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    let (pads, value) = if n.opset < 11 {
        n.check_attrs(&["mode", "pads", "value"])?;
        let pads = n.ints("pads")?;
        (
            pads.ok_or_else(|| n.attr_error("pads", "is required"))?,
            n.float("value", 0.0)?,
        )
    } else {
        n.check_attrs(&["mode"])?;
        if n.input(3).is_some() {
            return Err(n.error("Pad with axes (input 3) does not convert"));
        }
        let pads = imp.int_list(n, 1, "pads")?;
        let pads = pads.ok_or_else(|| n.error("pads (input 1) is required"))?;
        let value = match imp.constant(n, 2)? {
            Some(t) => t.as_f64().first().copied().unwrap_or(0.0) as f32,
            None if n.input(2).is_none() => 0.0,
            None => return Err(n.error("constant_value (input 2) must be a constant")),
        };
        (pads, value)
    };
    let mode = n.string("mode", "constant")?;
    if !matches!(mode.as_str(), "constant" | "edge" | "reflect") {
        let reason = format!("{mode:?} does not convert (constant, edge, reflect)");
        return Err(n.attr_error("mode", reason));
    }
    if pads.len() % 2 != 0 || pads.iter().any(|&p| p < 0) {
        let reason = format!("{pads:?}: an even count of non-negative widths converts");
        return Err(n.attr_error("pads", reason));
    }
    let r = pads.len() / 2;
    let width: Vec<i64> = (0..r).flat_map(|k| [pads[k], pads[r + k]]).collect();
    let x = imp.symbol(n, 0)?;
    let params = [
        ("mode", mode),
        ("pad_width", tuple(&width)),
        ("constant_value", fmt_f32(value)),
    ];
    build(imp, n, "Pad", &[x], &params, "")
}

fn hard_sigmoid(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&["alpha", "beta"])?;
    let (alpha, beta) = (n.float("alpha", 0.2)?, n.float("beta", 0.5)?);
    let x = imp.symbol(n, 0)?;
    let params = [("alpha", fmt_f32(alpha)), ("beta", fmt_f32(beta))];
    build(imp, n, "hard_sigmoid", &[x], &params, "")
}

/// Pow by a constant exponent: `square` for 2, `sqrt` for 0.5, else `_power_scalar`.
fn pow(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&[])?;
    if imp.constant(n, 1)?.is_none() {
        return Err(n.error("the exponent (input 1) must be a constant"));
    }
    let e = scalar_input(imp, n, 1, 1.0)?;
    let x = imp.symbol(n, 0)?;
    match e {
        2.0 => build(imp, n, "square", &[x], &[], ""),
        0.5 => build(imp, n, "sqrt", &[x], &[], ""),
        _ => build(imp, n, "_power_scalar", &[x], &[("scalar", fmt_f64(e))], ""),
    }
}

/// A float parameter as MXNet's Python frontend writes a float32.
pub(super) fn fmt_f32(x: f32) -> String {
    mxr_frontend::sym::ParamValue::to_param(&x)
}

/// A constant input holding one number (Clip's bounds, Dropout's ratio); `default` when the
/// input is omitted.
pub(super) fn scalar_input(
    imp: &Importer<'_>,
    n: &Node<'_>,
    i: usize,
    default: f64,
) -> Result<f64> {
    if n.input(i).is_none() {
        return Ok(default);
    }
    let t = imp.constant(n, i)?.ok_or_else(|| {
        n.error(format!(
            "input {i} must be a constant (an initializer or a Constant node)"
        ))
    })?;
    match t.as_f64()[..] {
        [x] => Ok(x),
        _ => Err(n.error(format!(
            "input {i} must hold one value, not dims {:?}",
            t.dims
        ))),
    }
}

/// Clip: mxr's `clip`; on a constant (indices being bounded) folded, keeping its dtype.
fn clip(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Value> {
    n.check_attrs(&[])?;
    let lo = scalar_input(imp, n, 1, f64::from(f32::MIN))?;
    let hi = scalar_input(imp, n, 2, f64::from(f32::MAX))?;
    if let Some(t) = imp.constant(n, 0)? {
        let values = match t.as_i64() {
            Some(v) => Values::I64(v.iter().map(|&x| (x as f64).clamp(lo, hi) as i64).collect()),
            None => Values::F32(t.as_f64().iter().map(|&x| x.clamp(lo, hi) as f32).collect()),
        };
        let dims = t.dims.clone();
        return Ok(Value::Const(Tensor { dims, values }));
    }
    let x = imp.symbol(n, 0)?;
    let params = [("a_min", fmt_f64(lo)), ("a_max", fmt_f64(hi))];
    build(imp, n, "clip", &[x], &params, "").map(Value::Symbol)
}

pub(super) fn fmt_f64(x: f64) -> String {
    mxr_frontend::sym::ParamValue::to_param(&x)
}

fn batch_norm(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&["epsilon", "momentum", "training_mode", "spatial"])?;
    if n.int("training_mode", 0)? != 0 {
        return Err(n.attr_error(
            "training_mode",
            "training-mode BatchNormalization (batch statistics as outputs) is not supported",
        ));
    }
    if n.int("spatial", 1)? != 1 {
        return Err(n.attr_error("spatial", "only spatial=1 (per-channel) is supported"));
    }
    let eps = n.float("epsilon", 1e-5)?;
    let momentum = n.float("momentum", 0.9)?;
    let inputs = (0..5)
        .map(|i| imp.symbol(n, i))
        .collect::<Result<Vec<_>>>()?;
    let params = [
        ("eps", fmt_f32(eps)),
        ("momentum", fmt_f32(momentum)),
        ("fix_gamma", "False".into()),
    ];
    build(imp, n, "BatchNorm", &inputs, &params, "")
}

/// Gemm, `alpha · A' · B' + beta · C`: FullyConnected where it is one (`transB`, no `transA`,
/// unit `alpha`, a bias of one value per unit with unit `beta`, as MXNet and PyTorch export
/// their dense layers), else `dot` with the transpositions, scaled, plus the broadcast `C`.
fn gemm(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&["alpha", "beta", "transA", "transB"])?;
    let alpha = n.float("alpha", 1.0)?;
    let beta = n.float("beta", 1.0)?;
    let trans_a = n.int("transA", 0)? != 0;
    let trans_b = n.int("transB", 0)? != 0;
    let b_shape = imp.shape(n, 1)?;
    if let Some([units, _]) = b_shape.as_deref()
        && !trans_a
        && trans_b
        && alpha == 1.0
    {
        let units = *units;
        let bias = match n.input(2) {
            None => Some(None),
            Some(name) => match imp.constant(n, 2)? {
                Some(c) if beta == 1.0 && c.as_f64().len() == units => {
                    Some(Some((name, c.clone())))
                }
                _ => None,
            },
        };
        if let Some(bias) = bias {
            let mut inputs = vec![imp.symbol(n, 0)?, imp.symbol(n, 1)?];
            if let Some((name, c)) = &bias {
                inputs.push(if c.dims == [units] {
                    imp.symbol(n, 2)?
                } else {
                    let flat = Tensor {
                        dims: vec![units],
                        values: c.values.clone(),
                    };
                    let fresh = imp.fresh_name(name);
                    imp.param(&fresh, flat)?
                });
            }
            let params = [
                ("num_hidden", units.to_string()),
                (
                    "no_bias",
                    if bias.is_none() { "True" } else { "False" }.into(),
                ),
                ("flatten", "True".into()),
            ];
            return build(imp, n, "FullyConnected", &inputs, &params, "");
        }
    }
    let (a, b) = (imp.symbol(n, 0)?, imp.symbol(n, 1)?);
    let c = n.input(2).map(|_| imp.symbol(n, 2)).transpose()?;
    let scaled = alpha != 1.0;
    let dot_params = [
        ("transpose_a", if trans_a { "True" } else { "False" }.into()),
        ("transpose_b", if trans_b { "True" } else { "False" }.into()),
    ];
    let done_after_dot = !scaled && c.is_none();
    let suffix = if done_after_dot { "" } else { "_dot" };
    let mut y = build(imp, n, "dot", &[a, b], &dot_params, suffix)?;
    if scaled {
        let suffix = if c.is_none() { "" } else { "_alpha" };
        y = build(
            imp,
            n,
            "_mul_scalar",
            &[y],
            &[("scalar", fmt_f32(alpha))],
            suffix,
        )?;
    }
    if let Some(mut c) = c {
        if beta != 1.0 {
            c = build(
                imp,
                n,
                "_mul_scalar",
                &[c],
                &[("scalar", fmt_f32(beta))],
                "_beta",
            )?;
        }
        y = build(imp, n, "broadcast_add", &[y, c], &[], "")?;
    }
    Ok(y)
}

/// MatMul with NumPy's rules, where MXNet has the operator: 2-D × 2-D and N-D × 2-D (`dot`),
/// 3-D × 3-D with one batch size (`batch_dot`).
fn matmul(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&[])?;
    let why = "choose between dot and batch_dot";
    let (sa, sb) = (imp.known_shape(n, 0, why)?, imp.known_shape(n, 1, why)?);
    let op = match (sa.len(), sb.len()) {
        (ra, 2) if ra >= 2 => "dot",
        (3, 3) if sa[0] == sb[0] => "batch_dot",
        _ => {
            return Err(n.error(format!(
                "MatMul of shapes {sa:?} and {sb:?} is not supported (mxr converts 2-D × 2-D, \
                 N-D × 2-D and 3-D × 3-D of one batch size)"
            )));
        }
    };
    let (a, b) = (imp.symbol(n, 0)?, imp.symbol(n, 1)?);
    build(imp, n, op, &[a, b], &[], "")
}

fn flatten(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&["axis"])?;
    let at = n.int("axis", 1)?;
    let shape = if at == 1 {
        None
    } else {
        Some(imp.known_shape(n, 0, "flatten at an axis other than 1")?)
    };
    // ONNX's axis is in [-rank, rank]: negative counts from the back, rank puts everything
    // in the outer dimension.
    let a = match &shape {
        None => 1,
        Some(s) if at < 0 => axis(n, "axis", at, s.len())?,
        Some(s) if at as usize <= s.len() => at as usize,
        Some(s) => return Err(n.attr_error("axis", format!("{at} is beyond rank {}", s.len()))),
    };
    let x = imp.symbol(n, 0)?;
    match shape {
        Some(s) if a != 1 => {
            let outer = checked_product(&s[..a])
                .ok_or_else(|| n.error(format!("input dims {s:?} overflow")))?;
            let target = [outer as i64, -1];
            build(imp, n, "Reshape", &[x], &[("shape", tuple(&target))], "")
        }
        _ => build(imp, n, "Flatten", &[x], &[], ""),
    }
}

/// Add, Sub, Mul, Div: a one-value constant operand makes MXNet's scalar operator, otherwise
/// the broadcasting operator (NumPy's rules on both sides).
fn binary(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&[])?;
    let (scalar, reversed, broadcast) = match n.op {
        "Add" => ("_plus_scalar", "_plus_scalar", "broadcast_add"),
        "Sub" => ("_minus_scalar", "_rminus_scalar", "broadcast_sub"),
        "Mul" => ("_mul_scalar", "_mul_scalar", "broadcast_mul"),
        _ => ("_div_scalar", "_rdiv_scalar", "broadcast_div"),
    };
    let one = |t: Option<&Tensor>| -> Option<f64> {
        let t = t?;
        (t.dims.len() <= 1)
            .then(|| t.as_f64())
            .and_then(|v| match v[..] {
                [x] => Some(x),
                _ => None,
            })
    };
    if let Some(x) = one(imp.constant(n, 1)?) {
        let a = imp.symbol(n, 0)?;
        return build(imp, n, scalar, &[a], &[("scalar", fmt_f64(x))], "");
    }
    if let Some(x) = one(imp.constant(n, 0)?) {
        let b = imp.symbol(n, 1)?;
        return build(imp, n, reversed, &[b], &[("scalar", fmt_f64(x))], "");
    }
    let (a, b) = (imp.symbol(n, 0)?, imp.symbol(n, 1)?);
    build(imp, n, broadcast, &[a, b], &[], "")
}

fn dropout(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&["seed"])?;
    let ratio = scalar_input(imp, n, 1, 0.5)?;
    if scalar_input(imp, n, 2, 0.0)? != 0.0 {
        return Err(n.error("training_mode (input 2) must be false"));
    }
    let x = imp.symbol(n, 0)?;
    build(imp, n, "Dropout", &[x], &[("p", fmt_f64(ratio))], "")
}

/// Softmax and LogSoftmax. From opset 13 along `axis` (default -1), as MXNet's; before, the
/// input is seen as 2-D (`[prod(dims[..axis]), prod(dims[axis..])]`, default axis 1), which
/// MXNet computes as a softmax over the last axis of a reshape.
fn softmax(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&["axis"])?;
    let op = if n.op == "Softmax" {
        "softmax"
    } else {
        "log_softmax"
    };
    let x = imp.symbol(n, 0)?;
    if n.opset >= 13 {
        let at = n.int("axis", -1)?;
        return build(imp, n, op, &[x], &[("axis", at.to_string())], "");
    }
    let at = n.int("axis", 1)?;
    let shape = imp.shape(n, 0)?;
    if at == -1 || shape.as_ref().is_some_and(|s| at + 1 == s.len() as i64) {
        return build(imp, n, op, &[x], &[("axis", "-1".into())], "");
    }
    let shape = shape.ok_or_else(|| {
        n.error(format!(
            "axis {at} before opset 13 flattens the trailing axes, which needs the input's \
             shape; give the graph input a static shape"
        ))
    })?;
    let a = axis(n, "axis", at, shape.len())?;
    let outer = checked_product(&shape[..a])
        .ok_or_else(|| n.error(format!("input dims {shape:?} overflow")))?;
    let flat = build(
        imp,
        n,
        "Reshape",
        &[x],
        &[("shape", tuple(&[outer as i64, -1]))],
        "_flat",
    )?;
    let y = build(imp, n, op, &[flat], &[("axis", "-1".into())], "_2d")?;
    build(imp, n, "Reshape", &[y], &[("shape", tuple(&shape))], "")
}

fn transpose(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&["perm"])?;
    let perm = n.sizes("perm")?.unwrap_or_default();
    let x = imp.symbol(n, 0)?;
    build(imp, n, "transpose", &[x], &[("axes", tuple(&perm))], "")
}

impl Importer<'_> {
    /// `name`, or `name_1`, `name_2`, ... when taken (for a parameter made from a reshaped
    /// constant).
    pub(super) fn fresh_name(&self, name: &str) -> String {
        let mut fresh = name.to_owned();
        let mut i = 1;
        while self.used.contains(&fresh) || self.values.contains_key(&fresh) {
            fresh = format!("{name}_{i}");
            i += 1;
        }
        fresh
    }
}
