//! The engine: pushing operations, running them when their vars allow, waiting.
//!
//! Life of an operation (see README.md beside this file for the invariants):
//! 1. `push` normalises its var sets, creates an [`OprBlock`] whose `wait` counter is the number
//!    of vars plus one (held while registering), appends a read or write to every var's queue and
//!    drops its own hold. Whoever brings `wait` to zero — the pusher, or a thread completing an
//!    earlier operation — dispatches the block, exactly once.
//! 2. Dispatch: internal blocks (waits, deletes) and every block of a naive engine run inline on
//!    the dispatching thread; others go to the CPU worker pool.
//! 3. Run: a block whose vars carry an error adopts it and is skipped; otherwise its body runs
//!    under `catch_unwind`, so a panic becomes an error and the worker lives on.
//! 4. Complete: every var is released (granting the next operations), an error is left on the
//!    written vars, and the in-flight count drops, waking `wait_all` and throttled pushers.
//!
//! Shutdown order (Drop or [`Engine::shutdown`]): wait for all pushed work (pushes from running
//! operations are still accepted), refuse new pushes, wait again, stop and join the workers,
//! stop the profiler (writing out its trace), and report the first unobserved error.

mod config;
mod cpu_pool;
mod gpu_workers;

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_deque::{Injector, Steal};
use crossbeam_utils::CachePadded;
use parking_lot::{Condvar, Mutex};

pub use config::{DEFAULT_INLINE_MAX_BYTES, DEFAULT_MAX_INFLIGHT, EngineConfig, EngineKind};
use cpu_pool::{WorkerCtx, WorkerPool};
use gpu_workers::GpuWorkers;

use crate::deps::VarRefs;
use crate::error::BoxError;
use crate::operation::{BlockRef, Body, Completion, OprBlock, RunContext, SyncBody};
use crate::poison::Poison;
use crate::profiler::{OpRecord, Profiler};
use crate::storage::CpuPool;
use crate::sync::Latch;
use crate::var::{FLAG_FREED, FLAG_POISONED, Grants, VarInner};
use crate::{Context, Error, Operation, Result, Var};

thread_local! {
    /// Set on the engine's worker threads: their pushes are exempt from back-pressure.
    pub(crate) static IN_WORKER: Cell<bool> = const { Cell::new(false) };
    /// How many operation bodies are running on this thread (nested inline runs count).
    static RUNNING: Cell<u32> = const { Cell::new(0) };
    /// Blocks to run inline on this thread, drained by the outermost `run_inline`, so that
    /// chains of inline runs iterate instead of recursing.
    static INLINE_QUEUE: RefCell<VecDeque<BlockRef>> = const { RefCell::new(VecDeque::new()) };
    static DRAINING: Cell<bool> = const { Cell::new(false) };
    /// Recycled blocks of one engine (`PushCache::engine`) kept by this pushing thread, so a push
    /// takes a block without a lock. At most one batch: its blocks keep that engine's shared
    /// state allocated until the thread pushes to another engine or exits.
    static PUSH_CACHE: RefCell<PushCache> = const {
        RefCell::new(PushCache { engine: std::ptr::null(), blocks: Vec::new() })
    };
}

struct PushCache {
    engine: *const Shared,
    blocks: Vec<BlockRef>,
}

/// A safety net on condvar waits; the wake-up protocols do not rely on it.
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// The state shared by an engine, its workers and its pushed blocks.
pub(crate) struct Shared {
    naive: bool,
    pool: Option<WorkerPool>,
    /// Operations pushed and not yet completed. On its own cache line: pushers update it on
    /// every push, and it must not share a line with fields the workers read.
    pending: CachePadded<AtomicUsize>,
    max_inflight: usize,
    low_water: usize,
    /// Threads blocked in `wait_all` or in back-pressure.
    waiters: AtomicUsize,
    idle_lock: Mutex<()>,
    idle_cv: Condvar,
    /// Errors raised (not merely passed on) since the last `wait_all`.
    errors: Mutex<Vec<Arc<Poison>>>,
    closed: AtomicBool,
    /// Completed blocks kept for reuse by `submit` (see `complete`), so a push allocates
    /// nothing: workers hand them over in batches; a pushing thread takes a whole batch into its
    /// `PUSH_CACHE`. (`PushCache::engine` is only compared, never dereferenced; the cached blocks
    /// keep that engine's state alive, so the address cannot be reused while they exist.)
    free_batches: Injector<Vec<BlockRef>>,
    pub(crate) profiler: Profiler,
    /// Operations accepted by `push` (waits and deletes are not counted). On its own cache
    /// line: only pushers touch it.
    pushed: CachePadded<AtomicU64>,
    /// One worker thread per GPU in use.
    gpu_workers: GpuWorkers,
}

impl Shared {
    pub(crate) fn workers(&self) -> &WorkerPool {
        self.pool
            .as_ref()
            .expect("only threaded engines start workers, and they have a pool")
    }

    /// Hands a ready block to its device's workers: the CPU pool, or its GPU's worker.
    fn route(&self, block: BlockRef) {
        if block.context.is_cpu() {
            self.workers().inject(block);
        } else {
            let ordinal = block.context.device_id();
            self.gpu_workers.send(ordinal, block);
        }
    }

    fn new_poison(&self, error: Error) -> Arc<Poison> {
        let poison = Arc::new(Poison::new(error));
        let mut errors = self.errors.lock();
        if errors.len() >= 256 {
            errors.retain(|p| p.is_set());
        }
        errors.push(Arc::clone(&poison));
        poison
    }

    /// Subtracts `n` completed operations from the in-flight count, waking waiters when it
    /// reaches zero or drops to the back-pressure low-water mark.
    pub(crate) fn finish(&self, n: usize) {
        // SeqCst on both counters: pairs with the waiter's registration (see `block_until`).
        let prev = self.pending.fetch_sub(n, Ordering::SeqCst);
        let now = prev - n;
        let crossed_low_water = prev > self.low_water && now <= self.low_water;
        if (now == 0 || crossed_low_water) && self.waiters.load(Ordering::SeqCst) > 0 {
            let _guard = self.idle_lock.lock();
            self.idle_cv.notify_all();
        }
    }

    /// Blocks until `pending <= limit`. Lost wake-ups are impossible: the waiter registers and
    /// then reads `pending` (SeqCst), the completer decrements and then reads `waiters`
    /// (SeqCst), and it notifies under the lock the waiter holds until it waits.
    fn block_until(&self, limit: usize) {
        let mut guard = self.idle_lock.lock();
        self.waiters.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        while self.pending.load(Ordering::SeqCst) > limit {
            self.idle_cv.wait_for(&mut guard, WAIT_SLICE);
        }
        self.waiters.fetch_sub(1, Ordering::SeqCst);
    }

    /// Back-pressure: a push beyond `max_inflight` waits until half of it has drained.
    fn throttle(&self) {
        if self.naive || self.pending.load(Ordering::Relaxed) < self.max_inflight {
            return;
        }
        if IN_WORKER.with(Cell::get) || RUNNING.with(Cell::get) > 0 {
            return; // a running operation must never wait for the engine it runs on
        }
        self.block_until(self.low_water);
    }

    /// A recycled block, if any is available: from this thread's cache, refilled with a batch
    /// handed over by the workers.
    fn take_recycled(&self) -> Option<BlockRef> {
        PUSH_CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if std::ptr::eq(cache.engine, self)
                && let Some(block) = cache.blocks.pop()
            {
                return Some(block);
            }
            loop {
                match self.free_batches.steal() {
                    Steal::Success(batch) => {
                        // Replacing the batch drops any blocks cached for another engine.
                        *cache = PushCache {
                            engine: self,
                            blocks: batch,
                        };
                        if let Some(block) = cache.blocks.pop() {
                            return Some(block);
                        }
                    }
                    Steal::Empty => return None,
                    Steal::Retry => continue,
                }
            }
        })
    }

    /// Hands a batch of recycled blocks to the pushers.
    pub(crate) fn recycle(&self, batch: Vec<BlockRef>) {
        self.free_batches.push(batch);
    }

    fn take_first_error(&self) -> Option<Error> {
        let list = std::mem::take(&mut *self.errors.lock());
        let mut first = None;
        for poison in list {
            let error = poison.take();
            if first.is_none() {
                first = error;
            }
        }
        first
    }
}

/// An asynchronous dependency engine: operations declare the vars they read and write; reads of
/// a var run concurrently, writes exclusively, conflicting operations in push order.
///
/// `push` returns at once. Reading results out waits ([`Engine::wait_for_var`],
/// [`Engine::wait_all`]). Dropping the engine waits for everything pushed, joins its threads and
/// reports (on stderr) an error nobody observed; [`Engine::shutdown`] does the same and returns
/// that error instead.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use mxr_engine::{Engine, EngineConfig, Operation, Var};
///
/// let engine = Engine::new(EngineConfig::default().with_cpu_workers(2))?;
/// let x = Var::new();
/// let value = Arc::new(AtomicU64::new(0));
/// for _ in 0..100 {
///     let value = Arc::clone(&value);
///     engine.push(Operation::sync("inc", move |_| {
///         value.fetch_add(1, Ordering::Relaxed);
///         Ok(())
///     }).writes(&[&x]))?;
/// }
/// engine.wait_for_var(&x)?; // blocks until the 100 writes have run
/// assert_eq!(value.load(Ordering::Relaxed), 100);
/// assert_eq!(x.version(), 100);
/// # Ok::<(), mxr_engine::Error>(())
/// ```
pub struct Engine {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    config: EngineConfig,
    cpu_storage: CpuPool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("pending", &self.shared.pending.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Builds an engine and starts its worker threads.
    pub fn new(config: EngineConfig) -> Result<Engine> {
        config.validate()?;
        let naive = config.kind == EngineKind::Naive;
        let (pool, locals) = if naive {
            (None, Vec::new())
        } else {
            let (pool, locals) = WorkerPool::new(config.cpu_workers);
            (Some(pool), locals)
        };
        let shared = Arc::new(Shared {
            naive,
            pool,
            pending: CachePadded::new(AtomicUsize::new(0)),
            max_inflight: config.max_inflight,
            low_water: config.max_inflight / 2,
            waiters: AtomicUsize::new(0),
            idle_lock: Mutex::new(()),
            idle_cv: Condvar::new(),
            errors: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            free_batches: Injector::new(),
            profiler: Profiler::new(),
            pushed: CachePadded::new(AtomicU64::new(0)),
            gpu_workers: GpuWorkers::default(),
        });
        shared
            .profiler
            .register_worker(RunContext::INLINE, "inline");
        if let Some(path) = &config.profile_path {
            // Created now, so that an unwritable path is an error here, not at shutdown.
            shared.profiler.start(path)?;
        }
        let threads = if naive {
            Vec::new()
        } else {
            cpu_pool::spawn_workers(&shared, locals).map_err(|e| Error::Config {
                name: "cpu_workers",
                value: config.cpu_workers.to_string(),
                reason: format!("cannot start worker threads: {e}"),
            })?
        };
        Ok(Engine {
            shared,
            threads: Mutex::new(threads),
            config,
            cpu_storage: CpuPool::new(Context::cpu(0)),
        })
    }

    /// The process-wide engine, built once from the environment ([`EngineConfig::from_env`]).
    /// It lives until the process exits; an invalid environment (an unwritable `MXR_PROFILE`
    /// included) is reported on every call.
    ///
    /// It is never shut down, so its profiler's buffered events are written out when the
    /// process exits normally (returning from `main`, `std::process::exit`), besides every
    /// [`FLUSH_PERIOD`](crate::profiler::FLUSH_PERIOD) while it runs.
    pub fn global() -> Result<&'static Engine> {
        GLOBAL
            .get_or_init(|| {
                let engine = EngineConfig::from_env().and_then(Engine::new);
                if engine.is_ok() {
                    flush_global_profile_at_exit();
                }
                engine
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The configuration this engine was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The engine's profiler: [`Profiler::start`] streams a trace to a file,
    /// [`Profiler::stop`] closes it, [`Profiler::dumps`] tabulates per-operator statistics.
    /// [`EngineConfig::profile_path`] starts it when the engine is built.
    pub fn profiler(&self) -> &Profiler {
        &self.shared.profiler
    }

    /// How many operations `push` has accepted (internal waits and deletes are not counted),
    /// over the engine's life: with the profiler on throughout, the number of events in its
    /// trace once they have run (operations skipped for an upstream error do not run and
    /// have none).
    pub fn operations_pushed(&self) -> u64 {
        self.shared.pushed.load(Ordering::Relaxed)
    }

    /// The pooled host memory of this engine's CPU context.
    pub fn cpu_storage(&self) -> &CpuPool {
        &self.cpu_storage
    }

    /// Operations pushed and not yet completed.
    pub fn pending(&self) -> usize {
        self.shared.pending.load(Ordering::SeqCst)
    }

    /// Pushes an operation; returns at once. It runs when every var it reads and writes has
    /// granted it. Fails (without pushing) if a var was deleted, the context has no worker, or
    /// the engine is shut down. When `max_inflight` operations are pending, this call first
    /// blocks until half of them have finished (except from inside a running operation).
    pub fn push(&self, op: Operation<'_>) -> Result<()> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(Error::ShutDown);
        }
        if !op.context.is_cpu() {
            // Opens the device on first use; an error naming the reason (no driver, no such
            // device) otherwise.
            crate::gpu::GpuDevice::get(op.context.device_id())?;
        }
        if let Some(v) = op.reads.iter().chain(op.writes).find(|v| v.is_deleted()) {
            return Err(Error::VarDeleted { var: v.id() });
        }
        self.shared.throttle();
        self.shared.pushed.fetch_add(1, Ordering::Relaxed);
        for v in op.writes {
            v.note_write_push();
        }
        let inline_if_ready =
            op.inline_if_ready && op.context.is_cpu() && matches!(op.body, Body::Sync(_));
        let placement = Placement {
            context: op.context,
            priority: op.priority,
            inline_if_ready,
        };
        submit(
            &self.shared,
            op.name,
            op.body,
            op.reads,
            op.writes,
            placement,
        );
        Ok(())
    }

    /// Pushes a synchronous CPU operation: shorthand for
    /// `push(Operation::sync(name, f).reads(reads).writes(writes))`.
    pub fn push_sync<F>(
        &self,
        name: impl Into<Cow<'static, str>>,
        reads: &[&Var],
        writes: &[&Var],
        f: F,
    ) -> Result<()>
    where
        F: FnOnce(&RunContext) -> Result<(), BoxError> + Send + 'static,
    {
        self.push(Operation::sync(name, f).reads(reads).writes(writes))
    }

    /// Deletes `var`: `free` (typically dropping the memory the var guards) runs after every
    /// operation pushed on the var before this call. Afterwards, pushes and waits on the var
    /// return [`Error::VarDeleted`].
    pub fn delete_var<F>(&self, var: &Var, free: F) -> Result<()>
    where
        F: FnOnce() + Send + 'static,
    {
        match var.0.mark_deleted() {
            None => return Err(Error::VarDeleted { var: var.id() }),
            // Nothing pending on the var: every earlier operation has run, so free now (the
            // common case of a temporary array, which saves an operation per array).
            Some(true) => {
                free();
                return Ok(());
            }
            Some(false) => {}
        }
        let body = Body::Delete(Box::new(free));
        submit(
            &self.shared,
            "delete_var".into(),
            body,
            &[],
            &[var],
            Placement::INTERNAL,
        );
        Ok(())
    }

    /// Blocks until every operation pushed so far that writes `var` has finished, then returns
    /// the error it carries, if any (taking it: the same error is not reported twice).
    pub fn wait_for_var(&self, var: &Var) -> Result<()> {
        refuse_inside_operation("wait_for_var")?;
        if var.is_deleted() {
            return Err(Error::VarDeleted { var: var.id() });
        }
        if var.0.has_pending_write() {
            let latch = Arc::new(Latch::default());
            let body = Body::Wait(Arc::clone(&latch));
            submit(
                &self.shared,
                "wait_for_var".into(),
                body,
                &[var],
                &[],
                Placement::INTERNAL,
            );
            latch.wait();
            if var.0.has_flag(FLAG_FREED) {
                return Err(Error::VarDeleted { var: var.id() });
            }
        }
        match var.0.poison().and_then(|p| p.take()) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Blocks until every operation pushed so far has finished, then returns the first error
    /// raised since the last `wait_all` that no wait has observed yet (clearing them all).
    pub fn wait_all(&self) -> Result<()> {
        refuse_inside_operation("wait_all")?;
        self.shared.block_until(0);
        match self.shared.take_first_error() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Finishes all pushed work, stops and joins the workers, stops the profiler (writing out
    /// its trace), and returns the first error nobody observed (else the profiler's).
    pub fn shutdown(self) -> Result<()> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&self) -> Result<()> {
        let mut threads = self.threads.lock();
        if self.shared.closed.load(Ordering::Acquire) && threads.is_empty() {
            return Ok(());
        }
        // When the last handle is dropped by a running operation (a closure that captured the
        // engine), waiting would wait for that very operation: close without waiting instead;
        // the workers still drain their queues before they stop.
        let inside_operation = RUNNING.with(Cell::get) > 0;
        if !inside_operation {
            self.shared.block_until(0);
        }
        self.shared.closed.store(true, Ordering::Release);
        if !inside_operation {
            self.shared.block_until(0); // work pushed by operations while we waited
        }
        if let Some(pool) = &self.shared.pool {
            pool.stop();
        }
        threads.extend(self.shared.gpu_workers.stop());
        let me = std::thread::current().id();
        for handle in threads.drain(..) {
            if handle.thread().id() != me {
                let _ = handle.join();
            }
        }
        // Recycled blocks hold the engine's shared state: drop them to break the cycle. Only the
        // (now joined) workers recycle blocks.
        while !matches!(self.shared.free_batches.steal(), Steal::Empty) {}
        let profile = self.shared.profiler.stop();
        match self.shared.take_first_error() {
            Some(error) => Err(error),
            None => profile,
        }
    }
}

/// The process-wide engine (see [`Engine::global`]).
static GLOBAL: OnceLock<Result<Engine>> = OnceLock::new();

/// Registers, once, a C `atexit` handler writing out the process-wide engine's buffered trace:
/// that engine is never dropped, so nothing else would at exit.
fn flush_global_profile_at_exit() {
    extern "C" fn flush() {
        // Unwinding out of an `extern "C"` function aborts; a panic here is merely dropped.
        let _ = catch_unwind(|| {
            if let Some(Ok(engine)) = GLOBAL.get() {
                engine.profiler().flush_at_exit();
            }
        });
    }
    unsafe extern "C" {
        fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
    }
    // SAFETY: `atexit` is the C library's (which std links), declared with its C signature;
    // `flush` is a plain `extern "C"` function that never unwinds and only touches a static
    // that outlives every exit handler. Called once, from `Engine::global`'s one-time
    // initialization. A non-zero return (no room for handlers) only loses the final flush.
    let _ = unsafe { atexit(flush) };
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Err(error) = self.shutdown_inner() {
            eprintln!("mxr-engine: dropped with an unobserved error: {error}");
        }
    }
}

fn refuse_inside_operation(call: &'static str) -> Result<()> {
    if RUNNING.with(Cell::get) > 0 {
        return Err(Error::WouldDeadlock { call });
    }
    Ok(())
}

/// Turns an operation's returned error into the engine's error.
pub(crate) fn op_failed(name: &str, error: BoxError) -> Error {
    Error::OpFailed {
        op: name.to_owned(),
        source: Arc::from(error),
    }
}

/// Where and how a submitted block runs.
struct Placement {
    context: Context,
    priority: i32,
    inline_if_ready: bool,
}

impl Placement {
    /// Internal blocks (waits, deletes): on cpu(0), ordinary priority.
    const INTERNAL: Placement = Placement {
        context: Context::cpu(0),
        priority: 0,
        inline_if_ready: false,
    };
}

/// Registers an operation with its vars (step 1 of the module docs) and dispatches it if every
/// var grants it at once.
///
/// An operation that may run on the pusher when ready (`inline_if_ready`, outside another
/// inline run) first tries to take its vars without a block: if every var grants it, it runs
/// here and now ([`run_now`]) and no block is made. Otherwise a block is created (reusing a
/// recycled one when it can) holding the vars granted so far, and registered with the rest.
fn submit(
    shared: &Arc<Shared>,
    name: Cow<'static, str>,
    body: Body,
    reads: &[&Var],
    writes: &[&Var],
    placement: Placement,
) {
    let Placement {
        context,
        priority,
        inline_if_ready,
    } = placement;
    shared.pending.fetch_add(1, Ordering::SeqCst);
    let (mut var_reads, mut var_writes) = (VarRefs::new(), VarRefs::new());
    crate::deps::normalize_into(reads, writes, &mut var_reads, &mut var_writes);
    // Vars taken before a block exists, in registration order: reads, then writes. Taking a
    // var this way is the same grant `append_read`/`append_write` would give, so a block made
    // afterwards counts it as granted and releases it on completion like any other.
    let mut taken = 0;
    let try_now = inline_if_ready && matches!(body, Body::Sync(_)) && !DRAINING.with(Cell::get);
    if try_now {
        for var in &var_reads {
            if !var.try_read() {
                break;
            }
            taken += 1;
        }
        if taken == var_reads.len() {
            for var in &var_writes {
                if !var.try_write() {
                    break;
                }
                taken += 1;
            }
        }
    }
    let all_taken = taken == var_reads.len() + var_writes.len();
    let body = match body {
        Body::Sync(f) if try_now && all_taken => {
            return run_now(shared, &name, f, &var_reads, &var_writes, context);
        }
        other => other,
    };
    let inline = shared.naive || body.is_internal();
    let done = (shared.naive && matches!(body, Body::Async(_))).then(|| Arc::new(Latch::default()));
    let mut block = shared
        .take_recycled()
        .unwrap_or_else(|| Arc::new(OprBlock::new(Arc::clone(shared))));
    let b = Arc::get_mut(&mut block).expect(
        "a new or recycled block is unique: only blocks without other references are recycled, \
         and nothing clones them in the free list",
    );
    // Pushed one by one: SmallVec's generic `extend` is several times slower for a few vars.
    b.reads.clear();
    for v in &var_reads {
        b.reads.push(Arc::clone(v));
    }
    b.writes.clear();
    for v in &var_writes {
        b.writes.push(Arc::clone(v));
    }
    let holds = b.reads.len() + b.writes.len() + 1;
    *b.wait.get_mut() = holds;
    *b.body.get_mut() = Some(body);
    b.context = context;
    b.priority = priority;
    b.name = name;
    b.inline = inline;
    b.done = done;
    let mut granted = 1 + taken; // the pusher's own hold and the vars taken above
    let n_reads = block.reads.len();
    for var in block.reads.iter().skip(taken) {
        granted += usize::from(var.append_read(&block));
    }
    for var in block.writes.iter().skip(taken.saturating_sub(n_reads)) {
        granted += usize::from(var.append_write(&block));
    }
    // If every var granted at once, no queue refers to the block and no other thread can touch
    // `wait`: the block is ready. Otherwise AcqRel: the thread that brings `wait` to zero must
    // see every var registration (Release by the granters) before it runs the block (Acquire).
    if granted == holds || block.wait.fetch_sub(granted, Ordering::AcqRel) == granted {
        // Ready on this thread now: internal and naive blocks always run here, and so do
        // operations that asked to when ready at push.
        if block.inline || inline_if_ready {
            run_inline(block);
        } else {
            shared.route(block);
        }
    }
}

/// Runs a synchronous operation on the pushing thread, its vars all granted at push, without a
/// block: steps 3 and 4 of the module docs as `run_block` and `complete` do them for a block
/// run inline (skipped for an upstream error; panics caught; vars released, granting what
/// waits behind them; the in-flight count dropped). Like `run_inline`, it marks this thread as
/// draining, so that operations the body pushes run after it, then drains them.
#[expect(
    clippy::ptr_arg,
    reason = "the profiler records the name as a `Cow`: cloning it keeps a static name unallocated"
)]
fn run_now(
    shared: &Arc<Shared>,
    name: &Cow<'static, str>,
    f: SyncBody,
    reads: &[&Arc<VarInner>],
    writes: &[&Arc<VarInner>],
    context: Context,
) {
    DRAINING.with(|d| d.set(true));
    let vars = || reads.iter().chain(writes).map(|v| &***v);
    let poison = match upstream_error_of(shared, vars) {
        Some(poison) => {
            drop(f);
            Some(poison)
        }
        None => {
            let rc = RunContext::new(context, RunContext::INLINE);
            let start_ns = if shared.profiler.is_enabled() {
                shared.profiler.now_ns().max(1)
            } else {
                0
            };
            RUNNING.with(|r| r.set(r.get() + 1));
            let result = catch_unwind(AssertUnwindSafe(|| f.call(&rc)));
            RUNNING.with(|r| r.set(r.get() - 1));
            record_op(
                &shared.profiler,
                name,
                context,
                RunContext::INLINE,
                start_ns,
            );
            let error = match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(op_failed(name, e)),
                Err(payload) => Some(Error::OpPanicked {
                    op: name.to_string(),
                    message: panic_message(payload.as_ref()),
                }),
            };
            error.map(|e| shared.new_poison(e))
        }
    };
    let mut grants = Grants::new();
    release_vars(
        reads.iter().map(|v| &***v),
        writes.iter().map(|v| &***v),
        poison.as_ref(),
        &mut grants,
    );
    hand_on(grants, None);
    shared.finish(1);
    while let Some(next) = INLINE_QUEUE.with(|q| q.borrow_mut().pop_front()) {
        run_block(next, RunContext::INLINE, None);
    }
    DRAINING.with(|d| d.set(false));
}

/// Sends a ready block to where it runs.
fn dispatch(block: BlockRef, worker: Option<&WorkerCtx<'_>>) {
    if block.inline {
        run_inline(block);
        return;
    }
    match worker {
        Some(worker) if block.context.is_cpu() && worker.owns(&block) => worker.push(block),
        _ => {
            let queued = Arc::clone(&block);
            block.engine.route(queued);
        }
    }
}

/// Runs a block on this thread; nested inline runs are queued and drained iteratively.
fn run_inline(block: BlockRef) {
    INLINE_QUEUE.with(|q| q.borrow_mut().push_back(block));
    if DRAINING.with(|d| d.replace(true)) {
        return;
    }
    while let Some(next) = INLINE_QUEUE.with(|q| q.borrow_mut().pop_front()) {
        run_block(next, RunContext::INLINE, None);
    }
    DRAINING.with(|d| d.set(false));
}

/// The error an operation inherits from its vars (reads first), if any.
fn upstream_error(block: &OprBlock) -> Option<Arc<Poison>> {
    upstream_error_of(&block.engine, || {
        block.reads.iter().chain(&block.writes).map(|v| &**v)
    })
}

/// [`upstream_error`] of the vars `vars()` lists (reads first), on `engine`.
fn upstream_error_of<'a, I>(engine: &Shared, vars: impl Fn() -> I) -> Option<Arc<Poison>>
where
    I: Iterator<Item = &'a VarInner>,
{
    for var in vars() {
        if var.has_flag(FLAG_FREED) {
            return Some(engine.new_poison(Error::VarDeleted { var: var.id }));
        }
    }
    vars()
        .filter(|v| v.has_flag(FLAG_POISONED))
        .find_map(|v| v.poison())
}

/// Runs a dispatched block (step 3 of the module docs).
pub(crate) fn run_block(block: BlockRef, worker: u32, ctx: Option<&WorkerCtx<'_>>) {
    let body = block
        .body
        .lock()
        .take()
        .expect("a block is dispatched exactly once: only the thread that zeroes `wait` does");
    let body = match body {
        Body::Wait(latch) => {
            latch.set();
            return complete(block, None, ctx);
        }
        Body::Delete(free) => {
            // A panicking destructor must not stop the engine; there is nobody to report to.
            let _ = catch_unwind(AssertUnwindSafe(free));
            for var in &block.writes {
                var.mark_freed();
            }
            return complete(block, None, ctx);
        }
        other => other,
    };
    if let Some(poison) = upstream_error(&block) {
        return complete(block, Some(poison), ctx);
    }
    let engine = &block.engine;
    let rc = RunContext::new(block.context, worker);
    // 0: not profiled (see `record`).
    let start_ns = if engine.profiler.is_enabled() {
        engine.profiler.now_ns().max(1)
    } else {
        0
    };
    RUNNING.with(|r| r.set(r.get() + 1));
    match body {
        Body::Sync(f) => {
            let result = catch_unwind(AssertUnwindSafe(|| f.call(&rc)));
            RUNNING.with(|r| r.set(r.get() - 1));
            record(&block, worker, start_ns);
            let error = match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(op_failed(&block.name, e)),
                Err(payload) => Some(Error::OpPanicked {
                    op: block.name.to_string(),
                    message: panic_message(payload.as_ref()),
                }),
            };
            let poison = error.map(|e| block.engine.new_poison(e));
            complete(block, poison, ctx);
        }
        Body::Async(f) => {
            let done = block.done.clone();
            let completion = Completion {
                block: Some(Arc::clone(&block)),
                start_ns,
            };
            drop(block);
            // A panic drops the completion during unwinding, which fails the operation.
            let _ = catch_unwind(AssertUnwindSafe(|| f(&rc, completion)));
            RUNNING.with(|r| r.set(r.get() - 1));
            if let Some(done) = done {
                done.wait(); // naive mode: the operation is complete before `push` returns
            }
        }
        Body::Wait(_) | Body::Delete(_) => unreachable!("handled above"),
    }
}

fn record(block: &OprBlock, worker: u32, start_ns: u64) {
    record_op(
        &block.engine.profiler,
        &block.name,
        block.context,
        worker,
        start_ns,
    );
}

#[expect(
    clippy::ptr_arg,
    reason = "the profiler records the name as a `Cow`: cloning it keeps a static name unallocated"
)]
fn record_op(
    profiler: &Profiler,
    name: &Cow<'static, str>,
    context: Context,
    worker: u32,
    start_ns: u64,
) {
    // `start_ns` is 0 when the profiler was off as the operation started: no event then.
    if profiler.is_enabled() && start_ns != 0 {
        let end = profiler.now_ns();
        profiler.record(OpRecord {
            name: name.clone(),
            context,
            worker,
            start_ns,
            duration_ns: end.saturating_sub(start_ns),
        });
    }
}

/// Called by a [`Completion`] (from any thread).
pub(crate) fn complete_async(block: BlockRef, error: Option<Error>, start_ns: u64) {
    record(&block, RunContext::INLINE, start_ns);
    let poison = error.map(|e| block.engine.new_poison(e));
    complete(block, poison, None);
}

/// Releases a finished block's vars and hands on what became ready (step 4 of the module
/// docs). On a worker of the block's own engine, the block is then recycled if nothing else
/// refers to it, and the completion is counted in the worker's batch; elsewhere the in-flight
/// count drops at once and the block is freed.
fn complete(mut block: BlockRef, poison: Option<Arc<Poison>>, ctx: Option<&WorkerCtx<'_>>) {
    let mut grants = Grants::new();
    release_vars(
        block.reads.iter().map(|v| &**v),
        block.writes.iter().map(|v| &**v),
        poison.as_ref(),
        &mut grants,
    );
    if let Some(done) = &block.done {
        done.set();
    }
    hand_on(grants, ctx);
    match ctx {
        Some(ctx) if ctx.owns(&block) => {
            // A granter of this block may still hold a reference for a moment after its grant;
            // then the block is simply freed.
            if let Some(b) = Arc::get_mut(&mut block) {
                b.reads.clear();
                b.writes.clear();
                b.name = Cow::Borrowed("");
                b.done = None;
                ctx.recycle(block);
            }
            ctx.count_completion();
        }
        Some(_) => block.engine.finish(1),
        None => {
            block.engine.finish(1);
            recycle_here(block);
        }
    }
}

/// Releases a finished operation's vars, leaving `poison` on the written ones; the blocks this
/// grants go into `grants`.
fn release_vars<'a>(
    reads: impl Iterator<Item = &'a VarInner>,
    writes: impl Iterator<Item = &'a VarInner>,
    poison: Option<&Arc<Poison>>,
    grants: &mut Grants,
) {
    for var in reads {
        var.complete_read(grants);
    }
    for var in writes {
        var.complete_write(poison, grants);
    }
}

/// Takes one grant from each block in `grants`, dispatching those that become ready.
fn hand_on(grants: Grants, ctx: Option<&WorkerCtx<'_>>) {
    if grants.is_empty() {
        return; // the usual case, without moving the list into an iterator
    }
    for granted in grants {
        // AcqRel: see `submit`.
        if granted.wait.fetch_sub(1, Ordering::AcqRel) == 1 {
            dispatch(granted, ctx);
        }
    }
}

/// Blocks a thread keeps for its next pushes, at most.
const PUSH_CACHE_CAP: usize = 64;

/// Keeps a block completed off the workers (run inline by its pusher, or completed by an
/// asynchronous callback) for this thread's next push to the same engine, if nothing else
/// refers to it: a pusher running small operations inline then reuses one block instead of
/// allocating and moving a new one for every operation.
fn recycle_here(mut block: BlockRef) {
    let Some(b) = Arc::get_mut(&mut block) else {
        return;
    };
    b.reads.clear();
    b.writes.clear();
    b.name = Cow::Borrowed("");
    b.done = None;
    *b.body.get_mut() = None;
    // `try_with`: a thread being torn down (its cache gone) just frees the block.
    let _ = PUSH_CACHE.try_with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return;
        };
        let engine: *const Shared = &*block.engine;
        if cache.blocks.is_empty() {
            cache.engine = engine;
        }
        if std::ptr::eq(cache.engine, engine) && cache.blocks.len() < PUSH_CACHE_CAP {
            cache.blocks.push(block);
        }
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
