//! Operator plugins: shared libraries loaded at run time whose operators join the registry
//! (MXNet's `mx.library.load`).
//!
//! This crate is the host side of the plugin C ABI: opening libraries and calling them through
//! C function pointers, the only `unsafe` code above the kernels. It feeds the operator
//! registry (`mxr-operators`) and needs nothing else; the `mxr` facade re-exports it as
//! `mxr::plugin`, with errors converted to `mxr::Error`.
//!
//! A plugin is built against the `mxr-plugin-abi` crate (see its docs and plugins/README.md)
//! and exports two C functions; it never links mxr. Load one with [`load`], list several in
//! `MXR_PLUGINS=path1:path2` (loaded the first time an operator name is not found among the
//! built-in ones, or by [`load_env`]), or pass `--plugin PATH` to the `mxr` tool. Its
//! operators then work like built-in ones from `mxr::nd::invoke`, from `mxr::sym::Symbol::op`
//! and symbol JSON that names them, in executors (gradients run the plugin's backward kernel
//! through a hidden `_backward_<name>` operator) and in the `mxr` tool.
//!
//! Failures are errors, never crashes: a missing file, a library without the entry points, an
//! ABI version mismatch and an operator name that is already taken are [`Error`]s from
//! [`load`]; a plugin function that returns an error or panics (the panic is caught inside the
//! plugin) fails that one operation with the plugin's message.
//!
//! Plugins stay loaded for the life of the process: their operators stay registered, and
//! loading the same file again returns the same [`Plugin`].
//!
//! ```no_run
//! let plugin = mxr_plugin_host::load("target/debug/libmxr_plugin_example_swish.so")?;
//! assert_eq!(plugin.op_names(), ["swish"]);
//! # Ok::<(), mxr_plugin_host::Error>(())
//! ```

mod desc;
mod error;
mod ops;

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use libloading::Library;
use mxr_operators::registry;
use mxr_plugin_abi::ffi::{HostApi, OpDesc, RegisterFn, VersionFn};
use mxr_plugin_abi::{
    ABI_VERSION, REGISTER_SYMBOL, STATUS_BAD_CALL, STATUS_ERROR, STATUS_OK, STATUS_PANIC,
    VERSION_SYMBOL,
};
use parking_lot::Mutex;

use self::desc::{Factories, PluginOpDef};
pub use self::error::{Error, Result};

/// CUDA C source a plugin ships for an operator's GPU kernel. Stored and exposed
/// ([`PluginOpInfo::cuda`], [`cuda_source`]); unused until mxr's CUDA backend, which will
/// compile it with NVRTC, lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaSource {
    /// The CUDA C source.
    pub source: String,
    /// The `extern "C" __global__` function to launch.
    pub kernel: String,
}

/// One operator a plugin registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginOpInfo {
    /// The operator's name.
    pub name: String,
    /// Whether it has a backward kernel (and so a gradient, through `_backward_<name>`).
    pub has_backward: bool,
    /// Its GPU kernel source, if the plugin ships one.
    pub cuda: Option<CudaSource>,
}

/// A loaded plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plugin {
    path: PathBuf,
    ops: Vec<PluginOpInfo>,
}

impl Plugin {
    /// The library's canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The operators it registered, in registration order.
    pub fn ops(&self) -> &[PluginOpInfo] {
        &self.ops
    }

    /// The names of the operators it registered.
    pub fn op_names(&self) -> Vec<&str> {
        self.ops.iter().map(|o| o.name.as_str()).collect()
    }
}

/// Every plugin loaded so far, in load order.
fn loaded_list() -> &'static Mutex<Vec<Plugin>> {
    static LOADED: OnceLock<Mutex<Vec<Plugin>>> = OnceLock::new();
    LOADED.get_or_init(Mutex::default)
}

/// Every plugin loaded so far, in load order.
pub fn loaded() -> Vec<Plugin> {
    loaded_list().lock().clone()
}

/// The CUDA source of a loaded plugin operator, if it ships one.
pub fn cuda_source(op: &str) -> Option<CudaSource> {
    loaded_list()
        .lock()
        .iter()
        .flat_map(|p| &p.ops)
        .find(|o| o.name == op)
        .and_then(|o| o.cuda.clone())
}

/// libloading's message: its `Display` is only "dlopen failed"; the system's text is in the
/// error's source.
fn dl_error(e: &libloading::Error) -> String {
    match std::error::Error::source(e) {
        Some(source) => source.to_string(),
        None => e.to_string(),
    }
}

/// What the host collects while a plugin registers.
struct Collector {
    library: Arc<Library>,
    defs: Vec<Arc<PluginOpDef>>,
    error: Option<String>,
}

/// [`HostApi::register_op`]: copies one description.
unsafe extern "C" fn register_op(host_ctx: *mut c_void, desc: *const OpDesc) -> i32 {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: `host_ctx` is the `Collector` that `load` passed in the `HostApi`, alive and
        // not otherwise borrowed while the plugin's registration runs.
        let Some(collector) = (unsafe { host_ctx.cast::<Collector>().as_mut() }) else {
            return STATUS_BAD_CALL;
        };
        if collector.error.is_some() {
            return STATUS_BAD_CALL;
        }
        // SAFETY: the plugin passes a description valid for this call whose function pointers
        // live as long as its library, which the definition keeps loaded.
        match unsafe { PluginOpDef::from_desc(desc, Arc::clone(&collector.library)) } {
            Ok(def) => {
                collector.defs.push(Arc::new(def));
                STATUS_OK
            }
            Err(reason) => {
                collector.error = Some(reason);
                STATUS_BAD_CALL
            }
        }
    }));
    result.unwrap_or(STATUS_PANIC)
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
    let given = path.as_ref();
    let shown = given.display().to_string();
    let fail = |reason: String| Error::Plugin {
        path: shown.clone(),
        reason,
    };
    let canonical =
        std::fs::canonicalize(given).map_err(|e| fail(format!("cannot open the library: {e}")))?;
    let mut loaded = loaded_list().lock();
    if let Some(p) = loaded.iter().find(|p| p.path == canonical) {
        return Ok(p.clone());
    }
    // SAFETY: opening a library runs its initialisers; that is trusted code by the caller's
    // choice (documented above). mxr plugins do nothing at load time.
    let library = unsafe { Library::new(&canonical) }
        .map_err(|e| fail(format!("cannot load the library: {}", dl_error(&e))))?;
    // SAFETY: the symbol's type is the ABI's `VersionFn`; a library that exports the name with
    // another type breaks the plugin contract it claims by exporting it.
    let version_fn: VersionFn = *unsafe { library.get::<VersionFn>(VERSION_SYMBOL.as_bytes()) }
        .map_err(|e| {
            fail(format!(
                "not an mxr plugin (no `{VERSION_SYMBOL}`): {}",
                dl_error(&e)
            ))
        })?;
    // SAFETY: a plugin's version function takes nothing and returns a number; the library
    // stays loaded across the call.
    let version = unsafe { version_fn() };
    if version != ABI_VERSION {
        return Err(fail(format!(
            "built for plugin ABI version {version}, but this mxr speaks version {ABI_VERSION}; \
             rebuild the plugin against mxr-plugin-abi with ABI version {ABI_VERSION}"
        )));
    }
    // SAFETY: as for the version function; the type is the ABI's `RegisterFn`.
    let register_fn: RegisterFn = *unsafe { library.get::<RegisterFn>(REGISTER_SYMBOL.as_bytes()) }
        .map_err(|e| {
            fail(format!(
                "not an mxr plugin (no `{REGISTER_SYMBOL}`): {}",
                dl_error(&e)
            ))
        })?;
    let mut collector = Collector {
        library: Arc::new(library),
        defs: Vec::new(),
        error: None,
    };
    let api = HostApi {
        abi_version: ABI_VERSION,
        struct_size: u32::try_from(std::mem::size_of::<HostApi>()).unwrap_or(u32::MAX),
        host_ctx: (&raw mut collector).cast(),
        register_op,
    };
    // SAFETY: the plugin's registration function with a `HostApi` valid for the call; the
    // collector it points to is not touched by the host until the call returns; the library
    // is loaded (held by the collector).
    let status = unsafe { register_fn(&api) };
    if let Some(reason) = collector.error.take() {
        return Err(fail(format!("bad operator description: {reason}")));
    }
    if status != STATUS_OK {
        let meaning = match status {
            STATUS_PANIC => "it panicked",
            STATUS_BAD_CALL => "it refused the host's API or could not describe an operator",
            STATUS_ERROR => "it reported an error",
            _ => "an unknown status",
        };
        return Err(fail(format!(
            "registration failed with status {status} ({meaning})"
        )));
    }
    let mut defs = Vec::new();
    let mut factories = Factories::default();
    let mut ops = Vec::new();
    for def in &collector.defs {
        defs.extend(def.op_defs(&mut factories));
        ops.push(PluginOpInfo {
            name: def.name.to_string(),
            has_backward: def.has_backward(),
            cuda: def.cuda.clone(),
        });
    }
    match registry::register(defs, &canonical.display().to_string()) {
        Ok(_) => factories.keep(),
        Err(e) => {
            // SAFETY: the registry refused the definitions and dropped them, keeping no
            // reference to them or their factories (its documented contract); nothing else
            // saw the factories.
            unsafe { factories.free() };
            return Err(e.into());
        }
    }
    let plugin = Plugin {
        path: canonical,
        ops,
    };
    loaded.push(plugin.clone());
    Ok(plugin)
}

/// The paths in `MXR_PLUGINS` (separated by `:`), in order.
pub fn env_paths() -> Vec<PathBuf> {
    std::env::var_os("MXR_PLUGINS")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Loads the plugins named by `MXR_PLUGINS` once per process; later calls return the first
/// result. Every path is tried; the error is the first failure.
pub fn load_env() -> Result<Vec<Plugin>> {
    static ENV: OnceLock<Result<Vec<Plugin>>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut plugins = Vec::new();
        let mut first_error = None;
        for path in env_paths() {
            match load(&path) {
                Ok(p) => plugins.push(p),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(plugins),
        }
    })
    .clone()
}

/// The registry's late registration: `MXR_PLUGINS` at the first look-up of a name that is not
/// built in. A library function has no better place to report a bad path than stderr; the
/// error is also what [`load_env`] returns.
fn load_env_late() {
    if let Err(e) = load_env() {
        eprintln!("mxr: MXR_PLUGINS: {e}");
    }
}

inventory::submit! { registry::LateRegistration(load_env_late) }
