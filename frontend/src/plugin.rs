//! Operator plugins: shared libraries loaded at run time whose operators join the registry
//! (MXNet's `mx.library.load`). The loader lives in the `mxr-plugin-host` crate; this module
//! re-exports it with errors as [`crate::Error`].
//!
//! A plugin is built against the `mxr-plugin-abi` crate (see its docs and plugins/README.md)
//! and exports two C functions; it never links mxr. Load one with [`load`], list several in
//! `MXR_PLUGINS=path1:path2` (loaded the first time an operator name is not found among the
//! built-in ones, or by [`load_env`]), or pass `--plugin PATH` to the `mxr` tool. Its
//! operators then work like built-in ones from [`nd::invoke`](crate::nd::invoke), from
//! [`Symbol::op`](crate::sym::Symbol::op) and symbol JSON that names them, in executors
//! (gradients run the plugin's backward kernel through a hidden `_backward_<name>` operator)
//! and in the `mxr` tool.
//!
//! Failures are errors, never crashes: a missing file, a library without the entry points, an
//! ABI version mismatch and an operator name that is already taken are [`Error`]s from
//! [`load`]; a plugin function that returns an error or panics (the panic is caught inside the
//! plugin) fails that one operation with the plugin's message.
//!
//! ```no_run
//! let plugin = mxr::plugin::load("target/debug/libmxr_plugin_example_swish.so")?;
//! assert_eq!(plugin.op_names(), ["swish"]);
//! let x = mxr::nd::NDArray::from_vec(&[2], vec![0.0f32, 1.0])?;
//! let y = mxr::nd::invoke("swish", &[&x], &[("beta", "1.0")])?;
//! # Ok::<(), mxr::Error>(())
//! ```

use std::path::Path;

pub use mxr_plugin_host::{CudaSource, Plugin, PluginOpInfo, cuda_source, env_paths, loaded};

use crate::{Error, Result};

impl From<mxr_plugin_host::Error> for Error {
    fn from(e: mxr_plugin_host::Error) -> Self {
        match e {
            mxr_plugin_host::Error::Plugin { path, reason } => Error::Plugin { path, reason },
            mxr_plugin_host::Error::Operator(e) => Error::Operator(e),
        }
    }
}

/// Loads the plugin library at `path` and registers its operators; returns what it
/// registered. Loading a file that is already loaded returns the earlier [`Plugin`].
///
/// Errors ([`Error::Plugin`] unless noted): the file cannot be opened or is not a loadable
/// library; it lacks the entry points; it was built for another ABI version (it is refused
/// before any of its functions but the version query runs); its registration fails or
/// describes an operator badly; or an operator name is taken by a built-in operator or another
/// plugin ([`Error::Operator`] with `NameTaken`; then none of its operators is registered).
///
/// Loading a library runs its initialisers: load only plugins you trust, as with any native
/// code.
pub fn load(path: impl AsRef<Path>) -> Result<Plugin> {
    Ok(mxr_plugin_host::load(path)?)
}

/// Loads the plugins named by `MXR_PLUGINS` once per process; later calls return the first
/// result. Every path is tried; the error is the first failure.
pub fn load_env() -> Result<Vec<Plugin>> {
    Ok(mxr_plugin_host::load_env()?)
}
