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
mod run;

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_deque::{Injector, Steal};
use crossbeam_utils::CachePadded;
use parking_lot::{Condvar, Mutex};

pub use config::{DEFAULT_INLINE_MAX_BYTES, DEFAULT_MAX_INFLIGHT, EngineConfig, EngineKind};
use cpu_pool::WorkerPool;
use gpu_workers::GpuWorkers;
use run::{Placement, submit};
pub(crate) use run::{complete_async, run_block};

use crate::error::BoxError;
use crate::operation::{BlockRef, Body, RunContext};
use crate::poison::Poison;
use crate::profiler::Profiler;
use crate::storage::CpuPool;
use crate::sync::Latch;
use crate::var::FLAG_FREED;
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
