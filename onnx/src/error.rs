//! The crate's one error type.

use std::path::PathBuf;

/// Everything ONNX import and export can report. Each variant names what it concerns (the
/// file, the node and its operator, the attribute, the tensor) and says what is wrong with the
/// values involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not an ONNX model (protobuf decoding failed: truncated or corrupt).
    #[error("{source_name}: not a valid ONNX model (protobuf): {source}")]
    Decode {
        /// The file, or a description of the buffer.
        source_name: String,
        /// The decoder's error.
        source: prost::DecodeError,
    },
    /// The model as a whole cannot be used: no graph, an unsupported opset, an output that
    /// nothing produces.
    #[error("ONNX model: {0}")]
    Model(String),
    /// A node cannot be converted: an unknown operator, a missing input, a shape the
    /// conversion cannot express.
    #[error("node {node:?} ({op}): {reason}")]
    Node {
        /// The node's name (its first output's name when it has none).
        node: String,
        /// The node's operator (ONNX's `op_type`, or MXNet's operator on export).
        op: String,
        /// What is wrong, with the values involved.
        reason: String,
    },
    /// A node's attribute is missing, of the wrong type, or has a value that cannot be
    /// converted.
    #[error("node {node:?} ({op}): attribute `{attribute}`: {reason}")]
    Attribute {
        /// The node's name.
        node: String,
        /// The node's operator.
        op: String,
        /// The attribute.
        attribute: String,
        /// What is wrong, with the value.
        reason: String,
    },
    /// A tensor (an initialiser, a `Constant`'s value, a parameter on export) is malformed or
    /// of an unsupported data type.
    #[error("tensor {name:?}: {reason}")]
    Tensor {
        /// The tensor's name.
        name: String,
        /// What is wrong: dims, data type, size against dims.
        reason: String,
    },
    /// An error of mxr itself (building the symbol, inferring shapes, reading arrays).
    #[error(transparent)]
    Mxr(#[from] mxr_frontend::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
