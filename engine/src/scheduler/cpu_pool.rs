//! The CPU worker pool: crossbeam-deque work stealing with a priority lane.
//!
//! Ready blocks enter through one of two injectors (the priority lane for priority > 0, the
//! normal one otherwise) or, when a worker itself made them ready by completing an operation,
//! through that worker's local FIFO deque, which idle workers steal from. A worker takes, in
//! order: the priority lane, its local deque, the normal injector, then the other workers' deques.
//!
//! Sleeping: a worker that finds nothing spins briefly, then registers as a sleeper, re-checks
//! every queue and blocks on a condvar. A producer pushes first and then reads the sleeper count;
//! both sides put a `SeqCst` fence between their write and their read, so either the producer
//! sees the sleeper (and notifies it under the lock, after it has started waiting) or the
//! sleeper sees the work. No wake-up is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use parking_lot::{Condvar, Mutex};

use crate::operation::BlockRef;
use crate::scheduler::{Shared, run_block};

/// The shared, thread-safe part of the pool.
pub(crate) struct WorkerPool {
    id: usize,
    priority: Injector<BlockRef>,
    normal: Injector<BlockRef>,
    stealers: Vec<Stealer<BlockRef>>,
    sleepers: AtomicUsize,
    sleep_lock: Mutex<()>,
    sleep_cv: Condvar,
    stop: AtomicBool,
}

/// A worker's own end: its local deque and index.
pub(crate) struct LocalQueue {
    pub(crate) index: u32,
    pool_id: usize,
    deque: Worker<BlockRef>,
}

impl LocalQueue {
    /// Whether this worker belongs to `pool` (vars may be shared between engines).
    pub(crate) fn belongs_to(&self, pool: &WorkerPool) -> bool {
        self.pool_id == pool.id
    }

    /// Queues a block made ready by this worker.
    pub(crate) fn push(&self, pool: &WorkerPool, block: BlockRef) {
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

static NEXT_POOL_ID: AtomicUsize = AtomicUsize::new(1);

/// Spins (with `yield_now`) before a worker goes to sleep.
const SPIN_ROUNDS: u32 = 64;
/// Safety net on a sleeper's wait; the protocol above does not rely on it.
const SLEEP_TIMEOUT: Duration = Duration::from_millis(100);

impl WorkerPool {
    /// Creates the pool state and one local deque per worker.
    pub(crate) fn new(workers: usize) -> (WorkerPool, Vec<LocalQueue>) {
        // Relaxed: ids only need to be unique.
        let id = NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed);
        let locals: Vec<LocalQueue> = (0..workers)
            .map(|i| LocalQueue {
                index: i as u32,
                pool_id: id,
                deque: Worker::new_fifo(),
            })
            .collect();
        let pool = WorkerPool {
            id,
            priority: Injector::new(),
            normal: Injector::new(),
            stealers: locals.iter().map(|l| l.deque.stealer()).collect(),
            sleepers: AtomicUsize::new(0),
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
        // SeqCst fence: orders the queue push before the sleeper-count read (module docs).
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
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
        let mut idle_rounds = 0u32;
        loop {
            if let Some(block) = pool.find_work(&local) {
                idle_rounds = 0;
                run_block(block, local.index, Some(&local));
                continue;
            }
            if pool.stop.load(Ordering::SeqCst) {
                return;
            }
            idle_rounds += 1;
            if idle_rounds < SPIN_ROUNDS {
                std::thread::yield_now();
                continue;
            }
            let mut guard = pool.sleep_lock.lock();
            pool.sleepers.fetch_add(1, Ordering::SeqCst);
            // SeqCst fence: orders the sleeper registration before the queue re-check.
            fence(Ordering::SeqCst);
            if !pool.has_work() && !pool.stop.load(Ordering::SeqCst) {
                pool.sleep_cv.wait_for(&mut guard, SLEEP_TIMEOUT);
            }
            pool.sleepers.fetch_sub(1, Ordering::SeqCst);
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
