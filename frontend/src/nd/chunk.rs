//! Storage shared by an array and its views: an engine var and a pooled block, in host memory or
//! on a GPU.

use std::sync::Arc;

use mxr_engine::gpu::{GpuBuffer, GpuDevice};
use mxr_engine::storage::Buffer;
use mxr_engine::{Context, Engine, Var};
use parking_lot::RwLock;

use crate::{Error, Result};

/// Where a chunk's bytes live.
pub(crate) enum Storage {
    /// Host memory (cpu and cpu_pinned contexts). The engine orders every operation on it
    /// through the chunk's var; the lock is then never contended by two operations in
    /// conflict: readers share it, and a writer runs alone by the engine's rules. (Host code
    /// that reads after a wait takes the read lock too, so it also sees a consistent buffer.)
    Host(Arc<RwLock<Buffer>>),
    /// Device memory of a GPU; operations on it are ordered by the var and the device's stream.
    Device(Arc<GpuBuffer>),
}

/// One block of array storage.
pub(crate) struct Chunk {
    pub(crate) var: Var,
    pub(crate) storage: Storage,
    pub(crate) engine: &'static Engine,
    pub(crate) context: Context,
}

impl Chunk {
    /// A chunk of `bytes` bytes on `context`: zeroed when `zeroed`, else with unspecified
    /// contents (but initialized on the host).
    pub(crate) fn new(
        engine: &'static Engine,
        context: Context,
        bytes: usize,
        zeroed: bool,
    ) -> Result<Self> {
        let storage = if context.is_cpu() {
            let pool = engine.cpu_storage();
            let block = if zeroed {
                pool.alloc_zeroed(bytes)?
            } else {
                pool.alloc(bytes)?
            };
            Storage::Host(Arc::new(RwLock::new(block)))
        } else {
            let device = GpuDevice::get(context.device_id())?;
            let buffer = if zeroed {
                device.alloc_zeroed(bytes)?
            } else {
                device.alloc(bytes)?
            };
            Storage::Device(Arc::new(buffer))
        };
        Ok(Chunk {
            var: Var::new(),
            storage,
            engine,
            context,
        })
    }

    /// The host buffer; for a GPU chunk, an error saying that `call` works on CPU arrays only.
    pub(crate) fn host(&self, call: &'static str) -> Result<&Arc<RwLock<Buffer>>> {
        match &self.storage {
            Storage::Host(h) => Ok(h),
            Storage::Device(_) => Err(Error::InvalidArgument {
                call,
                reason: format!(
                    "the array is on {}; this works on CPU arrays only (copy it with \
                     `as_in_context(Context::cpu(0))` first)",
                    self.context
                ),
            }),
        }
    }

    /// The device buffer of a GPU chunk.
    pub(crate) fn device(&self) -> Option<&Arc<GpuBuffer>> {
        match &self.storage {
            Storage::Device(d) => Some(d),
            Storage::Host(_) => None,
        }
    }
}

impl Drop for Chunk {
    /// Frees the storage once every operation pushed on it has run.
    fn drop(&mut self) {
        let storage = match &self.storage {
            Storage::Host(h) => Storage::Host(Arc::clone(h)),
            Storage::Device(d) => Storage::Device(Arc::clone(d)),
        };
        // Only fails if the var was already deleted, which only this drop does.
        let _ = self.engine.delete_var(&self.var, move || drop(storage));
    }
}
