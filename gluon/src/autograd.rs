//! Imperative autograd (MXNet's `mx.autograd`) over the frontend's [`Tape`].
//!
//! [`record`] opens a recording on this thread: operators that Gluon code applies to
//! NDArrays (through [`Tensor`](crate::Tensor)) are applied through the tape, so each is a
//! node whose gradient graph the operator supplies. Arrays marked as variables
//! ([`mark_variable`], [`attach_grad`]; an initialised parameter is one) get their gradients
//! written (or added, per `grad_req`) by [`backward`]. The recording outlives the guard, as
//! MXNet's graph outlives the `with` block: `backward` after it is the usual call; a new
//! `record` starts afresh. `backward` on an array that was not recorded is an error.
//!
//! ```
//! use mxr::gluon::{autograd, Tensor};
//! use mxr::nd::NDArray;
//! let x = NDArray::from_vec(&[3], vec![1.0f32, 2.0, 3.0])?;
//! let dx = autograd::attach_grad(&x)?;
//! let y = {
//!     let _rec = autograd::record();
//!     x.op("square", &[])?
//! };
//! autograd::backward(&[&y])?;
//! assert_eq!(dx.to_vec::<f32>()?, vec![2.0, 4.0, 6.0]);
//! # Ok::<(), mxr::gluon::Error>(())
//! ```

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use mxr_frontend::exec::GradReq;
use mxr_frontend::nd::{self, ExternalNode, NDArray, TrainModeScope, tape::Tape};
use mxr_operators::registry::{self, Entry};

use crate::{Error, Result};

/// What identifies an array: its view and shape.
type Key = ((usize, usize), Vec<usize>);

fn key(a: &NDArray) -> Key {
    (a.view_id(), a.shape().to_vec())
}

/// A marked variable: the array (kept alive so its identity is not reused), its gradient
/// array and request.
type Marked = (NDArray, NDArray, GradReq);

/// Variables marked on any thread (MXNet keeps the mark on the array itself); a parameter
/// unmarks its value when dropped.
static MARKED: LazyLock<Mutex<HashMap<Key, Marked>>> = LazyLock::new(Default::default);

struct Recording {
    tape: Tape,
    entries: HashMap<Key, Entry>,
    /// The arrays that operators computed while recording (their gradients can flow back).
    computed: HashSet<Key>,
    /// The tape's variable nodes and the arrays they stand for.
    variables: Vec<(usize, NDArray)>,
    active: bool,
}

thread_local! {
    static RECORDING: RefCell<Option<Recording>> = const { RefCell::new(None) };
}

/// Marks `data` as a variable whose gradient goes to `grad` (MXNet's `mark_variables`).
pub fn mark_variable(data: &NDArray, grad: &NDArray, req: GradReq) {
    let mut marked = MARKED.lock().unwrap_or_else(PoisonError::into_inner);
    marked.insert(key(data), (data.clone(), grad.clone(), req));
}

/// Removes the mark of `data` (a parameter dropped, or an array no longer differentiated).
pub fn unmark_variable(data: &NDArray) {
    let mut marked = MARKED.lock().unwrap_or_else(PoisonError::into_inner);
    marked.remove(&key(data));
}

/// Marks `x` as a variable with a zero gradient array of its shape and returns that array
/// (MXNet's `x.attach_grad()`; the gradient is `x.grad`).
pub fn attach_grad(x: &NDArray) -> Result<NDArray> {
    let grad = NDArray::new(x.shape(), x.dtype(), x.context())?;
    mark_variable(x, &grad, GradReq::Write);
    Ok(grad)
}

/// Whether operators are being recorded on this thread.
pub fn is_recording() -> bool {
    RECORDING.with(|r| r.borrow().as_ref().is_some_and(|rec| rec.active))
}

/// Whether operators run in training mode on this thread.
pub fn is_training() -> bool {
    nd::is_training()
}

/// Ends a recording (or a pause) and restores the training mode when dropped.
#[derive(Debug)]
#[must_use = "recording stops when the guard is dropped"]
pub struct RecordScope {
    previous_active: Option<bool>,
    _train: TrainModeScope,
}

impl Drop for RecordScope {
    fn drop(&mut self) {
        if let Some(prev) = self.previous_active {
            RECORDING.with(|r| {
                if let Some(rec) = r.borrow_mut().as_mut() {
                    rec.active = prev;
                }
            });
        }
    }
}

/// Starts recording in training mode (MXNet's `with autograd.record():`), discarding an
/// earlier recording; recording stops when the guard drops, the recorded graph stays for
/// [`backward`].
pub fn record() -> RecordScope {
    record_with(true)
}

/// [`record`] with the training mode given (`record(train_mode=False)`). Inside an active
/// recording (a nested `record`), the recording goes on.
pub fn record_with(train_mode: bool) -> RecordScope {
    let nested = RECORDING.with(|r| {
        let mut guard = r.borrow_mut();
        if guard.as_ref().is_some_and(|rec| rec.active) {
            return true;
        }
        *guard = Some(Recording {
            tape: Tape::new(train_mode),
            entries: HashMap::new(),
            computed: HashSet::new(),
            variables: Vec::new(),
            active: true,
        });
        false
    });
    RecordScope {
        previous_active: Some(nested),
        _train: nd::train_mode(train_mode),
    }
}

/// Stops recording until the guard drops (MXNet's `with autograd.pause():`), in predict mode.
pub fn pause() -> RecordScope {
    let prev = RECORDING.with(|r| {
        r.borrow_mut()
            .as_mut()
            .map(|rec| std::mem::replace(&mut rec.active, false))
    });
    RecordScope {
        previous_active: prev,
        _train: nd::train_mode(false),
    }
}

/// Training mode until the guard drops (MXNet's `autograd.train_mode()`).
pub fn train_mode() -> TrainModeScope {
    nd::train_mode(true)
}

/// Predict mode until the guard drops (MXNet's `autograd.predict_mode()`).
pub fn predict_mode() -> TrainModeScope {
    nd::train_mode(false)
}

/// Applies the registry operator `op` to `inputs` with MXNet's attribute strings: recorded
/// when recording, else a plain [`nd::invoke`]. Returns the visible outputs.
pub(crate) fn invoke(
    op: &str,
    name: &str,
    inputs: &[&NDArray],
    attrs: &[(&str, &str)],
) -> Result<Vec<NDArray>> {
    let recorded = RECORDING.with(|r| -> Result<Option<Vec<NDArray>>> {
        let mut guard = r.borrow_mut();
        let Some(rec) = guard.as_mut().filter(|rec| rec.active) else {
            return Ok(None);
        };
        let opref = registry::create(op, attrs, Some(inputs.len()))
            .map_err(|e| Error::Frontend(mxr_frontend::Error::from(e)))?;
        let visible = opref.num_visible_outputs();
        let entries: Vec<Entry> = inputs.iter().map(|a| rec.entry(a)).collect();
        let outs = rec.tape.apply(opref, name, &entries)?;
        let mut values = Vec::with_capacity(visible);
        for e in outs.into_iter().take(visible) {
            let v = rec.tape.value(e).clone();
            rec.entries.insert(key(&v), e);
            rec.computed.insert(key(&v));
            values.push(v);
        }
        Ok(Some(values))
    })?;
    match recorded {
        Some(v) => Ok(v),
        None => Ok(nd::invoke(op, inputs, attrs)?),
    }
}

/// Whether a gradient can flow to `x` in the current recording: a marked variable, or an
/// array computed by recorded operators (false when not recording).
pub(crate) fn needs_grad(x: &NDArray) -> bool {
    if !is_recording() {
        return false;
    }
    let k = key(x);
    let computed = RECORDING.with(|r| {
        r.borrow()
            .as_ref()
            .is_some_and(|rec| rec.computed.contains(&k))
    });
    computed
        || MARKED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&k)
}

/// Records a step computed outside the tape (a hybridized block's bound graph): `outputs`
/// from `inputs`, differentiated by `node`. Nothing when not recording. Returns `outputs`.
pub(crate) fn record_external(
    node: Arc<dyn ExternalNode>,
    name: &str,
    inputs: &[&NDArray],
    outputs: Vec<NDArray>,
) -> Vec<NDArray> {
    RECORDING.with(|r| {
        let mut guard = r.borrow_mut();
        if let Some(rec) = guard.as_mut().filter(|rec| rec.active) {
            let entries: Vec<Entry> = inputs.iter().map(|a| rec.entry(a)).collect();
            let outs = rec
                .tape
                .apply_external(node, name, &entries, outputs.clone());
            for (e, v) in outs.into_iter().zip(&outputs) {
                rec.entries.insert(key(v), e);
                rec.computed.insert(key(v));
            }
        }
    });
    outputs
}

impl Recording {
    /// The entry of `a`: recorded before, else a new variable node.
    fn entry(&mut self, a: &NDArray) -> Entry {
        let k = key(a);
        if let Some(e) = self.entries.get(&k) {
            return *e;
        }
        let e = self.tape.variable("var", a.clone());
        self.variables.push((e.node, a.clone()));
        self.entries.insert(k, e);
        e
    }

    /// Back-propagates from `heads` (ones as head gradients) to the `wanted` entries: their
    /// gradients, in order (`None` where the heads do not reach one). Nothing is computed for
    /// the arrays no wanted entry depends on (a data batch).
    fn run_backward(
        &mut self,
        heads: &[&NDArray],
        wanted: &[Entry],
    ) -> Result<Vec<Option<NDArray>>> {
        let mut pairs = Vec::with_capacity(heads.len());
        for h in heads {
            let e = self
                .entries
                .get(&key(h))
                .copied()
                .ok_or_else(|| not_recorded(h))?;
            pairs.push((e, None));
        }
        Ok(self.tape.backward_for(&pairs, wanted)?)
    }
}

fn not_recorded(h: &NDArray) -> Error {
    Error::Autograd(format!(
        "cannot differentiate an array of shape {:?}: it is not in a computational graph; \
         compute it inside autograd::record()",
        h.shape()
    ))
}

fn take_recording() -> Result<Recording> {
    RECORDING.with(|r| r.borrow_mut().take()).ok_or_else(|| {
        Error::Autograd(
            "backward called without a recording: compute the \
             heads inside autograd::record() first"
                .into(),
        )
    })
}

/// Computes the gradients of the sum of `heads` (MXNet's `autograd.backward(heads)`) and
/// writes or adds them into the gradient arrays of the marked variables they depend on. The
/// recording is consumed, as MXNet frees the graph.
pub fn backward(heads: &[&NDArray]) -> Result<()> {
    let mut rec = take_recording()?;
    // The marked variables whose gradient is asked for, with their targets.
    let targets: Vec<(Entry, NDArray, GradReq)> = {
        let marked = MARKED.lock().unwrap_or_else(PoisonError::into_inner);
        rec.variables
            .iter()
            .filter_map(|(node, array)| {
                let (_, target, req) = marked.get(&key(array))?;
                let entry = Entry {
                    node: *node,
                    output: 0,
                };
                (*req != GradReq::Null).then(|| (entry, target.clone(), *req))
            })
            .collect()
    };
    let wanted: Vec<Entry> = targets.iter().map(|(e, _, _)| *e).collect();
    let grads = rec.run_backward(heads, &wanted)?;
    for ((_, target, req), g) in targets.iter().zip(&grads) {
        let Some(g) = g else {
            continue;
        };
        match req {
            GradReq::Null => {}
            GradReq::Write => target.assign(g)?,
            GradReq::Add => nd::invoke_into("elemwise_add", &[target, g], &[], &[target])?,
        }
    }
    Ok(())
}

/// The gradients of the sum of `heads` with respect to `variables` (MXNet's `autograd.grad`),
/// which must have been used in the recording; nothing is written to gradient arrays. A
/// variable the heads do not depend on gets zeros.
pub fn grad(heads: &[&NDArray], variables: &[&NDArray]) -> Result<Vec<NDArray>> {
    let mut rec = take_recording()?;
    let wanted = variables
        .iter()
        .map(|v| {
            rec.entries
                .get(&key(v))
                .copied()
                .ok_or_else(|| not_recorded(v))
        })
        .collect::<Result<Vec<Entry>>>()?;
    let grads = rec.run_backward(heads, &wanted)?;
    variables
        .iter()
        .zip(grads)
        .map(|(v, g)| match g {
            Some(g) => Ok(g),
            None => Ok(NDArray::new(v.shape(), v.dtype(), v.context())?),
        })
        .collect()
}
