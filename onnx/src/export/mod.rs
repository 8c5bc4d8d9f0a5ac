//! mxr → ONNX: a symbol's graph (read from its MXNet JSON) becomes an ONNX graph at opset
//! [`EXPORT_OPSET`]; arguments and auxiliary states become initialisers of the same names;
//! the variables without a value become graph inputs with the shapes given.

mod ops;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use mxr_frontend::nd::NDArray;
use mxr_frontend::sym::Symbol;
use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::proto::tensor_proto::DataType;
use crate::proto::{self, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto};
use crate::proto::{TensorShapeProto, TypeProto, ValueInfoProto};
use crate::tensor::{Tensor, Values};

pub use ops::EXPORTED_OPS;

/// The opset of the default domain that export writes.
pub const EXPORT_OPSET: i64 = 13;

/// Writes `symbol` with its parameters as an ONNX model at `path`; `input_shapes` gives the
/// shape of every data input (the variables without a value in `args` or `aux`) that the
/// graph reads. Inputs that only loss operators read (SoftmaxOutput's label) are left out.
///
/// ```no_run
/// let (net, args, aux) = mxr_frontend::sym::load_checkpoint("lenet", 0)?;
/// mxr_onnx::export(&net, &args, &aux, &[("data", &[1, 1, 28, 28])], "lenet.onnx")?;
/// # Ok::<(), mxr_onnx::Error>(())
/// ```
pub fn export(
    symbol: &Symbol,
    args: &[(String, NDArray)],
    aux: &[(String, NDArray)],
    input_shapes: &[(&str, &[usize])],
    path: impl AsRef<Path>,
) -> Result<()> {
    let model = export_model(symbol, args, aux, input_shapes)?;
    proto::write_model(&model, path.as_ref())
}

/// [`export`] without the file: the ONNX model.
pub fn export_model(
    symbol: &Symbol,
    args: &[(String, NDArray)],
    aux: &[(String, NDArray)],
    input_shapes: &[(&str, &[usize])],
) -> Result<ModelProto> {
    let json: Json = serde_json::from_str(&symbol.to_json()?)
        .map_err(|e| Error::Model(format!("the symbol's JSON does not parse: {e}")))?;
    let params: HashMap<&str, &NDArray> = args
        .iter()
        .chain(aux)
        .map(|(n, a)| (n.as_str(), a))
        .collect();
    let shapes = internal_shapes(symbol, &params, input_shapes)?;
    let mut ex = Exporter {
        nodes: Vec::new(),
        initializers: Vec::new(),
        fixed: HashMap::new(),
        shapes,
    };
    let graph_nodes = json["nodes"]
        .as_array()
        .ok_or_else(|| Error::Model("the symbol's JSON has no nodes".into()))?;
    let parsed: Vec<JsonNode> = graph_nodes
        .iter()
        .map(JsonNode::parse)
        .collect::<Result<_>>()?;
    for (id, node) in parsed.iter().enumerate() {
        if node.op != "null" {
            ops::convert(&mut ex, &parsed, id)?;
        }
    }
    let used: HashSet<&str> = ex
        .nodes
        .iter()
        .flat_map(|n| n.input.iter().map(String::as_str))
        .collect();
    let mut inputs = Vec::new();
    let mut initializers = Vec::new();
    for node in parsed.iter().filter(|n| n.op == "null") {
        if !used.contains(node.name.as_str()) {
            continue;
        }
        if let Some(array) = params.get(node.name.as_str()) {
            let t = match ex.fixed.get(&node.name) {
                Some(t) => t.clone(),
                None => Tensor::from_ndarray(&node.name, array)?,
            };
            initializers.push(t.to_proto(&node.name));
        } else {
            let dims = input_shapes
                .iter()
                .find(|(n, _)| *n == node.name)
                .map(|(_, d)| d.to_vec())
                .ok_or_else(|| {
                    Error::Model(format!(
                        "input {:?} has no value in the parameters and no shape given",
                        node.name
                    ))
                })?;
            inputs.push(value_info(&node.name, &dims));
        }
    }
    initializers.append(&mut ex.initializers);
    let heads = json["heads"]
        .as_array()
        .ok_or_else(|| Error::Model("the symbol's JSON has no heads".into()))?;
    let (_, out_shapes, _) = symbol.infer_shape(&known(symbol, &params, input_shapes))?;
    let mut outputs = Vec::new();
    for (head, dims) in heads.iter().zip(&out_shapes) {
        let (id, index) = entry(head)?;
        let node = parsed
            .get(id)
            .ok_or_else(|| Error::Model(format!("head {head} names no node")))?;
        outputs.push(value_info(&node.output(index), dims));
    }
    Ok(ModelProto {
        ir_version: Some(proto::IR_VERSION),
        producer_name: Some("mxr".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(EXPORT_OPSET),
        }],
        graph: Some(GraphProto {
            name: Some("mxr".into()),
            node: ex.nodes,
            initializer: initializers,
            input: inputs,
            output: outputs,
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The shapes the symbol's variables are known to have: the given inputs and the parameters.
fn known<'a>(
    symbol: &Symbol,
    params: &'a HashMap<&str, &NDArray>,
    input_shapes: &[(&'a str, &'a [usize])],
) -> Vec<(&'a str, &'a [usize])> {
    let inputs: HashSet<String> = symbol.list_inputs().into_iter().collect();
    input_shapes
        .iter()
        .copied()
        .chain(params.iter().map(|(n, a)| (*n, a.shape())))
        .filter(|(n, _)| inputs.contains(*n))
        .collect()
}

/// Every internal output's shape by name (`fc1_output`, variables by their names), as far as
/// inference fixes it.
fn internal_shapes(
    symbol: &Symbol,
    params: &HashMap<&str, &NDArray>,
    input_shapes: &[(&str, &[usize])],
) -> Result<HashMap<String, Vec<usize>>> {
    let internals = symbol.get_internals();
    let (_, outs, _) = internals.infer_shape_partial(&known(symbol, params, input_shapes))?;
    Ok(internals.list_outputs().into_iter().zip(outs).collect())
}

/// One node of the symbol's JSON.
#[derive(Debug)]
pub(crate) struct JsonNode {
    pub(crate) op: String,
    pub(crate) name: String,
    pub(crate) attrs: HashMap<String, String>,
    /// Inputs as (node id, output index).
    pub(crate) inputs: Vec<(usize, usize)>,
}

fn entry(e: &Json) -> Result<(usize, usize)> {
    let field = |i: usize| e.get(i).and_then(Json::as_u64).map(|x| x as usize);
    match (field(0), field(1)) {
        (Some(id), Some(index)) => Ok((id, index)),
        _ => Err(Error::Model(format!(
            "malformed node entry {e} in the symbol's JSON"
        ))),
    }
}

impl JsonNode {
    fn parse(v: &Json) -> Result<JsonNode> {
        let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let attrs = v["attrs"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let inputs = v["inputs"]
            .as_array()
            .map(|l| l.iter().map(entry).collect::<Result<Vec<_>>>())
            .transpose()?
            .unwrap_or_default();
        Ok(JsonNode {
            op: text("op"),
            name: text("name"),
            attrs,
            inputs,
        })
    }

    /// The ONNX value name of output `index`: a variable's or node's name, `name_output1`
    /// past the first.
    pub(crate) fn output(&self, index: usize) -> String {
        if index == 0 {
            self.name.clone()
        } else {
            format!("{}_output{index}", self.name)
        }
    }
}

/// The state of one export.
pub(crate) struct Exporter {
    pub(crate) nodes: Vec<NodeProto>,
    /// Initialisers the conversion adds (scalars, shapes, bounds).
    pub(crate) initializers: Vec<TensorProto>,
    /// Parameters written with other values than given (BatchNorm's gamma under
    /// `fix_gamma`: ones).
    pub(crate) fixed: HashMap<String, Tensor>,
    pub(crate) shapes: HashMap<String, Vec<usize>>,
}

impl Exporter {
    /// Adds an initialiser `name` of float32 `values` with `dims`.
    pub(crate) fn float_init(&mut self, name: &str, dims: Vec<usize>, values: Vec<f32>) {
        let t = Tensor {
            dims,
            values: Values::F32(values),
        };
        self.initializers.push(t.to_proto(name));
    }

    /// Adds a 0-D int64 initialiser `name` holding `value`.
    pub(crate) fn scalar_int_init(&mut self, name: &str, value: i64) {
        let t = Tensor {
            dims: vec![],
            values: Values::I64(vec![value]),
        };
        self.initializers.push(t.to_proto(name));
    }

    /// Adds an initialiser `name` of int64 `values` (a 1-D list).
    pub(crate) fn int_init(&mut self, name: &str, values: Vec<i64>) {
        let t = Tensor {
            dims: vec![values.len()],
            values: Values::I64(values),
        };
        self.initializers.push(t.to_proto(name));
    }
}

/// A float32 tensor value of `dims`.
fn value_info(name: &str, dims: &[usize]) -> ValueInfoProto {
    use proto::tensor_shape_proto::{Dimension, dimension};
    use proto::type_proto;
    let dim = dims
        .iter()
        .map(|&d| Dimension {
            value: Some(dimension::Value::DimValue(d as i64)),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.to_owned()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}
