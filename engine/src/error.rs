//! The engine's error type.

use std::sync::Arc;

use crate::Context;

/// An error raised by user code inside an operation, as the operation returned it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the engine.
///
/// Errors of operations are shared: the same failure is stored on every var the operation
/// writes and on every var downstream of it, so the type is cheap to clone.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operation returned an error.
    #[error("operation `{op}` failed: {source}")]
    OpFailed {
        /// The failed operation's name.
        op: String,
        /// What it returned.
        source: Arc<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// An operation panicked; the worker caught the panic and lives on.
    #[error("operation `{op}` panicked: {message}")]
    OpPanicked {
        /// The panicking operation's name.
        op: String,
        /// The panic payload, when it was a string.
        message: String,
    },
    /// An asynchronous operation dropped its completion handle without calling it.
    #[error("asynchronous operation `{op}` dropped its completion handle without completing")]
    CompletionDropped {
        /// The operation's name.
        op: String,
    },
    /// The var was deleted: it can no longer be used or waited on.
    #[error("var #{var} was deleted")]
    VarDeleted {
        /// The var's id.
        var: u64,
    },
    /// A blocking engine call was made from inside a running operation, where it would wait for
    /// itself.
    #[error("{call} called from inside a running operation would deadlock")]
    WouldDeadlock {
        /// The refused call.
        call: &'static str,
    },
    /// The engine is shutting down and accepts no more operations.
    #[error("the engine is shut down")]
    ShutDown,
    /// The operation's context has no device worker in this engine.
    #[error("no worker for context {context}: {reason}")]
    DeviceUnavailable {
        /// The requested context.
        context: Context,
        /// Why it is unavailable.
        reason: String,
    },
    /// A GPU driver call failed (a kernel that faulted, a copy that could not be queued).
    #[error("{context}: {call} failed: {reason}")]
    Device {
        /// The device.
        context: Context,
        /// The driver call, e.g. `cuMemcpyHtoDAsync`.
        call: &'static str,
        /// The driver's error name and text.
        reason: String,
    },
    /// An engine setting (from the environment or [`EngineConfig`](crate::EngineConfig)) is invalid.
    #[error("invalid engine setting {name}={value:?}: {reason}")]
    Config {
        /// The setting's name, e.g. `MXR_CPU_WORKERS`.
        name: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A storage pool could not provide memory.
    #[error("out of memory on {context}: {requested} bytes requested")]
    OutOfMemory {
        /// The device.
        context: Context,
        /// The bytes asked for.
        requested: usize,
    },
    /// Writing the profiler's trace failed.
    #[error("cannot write profile to {path}: {source}")]
    ProfileIo {
        /// The trace file.
        path: String,
        /// The I/O error.
        source: Arc<std::io::Error>,
    },
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
