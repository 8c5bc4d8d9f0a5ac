//! NVRTC: kernel sources to machine code (CUBIN) for the device's own architecture, or PTX
//! where NVRTC has no CUBIN target for it; once per process and target, modules once per device.
//!
//! A CUBIN needs no compiler in the driver, and CUDA's minor-version compatibility lets any
//! driver of the same major version load it. PTX is compiled by the driver's JIT, which refuses
//! PTX from a newer NVRTC than itself (NVRTC 12.9's PTX on a 12.4 driver): PTX is therefore only
//! the fallback for a GPU newer than every CUBIN target this NVRTC has (the highest virtual
//! architecture it knows, which the driver compiles forward).

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int};
use std::fmt;
use std::sync::Arc;

use cudarc::driver::{CudaFunction, CudaModule};
use cudarc::nvrtc::{Ptx, result, sys};
use mxr_engine::gpu::GpuDevice;
use parking_lot::Mutex;

use super::{GpuError, PRELUDE, codes, source};

/// Whether NVRTC can be loaded (without panicking, as cudarc would when it cannot).
pub fn nvrtc_available() -> bool {
    // SAFETY: only tries to load the library and reports whether it could.
    unsafe { sys::is_culib_present() }
}

/// What NVRTC compiles a source to. Architectures are numbered as NVRTC numbers them: 10 ×
/// major + minor compute capability (`90` for 9.0, `86` for 8.6, `120` for 12.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Machine code for real architecture `sm_XY` (`-arch=sm_XY`, `nvrtcGetCUBIN`).
    Cubin(u32),
    /// PTX for virtual architecture `compute_XY` (`-arch=compute_XY`, `nvrtcGetPTX`), which
    /// the driver compiles for the device when it loads the module.
    Ptx(u32),
}

impl Target {
    /// The target for a device of compute capability `major.minor`, given the architectures
    /// `supported` by this NVRTC ([`supported_archs`]): a CUBIN for the device's own
    /// architecture when NVRTC has it; else PTX for the newest supported architecture below
    /// it (a GPU newer than this NVRTC). An error for a GPU older than every supported one.
    pub fn for_device(major: u32, minor: u32, supported: &[u32]) -> Result<Target, GpuError> {
        let arch = 10 * major + minor;
        if supported.contains(&arch) {
            return Ok(Target::Cubin(arch));
        }
        supported
            .iter()
            .copied()
            .filter(|&a| a < arch)
            .max()
            .map(Target::Ptx)
            .ok_or_else(|| GpuError::UnsupportedArch {
                arch: format!("sm_{arch}"),
                supported: supported
                    .iter()
                    .map(|a| format!("sm_{a}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// NVRTC's option selecting this target.
    fn option(self) -> String {
        format!("--gpu-architecture={self}")
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Cubin(a) => write!(f, "sm_{a}"),
            Target::Ptx(a) => write!(f, "compute_{a}"),
        }
    }
}

/// A compiled source: what NVRTC produced for a [`Target`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Image {
    /// An ELF CUBIN.
    Cubin(Vec<u8>),
    /// PTX text.
    Ptx(String),
}

impl Image {
    /// The form cudarc loads a module from.
    fn to_module_source(&self) -> Ptx {
        match self {
            Image::Cubin(bytes) => Ptx::from_binary(bytes.clone()),
            Image::Ptx(text) => Ptx::from_src(text.clone()),
        }
    }
}

/// The real architectures this NVRTC compiles CUBINs for (`nvrtcGetSupportedArchs`: 10 ×
/// major + minor, ascending).
pub fn supported_archs() -> Result<Vec<u32>, GpuError> {
    if !nvrtc_available() {
        return Err(GpuError::NvrtcMissing);
    }
    let failed = |call: &str, e: sys::nvrtcResult| GpuError::Nvrtc {
        call: call.to_string(),
        reason: format!("{e:?}"),
    };
    let mut n: c_int = 0;
    // SAFETY: NVRTC is loaded (checked above); `n` is a valid out-pointer.
    let status = unsafe { sys::nvrtcGetNumSupportedArchs(&mut n) };
    status
        .result()
        .map_err(|e| failed("nvrtcGetNumSupportedArchs", e.0))?;
    let mut archs: Vec<c_int> = vec![0; usize::try_from(n).unwrap_or(0)];
    // SAFETY: `archs` has room for the `n` entries NVRTC said it would write.
    let status = unsafe { sys::nvrtcGetSupportedArchs(archs.as_mut_ptr()) };
    status
        .result()
        .map_err(|e| failed("nvrtcGetSupportedArchs", e.0))?;
    Ok(archs
        .into_iter()
        .filter_map(|a| u32::try_from(a).ok())
        .collect())
}

/// Compiled images (or the compile errors) by (source, target).
type ImageCache = HashMap<(String, Target), Result<Arc<Image>, GpuError>>;
static IMAGES: Mutex<Option<ImageCache>> = Mutex::new(None);

/// Loaded modules by (device ordinal, source).
type ModuleCache = HashMap<(u32, String), Arc<CudaModule>>;
static MODULES: Mutex<Option<ModuleCache>> = Mutex::new(None);

/// Compiles kernel source `name` (with the prelude) for `target`. Needs no GPU, only NVRTC.
/// The result is cached for the process, errors included.
pub fn compile(name: &str, target: Target) -> Result<Arc<Image>, GpuError> {
    let key = (name.to_string(), target);
    if let Some(cached) = IMAGES.lock().as_ref().and_then(|m| m.get(&key)) {
        return cached.clone();
    }
    let result = compile_uncached(name, target).map(Arc::new);
    IMAGES
        .lock()
        .get_or_insert_with(HashMap::new)
        .insert(key, result.clone());
    result
}

/// An NVRTC program, destroyed on drop.
struct Program(sys::nvrtcProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: created by `create_program` and destroyed only here. A failure to free it
        // leaks the program, which is all that could be done about it.
        let _ = unsafe { result::destroy_program(self.0) };
    }
}

fn compile_uncached(name: &str, target: Target) -> Result<Image, GpuError> {
    compile_text(name, source(name)?, target)
}

/// Compiles CUDA C `text` (after the prelude) for `target`; `name` names it in errors.
pub(super) fn compile_text(name: &str, text: &str, target: Target) -> Result<Image, GpuError> {
    if !nvrtc_available() {
        return Err(GpuError::NvrtcMissing);
    }
    let error = |log: String| GpuError::Compile {
        source_name: name.to_string(),
        arch: target.to_string(),
        log,
    };
    let full = CString::new(format!(
        "{PRELUDE}\n{}\n#line 1 \"{name}.cu\"\n{text}",
        codes::header()
    ))
    .map_err(|_| error("the source holds a NUL byte".into()))?;
    let file = CString::new(format!("{name}.cu")).map_err(|_| error("a NUL in the name".into()))?;
    let program = Program(
        result::create_program(&full, Some(&file))
            .map_err(|e| error(format!("nvrtcCreateProgram: {e:?}")))?,
    );
    let options = [target.option(), "--std=c++17".to_string()];
    // SAFETY: `program` was created above and is alive; the options hold no NUL byte.
    if let Err(e) = unsafe { result::compile_program(program.0, &options) } {
        // SAFETY: as above.
        let log = unsafe { result::get_program_log(program.0) }
            .map(|raw| c_text(&raw))
            .unwrap_or_else(|_| format!("{e:?} (no log)"));
        return Err(error(log));
    }
    match target {
        Target::Cubin(_) => {
            let mut size = 0usize;
            // SAFETY: `program` compiled for a real architecture, so it has a CUBIN; `size` is
            // a valid out-pointer.
            let status = unsafe { sys::nvrtcGetCUBINSize(program.0, &mut size) };
            status
                .result()
                .map_err(|e| error(format!("nvrtcGetCUBINSize: {e:?}")))?;
            let mut cubin = vec![0u8; size];
            // SAFETY: `cubin` has the `size` bytes NVRTC writes.
            let status =
                unsafe { sys::nvrtcGetCUBIN(program.0, cubin.as_mut_ptr().cast::<c_char>()) };
            status
                .result()
                .map_err(|e| error(format!("nvrtcGetCUBIN: {e:?}")))?;
            Ok(Image::Cubin(cubin))
        }
        Target::Ptx(_) => {
            // SAFETY: `program` compiled; NVRTC sizes the buffer itself.
            let raw = unsafe { result::get_ptx(program.0) }
                .map_err(|e| error(format!("nvrtcGetPTX: {e:?}")))?;
            Ok(Image::Ptx(c_text(&raw)))
        }
    }
}

/// NVRTC's NUL-terminated text (a log, PTX) as a string.
fn c_text(raw: &[c_char]) -> String {
    let bytes: Vec<u8> = raw.iter().map(|&c| c as u8).collect();
    CStr::from_bytes_until_nul(&bytes).map_or_else(
        |_| String::from_utf8_lossy(&bytes).into_owned(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// The kernel `kernel` of source `source` loaded on CUDA device `dev`: compiled to a CUBIN
/// for the device's architecture (PTX where this NVRTC has none, see [`Target::for_device`]).
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
            let (major, minor) = (u32::try_from(major), u32::try_from(minor));
            let (Ok(major), Ok(minor)) = (major, minor) else {
                return Err(GpuError::Driver {
                    context: dev.context(),
                    what: "reading the compute capability".into(),
                    reason: "a negative version".into(),
                });
            };
            let target = Target::for_device(major, minor, &supported_archs()?)?;
            let image = compile(source, target)?;
            let module =
                ctx.load_module(image.to_module_source())
                    .map_err(|e| GpuError::Driver {
                        context: dev.context(),
                        what: format!("loading module {source} ({target})"),
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
