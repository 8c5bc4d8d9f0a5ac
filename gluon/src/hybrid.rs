//! Hybridization (Gluon's `CachedOp`) and deferred shape inference.
//!
//! A hybridized block called on NDArrays traces itself into a [`Symbol`] once per input
//! signature and binds it through the executor with its parameters' arrays as the bound
//! arguments (no copies: updates of the parameters are seen by the graph); later calls copy
//! the inputs into the bound input arrays and run the graph. While autograd records, the
//! graph is bound with gradients and each run is one node of the tape, whose backward is the
//! executor's backward (MXNet's `CachedOp` in its autograd graph).
//!
//! Deferred initialisation: before a block's first run, parameters waiting for their shape
//! get it from shape inference over the block's traced graph with the inputs' shapes, as
//! Gluon's `_deferred_infer_shape` does.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mxr_frontend::DType;
use mxr_frontend::exec::{Executor, GradReq};
use mxr_frontend::nd::{ExternalNode, NDArray};
use mxr_frontend::sym::Symbol;
use parking_lot::Mutex;

use crate::block::HybridBlock;
use crate::parameter::{Parameter, ParameterDict};
use crate::{Result, autograd};

/// The input variables' names: `data`, or `data0`, `data1`, ... (Gluon's `_flatten` names).
pub(crate) fn input_names(n: usize) -> Vec<String> {
    match n {
        1 => vec!["data".to_owned()],
        _ => (0..n).map(|i| format!("data{i}")).collect(),
    }
}

/// The shapes and dtypes of a call's inputs, and whether the call is recorded: one bound
/// graph each.
type Signature = (Vec<(Vec<usize>, DType)>, bool);

/// One bound graph: the executor, its input arrays and, when bound for recording, what the
/// tape's node needs.
#[derive(Debug)]
struct Cached {
    executor: Executor,
    inputs: Vec<NDArray>,
    /// The argument index of each input, when bound with gradients.
    input_args: Vec<Option<usize>>,
    /// The parameters with gradients: argument index and value.
    param_args: Vec<(usize, NDArray)>,
    /// Forward runs so far: a recorded node's backward needs the run it recorded.
    runs: u64,
}

/// Whether a block is hybridized, and its bound graphs per input signature.
#[derive(Debug, Default)]
pub(crate) struct CachedGraphs {
    active: AtomicBool,
    graphs: Mutex<HashMap<Signature, Arc<Mutex<Cached>>>>,
    traced: Mutex<Option<(usize, Symbol)>>,
}

impl CachedGraphs {
    pub(crate) fn set_active(&self, active: bool) {
        self.active.store(active, Ordering::Relaxed);
        self.graphs.lock().clear();
    }

    /// The block's graph on `num_inputs` inputs, traced by `trace` on first use.
    pub(crate) fn traced(
        &self,
        num_inputs: usize,
        trace: impl FnOnce() -> Result<Symbol>,
    ) -> Result<Symbol> {
        if let Some((n, s)) = &*self.traced.lock()
            && *n == num_inputs
        {
            return Ok(s.clone());
        }
        let s = trace()?;
        *self.traced.lock() = Some((num_inputs, s.clone()));
        Ok(s)
    }

    /// Turns hybridization on, keeping the bound graphs.
    pub(crate) fn activate(&self) {
        self.active.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }
}

/// The backward of one recorded run of a bound graph: the executor's backward.
#[derive(Debug)]
struct GraphBackward {
    block: String,
    cached: Arc<Mutex<Cached>>,
    run: u64,
}

impl ExternalNode for GraphBackward {
    fn backward(&self, ograds: &[NDArray]) -> mxr_frontend::Result<Vec<Option<NDArray>>> {
        let mut cached = self.cached.lock();
        if cached.runs != self.run {
            return Err(mxr_frontend::Error::InvalidArgument {
                call: "autograd::backward",
                reason: format!(
                    "hybridized block {} ran again after the recorded run, so its bound graph \
                     no longer holds that run's values: call it once per recording, or \
                     hybridize(false)",
                    self.block
                ),
            });
        }
        cached.executor.backward(ograds)?;
        let grads = cached.executor.grad_arrays();
        let inputs = cached
            .input_args
            .iter()
            .map(|a| a.and_then(|a| grads[a].clone()));
        let params = cached.param_args.iter().map(|(a, _)| grads[*a].clone());
        Ok(inputs.chain(params).collect())
    }
}

/// Runs `block`'s bound graph on `inputs` when it is hybridized (binding it on the first call
/// per signature), recorded as one tape node while autograd records; `None` when the block is
/// not hybridized.
pub(crate) fn call_cached(
    block: &dyn HybridBlock,
    inputs: &[NDArray],
) -> Result<Option<Vec<NDArray>>> {
    let core = block.core();
    if !core.cache.is_active() {
        return Ok(None);
    }
    let recording = autograd::is_recording();
    let shapes = inputs.iter().map(|a| (a.shape().to_vec(), a.dtype()));
    let signature: Signature = (shapes.collect(), recording);
    let cached = {
        let mut graphs = core.cache.graphs.lock();
        match graphs.get(&signature) {
            Some(c) => Arc::clone(c),
            None => {
                finish_deferred(block, inputs, false)?;
                let c = Arc::new(Mutex::new(bind(block, inputs, recording)?));
                graphs.insert(signature, Arc::clone(&c));
                c
            }
        }
    };
    let (outputs, run, params) = {
        let mut c = cached.lock();
        for (bound, given) in c.inputs.iter().zip(inputs) {
            bound.assign(given)?;
        }
        c.executor.forward(autograd::is_training())?;
        c.runs += 1;
        let outputs = c
            .executor
            .outputs()
            .iter()
            .map(NDArray::copy)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let params: Vec<NDArray> = c.param_args.iter().map(|(_, p)| p.clone()).collect();
        (outputs, c.runs, params)
    };
    if !recording {
        return Ok(Some(outputs));
    }
    let node = Arc::new(GraphBackward {
        block: core.prefix().to_owned(),
        cached,
        run,
    });
    let tape_inputs: Vec<&NDArray> = inputs.iter().chain(&params).collect();
    let name = format!("{}cachedop", core.prefix());
    Ok(Some(autograd::record_external(
        node,
        &name,
        &tape_inputs,
        outputs,
    )))
}

/// Traces `block` and binds its graph to fresh input arrays and the parameters' arrays, with
/// gradients for the inputs and the parameters that have them when `with_grads`.
fn bind(block: &dyn HybridBlock, inputs: &[NDArray], with_grads: bool) -> Result<Cached> {
    let core = block.core();
    let symbol = block.trace(inputs.len())?;
    let names = input_names(inputs.len());
    let params = block.collect_params();
    let context = inputs
        .first()
        .map_or_else(mxr_frontend::nd::current_context, NDArray::context);
    let lookup = |name: &str| -> Result<Parameter> {
        params.by_name(name).cloned().ok_or_else(|| {
            core.error(format!(
                "graph argument {name} is neither an input ({names:?}) nor a parameter"
            ))
        })
    };
    let mut args = Vec::new();
    let mut grads = Vec::new();
    let mut reqs = Vec::new();
    let mut bound_inputs = vec![None; inputs.len()];
    let mut input_args = vec![None; inputs.len()];
    let mut param_args = Vec::new();
    for (k, name) in symbol.list_arguments().iter().enumerate() {
        let (value, wants_grad) = match names.iter().position(|n| n == name) {
            Some(i) => {
                let a = NDArray::new(inputs[i].shape(), inputs[i].dtype(), context)?;
                bound_inputs[i] = Some(a.clone());
                input_args[i] = Some(k);
                (a, true)
            }
            None => {
                let p = lookup(name)?;
                let wants = p.grad_req() != GradReq::Null;
                if with_grads && wants {
                    param_args.push((k, p.data()?));
                }
                (p.data()?, wants)
            }
        };
        let grad = with_grads && wants_grad;
        grads.push(if grad {
            Some(NDArray::new(value.shape(), value.dtype(), context)?)
        } else {
            None
        });
        reqs.push(if grad { GradReq::Write } else { GradReq::Null });
        args.push(value);
    }
    let aux = symbol
        .list_auxiliary_states()
        .iter()
        .map(|n| lookup(n)?.data())
        .collect::<Result<Vec<_>>>()?;
    let inputs = bound_inputs
        .into_iter()
        .zip(inputs)
        .map(|(b, given)| match b {
            Some(b) => Ok(b),
            // An input the graph does not read: a scratch array keeps the copies uniform.
            None => Ok(NDArray::new(given.shape(), given.dtype(), context)?),
        })
        .collect::<Result<Vec<_>>>()?;
    let executor = symbol.bind(context, args, grads, &reqs, aux)?;
    if !with_grads {
        input_args = vec![None; inputs.len()];
    }
    Ok(Cached {
        executor,
        inputs,
        input_args,
        param_args,
        runs: 0,
    })
}

/// Gives parameters waiting for their shape the shapes inferred from `block`'s graph on
/// `inputs`, then makes their values. A shape inference cannot complete is an error naming
/// the block and the parameter.
///
/// With `own_only`, nothing happens unless one of the block's own parameters waits (Gluon's
/// check before each imperative call; children check theirs when called); otherwise any
/// parameter of the block or its descendants.
pub(crate) fn finish_deferred(
    block: &dyn HybridBlock,
    inputs: &[NDArray],
    own_only: bool,
) -> Result<()> {
    let waiting = |params: &ParameterDict| params.values().any(Parameter::is_deferred);
    if own_only && !waiting(block.params()) {
        return Ok(());
    }
    let params = block.collect_params();
    if !waiting(&params) {
        return Ok(());
    }
    let core = block.core();
    let symbol = block.trace(inputs.len())?;
    let names = input_names(inputs.len());
    let known: Vec<(&str, &[usize])> = names
        .iter()
        .zip(inputs)
        .map(|(n, a)| (n.as_str(), a.shape()))
        .collect();
    let (arg_shapes, _, aux_shapes) = symbol.infer_shape_partial(&known).map_err(|e| {
        core.error(format!(
            "deferred shape inference from inputs {known:?} failed: {e}"
        ))
    })?;
    let vars = symbol
        .list_arguments()
        .into_iter()
        .zip(arg_shapes)
        .chain(symbol.list_auxiliary_states().into_iter().zip(aux_shapes));
    for (name, shape) in vars {
        if let Some(p) = params.by_name(&name)
            && !shape.is_empty()
            && !shape.contains(&0)
        {
            p.set_shape(&shape)?;
        }
    }
    for p in params.values() {
        p.finish_deferred_init().map_err(|e| {
            core.error(format!(
                "on inputs of shapes {:?}: {e}",
                known_shapes(inputs)
            ))
        })?;
    }
    Ok(())
}

fn known_shapes(inputs: &[NDArray]) -> Vec<Vec<usize>> {
    inputs.iter().map(|a| a.shape().to_vec()).collect()
}
