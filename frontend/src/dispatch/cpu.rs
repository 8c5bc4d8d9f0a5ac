//! Operators on the CPU: one engine operation per call, reading the inputs' vars and writing
//! the outputs' (and mutated inputs' and the random state's), whose body locks the storage and
//! runs the kernel. Small operations may run on the pusher when their vars are free.

use std::cell::RefCell;
use std::sync::Arc;

use mxr_engine::storage::Buffer;
use mxr_engine::{BoxError, Context, Operation, RunContext, Task, Var};
use mxr_kernels::DType;
use mxr_operators::registry::{Call, OpContext, OpRef, Resource, TensorMut, TensorRef};
use parking_lot::{RwLock, RwLockReadGuard};
use smallvec::SmallVec;

use crate::Result;
use crate::nd::NDArray;
use crate::nd::ndarray::Dims;
use crate::nd::random::RngState;

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

/// Pushes the kernel of `op` as one engine operation (on a GPU: [`super::gpu::push`]), on
/// arrays whose shapes and dtypes are known: inferred by [`nd::invoke`](crate::nd::invoke), or
/// checked when a plan was made (the executor's forward and backward: no inference, no
/// allocation of outputs). `needed` marks the outputs anyone reads (the kernel may skip the
/// others).
pub(crate) fn push(
    op: &OpRef,
    inputs: &[&NDArray],
    outputs: &[NDArray],
    is_train: bool,
    context: Context,
    needed: Option<&[bool]>,
) -> Result<()> {
    if !context.is_cpu() {
        return super::gpu::push(op, inputs, outputs, is_train, context, needed);
    }
    let mutated = op.mutate_inputs();
    let rng = op
        .resources()
        .contains(&Resource::Random)
        .then(|| RngState::of(context));
    // A var both read and written counts as written: the engine drops such reads itself (and
    // duplicates), so the lists go as they are.
    let (reads, writes) = call_vars(inputs, outputs, &mutated, rng.as_deref());

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

/// The vars of an operator call: it reads the inputs' and writes the outputs', the `mutated`
/// inputs' and the random state's.
#[inline]
pub(super) fn call_vars<'a>(
    inputs: &[&'a NDArray],
    outputs: &'a [NDArray],
    mutated: &[usize],
    rng: Option<&'a RngState>,
) -> (SmallVec<[&'a Var; 4]>, SmallVec<[&'a Var; 4]>) {
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
    for &i in mutated {
        writes.push(&inputs[i].chunk.var);
    }
    if let Some(rng) = rng {
        writes.push(&rng.var);
    }
    (reads, writes)
}

/// Pushes an in-place call of a shape-preserving unary operator (see
/// [`Operator::is_inplace_unary`](mxr_operators::registry::Operator::is_inplace_unary)).
pub(crate) fn push_inplace(op: &OpRef, array: &NDArray, is_train: bool) -> Result<()> {
    if !array.context().is_cpu() {
        let out = [array.clone()];
        return super::gpu::push(op, &[array], &out, is_train, array.context(), None);
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
            op.forward(Call::new(&mut ctx, &input_views, &mut output_views))?;
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
        op.forward(Call::new(ctx, &inputs, &mut outputs))?;
        Ok(())
    }
}
