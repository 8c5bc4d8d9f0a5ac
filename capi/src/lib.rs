//! libmxr: mxr's C API.
//!
//! The library (`libmxr.so`, `libmxr.a`) exports MXNet 1.9.1's predict API under its exact C
//! names and signatures (`include/mxnet/c_predict_api.h`, written from MXNet's header, so a
//! program written for MXNet's predict API builds unchanged against it) and a few NDArray
//! functions of MXNet's `c_api.h` that the predict API's monitor callback needs
//! (`include/mxr.h`).
//!
//! The conventions are MXNet's: every function returns 0 on success and -1 on failure, and
//! [`MXGetLastError`](api::MXGetLastError) gives the failure's message for the calling thread.
//! No panic crosses the boundary (each call runs under `catch_unwind`). Handles are opaque
//! numbers, not pointers: each names a slot of a handle table with a generation counter
//! ([`handle`]), so a freed, reused or forged handle is reported as an error instead of being
//! dereferenced. Separate predictors may be used from separate threads at once; one predictor
//! is locked for the duration of each call.

mod boundary;
mod handle;
mod predictor;

pub mod api;

pub use boundary::{Error, Result};
