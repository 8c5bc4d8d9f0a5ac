//! NDArray, the imperative frontend (MXNet's `mx.nd`).
//!
//! Arrays live in storage managed by the engine ([`Engine::global`](crate::engine::Engine::global),
//! configured from the environment): every operation on them is pushed to the engine and returns
//! at once, and reading values out waits. Creation, views, assignment, copies, host conversion,
//! `.params` save/load and serde; arithmetic operators (`+ - * /`, in-place forms, scalars);
//! every registry operator through [`invoke`], typed helpers for the common ones ([`dot`],
//! [`tanh`], [`sum`], ...); training mode; seeded random state ([`random`]); and a recorded
//! imperative [`graph`] whose gradients come from the operators' gradient graphs.

mod arith;
mod chunk;
mod context;
mod external;
mod functions;
pub(crate) mod invoke;
mod io;
pub(crate) mod ndarray;
pub mod random;
mod serde;
pub mod tape;
mod transfer;

pub use context::{ContextScope, context_scope, current_context};
pub use external::ExternalNode;
pub use functions::{
    abs, add, argmax, batch_dot, clip, concat, divide, dot, dot_t, exp, flatten, fully_connected,
    log, log_softmax, max, mean, min, multiply, negative, one_hot, ones_like, pick, random_normal,
    random_uniform, relu, sigmoid, softmax, sqrt, square, subtract, sum, tanh, transpose,
    zeros_like,
};
pub use invoke::{TrainModeScope, apply, invoke, invoke_into, is_training, train_mode};
pub use io::{Loaded, load, save, save_named};
pub use ndarray::{NDArray, waitall};

/// The imperative tape's former home.
#[deprecated(note = "renamed: `nd::tape::Tape`")]
pub mod graph {
    /// The former name of [`Tape`](super::tape::Tape).
    #[deprecated(note = "renamed: `nd::tape::Tape`")]
    pub type Graph = super::tape::Tape;
}
