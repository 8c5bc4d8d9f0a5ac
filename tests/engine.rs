//! Integration tests of the dependency engine (one test binary; each area is a submodule).

#[path = "engine/util.rs"]
mod util;

#[path = "engine/random_programs.rs"]
mod random_programs;

#[path = "engine/semantics.rs"]
mod semantics;

#[path = "engine/errors.rs"]
mod errors;

#[path = "engine/lifecycle.rs"]
mod lifecycle;

#[path = "engine/profiler.rs"]
mod profiler;
