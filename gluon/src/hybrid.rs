//! Hybridization (Gluon's `CachedOp`) and deferred shape inference.
//!
//! A hybridized block called on NDArrays traces itself into a [`Symbol`] once per input
//! signature and binds it through the executor with its parameters' arrays as the bound
//! arguments (no copies: updates of the parameters are seen by the graph); later calls copy
//! the inputs into the bound input arrays and run the graph. While autograd records, the
//! block runs imperatively instead, so that its operators are recorded for `backward`.
//!
//! Deferred initialisation: before a block's first run, parameters waiting for their shape
//! get it from shape inference over the block's traced graph with the inputs' shapes, as
//! Gluon's `_deferred_infer_shape` does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use mxr_frontend::DType;
use mxr_frontend::exec::{Executor, GradReq};
use mxr_frontend::nd::NDArray;
use mxr_frontend::sym::Symbol;
use parking_lot::Mutex;

use crate::block::HybridBlock;
use crate::{Result, autograd};

/// The input variables' names: `data`, or `data0`, `data1`, ... (Gluon's `_flatten` names).
pub(crate) fn input_names(n: usize) -> Vec<String> {
    match n {
        1 => vec!["data".to_owned()],
        _ => (0..n).map(|i| format!("data{i}")).collect(),
    }
}

/// The shapes and dtypes of a call's inputs: one bound graph each.
type Signature = Vec<(Vec<usize>, DType)>;

/// One bound graph: the executor and its input arrays.
#[derive(Debug)]
struct Cached {
    executor: Executor,
    inputs: Vec<NDArray>,
}

/// Whether a block is hybridized, and its bound graphs per input signature.
#[derive(Debug, Default)]
pub(crate) struct CachedGraphs {
    active: AtomicBool,
    graphs: Mutex<HashMap<Signature, Cached>>,
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

/// Runs `block`'s bound graph on `inputs` when it is hybridized and autograd is not
/// recording (binding it on the first call per signature); `None` otherwise.
pub(crate) fn call_cached(
    block: &dyn HybridBlock,
    inputs: &[NDArray],
) -> Result<Option<Vec<NDArray>>> {
    let core = block.core();
    if !core.cache.is_active() || autograd::is_recording() {
        return Ok(None);
    }
    let signature: Signature = inputs
        .iter()
        .map(|a| (a.shape().to_vec(), a.dtype()))
        .collect();
    let mut graphs = core.cache.graphs.lock();
    if !graphs.contains_key(&signature) {
        finish_deferred(block, inputs)?;
        let cached = bind(block, inputs)?;
        graphs.insert(signature.clone(), cached);
    }
    let cached = graphs.get_mut(&signature).expect("inserted above");
    for (bound, given) in cached.inputs.iter().zip(inputs) {
        bound.assign(given)?;
    }
    cached.executor.forward(autograd::is_training())?;
    let outputs = cached
        .executor
        .outputs()
        .iter()
        .map(NDArray::copy)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Some(outputs))
}

/// Traces `block` and binds its graph to fresh input arrays and the parameters' arrays.
fn bind(block: &dyn HybridBlock, inputs: &[NDArray]) -> Result<Cached> {
    let core = block.core();
    let symbol = block.trace(inputs.len())?;
    let names = input_names(inputs.len());
    let params = block.collect_params();
    let context = inputs
        .first()
        .map_or_else(mxr_frontend::nd::current_context, NDArray::context);
    let lookup = |name: &str| -> Result<NDArray> {
        match params.by_name(name) {
            Some(p) => p.data(),
            None => Err(core.error(format!(
                "graph argument {name} is neither an input ({names:?}) nor a parameter"
            ))),
        }
    };
    let mut args = Vec::new();
    let mut bound_inputs = vec![None; inputs.len()];
    for name in symbol.list_arguments() {
        match names.iter().position(|n| *n == name) {
            Some(i) => {
                let a = NDArray::new(inputs[i].shape(), inputs[i].dtype(), context)?;
                bound_inputs[i] = Some(a.clone());
                args.push(a);
            }
            None => args.push(lookup(&name)?),
        }
    }
    let aux = symbol
        .list_auxiliary_states()
        .iter()
        .map(|n| lookup(n))
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
    let n = args.len();
    let executor = symbol.bind(context, args, vec![None; n], &vec![GradReq::Null; n], aux)?;
    Ok(Cached { executor, inputs })
}

/// Gives parameters waiting for their shape the shapes inferred from `block`'s graph on
/// `inputs`, then makes their values. A shape inference cannot complete is an error naming
/// the block and the parameter.
pub(crate) fn finish_deferred(block: &dyn HybridBlock, inputs: &[NDArray]) -> Result<()> {
    let params = block.collect_params();
    if !params.values().any(|p| p.is_deferred()) {
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
