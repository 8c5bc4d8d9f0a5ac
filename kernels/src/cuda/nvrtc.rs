//! NVRTC: kernel sources to PTX, once per process and architecture; modules once per device.

use std::collections::HashMap;
use std::sync::Arc;

use cudarc::driver::{CudaFunction, CudaModule};
use cudarc::nvrtc::{CompileError, CompileOptions, Ptx};
use mxr_engine::gpu::GpuDevice;
use parking_lot::Mutex;

use super::{GpuError, PRELUDE, source};

/// Whether NVRTC can be loaded (without panicking, as cudarc would when it cannot).
pub fn nvrtc_available() -> bool {
    // SAFETY: only tries to load the library and reports whether it could.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Compiled PTX (or the compile error) by (source, architecture).
type PtxCache = HashMap<(String, String), Result<Ptx, GpuError>>;
static PTX: Mutex<Option<PtxCache>> = Mutex::new(None);

/// Loaded modules by (device ordinal, source).
type ModuleCache = HashMap<(u32, String), Arc<CudaModule>>;
static MODULES: Mutex<Option<ModuleCache>> = Mutex::new(None);

/// Compiles kernel source `name` (with the prelude) to PTX for `arch` (`compute_90`, `sm_80`).
/// Needs no GPU, only NVRTC. The result is cached for the process, errors included.
pub fn compile_ptx(name: &str, arch: &str) -> Result<Ptx, GpuError> {
    let key = (name.to_string(), arch.to_string());
    if let Some(cached) = PTX.lock().as_ref().and_then(|m| m.get(&key)) {
        return cached.clone();
    }
    let result = compile_uncached(name, arch);
    PTX.lock()
        .get_or_insert_with(HashMap::new)
        .insert(key, result.clone());
    result
}

fn compile_uncached(name: &str, arch: &str) -> Result<Ptx, GpuError> {
    let text = source(name)?;
    if !nvrtc_available() {
        return Err(GpuError::NvrtcMissing);
    }
    let full = format!("{PRELUDE}\n#line 1 \"{name}.cu\"\n{text}");
    let options = CompileOptions {
        name: Some(format!("{name}.cu")),
        options: vec![format!("--gpu-architecture={arch}"), "--std=c++17".into()],
        ..CompileOptions::default()
    };
    cudarc::nvrtc::compile_ptx_with_opts(full, options).map_err(|e| GpuError::Compile {
        source_name: name.to_string(),
        arch: arch.to_string(),
        log: match e {
            CompileError::CompileError { log, .. } => log.to_string_lossy().into_owned(),
            other => format!("{other:?}"),
        },
    })
}

/// The kernel `kernel` of source `source` loaded on CUDA device `dev`.
pub(super) fn function(
    dev: &Arc<GpuDevice>,
    source: &str,
    kernel: &str,
) -> Result<CudaFunction, GpuError> {
    let (ctx, _) = dev.cuda().ok_or_else(|| GpuError::Driver {
        context: dev.context(),
        what: "loading a CUDA module".into(),
        reason: "not a CUDA device".into(),
    })?;
    let ordinal = dev.context().device_id();
    let key = (ordinal, source.to_string());
    let cached = MODULES.lock().as_ref().and_then(|m| m.get(&key).cloned());
    let module = match cached {
        Some(m) => m,
        None => {
            let (major, minor) = ctx.compute_capability().map_err(|e| GpuError::Driver {
                context: dev.context(),
                what: "reading the compute capability".into(),
                reason: format!("{e:?}"),
            })?;
            let ptx = compile_ptx(source, &format!("compute_{major}{minor}"))?;
            let module = ctx.load_module(ptx).map_err(|e| GpuError::Driver {
                context: dev.context(),
                what: format!("loading module {source}"),
                reason: format!("{e:?}"),
            })?;
            MODULES
                .lock()
                .get_or_insert_with(HashMap::new)
                .entry(key)
                .or_insert(module)
                .clone()
        }
    };
    module
        .load_function(kernel)
        .map_err(|_| GpuError::UnknownKernel {
            source_name: source.to_string(),
            kernel: kernel.to_string(),
        })
}
