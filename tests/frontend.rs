//! Integration tests of the `mxr` frontends (one test binary; each area is a submodule).

#[path = "frontend/params.rs"]
mod params;

#[path = "frontend/ndarray.rs"]
mod ndarray;

#[path = "frontend/examples.rs"]
mod examples;

#[path = "frontend/conformance.rs"]
mod conformance;

#[path = "frontend/ndarray_ops.rs"]
mod ndarray_ops;

#[path = "frontend/executor.rs"]
mod executor;

#[path = "frontend/cli.rs"]
mod cli;

#[path = "frontend/model.rs"]
mod model;

#[path = "frontend/symbol.rs"]
mod symbol;

#[path = "frontend/symbol_exec.rs"]
mod symbol_exec;

#[path = "frontend/module.rs"]
mod module;

#[path = "frontend/kvstore.rs"]
mod kvstore;

#[path = "frontend/plugins.rs"]
mod plugins;

#[path = "frontend/gpu.rs"]
mod gpu;

#[path = "frontend/fusion.rs"]
mod fusion;

#[path = "frontend/zoo.rs"]
mod zoo;

#[path = "frontend/skips.rs"]
mod skips;
