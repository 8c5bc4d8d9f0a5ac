//! Calling registry operators on NDArrays (MXNet's `MXImperativeInvoke`).
//!
//! An invocation infers the output shapes and dtypes, allocates the outputs (or checks the
//! given `out` arrays), and pushes one engine operation that reads the inputs' vars and writes
//! the outputs' (plus mutated inputs and, for random operators, the random state's var). It
//! returns before the kernel runs.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use mxr_engine::storage::Buffer;
use mxr_engine::{BoxError, Context, Operation, RunContext, Task, Var};
use mxr_kernels::DType;
use mxr_operators::registry::{
    self, OpContext, OpRef, Resource, Shape, ShapeCtx, TensorMut, TensorRef, TypeCtx,
};
use parking_lot::{RwLock, RwLockReadGuard};
use smallvec::SmallVec;

use super::context::current_context;
use super::ndarray::{Dims, NDArray};
use super::random::RngState;
use crate::{Error, Result};

thread_local! {
    static TRAINING: Cell<bool> = const { Cell::new(false) };
}

/// Whether operators invoked on this thread run in training mode (Dropout active, BatchNorm
/// on batch statistics). Off by default, as in MXNet outside `autograd.record(train_mode=True)`.
pub fn is_training() -> bool {
    TRAINING.with(Cell::get)
}

/// Sets training mode for operators invoked on this thread until the guard is dropped.
///
/// ```
/// use mxr::nd::{is_training, train_mode};
/// {
///     let _train = train_mode(true);
///     assert!(is_training());
/// }
/// assert!(!is_training());
/// ```
pub fn train_mode(on: bool) -> TrainModeScope {
    let previous = TRAINING.with(|t| t.replace(on));
    TrainModeScope {
        previous,
        _not_send: std::marker::PhantomData,
    }
}

/// Restores the previous training mode when dropped.
#[derive(Debug)]
pub struct TrainModeScope {
    previous: bool,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for TrainModeScope {
    fn drop(&mut self) {
        TRAINING.with(|t| t.set(self.previous));
    }
}

/// Calls the registry operator `name` (an MXNet name or alias) on `inputs` with MXNet's
/// attribute strings as parameters; returns its visible outputs. Asynchronous: the values are
/// computed by the engine.
///
/// ```
/// use mxr::nd::{NDArray, invoke};
/// let x = NDArray::from_vec(&[2, 2], vec![1.0f32, -2.0, 3.0, -4.0])?;
/// let y = invoke("Activation", &[&x], &[("act_type", "relu")])?;
/// assert_eq!(y[0].to_vec::<f32>()?, vec![1.0, 0.0, 3.0, 0.0]);
/// let err = invoke("Activation", &[&x], &[("act_type", "ReLU")]).unwrap_err();
/// assert!(err.to_string().contains("act_type"));
/// # Ok::<(), mxr::Error>(())
/// ```
pub fn invoke(name: &str, inputs: &[&NDArray], params: &[(&str, &str)]) -> Result<Vec<NDArray>> {
    let op = registry::create(name, params, Some(inputs.len()))?;
    let mut outputs = apply(&op, inputs, None, is_training())?;
    outputs.truncate(op.num_visible_outputs());
    Ok(outputs)
}

/// [`invoke`] writing into existing arrays (MXNet's `out=`): one per visible output, with the
/// inferred shapes and dtypes. An output may be one of the inputs (an in-place call).
pub fn invoke_into(
    name: &str,
    inputs: &[&NDArray],
    params: &[(&str, &str)],
    out: &[&NDArray],
) -> Result<()> {
    let op = registry::create(name, params, Some(inputs.len()))?;
    let out: Vec<NDArray> = out.iter().map(|a| (*a).clone()).collect();
    apply(&op, inputs, Some(&out), is_training())?;
    Ok(())
}

/// Applies a parsed operator; returns every output, hidden ones included. `out` may give the
/// first outputs (at least the visible ones); the others are allocated.
pub fn apply(
    op: &OpRef,
    inputs: &[&NDArray],
    out: Option<&[NDArray]>,
    is_train: bool,
) -> Result<Vec<NDArray>> {
    Ok(apply_inner(op, inputs, out, is_train)?.into_vec())
}

/// The outputs of one application (inline for up to two).
pub(crate) type Outputs = SmallVec<[NDArray; 2]>;

/// [`apply`] without a heap vector for the outputs.
pub(crate) fn apply_inner(
    op: &OpRef,
    inputs: &[&NDArray],
    out: Option<&[NDArray]>,
    is_train: bool,
) -> Result<Outputs> {
    if let ([x], Some([o])) = (inputs, out)
        && op.is_inplace_unary()
        && x.shares_storage_with(o)
        && x.offset == o.offset
        && x.shape == o.shape
        && x.dtype == o.dtype
    {
        push_inplace(op, o, is_train)?;
        return Ok(smallvec::smallvec![o.clone()]);
    }
    let name = op.name();
    let given = out.unwrap_or(&[]);
    let context = match inputs.first() {
        Some(first) => first.context(),
        None => given.first().map_or_else(current_context, NDArray::context),
    };
    if let Some(other) = inputs.iter().find(|a| a.context() != context) {
        return Err(Error::InvalidArgument {
            call: "nd::apply",
            reason: format!(
                "operator {name}: inputs on different contexts ({context} and {})",
                other.context()
            ),
        });
    }
    let signature = match out {
        None => cached_signature(op, inputs)?,
        Some(given) => Arc::from(infer_signature(op, inputs, given)?),
    };
    let mut outputs = Outputs::new();
    for (k, (dims, dtype)) in signature.iter().enumerate() {
        match given.get(k) {
            Some(a) if a.shape() == dims.as_slice() && a.dtype() == *dtype => {
                outputs.push(a.clone());
            }
            Some(a) => {
                return Err(Error::InvalidArgument {
                    call: "nd::apply",
                    reason: format!(
                        "operator {name}: output {k} is {} of {dtype}, the `out` array {} of {}",
                        Shape::known(dims),
                        Shape::known(a.shape()),
                        a.dtype()
                    ),
                });
            }
            None => outputs.push(NDArray::for_output(dims, *dtype, context)?),
        }
    }
    push(op, inputs, &outputs, is_train, context, None)?;
    Ok(outputs)
}

/// The shapes and dtypes of an operator's outputs.
type Signature = Arc<[(Dims, DType)]>;

/// A remembered inference: the operator (kept alive, so its address is not reused), the input
/// shapes and dtypes, and the outputs.
struct CachedSignature {
    op: OpRef,
    inputs: SmallVec<[(Dims, DType); 4]>,
    outputs: Signature,
}

thread_local! {
    /// Output signatures by operator and input signature: a loop applying the same operators to
    /// arrays of the same shapes infers once.
    static SIGNATURES: RefCell<HashMap<u64, CachedSignature, KeyHasher>> =
        const { RefCell::new(HashMap::with_hasher(KeyHasher)) };
    /// The signatures used last (at most [`RECENT_SIGNATURES`], replaced in turn), checked before
    /// `SIGNATURES`: a loop of a few operators (W2's four) finds them without hashing.
    static RECENT: RefCell<Recent> = const {
        RefCell::new(Recent { entries: Vec::new(), next: 0 })
    };
}

/// Signatures kept in [`RECENT`].
const RECENT_SIGNATURES: usize = 8;

/// The recently used signatures, and the entry to replace next once full.
struct Recent {
    entries: Vec<CachedSignature>,
    next: usize,
}

impl CachedSignature {
    /// Whether this is the signature of `op` on inputs of these shapes and dtypes.
    fn matches(&self, op: &OpRef, inputs: &[&NDArray]) -> bool {
        Arc::ptr_eq(&self.op, op)
            && self.inputs.len() == inputs.len()
            && self
                .inputs
                .iter()
                .zip(inputs)
                .all(|((d, t), a)| d.as_slice() == a.shape() && *t == a.dtype())
    }
}

/// Remembers `entry` among the recent signatures.
fn remember_recent(entry: CachedSignature) {
    RECENT.with(|r| {
        let mut recent = r.borrow_mut();
        if recent.entries.len() < RECENT_SIGNATURES {
            recent.entries.push(entry);
        } else {
            let at = recent.next;
            recent.entries[at] = entry;
            recent.next = (at + 1) % RECENT_SIGNATURES;
        }
    });
}

/// FxHash's multiply-rotate mixing: the signature key only needs to spread small integers
/// (addresses, dimensions, dtype flags) and is checked for equality on a hit.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The signature map's hasher: its keys are already hashes.
#[derive(Clone, Copy, Default)]
struct KeyHasher;

impl std::hash::BuildHasher for KeyHasher {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

/// Passes a `u64` key through unchanged.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

fn signature_key(op: &OpRef, inputs: &[&NDArray]) -> u64 {
    let mut h = FxHasher::default();
    (Arc::as_ptr(op) as *const () as usize).hash(&mut h);
    inputs.len().hash(&mut h);
    for a in inputs {
        a.shape().hash(&mut h);
        a.dtype().hash(&mut h);
    }
    h.finish()
}

fn cached_signature(op: &OpRef, inputs: &[&NDArray]) -> Result<Signature> {
    let recent = RECENT.with(|r| {
        r.borrow()
            .entries
            .iter()
            .find(|entry| entry.matches(op, inputs))
            .map(|entry| Arc::clone(&entry.outputs))
    });
    if let Some(signature) = recent {
        return Ok(signature);
    }
    let key = signature_key(op, inputs);
    let hit = SIGNATURES.with(|c| {
        c.borrow().get(&key).and_then(|entry| {
            entry
                .matches(op, inputs)
                .then(|| Arc::clone(&entry.outputs))
        })
    });
    let outputs = match hit {
        Some(signature) => signature,
        None => {
            let outputs: Signature = Arc::from(infer_signature(op, inputs, &[])?);
            SIGNATURES.with(|c| {
                let mut cache = c.borrow_mut();
                if cache.len() >= 1024 {
                    cache.clear();
                }
                cache.insert(key, CachedSignature::new(op, inputs, &outputs));
            });
            outputs
        }
    };
    remember_recent(CachedSignature::new(op, inputs, &outputs));
    Ok(outputs)
}

impl CachedSignature {
    fn new(op: &OpRef, inputs: &[&NDArray], outputs: &Signature) -> CachedSignature {
        CachedSignature {
            op: Arc::clone(op),
            inputs: inputs.iter().map(|a| (a.shape.clone(), a.dtype)).collect(),
            outputs: Arc::clone(outputs),
        }
    }
}

/// Runs shape and type inference with the inputs (and any given outputs) as constraints; every
/// output must come out known and the inputs unchanged.
fn infer_signature(
    op: &OpRef,
    inputs: &[&NDArray],
    given: &[NDArray],
) -> Result<Vec<(Dims, DType)>> {
    let name = op.name();
    let input_names = op.input_names();
    if inputs.len() != input_names.len() {
        return Err(mxr_operators::Error::InputCount {
            op: name.into(),
            expected: input_names.len(),
            names: input_names.join(", "),
            got: inputs.len(),
        }
        .into());
    }
    let num_outputs = op.num_outputs();
    if given.len() > num_outputs || (!given.is_empty() && given.len() < op.num_visible_outputs()) {
        return Err(Error::InvalidArgument {
            call: "nd::apply",
            reason: format!(
                "operator {name} has {} visible outputs ({num_outputs} in all); {} `out` arrays given",
                op.num_visible_outputs(),
                given.len()
            ),
        });
    }
    let mut in_shapes: Vec<Shape> = inputs.iter().map(|a| Shape::known(a.shape())).collect();
    let mut out_shapes: Vec<Shape> = (0..num_outputs)
        .map(|k| {
            given
                .get(k)
                .map_or_else(Shape::unknown, |a| Shape::known(a.shape()))
        })
        .collect();
    for _ in 0..2 {
        op.infer_shape(&mut ShapeCtx::new(
            name,
            &input_names,
            &mut in_shapes,
            &mut out_shapes,
        ))?;
    }
    let mut in_types: Vec<Option<DType>> = inputs.iter().map(|a| Some(a.dtype())).collect();
    let mut out_types: Vec<Option<DType>> = (0..num_outputs)
        .map(|k| given.get(k).map(NDArray::dtype))
        .collect();
    op.infer_type(&mut TypeCtx::new(
        name,
        &input_names,
        &mut in_types,
        &mut out_types,
    ))?;
    let describe_inputs = || {
        input_names
            .iter()
            .zip(inputs)
            .map(|(n, a)| format!("{n}={} {}", Shape::known(a.shape()), a.dtype()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, (shape, a)) in in_shapes.iter().zip(inputs).enumerate() {
        if shape.dims().as_deref() != Some(a.shape()) || in_types[i] != Some(a.dtype()) {
            return Err(mxr_operators::Error::Shape {
                op: name.into(),
                reason: format!(
                    "input `{}` must be {shape} of {}",
                    input_names[i],
                    in_types[i].map_or("?".into(), |d| d.to_string())
                ),
                inputs: describe_inputs(),
            }
            .into());
        }
    }
    let mut signature = Vec::with_capacity(num_outputs);
    for k in 0..num_outputs {
        let (Some(dims), Some(dtype)) = (out_shapes[k].dims(), out_types[k]) else {
            return Err(mxr_operators::Error::Shape {
                op: name.into(),
                reason: format!("cannot infer output {k} (known: {})", out_shapes[k]),
                inputs: describe_inputs(),
            }
            .into());
        };
        signature.push((Dims::from_vec(dims), dtype));
    }
    Ok(signature)
}

/// One array's place in a pushed operation.
struct View {
    data: Arc<RwLock<Buffer>>,
    range: std::ops::Range<usize>,
    shape: Dims,
    dtype: DType,
}

impl View {
    /// The view of a CPU array; an error for an array on a GPU (an `out` array on another
    /// context than the inputs).
    fn of(a: &NDArray) -> Result<View> {
        let data = Arc::clone(a.chunk.host("a CPU operator")?);
        Ok(View {
            data,
            range: a.byte_range(),
            shape: Dims::from_slice(&a.shape),
            dtype: a.dtype,
        })
    }

    fn same_storage(&self, other: &View) -> bool {
        Arc::ptr_eq(&self.data, &other.data)
    }
}

/// Pushes `op` on arrays whose shapes and dtypes were checked when a plan was made (the
/// executor's forward and backward): no inference, no allocation of outputs.
/// `needed` marks the outputs anyone reads (the kernel may skip the others).
pub(crate) fn push_planned(
    op: &OpRef,
    inputs: &[&NDArray],
    outputs: &[NDArray],
    is_train: bool,
    context: Context,
    needed: Option<&[bool]>,
) -> Result<()> {
    push(op, inputs, outputs, is_train, context, needed)
}

/// Pushes the kernel of `op` as one engine operation.
fn push(
    op: &OpRef,
    inputs: &[&NDArray],
    outputs: &[NDArray],
    is_train: bool,
    context: Context,
    needed: Option<&[bool]>,
) -> Result<()> {
    if !context.is_cpu() {
        return super::gpu_invoke::push(op, inputs, outputs, is_train, context, needed);
    }
    let mutated = op.mutate_inputs();
    let rng = op
        .resources()
        .contains(&Resource::Random)
        .then(|| RngState::of(context));
    // Pushed one by one: `collect` goes through SmallVec's generic `extend`, several times
    // slower for these one or two elements.
    let mut reads: SmallVec<[&Var; 4]> = SmallVec::new();
    for a in inputs {
        reads.push(&a.chunk.var);
    }
    let mut writes: SmallVec<[&Var; 4]> = SmallVec::new();
    for a in outputs {
        writes.push(&a.chunk.var);
    }
    for &i in &mutated {
        writes.push(&inputs[i].chunk.var);
    }
    if let Some(rng) = &rng {
        writes.push(&rng.var);
    }
    // A var both read and written counts as written: the engine drops such reads itself (and
    // duplicates), so the lists go as they are.

    // The plan is filled in place in a recycled box (no plan of a few hundred bytes built on
    // the stack and copied into a box, no allocation), which the engine hands back to it.
    let mut plan = Plan::take();
    plan.op = Some(Arc::clone(op));
    for a in inputs {
        plan.inputs.push(View::of(a)?);
    }
    for a in outputs.iter().chain(mutated.iter().map(|&i| inputs[i])) {
        plan.outputs.push(View::of(a)?);
    }
    plan.is_train = is_train;
    plan.context = context;
    plan.rng = rng.clone();
    plan.needed = needed.map(SmallVec::from_slice);
    let bytes: usize = plan
        .inputs
        .iter()
        .chain(&plan.outputs)
        .map(|v| v.range.len())
        .sum();
    let engine = inputs
        .first()
        .map_or_else(|| outputs[0].chunk.engine, |a| a.chunk.engine);
    let inline = bytes <= engine.config().inline_max_bytes;
    let operation = Operation::task(op.name(), plan);
    engine.push(
        operation
            .reads(&reads)
            .writes(&writes)
            .context(context)
            .inline_if_ready(inline),
    )?;
    Ok(())
}

/// Pushes an in-place call of a shape-preserving unary operator (see
/// [`Operator::is_inplace_unary`](mxr_operators::registry::Operator::is_inplace_unary)).
pub(crate) fn push_inplace(op: &OpRef, array: &NDArray, is_train: bool) -> Result<()> {
    if !array.context().is_cpu() {
        let out = [array.clone()];
        return super::gpu_invoke::push(op, &[array], &out, is_train, array.context(), None);
    }
    let op = Arc::clone(op);
    let view = View::of(array)?;
    let context = array.context();
    let name = op.name();
    let inline = view.range.len() <= array.chunk.engine.config().inline_max_bytes;
    let operation = Operation::sync(name, move |_| {
        let mut guard = view.data.write();
        let mut tensor = TensorMut {
            shape: &view.shape,
            dtype: view.dtype,
            bytes: &mut guard.as_bytes_mut()[view.range.clone()],
        };
        let mut ctx = OpContext {
            is_train,
            context,
            rng: None,
            needed: None,
        };
        match op.forward_inplace(&mut ctx, &mut tensor) {
            Some(result) => result.map_err(Into::into),
            None => Err(mxr_operators::Error::Unsupported {
                op: name.into(),
                what: "in-place computation (is_inplace_unary without forward_inplace)".into(),
            }
            .into()),
        }
    });
    array.chunk.engine.push(
        operation
            .writes(&[&array.chunk.var])
            .context(context)
            .inline_if_ready(inline),
    )?;
    Ok(())
}

/// Everything a pushed operation needs. Pushed as a boxed [`Task`]; once it has run, the box
/// is emptied and kept in a small per-thread cache for a later push.
struct Plan {
    /// The operator; `None` only while the box waits in the cache.
    op: Option<OpRef>,
    inputs: SmallVec<[View; 3]>,
    /// The outputs, then the mutated inputs.
    outputs: SmallVec<[View; 2]>,
    is_train: bool,
    context: Context,
    rng: Option<Arc<RngState>>,
    /// Outputs anyone reads, when known (mutated inputs are always written).
    needed: Option<SmallVec<[bool; 4]>>,
}

thread_local! {
    /// Emptied plans for this thread's next pushes. Boxes, not values: the box itself is what
    /// is pushed and recycled.
    #[expect(clippy::vec_box, reason = "the boxes are what is recycled")]
    static FREE_PLANS: RefCell<Vec<Box<Plan>>> = const { RefCell::new(Vec::new()) };
}

/// Emptied plans a thread keeps, at most.
const FREE_PLANS_CAP: usize = 8;

impl Task for Plan {
    fn run(self: Box<Self>, _rc: &RunContext) -> Result<(), BoxError> {
        let result = self.execute();
        self.recycle();
        result
    }
}

impl Plan {
    /// An empty plan: a recycled box when this thread has one.
    fn take() -> Box<Plan> {
        FREE_PLANS
            .try_with(|free| free.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                Box::new(Plan {
                    op: None,
                    inputs: SmallVec::new(),
                    outputs: SmallVec::new(),
                    is_train: false,
                    context: Context::cpu(0),
                    rng: None,
                    needed: None,
                })
            })
    }

    /// Empties the plan (releasing the operator and the storage it refers to) and keeps the box
    /// for a later push.
    fn recycle(mut self: Box<Plan>) {
        self.op = None;
        self.inputs.clear();
        self.outputs.clear();
        self.rng = None;
        self.needed = None;
        // `try_with`: during thread teardown the box is simply freed.
        let _ = FREE_PLANS.try_with(|free| {
            if let Ok(mut free) = free.try_borrow_mut()
                && free.len() < FREE_PLANS_CAP
            {
                free.push(self);
            }
        });
    }
}

/// Aligned scratch bytes.
struct Staging {
    words: Vec<u64>,
    len: usize,
}

impl Staging {
    fn copy_of(bytes: &[u8]) -> Staging {
        let mut s = Staging::zeroed(bytes.len());
        s.bytes_mut().copy_from_slice(bytes);
        s
    }
    fn zeroed(len: usize) -> Staging {
        Staging {
            words: vec![0; len.div_ceil(8)],
            len,
        }
    }
    fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
    }
}

impl Plan {
    fn execute(&self) -> Result<(), BoxError> {
        let Some(op) = &self.op else {
            return Err("internal error: an emptied plan was pushed".into());
        };
        let mut rng_guard = self.rng.as_ref().map(|r| r.rng.lock());
        let mut ctx = OpContext {
            is_train: self.is_train,
            context: self.context,
            rng: rng_guard.as_deref_mut(),
            needed: self.needed.as_deref(),
        };

        // In place: one input, one output, the same elements.
        if let ([input], [output]) = (self.inputs.as_slice(), self.outputs.as_slice())
            && input.same_storage(output)
            && input.range == output.range
            && input.shape == output.shape
        {
            let mut guard = output.data.write();
            let mut tensor = TensorMut {
                shape: &output.shape,
                dtype: output.dtype,
                bytes: &mut guard.as_bytes_mut()[output.range.clone()],
            };
            if let Some(result) = op.forward_inplace(&mut ctx, &mut tensor) {
                return result.map_err(Into::into);
            }
        }

        // The usual case, without the bookkeeping below: one output, on storage no input uses.
        if let [output] = self.outputs.as_slice()
            && !self.inputs.iter().any(|i| i.same_storage(output))
        {
            return self.execute_one_output(op, &mut ctx, output);
        }

        // Inputs that share storage with an output are copied first (the kernel may overwrite
        // them before reading); the others are read in place.
        let aliased: SmallVec<[bool; 4]> = self
            .inputs
            .iter()
            .map(|i| self.outputs.iter().any(|o| o.same_storage(i)))
            .collect();
        let snapshots: SmallVec<[Option<Staging>; 4]> = self
            .inputs
            .iter()
            .zip(&aliased)
            .map(|(v, &a)| a.then(|| Staging::copy_of(&v.data.read().as_bytes()[v.range.clone()])))
            .collect();
        let mut read_guards: SmallVec<[_; 4]> = SmallVec::new();
        for (v, &a) in self.inputs.iter().zip(&aliased) {
            if !a && !read_guards.iter().any(|(d, _)| Arc::ptr_eq(d, &v.data)) {
                read_guards.push((Arc::clone(&v.data), v.data.read()));
            }
        }
        let input_views: SmallVec<[TensorRef<'_>; 4]> = self
            .inputs
            .iter()
            .zip(&snapshots)
            .map(|(v, snap)| TensorRef {
                shape: &v.shape,
                dtype: v.dtype,
                bytes: match snap {
                    Some(s) => s.bytes(),
                    None => {
                        let (_, guard) = read_guards
                            .iter()
                            .find(|(d, _)| Arc::ptr_eq(d, &v.data))
                            .expect("every non-aliased input has a read guard (pushed above)");
                        &guard.as_bytes()[v.range.clone()]
                    }
                },
            })
            .collect();

        // Outputs: written in place when each has storage of its own, else staged and copied.
        let shared: SmallVec<[bool; 4]> = self
            .outputs
            .iter()
            .enumerate()
            .map(|(k, o)| {
                self.outputs
                    .iter()
                    .enumerate()
                    .any(|(j, p)| j != k && p.same_storage(o))
            })
            .collect();
        let mut staged: SmallVec<[Option<Staging>; 4]> = self
            .outputs
            .iter()
            .zip(&shared)
            .map(|(o, &s)| s.then(|| Staging::copy_of(&o.data.read().as_bytes()[o.range.clone()])))
            .collect();
        let mut write_guards: SmallVec<[_; 4]> = self
            .outputs
            .iter()
            .zip(&shared)
            .map(|(o, &s)| (!s).then(|| o.data.write()))
            .collect();
        {
            let mut output_views: SmallVec<[TensorMut<'_>; 4]> = SmallVec::new();
            for ((o, guard), stage) in self.outputs.iter().zip(&mut write_guards).zip(&mut staged) {
                let bytes = match (guard, stage) {
                    (Some(g), _) => &mut g.as_bytes_mut()[o.range.clone()],
                    (None, Some(s)) => s.bytes_mut(),
                    (None, None) => unreachable!("an output is either locked or staged"),
                };
                output_views.push(TensorMut {
                    shape: &o.shape,
                    dtype: o.dtype,
                    bytes,
                });
            }
            op.forward(&mut ctx, &input_views, &mut output_views)?;
        }
        drop(write_guards);
        drop(input_views);
        drop(read_guards);
        for (o, stage) in self.outputs.iter().zip(&staged) {
            if let Some(s) = stage {
                o.data.write().as_bytes_mut()[o.range.clone()].copy_from_slice(s.bytes());
            }
        }
        Ok(())
    }

    /// [`Plan::execute`] for one output whose storage no input shares: the inputs read in place
    /// (one read lock per storage, `a + a` locks once), the output written in place.
    fn execute_one_output(
        &self,
        op: &OpRef,
        ctx: &mut OpContext<'_>,
        output: &View,
    ) -> Result<(), BoxError> {
        let mut guards: SmallVec<[(&View, RwLockReadGuard<'_, Buffer>); 3]> = SmallVec::new();
        for v in &self.inputs {
            if !guards.iter().any(|(held, _)| held.same_storage(v)) {
                guards.push((v, v.data.read()));
            }
        }
        let mut inputs: SmallVec<[TensorRef<'_>; 3]> = SmallVec::new();
        for v in &self.inputs {
            // Every input's storage was locked in the loop above.
            let Some((_, guard)) = guards.iter().find(|(held, _)| held.same_storage(v)) else {
                unreachable!("every input's storage is locked above");
            };
            inputs.push(TensorRef {
                shape: &v.shape,
                dtype: v.dtype,
                bytes: &guard.as_bytes()[v.range.clone()],
            });
        }
        let mut guard = output.data.write();
        let mut outputs = [TensorMut {
            shape: &output.shape,
            dtype: output.dtype,
            bytes: &mut guard.as_bytes_mut()[output.range.clone()],
        }];
        op.forward(ctx, &inputs, &mut outputs)?;
        Ok(())
    }
}
