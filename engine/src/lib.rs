//! mxr-engine: an asynchronous read/write-variable dependency engine, the center of mxr.
//!
//! Every piece of protected data has a [`Var`]. An [`Operation`] declares the vars it reads and
//! the vars it writes and is pushed to an [`Engine`]; `push` returns at once. Reads of a var may
//! run concurrently, a write runs alone, and conflicting operations run in the order they were
//! pushed — nothing else orders them. [`Engine::wait_for_var`] and [`Engine::wait_all`] block
//! until the relevant work is done. A failing or panicking operation poisons the vars it writes;
//! operations reading them are skipped and pass the error on; the next wait on an affected var
//! returns it. This is MXNet 1.x's engine (`include/mxnet/engine.h`), read in Rust.
//!
//! ```
//! use std::sync::Arc;
//! use parking_lot::Mutex;
//! use mxr_engine::{Engine, EngineConfig, Operation, Var};
//!
//! let engine = Engine::new(EngineConfig::default())?;
//! let (a, b) = (Var::new(), Var::new());
//! let data = Arc::new(Mutex::new((0, 0)));
//! let d = Arc::clone(&data);
//! engine.push(Operation::sync("a = 1", move |_| { d.lock().0 = 1; Ok(()) }).writes(&[&a]))?;
//! let d = Arc::clone(&data);
//! engine.push(
//!     Operation::sync("b = a + 1", move |_| { let mut g = d.lock(); g.1 = g.0 + 1; Ok(()) })
//!         .reads(&[&a])
//!         .writes(&[&b]),
//! )?;
//! engine.wait_for_var(&b)?;
//! assert_eq!(*data.lock(), (1, 2));
//! # Ok::<(), mxr_engine::Error>(())
//! ```
//!
//! Operations run on other threads, so what they capture must be `Send`:
//!
//! ```compile_fail
//! use std::rc::Rc;
//! use mxr_engine::{Engine, EngineConfig, Operation, Var};
//! let engine = Engine::new(EngineConfig::default()).unwrap();
//! let not_send = Rc::new(1);
//! engine.push(Operation::sync("rc", move |_| { let _ = &not_send; Ok(()) }).writes(&[&Var::new()]));
//! ```
//!
//! and handles are shared between threads freely:
//!
//! ```
//! fn shareable<T: Send + Sync>() {}
//! shareable::<mxr_engine::Engine>();
//! shareable::<mxr_engine::Var>();
//! shareable::<mxr_engine::Completion>();
//! ```
//!
//! Environment (read only by [`EngineConfig::from_env`], used by [`Engine::global`]):
//! `MXR_ENGINE` (`threaded` | `naive`), `MXR_CPU_WORKERS`, `MXR_MAX_INFLIGHT`,
//! `MXR_INLINE_BYTES`, `MXR_PROFILE`.
//!
//! Profiling: `MXR_PROFILE=trace.json` (or [`EngineConfig::with_profile`]) streams a Chrome
//! trace of every operation to the file while the engine runs — created when the engine is
//! built, so an unwritable path is an error then; written out as the buffer fills, every
//! [`profiler::FLUSH_PERIOD`], at shutdown and, for [`Engine::global`], at process exit; an
//! unterminated JSON array that a killed process leaves readable too. The profiler's memory is
//! bounded (one [`profiler::BUFFER_BYTES`] buffer and a table of per-name statistics). From
//! code: [`profiler::start`], [`profiler::stop`], [`profiler::dump`] and [`profiler::dumps`]
//! (MXNet's per-operator table) on the process-wide engine, or the same methods of
//! [`Engine::profiler`].
//!
//! ```no_run
//! mxr_engine::profiler::start("trace.json")?;
//! // ... push operations, wait for them ...
//! mxr_engine::profiler::stop()?;
//! print!("{}", mxr_engine::profiler::dumps(false)?);
//! # Ok::<(), mxr_engine::Error>(())
//! ```

mod context;
mod deps;
mod error;
pub mod gpu;
mod operation;
mod poison;
pub mod profiler;
mod scheduler;
pub mod storage;
mod sync;
mod var;

pub use context::{Context, DeviceType};
pub use error::{BoxError, Error, Result};
pub use operation::{Completion, Operation, RunContext, Task};
pub use profiler::{OpRecord, OpStats, Profiler};
pub use scheduler::{
    DEFAULT_INLINE_MAX_BYTES, DEFAULT_MAX_INFLIGHT, Engine, EngineConfig, EngineKind,
};
pub use var::Var;
