//! The conversions of export, one function per MXNet operator family: each reads the node's
//! MXNet attributes (with MXNet's defaults) and appends the ONNX nodes that compute the same.

mod deconv;
mod layer_norm;
mod refused;
mod select;
mod shape;

use super::{Exporter, JsonNode};
use crate::error::{Error, Result};
use crate::proto::attribute_proto::AttributeType;
use crate::proto::{AttributeProto, NodeProto};
use crate::tensor::{Tensor, Values};

/// The registry operators export converts.
pub const EXPORTED_OPS: &[&str] = &[
    "Activation",
    "BatchNorm",
    "Cast",
    "Concat",
    "Convolution",
    "Deconvolution",
    "Dropout",
    "Embedding",
    "Flatten",
    "FullyConnected",
    "LayerNorm",
    "LeakyReLU",
    "LinearRegressionOutput",
    "LogisticRegressionOutput",
    "MAERegressionOutput",
    "MakeLoss",
    "Pad",
    "Pooling",
    "Reshape",
    "SliceChannel",
    "SoftmaxOutput",
    "_copy",
    "_div_scalar",
    "_maximum",
    "_minimum",
    "_minus_scalar",
    "_mul_scalar",
    "_plus_scalar",
    "_power_scalar",
    "_rdiv_scalar",
    "_rminus_scalar",
    "abs",
    "argmax",
    "argmin",
    "batch_dot",
    "broadcast_add",
    "broadcast_div",
    "broadcast_maximum",
    "broadcast_minimum",
    "broadcast_mul",
    "broadcast_sub",
    "broadcast_to",
    "clip",
    "dot",
    "elemwise_add",
    "elemwise_div",
    "elemwise_mul",
    "elemwise_sub",
    "exp",
    "expand_dims",
    "hard_sigmoid",
    "log",
    "log_softmax",
    "max",
    "mean",
    "min",
    "negative",
    "one_hot",
    "ones_like",
    "pick",
    "relu",
    "reshape_like",
    "sigmoid",
    "slice",
    "slice_axis",
    "softmax",
    "sqrt",
    "square",
    "squeeze",
    "sum",
    "take",
    "tanh",
    "transpose",
    "where",
    "zeros_like",
];

/// One MXNet node being converted, with the graph it reads from.
struct Ctx<'a> {
    node: &'a JsonNode,
    all: &'a [JsonNode],
}

impl Ctx<'_> {
    fn error(&self, reason: impl Into<String>) -> Error {
        Error::Node {
            node: self.node.name.clone(),
            op: self.node.op.clone(),
            reason: reason.into(),
        }
    }

    /// The ONNX value name of input `i`.
    fn input(&self, i: usize) -> Result<String> {
        let &(id, index) = self
            .node
            .inputs
            .get(i)
            .ok_or_else(|| self.error(format!("input {i} is missing")))?;
        let src = self
            .all
            .get(id)
            .ok_or_else(|| self.error(format!("input {i} names node {id}, which is absent")))?;
        Ok(src.output(index))
    }

    /// Input `i`'s shape, when inference fixed it.
    fn input_shape<'s>(&self, ex: &'s Exporter, i: usize) -> Option<&'s Vec<usize>> {
        let &(id, index) = self.node.inputs.get(i)?;
        let src = self.all.get(id)?;
        let key = if src.op == "null" {
            src.name.clone()
        } else if index == 0 {
            format!("{}_output", src.name)
        } else {
            format!("{}_output{index}", src.name)
        };
        ex.shapes.get(&key)
    }

    fn attr(&self, key: &str) -> Option<&str> {
        self.node.attrs.get(key).map(String::as_str)
    }

    fn flag(&self, key: &str, default: bool) -> Result<bool> {
        match self.attr(key) {
            None => Ok(default),
            Some("True" | "true" | "1") => Ok(true),
            Some("False" | "false" | "0") => Ok(false),
            Some(v) => Err(self.error(format!("attribute {key}={v:?} is not a boolean"))),
        }
    }

    fn float(&self, key: &str, default: f32) -> Result<f32> {
        self.attr(key).map_or(Ok(default), |v| {
            v.trim()
                .parse()
                .map_err(|_| self.error(format!("attribute {key}={v:?} is not a number")))
        })
    }

    fn int(&self, key: &str, default: i64) -> Result<i64> {
        self.attr(key).map_or(Ok(default), |v| {
            v.trim()
                .parse()
                .map_err(|_| self.error(format!("attribute {key}={v:?} is not an integer")))
        })
    }

    /// A tuple attribute (`(3, 3)`, `[1, 1]`, `(2,)`), `None` entries dropped; `None` when
    /// absent.
    fn tuple(&self, key: &str) -> Result<Option<Vec<i64>>> {
        Ok(self
            .opt_tuple(key)?
            .map(|v| v.into_iter().flatten().collect()))
    }

    /// A tuple attribute whose entries may be `None` (`(1, None, -2)`); `None` when absent.
    fn opt_tuple(&self, key: &str) -> Result<Option<Vec<Option<i64>>>> {
        let Some(v) = self.attr(key) else {
            return Ok(None);
        };
        let inner = v
            .trim()
            .trim_start_matches(['(', '['])
            .trim_end_matches([')', ']']);
        inner
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| match s {
                "None" => Ok(None),
                s => s.parse::<i64>().map(Some),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
            .map_err(|_| self.error(format!("attribute {key}={v:?} is not a tuple of integers")))
    }

    /// A per-spatial-axis tuple (`stride`, `dilate`, `pad`), `fill` per axis when absent.
    fn spatial(&self, key: &str, k: usize, fill: i64) -> Result<Vec<i64>> {
        let v = self.tuple(key)?.filter(|v| !v.is_empty());
        match v {
            None => Ok(vec![fill; k]),
            Some(v) if v.len() == k => Ok(v),
            Some(v) => Err(self.error(format!("attribute {key}={v:?} does not have {k} values"))),
        }
    }

    /// Appends ONNX node `op` computing this node's first output.
    fn emit(&self, ex: &mut Exporter, op: &str, inputs: Vec<String>, attrs: Vec<AttributeProto>) {
        let out = self.node.output(0);
        self.emit_as(ex, op, inputs, attrs, &out);
    }

    /// Appends a helper ONNX node whose output is `output`.
    fn emit_as(
        &self,
        ex: &mut Exporter,
        op: &str,
        inputs: Vec<String>,
        attrs: Vec<AttributeProto>,
        output: &str,
    ) {
        ex.nodes.push(NodeProto {
            name: Some(output.to_owned()),
            op_type: Some(op.to_owned()),
            input: inputs,
            output: vec![output.to_owned()],
            attribute: attrs,
            ..Default::default()
        });
    }

    /// A helper value's name, derived from the node's.
    fn helper(&self, what: &str) -> String {
        format!("{}_{what}", self.node.name)
    }
}

fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(i),
        ..Default::default()
    }
}

fn ints_attr(name: &str, ints: Vec<i64>) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints,
        ..Default::default()
    }
}

fn float_attr(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(f),
        ..Default::default()
    }
}

/// Appends the ONNX nodes for JSON node `id` of `all`.
pub(super) fn convert(ex: &mut Exporter, all: &[JsonNode], id: usize) -> Result<()> {
    let c = Ctx {
        node: &all[id],
        all,
    };
    let unary = |ex: &mut Exporter, op: &str| -> Result<()> {
        c.emit(ex, op, vec![c.input(0)?], vec![]);
        Ok(())
    };
    match c.node.op.as_str() {
        "Convolution" => conv(ex, &c),
        "Deconvolution" => deconv::deconvolution(ex, &c),
        "LayerNorm" => layer_norm::layer_norm(ex, &c),
        "BatchNorm" => batch_norm(ex, &c),
        "Activation" => {
            let op = match c.attr("act_type").unwrap_or_default() {
                "relu" => "Relu",
                "sigmoid" => "Sigmoid",
                "tanh" => "Tanh",
                "softrelu" => "Softplus",
                "softsign" => "Softsign",
                other => return Err(c.error(format!("act_type {other:?} has no ONNX export"))),
            };
            unary(ex, op)
        }
        "relu" => unary(ex, "Relu"),
        "sigmoid" | "LogisticRegressionOutput" => unary(ex, "Sigmoid"),
        "tanh" => unary(ex, "Tanh"),
        "exp" => unary(ex, "Exp"),
        "log" => unary(ex, "Log"),
        "sqrt" => unary(ex, "Sqrt"),
        "abs" => unary(ex, "Abs"),
        "negative" => unary(ex, "Neg"),
        "_copy" | "identity" | "LinearRegressionOutput" | "MAERegressionOutput" | "MakeLoss" => {
            unary(ex, "Identity")
        }
        "Flatten" | "flatten" => unary(ex, "Flatten"),
        "LeakyReLU" => {
            let slope = c.float("slope", 0.25)?;
            let op = match c.attr("act_type").unwrap_or("leaky") {
                "leaky" => "LeakyRelu",
                "elu" => "Elu",
                other => return Err(c.error(format!("act_type {other:?} has no ONNX export"))),
            };
            c.emit(ex, op, vec![c.input(0)?], vec![float_attr("alpha", slope)]);
            Ok(())
        }
        "clip" => {
            let (lo, hi) = (c.helper("min"), c.helper("max"));
            ex.float_init(&lo, vec![], vec![c.float("a_min", 0.0)?]);
            ex.float_init(&hi, vec![], vec![c.float("a_max", 0.0)?]);
            c.emit(ex, "Clip", vec![c.input(0)?, lo, hi], vec![]);
            Ok(())
        }
        "Pooling" => pool(ex, &c),
        "FullyConnected" => fully_connected(ex, &c),
        "Reshape" | "reshape" => reshape(ex, &c),
        "elemwise_add" | "broadcast_add" | "broadcast_plus" | "_plus" | "_Plus" | "_add" => {
            binary(ex, &c, "Add")
        }
        "elemwise_sub" | "broadcast_sub" | "broadcast_minus" | "_minus" | "_Minus" | "_sub" => {
            binary(ex, &c, "Sub")
        }
        "elemwise_mul" | "broadcast_mul" | "_mul" | "_Mul" => binary(ex, &c, "Mul"),
        "elemwise_div" | "broadcast_div" | "_div" | "_Div" => binary(ex, &c, "Div"),
        "_plus_scalar" => scalar(ex, &c, "Add", false),
        "_minus_scalar" => scalar(ex, &c, "Sub", false),
        "_rminus_scalar" => scalar(ex, &c, "Sub", true),
        "_mul_scalar" => scalar(ex, &c, "Mul", false),
        "_div_scalar" => scalar(ex, &c, "Div", false),
        "_rdiv_scalar" => scalar(ex, &c, "Div", true),
        "Concat" | "concat" => {
            let count = c.node.inputs.len();
            let inputs = (0..count).map(|i| c.input(i)).collect::<Result<_>>()?;
            c.emit(
                ex,
                "Concat",
                inputs,
                vec![int_attr("axis", c.int("dim", 1)?)],
            );
            Ok(())
        }
        "Dropout" => {
            if c.tuple("axes")?.is_some_and(|a| !a.is_empty()) {
                return Err(c.error("Dropout with axes has no ONNX export"));
            }
            let ratio = c.helper("ratio");
            ex.float_init(&ratio, vec![], vec![c.float("p", 0.5)?]);
            c.emit(ex, "Dropout", vec![c.input(0)?, ratio], vec![]);
            Ok(())
        }
        "softmax" | "log_softmax" => {
            if c.attr("temperature").is_some_and(|t| t != "None") {
                return Err(c.error("softmax with a temperature has no ONNX export"));
            }
            let op = if c.node.op == "softmax" {
                "Softmax"
            } else {
                "LogSoftmax"
            };
            let axis = vec![int_attr("axis", c.int("axis", -1)?)];
            c.emit(ex, op, vec![c.input(0)?], axis);
            Ok(())
        }
        "SoftmaxOutput" => softmax_output(ex, &c),
        "transpose" => {
            let axes = c.tuple("axes")?.unwrap_or_default();
            let attrs = if axes.is_empty() {
                vec![]
            } else {
                vec![ints_attr("perm", axes)]
            };
            c.emit(ex, "Transpose", vec![c.input(0)?], attrs);
            Ok(())
        }
        "dot" => dot(ex, &c),
        "batch_dot" => batch_dot(ex, &c),
        "sum" | "mean" | "max" | "min" => reduce(ex, &c),
        "slice_axis" => {
            let names = ["starts", "ends", "axes"].map(|w| c.helper(w));
            let end = match c.attr("end") {
                None | Some("None") => i64::MAX,
                Some(_) => c.int("end", 0)?,
            };
            let values = [c.int("begin", 0)?, end, c.int("axis", 0)?];
            for (name, v) in names.iter().zip(values) {
                ex.int_init(name, vec![v]);
            }
            let [starts, ends, axes] = names;
            c.emit(ex, "Slice", vec![c.input(0)?, starts, ends, axes], vec![]);
            Ok(())
        }
        "hard_sigmoid" => {
            let attrs = vec![
                float_attr("alpha", c.float("alpha", 0.2)?),
                float_attr("beta", c.float("beta", 0.5)?),
            ];
            c.emit(ex, "HardSigmoid", vec![c.input(0)?], attrs);
            Ok(())
        }
        "square" => {
            let x = c.input(0)?;
            c.emit(ex, "Mul", vec![x.clone(), x], vec![]);
            Ok(())
        }
        "_power_scalar" => scalar(ex, &c, "Pow", false),
        "SliceChannel" | "split" => split(ex, &c),
        "Embedding" => select::embedding(ex, &c),
        "where" => select::where_(ex, &c),
        "argmax" | "argmin" => select::arg_reduce(ex, &c),
        "one_hot" => select::one_hot(ex, &c),
        "broadcast_to" => select::broadcast_to(ex, &c),
        "broadcast_maximum" | "_maximum" => binary(ex, &c, "Max"),
        "broadcast_minimum" | "_minimum" => binary(ex, &c, "Min"),
        "pick" => select::pick(ex, &c),
        "take" => select::take(ex, &c),
        "Cast" | "cast" => shape::cast(ex, &c),
        "Pad" | "pad" => shape::pad(ex, &c),
        "slice" | "crop" => shape::slice(ex, &c),
        "squeeze" => shape::squeeze(ex, &c),
        "reshape_like" => shape::reshape_like(ex, &c),
        "ones_like" => shape::fill_like(ex, &c, 1.0),
        "zeros_like" => shape::fill_like(ex, &c, 0.0),
        "expand_dims" => {
            let axes = c.helper("axes");
            ex.int_init(&axes, vec![c.int("axis", 0)?]);
            c.emit(ex, "Unsqueeze", vec![c.input(0)?, axes], vec![]);
            Ok(())
        }
        other => Err(c.error(match refused::reason(other) {
            Some(why) => format!("operator {other} has no ONNX export: {why}"),
            None => format!(
                "operator {other} has no ONNX export in mxr (it converts {})",
                EXPORTED_OPS.join(", ")
            ),
        })),
    }
}

/// A convolution's kernel, in a channel-first layout (the only one ONNX's Conv and
/// ConvTranspose have).
fn conv_kernel(c: &Ctx<'_>) -> Result<Vec<i64>> {
    if !matches!(
        c.attr("layout"),
        None | Some("None" | "NCW" | "NCHW" | "NCDHW")
    ) {
        return Err(c.error("only channel-first layouts (NCW, NCHW, NCDHW) export"));
    }
    c.tuple("kernel")?
        .ok_or_else(|| c.error("attribute kernel is missing"))
}

fn conv(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let kernel = conv_kernel(c)?;
    let k = kernel.len();
    let pad = c.spatial("pad", k, 0)?;
    let mut inputs = vec![c.input(0)?, c.input(1)?];
    if !c.flag("no_bias", false)? {
        inputs.push(c.input(2)?);
    }
    let attrs = vec![
        ints_attr("kernel_shape", kernel),
        ints_attr("strides", c.spatial("stride", k, 1)?),
        ints_attr("dilations", c.spatial("dilate", k, 1)?),
        ints_attr("pads", [pad.clone(), pad].concat()),
        int_attr("group", c.int("num_group", 1)?),
    ];
    c.emit(ex, "Conv", inputs, attrs);
    Ok(())
}

fn batch_norm(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    if c.int("axis", 1)? != 1 {
        return Err(c.error("only axis 1 (channels first) exports"));
    }
    if c.flag("output_mean_var", false)? {
        return Err(c.error("output_mean_var has no ONNX export"));
    }
    let inputs = (0..5).map(|i| c.input(i)).collect::<Result<Vec<_>>>()?;
    if c.flag("fix_gamma", true)? {
        // MXNet computes with gamma = 1 whatever the parameter holds.
        let dims = c
            .input_shape(ex, 1)
            .cloned()
            .ok_or_else(|| c.error("the shape of gamma is unknown"))?;
        let ones = vec![1.0; dims.iter().product()];
        let t = Tensor {
            dims,
            values: Values::F32(ones),
        };
        ex.fixed.insert(inputs[1].clone(), t);
    }
    let attrs = vec![
        float_attr("epsilon", c.float("eps", 1e-3)?),
        float_attr("momentum", c.float("momentum", 0.9)?),
    ];
    c.emit(ex, "BatchNormalization", inputs, attrs);
    Ok(())
}

fn pool(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let pool_type = c.attr("pool_type").unwrap_or("max");
    let max = match pool_type {
        "max" => true,
        "avg" => false,
        other => return Err(c.error(format!("pool_type {other:?} has no ONNX export"))),
    };
    let x = c.input(0)?;
    if c.flag("global_pool", false)? {
        let op = if max {
            "GlobalMaxPool"
        } else {
            "GlobalAveragePool"
        };
        c.emit(ex, op, vec![x], vec![]);
        return Ok(());
    }
    let kernel = c
        .tuple("kernel")?
        .ok_or_else(|| c.error("attribute kernel is missing"))?;
    let k = kernel.len();
    let pad = c.spatial("pad", k, 0)?;
    let ceil = match c.attr("pooling_convention").unwrap_or("valid") {
        "valid" => 0,
        "full" => 1,
        other => {
            return Err(c.error(format!("pooling_convention {other:?} has no ONNX export")));
        }
    };
    let mut attrs = vec![
        ints_attr("kernel_shape", kernel),
        ints_attr("strides", c.spatial("stride", k, 1)?),
        ints_attr("pads", [pad.clone(), pad].concat()),
        int_attr("ceil_mode", ceil),
    ];
    if !max {
        let include = c.flag("count_include_pad", true)?;
        attrs.push(int_attr("count_include_pad", i64::from(include)));
    }
    let op = if max { "MaxPool" } else { "AveragePool" };
    c.emit(ex, op, vec![x], attrs);
    Ok(())
}

/// FullyConnected: `Gemm(x, W, b, transB=1)`, after a `Flatten` when the input is not 2-D
/// (`flatten=True`, MXNet's default); with `flatten=False`, `MatMul(x, Wᵀ) + b`.
fn fully_connected(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let no_bias = c.flag("no_bias", false)?;
    let mut x = c.input(0)?;
    let w = c.input(1)?;
    let bias = (!no_bias).then(|| c.input(2)).transpose()?;
    if c.flag("flatten", true)? {
        if c.input_shape(ex, 0).is_none_or(|s| s.len() != 2) {
            let flat = c.helper("flatten");
            c.emit_as(ex, "Flatten", vec![x], vec![], &flat);
            x = flat;
        }
        let mut inputs = vec![x, w];
        inputs.extend(bias);
        c.emit(ex, "Gemm", inputs, vec![int_attr("transB", 1)]);
        return Ok(());
    }
    let wt = c.helper("weight_t");
    c.emit_as(ex, "Transpose", vec![w], vec![], &wt);
    match bias {
        None => c.emit(ex, "MatMul", vec![x, wt], vec![]),
        Some(b) => {
            let product = c.helper("matmul");
            c.emit_as(ex, "MatMul", vec![x, wt], vec![], &product);
            c.emit(ex, "Add", vec![product, b], vec![]);
        }
    }
    Ok(())
}

/// Reshape: MXNet's `0` and `-1` mean what ONNX's do; other special codes (`-2`, `-3`,
/// `-4`, `reverse`) export as the inferred output shape.
fn reshape(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let target = c
        .tuple("shape")?
        .ok_or_else(|| c.error("attribute shape is missing"))?;
    let plain = target.iter().all(|&d| d >= -1) && !c.flag("reverse", false)?;
    let dims = if plain {
        target
    } else {
        ex.shapes
            .get(&format!("{}_output", c.node.name))
            .map(|d| d.iter().map(|&x| x as i64).collect())
            .ok_or_else(|| {
                c.error(format!(
                    "shape {target:?} uses MXNet's special codes and the output shape is not \
                     known; give the input shapes"
                ))
            })?
    };
    let shape = c.helper("shape");
    ex.int_init(&shape, dims);
    c.emit(ex, "Reshape", vec![c.input(0)?, shape], vec![]);
    Ok(())
}

fn binary(ex: &mut Exporter, c: &Ctx<'_>, op: &str) -> Result<()> {
    c.emit(ex, op, vec![c.input(0)?, c.input(1)?], vec![]);
    Ok(())
}

/// A scalar operator: the ONNX binary operator with a float32 scalar initialiser, on the
/// left for the reversed ones (`_rminus_scalar`: `scalar - x`).
fn scalar(ex: &mut Exporter, c: &Ctx<'_>, op: &str, reversed: bool) -> Result<()> {
    let s = c.helper("scalar");
    ex.float_init(&s, vec![], vec![c.float("scalar", 0.0)?]);
    let x = c.input(0)?;
    let inputs = if reversed { vec![s, x] } else { vec![x, s] };
    c.emit(ex, op, inputs, vec![]);
    Ok(())
}

/// SoftmaxOutput at inference: the softmax over axis 1 (the label is not exported).
fn softmax_output(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let rank = c.input_shape(ex, 0).map(Vec::len);
    let multi = c.flag("multi_output", false)?;
    if !multi && rank.is_some_and(|r| r != 2) && !c.flag("preserve_shape", false)? {
        return Err(c.error(format!(
            "SoftmaxOutput on a {}-D input without multi_output flattens it, which mxr does \
             not export",
            rank.unwrap_or_default()
        )));
    }
    let axis = if c.flag("preserve_shape", false)? {
        -1
    } else {
        1
    };
    c.emit(
        ex,
        "Softmax",
        vec![c.input(0)?],
        vec![int_attr("axis", axis)],
    );
    Ok(())
}

fn dot(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let (ta, tb) = (c.flag("transpose_a", false)?, c.flag("transpose_b", false)?);
    let (a, b) = (c.input(0)?, c.input(1)?);
    if !ta && !tb {
        c.emit(ex, "MatMul", vec![a, b], vec![]);
        return Ok(());
    }
    let two_d = |i| c.input_shape(ex, i).is_some_and(|s| s.len() == 2);
    if !(two_d(0) && two_d(1)) {
        return Err(c.error("dot with transposes exports only on 2-D operands of known shape"));
    }
    let attrs = vec![
        int_attr("transA", i64::from(ta)),
        int_attr("transB", i64::from(tb)),
    ];
    c.emit(ex, "Gemm", vec![a, b], attrs);
    Ok(())
}

fn batch_dot(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let mut operands = Vec::new();
    for (i, key) in [(0, "transpose_a"), (1, "transpose_b")] {
        let x = c.input(i)?;
        operands.push(if c.flag(key, false)? {
            let t = c.helper(&format!("{key}_t"));
            c.emit_as(
                ex,
                "Transpose",
                vec![x],
                vec![ints_attr("perm", vec![0, 2, 1])],
                &t,
            );
            t
        } else {
            x
        });
    }
    c.emit(ex, "MatMul", operands, vec![]);
    Ok(())
}

/// sum, mean, max, min: ReduceSum (its axes an input at opset 13), ReduceMean, ReduceMax,
/// ReduceMin (axes an attribute); no axes reduces all.
fn reduce(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    if c.flag("exclude", false)? {
        return Err(c.error("exclude=True has no ONNX export"));
    }
    let axes = c.tuple("axis")?.filter(|a| !a.is_empty());
    let keep = int_attr("keepdims", i64::from(c.flag("keepdims", false)?));
    let mut inputs = vec![c.input(0)?];
    let mut attrs = vec![keep];
    let op = match c.node.op.as_str() {
        "sum" => {
            if let Some(axes) = axes {
                let name = c.helper("axes");
                ex.int_init(&name, axes);
                inputs.push(name);
            }
            "ReduceSum"
        }
        op => {
            attrs.extend(axes.map(|a| ints_attr("axes", a)));
            match op {
                "mean" => "ReduceMean",
                "max" => "ReduceMax",
                _ => "ReduceMin",
            }
        }
    };
    c.emit(ex, op, inputs, attrs);
    Ok(())
}

/// SliceChannel: Split into equal pieces (opset 13 splits equally without `split`).
fn split(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    if c.flag("squeeze_axis", false)? {
        return Err(c.error("squeeze_axis=True has no ONNX export in mxr"));
    }
    let pieces = c.int("num_outputs", 1)?;
    let outputs = (0..pieces as usize).map(|i| c.node.output(i)).collect();
    ex.nodes.push(NodeProto {
        name: Some(c.node.name.clone()),
        op_type: Some("Split".into()),
        input: vec![c.input(0)?],
        output: outputs,
        attribute: vec![int_attr("axis", c.int("axis", 1)?)],
        ..Default::default()
    });
    Ok(())
}
