//! The exported C functions: MXNet 1.9.1's predict API (`include/mxnet/c_predict_api.h`:
//! `predict`, `ndlist`) and the functions of `include/mxr.h` (`ndarray`, `imperative`,
//! `symbol`, `kvstore`).
//!
//! Every function returns 0 on success and -1 on failure, with the message in
//! [`MXGetLastError`].

mod imperative;
mod kvstore;
mod ndarray;
mod ndlist;
mod predict;
mod symbol;

pub use imperative::*;
pub use kvstore::*;
pub use ndarray::*;
pub use ndlist::*;
pub use predict::*;
pub use symbol::*;

use std::ffi::c_char;

/// The message of the calling thread's last failing call (an empty string before any).
/// The pointer stays valid until the thread's next failing call.
#[unsafe(no_mangle)]
pub extern "C" fn MXGetLastError() -> *const c_char {
    crate::boundary::last_error()
}
