//! The GPU emulator's kernels: every source compiled as host C++ into one shared library.
//!
//! Built once per process with the system C++ compiler (`$CXX`, else `c++`) into the temporary
//! directory, under a name keyed by a hash of the sources, so later processes reuse it. The
//! library is then loaded with libloading and kept for the rest of the process.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{EMULATOR_HEADER, GpuError, PRELUDE, SOURCES, codes, source};

static LIBRARY: OnceLock<Result<libloading::Library, GpuError>> = OnceLock::new();

fn err(reason: impl Into<String>) -> GpuError {
    GpuError::Emulator {
        reason: reason.into(),
    }
}

/// The address of kernel `kernel` (of `source_name`) in the emulator library.
pub(super) fn function(source_name: &str, kernel: &str) -> Result<*const (), GpuError> {
    source(source_name)?;
    let lib = LIBRARY
        .get_or_init(build_and_load)
        .as_ref()
        .map_err(Clone::clone)?;
    // SAFETY: the symbol is looked up as an opaque function address; it is only called through
    // `KernelArgs::call_emulated`, whose caller vouches for its signature.
    let symbol = unsafe { lib.get::<unsafe extern "C" fn()>(kernel.as_bytes()) };
    match symbol {
        Ok(f) => Ok(*f as *const ()),
        Err(_) => Err(GpuError::UnknownKernel {
            source_name: source_name.to_string(),
            kernel: kernel.to_string(),
        }),
    }
}

fn build_and_load() -> Result<libloading::Library, GpuError> {
    let path = build()?;
    // SAFETY: the library was just compiled from mxr's own kernel sources; loading it runs no
    // initialisers beyond the C++ runtime's.
    unsafe { libloading::Library::new(&path) }
        .map_err(|e| err(format!("cannot load {}: {e}", path.display())))
}

/// Compiles the library if no build of these exact sources exists yet; returns its path.
pub(crate) fn build() -> Result<PathBuf, GpuError> {
    let mut hasher = DefaultHasher::new();
    (EMULATOR_HEADER, PRELUDE, codes::header(), SOURCES).hash(&mut hasher);
    let dir = std::env::temp_dir().join(format!("mxr-gpu-emulator-{:016x}", hasher.finish()));
    let lib = dir.join("libmxr_gpu_emulator.so");
    if lib.exists() {
        return Ok(lib);
    }
    // Each build works in a folder of its own and renames the finished library into place:
    // concurrent builders (threads, test processes) each produce a complete library, and the
    // last rename wins.
    static BUILDS: AtomicUsize = AtomicUsize::new(0);
    let work = dir.join(format!(
        "build-{}-{}",
        std::process::id(),
        BUILDS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&work)
        .map_err(|e| err(format!("cannot create {}: {e}", work.display())))?;
    let write = |name: &str, text: &str| -> Result<PathBuf, GpuError> {
        let p = work.join(name);
        std::fs::write(&p, text).map_err(|e| err(format!("cannot write {}: {e}", p.display())))?;
        Ok(p)
    };
    let header = write("emu.h", EMULATOR_HEADER)?;
    let prelude = write("prelude.cuh", &format!("{PRELUDE}\n{}", codes::header()))?;
    let mut files = Vec::new();
    for (name, text) in SOURCES {
        files.push(write(&format!("{name}.cpp"), text)?);
    }
    let tmp = work.join("lib.so");
    compile(&header, &prelude, &files, &tmp)?;
    std::fs::rename(&tmp, &lib)
        .map_err(|e| err(format!("cannot rename into {}: {e}", lib.display())))?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(lib)
}

fn compile(header: &Path, prelude: &Path, files: &[PathBuf], out: &Path) -> Result<(), GpuError> {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let output = Command::new(&cxx)
        .args(["-O2", "-std=c++17", "-shared", "-fPIC", "-w", "-include"])
        .arg(header)
        .arg("-include")
        .arg(prelude)
        .args(files)
        .arg("-o")
        .arg(out)
        .output()
        .map_err(|e| {
            err(format!(
                "cannot run the C++ compiler `{cxx}` (set CXX): {e}"
            ))
        })?;
    if !output.status.success() {
        return Err(err(format!(
            "`{cxx}` failed to compile the kernel sources:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(())
}
