//! The distributed store's communication over MPI (rsmpi on the system's MPI).
//!
//! One thread per process owns MPI (initialised there with `Funneled`, finalised there when the
//! store is dropped) and runs the collectives. Every collective step gets a sequence number on
//! the calling thread, in call order, and the MPI thread runs them strictly in that order: the
//! engine may start the operations of different keys in different orders on different workers,
//! but the collectives must match across workers.
//!
//! A push's sum across workers is an asynchronous engine operation that reads the pushed values
//! and writes the destination: its body sums the values locally into a message and queues it;
//! the MPI thread all-reduces it, writes the result into the destination and completes the
//! operation. A watchdog fails a collective that has not finished within the timeout (a worker
//! died or stopped taking part), fails everything queued after it, and marks the
//! communicator broken: every later call is an error at once. The MPI thread stays blocked in
//! that collective; the process should then exit (without `MPI_Finalize`, which would block).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mpi::collective::SystemOperation;
use mpi::environment::Threading;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};
use mxr_engine::Completion;
use mxr_kernels::DType;
use parking_lot::{Condvar, Mutex};
use smallvec::SmallVec;

use super::reduce::sum_bytes;
use crate::dispatch::host::{self, Region};
use crate::nd::NDArray;

/// One message: the elements of one array, typed for MPI.
enum Payload {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl Payload {
    fn zeroed(dtype: DType, len: usize) -> Result<Payload, String> {
        Ok(match dtype {
            DType::F32 => Payload::F32(vec![0.0; len]),
            DType::F64 => Payload::F64(vec![0.0; len]),
            DType::I32 => Payload::I32(vec![0; len]),
            DType::I64 => Payload::I64(vec![0; len]),
            other => {
                return Err(format!(
                    "dist_sync sums float32, float64, int32 and int64 arrays, not {other}"
                ));
            }
        })
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Payload::F32(v) => bytemuck::cast_slice_mut(v),
            Payload::F64(v) => bytemuck::cast_slice_mut(v),
            Payload::I32(v) => bytemuck::cast_slice_mut(v),
            Payload::I64(v) => bytemuck::cast_slice_mut(v),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Payload::F32(v) => bytemuck::cast_slice(v),
            Payload::F64(v) => bytemuck::cast_slice(v),
            Payload::I32(v) => bytemuck::cast_slice(v),
            Payload::I64(v) => bytemuck::cast_slice(v),
        }
    }

    /// Sums this payload across all workers, in place.
    fn all_reduce(&mut self, world: &mpi::topology::SimpleCommunicator) {
        fn go<T: mpi::datatype::Equivalence + Clone>(
            world: &mpi::topology::SimpleCommunicator,
            v: &mut [T],
        ) {
            let send = v.to_vec();
            world.all_reduce_into(&send[..], v, SystemOperation::sum());
        }
        match self {
            Payload::F32(v) => go(world, v),
            Payload::F64(v) => go(world, v),
            Payload::I32(v) => go(world, v),
            Payload::I64(v) => go(world, v),
        }
    }

    /// Replaces this payload with worker 0's.
    fn broadcast(&mut self, world: &mpi::topology::SimpleCommunicator) {
        let root = world.process_at_rank(0);
        match self {
            Payload::F32(v) => root.broadcast_into(&mut v[..]),
            Payload::F64(v) => root.broadcast_into(&mut v[..]),
            Payload::I32(v) => root.broadcast_into(&mut v[..]),
            Payload::I64(v) => root.broadcast_into(&mut v[..]),
        }
    }
}

/// Where a finished step reports.
enum Finish {
    /// An engine operation: write the result into `dst`, then complete.
    Engine { completion: Completion, dst: Region },
    /// A blocked caller (barrier).
    Caller(mpsc::Sender<Result<(), String>>),
}

impl Finish {
    fn fail(self, reason: String) {
        match self {
            Finish::Engine { completion, .. } => completion.fail(crate::Error::KVStore {
                store: "dist_sync".into(),
                call: "collective",
                key: None,
                reason,
            }),
            Finish::Caller(tx) => {
                let _ = tx.send(Err(reason)); // the caller may have given up
            }
        }
    }
}

/// Taken exactly once: by the MPI thread when the step is done, or by whoever fails it.
type FinishSlot = Arc<Mutex<Option<Finish>>>;

enum Step {
    AllReduce(Payload),
    Broadcast(Payload),
    Barrier,
    /// The engine skipped the operation (an input carried an error): the workers can no
    /// longer agree.
    Skipped,
    Shutdown,
}

struct Job {
    step: Step,
    label: String,
    finish: Option<FinishSlot>,
}

/// State shared by callers, the MPI thread and the watchdog.
struct Shared {
    queue: Mutex<Queue>,
    queued: Condvar,
    /// The step the MPI thread is in: deadline, label and finish slot.
    running: Mutex<Option<(Instant, String, FinishSlot)>>,
    running_changed: Condvar,
    /// Set (under `running`'s lock) when the MPI thread has ended; stops the watchdog.
    ended: std::sync::atomic::AtomicBool,
    timeout: Duration,
}

struct Queue {
    /// Jobs by sequence number, run in order.
    jobs: BTreeMap<u64, Job>,
    /// Why the communicator is unusable, once it is.
    broken: Option<String>,
}

impl Shared {
    fn submit(&self, seq: u64, job: Job) {
        let mut q = self.queue.lock();
        if let Some(reason) = &q.broken {
            if let Some(f) = job.finish.and_then(|f| f.lock().take()) {
                f.fail(format!("{}: {reason}", job.label));
            }
            return;
        }
        q.jobs.insert(seq, job);
        self.queued.notify_all();
    }

    /// Marks the communicator broken and fails everything queued.
    fn break_with(&self, reason: String) {
        let jobs = {
            let mut q = self.queue.lock();
            if q.broken.is_none() {
                q.broken = Some(reason.clone());
            }
            // Wakes the MPI thread if it waits for a step that will never come.
            self.queued.notify_all();
            std::mem::take(&mut q.jobs)
        };
        for (_, job) in jobs {
            if let Some(f) = job.finish.and_then(|f| f.lock().take()) {
                f.fail(format!("{}: {reason}", job.label));
            }
        }
    }
}

/// The MPI side of a `dist_sync` store.
pub(crate) struct Comm {
    rank: usize,
    size: usize,
    shared: Arc<Shared>,
    next_seq: Mutex<u64>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Comm {
    /// Starts MPI on its own thread; an error if MPI cannot start or already ran here.
    pub(crate) fn start(timeout: Duration) -> Result<Arc<Comm>, String> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: BTreeMap::new(),
                broken: None,
            }),
            queued: Condvar::new(),
            running: Mutex::new(None),
            running_changed: Condvar::new(),
            ended: std::sync::atomic::AtomicBool::new(false),
            timeout,
        });
        let (tx, rx) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("mxr-mpi".into())
            .spawn(move || {
                mpi_thread(&thread_shared, &tx);
                let _running = thread_shared.running.lock();
                // Read under the same lock by the watchdog: the lock orders it.
                thread_shared
                    .ended
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                thread_shared.running_changed.notify_all();
            })
            .map_err(|e| format!("cannot start the MPI thread: {e}"))?;
        let (rank, size) = rx
            .recv()
            .map_err(|_| "the MPI thread ended during start-up".to_string())??;
        let watchdog_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("mxr-mpi-watchdog".into())
            .spawn(move || watchdog(&watchdog_shared))
            .map_err(|e| format!("cannot start the MPI watchdog: {e}"))?;
        Ok(Arc::new(Comm {
            rank,
            size,
            shared,
            next_seq: Mutex::new(0),
            thread: Mutex::new(Some(thread)),
        }))
    }

    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    fn broken(&self) -> Result<(), String> {
        match &self.shared.queue.lock().broken {
            Some(reason) => Err(format!("the distributed store is unusable: {reason}")),
            None => Ok(()),
        }
    }

    fn take_seq(&self) -> u64 {
        let mut next = self.next_seq.lock();
        *next += 1;
        *next - 1
    }

    /// Blocks until every worker reaches the barrier.
    pub(crate) fn barrier(&self) -> Result<(), String> {
        self.broken()?;
        let (tx, rx) = mpsc::channel();
        let seq = self.take_seq();
        self.shared.submit(
            seq,
            Job {
                step: Step::Barrier,
                label: "barrier".into(),
                finish: Some(Arc::new(Mutex::new(Some(Finish::Caller(tx))))),
            },
        );
        // Earlier steps may wait for local work first; each collective has its own deadline.
        match rx.recv() {
            Ok(result) => result,
            Err(_) => Err("the MPI thread ended".into()),
        }
    }

    /// Pushes one engine operation: `dest = Σ over workers (Σ values)`.
    pub(crate) fn push_allreduce(&self, values: &[&NDArray], dest: &NDArray) -> Result<(), String> {
        self.broken()?;
        let len = dest.size();
        let dtype = dest.dtype();
        Payload::zeroed(dtype, 0)?; // dtype check before anything is queued
        let sources = values
            .iter()
            .map(|a| Region::of(a, "kvstore dist_sync"))
            .collect::<crate::Result<SmallVec<[Region; 4]>>>()
            .map_err(|e| e.to_string())?;
        self.push_step(dest, values, "kvstore_allreduce", move || {
            let mut payload = Payload::zeroed(dtype, len)?;
            Region::read_all(&sources, |bytes| {
                sum_bytes(dtype, bytes, payload.bytes_mut(), 1);
            });
            Ok(Step::AllReduce(payload))
        })
    }

    /// Pushes one engine operation: `dest = worker 0's value`.
    pub(crate) fn push_broadcast(&self, value: &NDArray, dest: &NDArray) -> Result<(), String> {
        self.broken()?;
        let (len, dtype) = (dest.size(), dest.dtype());
        Payload::zeroed(dtype, 0)?;
        let source = Region::of(value, "kvstore dist_sync").map_err(|e| e.to_string())?;
        let root = self.rank == 0;
        self.push_step(dest, &[value], "kvstore_broadcast", move || {
            let mut payload = Payload::zeroed(dtype, len)?;
            if root {
                source.read(|bytes| payload.bytes_mut().copy_from_slice(bytes));
            }
            Ok(Step::Broadcast(payload))
        })
    }

    /// Pushes an asynchronous engine operation reading `reads` and writing `dest`, whose body
    /// builds the step and queues it under the next sequence number.
    fn push_step(
        &self,
        dest: &NDArray,
        reads: &[&NDArray],
        name: &'static str,
        build: impl FnOnce() -> Result<Step, String> + Send + 'static,
    ) -> Result<(), String> {
        let seq = self.take_seq();
        let ticket = Ticket {
            seq,
            shared: Some(Arc::clone(&self.shared)),
        };
        let dst = Region::of(dest, "kvstore dist_sync").map_err(|e| e.to_string())?;
        let label = format!("{name} #{seq}");
        host::push_async(name, reads, dest, move |_, completion| {
            let mut ticket = ticket;
            let shared = ticket.shared.take().expect("a ticket is used once");
            let (step, finish) = match build() {
                Ok(step) => (step, Finish::Engine { completion, dst }),
                Err(reason) => {
                    // Still take part, so that the other workers are not left waiting.
                    Finish::Engine { completion, dst }.fail(reason.clone());
                    shared.break_with(reason);
                    return;
                }
            };
            shared.submit(
                seq,
                Job {
                    step,
                    label,
                    finish: Some(Arc::new(Mutex::new(Some(finish)))),
                },
            );
        })
        .map_err(|e| e.to_string())
    }
}

/// A queued step's place in the sequence: if the engine drops the operation without running
/// it (an input carried an error), the MPI thread learns that the step will never come.
struct Ticket {
    seq: u64,
    shared: Option<Arc<Shared>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.submit(
                self.seq,
                Job {
                    step: Step::Skipped,
                    label: format!("step #{}", self.seq),
                    finish: None,
                },
            );
        }
    }
}

impl Drop for Comm {
    /// Runs every queued step, then finalises MPI, unless the communicator is broken (a
    /// collective is stuck): then the MPI thread is left behind.
    fn drop(&mut self) {
        if self.broken().is_err() {
            return;
        }
        let seq = self.take_seq();
        self.shared.submit(
            seq,
            Job {
                step: Step::Shutdown,
                label: "shutdown".into(),
                finish: None,
            },
        );
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }
}

fn mpi_thread(shared: &Shared, started: &mpsc::Sender<Result<(usize, usize), String>>) {
    let Some((universe, _level)) = mpi::initialize_with_threading(Threading::Funneled) else {
        let _ = started.send(Err(
            "MPI was already initialised in this process (one distributed store per process)"
                .into(),
        ));
        return;
    };
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    if started.send(Ok((rank, size))).is_err() {
        return;
    }
    let mut next = 0u64;
    loop {
        let job = {
            let mut q = shared.queue.lock();
            loop {
                if q.broken.is_some() {
                    return; // leaves MPI unfinalised: a peer is gone or stuck
                }
                if let Some(job) = q.jobs.remove(&next) {
                    break job;
                }
                shared.queued.wait(&mut q);
            }
        };
        next += 1;
        let Job {
            step,
            label,
            finish,
        } = job;
        let mut payload = match step {
            Step::Shutdown => break,
            Step::Skipped => {
                shared.break_with(format!(
                    "{label} was skipped (an input carried an error); the workers' steps no \
                     longer match"
                ));
                return;
            }
            Step::Barrier => None,
            Step::AllReduce(p) => Some((p, false)),
            Step::Broadcast(p) => Some((p, true)),
        };
        if let Some(f) = &finish {
            *shared.running.lock() = Some((
                Instant::now() + shared.timeout,
                label.clone(),
                Arc::clone(f),
            ));
            shared.running_changed.notify_all();
        }
        match &mut payload {
            None => world.barrier(),
            Some((p, true)) => p.broadcast(&world),
            Some((p, false)) => p.all_reduce(&world),
        }
        *shared.running.lock() = None;
        shared.running_changed.notify_all();
        if let Some(f) = finish.and_then(|f| f.lock().take()) {
            match f {
                Finish::Engine { completion, dst } => {
                    if let Some((p, _)) = &payload {
                        dst.write(|bytes| bytes.copy_from_slice(p.bytes()));
                    }
                    completion.done();
                }
                Finish::Caller(tx) => {
                    let _ = tx.send(Ok(()));
                }
            }
        }
    }
    drop(world);
    drop(universe); // MPI_Finalize
}

/// Fails the running step when it passes its deadline.
fn watchdog(shared: &Shared) {
    let mut running = shared.running.lock();
    loop {
        // Written under this lock by the MPI thread: the lock orders it.
        if shared.ended.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        match running.as_ref() {
            None => {
                shared
                    .running_changed
                    .wait_for(&mut running, Duration::from_secs(1));
            }
            Some((deadline, label, slot)) => {
                let (deadline, label, slot) = (*deadline, label.clone(), Arc::clone(slot));
                if Instant::now() < deadline {
                    shared.running_changed.wait_until(&mut running, deadline);
                    continue;
                }
                *running = None;
                drop(running);
                let reason = format!(
                    "{label} timed out after {:.1} s: another worker died or stopped taking part",
                    shared.timeout.as_secs_f64()
                );
                if let Some(f) = slot.lock().take() {
                    f.fail(reason.clone());
                }
                shared.break_with(reason);
                return;
            }
        }
    }
}
