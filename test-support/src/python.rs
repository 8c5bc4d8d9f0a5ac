//! Reference Pythons for the tests that compare with MXNet: finding one and running scripts.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Missing, skip};

/// The Python that imports MXNet 1.9.1: `$MXR_MXNET_PYTHON` (which must work), else
/// `root/.venv/bin/python` (`root`: the repository's root); `None`, after [`skip`], when
/// there is none.
///
/// # Panics
/// When `MXR_MXNET_PYTHON` is set to a Python that cannot import mxnet.
pub fn mxnet_python(root: &Path) -> Option<PathBuf> {
    let explicit = std::env::var_os("MXR_MXNET_PYTHON").map(PathBuf::from);
    let python = explicit
        .clone()
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    let works = Command::new(&python)
        .args(["-c", "import mxnet"])
        .output()
        .is_ok_and(|o| o.status.success());
    match (works, explicit) {
        (true, _) => Some(python),
        (false, Some(p)) => panic!("MXR_MXNET_PYTHON={} cannot import mxnet", p.display()),
        (false, None) => {
            skip(
                Missing::MxNet,
                "MXNet not installed (python3 -m venv .venv && .venv/bin/pip install \
                 mxnet==1.9.1 'numpy<1.24'; or set MXR_MXNET_PYTHON)",
            );
            None
        }
    }
}

/// Runs `script` with `args`; its stdout.
///
/// # Panics
/// When the script cannot run or fails (the panic shows its stderr): the test fails.
pub fn run_python(python: &Path, script: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// [`run_python`] for a script that prints JSON: the parsed value.
///
/// # Panics
/// As [`run_python`], and when the output is not JSON.
pub fn run_python_json(python: &Path, script: &str, args: &[&str]) -> serde_json::Value {
    let out = run_python(python, script, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}
