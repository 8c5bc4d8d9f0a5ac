//! The CPU worker pool: crossbeam-deque work stealing with a priority lane.
//!
//! Ready blocks enter through one of two injectors (the priority lane for priority > 0, the
//! normal one otherwise) or, when a worker itself made them ready by completing an operation,
//! through that worker's local FIFO deque, which idle workers steal from. A worker takes, in
//! order: the priority lane, its local deque, the normal injector, then the other workers' deques.
//!
//! Sleeping: a worker that finds nothing spins briefly, then registers as a sleeper
//! (`sleepers += 1`, AcqRel), re-checks every queue and blocks on a condvar. A producer pushes
//! its work first and then reads the sleeper count with an AcqRel read-modify-write
//! (`fetch_add(0)`). The two RMWs on `sleepers` are totally ordered: if the producer's comes
//! first, the sleeper's RMW reads from it (acquire), so the sleeper's re-check sees the work;
//! otherwise the producer reads a count of at least one and notifies, under the lock the sleeper
//! holds until it waits. No wake-up is lost.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::CachePadded;
use parking_lot::{Condvar, Mutex};

use crate::operation::{BlockRef, OprBlock};
use crate::scheduler::{Shared, run_block};

/// The shared, thread-safe part of the pool.
pub(crate) struct WorkerPool {
    priority: Injector<BlockRef>,
    normal: Injector<BlockRef>,
    stealers: Vec<Stealer<BlockRef>>,
    /// On its own cache line: producers update it on every push.
    sleepers: CachePadded<AtomicUsize>,
    sleep_lock: Mutex<()>,
    sleep_cv: Condvar,
    stop: AtomicBool,
}

/// A worker's own end: its local deque and index.
pub(crate) struct LocalQueue {
    pub(crate) index: u32,
    deque: Worker<BlockRef>,
}

/// What a running worker passes down to the blocks it runs and completes.
pub(crate) struct WorkerCtx<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) queue: &'a LocalQueue,
    /// Completions not yet subtracted from the engine's in-flight count.
    completed: Cell<usize>,
    /// Recycled blocks not yet handed to the pushers.
    recycled: RefCell<Vec<BlockRef>>,
}

/// Recycled blocks go to the pushers in batches of this size.
const RECYCLE_BATCH: usize = 32;

/// A worker subtracts its completions from the in-flight count in batches of this size, and
/// whenever it runs out of work, so a wait never misses them for long.
const COMPLETION_BATCH: usize = 64;

impl WorkerCtx<'_> {
    /// Whether `block` belongs to this worker's engine (vars may be shared between engines).
    pub(crate) fn owns(&self, block: &OprBlock) -> bool {
        std::ptr::eq(self.shared, &*block.engine)
    }

    /// Queues a block of this engine made ready by this worker.
    pub(crate) fn push(&self, block: BlockRef) {
        self.queue.push(self.shared.workers(), block);
    }

    /// Counts one completed block of this engine.
    pub(crate) fn count_completion(&self) {
        let n = self.completed.get() + 1;
        if n >= COMPLETION_BATCH {
            self.completed.set(0);
            self.shared.finish(n);
        } else {
            self.completed.set(n);
        }
    }

    /// Keeps a completed, unshared block for reuse.
    pub(crate) fn recycle(&self, block: BlockRef) {
        let mut recycled = self.recycled.borrow_mut();
        recycled.push(block);
        if recycled.len() >= RECYCLE_BATCH {
            let batch = std::mem::replace(&mut *recycled, Vec::with_capacity(RECYCLE_BATCH));
            self.shared.recycle(batch);
        }
    }

    fn flush_completions(&self) {
        let n = self.completed.replace(0);
        if n > 0 {
            self.shared.finish(n);
        }
    }
}

impl LocalQueue {
    /// Queues a block made ready by this worker.
    fn push(&self, pool: &WorkerPool, block: BlockRef) {
        if block.priority > 0 {
            pool.priority.push(block);
            pool.notify();
        } else {
            self.deque.push(block);
            // The worker will run what it queued itself; wake a sleeper only when there is more
            // than it can take next, so a serial chain does not bounce between workers.
            if self.deque.len() > 1 {
                pool.notify();
            }
        }
    }
}

/// Spins (with `yield_now`) before a worker goes to sleep.
const SPIN_ROUNDS: u32 = 64;
/// Safety net on a sleeper's wait; the protocol above does not rely on it.
const SLEEP_TIMEOUT: Duration = Duration::from_millis(100);

impl WorkerPool {
    /// Creates the pool state and one local deque per worker.
    pub(crate) fn new(workers: usize) -> (WorkerPool, Vec<LocalQueue>) {
        let locals: Vec<LocalQueue> = (0..workers)
            .map(|i| LocalQueue {
                index: i as u32,
                deque: Worker::new_fifo(),
            })
            .collect();
        let pool = WorkerPool {
            priority: Injector::new(),
            normal: Injector::new(),
            stealers: locals.iter().map(|l| l.deque.stealer()).collect(),
            sleepers: CachePadded::new(AtomicUsize::new(0)),
            sleep_lock: Mutex::new(()),
            sleep_cv: Condvar::new(),
            stop: AtomicBool::new(false),
        };
        (pool, locals)
    }

    /// Queues a block from outside the pool (the pushing thread, a completion callback).
    pub(crate) fn inject(&self, block: BlockRef) {
        if block.priority > 0 {
            self.priority.push(block);
        } else {
            self.normal.push(block);
        }
        self.notify();
    }

    fn notify(&self) {
        // An RMW, not a load: see the module docs for why this orders the push before the read.
        if self.sleepers.fetch_add(0, Ordering::AcqRel) > 0 {
            let _guard = self.sleep_lock.lock();
            self.sleep_cv.notify_one();
        }
    }

    fn has_work(&self) -> bool {
        !self.priority.is_empty()
            || !self.normal.is_empty()
            || self.stealers.iter().any(|s| !s.is_empty())
    }

    fn find_work(&self, local: &LocalQueue) -> Option<BlockRef> {
        if let Some(b) = steal_one(|| self.priority.steal()) {
            return Some(b);
        }
        if let Some(b) = local.deque.pop() {
            return Some(b);
        }
        if let Some(b) = steal_one(|| self.normal.steal_batch_and_pop(&local.deque)) {
            return Some(b);
        }
        let n = self.stealers.len();
        let me = local.index as usize;
        (1..n).find_map(|k| steal_one(|| self.stealers[(me + k) % n].steal()))
    }

    /// Stops the workers once their queues are empty and wakes every sleeper.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _guard = self.sleep_lock.lock();
        self.sleep_cv.notify_all();
    }

    /// The loop of one worker thread.
    pub(crate) fn run_worker(shared: &Arc<Shared>, local: LocalQueue) {
        let pool = shared.workers();
        let ctx = WorkerCtx {
            shared,
            queue: &local,
            completed: Cell::new(0),
            recycled: RefCell::new(Vec::with_capacity(RECYCLE_BATCH)),
        };
        let mut idle_rounds = 0u32;
        loop {
            if let Some(block) = pool.find_work(&local) {
                idle_rounds = 0;
                run_block(block, local.index, Some(&ctx));
                continue;
            }
            ctx.flush_completions();
            if pool.stop.load(Ordering::SeqCst) {
                return;
            }
            idle_rounds += 1;
            if idle_rounds < SPIN_ROUNDS {
                std::thread::yield_now();
                continue;
            }
            let mut guard = pool.sleep_lock.lock();
            // AcqRel: pairs with the producers' `fetch_add(0)` (module docs).
            pool.sleepers.fetch_add(1, Ordering::AcqRel);
            if !pool.has_work() && !pool.stop.load(Ordering::SeqCst) {
                pool.sleep_cv.wait_for(&mut guard, SLEEP_TIMEOUT);
            }
            pool.sleepers.fetch_sub(1, Ordering::AcqRel);
            idle_rounds = 0;
        }
    }
}

fn steal_one(mut f: impl FnMut() -> Steal<BlockRef>) -> Option<BlockRef> {
    loop {
        match f() {
            Steal::Success(b) => return Some(b),
            Steal::Empty => return None,
            Steal::Retry => continue,
        }
    }
}

/// Spawns the worker threads, named `mxr-cpu-<i>`.
pub(crate) fn spawn_workers(
    shared: &Arc<Shared>,
    locals: Vec<LocalQueue>,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    let mut handles = Vec::with_capacity(locals.len());
    for local in locals {
        let name = format!("mxr-cpu-{}", local.index);
        shared.profiler.register_worker(local.index, &name);
        let worker_shared = Arc::clone(shared);
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            crate::scheduler::IN_WORKER.with(|w| w.set(true));
            WorkerPool::run_worker(&worker_shared, local);
        });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                // Stop and join whatever was started before failing.
                shared.workers().stop();
                for h in handles {
                    let _ = h.join();
                }
                return Err(e);
            }
        }
    }
    Ok(handles)
}
