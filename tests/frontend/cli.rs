//! The `mxr` command-line tool.

use std::process::Command;

fn mxr(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mxr"))
        .args(args)
        .output()
        .expect("the mxr binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ops_lists_every_operator_with_parameters() {
    let (ok, out, _) = mxr(&["ops"]);
    assert!(ok);
    for op in [
        "FullyConnected",
        "Convolution",
        "SoftmaxOutput",
        "_plus_scalar",
        "BatchNorm",
    ] {
        assert!(out.lines().any(|l| l.starts_with(op)), "{op} missing");
    }
    let (ok, out, _) = mxr(&["ops", "reshape"]);
    assert!(ok);
    assert!(out.starts_with("Reshape (aliases: reshape"), "{out}");
    assert!(
        out.contains("shape:") && out.contains("reverse: boolean, default False"),
        "{out}"
    );
}

#[test]
fn errors_are_one_line_and_a_failure_status() {
    let (ok, _, err) = mxr(&["ops", "NoSuchOp"]);
    assert!(!ok);
    assert!(err.starts_with("mxr: unknown operator `NoSuchOp`"), "{err}");
    let (ok, _, err) = mxr(&["frobnicate"]);
    assert!(!ok);
    assert!(err.contains("unknown command `frobnicate`"), "{err}");
}
