//! Shared by the tests and the bench: finding (and building) `libmxr.so`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The folder holding `libmxr.so`, built first: `cargo test` builds a cdylib-only library's
/// unit tests but not the library itself, so the first call runs `cargo build` for it.
pub(crate) fn lib_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("mxr-capi", "libmxr.so")).clone()
}

/// Builds `package` with `cargo build` (same profile and target folder as this binary, which
/// lives in `<target>/<profile>/deps/`); returns the folder holding its `library`.
pub(crate) fn build(package: &str, library: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>/deps/<test>");
    let target = dir.parent().expect("<target>/<profile>");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--quiet", "-p", package, "--target-dir"])
        .arg(target);
    if dir.ends_with("release") {
        cargo.arg("--release");
    }
    if cfg!(feature = "mpi") && package == "mxr-capi" {
        cargo.args(["--features", "mpi"]);
    }
    let status = cargo.status().expect("run cargo build");
    assert!(status.success(), "cargo build -p {package} failed");
    assert!(
        dir.join(library).exists(),
        "{library} is not in {}",
        dir.display()
    );
    dir.to_path_buf()
}
