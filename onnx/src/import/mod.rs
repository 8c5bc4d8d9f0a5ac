//! ONNX → mxr: a model's graph becomes a [`Symbol`] of registry operators, its initialisers
//! the parameters (arguments and auxiliary states) of an MXNet checkpoint.
//!
//! The walk keeps, for every ONNX value name, either a symbol or a constant tensor
//! (initialisers, `Constant` nodes, and what folds from them). A constant becomes a parameter
//! variable of the same name only when an operator takes it as a tensor input; operators that
//! read a constant as an attribute (Reshape's shape, Clip's bounds, Dropout's ratio) fold it
//! instead.

mod fold;
mod layer_norm;
mod node;
mod ops;
mod reduce;
mod select;
mod spatial;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use mxr_frontend::nd::NDArray;
use mxr_frontend::sym::{NamedArrays, Symbol};

use crate::error::{Error, Result};
use crate::proto::{self, GraphProto, ModelProto, ValueInfoProto};
use crate::tensor::{self, Tensor};

use node::Node;
pub use ops::IMPORTED_OPS;

/// The opsets of the default domain that import reads.
pub const IMPORT_OPSETS: std::ops::RangeInclusive<i64> = 11..=19;

/// Reads the ONNX model at `path` as a symbol with its parameters, as
/// [`load_checkpoint`](mxr_frontend::sym::load_checkpoint) returns a checkpoint: the symbol,
/// then the arguments and the auxiliary states by name, in the symbol's order.
///
/// Graph inputs become variables of the same names; initialisers become parameters named as
/// in the file (BatchNormalization's statistics auxiliary states), except those folded into
/// an operator's attributes. External data loads from beside the model.
///
/// ```no_run
/// let (net, args, aux) = mxr_onnx::import("mlp.onnx")?;
/// println!("{:?} {} {}", net.list_arguments(), args.len(), aux.len());
/// # Ok::<(), mxr_onnx::Error>(())
/// ```
pub fn import(path: impl AsRef<Path>) -> Result<(Symbol, NamedArrays, NamedArrays)> {
    let path = path.as_ref();
    let model = proto::read_model(path)?;
    import_model(model, path.parent())
}

/// [`import`] on a decoded model; `base` is the directory external data is read from
/// (`None`: a model with external data is an error). The model is consumed: each initialiser's
/// data moves into its parameter, so that the weights are held about once.
pub fn import_model(
    mut model: ModelProto,
    base: Option<&Path>,
) -> Result<(Symbol, NamedArrays, NamedArrays)> {
    let opset = default_opset(&model)?;
    let mut graph = model
        .graph
        .take()
        .ok_or_else(|| Error::Model("the model has no graph".into()))?;
    let mut importer = Importer::new(&mut graph, base)?;
    for n in &graph.node {
        let node = Node::new(n, opset);
        importer.convert(&node)?;
    }
    importer.finish(&graph)
}

/// The version of the default (`ai.onnx`) opset the model imports, within [`IMPORT_OPSETS`].
fn default_opset(model: &ModelProto) -> Result<i64> {
    let version = model
        .opset_import
        .iter()
        .find(|o| matches!(o.domain(), "" | "ai.onnx"))
        .map(|o| o.version())
        .ok_or_else(|| Error::Model("no opset of the default domain (ai.onnx) imported".into()))?;
    if !IMPORT_OPSETS.contains(&version) {
        return Err(Error::Model(format!(
            "opset {version} of ai.onnx is not supported (mxr imports opsets {} to {})",
            IMPORT_OPSETS.start(),
            IMPORT_OPSETS.end()
        )));
    }
    Ok(version)
}

/// What an ONNX value name stands for during the walk.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// An output of the graph built so far.
    Symbol(Symbol),
    /// A value known at import time.
    Const(Tensor),
}

/// The state of one import.
struct Importer<'a> {
    base: Option<&'a Path>,
    values: HashMap<String, Value>,
    /// Parameters made from constants, by variable name.
    params: HashMap<String, NDArray>,
    /// Known shapes of the graph's variables (inputs and parameters), `0` for unknown dims.
    shapes: HashMap<String, Vec<usize>>,
    /// Names given to nodes and variables so far.
    used: HashSet<String>,
    /// Values cast to BOOL from computed data: kept as they are (nonzero is true), which only
    /// Where's condition may read.
    truthy: HashSet<String>,
}

impl<'a> Importer<'a> {
    /// Takes the graph's initialisers (decoded one by one, each proto dropped once decoded).
    fn new(graph: &mut GraphProto, base: Option<&'a Path>) -> Result<Importer<'a>> {
        let mut imp = Importer {
            base,
            values: HashMap::new(),
            params: HashMap::new(),
            shapes: HashMap::new(),
            used: HashSet::new(),
            truthy: HashSet::new(),
        };
        for init in std::mem::take(&mut graph.initializer) {
            let t = tensor::decode(&init, imp.base)?;
            imp.values.insert(init.name().to_owned(), Value::Const(t));
        }
        // An initialiser also listed as an input is a parameter, not a data input.
        for input in &graph.input {
            let name = input.name();
            if imp.values.contains_key(name) {
                continue;
            }
            if name.is_empty() {
                return Err(Error::Model("a graph input has no name".into()));
            }
            imp.values
                .insert(name.to_owned(), Value::Symbol(Symbol::variable(name)));
            imp.used.insert(name.to_owned());
            if let Some(dims) = input_dims(input) {
                imp.shapes.insert(name.to_owned(), dims);
            }
        }
        Ok(imp)
    }

    /// The value named `name`, which `node` reads.
    fn value(&self, node: &Node<'_>, name: &str) -> Result<&Value> {
        self.values.get(name).ok_or_else(|| missing(node, name))
    }

    /// Input `i` of `node` as a symbol: a constant becomes a parameter variable of its name,
    /// its data moved into the parameter.
    fn symbol(&mut self, node: &Node<'_>, i: usize) -> Result<Symbol> {
        let name = node.required_input(i)?;
        if self.truthy.contains(name) && !(node.op == "Where" && i == 0) {
            return Err(node.error(format!(
                "input {name:?} is a Cast to BOOL of computed data, which mxr (without a bool \
                 dtype) converts only as Where's condition"
            )));
        }
        if let Some(Value::Symbol(s)) = self.values.get(name) {
            return Ok(s.clone());
        }
        match self.values.remove(name) {
            Some(Value::Const(t)) => self.param(name, t),
            _ => Err(missing(node, name)),
        }
    }

    /// A parameter variable `name` holding `t`; the name then stands for the variable. Its
    /// `__shape__` attribute records the shape, so that binding with the data shapes alone
    /// works where inference cannot reach a parameter backwards (`dot` with `transpose_a`).
    fn param(&mut self, name: &str, t: Tensor) -> Result<Symbol> {
        let var = if t.dims.is_empty() || t.dims.contains(&0) {
            // MXNet reads `()` and zero dims as unknown: no hint.
            Symbol::variable(name)
        } else {
            Symbol::var(name).shape(&t.dims).build()?
        };
        self.shapes.insert(name.to_owned(), t.dims.clone());
        self.params.insert(name.to_owned(), t.into_ndarray()?);
        self.used.insert(name.to_owned());
        self.values
            .insert(name.to_owned(), Value::Symbol(var.clone()));
        Ok(var)
    }

    /// Input `i` of `node` as a constant, if it is one (absent inputs are `None` too).
    fn constant(&self, node: &Node<'_>, i: usize) -> Result<Option<&Tensor>> {
        match node.input(i) {
            None => Ok(None),
            Some(name) => match self.value(node, name)? {
                Value::Const(t) => Ok(Some(t)),
                Value::Symbol(_) => Ok(None),
            },
        }
    }

    /// Input `i` of `node` as a constant list of integers (axes, starts, split sizes; `what`
    /// names it in errors); `None` when omitted.
    fn int_list(&self, node: &Node<'_>, i: usize, what: &str) -> Result<Option<Vec<i64>>> {
        if node.input(i).is_none() {
            return Ok(None);
        }
        let t = self
            .constant(node, i)?
            .ok_or_else(|| node.error(format!("{what} (input {i}) must be a constant")))?;
        t.as_i64()
            .map(Some)
            .ok_or_else(|| node.error(format!("{what} (input {i}) must be integers")))
    }

    /// The shape of input `i` of `node` when it is fully known (from the constant's dims, or
    /// inferred from the graph's known input shapes).
    fn shape(&self, node: &Node<'_>, i: usize) -> Result<Option<Vec<usize>>> {
        let name = node.required_input(i)?;
        match self.value(node, name)? {
            Value::Const(t) => Ok(Some(t.dims.clone())),
            Value::Symbol(s) => self.symbol_shape(s),
        }
    }

    /// The shape of `s`'s first output, when shape inference from the known shapes fixes it.
    fn symbol_shape(&self, s: &Symbol) -> Result<Option<Vec<usize>>> {
        let inputs = s.list_inputs();
        let known: Vec<(&str, &[usize])> = inputs
            .iter()
            .filter_map(|n| self.shapes.get(n).map(|d| (n.as_str(), d.as_slice())))
            .collect();
        let (_, outs, _) = s.infer_shape_partial(&known)?;
        Ok(outs
            .into_iter()
            .next()
            .filter(|d| !d.is_empty() && d.iter().all(|&x| x > 0)))
    }

    /// Like [`Importer::shape`], but an error naming what is needed when it is unknown.
    fn known_shape(&self, node: &Node<'_>, i: usize, why: &str) -> Result<Vec<usize>> {
        self.shape(node, i)?.ok_or_else(|| {
            node.error(format!(
                "the shape of input {:?} must be known to {why}; give the graph input a \
                 static shape",
                node.input(i).unwrap_or_default()
            ))
        })
    }

    /// A fresh name for the mxr node made from `node` (`suffix` for helper nodes of a
    /// conversion that takes several operators).
    fn node_name(&mut self, node: &Node<'_>, suffix: &str) -> String {
        let base = format!("{}{suffix}", node.name);
        let mut name = base.clone();
        let mut i = 1;
        while self.used.contains(&name) {
            name = format!("{base}_{i}");
            i += 1;
        }
        self.used.insert(name.clone());
        name
    }

    fn convert(&mut self, node: &Node<'_>) -> Result<()> {
        let outputs = ops::convert(self, node)?;
        let names = &node.proto.output;
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() {
                continue;
            }
            let value = outputs.get(i).cloned().ok_or_else(|| {
                node.error(format!(
                    "output {i} ({name:?}) is not supported: mxr's conversion gives {} output(s)",
                    outputs.len()
                ))
            })?;
            self.values.insert(name.clone(), value);
        }
        Ok(())
    }

    fn finish(self, graph: &GraphProto) -> Result<(Symbol, NamedArrays, NamedArrays)> {
        let mut heads = Vec::new();
        for out in &graph.output {
            if self.truthy.contains(out.name()) {
                return Err(Error::Model(format!(
                    "graph output {:?} is a Cast to BOOL of computed data, which mxr (without a \
                     bool dtype) converts only as Where's condition",
                    out.name()
                )));
            }
            match self.values.get(out.name()) {
                Some(Value::Symbol(s)) => heads.push(s.clone()),
                Some(Value::Const(_)) => {
                    return Err(Error::Model(format!(
                        "graph output {:?} is a constant; mxr symbols cannot output constants",
                        out.name()
                    )));
                }
                None => {
                    return Err(Error::Model(format!(
                        "graph output {:?} is produced by no node",
                        out.name()
                    )));
                }
            }
        }
        let symbol = match heads.len() {
            0 => return Err(Error::Model("the graph has no outputs".into())),
            1 => heads.remove(0),
            _ => Symbol::group(&heads),
        };
        let pick = |names: Vec<String>| -> NamedArrays {
            names
                .into_iter()
                .filter_map(|n| self.params.get(&n).map(|a| (n.clone(), a.clone())))
                .collect()
        };
        let args = pick(symbol.list_arguments());
        let aux = pick(symbol.list_auxiliary_states());
        Ok((symbol, args, aux))
    }
}

/// The error for an input that names no value.
fn missing(node: &Node<'_>, name: &str) -> Error {
    node.error(format!(
        "input {name:?} is neither a graph input, an initializer nor an output of an earlier node"
    ))
}

/// A graph input's dims from its type, `0` for dims without a value; `None` when it has no
/// tensor type.
fn input_dims(input: &ValueInfoProto) -> Option<Vec<usize>> {
    use proto::tensor_shape_proto::dimension::Value as Dim;
    use proto::type_proto::Value as Type;
    let Some(Type::TensorType(t)) = input.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    let dims = t
        .shape
        .as_ref()?
        .dim
        .iter()
        .map(|d| match d.value {
            Some(Dim::DimValue(v)) => usize::try_from(v).unwrap_or(0),
            _ => 0,
        })
        .collect();
    Some(dims)
}
