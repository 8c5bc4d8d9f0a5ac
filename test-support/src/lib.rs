//! What mxr's tests share: the one way a test that cannot run says so, ([`json`]) the
//! compact view of a symbol JSON that symbol tests compare, and ([`success_stdout`]) the output
//! of a child process that must succeed.
//!
//! A test that needs something a machine may lack (MXNet in `.venv`, onnx and onnxruntime,
//! Debian's Fashion-MNIST, OpenMPI, NVRTC, the example binaries that `cargo test --workspace`
//! builds, GPU hardware)
//! calls [`skip`] and returns, instead of returning quietly. [`skip`]
//!
//! - prints the reason on stderr (`skip: ...`);
//! - appends a line `TEST<TAB>KIND<TAB>WHY` to the file named by `MXR_SKIP_LOG`, when set
//!   (`./test` sets it, and ends with one line listing what the file holds);
//! - fails the test instead (it panics) when `MXR_REQUIRE_ALL=1` (which `.ci/run` sets) and
//!   what is missing is anything but GPU hardware, or when the dependency's own switch is set
//!   (`MXR_REQUIRE_NVRTC=1`).
//!
//! This crate is a dev-dependency of mxr's crates, for their tests only: failing a test is
//! what it is for, so it panics where library code would return an error.

pub mod json;
pub mod python;

use std::io::Write;
use std::path::{Path, PathBuf};

/// The switch under which every skip but [`Missing::GpuHardware`] fails its test.
pub const REQUIRE_ALL: &str = "MXR_REQUIRE_ALL";

/// The file [`skip`] appends to (one line per skip), when set.
pub const SKIP_LOG: &str = "MXR_SKIP_LOG";

/// Where Debian's `dataset-fashion-mnist` installs Fashion-MNIST (`FMNIST_DIR` overrides it).
pub const FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// What a skipping test lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// MXNet 1.9.1 importable by `.venv/bin/python`.
    MxNet,
    /// Fashion-MNIST's four files.
    FashionMnist,
    /// The `mpi` feature, or OpenMPI's `mpirun`.
    Mpi,
    /// NVRTC (`libnvrtc.so`).
    Nvrtc,
    /// An example binary, which `cargo test --workspace` builds beside the tests.
    Examples,
    /// ONNX's Python packages: `onnx` 1.14.1 beside MXNet in `.venv` (MXNet's exporter), and
    /// onnxruntime in `.venv-ort` (its wheels need numpy >= 1.24, which MXNet 1.9.1 does not
    /// take).
    Onnx,
    /// A GPU, or a second one, or the absence of one (a test of the no-driver path): the one
    /// thing CI cannot install, so `MXR_REQUIRE_ALL` lets it skip.
    GpuHardware,
}

impl Missing {
    /// The name written to the skip log.
    pub fn name(self) -> &'static str {
        match self {
            Missing::MxNet => "MXNet",
            Missing::FashionMnist => "Fashion-MNIST",
            Missing::Mpi => "MPI",
            Missing::Nvrtc => "NVRTC",
            Missing::Examples => "example binaries",
            Missing::Onnx => "ONNX",
            Missing::GpuHardware => "GPU hardware",
        }
    }

    /// The switch, among the environment's, that makes this skip a failure; `None` when the
    /// test may skip.
    pub fn required_by(self, env: impl Fn(&str) -> Option<String>) -> Option<&'static str> {
        let set = |name: &'static str| env(name).is_some_and(|v| v == "1").then_some(name);
        match self {
            Missing::GpuHardware => None,
            Missing::Nvrtc => set(REQUIRE_ALL).or_else(|| set("MXR_REQUIRE_NVRTC")),
            _ => set(REQUIRE_ALL),
        }
    }
}

/// Says that the calling test does not run because `missing` is absent (`why`: what is
/// missing and how to install it); the test then returns. Fails the test instead when a switch
/// requires `missing` (see the crate's docs), and records the skip in `MXR_SKIP_LOG`.
///
/// # Panics
/// When `MXR_REQUIRE_ALL=1` (or the dependency's own switch) requires `missing`, and when the
/// skip log cannot be written.
pub fn skip(missing: Missing, why: &str) {
    let test = current_test();
    if let Some(switch) = missing.required_by(|name| std::env::var(name).ok()) {
        panic!("{switch}=1, but {test} would skip: {why}");
    }
    eprintln!("skip: {why}");
    if let Some(log) = std::env::var_os(SKIP_LOG) {
        let line = log_line(&test, missing, why);
        append(Path::new(&log), &line)
            .unwrap_or_else(|e| panic!("cannot append to {SKIP_LOG}={}: {e}", log.display()));
    }
}

/// The directory holding Fashion-MNIST's four files (`$FMNIST_DIR`, else Debian's
/// [`FASHION_MNIST`]); `None`, after [`skip`], when any is missing.
pub fn fashion_mnist_dir() -> Option<PathBuf> {
    let dir =
        std::env::var_os("FMNIST_DIR").map_or_else(|| PathBuf::from(FASHION_MNIST), |d| d.into());
    let names = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ];
    if names.iter().all(|n| dir.join(n).is_file()) {
        return Some(dir);
    }
    skip(
        Missing::FashionMnist,
        &format!(
            "Fashion-MNIST is not in {} (apt-get install dataset-fashion-mnist, or set FMNIST_DIR)",
            dir.display()
        ),
    );
    None
}

/// `binary::test` for the running test: libtest names each test's thread after the test; the
/// binary is the executable's name without cargo's hash.
fn current_test() -> String {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<unnamed thread>");
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| strip_hash(&stem).to_owned())
        .unwrap_or_default();
    format!("{binary}::{test}")
}

/// `frontend-0123456789abcdef` → `frontend` (a name without a hex suffix stays as it is).
fn strip_hash(stem: &str) -> &str {
    match stem.rsplit_once('-') {
        Some((name, hash)) if !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name
        }
        _ => stem,
    }
}

/// One line of the skip log: the fields tab-separated, tabs and newlines inside them blanked.
fn log_line(test: &str, missing: Missing, why: &str) -> String {
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    format!("{}\t{}\t{}\n", clean(test), missing.name(), clean(why))
}

/// Appends `line` in one write (so that tests skipping at once do not interleave their lines).
fn append(path: &Path, line: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(line.as_bytes())
}

/// The standard output of a finished process, as text.
///
/// # Panics
/// Unless the process succeeded, with `what` (the command), its standard output and its
/// standard error.
pub fn success_stdout(what: &str, out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_switch_requires_everything_but_gpu_hardware() {
        let all = env(&[(REQUIRE_ALL, "1")]);
        for missing in [
            Missing::MxNet,
            Missing::FashionMnist,
            Missing::Mpi,
            Missing::Nvrtc,
            Missing::Examples,
            Missing::Onnx,
        ] {
            assert_eq!(missing.required_by(&all), Some(REQUIRE_ALL), "{missing:?}");
            assert_eq!(missing.required_by(env(&[])), None, "{missing:?}");
            assert_eq!(missing.required_by(env(&[(REQUIRE_ALL, "0")])), None);
        }
        assert_eq!(Missing::GpuHardware.required_by(&all), None);
        let nvrtc = env(&[("MXR_REQUIRE_NVRTC", "1")]);
        assert_eq!(
            Missing::Nvrtc.required_by(&nvrtc),
            Some("MXR_REQUIRE_NVRTC")
        );
        assert_eq!(Missing::MxNet.required_by(&nvrtc), None);
    }

    #[test]
    fn log_lines_name_the_test_and_keep_one_line() {
        assert_eq!(strip_hash("frontend-0a1b2c3d4e5f6789"), "frontend");
        assert_eq!(strip_hash("train-mlp"), "train-mlp");
        assert_eq!(strip_hash("engine"), "engine");
        assert_eq!(
            log_line("kernels::cuda::t", Missing::Nvrtc, "no\tlib\nhere"),
            "kernels::cuda::t\tNVRTC\tno lib here\n"
        );
        // Under libtest, the thread is named after the test.
        assert!(
            current_test().ends_with("::tests::log_lines_name_the_test_and_keep_one_line"),
            "{}",
            current_test()
        );
    }

    #[test]
    fn skips_append_to_the_log() {
        let path = std::env::temp_dir().join(format!("mxr-skip-log-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        append(&path, "a\tMPI\tx\n").unwrap();
        append(&path, "b\tMXNet\ty\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a\tMPI\tx\nb\tMXNet\ty\n"
        );
        std::fs::remove_file(&path).unwrap();
    }
}
