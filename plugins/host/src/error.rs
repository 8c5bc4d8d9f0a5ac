//! The plugin host's error type.

/// Why a plugin could not be loaded or registered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
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
    /// The registry refused the plugin's operators (a name already taken).
    #[error(transparent)]
    Operator(#[from] mxr_operators::Error),
}

/// The plugin host's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
