//! The predictor behind MXNet's predict API, in safe Rust: a symbol bound for inference with
//! its parameters, inputs fed as `f32` and outputs read as `f32`.

use std::collections::HashMap;
use std::sync::Arc;

use mxr_frontend::DType;
use mxr_frontend::engine::Context as Device;
use mxr_frontend::exec::{Executor, GradReq};
use mxr_frontend::format::{ParamsFile, decode_params};
use mxr_frontend::nd::{self, NDArray};
use mxr_frontend::sym::Symbol;

use crate::boundary::{Context, Result, argument};

/// The arrays of a parameter file, split by MXNet's `arg:` / `aux:` key prefixes.
#[derive(Debug, Default)]
pub(crate) struct Params {
    args: HashMap<String, NDArray>,
    aux: HashMap<String, NDArray>,
}

impl Params {
    /// Decodes a `.params` file's bytes; keys without an `arg:` or `aux:` prefix are ignored,
    /// as MXNet's predictor does.
    pub(crate) fn decode(bytes: &[u8], call: &'static str) -> Result<Params> {
        let mut params = Params::default();
        let named = match decode_params(bytes, "the parameter bytes").during(call)? {
            ParamsFile::Named(named) => named,
            ParamsFile::List(list) if list.is_empty() => Vec::new(),
            ParamsFile::List(_) => {
                return Err(argument(
                    call,
                    "the parameter file has no names (arg:/aux: keys)",
                ));
            }
        };
        for (key, raw) in named {
            let array = NDArray::from_raw(&raw).during(call)?;
            if let Some(name) = key.strip_prefix("arg:") {
                params.args.insert(name.to_owned(), array);
            } else if let Some(name) = key.strip_prefix("aux:") {
                params.aux.insert(name.to_owned(), array);
            }
        }
        Ok(params)
    }
}

/// How to build a predictor: everything `MXPredCreate*` takes, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// The symbol, restricted to the requested outputs.
    pub(crate) symbol: Symbol,
    /// The parameters, shared by the predictors built from one call and their reshapes.
    pub(crate) params: Arc<Params>,
    /// The device.
    pub(crate) device: Device,
    /// The input names with their shapes, in the caller's order.
    pub(crate) inputs: Vec<(String, Vec<usize>)>,
    /// Element types given for arguments (`MXPredCreateEx`); the rest are inferred or `f32`.
    pub(crate) dtypes: Vec<(String, DType)>,
}

impl Spec {
    /// Parses the symbol JSON and restricts it to `outputs` (MXNet's `MXPredCreatePartialOut`:
    /// each name is a node whose `<name>_output` is an internal output). An empty `outputs`
    /// keeps the symbol's own outputs.
    pub(crate) fn symbol(json: &str, outputs: &[&str], call: &'static str) -> Result<Symbol> {
        let symbol = Symbol::from_json(json).during(call)?;
        if outputs.is_empty() {
            return Ok(symbol);
        }
        let internals = symbol.get_internals();
        let picked = outputs
            .iter()
            .map(|name| {
                internals
                    .output_by_name(&format!("{name}_output"))
                    .during(call)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Symbol::group(picked))
    }
}

/// A symbol bound for inference, with its parameters copied in.
#[derive(Debug)]
pub(crate) struct Predictor {
    spec: Spec,
    executor: Executor,
    /// The executor's argument arrays of `spec.inputs`, in the same order.
    input_arrays: Vec<NDArray>,
    output_names: Vec<String>,
    output_shapes: Vec<Vec<u32>>,
}

impl Predictor {
    /// Infers every shape and type from the inputs, allocates the arguments, copies the
    /// parameters in (a shape differing from the inferred one is an error) and binds.
    pub(crate) fn new(spec: Spec, call: &'static str) -> Result<Predictor> {
        let symbol = &spec.symbol;
        let known: Vec<(&str, &[usize])> = spec
            .inputs
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_slice()))
            .collect();
        let arg_names = symbol.list_arguments();
        for (name, _) in &spec.inputs {
            if !arg_names.contains(name) {
                return Err(argument(
                    call,
                    format!(
                        "no input named `{name}`; arguments: {}",
                        arg_names.join(", ")
                    ),
                ));
            }
        }
        let (arg_shapes, out_shapes, aux_shapes) = symbol.infer_shape(&known).during(call)?;
        let given: Vec<(&str, DType)> = spec.dtypes.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        let (arg_types, _, aux_types) = symbol.infer_type_partial(&given).during(call)?;
        let fill = |names: &[String],
                    shapes: &[Vec<usize>],
                    types: &[Option<DType>],
                    from: &HashMap<String, NDArray>| {
            names
                .iter()
                .zip(shapes)
                .zip(types)
                .map(|((name, shape), dtype)| {
                    let dtype = dtype.unwrap_or(DType::F32);
                    let array = NDArray::new(shape, dtype, spec.device).during(call)?;
                    if let Some(param) = from.get(name) {
                        if param.shape() != shape.as_slice() {
                            return Err(argument(
                                call,
                                format!(
                                    "parameter `{name}` has shape {:?}, the symbol needs {shape:?}",
                                    param.shape()
                                ),
                            ));
                        }
                        if param.dtype() == dtype {
                            array.assign(param).during(call)?;
                        } else {
                            array.assign(&cast(param, dtype, call)?).during(call)?;
                        }
                    } else {
                        array.assign_scalar(0.0).during(call)?;
                    }
                    Ok(array)
                })
                .collect::<Result<Vec<NDArray>>>()
        };
        let args = fill(&arg_names, &arg_shapes, &arg_types, &spec.params.args)?;
        let aux_names = symbol.list_auxiliary_states();
        let aux = fill(&aux_names, &aux_shapes, &aux_types, &spec.params.aux)?;
        let reqs = vec![GradReq::Null; args.len()];
        let grads = vec![None; args.len()];
        let executor = symbol
            .bind(spec.device, args, grads, &reqs, aux)
            .during(call)?;
        let output_shapes = out_shapes
            .iter()
            .map(|s| s.iter().map(|&d| u32::try_from(d)).collect())
            .collect::<std::result::Result<Vec<Vec<u32>>, _>>()
            .map_err(|_| argument(call, "an output dimension does not fit in 32 bits"))?;
        let input_arrays = spec
            .inputs
            .iter()
            .map(|(name, _)| {
                // Every input was checked to be an argument above.
                let i = arg_names
                    .iter()
                    .position(|a| a == name)
                    .expect("an argument");
                executor.arg_arrays()[i].clone()
            })
            .collect();
        Ok(Predictor {
            input_arrays,
            output_names: symbol.list_outputs(),
            spec,
            executor,
            output_shapes,
        })
    }

    /// A predictor of the same symbol and parameters with some inputs' shapes changed
    /// (MXNet's `MXPredReshape`); inputs not named keep their shapes.
    pub(crate) fn reshape(
        &self,
        shapes: Vec<(String, Vec<usize>)>,
        call: &'static str,
    ) -> Result<Predictor> {
        let mut spec = self.spec.clone();
        for (name, shape) in shapes {
            match spec.inputs.iter_mut().find(|(n, _)| *n == name) {
                Some(input) => input.1 = shape,
                None => {
                    return Err(argument(
                        call,
                        format!("`{name}` is not an input of the predictor"),
                    ));
                }
            }
        }
        Predictor::new(spec, call)
    }

    /// Copies `data` into the input `key`; its length must be the input's size.
    pub(crate) fn set_input(&self, key: &str, data: &[f32], call: &'static str) -> Result<()> {
        let index = self
            .spec
            .inputs
            .iter()
            .position(|(n, _)| n == key)
            .ok_or_else(|| argument(call, format!("`{key}` is not an input of the predictor")))?;
        let target = &self.input_arrays[index];
        check_len(target, data.len(), || format!("input `{key}`"), call)?;
        if target.dtype() == DType::F32 {
            return target.assign_slice(data).during(call);
        }
        let values = NDArray::from_vec(target.shape(), data.to_vec()).during(call)?;
        let cast = cast(&values, target.dtype(), call)?;
        target.assign(&cast).during(call)
    }

    /// Runs the forward pass (inference) and waits for its outputs (not for other
    /// predictors' work, as a global wait would), so that its errors are this call's.
    pub(crate) fn forward(&mut self, call: &'static str) -> Result<()> {
        self.executor.forward(false).during(call)?;
        for output in self.executor.outputs() {
            output.wait_to_read().during(call)?;
        }
        Ok(())
    }

    /// The arguments (inputs and parameters) by name, in the symbol's order.
    pub(crate) fn arguments(&self) -> Vec<(String, NDArray)> {
        self.spec
            .symbol
            .list_arguments()
            .into_iter()
            .zip(self.executor.arg_arrays().iter().cloned())
            .collect()
    }

    /// The number of outputs.
    pub(crate) fn num_outputs(&self) -> usize {
        self.output_shapes.len()
    }

    /// Output `index`'s shape.
    pub(crate) fn output_shape(&self, index: u32, call: &'static str) -> Result<&[u32]> {
        self.output_shapes
            .get(index as usize)
            .map(Vec::as_slice)
            .ok_or_else(|| self.no_output(index, call))
    }

    /// Output `index`'s name and array.
    pub(crate) fn output(&self, index: u32, call: &'static str) -> Result<(&str, NDArray)> {
        let outputs = self.executor.outputs();
        let array = outputs
            .into_iter()
            .nth(index as usize)
            .ok_or_else(|| self.no_output(index, call))?;
        Ok((&self.output_names[index as usize], array))
    }

    /// Copies output `index` (as `f32`) into `out`, whose length must be the output's size.
    pub(crate) fn get_output(&self, index: u32, out: &mut [f32], call: &'static str) -> Result<()> {
        let (_, array) = self.output(index, call)?;
        check_len(&array, out.len(), || format!("output {index}"), call)?;
        let values = if array.dtype() == DType::F32 {
            array.to_vec::<f32>()
        } else {
            cast(&array, DType::F32, call)?.to_vec::<f32>()
        };
        out.copy_from_slice(&values.during(call)?);
        Ok(())
    }

    fn no_output(&self, index: u32, call: &'static str) -> crate::Error {
        argument(
            call,
            format!(
                "output index {index} out of range ({} outputs)",
                self.num_outputs()
            ),
        )
    }
}

/// A size error unless `len` (a C buffer's length) is `array`'s number of elements.
fn check_len(
    array: &NDArray,
    len: usize,
    what: impl Fn() -> String,
    call: &'static str,
) -> Result<()> {
    if len == array.size() {
        return Ok(());
    }
    Err(argument(
        call,
        format!(
            "{} has {} elements (shape {:?}), the buffer has {len}",
            what(),
            array.size(),
            array.shape()
        ),
    ))
}

/// `array` converted to `dtype` (MXNet's `Cast` operator).
pub(crate) fn cast(array: &NDArray, dtype: DType, call: &'static str) -> Result<NDArray> {
    let mut out = nd::invoke("Cast", &[array], &[("dtype", dtype.name())]).during(call)?;
    out.pop()
        .ok_or_else(|| argument(call, "Cast returned no output"))
}
