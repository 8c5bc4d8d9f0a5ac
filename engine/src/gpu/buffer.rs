//! Device memory: pointers, pooled blocks and their free lists.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

use super::GpuDevice;
use crate::storage::PoolStats;
use crate::{Context, Error, Result};

/// A device address (CUDA's `CUdeviceptr`; on the emulator, a host address).
///
/// It is plain data: holding one keeps nothing alive. Kernel arguments take it by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct DevicePtr(pub u64);

impl DevicePtr {
    /// The address `bytes` further on.
    pub fn offset(self, bytes: usize) -> DevicePtr {
        DevicePtr(self.0 + bytes as u64)
    }
}

/// A block of device memory from its device's pool; returned to the pool when dropped.
///
/// Like [`Buffer`](crate::storage::Buffer) on the host, a buffer's [`len`](GpuBuffer::len) is
/// the size asked for and its capacity the size class (the same classes:
/// [`storage`](crate::storage)). Its contents are whatever the previous user left, unless it
/// came from [`GpuDevice::alloc_zeroed`].
pub struct GpuBuffer {
    pub(super) device: Arc<GpuDevice>,
    pub(super) ptr: DevicePtr,
    pub(super) len: usize,
    pub(super) class: usize,
}

impl GpuBuffer {
    /// The device address of the first byte.
    pub fn ptr(&self) -> DevicePtr {
        self.ptr
    }

    /// The bytes asked for.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no bytes were asked for.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The device holding it.
    pub fn device(&self) -> &Arc<GpuDevice> {
        &self.device
    }

    /// Its context (`gpu(n)`).
    pub fn context(&self) -> Context {
        self.device.context()
    }
}

impl fmt::Debug for GpuBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GpuBuffer")
            .field("context", &self.context())
            .field("ptr", &format_args!("{:#x}", self.ptr.0))
            .field("len", &self.len)
            .finish()
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        self.device
            .pool
            .give_back(&self.device, self.ptr, self.class);
    }
}

/// Free device blocks by size class, with the pool's counters.
///
/// Device memory is freed only when the cache would exceed its limit or an allocation fails for
/// lack of memory (then every cached block is freed and the allocation retried once).
#[derive(Debug, Default)]
pub(super) struct BlockPool {
    state: Mutex<PoolState>,
}

#[derive(Debug, Default)]
struct PoolState {
    free: HashMap<usize, Vec<DevicePtr>>,
    stats: PoolStats,
    max_pooled: usize,
}

impl BlockPool {
    pub(super) fn new(max_pooled: usize) -> BlockPool {
        BlockPool {
            state: Mutex::new(PoolState {
                max_pooled,
                ..PoolState::default()
            }),
        }
    }

    pub(super) fn stats(&self) -> PoolStats {
        self.state.lock().stats
    }

    /// A block of `class` bytes: a cached one, or a fresh one from `fresh` (retried once after
    /// freeing the cache with `free` when it reports no memory).
    pub(super) fn take(
        &self,
        context: Context,
        class: usize,
        fresh: impl Fn(usize) -> Result<DevicePtr>,
        free: impl Fn(DevicePtr, usize),
    ) -> Result<DevicePtr> {
        {
            let mut s = self.state.lock();
            if let Some(ptr) = s.free.get_mut(&class).and_then(Vec::pop) {
                s.stats.bytes_pooled -= class;
                s.stats.reuses += 1;
                s.add_in_use(class);
                return Ok(ptr);
            }
        }
        let ptr = match fresh(class) {
            Ok(p) => p,
            Err(Error::OutOfMemory { .. }) => {
                let cached: Vec<(usize, Vec<DevicePtr>)> = {
                    let mut s = self.state.lock();
                    s.stats.bytes_pooled = 0;
                    s.free.drain().collect()
                };
                for (c, ptrs) in cached {
                    for p in ptrs {
                        free(p, c);
                    }
                }
                fresh(class).map_err(|e| match e {
                    Error::OutOfMemory { .. } => Error::OutOfMemory {
                        context,
                        requested: class,
                    },
                    other => other,
                })?
            }
            Err(e) => return Err(e),
        };
        let mut s = self.state.lock();
        s.stats.allocations += 1;
        s.add_in_use(class);
        Ok(ptr)
    }

    fn give_back(&self, device: &GpuDevice, ptr: DevicePtr, class: usize) {
        let mut s = self.state.lock();
        s.stats.bytes_in_use -= class;
        if s.stats.bytes_pooled + class <= s.max_pooled {
            s.stats.bytes_pooled += class;
            s.free.entry(class).or_default().push(ptr);
        } else {
            drop(s);
            device.free_block(ptr, class);
        }
    }

    /// Takes every cached block out (to free them).
    pub(super) fn drain(&self) -> Vec<(usize, DevicePtr)> {
        let mut s = self.state.lock();
        s.stats.bytes_pooled = 0;
        s.free
            .drain()
            .flat_map(|(c, ptrs)| ptrs.into_iter().map(move |p| (c, p)))
            .collect()
    }
}

impl PoolState {
    fn add_in_use(&mut self, class: usize) {
        self.stats.bytes_in_use += class;
        self.stats.peak_bytes_in_use = self.stats.peak_bytes_in_use.max(self.stats.bytes_in_use);
    }
}
