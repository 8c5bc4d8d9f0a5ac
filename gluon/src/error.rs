//! The one error type of mxr-gluon.

/// Everything a Gluon call can report: the frontends' errors, and errors naming the block or
/// parameter at fault.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error of the frontends (an operator, an executor, a file).
    #[error(transparent)]
    Frontend(#[from] mxr_frontend::Error),
    /// A parameter cannot do what was asked (not initialised, shape unknown or mismatched).
    #[error("parameter {param}: {reason}")]
    Parameter {
        /// The parameter's full name (`dense0_weight`).
        param: String,
        /// What is wrong.
        reason: String,
    },
    /// A block was called or built wrongly (input count, deferred shapes, hybridization).
    #[error("block {block}: {reason}")]
    Block {
        /// The block's prefix (`dense0_`).
        block: String,
        /// What is wrong.
        reason: String,
    },
    /// An autograd call out of place (`backward` on arrays not recorded).
    #[error("autograd: {0}")]
    Autograd(String),
    /// A parameter file does not fit the block: missing, extra or mis-shaped names.
    #[error("{file}: {reason}")]
    ParamFile {
        /// The file's path.
        file: String,
        /// What does not fit, with the names.
        reason: String,
    },
    /// A bad argument to a Gluon call (an unknown optimizer option, loss option).
    #[error("{call}: {reason}")]
    InvalidArgument {
        /// The call.
        call: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Gluon's result type.
pub type Result<T> = std::result::Result<T, Error>;
