//! NDArray, the imperative frontend (MXNet's `mx.nd`).
//!
//! Arrays live in storage managed by the engine ([`Engine::global`](crate::engine::Engine::global),
//! configured from the environment): every operation on them is pushed to the engine and returns
//! at once, and reading values out waits. So far: creation, views, assignment, copies, host
//! conversion, `.params` save/load and serde; operators (arithmetic and every registry op) come with the
//! operator registry.

mod chunk;
mod context;
pub mod graph;
mod invoke;
mod io;
mod ndarray;
pub mod random;
mod serde;

pub use context::{ContextScope, context_scope, current_context};
pub use invoke::{TrainModeScope, apply, invoke, invoke_into, is_training, train_mode};
pub use io::{Loaded, load, save, save_named};
pub use ndarray::{NDArray, waitall};
