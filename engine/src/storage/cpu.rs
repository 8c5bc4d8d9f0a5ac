//! The host-memory pool and its buffers.

use std::alloc::{self, Layout};
use std::fmt;
use std::mem;
use std::ptr::NonNull;
use std::slice;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use dashmap::DashMap;

use super::{ALIGN, Pod, PoolStats, size_class};
use crate::{Context, Error, Result};

/// A pointer to a block obtained from [`alloc_block`], owned by whoever holds the `BlockPtr`.
#[derive(Debug)]
struct BlockPtr(NonNull<u8>);

// SAFETY: a `BlockPtr` is the sole owner of its heap block (it is moved between a `Buffer` and
// the free list, never copied), so sending it to another thread moves that ownership, and the
// global allocator may free a block on any thread.
unsafe impl Send for BlockPtr {}
// SAFETY: the only code that dereferences a `BlockPtr` is `Buffer`, which reads the block
// through `&Buffer` and writes it only through `&mut Buffer`; so threads sharing a `&BlockPtr`
// can only read, and never race with a write.
unsafe impl Sync for BlockPtr {}

/// The layout of a block of size class `class`, or `None` when no such layout exists.
fn block_layout(class: usize) -> Option<Layout> {
    Layout::from_size_align(class, ALIGN).ok()
}

/// Gets a fresh, zeroed block of `class` bytes from the system allocator.
fn alloc_block(class: usize) -> Option<BlockPtr> {
    let layout = block_layout(class)?;
    debug_assert!(layout.size() > 0, "size classes are at least 64 bytes");
    // SAFETY: `layout` has a non-zero size (every class is at least 64 bytes), which is
    // `GlobalAlloc::alloc_zeroed`'s only requirement. A null result is reported, not used.
    let ptr = unsafe { alloc::alloc_zeroed(layout) };
    NonNull::new(ptr).map(BlockPtr)
}

/// Returns a block to the system allocator.
///
/// # Safety
///
/// `block` must come from [`alloc_block`] with this same `class`, and no other reference to
/// its memory may be used afterwards (the caller gives up ownership here).
unsafe fn free_block(block: BlockPtr, class: usize) {
    // SAFETY: `alloc_block(class)` succeeded for this block, so `(class, ALIGN)` is a valid
    // layout (the caller guarantees that `class` is the same).
    let layout = unsafe { Layout::from_size_align_unchecked(class, ALIGN) };
    // SAFETY: the block was allocated by the global allocator with exactly this layout and is
    // owned, unfreed, by the caller (both guaranteed by the caller).
    unsafe { alloc::dealloc(block.0.as_ptr(), layout) };
}

/// The free lists' hasher: their keys are size classes, which one multiplication spreads well
/// enough (SipHash, the default, cost about 2% of W2's time per operator).
type ClassHash = std::hash::BuildHasherDefault<ClassHasher>;

/// Fibonacci hashing of one integer key.
#[derive(Default)]
struct ClassHasher(u64);

impl std::hash::Hasher for ClassHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_usize(&mut self, v: usize) {
        self.0 = (self.0 ^ v as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The state shared by the handles of a pool and its live buffers.
///
/// Ordering of the atomics: they are plain counters that publish no memory, so `Relaxed` is
/// enough for all of them. The blocks themselves change hands through the `DashMap`, whose
/// shard locks order a previous owner's writes before the next owner's reads.
struct PoolShared {
    context: Context,
    /// Cached bytes never exceed this.
    max_pooled: usize,
    /// Free blocks by size class.
    free: DashMap<usize, Vec<BlockPtr>, ClassHash>,
    in_use: AtomicUsize,
    /// Bytes of the free lists, plus those reserved by a `give_back` about to push a block; so
    /// always at least the bytes actually in the lists. Reserved before a push, released after
    /// a pop, so it never exceeds `max_pooled` and never underflows.
    pooled: AtomicUsize,
    peak: AtomicUsize,
    allocations: AtomicU64,
    reuses: AtomicU64,
}

impl PoolShared {
    fn stats(&self) -> PoolStats {
        PoolStats {
            bytes_in_use: self.in_use.load(Ordering::Relaxed),
            bytes_pooled: self.pooled.load(Ordering::Relaxed),
            peak_bytes_in_use: self.peak.load(Ordering::Relaxed),
            allocations: self.allocations.load(Ordering::Relaxed),
            reuses: self.reuses.load(Ordering::Relaxed),
        }
    }

    /// Takes a cached block of `class`, if there is one. The second value is `true` for a
    /// reused block, `false` for a fresh (zeroed) one.
    fn take(&self, class: usize) -> Option<(BlockPtr, bool)> {
        // The shard guard lives only for this statement: no other map access happens under it.
        let cached = self.free.get_mut(&class).and_then(|mut list| list.pop());
        if let Some(block) = cached {
            self.pooled.fetch_sub(class, Ordering::Relaxed);
            self.reuses.fetch_add(1, Ordering::Relaxed);
            return Some((block, true));
        }
        let block = alloc_block(class)?;
        self.allocations.fetch_add(1, Ordering::Relaxed);
        Some((block, false))
    }

    /// Caches a block that a buffer gave back, or frees it when caching it would exceed the
    /// limit.
    ///
    /// # Safety
    ///
    /// As for [`free_block`]: `block` comes from `alloc_block(class)` and the caller owns it.
    unsafe fn give_back(&self, block: BlockPtr, class: usize) {
        let reserved = self
            .pooled
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |pooled| {
                pooled.checked_add(class).filter(|&p| p <= self.max_pooled)
            })
            .is_ok();
        if reserved {
            self.free.entry(class).or_default().push(block);
        } else {
            // SAFETY: forwarded from this function's contract.
            unsafe { free_block(block, class) };
        }
    }

    /// Frees every cached block and returns the bytes freed.
    fn release(&self) -> usize {
        let mut taken = Vec::new();
        for mut entry in self.free.iter_mut() {
            let class = *entry.key();
            taken.push((class, mem::take(entry.value_mut())));
        }
        let mut freed = 0;
        for (class, blocks) in taken {
            for block in blocks {
                // SAFETY: every block in the free list of `class` was allocated with `class`
                // and is owned by the list; we just took it out, so nobody else can reach it.
                unsafe { free_block(block, class) };
                freed += class;
            }
        }
        self.pooled.fetch_sub(freed, Ordering::Relaxed);
        freed
    }
}

impl Drop for PoolShared {
    fn drop(&mut self) {
        for (class, blocks) in mem::take(&mut self.free) {
            for block in blocks {
                // SAFETY: as in `release`: the free list owned the block, allocated with `class`.
                unsafe { free_block(block, class) };
            }
        }
    }
}

impl fmt::Debug for PoolShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolShared")
            .field("context", &self.context)
            .field("max_pooled", &self.max_pooled)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// A pool of 64-byte-aligned host memory blocks reused by size class.
///
/// Cheap to clone: the clones share one pool. The pool's memory lives until the last handle
/// *and* the last [`Buffer`] from it are gone, so buffers may outlive every handle. See the
/// [module documentation](super) for the size classes.
///
/// ```
/// use mxr_engine::Context;
/// use mxr_engine::storage::{CpuPool, PoolStats};
///
/// let pool = CpuPool::new(Context::cpu(0));
/// let mut a = pool.alloc(1000)?;
/// assert_eq!((a.len(), a.capacity()), (1000, 1024));
/// assert_eq!(a.as_ptr() as usize % 64, 0);
/// a.as_bytes_mut().fill(7);
/// let first = a.as_ptr();
/// drop(a); // back to the pool, not to the system
/// assert_eq!(pool.stats().bytes_pooled, 1024);
///
/// let b = pool.alloc_zeroed(600)?; // same class (1024): the same block, zeroed again
/// assert_eq!(b.as_ptr(), first);
/// assert!(b.as_bytes().iter().all(|&x| x == 0));
/// assert_eq!(
///     pool.stats(),
///     PoolStats {
///         bytes_in_use: 1024,
///         bytes_pooled: 0,
///         peak_bytes_in_use: 1024,
///         allocations: 1,
///         reuses: 1,
///     }
/// );
/// drop(b);
/// assert_eq!(pool.release(), 1024);
/// # Ok::<(), mxr_engine::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct CpuPool {
    shared: Arc<PoolShared>,
}

impl CpuPool {
    /// An empty pool with no limit on cached bytes. `context` names the device in errors and is
    /// the [`Buffer::context`] of its buffers.
    pub fn new(context: Context) -> Self {
        Self::with_limit(context, usize::MAX)
    }

    /// An empty pool that caches at most `max_pooled_bytes` free bytes: a freed block that would
    /// take the cache over the limit goes back to the system instead. Live buffers do not count.
    pub fn with_limit(context: Context, max_pooled_bytes: usize) -> Self {
        CpuPool {
            shared: Arc::new(PoolShared {
                context,
                max_pooled: max_pooled_bytes,
                free: DashMap::with_hasher(ClassHash::default()),
                in_use: AtomicUsize::new(0),
                pooled: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                allocations: AtomicU64::new(0),
                reuses: AtomicU64::new(0),
            }),
        }
    }

    /// A buffer of `bytes` bytes, reusing a cached block of the same size class when there is
    /// one. The contents are unspecified (zeros, or what a previous buffer left) but always
    /// initialized.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfMemory`] when the system allocator fails or `bytes` is too large for any
    /// allocation.
    pub fn alloc(&self, bytes: usize) -> Result<Buffer> {
        self.alloc_inner(bytes).map(|(buffer, _)| buffer)
    }

    /// A buffer of `bytes` bytes, all zero. (Its spare capacity beyond [`Buffer::len`] is
    /// initialized but not necessarily zero.)
    ///
    /// # Errors
    ///
    /// As for [`alloc`](Self::alloc).
    pub fn alloc_zeroed(&self, bytes: usize) -> Result<Buffer> {
        let (mut buffer, reused) = self.alloc_inner(bytes)?;
        if reused {
            buffer.as_bytes_mut().fill(0);
        }
        Ok(buffer)
    }

    fn alloc_inner(&self, bytes: usize) -> Result<(Buffer, bool)> {
        let shared = &self.shared;
        let out_of_memory = || Error::OutOfMemory {
            context: shared.context,
            requested: bytes,
        };
        let class = size_class(bytes).ok_or_else(out_of_memory)?;
        let (block, reused) = shared.take(class).ok_or_else(out_of_memory)?;
        let in_use = shared.in_use.fetch_add(class, Ordering::Relaxed) + class;
        // A read first: a new peak is rare, and `fetch_max` is a compare-and-swap loop.
        if in_use > shared.peak.load(Ordering::Relaxed) {
            shared.peak.fetch_max(in_use, Ordering::Relaxed);
        }
        let buffer = Buffer {
            block: mem::ManuallyDrop::new(block),
            len: bytes,
            capacity: class,
            pool: Arc::clone(shared),
        };
        Ok((buffer, reused))
    }

    /// The pool's counters.
    pub fn stats(&self) -> PoolStats {
        self.shared.stats()
    }

    /// Frees every cached block to the system and returns the bytes freed. Live buffers are not
    /// affected (they come back to the pool when dropped).
    pub fn release(&self) -> usize {
        self.shared.release()
    }

    /// The pool's device.
    pub fn context(&self) -> Context {
        self.shared.context
    }
}

/// An owned block of memory from a pool; it returns to its pool when dropped.
///
/// Its bytes are always initialized, 64-byte aligned, and can be viewed as bytes or as slices
/// of any [`Pod`] type.
pub struct Buffer {
    /// Owned; taken out only in `drop`.
    block: mem::ManuallyDrop<BlockPtr>,
    len: usize,
    /// The size class `block` was allocated with.
    capacity: usize,
    pool: Arc<PoolShared>,
}

impl Buffer {
    /// The size requested, in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the size requested was zero.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The size reserved, in bytes: the request's size class, at least [`len`](Self::len).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The device of the pool the buffer came from.
    pub fn context(&self) -> Context {
        self.pool.context
    }

    /// The first byte (64-byte aligned, never null).
    pub fn as_ptr(&self) -> *const u8 {
        self.block.0.as_ptr()
    }

    /// The first byte, for writing (64-byte aligned, never null).
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.block.0.as_ptr()
    }

    /// The `len()` bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.as_slice()
    }

    /// The `len()` bytes, for writing.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }

    /// The bytes as `len() / size_of::<T>()` elements of `T` (a trailing partial element is
    /// left out).
    pub fn as_slice<T: Pod>(&self) -> &[T] {
        let count = self.len / mem::size_of::<T>();
        // SAFETY: the block holds `capacity >= len >= count * size_of::<T>()` bytes, all
        // initialized (blocks are zeroed when fresh and only ever written afterwards), and is
        // 64-byte aligned, which `T: Pod` guarantees is enough for `T`; every bit pattern is a
        // valid `T` (again `Pod`). The block is owned by `self` and only mutated through
        // `&mut self`, so it is not written while this borrow of `self` lives.
        unsafe { slice::from_raw_parts(self.block.0.as_ptr().cast::<T>(), count) }
    }

    /// The bytes as `len() / size_of::<T>()` mutable elements of `T` (a trailing partial element
    /// is left out).
    pub fn as_mut_slice<T: Pod>(&mut self) -> &mut [T] {
        let count = self.len / mem::size_of::<T>();
        // SAFETY: as in `as_slice` for size, initialization, alignment and validity; `&mut self`
        // makes this the only access to the block while the slice lives, and any bytes written
        // through it stay initialized.
        unsafe { slice::from_raw_parts_mut(self.block.0.as_ptr().cast::<T>(), count) }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: `block` is taken exactly once, here, and `self` is not used after `drop`.
        let block = unsafe { mem::ManuallyDrop::take(&mut self.block) };
        self.pool.in_use.fetch_sub(self.capacity, Ordering::Relaxed);
        // SAFETY: `block` was allocated by this pool with class `self.capacity`, and the buffer
        // owned it exclusively; ownership now passes to the pool.
        unsafe { self.pool.give_back(block, self.capacity) };
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer")
            .field("ptr", &self.as_ptr())
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .field("context", &format_args!("{}", self.pool.context))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    fn pool() -> CpuPool {
        CpuPool::new(Context::cpu(0))
    }

    #[test]
    fn alignment_len_and_capacity() {
        let pool = pool();
        let cases = crate::storage::tests::SIZE_CLASS_CASES;
        let live: Vec<Buffer> = cases.iter().map(|&(n, _)| pool.alloc(n).unwrap()).collect();
        for (buf, &(len, cap)) in live.iter().zip(&cases) {
            assert_eq!(buf.as_ptr() as usize % 64, 0, "alignment of {len}");
            assert_eq!((buf.len(), buf.capacity()), (len, cap));
            assert_eq!(buf.is_empty(), len == 0);
            assert_eq!(buf.as_bytes().len(), len);
            assert_eq!(buf.context(), Context::cpu(0));
            // Fresh blocks are zeroed (Miri checks both ends only: it is slow).
            let n = if cfg!(miri) { len.min(4096) } else { len };
            let ends = buf.as_bytes()[..n].iter().chain(&buf.as_bytes()[len - n..]);
            assert!(ends.into_iter().all(|&b| b == 0), "fresh block of {len}");
        }
        let total: usize = cases.iter().map(|&(_, cap)| cap).sum();
        assert_eq!(pool.stats().bytes_in_use, total);
        assert_eq!(pool.stats().allocations, cases.len() as u64);
    }

    #[test]
    fn handles_and_buffers_are_send_and_sync() {
        fn check<T: Send + Sync + fmt::Debug>() {}
        check::<CpuPool>();
        check::<Buffer>();
    }

    #[test]
    fn reuse_same_class_only() {
        let pool = pool();
        let a = pool.alloc(100).unwrap();
        let p = a.as_ptr();
        drop(a);
        let b = pool.alloc(128).unwrap(); // class 128 again
        assert_eq!(b.as_ptr(), p);
        let s = pool.stats();
        assert_eq!((s.allocations, s.reuses), (1, 1));
        let c = pool.alloc(129).unwrap(); // class 256: fresh
        assert_ne!(c.as_ptr(), p);
        assert_eq!((pool.stats().allocations, pool.stats().reuses), (2, 1));
        let pool2 = pool.clone(); // handles share the pool
        drop((b, c));
        assert_eq!(pool2.stats().bytes_pooled, 128 + 256);
    }

    #[test]
    fn stats_sequence() {
        let pool = pool();
        assert_eq!(pool.stats(), PoolStats::default());
        let a = pool.alloc(1000).unwrap(); // 1024
        let b = pool.alloc(5000).unwrap(); // 8192
        let c = pool.alloc(2 << 20).unwrap(); // 2 MiB
        drop(b);
        let d = pool.alloc(4097).unwrap(); // 8192, reused
        drop((a, c));
        let expected = PoolStats {
            bytes_in_use: 8192,
            bytes_pooled: 1024 + (2 << 20),
            peak_bytes_in_use: 1024 + 8192 + (2 << 20),
            allocations: 3,
            reuses: 1,
        };
        assert_eq!(pool.stats(), expected);
        drop(d);
        let s = pool.stats();
        assert_eq!(
            (s.bytes_in_use, s.bytes_pooled),
            (0, 1024 + 8192 + (2 << 20))
        );
        assert_eq!(s.peak_bytes_in_use, expected.peak_bytes_in_use);
    }

    #[test]
    fn alloc_zeroed_clears_reused_block() {
        let pool = pool();
        let mut a = pool.alloc(4000).unwrap();
        a.as_bytes_mut().fill(0xAB);
        let p = a.as_ptr();
        drop(a);
        let dirty = pool.alloc(4000).unwrap();
        assert_eq!(dirty.as_ptr(), p);
        assert!(
            dirty.as_bytes().iter().all(|&b| b == 0xAB),
            "alloc keeps old contents"
        );
        drop(dirty);
        let b = pool.alloc_zeroed(4096).unwrap();
        assert_eq!(b.as_ptr(), p);
        assert!(b.as_bytes().iter().all(|&b| b == 0));
        assert_eq!(pool.stats().reuses, 2);
    }

    #[test]
    fn release_frees_everything_cached() {
        let pool = pool();
        let bufs: Vec<_> = [10, 100, 1000, 3 << 20]
            .map(|n| pool.alloc(n).unwrap())
            .into();
        let keep = pool.alloc(64).unwrap();
        drop(bufs);
        assert_eq!(pool.release(), 64 + 128 + 1024 + (3 << 20));
        let s = pool.stats();
        assert_eq!((s.bytes_pooled, s.bytes_in_use), (0, 64));
        assert_eq!(pool.release(), 0);
        drop(keep);
        assert_eq!(pool.stats().bytes_pooled, 64);
        let again = pool.alloc(10).unwrap(); // from the list, not the released blocks
        assert_eq!(pool.stats().reuses, 1);
        drop(again);
        assert_eq!(pool.release(), 64);
    }

    #[test]
    fn limit_drops_blocks_beyond_it() {
        let pool = CpuPool::with_limit(Context::cpu(1), 1000);
        let (a, b) = (pool.alloc(512).unwrap(), pool.alloc(512).unwrap());
        let big = pool.alloc(2000).unwrap(); // class 2048 > limit: never cached
        drop((a, b, big));
        assert_eq!(pool.stats().bytes_pooled, 512);
        let (c, d) = (pool.alloc(300).unwrap(), pool.alloc(300).unwrap());
        let s = pool.stats();
        assert_eq!((s.allocations, s.reuses, s.bytes_pooled), (4, 1, 0));
        drop((c, d));
        assert_eq!(pool.stats().bytes_pooled, 512);
        assert_eq!(CpuPool::with_limit(Context::cpu(0), 0).release(), 0);
    }

    #[test]
    fn typed_slices() {
        let pool = pool();
        let mut buf = pool.alloc(4 * 10 + 3).unwrap(); // 10 f32 and 3 spare bytes
        let values: Vec<f32> = (0..10).map(|i| i as f32 * 0.5 - 1.0).collect();
        buf.as_mut_slice::<f32>().copy_from_slice(&values);
        assert_eq!(buf.as_slice::<f32>(), &values[..]);
        assert_eq!(buf.as_slice::<f64>().len(), 5);
        assert_eq!(buf.as_slice::<u8>().len(), 43);
        assert_eq!(buf.as_slice::<u32>()[2], (-1.0f32 + 1.0).to_bits());
        buf.as_mut_slice::<i64>()[0] = -2;
        assert_eq!(&buf.as_slice::<i32>()[..2], &[-2, -1]);
        assert_eq!(&buf.as_bytes()[..4], &[0xfe, 0xff, 0xff, 0xff]);
        let mut empty = pool.alloc(0).unwrap();
        assert!(empty.as_mut_slice::<u64>().is_empty());
        assert!(!empty.as_mut_ptr().is_null());
    }

    #[test]
    fn buffers_outlive_their_pool() {
        let pool = pool();
        let mut a = pool.alloc(256).unwrap();
        let b = pool.alloc(1 << 21).unwrap();
        let c = pool.alloc(256).unwrap();
        drop(c); // cached: freed when the shared state goes
        let state = Arc::downgrade(&pool.shared);
        drop(pool);
        a.as_bytes_mut().fill(3);
        assert!(a.as_bytes().iter().all(|&x| x == 3));
        let dbg = format!("{a:?}");
        assert!(
            dbg.contains("len: 256") && dbg.contains("context: cpu(0)"),
            "{dbg}"
        );
        drop(b);
        assert!(state.upgrade().is_some(), "a live buffer keeps the state");
        drop(a);
        assert!(state.upgrade().is_none(), "the last buffer drops the state");
    }

    #[test]
    fn concurrent_alloc_and_free() {
        const THREADS: usize = 8;
        // Miri runs a smaller version: it is slow.
        const ITERS: usize = if cfg!(miri) { 30 } else { 1000 };
        const BIG: usize = if cfg!(miri) { 3000 } else { 70_000 };
        let pool = pool();
        thread::scope(|s| {
            for t in 0..THREADS {
                let pool = pool.clone();
                s.spawn(move || {
                    let mut held = Vec::new();
                    for i in 0..ITERS {
                        let size = [0, 1, 100, 1000, 5000, BIG][(i + t) % 6];
                        let mut buf = if i % 3 == 0 {
                            pool.alloc_zeroed(size).unwrap()
                        } else {
                            pool.alloc(size).unwrap()
                        };
                        if i % 3 == 0 {
                            assert!(buf.as_bytes().iter().all(|&b| b == 0));
                        }
                        assert_eq!(buf.as_ptr() as usize % 64, 0);
                        let tag = (t * 31 + i) as u8;
                        buf.as_bytes_mut().fill(tag);
                        held.push((buf, tag));
                        if held.len() > 4 {
                            let (buf, tag) = held.swap_remove(i % held.len());
                            assert!(buf.as_bytes().iter().all(|&b| b == tag), "block shared");
                        }
                    }
                });
            }
        });
        let s = pool.stats();
        assert_eq!(s.bytes_in_use, 0);
        assert_eq!(s.allocations + s.reuses, (THREADS * ITERS) as u64);
        assert!(s.peak_bytes_in_use <= (THREADS * 5) << 17);
        assert!(s.reuses > 0);
        assert_eq!(pool.release(), s.bytes_pooled);
        assert_eq!(pool.stats().bytes_pooled, 0);
    }

    #[test]
    fn absurd_sizes_are_errors() {
        let pool = CpuPool::new(Context::cpu(2));
        // Too large for a `Layout`, and (the last) a valid layout no allocator can serve (Miri
        // stops on it instead of returning null, so it is left out there).
        let unservable = if cfg!(miri) { usize::MAX } else { 1 << 60 };
        for bytes in [
            usize::MAX / 2,
            usize::MAX,
            isize::MAX as usize - 10,
            unservable,
        ] {
            match pool.alloc(bytes) {
                Err(Error::OutOfMemory { context, requested }) => {
                    assert_eq!((context, requested), (Context::cpu(2), bytes));
                }
                other => panic!("alloc({bytes}) gave {other:?}"),
            }
            assert!(matches!(
                pool.alloc_zeroed(bytes),
                Err(Error::OutOfMemory { .. })
            ));
        }
        assert_eq!(pool.stats(), PoolStats::default());
    }
}
