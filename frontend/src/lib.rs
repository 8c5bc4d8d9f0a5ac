//! mxr-frontend: the frontends of mxr (an embeddable dataflow engine re-creating the core of
//! Apache MXNet 1.x in Rust), reached through the `mxr` facade, which re-exports them beside the
//! training crate (`mxr-train`: initializers, optimizers, metrics, data iterators, Module).
//!
//! At the center is an asynchronous dependency engine ([`engine`]): every operation declares the
//! variables it reads and writes; reads run in parallel, writes are exclusive and ordered;
//! everything returns at once and reading data out waits. The operator registry and the NDArray,
//! Symbol/Executor and KVStore frontends here are built over that one engine; the [`dispatch`]
//! room turns operator calls into engine operations for all of them.
//!
//! ```
//! use mxr::engine::{Engine, Operation, Var};
//! let engine = Engine::global()?; // configured from MXR_ENGINE, MXR_CPU_WORKERS, ...
//! let v = Var::new();
//! engine.push(Operation::sync("noop", |_| Ok(())).writes(&[&v]))?;
//! engine.wait_for_var(&v)?;
//! # Ok::<(), mxr::engine::Error>(())
//! ```
// Unsafe code is denied everywhere but in the module that copies to and from raw GPU buffers
// (`nd::transfer`), which says so. The plugin loader's C calls live in the `mxr-plugin-host`
// crate.
#![deny(unsafe_code)]

pub mod dispatch;
mod error;
pub mod exec;
pub mod format;
pub mod kv;
pub mod nd;
pub mod plugin;
pub mod sym;

pub use error::{Error, Result};
pub use mxr_engine as engine;
pub use mxr_kernels::DType;
// Named so that the registering crates are linked (inventory's linker rule, STYLE.md §4).
use mxr_kernels as _;
pub use mxr_operators as operators;
