//! mxr-train: the training parts of mxr over its frontends (`mxr-frontend`), reached through
//! the `mxr` facade under the same paths (`mxr::init`, `mxr::optim`, ...).
//!
//! - [`init`]: parameter initializers (MXNet's `mx.init`);
//! - [`optim`]: optimizers over the registered update operators, per-key updaters (also what a
//!   KVStore's `set_optimizer` installs) and learning-rate schedules;
//! - [`metric`]: evaluation metrics (MXNet's `mx.metric`);
//! - [`io`]: data iterators (MXNet's `mx.io`: `NDArrayIter`, `MNISTIter`);
//! - [`module`]: the Module, binding a symbol for training and fitting it (MXNet's `mx.mod`).
//!
//! Errors are the frontends' [`Error`]: a training call fails for the reasons an NDArray,
//! executor or KVStore call does, and user code sees one `mxr::Error`.
#![forbid(unsafe_code)]

pub mod init;
pub mod io;
pub mod metric;
pub mod module;
pub mod optim;

pub use mxr_frontend::{Error, Result};
// The frontends' modules under the paths the training code names them by (`crate::nd`, ...).
#[cfg(test)]
use mxr_frontend::engine;
use mxr_frontend::{DType, dispatch, exec, kv, nd, sym};
// Named so that the registering crates are linked (inventory's linker rule, STYLE.md §4).
use mxr_kernels as _;
