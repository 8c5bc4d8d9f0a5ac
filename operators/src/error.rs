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
    /// No operator has this name or alias.
    #[error("unknown operator `{name}`{suggestions}")]
    UnknownOp {
        /// The name asked for.
        name: String,
        /// Similar registered names, starting with "; did you mean: " when there are any.
        suggestions: String,
    },
    /// Two registrations claim one name.
    #[error("operator name `{name}` is registered twice")]
    DuplicateOp {
        /// The name.
        name: String,
    },
    /// An operator registered at run time takes a name or alias someone else holds.
    #[error("cannot register operator `{name}` from {origin}: the name is taken by {by}")]
    NameTaken {
        /// The name.
        name: String,
        /// Where the new registration comes from (a plugin's path).
        origin: String,
        /// Who holds the name: a built-in operator, or an operator from another origin.
        by: String,
    },
    /// An operator from a plugin failed: its kernel, shape or type function returned an error
    /// or panicked, or it broke the plugin ABI's rules.
    #[error("operator {op} (plugin): {reason}")]
    Plugin {
        /// The operator.
        op: String,
        /// What failed, with the plugin's message.
        reason: String,
    },
    /// The operator was given the wrong number of inputs.
    #[error("operator {op}: expected {expected} inputs ({names}), got {got}")]
    InputCount {
        /// The operator.
        op: String,
        /// How many it takes.
        expected: usize,
        /// Their names.
        names: String,
        /// How many were given.
        got: usize,
    },
    /// Shapes that do not fit the operator.
    #[error("operator {op}: {reason}; input shapes: {inputs}")]
    Shape {
        /// The operator.
        op: String,
        /// What is wrong.
        reason: String,
        /// The inputs and their shapes as known (`data=(2, 3), weight=?`).
        inputs: String,
    },
    /// Element types that do not fit the operator.
    #[error("operator {op}: {reason}; input types: {inputs}")]
    Type {
        /// The operator.
        op: String,
        /// What is wrong.
        reason: String,
        /// The inputs and their dtypes as known.
        inputs: String,
    },
    /// The operator cannot do this (a dtype, a device, a parameter combination, a gradient).
    #[error("operator {op}: {what} is not supported")]
    Unsupported {
        /// The operator.
        op: String,
        /// What was asked for.
        what: String,
    },
    /// A GPU kernel could not be compiled or launched, or the device failed.
    #[error("operator {op} on the GPU: {source}")]
    Gpu {
        /// The operator.
        op: String,
        /// What failed.
        source: mxr_kernels::cuda::GpuError,
    },
    /// Input values the kernel cannot work with (an index out of range, a bad label).
    #[error("operator {op}: {reason}")]
    BadInput {
        /// The operator.
        op: String,
        /// What is wrong, with the values.
        reason: String,
    },
}

/// The operator crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
