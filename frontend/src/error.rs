//! The `mxr` package's error type.

use std::sync::Arc;

/// Everything the `mxr` frontends can report.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error of the dependency engine (including failed operations).
    #[error(transparent)]
    Engine(#[from] mxr_engine::Error),
    /// An operator error: unknown operator or parameter, bad value, shape or type mismatch.
    #[error(transparent)]
    Operator(#[from] mxr_operators::Error),
    /// A file or buffer is not valid in the format it was read as.
    #[error("{source_name}: invalid {format}: {reason}")]
    Format {
        /// The file's path, or a description of the buffer.
        source_name: String,
        /// The format, e.g. "MXNet NDArray file".
        format: &'static str,
        /// What is wrong, with the offending values.
        reason: String,
    },
    /// An argument is invalid for the call (a shape, a range, a dtype, a context).
    #[error("{call}: {reason}")]
    InvalidArgument {
        /// The call, e.g. `NDArray::reshape`.
        call: &'static str,
        /// What is wrong, with the values involved.
        reason: String,
    },
    /// A KVStore call failed: a key never initialised or initialised twice, mixed key kinds, a
    /// shape or dtype mismatch, a distributed run that timed out or lost a worker.
    #[error("kvstore {store}: {call}{}: {reason}", key_suffix(.key))]
    KVStore {
        /// The store's type (`local`, `device`, `dist_sync`).
        store: String,
        /// The call, e.g. `push`.
        call: &'static str,
        /// The key involved, if one is.
        key: Option<String>,
        /// What is wrong, with the values involved.
        reason: String,
    },
    /// A plugin library could not be loaded: a missing file, a library that is not an mxr
    /// plugin, an ABI version mismatch, a malformed operator description, or a failed
    /// registration.
    #[error("plugin {path}: {reason}")]
    Plugin {
        /// The library's path as given.
        path: String,
        /// What went wrong, with the loader's or the plugin's message.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: Arc<std::io::Error>,
    },
}

fn key_suffix(key: &Option<String>) -> String {
    key.as_ref()
        .map_or_else(String::new, |k| format!(" of key {k}"))
}

/// The `mxr` package's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
