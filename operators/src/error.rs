//! The operator crate's error type.

/// Errors of the operator registry: bad parameters, unknown operators, shape and type conflicts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter the operator does not have.
    #[error("operator {op}: unknown parameter `{name}`; valid parameters: {valid}")]
    UnknownParam {
        /// The operator.
        op: String,
        /// The parameter given.
        name: String,
        /// The operator's parameters, comma-separated.
        valid: String,
    },
    /// A required parameter was not given.
    #[error("operator {op}: required parameter `{name}` ({type_name}) is missing")]
    MissingParam {
        /// The operator.
        op: String,
        /// The parameter.
        name: String,
        /// Its type, as MXNet documents it.
        type_name: String,
    },
    /// A parameter's string does not parse as its type.
    #[error("operator {op}: parameter `{name}`: {value:?} is not a valid {type_name}{hint}")]
    BadParam {
        /// The operator.
        op: String,
        /// The parameter.
        name: String,
        /// The string given.
        value: String,
        /// The expected type (for enums, the accepted names).
        type_name: String,
        /// More detail, starting with "; " when present.
        hint: String,
    },
}

/// The operator crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
