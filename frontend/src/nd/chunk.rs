//! Storage shared by an array and its views: an engine var and a pooled buffer.

use std::sync::Arc;

use mxr_engine::storage::Buffer;
use mxr_engine::{Context, Engine, Var};
use parking_lot::RwLock;

/// One block of array storage. The engine orders every operation on it through `var`; the
/// buffer's lock is then never contended by two operations in conflict: readers share it, and a
/// writer runs alone by the engine's rules. (Host code that reads after a wait takes the read
/// lock too, so it also sees a consistent buffer.)
pub(crate) struct Chunk {
    pub(crate) var: Var,
    pub(crate) data: Arc<RwLock<Buffer>>,
    pub(crate) engine: &'static Engine,
    pub(crate) context: Context,
}

impl Chunk {
    /// A zeroed chunk of `bytes` bytes on `context` (a CPU context).
    pub(crate) fn zeroed(
        engine: &'static Engine,
        context: Context,
        bytes: usize,
    ) -> crate::Result<Self> {
        let buffer = engine.cpu_storage().alloc_zeroed(bytes)?;
        Ok(Chunk {
            var: Var::new(),
            data: Arc::new(RwLock::new(buffer)),
            engine,
            context,
        })
    }
}

impl Chunk {
    /// A chunk of `bytes` bytes whose contents are unspecified (but initialized).
    pub(crate) fn alloc(
        engine: &'static Engine,
        context: Context,
        bytes: usize,
    ) -> crate::Result<Self> {
        let buffer = engine.cpu_storage().alloc(bytes)?;
        Ok(Chunk {
            var: Var::new(),
            data: Arc::new(RwLock::new(buffer)),
            engine,
            context,
        })
    }
}

impl Drop for Chunk {
    /// Frees the buffer once every operation pushed on the storage has run.
    fn drop(&mut self) {
        let data = Arc::clone(&self.data);
        // Only fails if the var was already deleted, which only this drop does.
        let _ = self.engine.delete_var(&self.var, move || drop(data));
    }
}
