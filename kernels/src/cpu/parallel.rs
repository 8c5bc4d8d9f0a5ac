//! Intra-operator parallelism: how many threads one kernel may use, and fork-join.
//!
//! MXNet's CPU kernels use OpenMP (and OpenBLAS its own threads), `OMP_NUM_THREADS` of them.
//! mxr's kernels that split their work (large matrix products, convolutions) ask
//! [`num_threads`], which is `MXR_NUM_THREADS` when set, else the number of CPUs, and run their
//! parts with [`for_each_part`]: one part on the calling thread, the others on a team of kernel
//! threads (`mxr-kernel-<i>`).
//!
//! The team is what OpenMP's runtime is to MXNet: its threads spin for a short while
//! ([`SPIN`]) after each call before they sleep, so that a network's consecutive kernels (a
//! convolution every few hundred microseconds at batch 1) start their parts at once instead of
//! waking sleeping threads (tens of microseconds each time, measured with rayon's pool). One
//! caller uses the team at a time; a call that finds it in use (two engine workers running
//! kernels at once, or a kernel's part splitting again) runs on rayon's global pool instead.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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
    if parts > MAX_PARTS {
        return on_rayon(parts, &task);
    }
    if let Err(task) = Team::get().run(parts, &task) {
        on_rayon(parts, task);
    }
}

/// [`for_each_part`] on rayon's global pool, with part 0 on the calling thread.
fn on_rayon(parts: usize, task: &(dyn Fn(usize) + Sync)) {
    rayon::in_place_scope(|scope| {
        for i in 1..parts {
            scope.spawn(move |_| task(i));
        }
        task(0);
    });
}

/// How long a kernel thread spins for the next call before it sleeps.
pub const SPIN: Duration = Duration::from_micros(50);

/// The most parts one team call takes (the claim counter's width); more go to rayon.
const MAX_PARTS: usize = u32::MAX as usize;

/// The task of the team's current call, on the caller's stack.
struct Job<'a> {
    task: &'a (dyn Fn(usize) + Sync),
}

/// The kernel threads and the current call's state.
///
/// A call publishes its [`Job`] and `state = parts << 32` (the next part to claim in the low
/// 32 bits), then bumps `generation`; every participant claims parts with one `fetch_add` on
/// `state` until the claim reaches `parts`, and counts each finished part in `done`. The
/// caller returns only when `done == parts`, so the job outlives every claimed part; a thread
/// whose claim fails never reads the job. The next call may start while a late thread is still
/// claiming: its claim then belongs to the new call, whose job pointer was stored before the
/// new `state` (release) that the claim reads (acquire).
struct Team {
    /// A caller holds the team.
    busy: AtomicBool,
    /// `parts << 32 | next part`.
    state: AtomicU64,
    /// The current call's `Job`, type-erased.
    job: AtomicPtr<()>,
    /// Parts finished in the current call.
    done: AtomicUsize,
    /// Bumped by every call; threads wait for it to change.
    generation: AtomicU64,
    /// Threads asleep on `wake`.
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
    /// The first panic of the current call's parts.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// Kernel threads started so far.
    threads: Mutex<usize>,
}

impl Team {
    /// The process's team (its threads start as calls need them).
    fn get() -> &'static Team {
        static TEAM: OnceLock<Team> = OnceLock::new();
        TEAM.get_or_init(|| Team {
            busy: AtomicBool::new(false),
            state: AtomicU64::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            done: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            sleepers: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
            panic: Mutex::new(None),
            threads: Mutex::new(0),
        })
    }

    /// Runs `parts` parts of `task` with the team, or gives the task back when another call
    /// holds the team (or its threads cannot be started).
    fn run<'t>(
        &'static self,
        parts: usize,
        task: &'t (dyn Fn(usize) + Sync),
    ) -> Result<(), &'t (dyn Fn(usize) + Sync)> {
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(task);
        }
        if !self.start_threads(parts - 1) {
            self.busy.store(false, Ordering::Release);
            return Err(task);
        }
        let job = Job { task };
        self.job
            .store(&job as *const Job<'_> as *mut (), Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.state.store((parts as u64) << 32, Ordering::Release);
        self.generation.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.sleep.lock();
            self.wake.notify_all();
        }
        self.claim_parts();
        let mut spins = 0u32;
        while self.done.load(Ordering::Acquire) < parts {
            spins = spins.saturating_add(1);
            if spins < 1 << 16 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // Every part is done: no thread reads `job` any more (later claims fail, or belong to
        // the next call, which stores its own job first).
        let panic = self.panic.lock().take();
        self.busy.store(false, Ordering::Release);
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
        Ok(())
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

    /// Claims and runs parts of the current call until none is left.
    fn claim_parts(&self) {
        loop {
            let state = self.state.fetch_add(1, Ordering::AcqRel);
            let (parts, part) = ((state >> 32) as usize, (state & 0xffff_ffff) as usize);
            if part >= parts {
                return;
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
        }
    }

    /// A kernel thread: waits for each call (spinning for [`SPIN`], then asleep) and claims
    /// its parts.
    fn serve(&self) {
        let mut seen = self.generation.load(Ordering::Acquire);
        loop {
            let start = Instant::now();
            let mut spins = 0u32;
            loop {
                let now = self.generation.load(Ordering::Acquire);
                if now != seen {
                    seen = now;
                    break;
                }
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                if spins.is_multiple_of(256) && start.elapsed() > SPIN {
                    let mut guard = self.sleep.lock();
                    self.sleepers.fetch_add(1, Ordering::SeqCst);
                    while self.generation.load(Ordering::SeqCst) == seen {
                        self.wake.wait(&mut guard);
                    }
                    self.sleepers.fetch_sub(1, Ordering::SeqCst);
                    seen = self.generation.load(Ordering::Acquire);
                    break;
                }
            }
            self.claim_parts();
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
#[derive(Debug, Clone, Copy)]
pub(crate) struct SharedMut<T>(*mut T);

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
        // Concurrent callers: one holds the team, the others go to rayon; nested calls too.
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
            std::thread::sleep(SPIN * 4);
        }
    }
}
