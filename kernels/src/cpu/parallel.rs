//! Intra-operator parallelism: how many threads one kernel may use, and fork-join.
//!
//! MXNet's CPU kernels use OpenMP (and OpenBLAS its own threads), `OMP_NUM_THREADS` of them.
//! mxr's kernels that split their work (large matrix products, convolutions) ask
//! [`num_threads`], which is `MXR_NUM_THREADS` when set, else the number of CPUs, and run their
//! parts with [`for_each_part`]: one part on the calling thread, the others on a team of kernel
//! threads (`mxr-kernel-<i>`).
//!
//! The team is what OpenMP's runtime is to MXNet: after each call its threads spin for a short
//! while ([`SPIN`]), then keep looking for the next call while yielding their core to any other
//! thread that wants it, until [`LINGER`] has passed; only then they sleep. So a network's
//! consecutive kernels (a convolution every few hundred microseconds at batch 1, a training
//! step's matrix products with updates and copies between them) start their parts at once
//! instead of waking a sleeping thread: on a virtual machine that can take 100–200 µs (the
//! idle vCPU must be woken by the host), and a part claimed that late holds its whole call
//! back. The W4 MLP's first product (128×784 by 784×128) took 0.31–0.35 ms on two threads in
//! 40% of its calls with a 50 µs spin, more than on one thread (0.25 ms), and 0.15 ms in 95%
//! of them with this linger.
//!
//! The cores are shared with the engine's workers, which run operators side by side (a
//! training step's two convolution gradients of a residual block, the update of many weights
//! beside the backward pass). So every parallel call counts itself while it runs, publishes its
//! parts in one of the team's slots and claims them itself; the team's threads claim parts of
//! any published call, but only while a core is free: while every core runs a call of its own,
//! each call runs its parts one after another on its own thread, and the team's threads sleep
//! instead of spinning; when a call ends, the team picks up the parts the others have left.
//! A caller waits for its helpers by yielding its core while other calls run. The parts, and so
//! the results, are the same whoever runs them.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use parking_lot::{Condvar, Mutex};

/// 0: not read yet.
static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// The number of threads a kernel may use: [`set_num_threads`]'s value, else the environment
/// variable `MXR_NUM_THREADS` (a positive integer), else the number of CPUs.
///
/// ```
/// assert!(mxr_kernels::cpu::parallel::num_threads() >= 1);
/// ```
pub fn num_threads() -> usize {
    match NUM_THREADS.load(Ordering::Relaxed) {
        0 => {
            let n = std::env::var("MXR_NUM_THREADS")
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            NUM_THREADS.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// Sets the number of threads kernels may use from now on (at least 1).
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n.max(1), Ordering::Relaxed);
}

/// Runs `task(i)` for every `i < parts` and returns when all are done: the calling thread
/// and the kernel threads' team (see the module docs) claim parts until none is left. With one
/// part, it just calls `task(0)`. A panic in a part is resumed on the calling thread once every
/// part has finished.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let sum = AtomicUsize::new(0);
/// mxr_kernels::cpu::parallel::for_each_part(4, |i| {
///     sum.fetch_add(i + 1, Ordering::Relaxed);
/// });
/// assert_eq!(sum.into_inner(), 10);
/// ```
pub fn for_each_part<F>(parts: usize, task: F)
where
    F: Fn(usize) + Sync,
{
    if parts <= 1 {
        if parts == 1 {
            task(0);
        }
        return;
    }
    let _caller = Caller::enter();
    if parts > MAX_PARTS || num_threads() == 1 {
        return one_by_one(parts, &task);
    }
    if let Err(task) = Team::get().run(parts, &task) {
        one_by_one(parts, task);
    }
}

/// Calls `f(i, chunk)` for each chunk `i` of `per` elements of `data` (the last one may be
/// shorter), in parallel with [`for_each_part`].
///
/// ```
/// let mut v = vec![0usize; 10];
/// mxr_kernels::cpu::parallel::for_each_chunk_mut(&mut v, 4, |i, chunk| chunk.fill(i));
/// assert_eq!(v, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]);
/// ```
pub fn for_each_chunk_mut<T, F>(data: &mut [T], per: usize, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    let (len, per) = (data.len(), per.max(1));
    let base = SharedMut::new(data.as_mut_ptr());
    for_each_part(len.div_ceil(per), |i| {
        let start = i * per;
        let end = (start + per).min(len);
        // SAFETY: chunk `i` is `start..end` of `data`, inside it (`start < len` since
        // `i < len.div_ceil(per)`), disjoint from every other chunk, and `data` is borrowed
        // mutably for the whole call.
        let chunk = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), end - start) };
        f(i, chunk);
    });
}

/// `f(i)` for every `i < parts`, in parallel with [`for_each_part`]; the results in order.
///
/// ```
/// let squares = mxr_kernels::cpu::parallel::map_parts(4, |i| i * i);
/// assert_eq!(squares, [0, 1, 4, 9]);
/// ```
pub fn map_parts<R, F>(parts: usize, f: F) -> Vec<R>
where
    R: Send,
    F: Fn(usize) -> R + Sync,
{
    let slots: Vec<Mutex<Option<R>>> = (0..parts).map(|_| Mutex::new(None)).collect();
    for_each_part(parts, |i| *slots[i].lock() = Some(f(i)));
    slots
        .into_iter()
        // `for_each_part` returned, so every part ran and filled its slot (a part's panic
        // would have been resumed instead).
        .map(|slot| slot.into_inner().expect("every part filled its slot"))
        .collect()
}

/// Parallel calls ([`for_each_part`] with more than one part) running now, nested ones
/// included: the cores they occupy are not free for another call's helpers.
static CALLERS: AtomicUsize = AtomicUsize::new(0);

/// One running parallel call, counted in [`CALLERS`] until dropped.
struct Caller;

impl Caller {
    fn enter() -> Caller {
        CALLERS.fetch_add(1, Ordering::AcqRel);
        Caller
    }
}

impl Drop for Caller {
    fn drop(&mut self) {
        // A core comes free: wake the team for the parts the other calls have left unclaimed.
        if CALLERS.fetch_sub(1, Ordering::AcqRel) > 1 {
            Team::get().wake_if_asleep();
        }
    }
}

/// Whether a core is free for the team's threads: fewer parallel calls run than there are
/// threads.
fn core_free() -> bool {
    CALLERS.load(Ordering::Acquire) < num_threads()
}

/// Whether another parallel call runs beside the caller's (which is counted): then the
/// team's helpers and the other calls share the cores, and waiting yields instead of spinning.
fn crowded() -> bool {
    CALLERS.load(Ordering::Relaxed) > 1
}

/// [`for_each_part`] on the calling thread alone: every part in order, a panic resumed once
/// all have run (as the team does).
fn one_by_one(parts: usize, task: &(dyn Fn(usize) + Sync)) {
    let mut first_panic = None;
    for i in 0..parts {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| task(i))) {
            first_panic.get_or_insert(payload);
        }
    }
    if let Some(payload) = first_panic {
        resume_unwind(payload);
    }
}

/// How long a kernel thread spins (busy) for the next call after its last part.
pub const SPIN: Duration = Duration::from_micros(50);

/// How long after its last part a kernel thread keeps looking for the next call, yielding its
/// core between looks once [`SPIN`] has passed, before it sleeps.
pub const LINGER: Duration = Duration::from_millis(1);

/// The most parts one team call takes (the claim counter's width); more run one by one.
const MAX_PARTS: usize = u32::MAX as usize;

/// The task of a published call, on the caller's stack.
struct Job<'a> {
    task: &'a (dyn Fn(usize) + Sync),
}

/// Calls published at once, at most (more run one by one).
const SLOTS: usize = 8;

/// One published call.
///
/// The caller stores its [`Job`], `done = 0` and then `state = parts << 32` (the next part to
/// claim in the low 32 bits, release); every participant reads `state`, and claims a part with
/// one `fetch_add` when one is left, until the claim reaches `parts`; it counts each finished
/// part in `done`. The caller releases the slot only when `done == parts`, so the job outlives
/// every claimed part; a thread whose claim fails never reads the job. A thread that read the
/// previous call's state may claim after the slot was taken again: its claim then belongs to
/// the new call, whose job pointer was stored before the new `state` that the claim reads
/// (acquire).
struct Slot {
    /// A caller holds the slot.
    busy: AtomicBool,
    /// `parts << 32 | next part`.
    state: AtomicU64,
    /// The call's `Job`, type-erased.
    job: AtomicPtr<()>,
    /// Parts finished.
    done: AtomicUsize,
    /// The first panic of the call's parts.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Slot {
    /// Whether the slot's call has parts left to claim.
    fn open(&self) -> bool {
        let state = self.state.load(Ordering::Acquire);
        (state & 0xffff_ffff) < (state >> 32)
    }

    /// Claims and runs parts of the slot's call until none is left, or, for a helper
    /// (`helping`), until no core is free; whether it ran any.
    fn claim_parts(&self, helping: bool) -> bool {
        let mut ran = false;
        loop {
            if !self.open() || (helping && !core_free()) {
                return ran;
            }
            let state = self.state.fetch_add(1, Ordering::AcqRel);
            let (parts, part) = ((state >> 32) as usize, (state & 0xffff_ffff) as usize);
            if part >= parts {
                return ran;
            }
            // SAFETY: the claim succeeded, so the call that stored this `state` is still
            // running (it waits for `done == parts`, and this part is not done), and its job
            // pointer, stored before the state (release, read here with acquire), points to
            // its live `Job`.
            let job = unsafe { &*(self.job.load(Ordering::Acquire) as *const Job<'_>) };
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| (job.task)(part))) {
                self.panic.lock().get_or_insert(payload);
            }
            self.done.fetch_add(1, Ordering::Release);
            ran = true;
        }
    }
}

/// The kernel threads and the published calls.
struct Team {
    slots: [CachePadded<Slot>; SLOTS],
    /// Bumped by every call and every wake-up; sleeping threads wait for it to change.
    generation: AtomicU64,
    /// Threads asleep on `wake`.
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
    /// Kernel threads started so far.
    threads: Mutex<usize>,
}

impl Team {
    /// The process's team (its threads start as calls need them).
    fn get() -> &'static Team {
        static TEAM: OnceLock<Team> = OnceLock::new();
        TEAM.get_or_init(|| Team {
            slots: std::array::from_fn(|_| {
                CachePadded::new(Slot {
                    busy: AtomicBool::new(false),
                    state: AtomicU64::new(0),
                    job: AtomicPtr::new(std::ptr::null_mut()),
                    done: AtomicUsize::new(0),
                    panic: Mutex::new(None),
                })
            }),
            generation: AtomicU64::new(0),
            sleepers: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
            threads: Mutex::new(0),
        })
    }

    /// Publishes `parts` parts of `task`, runs them with whichever team threads join, and
    /// returns when all are done; gives the task back when every slot is taken (or no kernel
    /// thread can be started).
    fn run<'t>(
        &'static self,
        parts: usize,
        task: &'t (dyn Fn(usize) + Sync),
    ) -> Result<(), &'t (dyn Fn(usize) + Sync)> {
        let Some(slot) = self.slots.iter().find(|slot| {
            slot.busy
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        }) else {
            return Err(task);
        };
        if !self.start_threads(parts.min(num_threads()) - 1) {
            slot.busy.store(false, Ordering::Release);
            return Err(task);
        }
        let job = Job { task };
        slot.job
            .store(&job as *const Job<'_> as *mut (), Ordering::Relaxed);
        slot.done.store(0, Ordering::Relaxed);
        slot.state.store((parts as u64) << 32, Ordering::Release);
        if core_free() {
            self.wake_if_asleep();
        }
        slot.claim_parts(false);
        let mut spins = 0u32;
        while slot.done.load(Ordering::Acquire) < parts {
            spins = spins.saturating_add(1);
            // A helper descheduled for another call's thread needs this core back.
            if spins < 1 << 16 && !(spins.is_multiple_of(64) && crowded()) {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // Every part is done: no thread reads `job` any more (later claims fail, or belong to
        // the slot's next call, which stores its own job first).
        let panic = slot.panic.lock().take();
        slot.busy.store(false, Ordering::Release);
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
        Ok(())
    }

    /// Wakes the sleeping kernel threads, if any (they look for parts to claim).
    fn wake_if_asleep(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.sleep.lock();
            self.wake.notify_all();
        }
    }

    /// Starts kernel threads until there are `wanted`; false when one cannot be spawned.
    fn start_threads(&'static self, wanted: usize) -> bool {
        let mut started = self.threads.lock();
        while *started < wanted {
            let spawned = std::thread::Builder::new()
                .name(format!("mxr-kernel-{}", *started))
                .spawn(move || self.serve());
            if spawned.is_err() {
                return *started > 0;
            }
            *started += 1;
        }
        true
    }

    /// Claims parts of the published calls while a core is free; whether it ran any.
    fn help(&self) -> bool {
        let mut ran = false;
        for slot in &self.slots {
            if core_free() && slot.open() {
                ran |= slot.claim_parts(true);
            }
        }
        ran
    }

    /// A kernel thread: helps the published calls; after the last part it ran, spins for
    /// [`SPIN`], then looks for calls between yields until [`LINGER`] has passed (not while
    /// every core runs a call), then sleeps until a call wakes it.
    fn serve(&self) {
        loop {
            let start = Instant::now();
            let mut spins = 0u32;
            let mut lingering = false;
            let mut seen = self.generation.load(Ordering::Acquire);
            loop {
                if self.help() {
                    break;
                }
                if lingering {
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                    spins = spins.wrapping_add(1);
                    if !spins.is_multiple_of(256) {
                        continue;
                    }
                }
                let idle = start.elapsed();
                lingering = idle > SPIN;
                if idle > LINGER || !core_free() {
                    let mut guard = self.sleep.lock();
                    self.sleepers.fetch_add(1, Ordering::SeqCst);
                    // Parts published (or a core freed) after `seen` was read bumped the
                    // generation: then look again instead of sleeping.
                    while self.generation.load(Ordering::SeqCst) == seen {
                        self.wake.wait(&mut guard);
                    }
                    self.sleepers.fetch_sub(1, Ordering::SeqCst);
                    seen = self.generation.load(Ordering::Acquire);
                    lingering = false;
                }
            }
        }
    }
}

/// Splits `0..len` into at most `parts` contiguous ranges of nearly equal size, each a multiple
/// of `align` long except possibly the last; empty ranges are left out.
pub fn split_range(len: usize, parts: usize, align: usize) -> Vec<std::ops::Range<usize>> {
    let align = align.max(1);
    let parts = parts.max(1);
    let per = len.div_ceil(parts).div_ceil(align) * align;
    (0..parts)
        .map(|p| (p * per).min(len)..((p + 1) * per).min(len))
        .filter(|r| !r.is_empty())
        .collect()
}

/// A mutable pointer shared by the parts of one [`for_each_part`] call that write disjoint
/// elements through it (each part its own).
#[derive(Debug)]
pub(crate) struct SharedMut<T>(*mut T);

// Not derived: a pointer is copied whatever `T` is.
impl<T> Clone for SharedMut<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SharedMut<T> {}

impl<T> SharedMut<T> {
    /// Shares `ptr`; the caller promises the parts write disjoint elements, and that the
    /// buffer outlives the call.
    pub(crate) fn new(ptr: *mut T) -> SharedMut<T> {
        SharedMut(ptr)
    }

    /// The pointer (a method, so that closures capture the whole `Sync` struct).
    pub(crate) fn get(self) -> *mut T {
        self.0
    }
}

// SAFETY: the pointer is only written through by parts that touch disjoint elements (the
// contract of `SharedMut::new`), and the buffer outlives the fork-join call that shares it.
unsafe impl<T: Send> Sync for SharedMut<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for SharedMut<T> {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn split_range_covers_everything_once_aligned() {
        assert_eq!(split_range(100, 2, 8), vec![0..56, 56..100]);
        assert_eq!(split_range(10, 4, 1), vec![0..3, 3..6, 6..9, 9..10]);
        assert_eq!(split_range(5, 4, 8), vec![0..5]);
        assert!(split_range(0, 3, 1).is_empty());
    }

    #[test]
    fn for_each_part_runs_every_part_once() {
        let seen = Mutex::new(Vec::new());
        for_each_part(5, |i| seen.lock().unwrap().push(i));
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        let ran = Mutex::new(0);
        for_each_part(1, |_| *ran.lock().unwrap() += 1);
        for_each_part(0, |_| *ran.lock().unwrap() += 10);
        assert_eq!(*ran.lock().unwrap(), 1);
    }

    #[test]
    fn team_calls_from_many_threads_run_every_part_once() {
        // Concurrent callers: one holds the team, the others run their parts themselves;
        // nested calls too.
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for round in 0..200 {
                        let parts = 2 + (t + round) % 5;
                        let hits: Vec<AtomicUsize> =
                            (0..parts).map(|_| AtomicUsize::new(0)).collect();
                        for_each_part(parts, |i| {
                            hits[i].fetch_add(1, Ordering::Relaxed);
                            if round % 7 == 0 {
                                let inner = AtomicUsize::new(0);
                                for_each_part(3, |j| {
                                    inner.fetch_add(j + 1, Ordering::Relaxed);
                                });
                                assert_eq!(inner.into_inner(), 6);
                            }
                        });
                        for h in &hits {
                            assert_eq!(h.load(Ordering::Relaxed), 1);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn more_callers_than_slots_each_run_every_part_once() {
        // 12 callers at once: some find every slot taken or no core free and run their parts
        // themselves; the results are the same.
        let barrier = std::sync::Barrier::new(12);
        std::thread::scope(|scope| {
            for t in 0..12 {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    for round in 0..100 {
                        let mut v = vec![0usize; 100 + t + round];
                        for_each_chunk_mut(&mut v, 7, |i, chunk| {
                            for (k, x) in chunk.iter_mut().enumerate() {
                                *x = i * 7 + k;
                            }
                        });
                        assert!(v.iter().enumerate().all(|(k, &x)| x == k));
                        let squares = map_parts(3 + t % 4, |i| i * i + t);
                        let want: Vec<usize> = (0..3 + t % 4).map(|i| i * i + t).collect();
                        assert_eq!(squares, want);
                    }
                });
            }
        });
    }

    #[test]
    fn team_resumes_a_part_panic_on_the_caller_and_keeps_working() {
        let caught = std::panic::catch_unwind(|| {
            for_each_part(3, |i| {
                if i == 2 {
                    panic!("part 2 failed");
                }
            })
        });
        let payload = caught.expect_err("the part's panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"part 2 failed"));
        let sum = AtomicUsize::new(0);
        for_each_part(3, |i| {
            sum.fetch_add(i, Ordering::Relaxed);
        });
        assert_eq!(sum.into_inner(), 3);
    }

    #[test]
    fn team_wakes_its_threads_after_they_sleep() {
        for _ in 0..3 {
            let sum = AtomicUsize::new(0);
            for_each_part(2, |i| {
                sum.fetch_add(i + 1, Ordering::Relaxed);
            });
            assert_eq!(sum.into_inner(), 3);
            std::thread::sleep(LINGER * 2);
        }
    }
}
