//! mxr: an embeddable dataflow engine re-creating the core of Apache MXNet 1.x in Rust.
//!
//! At the center is an asynchronous dependency engine ([`engine`]): every operation declares the
//! variables it reads and writes; reads run in parallel, writes are exclusive and ordered;
//! everything returns at once and reading data out waits. The operator registry and the NDArray,
//! Symbol/Executor and KVStore frontends are built over that one engine.
//!
//! This package is the facade: it re-exports the frontends (crate `mxr-frontend`: [`nd`],
//! [`sym`], [`exec`], [`kv`], [`format`](mod@format), [`plugin`]) and the training crate (`mxr-train`:
//! [`init`], [`optim`], [`metric`], [`io`], [`module`]) under one set of paths, with one
//! [`Error`]; Gluon ([`gluon`], crate `mxr-gluon`, with its own error type); and ONNX import and export ([`onnx`], crate `mxr-onnx`, with its own error type).
//!
//! ```
//! use mxr::engine::{Engine, Operation, Var};
//! let engine = Engine::global()?; // configured from MXR_ENGINE, MXR_CPU_WORKERS, ...
//! let v = Var::new();
//! engine.push(Operation::sync("noop", |_| Ok(())).writes(&[&v]))?;
//! engine.wait_for_var(&v)?;
//! # Ok::<(), mxr::engine::Error>(())
//! ```
#![forbid(unsafe_code)]

pub use mxr_frontend::{
    DType, Error, Result, engine, exec, format, kv, nd, operators, plugin, sym,
};
pub use mxr_train::{init, io, metric, module, optim};

/// Gluon (MXNet's `mx.gluon`): parameters, blocks, layers, losses, autograd, the Trainer,
/// hybridize and export (crate `mxr-gluon`, with its own error type).
pub use mxr_gluon as gluon;

/// ONNX import and export: [`onnx::import`] reads a model as a symbol with its parameters,
/// [`onnx::export`] writes one (crate `mxr-onnx`).
pub use mxr_onnx as onnx;
