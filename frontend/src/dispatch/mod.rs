//! The dispatch room: turning (operator, inputs, outputs, context) into engine operations, on
//! the CPU and on GPUs (MXNet's `imperative_utils.h`).
//!
//! NDArray's [`invoke`](crate::nd::invoke) infers the outputs' signature (`signature.rs`),
//! allocates them and pushes through here; the executor pushes its planned nodes the same way
//! (shapes checked at bind, no inference); the KVStore and the data iterators
//! (mxr-train) run host code on arrays through [`host`] (and the KVStore device code through
//! [`push_device`]) instead of touching their storage.
//! Every operation reads the vars of what it reads and writes the vars of what it writes; the
//! engine orders them (engine/src/scheduler/README.md).

mod cpu;
mod gpu;
pub mod host;
mod signature;

pub(crate) use cpu::{push, push_inplace};
pub(crate) use gpu::push_device;
pub(crate) use signature::{cached_signature, infer_signature};
