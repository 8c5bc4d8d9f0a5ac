//! Pooled storage: device memory blocks that are reused instead of returned to the system.
//!
//! Training and inference loops allocate the same tensor sizes over and over: every iteration
//! creates its activations, gradients and temporaries again. Asking the system allocator (or, for
//! a GPU, the driver) for each of them is slow and fragments memory, so each device gets a
//! *pool*: a block that is no longer needed goes onto the pool's free list, and the next request
//! of the same size class takes it back from there. This is MXNet's pooled storage manager.
//!
//! # Size classes
//!
//! A request is rounded up to a *size class* and a cached block is reused only for a request of
//! exactly the same class:
//!
//! * up to 1 MiB, the class is the next power of two, at least 64 bytes
//!   (0 → 64, 65 → 128, 1000 → 1024, 1 MiB → 1 MiB);
//! * above 1 MiB, the class is the next multiple of 64 KiB
//!   (1 MiB + 1 → 1 MiB + 64 KiB, 3 MiB → 3 MiB).
//!
//! Powers of two keep the number of small classes low (so blocks find reuse often) while the
//! 64 KiB granule keeps the waste of large blocks under 64 KiB each. A buffer's
//! [`capacity`](Buffer::capacity) is its class; its [`len`](Buffer::len) is the size requested.
//!
//! Every block is 64-byte aligned (a cache line, and enough for any SIMD type), including those
//! of zero-length requests, which take a block of the 64-byte class.
//!
//! # Memory is always initialized
//!
//! Fresh blocks come from the allocator already zeroed (large ones as lazily-zeroed pages, so
//! this costs nothing up front) and reused blocks keep what their previous user wrote, so the
//! bytes of a [`Buffer`] are always initialized and may be read safely as any [`Pod`] type.
//! [`CpuPool::alloc_zeroed`] additionally guarantees that they are all zero.
//!
//! ```
//! use mxr_engine::Context;
//! use mxr_engine::storage::CpuPool;
//!
//! let pool = CpuPool::new(Context::cpu(0));
//! let mut buf = pool.alloc_zeroed(3 * 4)?;
//! buf.as_mut_slice::<f32>().copy_from_slice(&[1.0, 2.0, 3.0]);
//! assert_eq!(buf.as_slice::<f32>(), &[1.0, 2.0, 3.0]);
//! # Ok::<(), mxr_engine::Error>(())
//! ```

mod cpu;

pub use cpu::{Buffer, CpuPool};

/// Alignment in bytes of every block a pool hands out.
pub(crate) const ALIGN: usize = 64;

/// The smallest size class.
const MIN_CLASS: usize = 64;

/// Requests up to this size are rounded to a power of two; larger ones to a multiple of
/// [`LARGE_GRANULE`].
const SMALL_LIMIT: usize = 1 << 20;

/// The rounding granule of requests above [`SMALL_LIMIT`].
const LARGE_GRANULE: usize = 64 << 10;

/// The size class of a request of `bytes` bytes, or `None` when rounding up overflows `usize`.
pub(crate) fn size_class(bytes: usize) -> Option<usize> {
    if bytes <= SMALL_LIMIT {
        Some(bytes.next_power_of_two().max(MIN_CLASS))
    } else {
        bytes
            .checked_add(LARGE_GRANULE - 1)
            .map(|b| b & !(LARGE_GRANULE - 1))
    }
}

mod sealed {
    /// Keeps [`Pod`](super::Pod) from being implemented outside this module.
    pub trait Sealed {}
}

/// Marker for plain-old-data element types every bit pattern of which is a valid value.
///
/// It is what lets [`Buffer::as_slice`] and [`Buffer::as_mut_slice`] view a buffer's
/// (always initialized) bytes as elements. The trait is sealed: it is implemented here for
/// `u8`, `i8`, `u16`, `i32`, `u32`, `i64`, `u64`, `f32` and `f64` only.
///
/// # Safety
///
/// An implementing type must
///
/// * be valid for every bit pattern of its size (no padding, no niches, no invalid values:
///   integers and floats qualify, `bool`, `char`, references and enums do not);
/// * have a non-zero size and an alignment that divides 64 (the alignment of every block);
/// * have no drop glue and no interior mutability.
pub unsafe trait Pod: sealed::Sealed + Copy + 'static {}

macro_rules! impl_pod {
    ($($t:ty),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        // SAFETY: a primitive integer or float: every bit pattern is a valid value, its size is
        // 1 to 8 bytes, its alignment (1 to 8) divides 64, and it has no drop glue or interior
        // mutability.
        unsafe impl Pod for $t {}
    )*};
}

impl_pod!(u8, i8, u16, i32, u32, i64, u64, f32, f64);

/// Counters of one pool.
///
/// All byte counts are in size-class bytes ([`Buffer::capacity`]), not requested bytes. Each
/// counter is read on its own, so a snapshot taken while other threads allocate may mix counts
/// from slightly different moments; once the pool is quiet the counts are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Capacity of the live [`Buffer`]s.
    pub bytes_in_use: usize,
    /// Capacity of the free blocks cached for reuse.
    pub bytes_pooled: usize,
    /// The largest `bytes_in_use` seen so far.
    pub peak_bytes_in_use: usize,
    /// Blocks obtained fresh from the system allocator.
    pub allocations: u64,
    /// Requests served from the free list.
    pub reuses: u64,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// (request, size class) pairs covering both class regimes and their edges.
    pub(crate) const SIZE_CLASS_CASES: [(usize, usize); 10] = [
        (0, 64),
        (1, 64),
        (63, 64),
        (64, 64),
        (65, 128),
        (1000, 1024),
        (1 << 20, 1 << 20),
        ((1 << 20) + 1, (1 << 20) + (64 << 10)),
        (3 << 20, 3 << 20),
        ((3 << 20) - 1, 3 << 20),
    ];

    #[test]
    fn size_classes() {
        let cases = SIZE_CLASS_CASES;
        for (bytes, class) in cases {
            assert_eq!(size_class(bytes), Some(class), "size_class({bytes})");
        }
        assert_eq!(size_class(usize::MAX), None);
        assert_eq!(size_class(usize::MAX - LARGE_GRANULE + 2), None);
        assert_eq!(
            size_class(usize::MAX - LARGE_GRANULE + 1),
            Some(usize::MAX - LARGE_GRANULE + 1)
        );
    }
}
