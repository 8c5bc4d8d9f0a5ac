//! Operations: what is pushed (`Operation`), what a running function sees (`RunContext`), how an
//! asynchronous one reports completion (`Completion`), and the engine's record of one pushed
//! instance (`OprBlock`).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use parking_lot::Mutex;
use smallvec::SmallVec;

use crate::error::BoxError;
use crate::scheduler::Shared;
use crate::sync::Latch;
use crate::var::VarInner;
use crate::{Context, Var};

/// What a running operation is told about where it runs.
#[derive(Debug, Clone, Copy)]
pub struct RunContext {
    context: Context,
    worker: u32,
}

impl RunContext {
    pub(crate) fn new(context: Context, worker: u32) -> Self {
        RunContext { context, worker }
    }

    /// The context the operation was pushed with.
    pub fn context(&self) -> Context {
        self.context
    }

    /// The index of the worker thread running it; [`RunContext::INLINE`] when it runs on the
    /// thread that pushed it or completed its last dependency (naive mode, waits, deletes).
    pub fn worker(&self) -> u32 {
        self.worker
    }

    /// The worker index used for operations run outside the worker pool.
    pub const INLINE: u32 = u32::MAX;
}

type SyncFn = Box<dyn FnOnce(&RunContext) -> Result<(), BoxError> + Send + 'static>;
type AsyncFn = Box<dyn FnOnce(&RunContext, Completion) + Send + 'static>;

/// The body of a synchronous operation as an object that owns its box: what
/// [`Operation::task`] pushes. Unlike a closure (which [`Operation::sync`] boxes anew on every
/// push), a task arrives boxed and is handed its box back when it runs, so a caller pushing
/// many small operations can keep the boxes and reuse them.
///
/// ```
/// use mxr_engine::{BoxError, Engine, EngineConfig, Operation, RunContext, Task, Var};
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// struct Add(Arc<AtomicU32>);
/// impl Task for Add {
///     fn run(self: Box<Self>, _rc: &RunContext) -> Result<(), BoxError> {
///         self.0.fetch_add(1, Ordering::Relaxed);
///         Ok(()) // the box is dropped here; a caller could keep it instead
///     }
/// }
///
/// let engine = Engine::new(EngineConfig::default())?;
/// let (v, count) = (Var::new(), Arc::new(AtomicU32::new(0)));
/// engine.push(Operation::task("add", Box::new(Add(Arc::clone(&count)))).writes(&[&v]))?;
/// engine.wait_for_var(&v)?;
/// assert_eq!(count.load(Ordering::Relaxed), 1);
/// # Ok::<(), mxr_engine::Error>(())
/// ```
pub trait Task: Send + 'static {
    /// Runs the operation; it is complete when this returns. An `Err` (or a panic) poisons the
    /// vars it writes, as for [`Operation::sync`]. A task skipped for an upstream error is
    /// dropped without running.
    fn run(self: Box<Self>, rc: &RunContext) -> Result<(), BoxError>;
}

/// A synchronous body: a boxed closure or a [`Task`].
pub(crate) enum SyncBody {
    Fn(SyncFn),
    Task(Box<dyn Task>),
}

impl SyncBody {
    /// Runs the body.
    pub(crate) fn call(self, rc: &RunContext) -> Result<(), BoxError> {
        match self {
            SyncBody::Fn(f) => f(rc),
            SyncBody::Task(task) => task.run(rc),
        }
    }
}

/// The body of a pushed block.
pub(crate) enum Body {
    /// Done when it returns.
    Sync(SyncBody),
    /// Done when its `Completion` is called.
    Async(AsyncFn),
    /// Internal: releases a waiting thread (reads the waited var; runs even on errors).
    Wait(Arc<Latch>),
    /// Internal: frees what a deleted var guarded (writes the var; runs even on errors).
    Delete(Box<dyn FnOnce() + Send + 'static>),
}

impl Body {
    /// Internal bodies run inline on the granting thread and are never skipped for errors.
    pub(crate) fn is_internal(&self) -> bool {
        matches!(self, Body::Wait(_) | Body::Delete(_))
    }
}

/// An operation to push: its function, the vars it reads and writes, its context, priority and
/// name.
///
/// A var listed more than once counts once, and a var listed both as read and as written counts
/// as written (MXNet's `DeduplicateVarHandle`), so `x += y` is a pure writer of `x`.
///
/// ```
/// use mxr_engine::{Context, Engine, EngineConfig, Operation, Var};
/// let engine = Engine::new(EngineConfig::default().with_cpu_workers(2))?;
/// let (a, b) = (Var::new(), Var::new());
/// engine.push(
///     Operation::sync("copy_a_to_b", |_rc| Ok(()))
///         .reads(&[&a])
///         .writes(&[&b])
///         .context(Context::cpu(0))
///         .priority(1),
/// )?;
/// engine.wait_for_var(&b)?;
/// assert_eq!(b.version(), 1);
/// # Ok::<(), mxr_engine::Error>(())
/// ```
pub struct Operation<'a> {
    pub(crate) name: Cow<'static, str>,
    pub(crate) body: Body,
    pub(crate) reads: &'a [&'a Var],
    pub(crate) writes: &'a [&'a Var],
    pub(crate) context: Context,
    pub(crate) priority: i32,
    pub(crate) inline_if_ready: bool,
}

impl<'a> Operation<'a> {
    /// An operation that is complete when `f` returns. An `Err` (or a panic) poisons the vars it
    /// writes.
    pub fn sync<F>(name: impl Into<Cow<'static, str>>, f: F) -> Self
    where
        F: FnOnce(&RunContext) -> Result<(), BoxError> + Send + 'static,
    {
        Self::with_body(name.into(), Body::Sync(SyncBody::Fn(Box::new(f))))
    }

    /// A synchronous operation whose body is a [`Task`]: like [`Operation::sync`], but the
    /// caller supplies the box (and gets it back in [`Task::run`]).
    pub fn task(name: impl Into<Cow<'static, str>>, task: Box<dyn Task>) -> Self {
        Self::with_body(name.into(), Body::Sync(SyncBody::Task(task)))
    }

    /// An operation that is complete when the [`Completion`] handed to `f` is called, possibly
    /// from another thread (GPU streams, I/O). Dropping the handle uncalled fails the operation.
    pub fn asynchronous<F>(name: impl Into<Cow<'static, str>>, f: F) -> Self
    where
        F: FnOnce(&RunContext, Completion) + Send + 'static,
    {
        Self::with_body(name.into(), Body::Async(Box::new(f)))
    }

    fn with_body(name: Cow<'static, str>, body: Body) -> Self {
        Operation {
            name,
            body,
            reads: &[],
            writes: &[],
            context: Context::cpu(0),
            priority: 0,
            inline_if_ready: false,
        }
    }

    /// The vars the operation reads.
    pub fn reads(mut self, vars: &'a [&'a Var]) -> Self {
        self.reads = vars;
        self
    }

    /// The vars the operation writes.
    pub fn writes(mut self, vars: &'a [&'a Var]) -> Self {
        self.writes = vars;
        self
    }

    /// The context it runs in (default `cpu(0)`).
    pub fn context(mut self, context: Context) -> Self {
        self.context = context;
        self
    }

    /// Its priority: operations with priority > 0 go to the CPU pool's priority lane and are
    /// taken before ordinary ones. Priority never overrides data dependencies.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Lets a synchronous CPU operation that is ready when pushed (every var granted at once)
    /// run on the pushing thread before `push` returns, instead of being handed to a worker.
    /// For tiny operations the hand-off costs more than the work; ordering and error semantics
    /// are unchanged (an operation that must wait is queued as usual and runs on a worker).
    pub fn inline_if_ready(mut self, inline: bool) -> Self {
        self.inline_if_ready = inline;
        self
    }
}

impl fmt::Debug for Operation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operation")
            .field("name", &self.name)
            .field("reads", &self.reads)
            .field("writes", &self.writes)
            .field("context", &self.context)
            .field("inline_if_ready", &self.inline_if_ready)
            .field("priority", &self.priority)
            .finish_non_exhaustive()
    }
}

/// The vars of one block, deduplicated.
pub(crate) type VarList = SmallVec<[Arc<VarInner>; 4]>;

/// One pushed operation.
pub(crate) struct OprBlock {
    /// Grants still missing before the block may run (+1 held by the pusher while registering).
    /// The thread that brings it to zero dispatches the block, exactly once.
    pub(crate) wait: AtomicUsize,
    /// Taken by the single thread that runs the block.
    pub(crate) body: Mutex<Option<Body>>,
    pub(crate) reads: VarList,
    pub(crate) writes: VarList,
    pub(crate) context: Context,
    pub(crate) priority: i32,
    pub(crate) name: Cow<'static, str>,
    /// Runs on the dispatching thread instead of a worker (naive engines, waits, deletes).
    pub(crate) inline: bool,
    /// Set when the block completes; only for asynchronous blocks of a naive engine, whose push
    /// must not return before the operation is complete.
    pub(crate) done: Option<Arc<Latch>>,
    pub(crate) engine: Arc<Shared>,
}

impl OprBlock {
    /// An empty block of `engine`, filled by `submit`.
    pub(crate) fn new(engine: Arc<Shared>) -> Self {
        OprBlock {
            wait: AtomicUsize::new(0),
            body: Mutex::new(None),
            reads: VarList::new(),
            writes: VarList::new(),
            context: Context::cpu(0),
            priority: 0,
            name: Cow::Borrowed(""),
            inline: false,
            done: None,
            engine,
        }
    }
}

/// A shared handle to a pushed block.
pub(crate) type BlockRef = Arc<OprBlock>;

/// The completion handle of an asynchronous operation. Call [`Completion::done`],
/// [`Completion::fail`] or [`Completion::finish`] exactly once, from any thread; dropping it
/// uncalled fails the operation with [`Error::CompletionDropped`](crate::Error::CompletionDropped),
/// so a lost handle never hangs a wait.
pub struct Completion {
    pub(crate) block: Option<BlockRef>,
    pub(crate) start_ns: u64,
}

impl Completion {
    /// The operation succeeded.
    pub fn done(self) {
        self.finish(Ok(()));
    }

    /// The operation failed with `error`, which poisons the vars it writes.
    pub fn fail(self, error: impl Into<BoxError>) {
        self.finish(Err(error.into()));
    }

    /// Reports the operation's result.
    pub fn finish(mut self, result: Result<(), BoxError>) {
        if let Some(block) = self.block.take() {
            let error = result
                .err()
                .map(|e| crate::scheduler::op_failed(&block.name, e));
            crate::scheduler::complete_async(block, error, self.start_ns);
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some(block) = self.block.take() {
            let error = if std::thread::panicking() {
                crate::Error::OpPanicked {
                    op: block.name.to_string(),
                    message: "panicked before completing".to_owned(),
                }
            } else {
                crate::Error::CompletionDropped {
                    op: block.name.to_string(),
                }
            };
            crate::scheduler::complete_async(block, Some(error), self.start_ns);
        }
    }
}

impl fmt::Debug for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.block.as_ref().map(|b| b.name.as_ref());
        f.debug_struct("Completion").field("op", &name).finish()
    }
}
