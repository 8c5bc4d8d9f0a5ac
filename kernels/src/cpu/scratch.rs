//! Scratch buffers shared by every thread of the process.
//!
//! A kernel that needs a large temporary (a GEMM's packed blocks, a transposed product) takes
//! one from a [`ScratchPool`] for the length of a call and gives it back afterwards. Unlike a
//! buffer per thread, the memory a pool holds grows with the number of calls that ran *at the
//! same time*, not with the number of threads that ever ran one: when the engine's workers take
//! turns on a chain of products (a training step of a deep MLP), they reuse one set of buffers
//! instead of filling one each. The most recently returned buffer is handed out first, so the
//! next call finds it warm in cache.

use parking_lot::Mutex;

/// A process-wide stack of reusable buffers of type `T` (see the module docs).
#[derive(Debug)]
pub(crate) struct ScratchPool<T> {
    free: Mutex<Vec<T>>,
}

impl<T: Default> ScratchPool<T> {
    /// An empty pool; buffers are made (with `T::default()`) when none is free.
    pub(crate) const fn new() -> Self {
        Self {
            free: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` with a buffer that no other call holds meanwhile: the most recently returned
    /// one, or a new one when all are in use. The buffer goes back to the pool when `f`
    /// returns (if `f` panics it is dropped instead).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let taken = self.free.lock().pop();
        let mut buffer = taken.unwrap_or_default();
        let result = f(&mut buffer);
        self.free.lock().push(buffer);
        result
    }

    /// How many buffers the pool holds that no call is using.
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.free.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::ScratchPool;

    #[test]
    fn a_returned_buffer_is_reused_with_its_contents() {
        static POOL: ScratchPool<Vec<u32>> = ScratchPool::new();
        POOL.with(|b| b.extend([1, 2, 3]));
        assert_eq!(POOL.idle(), 1);
        let seen = POOL.with(|b| b.clone());
        assert_eq!(seen, [1, 2, 3]);
        assert_eq!(POOL.idle(), 1);
    }

    #[test]
    fn nested_calls_get_distinct_buffers() {
        static POOL: ScratchPool<Vec<u32>> = ScratchPool::new();
        POOL.with(|outer| {
            outer.push(7);
            POOL.with(|inner| {
                assert!(
                    inner.is_empty(),
                    "the inner call must not see the outer's buffer"
                );
                inner.push(8);
            });
            assert_eq!(outer, &[7]);
        });
        assert_eq!(POOL.idle(), 2);
    }

    #[test]
    fn concurrent_calls_never_share_a_buffer() {
        static POOL: ScratchPool<Vec<usize>> = ScratchPool::new();
        std::thread::scope(|s| {
            for t in 0..4 {
                s.spawn(move || {
                    for i in 0..200 {
                        POOL.with(|b| {
                            b.clear();
                            b.extend(std::iter::repeat_n(t * 1000 + i, 64));
                            std::thread::yield_now();
                            assert!(b.iter().all(|&v| v == t * 1000 + i));
                        });
                    }
                });
            }
        });
        assert!((1..=4).contains(&POOL.idle()));
    }
}
