//! Intra-operator parallelism: how many threads one kernel may use, and fork-join over
//! rayon's pool.
//!
//! MXNet's CPU kernels use OpenMP (and OpenBLAS its own threads), `OMP_NUM_THREADS` of them.
//! mxr's kernels that split their work (large matrix products, convolutions over a batch) ask
//! [`num_threads`], which is `MXR_NUM_THREADS` when set, else the number of CPUs. Work runs on
//! rayon's global pool, with one part on the calling thread.

use std::sync::atomic::{AtomicUsize, Ordering};

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

/// Runs `task(i)` for every `i < parts`: part 0 on the calling thread, the others on rayon's
/// pool, and returns when all are done. With one part, it just calls `task(0)`.
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
    let task = &task;
    rayon::in_place_scope(|scope| {
        for i in 1..parts {
            scope.spawn(move |_| task(i));
        }
        task(0);
    });
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
}
